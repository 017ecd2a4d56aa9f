package campaign

import (
	"context"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store/storetest"
)

// TestSweepStartsFromTheFew: the drip sweep, each minute in crm-sender,
// reads the replies and the do-not-contact contacts through their own
// indexes and finds their enrolments by key; it reads no table whole
// (SQLite's plan names a SCAN without an index for that), least of all the
// enrolments, which grow with every drip.
func TestSweepStartsFromTheFew(t *testing.T) {
	db := storetest.New(t)
	for name, q := range map[string]string{"replied": sweepReplied, "do-not-contact": sweepDoNotContact} {
		var plan []string
		err := db.Read(context.Background(), func(conn *sqlite.Conn) error {
			return sqlitex.ExecuteTransient(conn, "EXPLAIN QUERY PLAN "+q, &sqlitex.ExecOptions{Args: []any{"x", "y"},
				ResultFunc: func(st *sqlite.Stmt) error { plan = append(plan, st.ColumnText(3)); return nil }})
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		joined := strings.Join(plan, "; ")
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") && !strings.Contains(step, "INDEX provider_events_replied") && !strings.Contains(step, "INDEX contacts_do_not_contact") {
				t.Errorf("%s: the sweep reads a table whole: %s", name, joined)
			}
		}
		if !strings.Contains(joined, "SEARCH enrollments USING") {
			t.Errorf("%s: enrolments not found by key: %s", name, joined)
		}
	}
}
