// Package storetest makes real, migrated SQLite databases for tests.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitemigration"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/migrations"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// New returns a migrated database in a fresh temporary folder, closed when
// the test ends.
func New(tb testing.TB) *store.DB {
	tb.Helper()
	return In(tb, tb.TempDir())
}

// In returns a migrated database in folder dir (a small tmpfs, say),
// closed when the test ends.
func In(tb testing.TB, dir string) *store.DB {
	tb.Helper()
	db, err := store.Open(filepath.Join(dir, "pi-crm.db"), store.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return db
}

// AtVersion returns a database in a fresh temporary folder migrated only to
// schema version v (the first v scripts), as an older release left it, for
// tests of the migrations after it. It is closed when the test ends.
func AtVersion(tb testing.TB, v int) *store.DB {
	tb.Helper()
	db, err := store.Open(filepath.Join(tb.TempDir(), "pi-crm.db"), store.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	scripts, err := migrations.Scripts()
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	conn, err := db.Take(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Put(conn)
	if err := sqlitemigration.Migrate(ctx, conn, sqlitemigration.Schema{Migrations: scripts[:v], AppID: store.AppID}); err != nil {
		tb.Fatalf("migrate to %d: %v", v, err)
	}
	return db
}

// Bytes is db's size in pages, WAL included: what a test of growth
// compares before and after.
func Bytes(tb testing.TB, db *store.DB) int64 {
	tb.Helper()
	var n int64
	err := db.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.ExecuteTransient(conn, `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`, &sqlitex.ExecOptions{
			ResultFunc: func(st *sqlite.Stmt) error { n = st.ColumnInt64(0); return nil }})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
