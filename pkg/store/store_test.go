package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/migrations"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
)

// The helper process: when PICRM_STORE_WRITER is set, this test binary is a
// writer that hammers the database and prints how many rows it committed.
func TestMain(m *testing.M) {
	if path := os.Getenv("PICRM_STORE_NOTER"); path != "" {
		gap, err := note(path, 15)
		fmt.Printf("MAXGAP %d\n", gap)
		if err != nil {
			fmt.Fprintln(os.Stderr, "noter:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if path := os.Getenv("PICRM_STORE_WRITER"); path != "" {
		n, err := hammer(path, os.Getenv("PICRM_STORE_WRITER_NAME"), 3*time.Second)
		fmt.Printf("COMMITTED %d\n", n)
		if err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// hammer writes rows from four goroutines for d, each in its own immediate
// transaction, and returns how many committed. Any error (SQLITE_BUSY
// included) is returned: none may escape to a caller.
func hammer(path, name string, d time.Duration) (int, error) {
	db, err := store.Open(path, store.Options{PoolSize: 4})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var (
		mu        sync.Mutex
		committed int
		firstErr  error
		wg        sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				err := db.Write(context.Background(), func(conn *sqlite.Conn) error {
					return sqlitex.Execute(conn, `INSERT INTO heartbeats (name, pid, version, started_at, beat_at) VALUES (?, ?, 'test', 'x', 'x')`,
						&sqlitex.ExecOptions{Args: []any{fmt.Sprintf("%s-%d-%d", name, g, i), os.Getpid()}})
				})
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					committed++
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return committed, firstErr
}

func TestTwoProcessesWriteConcurrently(t *testing.T) {
	db := storetest.New(t)
	path := db.Path()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		out string
		err error
	}
	results := make(chan result, 2)
	for _, name := range []string{"a", "b"} {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "PICRM_STORE_WRITER="+path, "PICRM_STORE_WRITER_NAME="+name)
		go func() {
			out, err := cmd.CombinedOutput()
			results <- result{string(out), err}
		}()
	}
	total := 0
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatalf("writer process failed: %v\n%s", r.err, r.out)
		}
		var n int
		for _, line := range strings.Split(r.out, "\n") {
			if s, ok := strings.CutPrefix(line, "COMMITTED "); ok {
				n, _ = strconv.Atoi(s)
			}
		}
		if n == 0 {
			t.Fatalf("writer committed nothing:\n%s", r.out)
		}
		total += n
	}
	var got int
	err = db.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*) FROM heartbeats`, &sqlitex.ExecOptions{
			ResultFunc: func(stmt *sqlite.Stmt) error { got = stmt.ColumnInt(0); return nil }})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != total {
		t.Fatalf("rows=%d, want %d committed by the writers", got, total)
	}
	t.Logf("two processes committed %d rows in 3 s", total)
}

func TestPragmas(t *testing.T) {
	db := storetest.New(t)
	conn, err := db.Take(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Put(conn)
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "synchronous": "2", "busy_timeout": "5000"} {
		var got string
		if err := sqlitex.ExecuteTransient(conn, "PRAGMA "+pragma, &sqlitex.ExecOptions{
			ResultFunc: func(stmt *sqlite.Stmt) error { got = stmt.ColumnText(0); return nil }}); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(filepath.Join(t.TempDir(), "pi-crm.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t.Run("Fresh", func(t *testing.T) {
		from, to, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if from != 0 || to != migrations.Version() {
			t.Fatalf("migrated %d->%d, want 0->%d", from, to, migrations.Version())
		}
		if err := db.CheckSchema(ctx, migrations.Version()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("AgainIsNoOp", func(t *testing.T) {
		from, to, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if from != to {
			t.Fatalf("second migrate moved %d->%d", from, to)
		}
	})
	t.Run("OlderBinaryRefuses", func(t *testing.T) {
		err := db.CheckSchema(ctx, migrations.Version()-1)
		if !errors.Is(err, store.ErrSchemaMismatch) || !strings.Contains(err.Error(), "install the matching") {
			t.Fatalf("err=%v, want a schema mismatch telling what to do", err)
		}
		err = db.CheckSchema(ctx, migrations.Version()+1)
		if !errors.Is(err, store.ErrSchemaMismatch) || !strings.Contains(err.Error(), "crmctl migrate") {
			t.Fatalf("err=%v, want a schema mismatch naming crmctl migrate", err)
		}
	})
	t.Run("NewerDatabaseRefused", func(t *testing.T) {
		if err := db.Write(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.ExecuteTransient(conn, fmt.Sprintf("PRAGMA user_version = %d", migrations.Version()+1), nil)
		}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.Migrate(ctx); !errors.Is(err, store.ErrSchemaMismatch) {
			t.Fatalf("err=%v, want ErrSchemaMismatch", err)
		}
	})
}

func TestWriteRollsBackOnError(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `INSERT INTO heartbeats (name, pid, version, started_at, beat_at) VALUES ('x', 1, 'v', 't', 't')`, nil); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err=%v, want boom", err)
	}
	var n int
	_ = db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*) FROM heartbeats`, &sqlitex.ExecOptions{
			ResultFunc: func(stmt *sqlite.Stmt) error { n = stmt.ColumnInt(0); return nil }})
	})
	if n != 0 {
		t.Fatalf("rows=%d after a failed write, want 0", n)
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	a := store.NewID()
	time.Sleep(2 * time.Millisecond)
	b := store.NewID()
	if len(a) != 36 || a[14] != '7' {
		t.Fatalf("id %q is not a UUIDv7", a)
	}
	if !(a < b) {
		t.Fatalf("ids %q, %q do not sort by creation", a, b)
	}
}

