package contact_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// TestWritePathsAgree creates the same contact three ways, each in a
// workspace of its own: by hand (create, then tag and note), by import (one
// row with a stage, tags and a note) and by merging two halves. Every table
// that holds a contact reads the same: its columns, emails, phones, tags,
// custom values, its notes, and its full-text row (an imported note used to
// be indexed as "Tom & Jerry <3", an edited one as "Tom &amp; Jerry &lt;3").
func TestWritePathsAgree(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	wss := contact.NewWorkspaces(f.db)
	newWS := func(name string) (string, string) {
		w, err := wss.Create(ctx, f.andy, workspace.Change{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		fd, err := f.contacts.CreateField(ctx, f.andy, w.ID, contact.FieldDef{Name: "Loan amount", Type: "number"}, false)
		if err != nil {
			t.Fatal(err)
		}
		return w.ID, fd.ID
	}
	stageID := func(wsID string) *string {
		ls, _ := f.lists.All(ctx, f.andy, wsID, list.Stage)
		return &ls[1].ID // Prospects
	}
	const note = "Tom & Jerry <3"
	full := func(fieldID string) contact.Fields {
		b := &contact.Birthday{Month: 2, Day: 29, Year: 1988}
		return contact.Fields{FirstName: s("Tom"), MiddleName: s("J."), LastName: s("Nguyen"), Nickname: s("TJ"), Company: s("Kahala & Co"),
			JobTitle: s("Owner"), Website: s("https://kahala.example"), Address: s("1 Kahala Ave\nHonolulu, HI 96816"), FileNotes: s("Rate <lock> & go"),
			MaritalStatus: s("Married"), Children: s("Ana"), Pets: s("Poi"), ReferredBy: s("Monalisa"), DoNotContact: new(bool), Birthday: &b,
			Emails: &[]contact.EmailInput{{Address: "tom@example.com", Label: "Work", Primary: true}, {Address: "tj@home.example", Label: "Home"}},
			Phones: &[]contact.PhoneInput{{Number: "+1 808 555 0131", Label: "Mobile", Primary: true}, {Number: "+1 808 555 0132", Label: "Work fax"}},
			Custom: map[string]string{fieldID: "650,000"}}
	}
	tagged := func(wsID, id string) {
		for _, tag := range []string{"VIP", "Past client"} {
			if err := f.contacts.AddTagNamed(ctx, f.andy, wsID, id, tag); err != nil {
				t.Fatal(err)
			}
		}
	}

	// By hand.
	hand, fid := newWS("By hand")
	in := full(fid)
	in.StageID = stageID(hand)
	c, err := f.contacts.Create(ctx, f.andy, hand, in, false)
	if err != nil {
		t.Fatal(err)
	}
	tagged(hand, c.ID)
	if err := f.contacts.AddNote(ctx, f.andy, hand, c.ID, note); err != nil {
		t.Fatal(err)
	}

	// By import.
	imported, fid := newWS("By import")
	imp, err := f.contacts.BeginImport(ctx, f.andy, imported, contact.ImportOptions{Source: "t.csv", OnDuplicate: contact.DupCreate})
	if err != nil {
		t.Fatal(err)
	}
	rows := []contact.ImportRow{{Row: 1, Fields: full(fid), Stage: "Prospects", Tags: []string{"VIP", "Past client"}, Note: note}}
	imp.PrepareRows(rows, "US")
	if res, err := imp.Batch(ctx, rows, func(*sqlite.Conn, contact.ImportResult) error { return nil }); err != nil || res.Created != 1 {
		t.Fatalf("import: %+v %v", res, err)
	}
	imp.Close()

	// By merging two halves: the target has the name, one email and the
	// note; the source everything else.
	merged, fid := newWS("By merge")
	whole := full(fid)
	a, err := f.contacts.Create(ctx, f.andy, merged, contact.Fields{FirstName: s("Tom"), LastName: s("Nguyen"),
		Emails: &[]contact.EmailInput{(*whole.Emails)[0]}, StageID: stageID(merged)}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.contacts.AddNote(ctx, f.andy, merged, a.ID, note); err != nil {
		t.Fatal(err)
	}
	src := whole
	src.FirstName, src.LastName, src.Emails = s(""), s(""), &[]contact.EmailInput{(*whole.Emails)[1]}
	b, err := f.contacts.Create(ctx, f.andy, merged, src, false)
	if err != nil {
		t.Fatal(err)
	}
	tagged(merged, b.ID)
	take := map[string]string{}
	for _, k := range contact.MergeFields {
		if k != "first_name" && k != "last_name" && k != "stage" {
			take[k] = "source"
		}
	}
	if _, err := f.contacts.Merge(ctx, f.andy, merged, a.ID, b.ID, contact.MergeChoice{Take: take, PrimaryEmail: "tom@example.com", PrimaryPhone: "+18085550131",
		TakeCustom: []string{fid}}); err != nil {
		t.Fatal(err)
	}

	want := dump(t, f, hand)
	ftsLine := want[strings.Index(want, "fts: "):]
	if !strings.Contains(ftsLine, " <3 ") || strings.Contains(ftsLine, "&amp;") || strings.Contains(ftsLine, "&lt;") ||
		!strings.Contains(want, "note: Tom & Jerry <3 | Tom & Jerry <3") {
		t.Fatalf("the hand-made contact's index holds the note's markup, not its text:\n%s", want)
	}
	for name, ws := range map[string]string{"import": imported, "merge": merged} {
		if got := dump(t, f, ws); got != want {
			t.Errorf("the contact made by %s differs from the one made by hand:\nby hand:\n%s\nby %s:\n%s", name, want, name, got)
		}
	}
}

// dump reads the workspace's one contact from every table that holds it.
func dump(t *testing.T, f *fixture, wsID string) string {
	t.Helper()
	var lines []string
	q := func(prefix, sql string, args ...any) {
		err := f.db.Read(context.Background(), func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, sql, &sqlitex.ExecOptions{Args: args, ResultFunc: func(st *sqlite.Stmt) error {
				var cols []string
				for i := range st.ColumnCount() {
					cols = append(cols, st.ColumnText(i))
				}
				lines = append(lines, prefix+": "+strings.Join(cols, " | "))
				return nil
			}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	q("contact", `SELECT first_name, middle_name, last_name, nickname, company, job_title, website, address, s.name, birthday_month, birthday_day, birthday_year,
		marital_status, children, pets, referred_by, file_notes, do_not_contact, coalesce(last_contact_at, '') FROM contacts c LEFT JOIN lists s ON s.id = c.stage_id WHERE c.workspace_id = ?`, wsID)
	q("email", `SELECT address, address_norm, label, is_primary FROM contact_emails WHERE workspace_id = ? ORDER BY address`, wsID)
	q("phone", `SELECT e164, label, is_primary FROM contact_phones WHERE workspace_id = ? ORDER BY e164`, wsID)
	q("tag", `SELECT l.name FROM contact_tags t JOIN lists l ON l.id = t.list_id WHERE l.workspace_id = ? ORDER BY l.name`, wsID)
	q("custom", `SELECT d.name, v.value FROM custom_values v JOIN custom_fields d ON d.id = v.field_id JOIN contacts c ON c.id = v.contact_id WHERE c.workspace_id = ?`, wsID)
	// A note typed in the page is HTML, an imported one plain text: their
	// text and summary agree.
	q("note", `SELECT summary, trim(replace(replace(replace(replace(replace(json_extract(body, '$.html'), '<p>', ''), '</p>', ''), '&amp;', '&'), '&lt;', '<'), '&gt;', '>'))
		FROM activities WHERE workspace_id = ? AND kind = 'note'`, wsID)
	var fts string
	f.db.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT f.body FROM contacts_fts f JOIN contacts c ON c.rowid = f.rowid WHERE c.workspace_id = ?`, &sqlitex.ExecOptions{
			Args: []any{wsID}, ResultFunc: func(st *sqlite.Stmt) error { fts = st.ColumnText(0); return nil }})
	})
	words := strings.Fields(fts)
	sort.Strings(words)
	lines = append(lines, fmt.Sprintf("fts: %s", strings.Join(words, " ")))
	return strings.Join(lines, "\n")
}
