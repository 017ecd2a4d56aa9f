package contact_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/phone"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

type fixture struct {
	db         *store.DB
	contacts   *contact.Store
	lists      *list.Store
	andy, mona auth.Actor
	ws, monaWS string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	return setupOn(t, storetest.New(t))
}

// setupOn makes the fixture's users and workspaces in db.
func setupOn(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	as := auth.NewStore(db, auth.Options{BcryptCost: bcrypt.MinCost})
	wss := contact.NewWorkspaces(db)
	mk := func(email, name string) auth.Actor {
		u, err := as.CreateUser(context.Background(), auth.NewUser{Email: email, Name: name, TimeZone: "UTC", Password: "long enough password"}, "test")
		if err != nil {
			t.Fatal(err)
		}
		return auth.Actor{UserID: u.ID, Email: u.Email, Name: name, TimeZone: "UTC"}
	}
	f := &fixture{db: db, contacts: contact.NewStore(db, phone.Normalize), lists: list.NewStore(db), andy: mk("andy@example.com", "Andy"), mona: mk("monalisa@example.com", "Monalisa")}
	n1, n2 := "Loan Factory", "Coldwell Banker Contacts"
	w1, err := wss.Create(context.Background(), f.andy, workspace.Change{Name: &n1})
	if err != nil {
		t.Fatal(err)
	}
	w2, _ := wss.Create(context.Background(), f.mona, workspace.Change{Name: &n2})
	f.ws, f.monaWS = w1.ID, w2.ID
	return f
}

func s(v string) *string { return &v }

func (f *fixture) create(t *testing.T, first, email, phone string) contact.Contact {
	t.Helper()
	in := contact.Fields{FirstName: s(first), LastName: s("Nguyen")}
	if email != "" {
		in.Emails = &[]contact.EmailInput{{Address: email, Label: "Business"}}
	}
	if phone != "" {
		in.Phones = &[]contact.PhoneInput{{Number: phone, Label: "CA Mobile"}}
	}
	c, err := f.contacts.Create(context.Background(), f.andy, f.ws, in, false)
	if err != nil {
		t.Fatalf("create %s: %v", first, err)
	}
	return c
}

func (f *fixture) stage(t *testing.T, name string) string {
	t.Helper()
	all, err := f.lists.All(context.Background(), f.andy, f.ws, list.Stage)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		if l.Name == name {
			return l.ID
		}
	}
	t.Fatalf("no stage %q in %v", name, all)
	return ""
}

func TestCreateAndDuplicates(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := f.create(t, "Linh", " Linh@Example.com ", "(808) 555-0123")
	if got, want := c.PrimaryPhone(), "+18085550123"; got != want {
		t.Fatalf("phone=%q, want E.164 %q", got, want)
	}
	if got := c.PrimaryEmail(); got != "Linh@Example.com" {
		t.Fatalf("email=%q", got)
	}
	t.Run("ErrDuplicateByEmail", func(t *testing.T) {
		_, err := f.contacts.Create(ctx, f.andy, f.ws, contact.Fields{FirstName: s("L2"), Emails: &[]contact.EmailInput{{Address: "LINH@example.COM"}}}, false)
		if got := contact.Matches(err); len(got) != 1 || got[0] != c.ID {
			t.Fatalf("err=%v matches=%v, want the first contact", err, got)
		}
	})
	t.Run("ErrDuplicateByPhone", func(t *testing.T) {
		_, err := f.contacts.Create(ctx, f.andy, f.ws, contact.Fields{FirstName: s("L3"), Phones: &[]contact.PhoneInput{{Number: "+1 808 555 0123"}}}, false)
		if !errors.Is(err, errs.ErrConflict) || len(contact.Matches(err)) != 1 {
			t.Fatalf("err=%v, want duplicate", err)
		}
	})
	t.Run("KeepSeparate", func(t *testing.T) {
		if _, err := f.contacts.Create(ctx, f.andy, f.ws, contact.Fields{FirstName: s("Spouse"), Phones: &[]contact.PhoneInput{{Number: "808-555-0123", Label: "Home"}}}, true); err != nil {
			t.Fatalf("keep separate refused: %v", err)
		}
	})
	t.Run("OtherWorkspaceIsNotADuplicate", func(t *testing.T) {
		if _, err := f.contacts.Create(ctx, f.mona, f.monaWS, contact.Fields{FirstName: s("Linh"), Emails: &[]contact.EmailInput{{Address: "linh@example.com"}}}, false); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := f.contacts.Create(ctx, f.andy, f.ws, contact.Fields{FirstName: s("X"),
			Emails: &[]contact.EmailInput{{Address: "nope"}, {Address: "a@b.com", Primary: true}, {Address: "c@d.com", Primary: true}},
			Phones: &[]contact.PhoneInput{{Number: "12"}}}, false)
		e := errs.As(err)
		for _, k := range []string{"emails[0].address", "emails", "phones[0].number"} {
			if e.Fields[k] == "" {
				t.Errorf("no message for %s: %v", k, e.Fields)
			}
		}
	})
	t.Run("ErrNotFoundOtherUsersWorkspace", func(t *testing.T) {
		if _, err := f.contacts.Create(ctx, f.mona, f.ws, contact.Fields{FirstName: s("X")}, false); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("err=%v", err)
		}
		if _, err := f.contacts.Get(ctx, f.mona, f.ws, c.ID); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("get: err=%v", err)
		}
		if _, err := f.contacts.Get(ctx, f.mona, f.monaWS, c.ID); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("get through own workspace: err=%v", err)
		}
	})
}

