package web

import (
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/insight"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/todo"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// dashboardData is a workspace's dashboard: its contact counts and what
// needs attention (replies and other emails in, sends nobody can vouch
// for, a provider that needs signing in again, texts from numbers no
// contact has).
type dashboardData struct {
	Counts   contact.Counts
	Problem  string // the email provider's
	Unknown  int    // messages waiting for the user to resend or drop
	Emails   []events.InboundEmail
	Texts    []events.UnknownText
	Anything bool
	// Approvals are the campaigns waiting for this user's approval (any
	// workspace); Campaigns this workspace's not yet sent or sent lately.
	Approvals []campaign.Campaign
	Campaigns []campaign.Campaign
	// Reengage suggests a campaign to the prospects and leads not heard
	// from in a while.
	Reengage    campaign.Reengagement
	ReengageURL template.URL // the new campaign form, pre-filled
	// Todos are the open to-dos, overdue and soonest first (at most 8 of
	// TodoOpen); Today is the workspace's date, which says what is overdue.
	Todos                 []todo.Todo
	TodoOpen, TodoOverdue int
	Today                 string
	// Insights are the workspace's shown insights, best first.
	Insights []insight.Insight
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	counts, err := s.Contacts.Count(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := dashboardData{Counts: counts}
	if cfg, ok, err := s.Providers.Get(r.Context(), a, ws.ID); err != nil {
		s.fail(w, r, err)
		return
	} else if ok {
		d.Problem = cfg.Problem
		if cfg.Problem == "" && (cfg.Kind == mailer.KindGoogle || cfg.Kind == mailer.KindMicrosoft) && !s.Providers.Connected(cfg) {
			d.Problem = mailer.Label(cfg.Kind) + " is not signed in: nothing is sent until it is."
		}
	}
	err = workspace.Read(r.Context(), s.DB, a, ws.ID, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `SELECT count(*) FROM outbox WHERE workspace_id = ? AND state = 'unknown'`, &sqlitex.ExecOptions{Args: []any{ws.ID},
			ResultFunc: func(st *sqlite.Stmt) error { d.Unknown = st.ColumnInt(0); return nil }}); err != nil {
			return err
		}
		var err error
		if d.Emails, err = events.OpenEmails(conn, ws.ID, 10); err != nil {
			return err
		}
		if d.Texts, err = events.OpenUnknownTexts(conn, 5); err != nil {
			return err
		}
		d.Today = s.todayIn(ws.Settings.TimeZone)
		ids := []string{ws.ID}
		if d.Todos, err = todo.OpenIn(conn, ids, 8); err != nil {
			return err
		}
		if d.TodoOpen, d.TodoOverdue, err = todo.CountOpen(conn, ids, d.Today); err != nil {
			return err
		}
		d.Insights, err = insight.OpenIn(conn, ids, 6)
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Approvals, err = s.Campaigns.PendingFor(r.Context(), a); err != nil {
		s.fail(w, r, err)
		return
	}
	all, err := s.Campaigns.List(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, c := range all {
		if c.Status != campaign.Cancelled && (c.Status != campaign.Sent || time.Since(c.UpdatedAt) < 14*24*time.Hour) && len(d.Campaigns) < 5 {
			d.Campaigns = append(d.Campaigns, c)
		}
	}
	if d.Reengage, err = s.Campaigns.Reengage(r.Context(), a, ws.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	d.ReengageURL = template.URL("/w/" + url.PathEscape(ws.ID) + "/campaigns/new?" + d.Reengage.Query)
	d.Anything = d.Problem != "" || d.Unknown > 0 || len(d.Emails) > 0 || len(d.Texts) > 0
	p := s.pageFor(r, ws.Name, &page{Data: d})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "dashboard", "", p)
}

// attentionEmailDone marks an inbound email of the workspace done.
func (s *Server) attentionEmailDone(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	provider, id := chi.URLParam(r, "provider"), r.PostFormValue("id")
	found := false
	err := workspace.Write(r.Context(), s.DB, a, ws.ID, func(conn *sqlite.Conn) error {
		var err error
		if found, err = events.EmailDone(conn, ws.ID, provider, id, time.Now()); err != nil || !found {
			return err
		}
		return audit.Record(conn, a.Audit("attention.done", "inbound_email", provider+":"+id, map[string]any{"workspace_id": ws.ID}))
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !found {
		http.NotFound(w, r)
		return
	}
	seeOther(w, r, "/w/"+ws.ID)
}

// attentionTextDone marks a text from an unknown number done. Such texts
// belong to the appliance's number, which the household shares.
func (s *Server) attentionTextDone(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	sid := r.PostFormValue("sid")
	found := false
	err := s.DB.Write(r.Context(), func(conn *sqlite.Conn) error {
		var err error
		if found, err = events.TextDone(conn, sid, time.Now()); err != nil || !found {
			return err
		}
		return audit.Record(conn, a.Audit("attention.done", "inbound_text", sid, nil))
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !found {
		http.NotFound(w, r)
		return
	}
	seeOther(w, r, "/w/"+ws.ID)
}
