// Package calendar is a user's private calendar feed: the birthdays of
// their contacts, their open to-dos' due dates and their scheduled
// campaigns, as RFC 5545 iCalendar for the phone's calendar app to
// subscribe to. The feed's URL carries a secret, kept only as its
// SHA-256, that the user can rotate (the old URL stops at once) or stop.
package calendar

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	ics "github.com/arran4/golang-ical"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/todo"
)

// Horizon is how far ahead the feed looks; overdue to-dos from a week
// back stay in it.
const Horizon = 90 * 24 * time.Hour

// Kinds of item.
const (
	Birthday = "birthday"
	Todo     = "todo"
	Campaign = "campaign"
)

// Item is one entry of the calendar.
type Item struct {
	Kind    string
	UID     string
	Title   string
	Day     time.Time // an all-day item's date (birthdays, to-dos), as UTC midnight
	At      time.Time // a timed item's start (a scheduled campaign)
	Link    string    // the path in pi-crm where it is acted on
	WSName  string
	Related string // the contact's or campaign's id
}

// Feeds keeps the users' feed secrets and builds their calendars.
type Feeds struct {
	db  *store.DB
	now func() time.Time
}

// NewFeeds returns Feeds over db.
func NewFeeds(db *store.DB) *Feeds { return &Feeds{db: db, now: time.Now} }

// SetClock replaces the clock (tests).
func (f *Feeds) SetClock(now func() time.Time) { f.now = now }

// Rotate makes a new secret for the actor's feed and returns it and when it
// was made: the URL with the old one answers nothing from now on.
func (f *Feeds) Rotate(ctx context.Context, actor auth.Actor) (string, time.Time, error) {
	token, now := auth.NewToken(), f.now()
	err := f.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `INSERT INTO calendar_feeds (user_id, token_hash, created_at) VALUES (?, ?, ?)
ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at`,
			&sqlitex.ExecOptions{Args: []any{actor.UserID, auth.HashToken(token), store.FormatTime(now)}}); err != nil {
			return fmt.Errorf("save calendar secret: %w", err)
		}
		return audit.Record(conn, actor.Audit("calendar.rotate", "user", actor.UserID, nil))
	})
	return token, now, err
}

// Stop ends the actor's feed.
func (f *Feeds) Stop(ctx context.Context, actor auth.Actor) error {
	return f.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `DELETE FROM calendar_feeds WHERE user_id = ?`, &sqlitex.ExecOptions{Args: []any{actor.UserID}}); err != nil {
			return fmt.Errorf("stop calendar feed: %w", err)
		}
		return audit.Record(conn, actor.Audit("calendar.stop", "user", actor.UserID, nil))
	})
}

// Since returns when the actor's feed secret was made, zero without one.
func (f *Feeds) Since(ctx context.Context, actor auth.Actor) (time.Time, error) {
	var at time.Time
	err := f.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT created_at FROM calendar_feeds WHERE user_id = ?`, &sqlitex.ExecOptions{Args: []any{actor.UserID},
			ResultFunc: func(st *sqlite.Stmt) error { at, _ = store.ParseTime(st.ColumnText(0)); return nil }})
	})
	if err != nil {
		return at, fmt.Errorf("calendar feed: %w", err)
	}
	return at, nil
}

// Owner returns the user whose feed secret token is, or false.
func (f *Feeds) Owner(ctx context.Context, token string) (string, bool, error) {
	user := ""
	if token == "" || len(token) > 100 {
		return "", false, nil
	}
	err := f.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT user_id FROM calendar_feeds WHERE token_hash = ?`, &sqlitex.ExecOptions{Args: []any{auth.HashToken(token)},
			ResultFunc: func(st *sqlite.Stmt) error { user = st.ColumnText(0); return nil }})
	})
	if err != nil {
		return "", false, fmt.Errorf("calendar feed owner: %w", err)
	}
	return user, user != "", nil
}

// Items returns user userID's calendar from now to Horizon ahead (and
// to-dos overdue by up to a week), over the workspaces the user owns
// only, soonest first.
func (f *Feeds) Items(ctx context.Context, userID string) ([]Item, error) {
	var out []Item
	now := f.now()
	err := f.db.Read(ctx, func(conn *sqlite.Conn) error {
		type ws struct{ id, name string }
		var owned []ws
		if err := sqlitex.Execute(conn, `SELECT id, name FROM workspaces WHERE owner_id = ? ORDER BY created_at`, &sqlitex.ExecOptions{Args: []any{userID},
			ResultFunc: func(st *sqlite.Stmt) error { owned = append(owned, ws{st.ColumnText(0), st.ColumnText(1)}); return nil }}); err != nil {
			return fmt.Errorf("owned workspaces: %w", err)
		}
		for _, w := range owned {
			items, err := itemsIn(conn, w.id, now)
			if err != nil {
				return fmt.Errorf("calendar of %s: %w", w.id, err)
			}
			for i := range items {
				items[i].WSName = w.name
			}
			out = append(out, items...)
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].when().Before(out[j].when()) })
	return out, err
}

