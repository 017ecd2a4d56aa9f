package activity

import (
	"fmt"
	"strings"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// Page is one page of a contact's log, newest first.
type Page struct {
	Entries []Entry
	Next    string // cursor for older entries; empty on the last page
}

// List returns up to limit entries of contact contactID in workspace wsID
// in tab, older than the cursor before (an entry ID). The caller has checked
// that the actor may read the contact's log.
func List(conn *sqlite.Conn, wsID, contactID string, tab Tab, before string, limit int) (Page, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	where := []string{"workspace_id = ?", "contact_id = ?"}
	args := []any{wsID, contactID}
	if len(tab.Kinds) > 0 {
		ph := make([]string, len(tab.Kinds))
		for i, k := range tab.Kinds {
			ph[i] = "?"
			args = append(args, string(k))
		}
		where = append(where, "kind IN ("+strings.Join(ph, ",")+")")
	}
	if before != "" {
		// Keyset on (occurred_at, id): the cursor row's own values.
		where = append(where, "(occurred_at, id) < (SELECT occurred_at, id FROM activities WHERE id = ? AND contact_id = ?)")
		args = append(args, before, contactID)
	}
	args = append(args, limit+1)
	var p Page
	err := sqlitex.Execute(conn, `SELECT id, kind, occurred_at, summary, body, coalesce(actor_user_id, '') FROM activities
WHERE `+strings.Join(where, " AND ")+` ORDER BY occurred_at DESC, id DESC LIMIT ?`, &sqlitex.ExecOptions{
		Args: args,
		ResultFunc: func(stmt *sqlite.Stmt) error {
			if len(p.Entries) == limit {
				p.Next = p.Entries[limit-1].ID
				return nil
			}
			at, err := store.ParseTime(stmt.ColumnText(2))
			if err != nil {
				return err
			}
			p.Entries = append(p.Entries, Entry{ID: stmt.ColumnText(0), WorkspaceID: wsID, ContactID: contactID, Kind: Kind(stmt.ColumnText(1)),
				OccurredAt: at, Summary: stmt.ColumnText(3), Body: []byte(stmt.ColumnText(4)), ActorUserID: stmt.ColumnText(5)})
			return nil
		},
	})
	if err != nil {
		return Page{}, fmt.Errorf("list log: %w", err)
	}
	return p, nil
}

// Latest returns the newest entry of kind for the contact, if any.
func Latest(conn *sqlite.Conn, contactID string, kind Kind) (Entry, bool, error) {
	var (
		e     Entry
		found bool
	)
	err := sqlitex.Execute(conn, `SELECT id, occurred_at, summary, body FROM activities WHERE contact_id = ? AND kind = ? ORDER BY occurred_at DESC, id DESC LIMIT 1`, &sqlitex.ExecOptions{
		Args: []any{contactID, string(kind)},
		ResultFunc: func(stmt *sqlite.Stmt) error {
			at, err := store.ParseTime(stmt.ColumnText(1))
			found = true
			e = Entry{ID: stmt.ColumnText(0), ContactID: contactID, Kind: kind, OccurredAt: at, Summary: stmt.ColumnText(2), Body: []byte(stmt.ColumnText(3))}
			return err
		},
	})
	if err != nil {
		return Entry{}, false, fmt.Errorf("latest %s: %w", kind, err)
	}
	return e, found, nil
}

// MoveAll moves every entry of contact from to contact to (a merge).
func MoveAll(conn *sqlite.Conn, from, to string) error {
	if err := sqlitex.Execute(conn, `UPDATE activities SET contact_id = ? WHERE contact_id = ?`, &sqlitex.ExecOptions{Args: []any{to, from}}); err != nil {
		return fmt.Errorf("move log entries: %w", err)
	}
	return nil
}

// Each calls fn with every entry of workspace wsID's log, oldest first
// within each contact, contacts in id order: the emergency export's stream.
func Each(conn *sqlite.Conn, wsID string, fn func(Entry) error) error {
	err := sqlitex.Execute(conn, `SELECT id, contact_id, kind, occurred_at, summary, body, coalesce(actor_user_id, '') FROM activities
WHERE workspace_id = ? ORDER BY contact_id, occurred_at, id`, &sqlitex.ExecOptions{
		Args: []any{wsID},
		ResultFunc: func(stmt *sqlite.Stmt) error {
			at, err := store.ParseTime(stmt.ColumnText(3))
			if err != nil {
				return err
			}
			return fn(Entry{ID: stmt.ColumnText(0), WorkspaceID: wsID, ContactID: stmt.ColumnText(1), Kind: Kind(stmt.ColumnText(2)),
				OccurredAt: at, Summary: stmt.ColumnText(4), Body: []byte(stmt.ColumnText(5)), ActorUserID: stmt.ColumnText(6)})
		},
	})
	if err != nil {
		return fmt.Errorf("export log: %w", err)
	}
	return nil
}
