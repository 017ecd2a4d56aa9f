package web

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/calendar"
	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/insight"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/todo"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// widgets are the dashboard's cards, in our users' order. Each loads on
// its own (htmx), so a slow one never holds the page.
var widgets = []string{"approvals", "attention", "todos", "contacts", "campaigns", "insights", "calendar", "stats"}

// dashboardTTL is how old the dashboard's whole-workspace figures may be.
const dashboardTTL = 30 * time.Second

// recentDays is how far back the dashboard looks for new shares, bounces
// and hot leads, and ahead for the calendar.
const recentDays = 14

type dashboardPage struct {
	Widgets []string
	All     bool   // every workspace of the user's, not just this one
	Query   string // "?scope=all" or ""
}

// scopeOf reads the dashboard's scope from the request: all of the
// user's workspaces (?scope=all) or the page's, and the query that keeps
// it on the links.
func scopeOf(r *http.Request) (all bool, query string) {
	if r.URL.Query().Get("scope") == "all" {
		return true, "?scope=all"
	}
	return false, ""
}

// wsRef is a workspace a widget item belongs to.
type wsRef struct{ ID, Name string }

// attentionItem is one line of the attention widget.
type attentionItem struct {
	Kind string // provider, unknown, email, text, bounce, share, stalled
	WS   wsRef
	Text string
	Link string
	// Done, when set, is where the item's Done button posts (with Key).
	Done, Key, Field string
	Email            events.InboundEmail // an email's
	From             string              // a text's number
	At               time.Time
}

// campaignRow is a campaign with its progress.
type campaignRow struct {
	campaign.Campaign
	WS    wsRef
	Stats campaign.Stats
	Pct   int // sent of all its messages
}

// contactRow is a recent contact or a hot lead.
type contactRow struct {
	ID, Name, Why string
	WS            wsRef
	At            time.Time
}

// widgetData is what one widget shows.
type widgetData struct {
	All   bool
	Query string
	WS    wsRef // the page's workspace
	Today string

	Approvals []campaign.Campaign
	Attention []attentionItem
	Todos     []todo.Todo
	TodoOpen  int
	Overdue   int
	Recent    []contactRow
	Hot       []contactRow
	Campaigns []campaignRow
	Reengage  campaign.Reengagement
	ReURL     template.URL
	Insights  []insight.Insight
	Calendar  []calendar.Item
	Stats     dashStats
	Names     map[string]string // workspace id → name
}

// dashStats are the quick figures.
type dashStats struct {
	Contacts, NewContacts, DNC int
	SentWeek, RepliesWeek      int
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	d := dashboardPage{Widgets: widgets}
	d.All, d.Query = scopeOf(r)
	title := ws.Name
	if d.All {
		title = "All workspaces"
	}
	p := s.pageFor(r, title, &page{Data: d})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "dashboard", "", p)
}

// scope returns the workspaces a widget covers: the page's, or with
// scope=all every one the actor owns.
func (s *Server) scope(r *http.Request) ([]workspace.Workspace, error) {
	ws, _ := workspaceFrom(r.Context())
	if all, _ := scopeOf(r); !all {
		return []workspace.Workspace{ws}, nil
	}
	a, _ := actorFrom(r.Context())
	return s.Workspaces.List(r.Context(), a)
}

