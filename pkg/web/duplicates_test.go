package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/contact"
)

// TestDuplicatesPage: the page highlights what two contacts share; "Different
// people" stops listing them (and only the owner may say so); saving a
// contact with "keep separate" ticked does the same.
func TestDuplicatesPage(t *testing.T) {
	ctx := context.Background()
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Loan Factory")
	ann := andy.Contact(ws.ID, "Ann", "ann@example.com")
	ann2 := andy.Contact(ws.ID, "Annie", "ANN@example.com")
	bo := andy.Contact(ws.ID, "Bo", "bo@example.com")
	bo2 := andy.Contact(ws.ID, "Bob", "bo@example.com")
	path := "/w/" + ws.ID + "/duplicates"
	_, body := app.Do(andy.Client, http.MethodGet, path, nil, nil)
	if !strings.Contains(body, `<mark class="rounded bg-amber-100 px-0.5 font-semibold text-slate-900">ann@example.com</mark>`) || strings.Count(body, "Merge into") != 2 {
		t.Fatalf("the page does not list both pairs with the shared email highlighted:\n%s", body)
	}
	// Another user cannot mark Andy's contacts.
	mona := app.NewUser("Monalisa")
	monaWS := mona.Workspace("CB")
	if resp := app.PostForm(mona.Client, "/w/"+monaWS.ID+"/duplicates/separate", url.Values{"id": {ann.ID, ann2.ID}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another user's keep separate: %d, want 404", resp.StatusCode)
	}
	if resp := app.PostForm(andy.Client, path+"/separate", url.Values{"id": {ann.ID, ann2.ID}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("keep separate: %d", resp.StatusCode)
	}
	_, body = app.Do(andy.Client, http.MethodGet, path, nil, nil)
	if strings.Contains(body, "Annie") || !strings.Contains(body, "Bob") || !strings.Contains(body, "no longer listed") {
		t.Fatalf("after keep separate the page still lists Ann and Annie, or lost Bo:\n%s", body)
	}
	// Saving Bob with "keep separate" ticked: different people too.
	c, _ := app.Contacts.Get(ctx, andy.Actor, ws.ID, bo2.ID)
	emails := []contact.EmailInput{{Address: c.Emails[0].Address, Primary: true}}
	if _, err := app.Contacts.Update(ctx, andy.Actor, ws.ID, bo2.ID, contact.Fields{Emails: &emails}, true); err != nil {
		t.Fatal(err)
	}
	groups, _ := app.Contacts.DuplicateGroups(ctx, andy.Actor, ws.ID)
	if len(groups) != 0 {
		t.Errorf("groups left %v (Bo %s)", groups, bo.ID)
	}
}
