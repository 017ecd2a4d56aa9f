package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/todo"
)

// TestTodoPages: a to-do typed wrong comes back with what was typed and
// why; one added from a contact's page is pinned there and shows on the
// dashboard, overdue ones marked; Done takes it off both; the back
// address never leaves the workspace.
func TestTodoPages(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Loans")
	c := andy.Contact(ws.ID, "Maria", "maria@example.com")
	base := "/w/" + ws.ID

	resp, body := postForm(app, andy.Client, base+"/todos", url.Values{"title": {"Call back"}, "due_on": {"next friday"}, "back": {base}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "YYYY-MM-DD") || !strings.Contains(body, `value="Call back"`) || !strings.Contains(body, `value="next friday"`) {
		t.Fatalf("bad date: status=%d %s", resp.StatusCode, apptest.Trim(body))
	}
	yesterday := time.Now().AddDate(0, 0, -2).Format(todo.DateLayout)
	resp, _ = postForm(app, andy.Client, base+"/todos", url.Values{"title": {"Send Maria the rate sheet"}, "due_on": {yesterday}, "contact_id": {c.ID},
		"back": {base + "/contacts/" + c.ID}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != base+"/contacts/"+c.ID {
		t.Fatalf("add from the contact page: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = postForm(app, andy.Client, base+"/todos", url.Values{"title": {"Elsewhere"}, "back": {"https://evil.example/"}}, false)
	if resp.Header.Get("Location") != base+"/todos" {
		t.Fatalf("a back address off the site was followed: %s", resp.Header.Get("Location"))
	}
	_, page := app.Do(andy.Client, http.MethodGet, base+"/contacts/"+c.ID, nil, nil)
	if !strings.Contains(page, "Send Maria the rate sheet") || !strings.Contains(page, "Overdue: due "+yesterday) {
		t.Fatalf("the contact page does not pin its overdue to-do: %s", apptest.Trim(page))
	}
	dash := dashboard(t, app, andy.Client, base)
	i, j := strings.Index(dash, "Send Maria the rate sheet"), strings.Index(dash, "Elsewhere")
	if i < 0 || j < 0 || i > j || !strings.Contains(dash, "1 overdue") || !strings.Contains(dash, `data-overdue="true"`) {
		t.Fatalf("dashboard to-dos (overdue first, counted): %s", apptest.Trim(dash))
	}
	open, _ := app.Todos.ForContact(context.Background(), andy.Actor, ws.ID, c.ID)
	if len(open) != 1 {
		t.Fatalf("contact to-dos %+v", open)
	}
	resp, _ = postForm(app, andy.Client, base+"/todos/"+open[0].ID+"/done", url.Values{"back": {base}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != base {
		t.Fatalf("done: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	dash = dashboard(t, app, andy.Client, base)
	_, page = app.Do(andy.Client, http.MethodGet, base+"/contacts/"+c.ID, nil, nil)
	if strings.Contains(dash, "Send Maria the rate sheet") || strings.Contains(page, "Overdue: due") {
		t.Fatal("a done to-do still shows")
	}
	_, list := app.Do(andy.Client, http.MethodGet, base+"/todos", nil, nil)
	if !strings.Contains(list, "Done lately") || !strings.Contains(list, "Send Maria the rate sheet") {
		t.Fatalf("the to-do page's done list: %s", apptest.Trim(list))
	}
}
