// Package todo keeps the workspaces' to-dos: a title, an optional due date
// (a day in the workspace's time zone) and an optional contact, made by
// hand, from an insight or by a trigger; done, snoozed or deleted. The
// dashboard lists the open ones, overdue first; a contact's page pins its
// own.
package todo

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Sources of a to-do.
const (
	ByHand    = "hand"
	ByInsight = "insight"
	ByTrigger = "trigger"
)

// DateLayout is how a due date is written (and typed in a date input).
const DateLayout = "2006-01-02"

// MaxTitle is the longest title, in characters.
const MaxTitle = 300

// Todo is one to-do.
type Todo struct {
	ID          string
	WorkspaceID string
	UserID      string
	ContactID   string // "" when about no one
	ContactName string
	Title       string
	DueOn       string // YYYY-MM-DD, "" for none
	Source      string
	SourceRef   string
	Snoozes     int
	Done        bool
	CreatedAt   time.Time
}

// Overdue reports whether the to-do is open and was due before today (a
// YYYY-MM-DD in the workspace's time zone).
func (t Todo) Overdue(today string) bool { return !t.Done && t.DueOn != "" && t.DueOn < today }

// DueToday reports whether the to-do is open and due today.
func (t Todo) DueToday(today string) bool { return !t.Done && t.DueOn == today }

// Change is what a form sets on a to-do.
type Change struct {
	Title     string
	DueOn     string
	ContactID string
	// Source and SourceRef say where a new to-do came from; a to-do with a
	// SourceRef is made once (pressing an insight's button twice makes
	// one). Empty Source is ByHand.
	Source, SourceRef string
}

// Store keeps the to-dos.
type Store struct {
	db  *store.DB
	now func() time.Time
}

// NewStore returns a Store over db.
func NewStore(db *store.DB) *Store { return &Store{db: db, now: time.Now} }

// SetClock replaces the clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

var errNoTodo = errs.NotFoundf("No such to-do.")

func (c *Change) validate() errs.Fields {
	f := errs.Fields{}
	c.Title = strings.Join(strings.Fields(c.Title), " ")
	switch {
	case c.Title == "":
		f["title"] = "Say what there is to do."
	case utf8.RuneCountInString(c.Title) > MaxTitle:
		f["title"] = fmt.Sprintf("Keep it under %d characters.", MaxTitle)
	}
	c.DueOn = strings.TrimSpace(c.DueOn)
	if c.DueOn != "" {
		if _, err := time.Parse(DateLayout, c.DueOn); err != nil {
			f["due_on"] = "Give the date as YYYY-MM-DD, or leave it empty."
		}
	}
	if c.Source == "" {
		c.Source = ByHand
	}
	if c.Source != ByHand && c.Source != ByInsight && c.Source != ByTrigger {
		f["source"] = "Unknown source."
	}
	return f
}

// checkContact makes sure contactID is a contact of workspace wsID.
func checkContact(conn *sqlite.Conn, wsID, contactID string) error {
	if contactID == "" {
		return nil
	}
	found, err := store.Exists(conn, `SELECT 1 FROM contacts WHERE id = ? AND workspace_id = ?`, contactID, wsID)
	if err != nil {
		return fmt.Errorf("to-do contact: %w", err)
	}
	if !found {
		return errs.Fields{"contact_id": "No such contact in this workspace."}.Err()
	}
	return nil
}

// Create adds a to-do to workspace wsID. A to-do with a SourceRef already
// made is returned as it is.
func (s *Store) Create(ctx context.Context, actor auth.Actor, wsID string, ch Change) (Todo, error) {
	var t Todo
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		t, err = CreateIn(conn, actor, wsID, ch, s.now())
		return err
	})
	return t, err
}

// CreateIn adds a to-do inside the caller's transaction (which has
// checked the workspace): an insight's action makes its to-dos this way.
func CreateIn(conn *sqlite.Conn, actor auth.Actor, wsID string, ch Change, now time.Time) (Todo, error) {
	if f := ch.validate(); len(f) > 0 {
		return Todo{}, f.Err()
	}
	if err := checkContact(conn, wsID, ch.ContactID); err != nil {
		return Todo{}, err
	}
	id, ts := store.NewID(), store.FormatTime(now)
	err := sqlitex.Execute(conn, `INSERT INTO todos (id, workspace_id, user_id, contact_id, title, due_on, source, source_ref, created_at, updated_at)
VALUES (?, ?, ?, nullif(?, ''), ?, ?, ?, ?, ?, ?) ON CONFLICT (workspace_id, source, source_ref) WHERE source_ref <> '' DO NOTHING`,
		&sqlitex.ExecOptions{Args: []any{id, wsID, actor.UserID, ch.ContactID, ch.Title, ch.DueOn, ch.Source, ch.SourceRef, ts, ts}})
	if err != nil {
		return Todo{}, fmt.Errorf("create to-do: %w", err)
	}
	if conn.Changes() == 0 {
		out, err := where(conn, `WHERE t.workspace_id = ? AND t.source = ? AND t.source_ref = ?`, wsID, ch.Source, ch.SourceRef)
		if err != nil || len(out) == 0 {
			return Todo{}, fmt.Errorf("to-do from %s: %w", ch.SourceRef, err)
		}
		return out[0], nil
	}
	if err := audit.Record(conn, actor.Audit("todo.create", "todo", id, map[string]any{"workspace_id": wsID, "contact_id": ch.ContactID, "source": ch.Source})); err != nil {
		return Todo{}, err
	}
	return getIn(conn, wsID, id)
}

