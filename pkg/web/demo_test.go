package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
)

// TestDemoData seeds the demo as `make run` does and checks it is data a
// new user can work with: Andy lands in Loan Factory; both users have tags,
// birthdays this month, notes, calls, texts and emails in the log, a
// duplicate pair to merge and a contact shared by the other; and every
// demo contact, hand-written and generated, saves unchanged through the
// contact page's own edit form (as a browser submits it), with no change
// logged.
func TestDemoData(t *testing.T) {
	ctx := context.Background()
	app := apptest.New(t, apptest.Options{})
	logins := app.SeedDemo(300, 3000)
	saved := 0
	for _, l := range logins {
		c := app.Client()
		if resp := app.PostForm(c, "/login", url.Values{"email": {l.Email}, "password": {l.Password}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("log in %s: %d", l.Email, resp.StatusCode)
		}
		u, _ := app.Auth.UserByEmail(ctx, l.Email)
		actor := auth.Actor{UserID: u.ID}
		spaces, _ := app.Workspaces.List(ctx, actor)
		main := map[string]string{"Andy": "Loan Factory", "Monalisa": "Coldwell Banker Contacts"}[l.Name]
		var mainID string
		for _, ws := range spaces {
			if ws.Name == main {
				mainID = ws.ID
			}
		}
		resp, _ := app.Do(c, http.MethodGet, "/", nil, nil)
		if loc := resp.Header.Get("Location"); loc != "/w/"+mainID {
			t.Errorf("%s lands on %s, want %s (%s)", l.Name, loc, "/w/"+mainID, main)
		}
		groups, err := app.Contacts.DuplicateGroups(ctx, actor, mainID)
		if err != nil || len(groups) == 0 {
			t.Errorf("%s has no duplicates to merge in %s (%v)", l.Name, main, err)
		}
		if shared, _ := app.Contacts.SharedWithMe(ctx, actor); len(shared) == 0 {
			t.Errorf("nothing is shared with %s", l.Name)
		}
		var kinds []string
		var birthdays, tagged int
		app.DB.Read(ctx, func(conn *sqlite.Conn) error {
			sqlitex.Execute(conn, `SELECT DISTINCT kind FROM activities WHERE workspace_id = ? AND kind IN ('email', 'sms', 'call', 'note') ORDER BY kind`,
				&sqlitex.ExecOptions{Args: []any{mainID}, ResultFunc: func(st *sqlite.Stmt) error { kinds = append(kinds, st.ColumnText(0)); return nil }})
			sqlitex.Execute(conn, `SELECT (SELECT count(*) FROM contacts WHERE workspace_id = ?1 AND birthday_month = ?2),
				(SELECT count(DISTINCT t.contact_id) FROM contact_tags t JOIN contacts c ON c.id = t.contact_id WHERE c.workspace_id = ?1)`,
				&sqlitex.ExecOptions{Args: []any{mainID, int(time.Now().Month())}, ResultFunc: func(st *sqlite.Stmt) error {
					birthdays, tagged = st.ColumnInt(0), st.ColumnInt(1)
					return nil
				}})
			return nil
		})
		if strings.Join(kinds, " ") != "call email note sms" || birthdays < 2 || tagged < 3 {
			t.Errorf("%s's %s: log kinds %v, %d birthdays this month, %d tagged contacts", l.Name, main, kinds, birthdays, tagged)
		}
		for _, ws := range spaces {
			ids, err := app.Contacts.IDs(ctx, actor, ws.ID, contact.Query{})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				saveUnchanged(t, app, c, actor, ws.ID, id)
				saved++
			}
		}
	}
	var total int
	app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*) FROM contacts`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { total = st.ColumnInt(0); return nil }})
	})
	if saved != total || total < 319 {
		t.Errorf("saved %d of the %d demo contacts through the form", saved, total)
	}
}

// saveUnchanged submits contact id's edit form as the page renders it and
// checks the save succeeds and changes nothing.
func saveUnchanged(t *testing.T, app *apptest.App, c *http.Client, actor auth.Actor, wsID, id string) {
	t.Helper()
	ctx := context.Background()
	before, err := app.Contacts.Get(ctx, actor, wsID, id)
	if err != nil {
		t.Fatal(err)
	}
	path := "/w/" + wsID + "/contacts/" + id
	resp, body := app.Do(c, http.MethodGet, path, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	form := editForm(t, body)
	if form == nil {
		t.Fatalf("%s has no edit form", before.Name())
	}
	resp = app.PostForm(c, path, form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving %s (%s) unchanged: status %d", before.Name(), id, resp.StatusCode)
	}
	after, _ := app.Contacts.Get(ctx, actor, wsID, id)
	for _, c := range []*contact.Contact{&before, &after} {
		c.UpdatedAt = time.Time{}
		for i := range c.Emails {
			c.Emails[i].ID = "" // a save writes the emails and phones again
		}
		for i := range c.Phones {
			c.Phones[i].ID = ""
		}
	}
	b1, _ := json.Marshal(before)
	b2, _ := json.Marshal(after)
	if string(b1) != string(b2) {
		t.Fatalf("saving %s unchanged changed it:\nbefore %s\nafter  %s", before.Name(), b1, b2)
	}
}

// editForm returns the values a browser submits from the page's contact
// edit form (the one with the "details" field).
func editForm(t *testing.T, page string) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, k string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == k {
				return a.Val, true
			}
		}
		return "", false
	}
	var found url.Values
	var walk func(n *html.Node, v url.Values)
	walk = func(n *html.Node, v url.Values) {
		if n.Type == html.ElementNode {
			name, named := attr(n, "name")
			switch n.Data {
			case "form":
				v = url.Values{}
				defer func(v url.Values) {
					if v.Has("details") {
						found = v
					}
				}(v)
			case "input":
				typ, _ := attr(n, "type")
				val, _ := attr(n, "value")
				_, checked := attr(n, "checked")
				switch {
				case !named || v == nil:
				case typ == "checkbox" || typ == "radio":
					if checked {
						if val == "" {
							val = "on"
						}
						v.Add(name, val)
					}
				default:
					v.Add(name, val)
				}
			case "textarea":
				if named && v != nil {
					var sb strings.Builder
					for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
						sb.WriteString(ch.Data)
					}
					v.Add(name, sb.String())
				}
			case "select":
				if named && v != nil {
					first, chosen := "", ""
					for o := range n.Descendants() {
						if o.Type == html.ElementNode && o.Data == "option" {
							val, _ := attr(o, "value")
							if first == "" {
								first = val
							}
							if _, sel := attr(o, "selected"); sel {
								chosen = val
							}
						}
					}
					if chosen == "" {
						chosen = first
					}
					v.Add(name, chosen)
				}
			}
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch, v)
		}
	}
	walk(doc, nil)
	return found
}
