package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/list"
)

func TestContactsAPI(t *testing.T) {
	app := apptest.New(t, apptest.Options{APIRate: 1000, APIBurst: 1000})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Loan Factory")
	key := andy.APIKey(auth.Scopes...)
	base := "/workspaces/" + ws.ID + "/contacts"

	resp, body := app.APIDo(key, http.MethodPost, base, `{"first_name":"Linh","last_name":"<b>Nguyen</b>","company":"RateReady",
		"emails":[{"address":"Linh@Example.com","label":"Business","primary":true}],
		"phones":[{"number":"(808) 555-0123","label":"HI Mobile"},{"number":"+84 912 345 678","label":"VN"}]}`)
	apptest.Expect(t, resp, body, http.StatusCreated)
	var c struct {
		ID       string `json:"id"`
		LastName string `json:"last_name"`
		Phones   []struct {
			Number  string `json:"number"`
			Primary bool   `json:"primary"`
		} `json:"phones"`
	}
	if err := json.Unmarshal(decodeEnv(t, body).Data, &c); err != nil || c.ID == "" {
		t.Fatalf("create: %s", body)
	}
	if c.Phones[0].Number != "+18085550123" || !c.Phones[0].Primary || c.Phones[1].Number != "+84912345678" {
		t.Fatalf("phones not in E.164 with one primary: %+v", c.Phones)
	}
	if c.LastName != "<b>Nguyen</b>" {
		t.Fatalf("JSON keeps text as typed (escaped by the encoder): %q", c.LastName)
	}

	t.Run("Duplicate", func(t *testing.T) {
		resp, body := app.APIDo(key, http.MethodPost, base, `{"first_name":"L","emails":[{"address":"linh@example.com"}]}`)
		apptest.Expect(t, resp, body, http.StatusConflict)
		env := decodeEnv(t, body)
		matches, _ := env.Error.Details["matches"].([]any)
		if env.Error.Code != "duplicate" || len(matches) != 1 || matches[0] != c.ID {
			t.Fatalf("duplicate answer: %s", body)
		}
		resp, body = app.APIDo(key, http.MethodPost, base, `{"first_name":"L","emails":[{"address":"linh@example.com"}],"on_duplicate":"keep_separate"}`)
		apptest.Expect(t, resp, body, http.StatusCreated)
	})
	t.Run("Invalid", func(t *testing.T) {
		resp, body := app.APIDo(key, http.MethodPost, base, `{"first_name":"X","emails":[{"address":"nope"}],"phones":[{"number":"12"}]}`)
		apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, `"emails[0].address"`) || !strings.Contains(body, `"phones[0].number"`) {
			t.Fatalf("field errors: %s", body)
		}
	})
	t.Run("SearchAndPages", func(t *testing.T) {
		for i := range 5 {
			app.APIDo(key, http.MethodPost, base, `{"first_name":"Page`+string(rune('A'+i))+`"}`)
		}
		resp, body := app.APIDo(key, http.MethodGet, base+"?q=lin", "")
		apptest.Expect(t, resp, body, http.StatusOK)
		if strings.Count(body, `"first_name":"L`) != 2 {
			t.Fatalf("search lin: %s", body)
		}
		seen := 0
		next := ""
		for range 10 {
			resp, body := app.APIDo(key, http.MethodGet, base+"?limit=3&after="+url.QueryEscape(next), "")
			apptest.Expect(t, resp, body, http.StatusOK)
			var page struct {
				Items []json.RawMessage `json:"items"`
				Next  string            `json:"next"`
			}
			json.Unmarshal(decodeEnv(t, body).Data, &page)
			seen += len(page.Items)
			if next = page.Next; next == "" {
				break
			}
		}
		if seen != 7 {
			t.Fatalf("paged %d contacts, want 7", seen)
		}
	})
	t.Run("PatchAndLog", func(t *testing.T) {
		var lists struct {
			Items []struct{ ID, Kind, Name string } `json:"items"`
		}
		_, body := app.APIDo(key, http.MethodGet, "/workspaces/"+ws.ID+"/lists", "")
		json.Unmarshal(decodeEnv(t, body).Data, &lists)
		if len(lists.Items) != 5 || lists.Items[0].Name != "Leads" {
			t.Fatalf("default stages: %s", body)
		}
		resp, body := app.APIDo(key, http.MethodPatch, base+"/"+c.ID, `{"stage_id":"`+lists.Items[1].ID+`"}`)
		apptest.Expect(t, resp, body, http.StatusOK)
		resp, body = app.APIDo(key, http.MethodGet, base+"/"+c.ID+"/activities?tab=lists", "")
		apptest.Expect(t, resp, body, http.StatusOK)
		if !strings.Contains(body, "Primary List changed: (none) → Prospects") {
			t.Fatalf("log: %s", body)
		}
	})
}

