package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// TestDeadImportIsTakenOverWithoutRestart: a `crmctl import` killed and
// left a zombie (its /proc entry stays until its parent reaps it, so a
// /proc check calls it alive, and under ProtectProc=invisible another
// user's live process would look dead) is taken over by the crm-web that is
// already running, once the job's heartbeat is a lease old; nothing is
// imported twice.
func TestDeadImportIsTakenOverWithoutRestart(t *testing.T) {
	e := newEnv(t)
	e.vars = append(e.vars, "PICRM_IMPORT_LEASE=2s")
	e.ctl("", "demo", "--bare")
	startWeb(t, e) // running before the import, as on the Pi
	const rows = 30000
	var b strings.Builder
	b.WriteString("First Name,Last Name,Email\n")
	for i := range rows {
		fmt.Fprintf(&b, "Person,%d,p%d@example.com\n", i, i)
	}
	file := filepath.Join(e.dir, "big.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(e.dir, "pi-crm.db"), store.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	job := func() (status string, next int) {
		_ = db.Read(context.Background(), func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT status, next_row FROM import_jobs ORDER BY created_at DESC LIMIT 1`, &sqlitex.ExecOptions{
				ResultFunc: func(st *sqlite.Stmt) error { status, next = st.ColumnText(0), st.ColumnInt(1); return nil }})
		})
		return
	}
	c := e.cmd("crmctl", "import", file, "--workspace", "Loan Factory", "--user", "andy@example.com")
	var out strings.Builder
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Wait() // reaped only at the end: a zombie until then
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, next := job(); next >= 3000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import never got going:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ { // it becomes a zombie: still in /proc
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.Process.Pid))
		if err == nil && strings.Contains(string(st), ") Z ") {
			break
		}
		if i > 200 {
			t.Fatalf("the killed import is not a zombie: %q %v", st, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	status, killedAt := job()
	if status != "running" {
		t.Fatalf("after the kill the job is %s", status)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		status, next := job()
		if status == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dead import was not taken over: %s at row %d (killed at %d)", status, next, killedAt)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var contacts, dups int
	_ = db.Read(context.Background(), func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `SELECT count(*) FROM contacts c JOIN workspaces w ON w.id = c.workspace_id WHERE w.name = 'Loan Factory'`,
			&sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { contacts = st.ColumnInt(0); return nil }}); err != nil {
			return err
		}
		return sqlitex.Execute(conn, `SELECT count(*) FROM (SELECT address_norm FROM contact_emails GROUP BY workspace_id, address_norm HAVING count(*) > 1)`,
			&sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { dups = st.ColumnInt(0); return nil }})
	})
	if contacts != rows || dups != 0 {
		t.Fatalf("after the take-over: %d contacts (want %d), %d addresses twice", contacts, rows, dups)
	}
	t.Logf("killed at row %d and left a zombie; the running crm-web finished the job", killedAt)
}
