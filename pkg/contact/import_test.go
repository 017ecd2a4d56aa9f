package contact_test

import (
	"context"
	"errors"
	"testing"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/list"
)

func importRow(n int, email, phone string) contact.ImportRow {
	f := contact.Fields{FirstName: s("Row"), LastName: s("Number")}
	if email != "" {
		f.Emails = &[]contact.EmailInput{{Address: email}}
	}
	if phone != "" {
		f.Phones = &[]contact.PhoneInput{{Number: phone}}
	}
	return contact.ImportRow{Row: n, Fields: f}
}

// TestImportDuplicatesAcrossBatches: the importer's in-memory keys find
// duplicates within a batch, from earlier batches, and from contacts
// another connection adds between batches; a batch that rolls back leaves
// nothing behind that would skip its rows next time.
func TestImportDuplicatesAcrossBatches(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.create(t, "Existing", "old@example.com", "+1 808 555 0111")
	in, err := f.contacts.BeginImport(ctx, f.andy, f.ws, contact.ImportOptions{Source: "people.csv", OnDuplicate: contact.DupSkip})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	batch := func(rows []contact.ImportRow, prepare bool, commit func(*sqlite.Conn, contact.ImportResult) error) contact.ImportResult {
		t.Helper()
		if prepare {
			in.PrepareRows(rows, "US")
		}
		res, err := in.Batch(ctx, rows, commit)
		if err != nil && commit == nil {
			t.Fatal(err)
		}
		return res
	}
	res := batch([]contact.ImportRow{
		importRow(1, "OLD@example.com", ""),               // an existing contact's email
		importRow(2, "", "808-555-0111"),                  // an existing contact's phone
		importRow(3, "new@example.com", ""),               // new
		importRow(4, "New@Example.com", ""),               // row 3 again
		importRow(5, "other@example.com", "808 555 0122"), // new
	}, true, nil)
	if res.Created != 2 || res.Skipped != 3 {
		t.Fatalf("first batch %+v, want 2 created and 3 skipped", res)
	}

	// A contact added between batches reloads the keys; a note, which
	// adds no email or phone, does not.
	other := f.create(t, "Noted", "noted@example.com", "")
	reloads := in.KeyReloads()
	if err := f.contacts.AddNote(ctx, f.andy, f.ws, other.ID, "Called back"); err != nil {
		t.Fatal(err)
	}
	batch([]contact.ImportRow{importRow(20, "noted@example.com", "")}, true, nil)
	if got := in.KeyReloads(); got != reloads+1 {
		t.Fatalf("reloads %d after a contact was added between batches, want %d", got, reloads+1)
	}
	if err := f.contacts.AddNote(ctx, f.andy, f.ws, other.ID, "Called again"); err != nil {
		t.Fatal(err)
	}
	batch([]contact.ImportRow{importRow(21, "noted@example.com", "")}, true, nil)
	if got := in.KeyReloads(); got != reloads+1 {
		t.Fatalf("a note between batches reloaded the keys (%d reloads, want %d)", got, reloads+1)
	}

	// Another connection adds a contact between batches.
	f.create(t, "Between", "between@example.com", "+1 808 555 0133")
	res = batch([]contact.ImportRow{
		importRow(6, "between@example.com", ""), // added between batches
		importRow(7, "", "(808) 555-0133"),      // its phone
		importRow(8, "", "808 555 0122"),        // row 5's phone, an earlier batch
		importRow(9, "last@example.com", ""),    // new
	}, false, nil)
	if res.Created != 1 || res.Skipped != 3 {
		t.Fatalf("second batch %+v, want 1 created and 3 skipped", res)
	}

	// A batch whose commit fails rolls back whole; its rows import later.
	boom := errors.New("boom")
	rows := []contact.ImportRow{importRow(10, "rolled@example.com", "")}
	rows[0].Tags = []string{"Rolled back tag"}
	in.PrepareRows(rows, "US")
	if _, err := in.Batch(ctx, rows, func(*sqlite.Conn, contact.ImportResult) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	// Nothing of it stays, the tag it named included.
	tags, err := f.lists.All(ctx, f.andy, f.ws, list.Tag)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tags {
		if tg.Name == "Rolled back tag" {
			t.Fatalf("a rolled-back batch left its tag: %+v", tags)
		}
	}
	res = batch([]contact.ImportRow{importRow(10, "rolled@example.com", "")}, true, nil)
	if res.Created != 1 {
		t.Fatalf("after a rolled-back batch %+v, want the row created", res)
	}
	page, err := f.contacts.List(ctx, f.andy, f.ws, contact.Query{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Rows) != 2+2+1+1+1 {
		t.Fatalf("%d contacts, want 7", len(page.Rows))
	}
}

// TestImportedNoteShowsItsText: a note from the file is listed in the log
// by its text, as a typed note is, not as "Note".
func TestImportedNoteShowsItsText(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	in, err := f.contacts.BeginImport(ctx, f.andy, f.ws, contact.ImportOptions{Source: "people.csv", OnDuplicate: contact.DupSkip})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	rows := []contact.ImportRow{importRow(1, "noted@example.com", "")}
	rows[0].Note = "Met at the Kailua open house;\nprefers texts."
	in.PrepareRows(rows, "US")
	if _, err := in.Batch(ctx, rows, nil); err != nil {
		t.Fatal(err)
	}
	ids, err := f.contacts.Duplicates(ctx, f.andy, f.ws, "", []string{"noted@example.com"}, nil)
	if err != nil || len(ids) != 1 {
		t.Fatalf("imported contact: %v %v", ids, err)
	}
	page, err := f.contacts.Log(ctx, f.andy, f.ws, ids[0], activity.TabByKey(""), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Entries {
		if e.Kind == activity.Note {
			if e.Summary != "Met at the Kailua open house; prefers texts." {
				t.Fatalf("imported note listed as %q", e.Summary)
			}
			return
		}
	}
	t.Fatal("no note in the log")
}
