package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/list"
)

func TestContactForms(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Loan Factory")
	base := "/w/" + ws.ID + "/contacts"

	t.Run("InvalidKeepsInput", func(t *testing.T) {
		resp, body := app.Do(andy.Client, http.MethodPost, base, strings.NewReader(url.Values{
			"first_name": {"Linh"}, "email_address": {"not-an-email", ""}, "email_label": {"Work", ""}, "phone_number": {"12", ""}, "phone_label": {"", ""},
		}.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
		apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
		for _, want := range []string{`value="Linh"`, `value="not-an-email"`, `value="Work"`, "Enter an email address like", "Enter a phone number such as"} {
			if !strings.Contains(body, want) {
				t.Errorf("form lacks %q", want)
			}
		}
	})
	a := andy.Contact(ws.ID, "Anh", "anh@example.com")
	b := andy.Contact(ws.ID, "Bao", "bao@example.com")
	t.Run("DuplicateOffersChoices", func(t *testing.T) {
		resp, body := app.Do(andy.Client, http.MethodPost, base, strings.NewReader(url.Values{
			"first_name": {"Anh 2"}, "email_address": {"ANH@example.com"}, "email_label": {""}, "phone_number": {""}, "phone_label": {""},
		}.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
		apptest.Expect(t, resp, body, http.StatusConflict)
		for _, want := range []string{"Merge", "Overwrite", "Keep separate", "Cancel", a.ID} {
			if !strings.Contains(body, want) {
				t.Errorf("duplicate page lacks %q", want)
			}
		}
		resp = app.PostForm(andy.Client, base+"/resolve", url.Values{"action": {"merge"}, "target_id": {a.ID}, "first_name": {"Anh 2"},
			"take_first_name": {"new"}, "email_address": {"anh.home@example.com"}, "email_label": {"Home"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("merge answer: %d", resp.StatusCode)
		}
		got, _ := app.Contacts.Get(ctx, andy.Actor, ws.ID, a.ID)
		if got.FirstName != "Anh 2" || len(got.Emails) != 2 {
			t.Fatalf("after merge: %+v", got)
		}
	})
	t.Run("SpouseByEmail", func(t *testing.T) {
		resp := app.PostForm(andy.Client, base+"/"+a.ID, url.Values{"details": {"1"}, "first_name": {"Anh 2"}, "spouse_email": {"bao@example.com"},
			"email_address": {"anh@example.com"}, "email_label": {""}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("save: %d", resp.StatusCode)
		}
		got, _ := app.Contacts.Get(ctx, andy.Actor, ws.ID, b.ID)
		if got.Spouse == nil || got.Spouse.ID != a.ID {
			t.Fatalf("Bao's spouse %+v, want Anh (symmetric)", got.Spouse)
		}
		resp, body := app.Do(andy.Client, http.MethodPost, base+"/"+a.ID, strings.NewReader(url.Values{"details": {"1"}, "spouse_email": {"nobody@example.com"}}.Encode()),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
		apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "No other contact in this workspace has that email") || !strings.Contains(body, `value="nobody@example.com"`) {
			t.Fatal("unknown spouse email: no message or input lost")
		}
	})
	t.Run("NotesEscapedOrSanitized", func(t *testing.T) {
		app.PostForm(andy.Client, base+"/"+b.ID+"/notes", url.Values{"note": {`<img src=x onerror=alert(1)><b>bold</b>`}})
		_, body := app.Do(andy.Client, http.MethodGet, base+"/"+b.ID+"?tab=notes", nil, nil)
		if strings.Contains(body, "onerror") || !strings.Contains(body, "<b>bold</b>") {
			t.Fatal("note not sanitized on the page")
		}
	})
}

// TestTagANewTagIsOneChange: naming a new tag on another user's contact
// answers 404 and makes no tag; on one's own contact it makes the tag and
// tags the contact, and naming an existing tag reuses it.
func TestTagANewTagIsOneChange(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	andy, mona := app.NewUser("Andy"), app.NewUser("Monalisa")
	ws, monaWS := andy.Workspace("Loan Factory"), mona.Workspace("CB")
	own := andy.Contact(ws.ID, "Ann", "ann@example.com")
	foreign := mona.Contact(monaWS.ID, "Mo", "mo@example.com")
	tagsOf := func() []string {
		tags, err := app.Lists.All(ctx, andy.Actor, ws.ID, list.Tag)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, l := range tags {
			names = append(names, l.Name)
		}
		return names
	}
	before := len(tagsOf())
	resp := app.PostForm(andy.Client, "/w/"+ws.ID+"/contacts/"+foreign.ID+"/tags", url.Values{"new_tag": {"Leaked"}})
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("tagging another user's contact: status=%d, want 404", resp.StatusCode)
	}
	if got := tagsOf(); len(got) != before {
		t.Fatalf("a refused tagging made a tag: %v", got)
	}
	for range 2 { // the second time the tag exists
		if resp := app.PostForm(andy.Client, "/w/"+ws.ID+"/contacts/"+own.ID+"/tags", url.Values{"new_tag": {"Hot lead"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("tagging: status=%d", resp.StatusCode)
		}
	}
	c, err := app.Contacts.Get(ctx, andy.Actor, ws.ID, own.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tags) != 1 || c.Tags[0].Name != "Hot lead" || len(tagsOf()) != before+1 {
		t.Fatalf("contact tags %+v, workspace tags %v", c.Tags, tagsOf())
	}
}

// TestEmptyContactIsRefusedAndDeleteAsks: an empty New contact form and an
// API POST {} are refused with a message and create nothing; deleting a
// contact shows a confirmation first and deletes only when confirmed.
func TestEmptyContactIsRefusedAndDeleteAsks(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Loan Factory")
	resp, body := app.Do(andy.Client, http.MethodPost, "/w/"+ws.ID+"/contacts", strings.NewReader(url.Values{"first_name": {"  "}, "company": {""}}.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {app.URL}, "Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Enter at least a name, a company, an email or a phone.") {
		t.Fatalf("empty form: status=%d: %s", resp.StatusCode, apptest.Trim(body))
	}
	key := andy.APIKey("contacts:write", "contacts:read")
	if resp, body := app.APIDo(key, http.MethodPost, "/workspaces/"+ws.ID+"/contacts", `{}`); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "at least a name") {
		t.Fatalf("API POST {}: status=%d %s", resp.StatusCode, body)
	}
	page, err := app.Contacts.List(ctx, andy.Actor, ws.ID, contact.Query{Limit: 10})
	if err != nil || len(page.Rows) != 0 {
		t.Fatalf("contacts after the refusals: %d, %v", len(page.Rows), err)
	}
	c := andy.Contact(ws.ID, "Ann", "ann@example.com")
	resp, body = app.Do(andy.Client, http.MethodPost, "/w/"+ws.ID+"/contacts/"+c.ID+"/delete", nil,
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {app.URL}, "Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Delete forever") {
		t.Fatalf("delete without confirming: status=%d, want the confirmation page", resp.StatusCode)
	}
	if _, err := app.Contacts.Get(ctx, andy.Actor, ws.ID, c.ID); err != nil {
		t.Fatalf("the contact went before the confirmation: %v", err)
	}
	if resp := app.PostForm(andy.Client, "/w/"+ws.ID+"/contacts/"+c.ID+"/delete", url.Values{"confirm": {"yes"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirmed delete: status=%d", resp.StatusCode)
	}
	if _, err := app.Contacts.Get(ctx, andy.Actor, ws.ID, c.ID); err == nil {
		t.Fatal("the confirmed delete left the contact")
	}
}

// TestCompanyOnlyContactShowsItsCompany: a contact with only a company (as
// iPhone company cards and Outlook rows import) is listed by its company,
// never as "(open)".
func TestCompanyOnlyContactShowsItsCompany(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Loan Factory")
	co := "Aloha Title & Escrow"
	if _, err := app.Contacts.Create(context.Background(), andy.Actor, ws.ID, contact.Fields{Company: &co}, true); err != nil {
		t.Fatal(err)
	}
	_, body := app.Do(andy.Client, http.MethodGet, "/w/"+ws.ID+"/contacts", nil, nil)
	if strings.Contains(body, "(open)") || !strings.Contains(body, `class="c-name">Aloha Title &amp; Escrow</a>`) {
		t.Fatalf("the list does not name the company contact by its company: %s", apptest.Trim(body[strings.Index(body, "contact-rows"):]))
	}
}

// TestContactListFilters: the list page keeps only the contacts of the
// chosen stage, or tag, and sorts by the chosen column.
func TestContactListFilters(t *testing.T) {
	ctx := context.Background()
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Loan Factory")
	stages, _ := app.Lists.All(ctx, andy.Actor, ws.ID, list.Stage)
	zed := andy.Contact(ws.ID, "Zedekiah", "zed@example.com")
	andy.Contact(ws.ID, "Amaryllis", "amy@example.com")
	kim := andy.Contact(ws.ID, "Kimberley", "kim@example.com")
	if _, err := app.Contacts.Update(ctx, andy.Actor, ws.ID, zed.ID, contact.Fields{StageID: &stages[1].ID}, false); err != nil {
		t.Fatal(err)
	}
	if err := app.Contacts.AddTagNamed(ctx, andy.Actor, ws.ID, kim.ID, "VIP"); err != nil {
		t.Fatal(err)
	}
	tags, _ := app.Lists.All(ctx, andy.Actor, ws.ID, list.Tag)
	page := func(qs string) string {
		resp, body := app.Do(andy.Client, http.MethodGet, "/w/"+ws.ID+"/contacts?"+qs, nil, nil)
		apptest.Expect(t, resp, body, http.StatusOK)
		return body
	}
	if b := page("stage=" + stages[1].ID); !strings.Contains(b, "Zedekiah") || strings.Contains(b, "Amaryllis") || strings.Contains(b, "Kimberley") {
		t.Error("the stage filter does not keep only the stage's contacts")
	}
	if b := page("tag=" + tags[0].ID); !strings.Contains(b, "Kimberley") || strings.Contains(b, "Zedekiah") || strings.Contains(b, "Amaryllis") {
		t.Error("the tag filter does not keep only the tagged contacts")
	}
	b := page("sort=first_name&order=asc")
	if i, j, k := strings.Index(b, "Amaryllis"), strings.Index(b, "Kimberley"), strings.Index(b, "Zedekiah"); i < 0 || !(i < j && j < k) {
		t.Errorf("sorted by first name: Amaryllis at %d, Kimberley at %d, Zedekiah at %d", i, j, k)
	}
}
