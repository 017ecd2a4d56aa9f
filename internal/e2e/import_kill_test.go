package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/testrig"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/transfer"
)

// TestImportKilledHalfWayLeavesWholeRowsAndResumes kills `crmctl import`
// with SIGKILL in the middle of a 30,000-row file: the database holds only
// whole contacts (each with its email, phone, tag and "Imported from" log
// entry), exactly as many as the job reports; `crmctl import --resume`
// then finishes without duplicating any.
func TestImportKilledHalfWayLeavesWholeRowsAndResumes(t *testing.T) {
	e := newEnv(t)
	e.vars = append(e.vars, "PICRM_IMPORT_LEASE=3s") // --resume waits out the dead runner's lease
	e.ctl("", "migrate")
	dbPath := filepath.Join(e.dir, "pi-crm.db")
	const rows = 30000
	var b strings.Builder
	b.WriteString("First Name,Last Name,Email,Mobile Phone,Tags\n")
	for i := range rows {
		fmt.Fprintf(&b, "Person,%d,p%d@example.com,+1 808 %03d %04d,Imported\n", i, i, 200+i/10000, i%10000)
	}
	file := filepath.Join(e.dir, "big.csv")
	os.WriteFile(file, []byte(b.String()), 0o600)
	e.ctl("", "demo", "--bare") // Andy and his workspaces, Loan Factory empty
	c := e.cmd("crmctl", "import", file, "--workspace", "Loan Factory", "--user", "andy@example.com")
	p := testrig.Start(t, c)
	db, err := store.Open(dbPath, store.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	job := func() (id string, status string, next, created int) {
		db.Read(context.Background(), func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT id, status, next_row, created FROM import_jobs ORDER BY created_at DESC LIMIT 1`, &sqlitex.ExecOptions{
				ResultFunc: func(st *sqlite.Stmt) error {
					id, status, next, created = st.ColumnText(0), st.ColumnText(1), st.ColumnInt(2), st.ColumnInt(3)
					return nil
				}})
		})
		return
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, _, next, _ := job(); next >= 3000 {
			break
		}
		if time.Now().After(deadline) || p.Cmd.ProcessState != nil {
			t.Fatalf("the import never got going:\n%s", p)
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.Cmd.Process.Kill() // SIGKILL: no cleanup, no last batch
	p.Cmd.Wait()
	id, status, next, created := job()
	if status != "running" || next >= rows || next%transfer.BatchRows != 0 {
		t.Fatalf("after the kill: status %s, next_row %d (want a whole number of batches short of %d)", status, next, rows)
	}
	counts := func() (contacts, whole int) {
		db.Read(context.Background(), func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT count(*),
				count(*) FILTER (WHERE EXISTS (SELECT 1 FROM contact_emails e WHERE e.contact_id = c.id)
					AND EXISTS (SELECT 1 FROM contact_phones p WHERE p.contact_id = c.id)
					AND EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id)
					AND EXISTS (SELECT 1 FROM activities a WHERE a.contact_id = c.id AND a.summary = 'Imported from big.csv')
					AND EXISTS (SELECT 1 FROM contacts_fts f WHERE f.rowid = c.rowid))
				FROM contacts c JOIN workspaces w ON w.id = c.workspace_id WHERE w.name = 'Loan Factory'`, &sqlitex.ExecOptions{
				ResultFunc: func(st *sqlite.Stmt) error { contacts, whole = st.ColumnInt(0), st.ColumnInt(1); return nil }})
		})
		return
	}
	n, whole := counts()
	if n != created || whole != n || n != next {
		t.Fatalf("after the kill: %d contacts, %d whole, the job reports %d created of %d rows read", n, whole, created, next)
	}
	t.Logf("killed at %d of %d rows: %d whole contacts, as the job reports", next, rows, n)
	out := e.ctl("", "import", "--resume", id)
	if !regexp.MustCompile(fmt.Sprintf(`: %d created, 0 merged, 0 skipped`, rows)).MatchString(out) { // the job's totals
		t.Fatalf("resume said %q", out)
	}
	n, whole = counts()
	_, status, next, created = job()
	if n != rows || whole != rows || created != rows || status != "done" || next != rows {
		t.Fatalf("after resuming: %d contacts (%d whole), job %s %d/%d created %d", n, whole, status, next, rows, created)
	}
	var dupEmails int
	db.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*) FROM (SELECT address_norm FROM contact_emails GROUP BY workspace_id, address_norm HAVING count(*) > 1)`,
			&sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { dupEmails = st.ColumnInt(0); return nil }})
	})
	if dupEmails != 0 {
		t.Fatalf("%d addresses imported twice", dupEmails)
	}
}
