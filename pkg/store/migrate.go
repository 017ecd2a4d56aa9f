package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitemigration"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/migrations"
)

// AppID marks a database file as pi-crm's (PRAGMA application_id), so no
// binary migrates some other application's file by mistake.
const AppID int32 = 0x70437231 // "pCr1"

// ErrSchemaMismatch is returned by CheckSchema when the database's schema is
// not the one this binary was built for.
var ErrSchemaMismatch = errors.New("schema version mismatch")

// SchemaVersion returns the database's schema version (PRAGMA user_version).
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	conn, err := db.Take(ctx)
	if err != nil {
		return 0, err
	}
	defer db.Put(conn)
	return schemaVersion(conn)
}

func schemaVersion(conn *sqlite.Conn) (int, error) {
	var v int
	err := sqlitex.ExecuteTransient(conn, "PRAGMA user_version", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error {
			v = stmt.ColumnInt(0)
			return nil
		},
	})
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// Migrate applies the embedded migrations that the database lacks, each in
// its own immediate transaction, and returns the versions before and after.
// Running it on an up-to-date database changes nothing. It refuses a database
// whose schema is newer than this build, which an older binary must not touch.
func (db *DB) Migrate(ctx context.Context) (from, to int, err error) {
	scripts, err := migrations.Scripts()
	if err != nil {
		return 0, 0, err
	}
	conn, err := db.Take(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer db.Put(conn)
	from, err = schemaVersion(conn)
	if err != nil {
		return 0, 0, err
	}
	if from > len(scripts) {
		return from, from, fmt.Errorf("%w: database schema is version %d, newer than this build's %d: install the newer pi-crm release", ErrSchemaMismatch, from, len(scripts))
	}
	opts := make([]*sqlitemigration.MigrationOptions, len(scripts))
	for i, s := range scripts {
		if strings.HasPrefix(s, migrations.ForeignKeysOff) {
			opts[i] = &sqlitemigration.MigrationOptions{DisableForeignKeys: true}
		}
	}
	if err := sqlitemigration.Migrate(ctx, conn, sqlitemigration.Schema{Migrations: scripts, MigrationOptions: opts, AppID: AppID}); err != nil {
		return from, from, fmt.Errorf("migrate: %w", err)
	}
	to, err = schemaVersion(conn)
	if err != nil {
		return from, to, err
	}
	return from, to, nil
}

// CheckSchema returns an error wrapping ErrSchemaMismatch, with a message
// that tells the operator what to do, unless the database's schema version
// is want. Daemons other than crm-web call it at start and refuse to run.
func (db *DB) CheckSchema(ctx context.Context, want int) error {
	got, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	switch {
	case got == want:
		return nil
	case got < want:
		return fmt.Errorf("%w: database %s has schema version %d but this binary was built for %d: run `crmctl migrate` (or start crm-web, which migrates) first", ErrSchemaMismatch, db.path, got, want)
	default:
		return fmt.Errorf("%w: database %s has schema version %d but this binary was built for %d: install the matching pi-crm release", ErrSchemaMismatch, db.path, got, want)
	}
}
