// Package summary writes each user's weekly summary email: on Monday from
// SendHour in the user's time zone, the past week's activity over the
// workspaces they own, what needs attention and the top insights, queued
// through the outbox once per ISO week (the outbox's dedupe key and the
// weekly_summaries row are written in one transaction, so a crash or a
// second run never sends it twice). A user setting turns it off.
package summary

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/insight"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/todo"
)

// SendHour is the local hour on Monday from which the summary goes.
const SendHour = 7

// Week is the summary due at now in loc: the ISO week of this week's
// Monday (e.g. "2026-W50") and the seven local days before it, which the
// summary covers. ok is false before Monday SendHour:00; later in the
// week it is still due (a Pi that was off on Monday catches up).
func Week(now time.Time, loc *time.Location) (week string, from, to time.Time, ok bool) {
	l := now.In(loc)
	back := (int(l.Weekday()) + 6) % 7 // days since Monday
	monday := time.Date(l.Year(), l.Month(), l.Day()-back, 0, 0, 0, 0, loc)
	if l.Before(time.Date(monday.Year(), monday.Month(), monday.Day(), SendHour, 0, 0, 0, loc)) {
		return "", time.Time{}, time.Time{}, false
	}
	y, w := monday.ISOWeek()
	return fmt.Sprintf("%d-W%02d", y, w), time.Date(monday.Year(), monday.Month(), monday.Day()-7, 0, 0, 0, 0, loc), monday, true
}

// Sender queues the summaries.
type Sender struct {
	db  *store.DB
	now func() time.Time
	log *slog.Logger
}

// New returns a Sender over db; log may be nil.
func New(db *store.DB, log *slog.Logger) *Sender {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{db: db, now: time.Now, log: log}
}

// SetClock replaces the clock (tests).
func (s *Sender) SetClock(now func() time.Time) { s.now = now }

type user struct{ id, email, name, tz string }

