package audit

import (
	"context"
	"encoding/json"
	"fmt"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// Store reads the audit trail.
type Store struct{ db *store.DB }

// NewStore returns a Store over db.
func NewStore(db *store.DB) *Store { return &Store{db: db} }

// Page is one page of a user's audit trail, newest first.
type Page struct {
	Entries []Entry
	// Next is the cursor for the following (older) page; empty on the last.
	Next string
}

// List returns up to limit of userID's entries older than the cursor before
// (an entry ID; empty for the newest). IDs are UUIDv7, so ID order is time
// order and the cursor is stable while new rows arrive.
func (s *Store) List(ctx context.Context, userID, before string, limit int) (Page, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	var p Page
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		q := `SELECT id, action, entity_type, entity_id, details, ip, created_at FROM audit_log
WHERE user_id = ? AND (? = '' OR id < ?) ORDER BY id DESC LIMIT ?`
		return sqlitex.Execute(conn, q, &sqlitex.ExecOptions{
			Args: []any{userID, before, before, limit + 1},
			ResultFunc: func(stmt *sqlite.Stmt) error {
				if len(p.Entries) == limit {
					p.Next = p.Entries[limit-1].ID
					return nil
				}
				e := Entry{
					ID: stmt.ColumnText(0), UserID: userID, Action: stmt.ColumnText(1),
					EntityType: stmt.ColumnText(2), EntityID: stmt.ColumnText(3), IP: stmt.ColumnText(5),
				}
				if d := stmt.ColumnText(4); d != "" && d != "{}" {
					if err := json.Unmarshal([]byte(d), &e.Details); err != nil {
						return fmt.Errorf("audit %s: decode details: %w", e.ID, err)
					}
				}
				t, err := store.ParseTime(stmt.ColumnText(6))
				if err != nil {
					return err
				}
				e.At = t
				p.Entries = append(p.Entries, e)
				return nil
			},
		})
	})
	if err != nil {
		return Page{}, fmt.Errorf("list audit: %w", err)
	}
	return p, nil
}