const columns = `t.id, t.workspace_id, t.user_id, coalesce(t.contact_id, ''), coalesce(trim(c.first_name || ' ' || c.last_name), ''),
	t.title, t.due_on, t.source, t.source_ref, t.snoozes, t.done_at <> '', t.created_at`

func where(conn *sqlite.Conn, clause string, args ...any) ([]Todo, error) {
	var out []Todo
	err := sqlitex.Execute(conn, `SELECT `+columns+` FROM todos t LEFT JOIN contacts c ON c.id = t.contact_id `+clause,
		&sqlitex.ExecOptions{Args: args, ResultFunc: func(st *sqlite.Stmt) error {
			at, _ := store.ParseTime(st.ColumnText(11))
			out = append(out, Todo{ID: st.ColumnText(0), WorkspaceID: st.ColumnText(1), UserID: st.ColumnText(2), ContactID: st.ColumnText(3), ContactName: st.ColumnText(4),
				Title: st.ColumnText(5), DueOn: st.ColumnText(6), Source: st.ColumnText(7), SourceRef: st.ColumnText(8), Snoozes: st.ColumnInt(9), Done: st.ColumnBool(10), CreatedAt: at})
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("read to-dos: %w", err)
	}
	return out, nil
}

func getIn(conn *sqlite.Conn, wsID, id string) (Todo, error) {
	out, err := where(conn, `WHERE t.id = ? AND t.workspace_id = ?`, id, wsID)
	if err != nil {
		return Todo{}, err
	}
	if len(out) == 0 {
		return Todo{}, errNoTodo
	}
	return out[0], nil
}

// Get returns to-do id of workspace wsID.
func (s *Store) Get(ctx context.Context, actor auth.Actor, wsID, id string) (Todo, error) {
	var t Todo
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		t, err = getIn(conn, wsID, id)
		return err
	})
	return t, err
}

// Update changes a to-do's title, due date and contact.
func (s *Store) Update(ctx context.Context, actor auth.Actor, wsID, id string, ch Change) (Todo, error) {
	var t Todo
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		old, err := getIn(conn, wsID, id)
		if err != nil {
			return err
		}
		ch.Source = old.Source
		if f := ch.validate(); len(f) > 0 {
			return f.Err()
		}
		if err := checkContact(conn, wsID, ch.ContactID); err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `UPDATE todos SET title = ?, due_on = ?, contact_id = nullif(?, ''), updated_at = ? WHERE id = ? AND workspace_id = ?`,
			&sqlitex.ExecOptions{Args: []any{ch.Title, ch.DueOn, ch.ContactID, store.FormatTime(s.now()), id, wsID}}); err != nil {
			return fmt.Errorf("update to-do: %w", err)
		}
		if err := audit.Record(conn, actor.Audit("todo.update", "todo", id, map[string]any{"workspace_id": wsID, "title": ch.Title, "due_on": ch.DueOn})); err != nil {
			return err
		}
		t, err = getIn(conn, wsID, id)
		return err
	})
	return t, err
}

// SetDone marks a to-do done, or open again.
func (s *Store) SetDone(ctx context.Context, actor auth.Actor, wsID, id string, done bool) error {
	at := ""
	if done {
		at = store.FormatTime(s.now())
	}
	return s.change(ctx, actor, wsID, id, "todo.done", map[string]any{"done": done},
		`UPDATE todos SET done_at = ?, updated_at = ? WHERE id = ? AND workspace_id = ?`, at, store.FormatTime(s.now()), id, wsID)
}