// widget serves one dashboard card.
func (s *Server) widget(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "widget")
	if !slices.Contains(widgets, name) {
		http.NotFound(w, r)
		return
	}
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	wss, err := s.scope(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := widgetData{WS: wsRef{ws.ID, ws.Name}, Today: s.todayIn(ws.Settings.TimeZone), Names: map[string]string{}}
	d.All, d.Query = scopeOf(r)
	ids := make([]string, len(wss))
	for i, x := range wss {
		ids[i], d.Names[x.ID] = x.ID, x.Name
	}
	ctx := r.Context()
	switch name {
	case "approvals":
		d.Approvals, err = s.Campaigns.PendingFor(ctx, a)
	case "attention":
		d.Attention, err = s.attention(ctx, a, wss)
	case "todos":
		err = s.readAll(ctx, a, wss, func(conn *sqlite.Conn) error {
			var err error
			if d.Todos, err = todo.OpenIn(conn, ids, 8); err != nil {
				return err
			}
			d.TodoOpen, d.Overdue, err = todo.CountOpen(conn, ids, d.Today)
			return err
		})
	case "contacts":
		err = s.readAll(ctx, a, wss, func(conn *sqlite.Conn) error { return recentContacts(conn, &d, wss) })
	case "campaigns":
		err = s.campaignRows(ctx, a, wss, &d)
	case "insights":
		err = s.readAll(ctx, a, wss, func(conn *sqlite.Conn) error {
			var err error
			d.Insights, err = insight.OpenIn(conn, ids, 6)
			return err
		})
	case "calendar":
		err = s.calendarRows(ctx, a, ws, ids, &d)
	case "stats":
		err = s.quickStats(ctx, a, wss, &d)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, ws.Name, &page{Data: d})
	s.render(w, r, http.StatusOK, "dashboard", "widget-"+name, p)
}

// readAll runs fn in one read after checking the actor owns every
// workspace of wss.
func (s *Server) readAll(ctx context.Context, a auth.Actor, wss []workspace.Workspace, fn func(*sqlite.Conn) error) error {
	if len(wss) == 0 {
		return nil
	}
	return workspace.Read(ctx, s.DB, a, wss[0].ID, func(conn *sqlite.Conn) error {
		for _, w := range wss[1:] {
			if err := workspace.Owned(conn, a, w.ID); err != nil {
				return err
			}
		}
		return fn(conn)
	})
}

