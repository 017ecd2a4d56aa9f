package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/contact"
)

func TestTemplatePages(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	ctx := context.Background()
	andy := app.NewUser("Andy")
	lf, mai := andy.Workspace("Loan Factory"), andy.Workspace("MaiStory")
	field, err := app.Contacts.CreateField(ctx, andy.Actor, lf.ID, contact.FieldDef{Name: "Loan amount", Type: "text"}, false)
	if err != nil {
		t.Fatal(err)
	}
	tom := andy.Contact(lf.ID, "Tom", "tom@example.com")
	if err := app.Contacts.SetCustom(ctx, andy.Actor, lf.ID, tom.ID, map[string]string{field.ID: "$450,000"}); err != nil {
		t.Fatal(err)
	}
	andy.Contact(lf.ID, "Zed", "zed@example.com") // the newest: the default preview

	form := url.Values{"name": {"Rate drop"}, "subject": {"Hi {{first_name}}"}, "preheader": {"Rates moved"},
		"body": {"<p>Your {{custom.loan_amount | \"loan\"}}</p>\n<p>{{frist_name}}</p>"}, "signature": {"<p>{{sender.name}}</p>"}}
	resp, body := app.Do(andy.Client, http.MethodPost, "/w/"+lf.ID+"/templates", strings.NewReader(form.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	for _, want := range []string{`value="Rate drop"`, "{{frist_name}}", "line 2, column 4", "did you mean"} {
		if !strings.Contains(body, want) {
			t.Errorf("the refused form lacks %q", want)
		}
	}
	form.Set("body", "<p>Your {{custom.loan_amount | \"loan\"}} <a href=\"https://rateready.example/?e={{email}}\">rates</a></p>")
	resp = app.PostForm(andy.Client, "/w/"+lf.ID+"/templates", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	editURL := resp.Header.Get("Location")
	_, body = app.Do(andy.Client, http.MethodGet, "/w/"+lf.ID+"/templates", nil, nil)
	if !strings.Contains(body, "Rate drop") || !strings.Contains(body, "Generate with AI") {
		t.Fatalf("the list: %s", apptest.Trim(body))
	}
	if i, j := strings.Index(body, "Generate with AI"), strings.Index(body, "Write one yourself"); i > j {
		t.Error("Generate with AI is not the first button")
	}

	// The preview is for the newest contact, or the one searched for.
	_, body = app.Do(andy.Client, http.MethodGet, editURL+"/preview", nil, nil)
	_, deftext := app.Do(andy.Client, http.MethodGet, editURL+"/preview/text", nil, nil)
	if !strings.Contains(body, "Hi Zed") || !strings.Contains(deftext, "Your loan") {
		t.Errorf("default preview: %s", apptest.Trim(body))
	}
	_, body = app.Do(andy.Client, http.MethodGet, editURL+"/preview?q=tom", nil, nil)
	_, text := app.Do(andy.Client, http.MethodGet, editURL+"/preview/text?contact="+tom.ID, nil, nil)
	if !strings.Contains(text, "Your $450,000") {
		t.Errorf("text part for Tom: %s", text)
	}
	for _, want := range []string{"Hi Tom", "For Tom", "Andy"} {
		if !strings.Contains(body, want) {
			t.Errorf("preview for Tom lacks %q", want)
		}
	}
	resp, frame := app.Do(andy.Client, http.MethodGet, editURL+"/preview/frame?contact="+tom.ID, nil, nil)
	apptest.Expect(t, resp, frame, http.StatusOK)
	if !strings.Contains(frame, "e=tom%40example.com") || !strings.Contains(frame, `style="`) {
		t.Errorf("the frame: %s", apptest.Trim(frame))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src 'self'") {
		t.Errorf("the frame's policy: %q", csp)
	}
	// The page measures the message without making it: its size is the
	// frame's, to the tenth of a KB.
	if kb := strconv.FormatFloat(float64(len(frame))/1024, 'f', 1, 64) + " KB"; !strings.Contains(body, kb) {
		t.Errorf("the page does not give the frame's size %s: %s", kb, apptest.Trim(body))
	}

	// A custom field deleted after the save: the preview flags the name.
	if _, err := app.Contacts.DeleteField(ctx, andy.Actor, lf.ID, field.ID, true); err != nil {
		t.Fatal(err)
	}
	_, body = app.Do(andy.Client, http.MethodGet, editURL+"/preview", nil, nil)
	if !strings.Contains(body, "not known") || !strings.Contains(body, "custom.loan_amount") {
		t.Errorf("no warning for the gone field: %s", apptest.Trim(body))
	}

	// Copy to MaiStory, where the field does not exist: refused, and said why.
	resp = app.PostForm(andy.Client, editURL+"/copy", url.Values{"to": {mai.ID}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != editURL {
		t.Fatalf("copy with an unknown field: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	form.Set("body", "<p>Hello {{first_name}}</p>")
	if resp = app.PostForm(andy.Client, editURL, form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update: %d", resp.StatusCode)
	}
	resp = app.PostForm(andy.Client, editURL+"/copy", url.Values{"to": {mai.ID}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/w/"+mai.ID+"/templates/") {
		t.Fatalf("copy: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if l, _ := app.Templates.List(ctx, andy.Actor, mai.ID); len(l) != 1 || l[0].Name != "Rate drop" {
		t.Fatalf("MaiStory has %+v", l)
	}

	// Delete needs the tick.
	app.PostForm(andy.Client, editURL+"/delete", url.Values{})
	if l, _ := app.Templates.List(ctx, andy.Actor, lf.ID); len(l) != 1 {
		t.Fatal("deleted without the tick")
	}
	app.PostForm(andy.Client, editURL+"/delete", url.Values{"confirm": {"1"}})
	if l, _ := app.Templates.List(ctx, andy.Actor, lf.ID); len(l) != 0 {
		t.Fatal("not deleted with the tick")
	}
}