func TestStagesTagsAndLog(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := f.create(t, "Bao", "bao@example.com", "")
	for _, st := range []string{"Prospects", "Applications"} {
		if _, err := f.contacts.Update(ctx, f.andy, f.ws, c.ID, contact.Fields{StageID: s(f.stage(t, st))}, false); err != nil {
			t.Fatal(err)
		}
	}
	tag, err := f.lists.Create(ctx, f.andy, f.ws, list.Tag, "VIP")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.contacts.SetTag(ctx, f.andy, f.ws, c.ID, tag.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := f.contacts.SetTag(ctx, f.andy, f.ws, c.ID, tag.ID, false); err != nil {
		t.Fatal(err)
	}
	p, err := f.contacts.Log(ctx, f.andy, f.ws, c.ID, activity.TabByKey("lists"), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range p.Entries {
		got = append(got, e.Summary)
	}
	want := []string{"Tag removed: VIP", "Tag added: VIP", "Primary List changed: Prospects → Applications", "Primary List changed: (none) → Prospects"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("log %q, want %q", got, want)
	}
	if _, err := f.contacts.Log(ctx, f.mona, f.ws, c.ID, activity.Tabs[0], ""); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("another user's log: %v", err)
	}
	// A call moves the last-contact time.
	if err := f.contacts.AddCall(ctx, f.andy, f.ws, c.ID, c.CreatedAt, 300e9, "talked rates"); err != nil {
		t.Fatal(err)
	}
	got2, _ := f.contacts.Get(ctx, f.andy, f.ws, c.ID)
	if got2.LastContactAt == nil {
		t.Fatal("a logged call did not set the last-contact time")
	}
}

func TestNotesAreSanitized(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := f.create(t, "Chi", "", "")
	if err := f.contacts.AddNote(ctx, f.andy, f.ws, c.ID, `<p onclick="x()">Refi in <b>May</b><script>alert(1)</script></p>`); err != nil {
		t.Fatal(err)
	}
	p, _ := f.contacts.Log(ctx, f.andy, f.ws, c.ID, activity.TabByKey("notes"), "")
	if len(p.Entries) != 1 || strings.Contains(string(p.Entries[0].Body), "script") || strings.Contains(string(p.Entries[0].Body), "onclick") {
		t.Fatalf("note stored as %s", p.Entries[0].Body)
	}
	// Notes are searchable.
	page, err := f.contacts.List(ctx, f.andy, f.ws, contact.Query{Search: "refi"})
	if err != nil || len(page.Rows) != 1 {
		t.Fatalf("search notes: %v %v", page.Rows, err)
	}
}

func TestSpouseIsSymmetric(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a, b, c := f.create(t, "A", "", ""), f.create(t, "B", "", ""), f.create(t, "C", "", "")
	if _, err := f.contacts.Update(ctx, f.andy, f.ws, a.ID, contact.Fields{SpouseID: s(b.ID)}, false); err != nil {
		t.Fatal(err)
	}
	gotB, _ := f.contacts.Get(ctx, f.andy, f.ws, b.ID)
	if gotB.Spouse == nil || gotB.Spouse.ID != a.ID {
		t.Fatalf("B's spouse %+v, want A", gotB.Spouse)
	}
	if _, err := f.contacts.Update(ctx, f.andy, f.ws, c.ID, contact.Fields{SpouseID: s(a.ID)}, false); err != nil {
		t.Fatal(err)
	}
	gotA, _ := f.contacts.Get(ctx, f.andy, f.ws, a.ID)
	gotB, _ = f.contacts.Get(ctx, f.andy, f.ws, b.ID)
	if gotA.Spouse == nil || gotA.Spouse.ID != c.ID || gotB.Spouse != nil {
		t.Fatalf("after re-marrying: A=%+v B=%+v", gotA.Spouse, gotB.Spouse)
	}
	other, _ := f.contacts.Create(ctx, f.mona, f.monaWS, contact.Fields{FirstName: s("M")}, false)
	if _, err := f.contacts.Update(ctx, f.andy, f.ws, a.ID, contact.Fields{SpouseID: s(other.ID)}, false); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("spouse in another user's workspace: %v", err)
	}
}

