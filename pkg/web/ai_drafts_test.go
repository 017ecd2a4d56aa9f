package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/internal/fakeai"
	"github.com/pi-crm/pi-crm/pkg/ai"
	"github.com/pi-crm/pi-crm/pkg/aidraft"
)

func TestAIWizardPages(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	ctx := context.Background()
	andy, mona := app.NewUser("Andy"), app.NewUser("Mona")
	lf := andy.Workspace("Loan Factory")
	cb := mona.Workspace("Coldwell Banker")
	tom := andy.Contact(lf.ID, "Tom", "tom@example.com")
	secret := mona.Contact(cb.ID, "Secret", "s@example.com")

	// No model: the page says how to set one, and asking still works (it waits).
	_, body := app.Do(andy.Client, http.MethodGet, "/w/"+lf.ID+"/templates/ai?contact="+tom.ID, nil, nil)
	for _, want := range []string{"No AI model is configured", "PICRM_AI_MODEL", "Written to <strong>Tom", `value="` + tom.ID + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("wizard lacks %q", want)
		}
	}
	if strings.Contains(body, "Real-estate starters") {
		t.Error("real-estate starters in a workspace not marked real estate")
	}
	// Another user's contact is not one to write to.
	resp, _ := app.Do(andy.Client, http.MethodGet, "/w/"+lf.ID+"/templates/ai?contact="+secret.ID, nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("wizard for mona's contact: %d", resp.StatusCode)
	}
	if resp := app.PostForm(andy.Client, "/w/"+lf.ID+"/templates/ai", url.Values{"goal": {"x"}, "contact_id": {secret.ID}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("ask for mona's contact: %d", resp.StatusCode)
	}
	// Refused input keeps what was typed.
	resp, body = app.Do(andy.Client, http.MethodPost, "/w/"+lf.ID+"/templates/ai", strings.NewReader(url.Values{"audience": {"Past clients"}, "must_haves": {strings.Repeat("y", 1001)}}.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Say what the email is for") || !strings.Contains(body, `value="Past clients"`) || !strings.Contains(body, "at most 1000") {
		t.Fatalf("refused ask: %d %s", resp.StatusCode, apptest.Trim(body))
	}

	resp = app.PostForm(andy.Client, "/w/"+lf.ID+"/templates/ai", url.Values{"goal": {"Rate drop"}, "tone": {"Friendly"}, "contact_id": {tom.ID}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("ask: %d", resp.StatusCode)
	}
	reqURL := resp.Header.Get("Location")
	id := reqURL[strings.LastIndex(reqURL, "/")+1:]
	r, err := app.Drafts.Get(ctx, andy.Actor, lf.ID, id)
	if err != nil || r.ContactID != tom.ID || !strings.Contains(r.Brief.Recipient, "Tom") || r.Brief.Workspace != "Loan Factory" {
		t.Fatalf("request %+v %v", r, err)
	}
	_, body = app.Do(andy.Client, http.MethodGet, reqURL, nil, nil)
	if !strings.Contains(body, "Waiting for crm-insights") || !strings.Contains(body, `hx-trigger="every 1s"`) {
		t.Fatalf("queued page: %s", apptest.Trim(body))
	}

	// Answered: the fragment stops polling and offers the editor.
	if err := aidraft.SetModel(ctx, app.DB, ai.Config{Model: "m"}); err != nil {
		t.Fatal(err)
	}
	if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `UPDATE ai_requests SET status = 'done', result = ? WHERE id = ?`,
			&sqlitex.ExecOptions{Args: []any{fakeai.DraftJSON("Rates fell", "Look", "<p>Hi {{first_name}}, {{favourite_colour}}</p>"), id}})
	}); err != nil {
		t.Fatal(err)
	}
	_, body = app.Do(andy.Client, http.MethodGet, reqURL+"?fragment=status", nil, http.Header{"HX-Request": {"true"}})
	if strings.Contains(body, "<html") || strings.Contains(body, "every 1s") || !strings.Contains(body, "Rates fell") || !strings.Contains(body, "favourite_colour") || !strings.Contains(body, "Open in the editor") {
		t.Fatalf("done fragment: %s", apptest.Trim(body))
	}
	_, body = app.Do(andy.Client, http.MethodGet, reqURL+"/use", nil, nil)
	if !strings.Contains(body, `value="Rates fell"`) || !strings.Contains(body, "Hi {{first_name}}") {
		t.Fatalf("editor from the draft: %s", apptest.Trim(body))
	}
	// A revision needs a comment, and carries the draft.
	resp, body = app.Do(andy.Client, http.MethodPost, reqURL+"/revise", strings.NewReader(""), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Say what to change") {
		t.Fatalf("revise without a comment: %d", resp.StatusCode)
	}
	resp = app.PostForm(andy.Client, reqURL+"/revise", url.Values{"comment": {"Shorter"}})
	loc := resp.Header.Get("Location")
	rev, err := app.Drafts.Get(ctx, andy.Actor, lf.ID, loc[strings.LastIndex(loc, "/")+1:])
	if err != nil || rev.ParentID != id || rev.Brief.Previous == nil || rev.Brief.Previous.Subject != "Rates fell" || rev.Brief.Comment != "Shorter" || rev.ContactID != tom.ID {
		t.Fatalf("revision %+v %v", rev, err)
	}
}
