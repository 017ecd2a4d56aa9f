package health_test

import (
	"context"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/health"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
)

// TestPruneKeepsTheRetention: audit rows past 400 days and log-in failure
// counts past a day go, in batches; younger ones stay.
func TestPruneKeepsTheRetention(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	now := time.Now().UTC()
	ages := map[string]time.Duration{"old": 401 * 24 * time.Hour, "young": 399 * 24 * time.Hour}
	err := db.Write(ctx, func(conn *sqlite.Conn) error {
		for name, age := range ages {
			for i := range 2500 { // more than one batch of the old
				if err := sqlitex.Execute(conn, `INSERT INTO audit_log (id, action, entity_type, entity_id, created_at) VALUES (?, ?, 'x', 'x', ?)`,
					&sqlitex.ExecOptions{Args: []any{store.NewID(), name, store.FormatTime(now.Add(-age).Add(time.Duration(i) * time.Second))}}); err != nil {
					return err
				}
			}
		}
		for key, age := range map[string]time.Duration{"ip:old": 25 * time.Hour, "ip:young": 23 * time.Hour} {
			if err := sqlitex.Execute(conn, `INSERT INTO login_failures (key, failures, last_failure_at) VALUES (?, 5, ?)`,
				&sqlitex.ExecOptions{Args: []any{key, store.FormatTime(now.Add(-age))}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := health.Prune(ctx, db, now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Audit != 2500 || p.LoginFailures != 1 {
		t.Fatalf("pruned %+v, want 2500 audit rows and 1 failure count", p)
	}
	left := map[string]int{}
	err = db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT action, count(*) FROM audit_log GROUP BY action UNION ALL SELECT key, 1 FROM login_failures`, &sqlitex.ExecOptions{
			ResultFunc: func(st *sqlite.Stmt) error { left[st.ColumnText(0)] = st.ColumnInt(1); return nil }})
	})
	if err != nil {
		t.Fatal(err)
	}
	if left["old"] != 0 || left["young"] != 2500 || left["ip:old"] != 0 || left["ip:young"] != 1 || left["audit.prune"] != 1 {
		t.Fatalf("left after pruning: %v", left)
	}
}