// Snooze moves an open to-do's due date days after the later of today
// (in the workspace's time zone) and its due date.
func (s *Store) Snooze(ctx context.Context, actor auth.Actor, wsID, id string, days int) (string, error) {
	due := ""
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		t, err := getIn(conn, wsID, id)
		if err != nil {
			return err
		}
		// Checked after the to-do is found: another user's answers 404.
		if days < 1 || days > 365 {
			return errs.Fields{"days": "Snooze for 1 to 365 days."}.Err()
		}
		today, err := Today(conn, wsID, s.now())
		if err != nil {
			return err
		}
		from := today
		if t.DueOn > from {
			from = t.DueOn
		}
		d, _ := time.Parse(DateLayout, from)
		due = d.AddDate(0, 0, days).Format(DateLayout)
		if err := sqlitex.Execute(conn, `UPDATE todos SET due_on = ?, snoozes = snoozes + 1, updated_at = ? WHERE id = ? AND workspace_id = ?`,
			&sqlitex.ExecOptions{Args: []any{due, store.FormatTime(s.now()), id, wsID}}); err != nil {
			return fmt.Errorf("snooze to-do: %w", err)
		}
		return audit.Record(conn, actor.Audit("todo.snooze", "todo", id, map[string]any{"workspace_id": wsID, "due_on": due}))
	})
	return due, err
}

// Delete removes a to-do.
func (s *Store) Delete(ctx context.Context, actor auth.Actor, wsID, id string) error {
	return s.change(ctx, actor, wsID, id, "todo.delete", nil, `DELETE FROM todos WHERE id = ? AND workspace_id = ?`, id, wsID)
}

func (s *Store) change(ctx context.Context, actor auth.Actor, wsID, id, action string, details map[string]any, q string, args ...any) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args}); err != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
		if conn.Changes() == 0 {
			return errNoTodo
		}
		if details == nil {
			details = map[string]any{}
		}
		details["workspace_id"] = wsID
		return audit.Record(conn, actor.Audit(action, "todo", id, details))
	})
}

// Today is the date in workspace wsID's time zone at now.
func Today(conn *sqlite.Conn, wsID string, now time.Time) (string, error) {
	tz, err := workspace.TimeZoneIn(conn, wsID)
	if err != nil {
		return "", err
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC
	}
	return now.In(loc).Format(DateLayout), nil
}

// order lists dated to-dos first, soonest first, then undated ones.
const order = ` ORDER BY t.due_on = '', t.due_on, t.created_at`

// OpenIn returns the open to-dos of the workspaces wsIDs (the caller has
// checked them), at most n: overdue and soonest first.
func OpenIn(conn *sqlite.Conn, wsIDs []string, n int) ([]Todo, error) {
	if len(wsIDs) == 0 {
		return nil, nil
	}
	return where(conn, `WHERE t.workspace_id IN (SELECT value FROM json_each(?)) AND t.done_at = ''`+order+` LIMIT ?`, store.JSONList(wsIDs), n)
}

// DueBetween returns the open to-dos of the workspaces wsIDs due from
// from to to (inclusive, YYYY-MM-DD), soonest first: the calendar's.
func DueBetween(conn *sqlite.Conn, wsIDs []string, from, to string, n int) ([]Todo, error) {
	if len(wsIDs) == 0 {
		return nil, nil
	}
	return where(conn, `WHERE t.workspace_id IN (SELECT value FROM json_each(?)) AND t.done_at = '' AND t.due_on BETWEEN ? AND ?`+order+` LIMIT ?`,
		store.JSONList(wsIDs), from, to, n)
}

// CountOpen counts the open to-dos of the workspaces wsIDs and how many of
// them are overdue at today.
func CountOpen(conn *sqlite.Conn, wsIDs []string, today string) (open, overdue int, err error) {
	err = sqlitex.Execute(conn, `SELECT count(*), coalesce(sum(due_on <> '' AND due_on < ?), 0) FROM todos WHERE workspace_id IN (SELECT value FROM json_each(?)) AND done_at = ''`,
		&sqlitex.ExecOptions{Args: []any{today, store.JSONList(wsIDs)}, ResultFunc: func(st *sqlite.Stmt) error {
			open, overdue = st.ColumnInt(0), st.ColumnInt(1)
			return nil
		}})
	if err != nil {
		return 0, 0, fmt.Errorf("count to-dos: %w", err)
	}
	return open, overdue, nil
}

// ForContact returns contact contactID's open to-dos in workspace wsID:
// the contact page pins them.
func (s *Store) ForContact(ctx context.Context, actor auth.Actor, wsID, contactID string) ([]Todo, error) {
	var out []Todo
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		out, err = where(conn, `WHERE t.workspace_id = ? AND t.contact_id = ? AND t.done_at = ''`+order+` LIMIT 20`, wsID, contactID)
		return err
	})
	return out, err
}

// List returns workspace wsID's to-dos: the open ones, or the done ones
// (newest first), at most n.
func (s *Store) List(ctx context.Context, actor auth.Actor, wsID string, done bool, n int) ([]Todo, error) {
	var out []Todo
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		if done {
			out, err = where(conn, `WHERE t.workspace_id = ? AND t.done_at <> '' ORDER BY t.done_at DESC LIMIT ?`, wsID, n)
		} else {
			out, err = where(conn, `WHERE t.workspace_id = ? AND t.done_at = ''`+order+` LIMIT ?`, wsID, n)
		}
		return err
	})
	return out, err
}