// attention gathers what needs the user: a provider that cannot send,
// sends nobody can vouch for, emails in, texts from unknown numbers,
// bounces and new shares of the last recentDays, stalled stages.
func (s *Server) attention(ctx context.Context, a auth.Actor, wss []workspace.Workspace) ([]attentionItem, error) {
	var out []attentionItem
	since := store.FormatTime(time.Now().AddDate(0, 0, -recentDays))
	for _, ws := range wss {
		ref := wsRef{ws.ID, ws.Name}
		base := "/w/" + url.PathEscape(ws.ID)
		if cfg, ok, err := s.Providers.Get(ctx, a, ws.ID); err != nil {
			return nil, err
		} else if ok {
			problem := cfg.Problem
			if problem == "" && (cfg.Kind == mailer.KindGoogle || cfg.Kind == mailer.KindMicrosoft) && !s.Providers.Connected(cfg) {
				problem = mailer.Label(cfg.Kind) + " is not signed in: nothing is sent until it is."
			}
			if problem != "" {
				out = append(out, attentionItem{Kind: "provider", WS: ref, Text: problem, Link: base + "/email"})
			}
		}
		err := workspace.Read(ctx, s.DB, a, ws.ID, func(conn *sqlite.Conn) error {
			var unknown int
			if err := sqlitex.Execute(conn, `SELECT count(*) FROM outbox WHERE workspace_id = ? AND state = 'unknown'`, &sqlitex.ExecOptions{Args: []any{ws.ID},
				ResultFunc: func(st *sqlite.Stmt) error { unknown = st.ColumnInt(0); return nil }}); err != nil {
				return err
			}
			if unknown > 0 {
				out = append(out, attentionItem{Kind: "unknown", WS: ref, Text: plural(unknown, "message", "messages") + " may or may not have gone out: say whether to resend or drop.", Link: base + "/outbox?state=unknown"})
			}
			emails, err := events.OpenEmails(conn, ws.ID, 10)
			if err != nil {
				return err
			}
			for _, e := range emails {
				it := attentionItem{Kind: "email", WS: ref, Email: e, At: e.At, Done: base + "/attention/email/" + url.PathEscape(e.Provider) + "/done", Field: "id", Key: e.ID}
				if e.ContactID != "" {
					it.Link = base + "/contacts/" + url.PathEscape(e.ContactID)
				}
				out = append(out, it)
			}
			// bounces: the address no longer takes mail
			err = sqlitex.Execute(conn, `SELECT p.provider || ':' || p.event_id, p.recipient, p.occurred_at, coalesce(o.contact_id, ''), `+contact.NameColumns+`
FROM provider_events p LEFT JOIN outbox o ON o.id = p.outbox_id AND p.outbox_id <> '' LEFT JOIN contacts c ON c.id = o.contact_id
WHERE p.workspace_id = ? AND p.kind = 'bounced' AND p.occurred_at >= ?
  AND NOT EXISTS (SELECT 1 FROM attention_done d WHERE d.user_id = ? AND d.item = 'bounce:' || p.provider || ':' || p.event_id)
ORDER BY p.occurred_at DESC LIMIT 5`, &sqlitex.ExecOptions{Args: []any{ws.ID, since, a.UserID},
				ResultFunc: func(st *sqlite.Stmt) error {
					at, _ := store.ParseTime(st.ColumnText(2))
					who := st.ColumnText(1) // a message no contact's: its address
					if st.ColumnText(3) != "" {
						who = contact.NameAt(st, 4)
					}
					it := attentionItem{Kind: "bounce", WS: ref, Text: "An email to " + who + " bounced (" + st.ColumnText(1) + " no longer takes mail).", At: at,
						Done: base + "/attention/done", Field: "item", Key: "bounce:" + st.ColumnText(0)}
					if c := st.ColumnText(3); c != "" {
						it.Link = base + "/contacts/" + url.PathEscape(c)
					}
					out = append(out, it)
					return nil
				}})
			if err != nil {
				return err
			}
			stalled, err := insight.OpenIn(conn, []string{ws.ID}, 5, insight.KindStalled)
			if err != nil {
				return err
			}
			for _, in := range stalled {
				link := base + "/contacts?stage=" + url.QueryEscape(in.Ref.ListID)
				if in.Ref.ContactID != "" {
					link = base + "/contacts/" + url.PathEscape(in.Ref.ContactID)
				}
				out = append(out, attentionItem{Kind: "stalled", WS: ref, Text: in.Subject + ".", Link: link,
					Done: base + "/insights/" + url.PathEscape(in.ID) + "/dismiss"})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// new shares and unknown texts are the user's and the household's, not a workspace's
	err := s.DB.Read(ctx, func(conn *sqlite.Conn) error {
		texts, err := events.OpenUnknownTexts(conn, 5)
		if err != nil {
			return err
		}
		if len(wss) > 0 {
			for _, t := range texts {
				out = append(out, attentionItem{Kind: "text", WS: wsRef{wss[0].ID, wss[0].Name}, Text: t.Body, Key: t.SID, Field: "sid", At: t.At,
					Done: "/w/" + url.PathEscape(wss[0].ID) + "/attention/text/done", From: t.From})
			}
		}
		return sqlitex.Execute(conn, `SELECT s.contact_id, u.name, s.created_at, `+contact.NameColumns+`
FROM contact_shares s JOIN contacts c ON c.id = s.contact_id JOIN workspaces w ON w.id = c.workspace_id JOIN users u ON u.id = w.owner_id
WHERE s.viewer_user_id = ? AND s.created_at >= ?
  AND NOT EXISTS (SELECT 1 FROM attention_done d WHERE d.user_id = s.viewer_user_id AND d.item = 'share:' || s.contact_id)
ORDER BY s.created_at DESC LIMIT 5`, &sqlitex.ExecOptions{Args: []any{a.UserID, since},
			ResultFunc: func(st *sqlite.Stmt) error {
				at, _ := store.ParseTime(st.ColumnText(2))
				out = append(out, attentionItem{Kind: "share", Text: st.ColumnText(1) + " shared " + contact.NameAt(st, 3) + " with you.", At: at,
					Link: "/shared/" + url.PathEscape(st.ColumnText(0)), Done: "/w/" + url.PathEscape(wss[0].ID) + "/attention/done", Field: "item", Key: "share:" + st.ColumnText(0)})
				return nil
			}})
	})
	return out, err
}

// attentionDone marks a bounce or a new share done for the user: an item
// that has no row of its own to mark. It must be one the user can see.
func (s *Server) attentionDone(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	item := r.PostFormValue("item")
	kind, key, _ := strings.Cut(item, ":")
	err := workspace.Write(r.Context(), s.DB, a, ws.ID, func(conn *sqlite.Conn) error {
		var ok bool
		var err error
		switch kind {
		case "bounce":
			provider, id, _ := strings.Cut(key, ":")
			ok, err = store.Exists(conn, `SELECT 1 FROM provider_events WHERE provider = ? AND event_id = ? AND workspace_id = ?`, provider, id, ws.ID)
		case "share":
			ok, err = store.Exists(conn, `SELECT 1 FROM contact_shares WHERE contact_id = ? AND viewer_user_id = ?`, key, a.UserID)
		}
		if err != nil {
			return err
		}
		if !ok {
			return errs.ErrNotFound
		}
		if err := sqlitex.Execute(conn, `INSERT INTO attention_done (user_id, item, done_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			&sqlitex.ExecOptions{Args: []any{a.UserID, item, store.FormatTime(time.Now())}}); err != nil {
			return err
		}
		return audit.Record(conn, a.Audit("attention.done", kind, key, map[string]any{"workspace_id": ws.ID}))
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, backTo(r, ws.ID))
}

// recentContacts fills the contacts widget: the ones added or changed
// last, and the hot leads, who wrote to us in the last recentDays.
func recentContacts(conn *sqlite.Conn, d *widgetData, wss []workspace.Workspace) error {
	since := store.FormatTime(time.Now().AddDate(0, 0, -recentDays))
	for _, ws := range wss {
		ref := wsRef{ws.ID, ws.Name}
		err := sqlitex.Execute(conn, `SELECT c.id, c.updated_at, CASE WHEN c.created_at = c.updated_at THEN 'added' ELSE 'updated' END, `+contact.NameColumns+`
FROM contacts c WHERE c.workspace_id = ? ORDER BY c.updated_at DESC LIMIT 5`, &sqlitex.ExecOptions{Args: []any{ws.ID},
			ResultFunc: func(st *sqlite.Stmt) error {
				at, _ := store.ParseTime(st.ColumnText(1))
				d.Recent = append(d.Recent, contactRow{ID: st.ColumnText(0), Name: contact.NameAt(st, 3), At: at, Why: st.ColumnText(2), WS: ref})
				return nil
			}})
		if err != nil {
			return err
		}
		err = sqlitex.Execute(conn, `SELECT c.id, max(i.received_at), count(*), `+contact.NameColumns+`
FROM inbound_emails i JOIN contacts c ON c.id = i.contact_id
WHERE i.workspace_id = ? AND i.contact_id <> '' AND i.received_at >= ? GROUP BY c.id ORDER BY max(i.received_at) DESC LIMIT 5`, &sqlitex.ExecOptions{Args: []any{ws.ID, since},
			ResultFunc: func(st *sqlite.Stmt) error {
				at, _ := store.ParseTime(st.ColumnText(1))
				d.Hot = append(d.Hot, contactRow{ID: st.ColumnText(0), Name: contact.NameAt(st, 3), At: at, Why: plural(st.ColumnInt(2), "email", "emails") + " from them lately", WS: ref})
				return nil
			}})
		if err != nil {
			return err
		}
	}
	sort.SliceStable(d.Recent, func(i, j int) bool { return d.Recent[i].At.After(d.Recent[j].At) })
	sort.SliceStable(d.Hot, func(i, j int) bool { return d.Hot[i].At.After(d.Hot[j].At) })
	d.Recent, d.Hot = d.Recent[:min(len(d.Recent), 5)], d.Hot[:min(len(d.Hot), 5)]
	return nil
}

// campaignRows fills the campaigns widget: those under way, scheduled
// or waiting, and those sent in the last two weeks, with progress; and
// the re-engagement suggestion for the page's workspace.
func (s *Server) campaignRows(ctx context.Context, a auth.Actor, wss []workspace.Workspace, d *widgetData) error {
	for _, ws := range wss {
		all, err := s.Campaigns.List(ctx, a, ws.ID)
		if err != nil {
			return err
		}
		for _, c := range all {
			if c.Status == campaign.Cancelled || (c.Status == campaign.Sent && time.Since(c.UpdatedAt) > recentDays*24*time.Hour) || len(d.Campaigns) >= 6 {
				continue
			}
			row := campaignRow{Campaign: c, WS: wsRef{ws.ID, ws.Name}}
			if row.Stats, err = s.Campaigns.StatsOf(ctx, a, ws.ID, c.ID); err != nil {
				return err
			}
			if total := row.Stats.Queued + row.Stats.Sent + row.Stats.Failed + row.Stats.Unknown; total > 0 {
				row.Pct = row.Stats.Sent * 100 / total
			}
			d.Campaigns = append(d.Campaigns, row)
		}
	}
	if !d.All {
		var err error
		if d.Reengage, err = s.reengage.get(a.UserID+"/"+d.WS.ID, func() (campaign.Reengagement, error) { return s.Campaigns.Reengage(ctx, a, d.WS.ID) }); err != nil {
			return err
		}
		d.ReURL = template.URL("/w/" + url.PathEscape(d.WS.ID) + "/campaigns/new?" + d.Reengage.Query)
	}
	return nil
}

// calendarRows fills the calendar widget: the next recentDays of the
// user's calendar feed (birthdays, due to-dos, scheduled sends), within
// the scope.
func (s *Server) calendarRows(ctx context.Context, a auth.Actor, ws workspace.Workspace, ids []string, d *widgetData) error {
	items, err := s.Calendars.Items(ctx, a.UserID)
	if err != nil {
		return err
	}
	loc := s.zone(ws.Settings.TimeZone)
	l := time.Now().In(loc)
	today := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC) // items' days are UTC midnights
	end := today.AddDate(0, 0, recentDays)
	for _, it := range items {
		day := it.Day
		if day.IsZero() {
			l := it.At.In(loc)
			day = time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
		}
		if day.Before(today) || !day.Before(end) || !inScope(it.Link, ids) {
			continue
		}
		d.Calendar = append(d.Calendar, it)
		if len(d.Calendar) == 10 {
			break
		}
	}
	return nil
}

// inScope reports whether a link is to a page of one of the workspaces ids.
func inScope(link string, ids []string) bool {
	for _, id := range ids {
		if strings.HasPrefix(link, "/w/"+id+"/") {
			return true
		}
	}
	return false
}

// quickStats fills the quick figures over the scope.
func (s *Server) quickStats(ctx context.Context, a auth.Actor, wss []workspace.Workspace, d *widgetData) error {
	week := store.FormatTime(time.Now().AddDate(0, 0, -7))
	for _, ws := range wss {
		c, err := s.counts.get(a.UserID+"/"+ws.ID, func() (contact.Counts, error) { return s.Contacts.Count(ctx, a, ws.ID) })
		if err != nil {
			return err
		}
		d.Stats.Contacts += c.Total
		d.Stats.NewContacts += c.NewThisMonth
		d.Stats.DNC += c.DoNotContact
		err = workspace.Read(ctx, s.DB, a, ws.ID, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT
  (SELECT count(*) FROM outbox WHERE workspace_id = ?1 AND state = 'sent' AND sent_at >= ?2),
  (SELECT count(*) FROM inbound_emails WHERE workspace_id = ?1 AND received_at >= ?2)`, &sqlitex.ExecOptions{Args: []any{ws.ID, week},
				ResultFunc: func(st *sqlite.Stmt) error {
					d.Stats.SentWeek += st.ColumnInt(0)
					d.Stats.RepliesWeek += st.ColumnInt(1)
					return nil
				}})
		})
		if err != nil {
			return err
		}
	}
	return nil
}
