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

// Record writes e inside the caller's transaction on conn. ID and time are
// filled in.
func Record(conn *sqlite.Conn, e Entry) error {
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
		Args: []any{store.NewID(), userID, e.Action, e.EntityType, e.EntityID, string(details), e.IP, store.FormatTime(time.Now())},
	})
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}
