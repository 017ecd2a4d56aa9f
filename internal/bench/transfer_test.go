package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/phone"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// TestBenchTransfer: a 100,000-row CSV with 20,000 rows that duplicate
// contacts already there, imported with `crmctl import` into a workspace
// holding 100,000 contacts; the same rows through a bare insert loop (the
// floor); and an export of the workspace.
func TestBenchTransfer(t *testing.T) {
	want := benchOnly(t)
	if !want("import_rows_per_s") && !want("import_vs_raw_ratio") && !want("import_peak_rss_mb") && !want("export_rows_per_s") {
		return
	}
	bin := os.Getenv("PICRM_BIN_DIR")
	dir := t.TempDir()
	vars := []string{"PICRM_DATA_DIR=" + dir, "PICRM_LOG_LEVEL=warn", "HOME=" + dir}
	// run runs crmctl and returns its output and peak RSS in MB.
	run := func(args ...string) (string, float64) {
		c := exec.Command(filepath.Join(bin, "crmctl"), args...)
		c.Env = vars
		out, peak, err := runPeak(c)
		if err != nil {
			t.Fatalf("crmctl %v: %v\n%s", args, err, out)
		}
		return out, peak
	}
	run("demo", "--bare", "--contacts", "100000", "--activities", "0")
	dbPath := filepath.Join(dir, "pi-crm.db")
	db, err := store.Open(dbPath, store.Options{PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	// 20,000 existing contacts' emails for the duplicate rows: every
	// fifth.
	var dupEmails []string
	seen := 0
	db.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT e.address FROM contact_emails e JOIN workspaces w ON w.id = e.workspace_id WHERE w.name = 'Loan Factory' AND e.is_primary ORDER BY e.contact_id`,
			&sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
				if seen++; seen%5 == 0 && len(dupEmails) < 20000 {
					dupEmails = append(dupEmails, st.ColumnText(0))
				}
				return nil
			}})
	})
	if len(dupEmails) != 20000 {
		t.Fatalf("%d duplicate emails", len(dupEmails))
	}
	const rows = 100000
	type row struct{ first, last, company, email, phone string }
	all := make([]row, 0, rows)
	for i := range rows {
		r := row{"Import", fmt.Sprintf("Person%d", i), "Aloha Homes", fmt.Sprintf("import%d@example.net", i), fmt.Sprintf("+1 415 %03d %04d", 200+i/10000, i%10000)}
		if i%5 == 0 {
			r.email = dupEmails[i/5]
		}
		all = append(all, r)
	}
	file := filepath.Join(dir, "contacts.csv")
	var b strings.Builder
	b.WriteString("First Name,Last Name,Company,E-mail Address,Mobile Phone\n")
	for _, r := range all {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s\n", r.first, r.last, r.company, r.email, r.phone)
	}
	os.WriteFile(file, []byte(b.String()), 0o600)

	// The floor: the same contacts, emails, phones, dedup look-ups and FTS
	// rows in one transaction through the same driver, into a copy.
	floorDB := filepath.Join(dir, "floor.db")
	conn, err := db.Take(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = sqlitex.ExecuteTransient(conn, "VACUUM INTO ?", &sqlitex.ExecOptions{Args: []any{floorDB}})
	db.Put(conn)
	if err != nil {
		t.Fatal(err)
	}
	var wsID string
	db.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT id FROM workspaces WHERE name = 'Loan Factory'`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { wsID = st.ColumnText(0); return nil }})
	})
	db.Close()
	fdb, err := store.Open(floorDB, store.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Each figure starts from a quiet disk: the demo's and the copy's
	// writes are flushed first, so their write-back does not run during
	// the timed loop (and the floor's not during the import).
	syscall.Sync()
	start := time.Now()
	made := 0
	err = fdb.Write(context.Background(), func(conn *sqlite.Conn) error {
		// The same page cache the import gives a batch.
		if err := sqlitex.ExecuteTransient(conn, "PRAGMA cache_size = -8192", nil); err != nil {
			return err
		}
		findE := conn.Prep(`SELECT contact_id FROM contact_emails WHERE workspace_id = ? AND address_norm = ?`)
		findP := conn.Prep(`SELECT contact_id FROM contact_phones WHERE workspace_id = ? AND e164 = ?`)
		insC := conn.Prep(`INSERT INTO contacts (id, workspace_id, first_name, last_name, company, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		insE := conn.Prep(`INSERT INTO contact_emails (id, contact_id, workspace_id, address, address_norm, label, is_primary) VALUES (?, ?, ?, ?, ?, '', 1)`)
		insP := conn.Prep(`INSERT INTO contact_phones (id, contact_id, workspace_id, e164, label, is_primary) VALUES (?, ?, ?, ?, 'Mobile', 1)`)
		insF := conn.Prep(`INSERT INTO contacts_fts (rowid, body) VALUES (?, ?)`)
		now := store.FormatTime(time.Now())
		for _, r := range all {
			_, norm, _ := contact.NormalizeEmail(r.email)
			e164, _ := phone.Normalize(r.phone, "US")
			dup := false
			for _, q := range []struct {
				st *sqlite.Stmt
				v  string
			}{{findE, norm}, {findP, e164}} {
				q.st.BindText(1, wsID)
				q.st.BindText(2, q.v)
				has, err := q.st.Step()
				q.st.Reset()
				if err != nil {
					return err
				}
				dup = dup || has
			}
			if dup {
				continue
			}
			id := store.NewID()
			for i, v := range []string{id, wsID, r.first, r.last, r.company, now, now} {
				insC.BindText(i+1, v)
			}
			if _, err := insC.Step(); err != nil {
				return err
			}
			insC.Reset()
			rowid := conn.LastInsertRowID()
			for i, v := range []string{store.NewID(), id, wsID, r.email, norm} {
				insE.BindText(i+1, v)
			}
			if _, err := insE.Step(); err != nil {
				return err
			}
			insE.Reset()
			for i, v := range []string{store.NewID(), id, wsID, e164} {
				insP.BindText(i+1, v)
			}
			if _, err := insP.Step(); err != nil {
				return err
			}
			insP.Reset()
			insF.BindInt64(1, rowid)
			insF.BindText(2, r.first+" "+r.last+" "+r.company+" "+r.email+" "+e164)
			if _, err := insF.Step(); err != nil {
				return err
			}
			insF.Reset()
			made++
		}
		return nil
	})
	fdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	floor := float64(rows) / time.Since(start).Seconds()
	t.Logf("bare loop: %d rows (%d new) in %v: %.0f rows/s", rows, made, time.Since(start).Round(time.Millisecond), floor)

	syscall.Sync()
	start = time.Now()
	out, rss := run("import", file, "--workspace", "Loan Factory", "--user", "andy@example.com", "--on-duplicate", "skip")
	took := time.Since(start)
	t.Logf("crmctl import: %v, peak RSS %.1f MB\n%s", took.Round(time.Millisecond), rss, out)
	if !strings.Contains(out, "80000 created, 0 merged, 20000 skipped") {
		t.Fatalf("import said %q", out)
	}
	speed := float64(rows) / took.Seconds()
	fmt.Printf("BENCH import_rows_per_s %.0f rows/s\n", speed)
	fmt.Printf("BENCH import_raw_floor_rows_per_s %.0f rows/s\n", floor)
	fmt.Printf("BENCH import_vs_raw_ratio %.2f ratio\n", speed/floor)
	fmt.Printf("BENCH import_peak_rss_mb %.1f MB\n", rss)

	start = time.Now()
	out, _ = run("export", "--workspace", "Loan Factory", "--user", "andy@example.com", "-o", filepath.Join(dir, "export.csv"))
	took = time.Since(start)
	var n int
	fmt.Sscanf(out[strings.Index(out, "exported ")+len("exported "):], "%d", &n)
	if n != 180000 {
		t.Fatalf("export said %q", out)
	}
	t.Logf("crmctl export: %d rows in %v", n, took.Round(time.Millisecond))
	fmt.Printf("BENCH export_rows_per_s %.0f rows/s\n", float64(n)/took.Seconds())
}