// TestOpenRefusesAMissingDatabaseTheMarkerVouchesFor: with the marker in
// place, Open creates no database where there is none (ErrDataMissing);
// without the marker, or with the database there, it opens as usual.
func TestOpenRefusesAMissingDatabaseTheMarkerVouchesFor(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "pi-crm.db")
	marker := filepath.Join(dir, "data-marker")
	if db, err := store.Open(path, store.Options{Marker: marker}); err != nil {
		t.Fatalf("a new appliance (no marker yet): %v", err)
	} else {
		db.Close()
	}
	if err := os.WriteFile(marker, []byte("has data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := store.Open(path, store.Options{Marker: marker}); err != nil {
		t.Fatalf("marker and database both there: %v", err)
	} else {
		db.Close()
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	_, err := store.Open(path, store.Options{Marker: marker})
	if !errors.Is(err, store.ErrDataMissing) {
		t.Fatalf("marker without database: err=%v, want ErrDataMissing", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Open created the missing database")
	}
}

// TestDeletesFindWhatNamesTheDeletedByIndex: every foreign key onto the
// rows deleted one by one and in bulk (contacts, log entries, messages)
// has an index led by its column(s), without a WHERE, so a delete finds
// the rows it must delete or clear instead of reading the whole table for
// each row it deletes.
func TestDeletesFindWhatNamesTheDeletedByIndex(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(filepath.Join(t.TempDir(), "pi-crm.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	deleted := map[string]bool{"contacts": true, "activities": true, "outbox": true}
	checked := 0
	if err := db.Read(ctx, func(conn *sqlite.Conn) error {
		var tables []string
		if err := sqlitex.Execute(conn, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%'`,
			&sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { tables = append(tables, st.ColumnText(0)); return nil }}); err != nil {
			return err
		}
		for _, tbl := range tables {
			keys := map[int][]string{} // foreign key id -> its columns, in order
			parent := map[int]string{}
			if err := sqlitex.Execute(conn, `SELECT id, "table", "from" FROM pragma_foreign_key_list(?) ORDER BY id, seq`, &sqlitex.ExecOptions{Args: []any{tbl},
				ResultFunc: func(st *sqlite.Stmt) error {
					id := st.ColumnInt(0)
					parent[id] = st.ColumnText(1)
					keys[id] = append(keys[id], st.ColumnText(2))
					return nil
				}}); err != nil {
				return err
			}
			// Each usable index's columns: one without a WHERE, or whose
			// WHERE is only that its first column is set (a key = ? implies it).
			var leads [][]string
			if err := sqlitex.Execute(conn, `SELECT l.name, l.partial, coalesce(s.sql, '') FROM pragma_index_list(?) l LEFT JOIN sqlite_schema s ON s.name = l.name`, &sqlitex.ExecOptions{Args: []any{tbl},
				ResultFunc: func(st *sqlite.Stmt) error {
					var cols []string
					name, partial, sql := st.ColumnText(0), st.ColumnBool(1), st.ColumnText(2)
					err := sqlitex.Execute(conn, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, &sqlitex.ExecOptions{Args: []any{name},
						ResultFunc: func(st *sqlite.Stmt) error { cols = append(cols, st.ColumnText(0)); return nil }})
					if !partial || len(cols) > 0 && strings.HasSuffix(sql, "WHERE "+cols[0]+" IS NOT NULL") {
						leads = append(leads, cols)
					}
					return err
				}}); err != nil {
				return err
			}
			for id, cols := range keys {
				if !deleted[parent[id]] {
					continue
				}
				checked++
				found := false
				for _, l := range leads {
					found = found || (len(l) >= len(cols) && slices.Equal(l[:len(cols)], cols))
				}
				if !found {
					t.Errorf("%s(%s) names %s with no index led by it: each delete of one reads all of %s", tbl, strings.Join(cols, ", "), parent[id], tbl)
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("only %d foreign keys onto contacts, log entries and messages found: the walk is broken", checked)
	}
}

// CacheKiB bounds every connection's page cache, readers and writer
// alike; without it a connection keeps SQLite's default.
func TestCacheKiBSetsEveryConnection(t *testing.T) {
	dir := t.TempDir()
	size := func(db *store.DB, write bool) int {
		n := 0
		do := db.Read
		if write {
			do = db.Write
		}
		if err := do(context.Background(), func(conn *sqlite.Conn) error {
			return sqlitex.ExecuteTransient(conn, "PRAGMA cache_size", &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }})
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	small, err := store.Open(filepath.Join(dir, "small.db"), store.Options{PoolSize: 2, CacheKiB: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if r, w := size(small, false), size(small, true); r != -256 || w != -256 {
		t.Errorf("cache_size %d (read), %d (write), want -256", r, w)
	}
	plain, err := store.Open(filepath.Join(dir, "plain.db"), store.Options{PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if r := size(plain, false); r != -2000 {
		t.Errorf("default cache_size %d, want SQLite's -2000", r)
	}
}