func TestListPagesAndSearch(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	lead := f.stage(t, "Leads")
	for i := range 25 {
		c := f.create(t, fmt.Sprintf("Person%02d", i), fmt.Sprintf("p%02d@example.com", i), "")
		if i%2 == 0 {
			f.contacts.Update(ctx, f.andy, f.ws, c.ID, contact.Fields{StageID: &lead}, false)
		}
	}
	for _, sort := range contact.SortKeys {
		var seen, names []string
		q := contact.Query{Sort: sort, Limit: 7, StageID: lead}
		for {
			p, err := f.contacts.List(ctx, f.andy, f.ws, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Rows {
				seen = append(seen, r.ID)
				names = append(names, r.FirstName)
				if r.Stage != "Leads" {
					t.Fatalf("sort %s: %s is in %q, not the filtered stage", sort, r.FirstName, r.Stage)
				}
			}
			if p.Next == "" {
				break
			}
			q.After = p.Next
		}
		uniq := map[string]bool{}
		for _, id := range seen {
			uniq[id] = true
		}
		if len(seen) != 13 || len(uniq) != 13 {
			t.Fatalf("sort %s: paged %d rows (%d distinct), want 13", sort, len(seen), len(uniq))
		}
		// Person00 was made first: newest first by created, and Z to A by
		// first name (descending is the default).
		if (sort == "first_name" || sort == "created") && (names[0] != "Person24" || names[12] != "Person00") {
			t.Errorf("sort %s: %v, want Person24 down to Person00", sort, names)
		}
	}
	// Names made out of alphabetical order: sorting by name is not sorting
	// by creation.
	for _, n := range []string{"zed", "Amy", "kim"} {
		f.create(t, n, n+"@example.net", "")
	}
	asc, _ := f.contacts.List(ctx, f.andy, f.ws, contact.Query{Search: "example.net", Sort: "first_name", Asc: true})
	var order []string
	for _, r := range asc.Rows {
		order = append(order, r.FirstName)
	}
	if strings.Join(order, " ") != "Amy kim zed" {
		t.Errorf("first name ascending (case-insensitive): %v", order)
	}
	p, err := f.contacts.List(ctx, f.andy, f.ws, contact.Query{Search: "person1"})
	if err != nil || len(p.Rows) != 10 {
		t.Fatalf("prefix search: %d rows, %v", len(p.Rows), err)
	}
	if _, err := f.contacts.List(ctx, f.andy, f.ws, contact.Query{Search: `"unbalanced * OR (`}); err != nil {
		t.Fatalf("odd search text must not be an error: %v", err)
	}
	if _, err := f.contacts.List(ctx, f.andy, f.ws, contact.Query{After: "garbage"}); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("bad cursor: %v", err)
	}
	if _, err := f.contacts.List(ctx, f.mona, f.ws, contact.Query{}); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("another user's list: %v", err)
	}
}

