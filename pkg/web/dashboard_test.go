package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/todo"
)

// TestDashboardWidgets: the page asks for the eight widgets in our
// users' order; each answers on its own; one workspace or all of the
// user's; a bounce and a new share need attention until marked done,
// which nobody else can do; the calendar shows the next two weeks.
func TestDashboardWidgets(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	andy, mona := app.NewUser("Andy"), app.NewUser("Mona")
	lf, ms := andy.Workspace("Loan Factory"), andy.Workspace("MaiStory")
	mws := mona.Workspace("Homes")
	base := "/w/" + lf.ID

	_, page := app.Do(andy.Client, http.MethodGet, base, nil, nil)
	var order []string
	for _, m := range widgetURL.FindAllStringSubmatch(page, -1) {
		order = append(order, m[1][strings.LastIndex(m[1], "/")+1:])
	}
	if strings.Join(order, ",") != "approvals,attention,todos,contacts,campaigns,insights,calendar,stats" {
		t.Fatalf("widgets in the wrong order: %v", order)
	}
	if resp, _ := app.Do(andy.Client, http.MethodGet, base+"/widgets/nope", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("an unknown widget: %d", resp.StatusCode)
	}

	// a to-do in MaiStory shows on Loan Factory's dashboard only for all workspaces
	if _, err := app.Todos.Create(ctx, andy.Actor, ms.ID, todo.Change{Title: "Call the MaiStory printer", DueOn: time.Now().AddDate(0, 0, 2).Format(todo.DateLayout)}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(widget(dashboard(t, app, andy.Client, base), "todos"), "MaiStory printer") {
		t.Fatal("another workspace's to-do on this workspace's dashboard")
	}
	all := dashboard(t, app, andy.Client, base+"?scope=all")
	if !strings.Contains(widget(all, "todos"), "MaiStory printer") || !strings.Contains(widget(all, "calendar"), "MaiStory printer") {
		t.Fatalf("all workspaces: %s", apptest.Trim(widget(all, "todos")+widget(all, "calendar")))
	}
	if !strings.Contains(all, `href="/w/`+ms.ID+`/todos/`) && !strings.Contains(all, `action="/w/`+ms.ID+`/todos/`) {
		t.Fatal("the to-do's buttons do not act in its own workspace")
	}

	// a bounce and a share
	maria := andy.Contact(lf.ID, "Maria", "maria@example.com")
	theirs := mona.Contact(mws.ID, "Sam", "sam@example.com")
	now := store.FormatTime(time.Now().Add(-time.Hour))
	exec := func(q string, args ...any) {
		t.Helper()
		if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error { return sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args}) }); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO outbox (id, workspace_id, user_id, contact_id, channel, dedupe_key, message_id, provider, to_addr, from_addr, state, due_at, sent_at, created_at, updated_at)
VALUES ('o1', ?1, ?2, ?3, 'email', 'o1', 'o1', 'file', 'maria@example.com', 'andy@example.com', 'sent', ?4, ?4, ?4, ?4)`, lf.ID, andy.ID, maria.ID, now)
	exec(`INSERT INTO provider_events (provider, event_id, workspace_id, kind, outbox_id, recipient, occurred_at, via, recorded_at) VALUES
('file', 'ev1', ?1, 'bounced', 'o1', 'maria@example.com', ?2, 'poll', ?2), ('file', 'ev2', ?3, 'bounced', '', 'x@example.com', ?2, 'poll', ?2)`, lf.ID, now, mws.ID)
	exec(`INSERT INTO contact_shares (contact_id, viewer_user_id, created_at) VALUES (?, ?, ?)`, theirs.ID, andy.ID, now)
	att := widget(dashboard(t, app, andy.Client, base), "attention")
	if !strings.Contains(att, "An email to Maria bounced") || !strings.Contains(att, `href="`+base+`/contacts/`+maria.ID+`"`) ||
		!strings.Contains(att, "Mona shared Sam with you.") || !strings.Contains(att, `href="/shared/`+theirs.ID+`"`) || strings.Contains(att, "x@example.com") {
		t.Fatalf("attention: %s", apptest.Trim(att))
	}
	for _, item := range []string{"bounce:file:ev2", "share:" + maria.ID, "bogus"} {
		if resp, _ := postForm(app, andy.Client, base+"/attention/done", url.Values{"item": {item}}, false); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("done on %s, not Andy's to see: %d", item, resp.StatusCode)
		}
	}
	for _, item := range []string{"bounce:file:ev1", "share:" + theirs.ID} {
		if resp, _ := postForm(app, andy.Client, base+"/attention/done", url.Values{"item": {item}, "back": {base}}, false); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("done on %s: %d", item, resp.StatusCode)
		}
	}
	if att := widget(dashboard(t, app, andy.Client, base), "attention"); strings.Contains(att, "bounced") || strings.Contains(att, "shared") {
		t.Fatalf("done items still need attention: %s", apptest.Trim(att))
	}
	// Mona's own bounce is hers: Andy's dashboard never showed it, hers does.
	if att := widget(dashboard(t, app, mona.Client, "/w/"+mws.ID), "attention"); !strings.Contains(att, "x@example.com") {
		t.Fatalf("Mona's attention: %s", apptest.Trim(att))
	}
	// Andy cannot read Mona's widgets.
	if resp, _ := app.Do(andy.Client, http.MethodGet, "/w/"+mws.ID+"/widgets/attention", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another user's widget: %d", resp.StatusCode)
	}
}
