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
	"github.com/pi-crm/pi-crm/pkg/insight"
)

// TestInsightCards: what the engine found shows on the dashboard with its
// action; a to-do action makes the to-do there; Dismiss takes the card off
// and it stays off over the next run; the new-template page shows the
// template insights; another user's insight answers 404.
func TestInsightCards(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	andy, mona := app.NewUser("Andy"), app.NewUser("Mona")
	ws, theirs := andy.Workspace("Loans"), mona.Workspace("Homes")
	base := "/w/" + ws.ID
	andy.Contact(ws.ID, "Carl", "carl@example.com")
	andy.Contact(ws.ID, "Carla", "carl@example.com")
	bea := andy.Contact(ws.ID, "Bea", "bea@example.com")
	soon := time.Now().AddDate(0, 0, 3)
	body := "<p>Hi there, rates moved this week and your home may qualify for a lower payment. Reply and I will run the numbers.</p>"
	if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `UPDATE contacts SET birthday_month = ?, birthday_day = ? WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{int(soon.Month()), soon.Day(), bea.ID}}); err != nil {
			return err
		}
		return sqlitex.Execute(conn, `INSERT INTO email_templates (id, workspace_id, name, subject, body_html, created_at, updated_at) VALUES
('t1', ?1, 'Rate drop', 'Rates dropped', ?2, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'),
('t2', ?1, 'Rate drop 2', 'Rates dropped', ?2, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')`, &sqlitex.ExecOptions{Args: []any{ws.ID, body}})
	}); err != nil {
		t.Fatal(err)
	}
	e := insight.NewEngine(app.DB, nil, nil)
	if _, err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	page := dashboard(t, app, andy.Client, base)
	if !strings.Contains(page, `id="insights"`) || !strings.Contains(page, "2 contacts look") && !strings.Contains(page, "1 pair of contacts looks like the same person") ||
		!strings.Contains(page, `href="`+base+`/duplicates"`) || !strings.Contains(page, "Bea&#39;s birthday") {
		t.Fatalf("dashboard insights: %s", apptest.Trim(page))
	}
	got, _ := app.Insights.Open(ctx, andy.Actor, ws.ID, 20)
	var bday, dup string
	for _, in := range got {
		switch in.Kind {
		case insight.KindBirthday:
			bday = in.ID
		case insight.KindDuplicates:
			dup = in.ID
		}
	}
	resp, _ := postForm(app, andy.Client, base+"/insights/"+bday+"/act", url.Values{"back": {base}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != base {
		t.Fatalf("act: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = postForm(app, andy.Client, base+"/insights/"+dup+"/dismiss", url.Values{"back": {base}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("dismiss: %d", resp.StatusCode)
	}
	if _, err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	page = dashboard(t, app, andy.Client, base)
	if cards := widget(page, "insights"); !strings.Contains(widget(page, "todos"), "Wish Bea a happy birthday") || cards == "" || strings.Contains(cards, "Bea&#39;s birthday") || strings.Contains(cards, "like the same person") {
		t.Fatalf("after act and dismiss: %s", apptest.Trim(page))
	}
	_, page = app.Do(andy.Client, http.MethodGet, base+"/templates/new", nil, nil)
	if !strings.Contains(page, `id="template-insights"`) || !strings.Contains(page, "are nearly the same") {
		t.Fatalf("new template banner: %s", apptest.Trim(page))
	}
	// Mona cannot touch Andy's, through her workspace or his.
	for _, p := range []string{"/w/" + theirs.ID + "/insights/" + bday + "/useful", base + "/insights/" + bday + "/useful"} {
		if resp, _ := postForm(app, mona.Client, p, url.Values{}, false); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s as another user: %d", p, resp.StatusCode)
		}
	}
}
