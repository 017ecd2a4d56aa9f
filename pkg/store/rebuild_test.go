package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitemigration"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/migrations"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// TestRebuildingTheOutboxKeepsWhatRefersToIt migrates a database that
// holds a message, its body and an outcome to the script that rebuilds the
// outbox (0035, foreign keys off): the message keeps every column, its body
// is still there (no cascade from dropping the old table), the foreign keys
// all hold and name the new table, and the state check refuses what it
// refused before.
func TestRebuildingTheOutboxKeepsWhatRefersToIt(t *testing.T) {
	ctx := context.Background()
	scripts, err := migrations.Scripts()
	if err != nil {
		t.Fatal(err)
	}
	const rebuild = 35
	if !strings.HasPrefix(scripts[rebuild-1], migrations.ForeignKeysOff) {
		t.Fatalf("script %d does not start with %q", rebuild, migrations.ForeignKeysOff)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "pi-crm.db"), store.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(conn *sqlite.Conn, q string, args ...any) {
		t.Helper()
		if err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args}); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn, err := db.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlitemigration.Migrate(ctx, conn, sqlitemigration.Schema{Migrations: scripts[:rebuild-1], AppID: store.AppID}); err != nil {
		t.Fatal(err)
	}
	exec(conn, `INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES ('u1', 'ann@example.com', 'Ann', 'x', 't', 't')`)
	exec(conn, `INSERT INTO workspaces (id, owner_id, name, created_at, updated_at) VALUES ('w1', 'u1', 'Loan Factory', 't', 't')`)
	exec(conn, `INSERT INTO outbox (id, workspace_id, user_id, channel, dedupe_key, message_id, provider, to_addr, from_addr, subject, state,
	attempt_id, attempts, due_at, provider_ref, created_at, sent_at, updated_at, delivery, bulk, campaign_id)
VALUES ('m1', 'w1', 'u1', 'email', 'k1', 'mid1@example.com', 'smtp', 'bo@example.com', 'ann@example.com', 'Rates', 'sent',
	'a1', 1, 'd', 'ref1', 'c', 's', 'u', 'delivered', 1, 'camp1')`)
	exec(conn, `INSERT INTO outbox_bodies (outbox_id, html, text) VALUES ('m1', '<p>Hi</p>', 'Hi')`)
	db.Put(conn)

	if _, _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Read(ctx, func(conn *sqlite.Conn) error {
		var got, body, fkOn string
		var violations int
		if err := sqlitex.Execute(conn, `SELECT o.state || o.attempt_id || o.attempts || o.provider_ref || o.sent_at || o.delivery || o.bulk || o.campaign_id, b.html
FROM outbox o JOIN outbox_bodies b ON b.outbox_id = o.id WHERE o.id = 'm1'`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
			got, body = st.ColumnText(0), st.ColumnText(1)
			return nil
		}}); err != nil {
			return err
		}
		if got != "senta11ref1sdelivered1camp1" || body != "<p>Hi</p>" {
			t.Errorf("after the rebuild: message %q, body %q", got, body)
		}
		if err := sqlitex.Execute(conn, `PRAGMA foreign_key_check`, &sqlitex.ExecOptions{ResultFunc: func(*sqlite.Stmt) error { violations++; return nil }}); err != nil {
			return err
		}
		if violations != 0 {
			t.Errorf("%d foreign keys broken by the rebuild", violations)
		}
		if err := sqlitex.Execute(conn, `PRAGMA foreign_keys`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { fkOn = st.ColumnText(0); return nil }}); err != nil {
			return err
		}
		if fkOn != "1" {
			t.Errorf("foreign keys are %q after the migration, want back on", fkOn)
		}
		var refs string
		if err := sqlitex.Execute(conn, `SELECT group_concat(sql, ' ') FROM sqlite_schema WHERE sql LIKE '%outbox_new%'`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
			refs = st.ColumnText(0)
			return nil
		}}); err != nil {
			return err
		}
		if refs != "" {
			t.Errorf("the schema still names the rebuild's table: %s", refs)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Deleting the message still cascades to its body; a state outside the
	// list is still refused.
	if err := db.Write(ctx, func(conn *sqlite.Conn) error {
		err := sqlitex.Execute(conn, `UPDATE outbox SET state = 'lost' WHERE id = 'm1'`, nil)
		if err == nil || !strings.Contains(err.Error(), "CHECK") {
			t.Errorf("state 'lost' was taken (err %v)", err)
		}
		exec(conn, `DELETE FROM outbox WHERE id = 'm1'`)
		n := -1
		if err := sqlitex.Execute(conn, `SELECT count(*) FROM outbox_bodies`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }}); err != nil {
			return err
		}
		if n != 0 {
			t.Errorf("%d bodies left after their message was deleted", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestHotWritesBuildNoTemporaryTable reads SQLite's program for the
// writes crm-sender makes per message: none may open a temporary table
// (as a CHECK with an IN list of more than two constants did, on each
// row: measured in sender_cpu_s_per_1000).
func TestHotWritesBuildNoTemporaryTable(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(filepath.Join(t.TempDir(), "pi-crm.db"), store.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO outbox (id, workspace_id, user_id, channel, dedupe_key, message_id, provider, to_addr, from_addr, state, due_at, created_at, updated_at)
VALUES ('m', 'w', 'u', 'email', 'k', 'i', 'smtp', 't', 'f', 'queued', 'd', 'c', 'u')`,
		`UPDATE outbox SET state = 'claimed', attempt_id = 'a', lease_until = 'l', attempts = attempts + 1 WHERE id = 'm'`,
		`UPDATE outbox SET state = 'sent', provider_ref = 'r', sent_at = 's' WHERE id = 'm' AND attempt_id = 'a' AND state = 'claimed'`,
	} {
		if err := db.Read(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, "EXPLAIN "+q, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
				if op := st.ColumnText(1); op == "OpenEphemeral" || op == "OpenAutoindex" {
					t.Errorf("%s opens a temporary table (%s at %d)", q, op, st.ColumnInt(0))
				}
				return nil
			}})
		}); err != nil {
			t.Fatal(err)
		}
	}
}
