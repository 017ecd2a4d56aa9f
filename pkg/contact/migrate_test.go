package contact_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/migrations"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
)

// TestMigrateToClusteredEmails: migration 0006 rebuilds contact_emails and
// contact_phones without a rowid (and 0007 tunes the full-text index). Contacts made at schema 5 read back the
// same after it (addresses, labels, primaries and their order), and ids,
// promotion, spouses and deletion still work.
func TestMigrateToClusteredEmails(t *testing.T) {
	ctx := context.Background()
	db := storetest.AtVersion(t, 5)
	if v, _ := db.SchemaVersion(ctx); v != 5 {
		t.Fatalf("schema %d, want 5", v)
	}
	// Today's code writes the contacts, and it bumps key_versions (0009),
	// reads the contact details (0010) and writes the real-estate setting
	// (0016) and the quiet hours (0024): a stand-in table and columns serve it until just before the
	// migration.
	if err := db.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.ExecScript(conn, `CREATE TABLE key_versions (workspace_id TEXT PRIMARY KEY, version INTEGER NOT NULL);`+standIn("ADD COLUMN %s TEXT NOT NULL DEFAULT ''"))
	}); err != nil {
		t.Fatal(err)
	}
	f := setupOn(t, db)
	in := contact.Fields{FirstName: s("Kai"), LastName: s("Akana"),
		Emails: &[]contact.EmailInput{{Address: "kai@work.example", Label: "Work"}, {Address: "kai@home.example", Label: "Home", Primary: true}, {Address: "k@third.example"}},
		Phones: &[]contact.PhoneInput{{Number: "+1 808 555 0100", Label: "Mobile"}, {Number: "+1 808 555 0101", Label: "Office"}}}
	kai, err := f.contacts.Create(ctx, f.andy, f.ws, in, false)
	if err != nil {
		t.Fatal(err)
	}
	lani := f.create(t, "Lani", "lani@example.com", "+1 808 555 0199")
	spouse := kai.ID
	if _, err := f.contacts.Update(ctx, f.andy, f.ws, lani.ID, contact.Fields{SpouseID: &spouse}, false); err != nil {
		t.Fatal(err)
	}
	before, err := f.contacts.Get(ctx, f.andy, f.ws, kai.ID)
	if err != nil {
		t.Fatal(err)
	}

	if err := db.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.ExecScript(conn, `DROP TABLE key_versions;`+standIn("DROP COLUMN %s"))
	}); err != nil {
		t.Fatal(err)
	}
	from, to, err := db.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if from != 5 || to != migrations.Version() {
		t.Fatalf("migrated %d->%d", from, to)
	}
	after, err := f.contacts.Get(ctx, f.andy, f.ws, kai.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before.Emails, after.Emails) || !reflect.DeepEqual(before.Phones, after.Phones) {
		t.Fatalf("after migrating:\n emails %+v\n phones %+v\nwant\n emails %+v\n phones %+v", after.Emails, after.Phones, before.Emails, before.Phones)
	}
	if after.Emails[0].Address != "kai@home.example" || after.Emails[1].Address != "kai@work.example" || after.Emails[2].Address != "k@third.example" {
		t.Fatalf("emails %+v: want the primary, then the order they were added in", after.Emails)
	}
	// 0007: the full-text index merges 8 segments at a time.
	var automerge int
	db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT v FROM contacts_fts_config WHERE k = 'automerge'`, &sqlitex.ExecOptions{
			ResultFunc: func(st *sqlite.Stmt) error { automerge = st.ColumnInt(0); return nil }})
	})
	if automerge != 8 {
		t.Fatalf("FTS automerge %d, want 8", automerge)
	}
	if got, _ := f.contacts.Get(ctx, f.andy, f.ws, lani.ID); got.Spouse == nil || got.Spouse.ID != kai.ID {
		t.Fatalf("spouse %+v lost", got.Spouse)
	}

	// Promotion finds an email by its id, through its contact.
	if err := f.contacts.Promote(ctx, f.andy, f.ws, kai.ID, after.Emails[2].ID); err != nil {
		t.Fatal(err)
	}
	got, _ := f.contacts.Get(ctx, f.andy, f.ws, kai.ID)
	if !got.Emails[0].Primary || got.Emails[0].Address != "k@third.example" {
		t.Fatalf("after promoting: %+v", got.Emails)
	}
	// Duplicates are still found through the rebuilt indexes.
	dups, err := f.contacts.Duplicates(ctx, f.andy, f.ws, "", []string{"KAI@work.example"}, nil)
	if err != nil || len(dups) != 1 || dups[0] != kai.ID {
		t.Fatalf("duplicates %v, %v", dups, err)
	}

	// Deleting Kai removes his emails and phones and clears Lani's spouse.
	if err := f.contacts.Delete(ctx, f.andy, f.ws, kai.ID); err != nil {
		t.Fatal(err)
	}
	var left int
	db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT (SELECT count(*) FROM contact_emails WHERE contact_id = ?1) + (SELECT count(*) FROM contact_phones WHERE contact_id = ?1)`,
			&sqlitex.ExecOptions{Args: []any{kai.ID}, ResultFunc: func(st *sqlite.Stmt) error { left = st.ColumnInt(0); return nil }})
	})
	if left != 0 {
		t.Fatalf("%d emails and phones left after the delete", left)
	}
	if got, _ := f.contacts.Get(ctx, f.andy, f.ws, lani.ID); got.Spouse != nil {
		t.Fatalf("spouse %+v left after the delete", got.Spouse)
	}
	var fk int
	db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*) FROM pragma_foreign_key_check`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { fk = st.ColumnInt(0); return nil }})
	})
	if fk != 0 {
		t.Fatalf("%d foreign key violations", fk)
	}
}

// standIn writes an ALTER TABLE contacts statement for each column
// migration 0010 adds.
func standIn(format string) string {
	var b strings.Builder
	for _, c := range []string{"middle_name", "nickname", "job_title", "website", "address"} {
		fmt.Fprintf(&b, "ALTER TABLE contacts "+format+";\n", c)
	}
	for _, c := range []string{"real_estate", "quiet_start", "quiet_end"} {
		fmt.Fprintf(&b, "ALTER TABLE workspace_settings "+format+";\n", c)
	}
	return b.String()
}