// TestSharedContactIsReadOnly: the viewer of a shared contact can read it
// through /shared, and every write route on it answers 404, as for any
// other user's object (a real tag of the owner's workspace, so a tag route
// cannot 404 for the tag alone); nothing of the contact changes.
func TestSharedContactIsReadOnly(t *testing.T) {
	app := apptest.New(t, apptest.Options{APIRate: 1000, APIBurst: 1000})
	andy := app.NewUser("Andy")
	mona := app.NewUser("Monalisa")
	monaWS := mona.Workspace("Coldwell Banker Contacts")
	andyWS := andy.Workspace("Loan Factory")
	c := mona.Contact(monaWS.ID, "Shared", "shared@example.com")
	if err := app.Contacts.ShareWith(context.Background(), mona.Actor, monaWS.ID, c.ID, andy.ID); err != nil {
		t.Fatal(err)
	}
	tag, err := app.Lists.Create(context.Background(), mona.Actor, monaWS.ID, list.Tag, "VIP")
	if err != nil {
		t.Fatal(err)
	}
	key := andy.APIKey(auth.Scopes...)
	resp, body := app.APIDo(key, http.MethodGet, "/shared/"+c.ID, "")
	apptest.Expect(t, resp, body, http.StatusOK)
	writes := 0
	err = chi.Walk(app.API.Routes(), func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method == http.MethodGet || !strings.Contains(pattern, "{contact}") || strings.HasSuffix(pattern, "/save-as") {
			return nil
		}
		for _, ws := range []string{monaWS.ID, andyWS.ID} {
			path := strings.NewReplacer("{ws}", ws, "{contact}", c.ID, "{list}", tag.ID, "{user}", andy.ID).Replace(pattern)
			body := `{"first_name":"Hacked"}`
			switch {
			case strings.HasSuffix(pattern, "/notes"):
				body = `{"html":"x"}`
			case strings.HasSuffix(pattern, "/calls"):
				body = `{"duration_seconds":60}`
			case strings.HasSuffix(pattern, "/shares"):
				body = `{"viewer_id":"` + andy.ID + `"}`
			case strings.HasSuffix(pattern, "/merge"):
				body = `{"source_id":"` + c.ID + `"}`
			}
			resp, body := app.APIDo(key, method, path, body)
			writes++
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("viewer %s %s: status=%d, want 404: %s", method, path, resp.StatusCode, body)
			}
		}
		return nil
	})
	if err != nil || writes < 10 {
		t.Fatalf("walked %d writes: %v", writes, err)
	}
	got, _ := app.Contacts.Get(context.Background(), mona.Actor, monaWS.ID, c.ID)
	if got.FirstName != "Shared" || len(got.Tags) != 0 || len(got.Emails) != 1 {
		t.Fatalf("the viewer changed the original: %+v", got)
	}
}

// TestSharedContactShowsOnlyTheView: a shared contact whose spouse and
// referrer are not shared gives the viewer none of theirs, nor the owner's
// workspace id, tags, stage or custom values: not in the API's list, not in
// its item, not on the page.
func TestSharedContactShowsOnlyTheView(t *testing.T) {
	app := apptest.New(t, apptest.Options{APIRate: 1000, APIBurst: 1000})
	ctx := context.Background()
	andy := app.NewUser("Andy")
	mona := app.NewUser("Monalisa")
	ws := mona.Workspace("Coldwell Banker Contacts")
	spouse := mona.Contact(ws.ID, "Spousename", "spouse-secret@example.com")
	referrer := mona.Contact(ws.ID, "Referrername", "referrer-secret@example.com")
	c := mona.Contact(ws.ID, "Sharedperson", "shared@example.com")
	stages, _ := app.Lists.All(ctx, mona.Actor, ws.ID, list.Stage)
	tag, err := app.Lists.Create(ctx, mona.Actor, ws.ID, list.Tag, "Secrettag")
	if err != nil {
		t.Fatal(err)
	}
	field, err := app.Contacts.CreateField(ctx, mona.Actor, ws.ID, contact.FieldDef{Name: "Commission", Type: "text"}, true)
	if err != nil {
		t.Fatal(err)
	}
	marital, referredBy := "Married", "Referred by Referrername at the open house"
	if _, err := app.Contacts.Update(ctx, mona.Actor, ws.ID, c.ID, contact.Fields{SpouseID: &spouse.ID, ReferredByID: &referrer.ID, ReferredBy: &referredBy,
		MaritalStatus: &marital, StageID: &stages[1].ID, Custom: map[string]string{field.ID: "secret-commission-value"}}, true); err != nil {
		t.Fatal(err)
	}
	if err := app.Contacts.SetTag(ctx, mona.Actor, ws.ID, c.ID, tag.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := app.Contacts.ShareWith(ctx, mona.Actor, ws.ID, c.ID, andy.ID); err != nil {
		t.Fatal(err)
	}
	key := andy.APIKey(auth.Scopes...)
	_, listJSON := app.APIDo(key, http.MethodGet, "/shared", "")
	_, item := app.APIDo(key, http.MethodGet, "/shared/"+c.ID, "")
	_, page := app.Do(andy.Client, http.MethodGet, "/shared/"+c.ID, nil, nil)
	_, listPage := app.Do(andy.Client, http.MethodGet, "/shared", nil, nil)
	for name, body := range map[string]string{"API list": listJSON, "API item": item, "page": page, "list page": listPage} {
		if !strings.Contains(body, "Sharedperson") {
			t.Fatalf("%s does not show the shared contact: %s", name, apptest.Trim(body))
		}
		for _, secret := range []string{"Spousename", "spouse-secret", spouse.ID, "Referrername", "referrer-secret", referrer.ID, ws.ID,
			"Secrettag", tag.ID, stages[1].Name, stages[1].ID, "secret-commission-value", field.ID, marital} {
			if strings.Contains(body, secret) {
				t.Errorf("%s gives the viewer %q", name, secret)
			}
		}
	}
	for name, body := range map[string]string{"API list": listJSON, "API item": item} {
		for _, key := range []string{`"workspace_id"`, `"spouse`, `"referred_by`, `"custom"`, `"stage`, `"tags"`, `"marital_status"`} {
			if strings.Contains(body, key) {
				t.Errorf("%s has the field %s", name, key)
			}
		}
	}
}