// Run queues the summary of every user who wants one and is due: at most
// one per user and week. It returns how many it queued.
func (s *Sender) Run(ctx context.Context) (int, error) {
	var users []user
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT id, email, name, time_zone FROM users WHERE weekly_summary ORDER BY id`, &sqlitex.ExecOptions{
			ResultFunc: func(st *sqlite.Stmt) error {
				users = append(users, user{st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnText(3)})
				return nil
			}})
	})
	if err != nil {
		return 0, fmt.Errorf("weekly summary: users: %w", err)
	}
	n := 0
	for _, u := range users {
		queued, err := s.one(ctx, u)
		if err != nil {
			return n, fmt.Errorf("weekly summary for %s: %w", u.id, err)
		}
		if queued {
			n++
		}
	}
	return n, nil
}

// facts are what a summary says.
type facts struct {
	logged, newContacts, sent, replies, bounces int
	open, overdue                               int
	attention                                   int
	insights                                    []insight.Insight
}

func (s *Sender) one(ctx context.Context, u user) (bool, error) {
	loc, err := time.LoadLocation(u.tz)
	if err != nil {
		loc = time.UTC
	}
	now := s.now()
	week, from, to, ok := Week(now, loc)
	if !ok {
		return false, nil
	}
	// what it says is read first, so the write below holds the lock only
	// to queue it
	var (
		done bool
		via  string
		cfg  mailer.Config
		f    facts
	)
	err = s.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		if done, err = sent(conn, u.id, week); err != nil || done {
			return err
		}
		var wss []string
		if err := sqlitex.Execute(conn, `SELECT id FROM workspaces WHERE owner_id = ? ORDER BY name COLLATE NOCASE, id`, &sqlitex.ExecOptions{Args: []any{u.id},
			ResultFunc: func(st *sqlite.Stmt) error { wss = append(wss, st.ColumnText(0)); return nil }}); err != nil {
			return fmt.Errorf("workspaces: %w", err)
		}
		// it goes out through the first of their workspaces that can send
		for _, ws := range wss {
			c, ok, err := mailer.ConfigIn(conn, ws)
			if err != nil {
				return err
			}
			if ok && c.Problem == "" && c.FromEmail != "" {
				via, cfg = ws, c
				break
			}
		}
		if via == "" {
			return nil
		}
		f, err = gather(conn, wss, from, to, now, loc)
		return err
	})
	if err != nil || done {
		return false, err
	}
	if via == "" {
		s.log.Info("weekly summary: no workspace of the user can send email yet", "user", u.id)
		return false, nil
	}
	e, err := emailtemplate.Render(emailtemplate.Template{Name: "weekly summary", Subject: "Your week in pi-crm: " + from.Format("Jan 2") + " to " + to.AddDate(0, 0, -1).Format("Jan 2"),
		Preheader: fmt.Sprintf("%d log entries, %d emails sent, %d replies, %d to-dos open", f.logged, f.sent, f.replies, f.open),
		BodyHTML:  body(u.name, f)}, nil, nil)
	if err != nil {
		return false, fmt.Errorf("render: %w", err)
	}
	queued := false
	err = s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if done, err := sent(conn, u.id, week); err != nil || done {
			return err
		}
		id, created, err := outbox.Enqueue(conn, outbox.Message{WorkspaceID: via, UserID: u.id, Channel: outbox.Email, DedupeKey: "weekly:" + u.id + ":" + week,
			Provider: cfg.Kind, To: u.email, From: cfg.FromEmail, FromName: cfg.FromName, Subject: e.Subject, HTML: e.HTML, Text: e.Text}, now)
		if err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `INSERT INTO weekly_summaries (user_id, week, outbox_id, created_at) VALUES (?, ?, ?, ?)`,
			&sqlitex.ExecOptions{Args: []any{u.id, week, id, store.FormatTime(now)}}); err != nil {
			return fmt.Errorf("record the week: %w", err)
		}
		queued = created
		return audit.Record(conn, auth.JobActor(u.id).Audit("summary.queue", "outbox", id, map[string]any{"week": week, "workspace_id": via}))
	})
	return queued, err
}

// sent reports whether the user's summary of week is already queued.
func sent(conn *sqlite.Conn, userID, week string) (bool, error) {
	return store.Exists(conn, `SELECT 1 FROM weekly_summaries WHERE user_id = ? AND week = ?`, userID, week)
}

// gather counts the week [from, to) over the workspaces wss.
func gather(conn *sqlite.Conn, wss []string, from, to, now time.Time, loc *time.Location) (facts, error) {
	var f facts
	ids, _ := json.Marshal(wss)
	a, b := store.FormatTime(from), store.FormatTime(to)
	count := func(dst *int, q string) error {
		return sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: []any{string(ids), a, b},
			ResultFunc: func(st *sqlite.Stmt) error { *dst = st.ColumnInt(0); return nil }})
	}
	for _, c := range []struct {
		dst *int
		q   string
	}{
		{&f.logged, `SELECT count(*) FROM activities WHERE workspace_id IN (SELECT value FROM json_each(?1)) AND occurred_at >= ?2 AND occurred_at < ?3`},
		{&f.newContacts, `SELECT count(*) FROM contacts WHERE workspace_id IN (SELECT value FROM json_each(?1)) AND created_at >= ?2 AND created_at < ?3`},
		{&f.sent, `SELECT count(*) FROM outbox WHERE workspace_id IN (SELECT value FROM json_each(?1)) AND state = 'sent' AND sent_at >= ?2 AND sent_at < ?3`},
		{&f.replies, `SELECT count(*) FROM inbound_emails WHERE workspace_id IN (SELECT value FROM json_each(?1)) AND received_at >= ?2 AND received_at < ?3`},
		{&f.bounces, `SELECT count(*) FROM provider_events WHERE workspace_id IN (SELECT value FROM json_each(?1)) AND kind = 'bounced' AND occurred_at >= ?2 AND occurred_at < ?3`},
	} {
		if err := count(c.dst, c.q); err != nil {
			return f, fmt.Errorf("week's figures: %w", err)
		}
	}
	if err := sqlitex.Execute(conn, `SELECT (SELECT count(*) FROM inbound_emails WHERE workspace_id IN (SELECT value FROM json_each(?1)) AND done_at = '')
  + (SELECT count(*) FROM outbox WHERE workspace_id IN (SELECT value FROM json_each(?1)) AND state = 'unknown')`, &sqlitex.ExecOptions{Args: []any{string(ids)},
		ResultFunc: func(st *sqlite.Stmt) error { f.attention = st.ColumnInt(0); return nil }}); err != nil {
		return f, fmt.Errorf("attention: %w", err)
	}
	var err error
	if f.open, f.overdue, err = todo.CountOpen(conn, wss, now.In(loc).Format(todo.DateLayout)); err != nil {
		return f, err
	}
	if f.insights, err = insight.OpenIn(conn, wss, 3); err != nil {
		return f, err
	}
	return f, nil
}

// text is s escaped for the body, with no placeholder in it.
func text(s string) string { return strings.ReplaceAll(html.EscapeString(s), "{{", "{ {") }

// body is the summary's HTML: short lines a phone reads at a glance.
func body(name string, f facts) string {
	var b strings.Builder
	first, _, _ := strings.Cut(strings.TrimSpace(name), " ")
	fmt.Fprintf(&b, "<p>Good morning %s, here is your last week.</p><ul>", text(first))
	fmt.Fprintf(&b, "<li>%d log entries, %d new contacts</li>", f.logged, f.newContacts)
	fmt.Fprintf(&b, "<li>%d emails sent, %d replies, %d bounces</li>", f.sent, f.replies, f.bounces)
	fmt.Fprintf(&b, "<li>%d to-dos open", f.open)
	if f.overdue > 0 {
		fmt.Fprintf(&b, ", <strong>%d overdue</strong>", f.overdue)
	}
	b.WriteString("</li></ul>")
	if f.attention > 0 {
		fmt.Fprintf(&b, "<p><strong>Needs attention:</strong> %d replies or sends waiting for you on the dashboard.</p>", f.attention)
	}
	if len(f.insights) > 0 {
		b.WriteString("<p><strong>Worth a look:</strong></p><ul>")
		for _, in := range f.insights {
			fmt.Fprintf(&b, "<li>%s</li>", text(in.Text()))
		}
		b.WriteString("</ul>")
	}
	b.WriteString("<p>Turn this email off in pi-crm under Settings.</p>")
	return b.String()
}

// Wanted reports whether the user gets the weekly summary.
func Wanted(ctx context.Context, db *store.DB, actor auth.Actor) (bool, error) {
	on := false
	err := db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT weekly_summary FROM users WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{actor.UserID},
			ResultFunc: func(st *sqlite.Stmt) error { on = st.ColumnBool(0); return nil }})
	})
	if err != nil {
		return false, fmt.Errorf("weekly summary setting: %w", err)
	}
	return on, nil
}

// Want turns the actor's weekly summary on or off.
func Want(ctx context.Context, db *store.DB, actor auth.Actor, on bool) error {
	return db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `UPDATE users SET weekly_summary = ?, updated_at = ? WHERE id = ?`,
			&sqlitex.ExecOptions{Args: []any{on, store.FormatTime(time.Now()), actor.UserID}}); err != nil {
			return fmt.Errorf("weekly summary setting: %w", err)
		}
		return audit.Record(conn, actor.Audit("user.weekly_summary", "user", actor.UserID, map[string]any{"on": on}))
	})
}
