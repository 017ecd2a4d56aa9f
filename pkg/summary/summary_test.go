package summary_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/summary"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestWeek: the summary is due from Monday 07:00 in the user's zone, the
// week it covers is the seven local days before, and both hold across
// the DST changes (Los Angeles) and ahead of UTC (Auckland, where Monday
// morning is Sunday evening in UTC).
func TestWeek(t *testing.T) {
	la, _ := time.LoadLocation("America/Los_Angeles")
	nz, _ := time.LoadLocation("Pacific/Auckland")
	for _, c := range []struct {
		now      string
		loc      *time.Location
		week     string
		from, to string // UTC
	}{
		{"2026-11-02T14:59:00Z", la, "", "", ""},                                                       // 06:59 PST, the day after DST ended
		{"2026-11-02T15:00:00Z", la, "2026-W45", "2026-10-26T07:00:00Z", "2026-11-02T08:00:00Z"},       // 07:00 PST; the week began in PDT
		{"2026-03-09T13:59:00Z", la, "", "", ""},                                                       // 06:59 PDT, the day after DST began
		{"2026-03-09T14:00:00Z", la, "2026-W11", "2026-03-02T08:00:00Z", "2026-03-09T07:00:00Z"},       // 07:00 PDT
		{"2026-03-12T20:00:00Z", la, "2026-W11", "2026-03-02T08:00:00Z", "2026-03-09T07:00:00Z"},       // Thursday: still this week's
		{"2026-12-06T18:00:00Z", nz, "2026-W50", "2026-11-29T11:00:00Z", "2026-12-06T11:00:00Z"},       // Monday 07:00 NZDT
		{"2026-12-06T17:59:00Z", nz, "", "", ""},                                                       // 06:59 NZDT
		{"2026-12-06T17:59:00Z", time.UTC, "2026-W49", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"}, // Sunday in UTC: last Monday's
	} {
		week, from, to, ok := summary.Week(at(c.now), c.loc)
		if c.week == "" {
			if ok {
				t.Errorf("%s in %s: due for %s, want not yet", c.now, c.loc, week)
			}
			continue
		}
		if !ok || week != c.week || !from.Equal(at(c.from)) || !to.Equal(at(c.to)) {
			t.Errorf("%s in %s: %q %v..%v %v, want %s %s..%s", c.now, c.loc, week, from.UTC(), to.UTC(), ok, c.week, c.from, c.to)
		}
	}
}

// TestSummaryOncePerWeek: due users get one summary through the outbox
// with the week's figures, however often the job runs; the next week
// gets another; a user who turned it off gets none; one with no workspace
// that can send gets none and is not marked done.
func TestSummaryOncePerWeek(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	ann, bob, cy := app.NewUser("Ann"), app.NewUser("Bob"), app.NewUser("Cy")
	ws := ann.Workspace("Loans")
	bws := bob.Workspace("Homes")
	cy.Workspace("Nothing set up")
	for _, w := range []struct {
		u  *apptest.User
		ws string
	}{{ann, ws.ID}, {bob, bws.ID}} {
		if _, err := app.Providers.Set(ctx, w.u.Actor, w.ws, mailer.Change{Kind: mailer.KindFile, FromName: w.u.Name, FromEmail: "me@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error { return sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args}) }); err != nil {
			t.Fatal(err)
		}
	}
	exec(`UPDATE users SET time_zone = 'America/Los_Angeles'`)
	exec(`UPDATE users SET weekly_summary = 0 WHERE id = ?`, bob.ID)
	c := ann.Contact(ws.ID, "Maria", "maria@example.com")
	exec(`INSERT INTO activities (id, workspace_id, contact_id, kind, occurred_at, summary) VALUES ('a1', ?1, ?2, 'note', '2026-10-28T18:00:00.000000Z', 'x'), ('a2', ?1, ?2, 'note', '2026-11-02T09:00:00.000000Z', 'this week')`,
		ws.ID, c.ID)

	s := summary.New(app.DB, nil)
	now := at("2026-11-02T14:00:00Z") // 06:00 PST
	s.SetClock(func() time.Time { return now })
	if n, err := s.Run(ctx); err != nil || n != 0 {
		t.Fatalf("before 07:00: %d %v", n, err)
	}
	now = at("2026-11-02T15:30:00Z")
	for range 3 {
		if _, err := s.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	type row struct{ user, dedupe, to, subject, html string }
	rows := func() []row {
		var out []row
		_ = app.DB.Read(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT user_id, dedupe_key, to_addr, subject, coalesce(b.html, '') FROM outbox LEFT JOIN outbox_bodies b ON b.outbox_id = outbox.id WHERE dedupe_key LIKE 'weekly:%' ORDER BY created_at, dedupe_key`, &sqlitex.ExecOptions{
				ResultFunc: func(st *sqlite.Stmt) error {
					out = append(out, row{st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnText(3), st.ColumnText(4)})
					return nil
				}})
		})
		return out
	}
	got := rows()
	if len(got) != 1 || got[0].user != ann.ID || got[0].dedupe != "weekly:"+ann.ID+":2026-W45" || got[0].to != ann.Email {
		t.Fatalf("summaries after three runs: %+v", got)
	}
	if got[0].subject != "Your week in pi-crm: Oct 26 to Nov 1" || !strings.Contains(got[0].html, "Good morning Ann") || !strings.Contains(got[0].html, "1 log entries") {
		t.Fatalf("summary %s\n%s", got[0].subject, got[0].html)
	}
	now = at("2026-11-09T15:30:00Z")
	if n, err := s.Run(ctx); err != nil || n != 1 {
		t.Fatalf("the next week: %d %v", n, err)
	}
	if got := rows(); len(got) != 2 || got[1].dedupe != "weekly:"+ann.ID+":2026-W46" {
		t.Fatalf("summaries %+v", got)
	}
}
