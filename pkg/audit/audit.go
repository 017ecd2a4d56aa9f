package audit

import (
	"encoding/json"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// Entry is one audit row.
type Entry struct {
	ID         string
	UserID     string // empty when no user is known (a failed log-in for an unknown email)
	Action     string // "<entity>.<verb>", e.g. "workspace.rename"
	EntityType string
	EntityID   string
	Details    map[string]any // stored as JSON; never secrets
	IP         string
	At         time.Time
}

// Record writes e inside the caller's transaction on conn. The time is
// filled in, and the ID unless the caller chose one.
func Record(conn *sqlite.Conn, e Entry) error {
	if e.ID == "" {
		e.ID = store.NewID()
	}
	details := []byte("{}")
	if len(e.Details) > 0 {
		var err error
		details, err = json.Marshal(e.Details)
		if err != nil {
			return fmt.Errorf("audit %s: encode details: %w", e.Action, err)
		}
	}
	var userID any
	if e.UserID != "" {
		userID = e.UserID
	}
	err := sqlitex.Execute(conn, `INSERT INTO audit_log (id, user_id, action, entity_type, entity_id, details, ip, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, &sqlitex.ExecOptions{
		Args: []any{e.ID, userID, e.Action, e.EntityType, e.EntityID, string(details), e.IP, store.FormatTime(time.Now())},
	})
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// Retention is how long audit rows are kept: a year and a bit, so last
// year's tax season can still be looked up.
const Retention = 400 * 24 * time.Hour

// Prune deletes at most limit audit rows older than Retention before now,
// oldest first, and returns how many went: the caller repeats it in short
// transactions until it returns fewer than limit.
func Prune(conn *sqlite.Conn, now time.Time, limit int) (int, error) {
	err := sqlitex.Execute(conn, `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
		&sqlitex.ExecOptions{Args: []any{store.FormatTime(now.Add(-Retention)), limit}})
	if err != nil {
		return 0, fmt.Errorf("prune audit: %w", err)
	}
	return conn.Changes(), nil
}
