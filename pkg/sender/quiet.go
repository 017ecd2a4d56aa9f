package sender

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/numplan"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// quietHolds returns, for each bulk message of msgs that would reach its
// recipient in their workspace's quiet hours, the outcome that puts it
// back until they end (not counted as an attempt). The recipient's clock
// is their phone's (its area's time zone), else the workspace's.
func (s *Sender) quietHolds(ctx context.Context, msgs []outbox.Message, now time.Time) map[int]outbox.Outcome {
	var bulk []int
	for i, m := range msgs {
		if m.Bulk {
			bulk = append(bulk, i)
		}
	}
	if len(bulk) == 0 {
		return nil
	}
	holds := map[int]outbox.Outcome{}
	settings := map[string]workspace.Settings{}
	_ = s.db.Read(ctx, func(conn *sqlite.Conn) error {
		for _, i := range bulk {
			m := &msgs[i]
			set, ok := settings[m.WorkspaceID]
			if !ok {
				var err error
				if set, err = workspace.SettingsIn(conn, m.WorkspaceID); err != nil {
					return err
				}
				settings[m.WorkspaceID] = set
			}
			if set.QuietStart == "" {
				continue
			}
			loc, zone := recipientZone(conn, m, set.TimeZone)
			until, quiet := set.QuietUntil(now, loc)
			if !quiet {
				continue
			}
			o := m.Outcome()
			o.State, o.Due, o.Deferred = outbox.Queued, until, true
			o.Error = fmt.Sprintf("Quiet hours where the recipient is (%s): it goes at %s their time.", zone, until.In(loc).Format("15:04"))
			holds[i] = o
		}
		return nil
	})
	return holds
}

// recipientZone is the time zone of m's recipient: a text's number's, or
// the contact's primary phone's; else fallback (the workspace's).
func recipientZone(conn *sqlite.Conn, m *outbox.Message, fallback string) (*time.Location, string) {
	number := ""
	if m.Channel == outbox.SMS {
		number = m.To
	} else if m.ContactID != "" {
		_ = sqlitex.Execute(conn, `SELECT e164 FROM contact_phones WHERE contact_id = ? ORDER BY is_primary DESC, id LIMIT 1`, &sqlitex.ExecOptions{Args: []any{m.ContactID},
			ResultFunc: func(st *sqlite.Stmt) error { number = st.ColumnText(0); return nil }})
	}
	if number != "" {
		for _, z := range numplan.Zones(number) {
			if loc, err := time.LoadLocation(z); err == nil && z != numplan.Unknown {
				return loc, z
			}
		}
	}
	if loc, err := time.LoadLocation(fallback); err == nil {
		return loc, fallback
	}
	return time.UTC, "UTC"
}
