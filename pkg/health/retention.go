package health

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// pruneBatch is how many rows one retention transaction deletes: a first
// run over years of rows must not hold the write lock for long.
const pruneBatch = 2000

// Pruned is what a retention pass deleted.
type Pruned struct {
	Audit, LoginFailures int
}

// Prune applies the retention of the appliance's own records: audit rows
// older than audit.Retention (400 days) and log-in failure counts older
// than auth.FailureRetention (a day). crm-health runs it once a day.
func Prune(ctx context.Context, db *store.DB, now time.Time) (Pruned, error) {
	var p Pruned
	for {
		var n int
		if err := db.Write(ctx, func(conn *sqlite.Conn) (err error) {
			n, err = audit.Prune(conn, now, pruneBatch)
			return err
		}); err != nil {
			return p, fmt.Errorf("retention: %w", err)
		}
		p.Audit += n
		if n < pruneBatch {
			break
		}
	}
	err := db.Write(ctx, func(conn *sqlite.Conn) (err error) {
		if p.LoginFailures, err = auth.PruneFailures(conn, now); err != nil {
			return err
		}
		if p.Audit == 0 {
			return nil
		}
		// The trail says where its oldest rows went.
		return audit.Record(conn, audit.Entry{Action: "audit.prune", EntityType: "audit_log", EntityID: "retention",
			Details: map[string]any{"rows": p.Audit, "older_than_days": int(audit.Retention.Hours() / 24)}})
	})
	if err != nil {
		return p, fmt.Errorf("retention: %w", err)
	}
	return p, nil
}