func FuzzMatchQuery(f *testing.F) {
	for _, s := range []string{"linh", "(808) 555", `"a" OR b*`, "NEAR(a b)", "a@b.com", "-x", "^"} {
		f.Add(s)
	}
	db := storetest.New(f)
	f.Fuzz(func(t *testing.T, q string) {
		m := contact.MatchQuery(q)
		if m == "" {
			return
		}
		err := db.Read(context.Background(), func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT count(*) FROM contacts_fts WHERE contacts_fts MATCH ?`, &sqlitex.ExecOptions{Args: []any{m}})
		})
		if err != nil {
			t.Fatalf("MatchQuery(%q) = %q: %v", q, m, err)
		}
	})
}

func TestDuplicateGroups(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.create(t, "A", "a@example.com", "808-555-0101")
	f.contacts.Create(ctx, f.andy, f.ws, contact.Fields{FirstName: s("A2"), Emails: &[]contact.EmailInput{{Address: "A@example.com"}}, Phones: &[]contact.PhoneInput{{Number: "808-555-0102"}}}, true)
	f.contacts.Create(ctx, f.andy, f.ws, contact.Fields{FirstName: s("A3"), Phones: &[]contact.PhoneInput{{Number: "808-555-0102"}}}, true)
	f.create(t, "Solo", "solo@example.com", "")
	g, err := f.contacts.DuplicateGroups(ctx, f.andy, f.ws)
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 1 || len(g[0].Contacts) != 3 || g[0].Contacts[0].ID != a.ID {
		t.Fatalf("groups %v, want one of three chained through email and phone", g)
	}
	if !g[0].Shares("a@EXAMPLE.com") || !g[0].Shares("+18085550102") || g[0].Shares("+18085550101") {
		t.Error("the group does not say which email and phone are shared")
	}
	// A3 and A2 are different people (one home phone): A3 leaves the group,
	// A and A2 (the same email) stay.
	ids := g[0].IDs()
	a2, a3 := ids[1], ids[2]
	if g[0].Contacts[1].FirstName == "A3" {
		a2, a3 = a3, a2
	}
	if err := f.contacts.KeepSeparate(ctx, f.andy, f.ws, []string{a2, a3}); err != nil {
		t.Fatal(err)
	}
	g, _ = f.contacts.DuplicateGroups(ctx, f.andy, f.ws)
	if len(g) != 1 || len(g[0].Contacts) != 2 || g[0].Shares("+18085550102") {
		t.Fatalf("after keep separate: %+v", g)
	}
	if err := f.contacts.KeepSeparate(ctx, f.mona, f.monaWS, []string{a.ID, a2}); errs.KindOf(err) != errs.NotFound {
		t.Errorf("another user's contacts kept separate: %v", err)
	}
}

func TestSearchPhones(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := f.create(t, "Phone", "", "(808) 555-0123")
	f.create(t, "Other", "", "(415) 555-0100")
	for _, q := range []string{"808555", "(808) 555", "+1808", "1 808 555 0123"} {
		p, err := f.contacts.List(ctx, f.andy, f.ws, contact.Query{Search: q})
		if err != nil || len(p.Rows) != 1 || p.Rows[0].ID != c.ID {
			t.Errorf("search %q: %v %v", q, p.Rows, err)
		}
	}
	p, _ := f.contacts.List(ctx, f.andy, f.ws, contact.Query{Search: "555"})
	if len(p.Rows) != 0 {
		t.Errorf("555 matched %d: only prefixes of the number count", len(p.Rows))
	}
}

// TestContactShapeLimits: a contact takes at most 50 emails and 50 phones,
// and a name with a control or text-direction character is refused with a
// message on that field; nothing is stored.
func TestContactShapeLimits(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	many := make([]contact.EmailInput, contact.MaxEmails+1)
	for i := range many {
		many[i] = contact.EmailInput{Address: fmt.Sprintf("a%d@example.com", i)}
	}
	phones := make([]contact.PhoneInput, contact.MaxPhones+1)
	for i := range phones {
		phones[i] = contact.PhoneInput{Number: fmt.Sprintf("+1 808 555 %04d", i)}
	}
	for name, tc := range map[string]struct {
		in    contact.Fields
		field string
	}{
		"51Emails":      {contact.Fields{FirstName: s("Ann"), Emails: &many}, "emails"},
		"51Phones":      {contact.Fields{FirstName: s("Ann"), Phones: &phones}, "phones"},
		"RLOInName":     {contact.Fields{FirstName: s("Ann\u202egnp.exe")}, "first_name"},
		"IsolateInLast": {contact.Fields{FirstName: s("Ann"), LastName: s("Lee\u2066x")}, "last_name"},
		"NewlineInCo":   {contact.Fields{Company: s("Acme\nInc")}, "company"},
		"C1Control":     {contact.Fields{FirstName: s("An\u0085n")}, "first_name"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.contacts.Create(ctx, f.andy, f.ws, tc.in, true)
			if e := errs.As(err); e.Kind != errs.Invalid || e.Fields[tc.field] == "" {
				t.Fatalf("err=%v, want Invalid naming %s", err, tc.field)
			}
		})
	}
	exactly := many[:contact.MaxEmails]
	if _, err := f.contacts.Create(ctx, f.andy, f.ws, contact.Fields{FirstName: s("Bo"), Emails: &exactly}, true); err != nil {
		t.Fatalf("50 emails: %v", err)
	}
	page, err := f.contacts.List(ctx, f.andy, f.ws, contact.Query{Limit: 10})
	if err != nil || len(page.Rows) != 1 {
		t.Fatalf("contacts stored: %d, %v; want only Bo", len(page.Rows), err)
	}
}

// TestFaxIsNeverThePrimary: with no primary marked, the first number that
// is not a fax becomes the primary; a contact with only a fax has none.
func TestFaxIsNeverThePrimary(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	phones := []contact.PhoneInput{{Number: "808 555 0199", Label: "Work fax"}, {Number: "808 555 0192", Label: "Mobile"}}
	c, err := f.contacts.Create(ctx, f.andy, f.ws, contact.Fields{FirstName: s("Hana"), Phones: &phones}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PrimaryPhone(); got != "+18085550192" {
		t.Fatalf("primary %q, want the mobile", got)
	}
	only := []contact.PhoneInput{{Number: "808 555 0197", Label: "Fax"}}
	c, err = f.contacts.Create(ctx, f.andy, f.ws, contact.Fields{Company: s("Fax Only Inc"), Phones: &only}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PrimaryPhone(); got != "" || len(c.Phones) != 1 {
		t.Fatalf("a fax-only contact: primary %q, %d phones; want none primary, the fax kept", got, len(c.Phones))
	}
}

// TestDemoContactsPassValidation: every contact the demo generator makes
// saves again unchanged (names, emails, phones, birthday), so a demo user
// can edit and merge any of them; before, its phones (808) 000-NNNN were
// invalid and no demo contact could be saved.
func TestDemoContactsPassValidation(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if err := f.contacts.GenerateDemo(ctx, f.andy, f.ws, 2300, 0, 1); err != nil { // past the 2,000 in 555-01XX
		t.Fatal(err)
	}
	var ids []string
	err := f.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT id FROM contacts WHERE workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{f.ws},
			ResultFunc: func(st *sqlite.Stmt) error { ids = append(ids, st.ColumnText(0)); return nil }})
	})
	if err != nil || len(ids) != 2300 {
		t.Fatalf("%d demo contacts, %v", len(ids), err)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		c, err := f.contacts.Get(ctx, f.andy, f.ws, id)
		if err != nil {
			t.Fatal(err)
		}
		emails := make([]contact.EmailInput, len(c.Emails))
		for i, e := range c.Emails {
			emails[i] = contact.EmailInput{Address: e.Address, Label: e.Label, Primary: e.Primary}
		}
		phones := make([]contact.PhoneInput, len(c.Phones))
		for i, p := range c.Phones {
			phones[i] = contact.PhoneInput{Number: p.Number, Label: p.Label, Primary: p.Primary}
			if seen[p.Number] {
				t.Fatalf("demo number %s given twice", p.Number)
			}
			seen[p.Number] = true
		}
		bd := c.Birthday
		if _, err := f.contacts.Update(ctx, f.andy, f.ws, id, contact.Fields{FirstName: &c.FirstName, LastName: &c.LastName, Company: &c.Company,
			Emails: &emails, Phones: &phones, Birthday: &bd}, true); err != nil {
			t.Fatalf("demo contact %s %s does not save unchanged: %v", c.FirstName, c.LastName, err)
		}
	}
}

// TestFieldChangesAreInTheLog: changing the company, the birthday, do not
// contact or a custom field writes a log entry saying what it was and what
// it became; saving the same values again writes none.
func TestFieldChangesAreInTheLog(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := f.create(t, "Ann", "ann@example.com", "")
	field, err := f.contacts.CreateField(ctx, f.andy, f.ws, contact.FieldDef{Name: "Loan amount", Type: "text"}, true)
	if err != nil {
		t.Fatal(err)
	}
	co, dnc := "Aloha Realty", true
	bd := &contact.Birthday{Month: 3, Day: 14}
	change := contact.Fields{Company: &co, DoNotContact: &dnc, Birthday: &bd, Custom: map[string]string{field.ID: "850000"}}
	for range 2 { // the second save changes nothing
		if _, err := f.contacts.Update(ctx, f.andy, f.ws, c.ID, change, true); err != nil {
			t.Fatal(err)
		}
	}
	page, err := f.contacts.Log(ctx, f.andy, f.ws, c.ID, activity.TabByKey(""), "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range page.Entries {
		if e.Kind == activity.Field {
			var b activity.FieldBody
			if err := json.Unmarshal(e.Body, &b); err != nil {
				t.Fatal(err)
			}
			if _, dup := got[e.Summary]; dup {
				t.Fatalf("%q logged twice: saving the same value again is no change", e.Summary)
			}
			got[e.Summary] = b.From + " -> " + b.To
		}
	}
	for summary, want := range map[string]string{"Company changed": " -> Aloha Realty", "Birthday changed": " -> 03-14",
		"Marked do not contact": "no -> yes", "Loan amount changed": " -> 850000"} {
		if got[summary] != want {
			t.Errorf("log %q = %q, want %q (all: %v)", summary, got[summary], want, got)
		}
	}
}