func (it Item) when() time.Time {
	if !it.At.IsZero() {
		return it.At
	}
	return it.Day
}

// itemsIn returns workspace wsID's calendar items around now (the caller
// has checked the workspace).
func itemsIn(conn *sqlite.Conn, wsID string, now time.Time) ([]Item, error) {
	var out []Item
	base := "/w/" + wsID
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	end := today.Add(Horizon)
	// Birthdays: this year's, or next year's when it has passed.
	err := sqlitex.Execute(conn, `SELECT id, trim(first_name || ' ' || last_name), birthday_month, birthday_day FROM contacts
WHERE workspace_id = ? AND birthday_month IS NOT NULL AND birthday_day IS NOT NULL`, &sqlitex.ExecOptions{Args: []any{wsID},
		ResultFunc: func(st *sqlite.Stmt) error {
			m, d := time.Month(st.ColumnInt(2)), st.ColumnInt(3)
			day := NextBirthday(today, m, d)
			if day.After(end) {
				return nil
			}
			name := st.ColumnText(1)
			if name == "" {
				name = "A contact"
			}
			out = append(out, Item{Kind: Birthday, UID: fmt.Sprintf("birthday-%s-%d@pi-crm", st.ColumnText(0), day.Year()), Title: name + "'s birthday",
				Day: day, Link: base + "/contacts/" + st.ColumnText(0), Related: st.ColumnText(0)})
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("birthdays: %w", err)
	}
	todos, err := todo.DueBetween(conn, []string{wsID}, today.AddDate(0, 0, -7).Format(todo.DateLayout), end.Format(todo.DateLayout), 500)
	if err != nil {
		return nil, err
	}
	for _, t := range todos {
		day, _ := time.Parse(todo.DateLayout, t.DueOn)
		title := t.Title
		if t.ContactName != "" {
			title += " (" + t.ContactName + ")"
		}
		link := base + "/todos"
		if t.ContactID != "" {
			link = base + "/contacts/" + t.ContactID
		}
		out = append(out, Item{Kind: Todo, UID: "todo-" + t.ID + "@pi-crm", Title: "To-do: " + title, Day: day, Link: link, Related: t.ContactID})
	}
	err = sqlitex.Execute(conn, `SELECT id, name, send_at FROM campaigns WHERE workspace_id = ? AND status = 'scheduled' AND send_at BETWEEN ? AND ?`,
		&sqlitex.ExecOptions{Args: []any{wsID, store.FormatTime(now.Add(-time.Hour)), store.FormatTime(end)}, ResultFunc: func(st *sqlite.Stmt) error {
			at, _ := store.ParseTime(st.ColumnText(2))
			out = append(out, Item{Kind: Campaign, UID: "campaign-" + st.ColumnText(0) + "@pi-crm", Title: "Campaign sends: " + st.ColumnText(1), At: at,
				Link: base + "/campaigns/" + st.ColumnText(0), Related: st.ColumnText(0)})
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("scheduled campaigns: %w", err)
	}
	return out, nil
}

// NextBirthday returns the first day on or after today (UTC midnight) that
// is the month and day of a birthday; 29 February falls on 28 February in
// other years.
func NextBirthday(today time.Time, m time.Month, d int) time.Time {
	for y := today.Year(); ; y++ {
		dd := d
		if m == time.February && d == 29 && !leap(y) {
			dd = 28
		}
		day := time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
		if !day.Before(today) {
			return day
		}
	}
}

func leap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// Write writes items as an iCalendar (RFC 5545) named name; base is the
// appliance's address, for each event's link.
func Write(w io.Writer, name, base string, items []Item, now time.Time) error {
	cal := ics.NewCalendarFor("pi-crm")
	cal.SetMethod(ics.MethodPublish)
	cal.SetName(name)
	cal.SetXWRCalName(name)
	cal.SetRefreshInterval("PT1H")
	cal.SetXPublishedTTL("PT1H")
	for _, it := range items {
		e := cal.AddEvent(it.UID)
		e.SetDtStampTime(now)
		e.SetSummary(it.Title)
		if it.WSName != "" {
			e.SetDescription(it.WSName)
		}
		if base != "" && it.Link != "" {
			e.SetURL(base + it.Link)
		}
		if it.At.IsZero() {
			e.SetAllDayStartAt(it.Day)
			e.SetAllDayEndAt(it.Day.AddDate(0, 0, 1))
		} else {
			e.SetStartAt(it.At)
			e.SetEndAt(it.At.Add(30 * time.Minute))
		}
	}
	if err := cal.SerializeTo(w); err != nil {
		return fmt.Errorf("write calendar: %w", err)
	}
	return nil
}
