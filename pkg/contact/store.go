package contact

import (
	"context"
	"fmt"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/richtext"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Store reads and writes contacts.
type Store struct {
	db *store.DB
	// notes is the rich-text allow-list, built once: a bluemonday policy
	// compiles its patterns when made, and is safe for concurrent use.
	notes *richtext.Policy
}

// NewStore returns a Store over db.
func NewStore(db *store.DB) *Store { return &Store{db: db, notes: richtext.New()} }

var errNotFound = errs.NotFoundf("No such contact.")

// NewWorkspaces returns the workspace store with the hooks of what a
// workspace holds (its lists, its contacts): the one way every binary and
// test builds it, so none forgets a hook.
func NewWorkspaces(db *store.DB) *workspace.Store {
	return workspace.NewStore(db, list.Hooks(), Hooks())
}

// Hooks adds the contact count to a workspace's deletion warning.
func Hooks() workspace.Hooks {
	return workspace.Hooks{Lost: []func(*sqlite.Conn, string) ([]string, error){
		func(conn *sqlite.Conn, wsID string) ([]string, error) {
			var n, a int
			err := sqlitex.Execute(conn, `SELECT (SELECT count(*) FROM contacts WHERE workspace_id = ?), (SELECT count(*) FROM activities WHERE workspace_id = ?)`, &sqlitex.ExecOptions{
				Args: []any{wsID, wsID}, ResultFunc: func(stmt *sqlite.Stmt) error { n, a = stmt.ColumnInt(0), stmt.ColumnInt(1); return nil }})
			if err != nil {
				return nil, fmt.Errorf("count contacts: %w", err)
			}
			return []string{fmt.Sprintf("%d contacts with their emails, phones, tags and custom fields", n),
				fmt.Sprintf("%d communication log entries", a), "its stages and tags"}, nil
		},
	}}
}

// normalized is a Fields value checked and put in stored form.
type normalized struct {
	emails []Email // Address as typed; norms beside
	norms  []string
	phones []Phone
}

// check validates f (region reads phones without a country code) and
// returns the stored forms of emails and phones, or an Invalid error naming
// each bad field ("emails[1].address").
func check(f *Fields, region string) (normalized, error) {
	var n normalized
	fe := errs.Fields{}
	checkName(fe, "first_name", f.FirstName)
	checkName(fe, "last_name", f.LastName)
	checkName(fe, "company", f.Company)
	checkName(fe, "middle_name", f.MiddleName)
	checkName(fe, "nickname", f.Nickname)
	checkText(fe, "job_title", f.JobTitle, MaxText)
	checkWebsite(fe, "website", f.Website)
	checkText(fe, "address", f.Address, MaxAddress)
	checkText(fe, "marital_status", f.MaritalStatus, 40)
	checkText(fe, "children", f.Children, MaxText)
	checkText(fe, "pets", f.Pets, MaxText)
	checkText(fe, "referred_by", f.ReferredBy, MaxText)
	checkText(fe, "file_notes", f.FileNotes, MaxNotes)
	if f.Birthday != nil {
		if msg := validBirthday(*f.Birthday); msg != "" {
			fe.Add("birthday", msg)
		}
	}
	if f.Emails != nil && len(*f.Emails) > MaxEmails {
		fe.Add("emails", fmt.Sprintf("A contact has at most %d emails.", MaxEmails))
	} else if f.Emails != nil {
		seen := map[string]bool{}
		primaries := 0
		for i, in := range *f.Emails {
			addr, norm, msg := NormalizeEmail(in.Address)
			key := fmt.Sprintf("emails[%d]", i)
			label := strings.TrimSpace(in.Label)
			if msg != "" {
				fe.Add(key+".address", msg)
				continue
			}
			if seen[norm] {
				fe.Add(key+".address", "This address is listed twice.")
				continue
			}
			if len(label) > 40 {
				fe.Add(key+".label", "Use at most 40 characters.")
			}
			seen[norm] = true
			if in.Primary {
				primaries++
			}
			n.emails = append(n.emails, Email{Address: addr, Label: label, Primary: in.Primary})
			n.norms = append(n.norms, norm)
		}
		if primaries > 1 {
			fe.Add("emails", "Mark only one email as primary.")
		} else if primaries == 0 && len(n.emails) > 0 {
			n.emails[0].Primary = true
		}
	}
	if f.Phones != nil && len(*f.Phones) > MaxPhones {
		fe.Add("phones", fmt.Sprintf("A contact has at most %d phones.", MaxPhones))
	} else if f.Phones != nil {
		seen := map[string]bool{}
		primaries := 0
		for i, in := range *f.Phones {
			e164, msg := NormalizePhone(in.Number, region)
			key := fmt.Sprintf("phones[%d]", i)
			label := strings.TrimSpace(in.Label)
			if msg != "" {
				fe.Add(key+".number", msg)
				continue
			}
			if seen[e164] {
				fe.Add(key+".number", "This number is listed twice.")
				continue
			}
			if len(label) > 40 {
				fe.Add(key+".label", "Use at most 40 characters.")
			}
			seen[e164] = true
			if in.Primary {
				primaries++
			}
			n.phones = append(n.phones, Phone{Number: e164, Label: label, Primary: in.Primary})
		}
		if primaries > 1 {
			fe.Add("phones", "Mark only one phone as primary.")
		} else if primaries == 0 {
			// The first number one can call or text; a fax never.
			for i := range n.phones {
				if !IsFax(n.phones[i].Label) {
					n.phones[i].Primary = true
					break
				}
			}
		}
	}
	return n, fe.Err()
}

// errNoIdentity refuses a contact nobody could tell apart: no name, no
// company, no email and no phone (an empty form, POST {}).
var errNoIdentity = &errs.Error{Kind: errs.Invalid, Code: "no_identity", Message: "Enter at least a name, a company, an email or a phone.",
	Fields: map[string]string{"first_name": "Enter at least a name, a company, an email or a phone."}}

// identifiable reports whether a checked f names anyone.
func identifiable(f Fields, n normalized) bool {
	for _, v := range []*string{f.FirstName, f.LastName, f.Company} {
		if v != nil && *v != "" {
			return true
		}
	}
	return len(n.emails) > 0 || len(n.phones) > 0
}

// IsFax reports whether a phone's label says it is a fax ("Fax", "Work
// fax"): kept, shown, never the primary number.
func IsFax(label string) bool {
	l := strings.ToLower(strings.TrimSpace(label))
	return l == "fax" || strings.HasSuffix(l, " fax")
}

// DuplicateError reports contacts that share an email or phone with the one
// being saved; the API answers it 409 with code "duplicate".
func duplicateError(ids []string) error {
	return &errs.Error{Kind: errs.Conflict, Code: "duplicate",
		Message: "A contact with the same email or phone already exists.",
		Details: map[string]any{"matches": ids}}
}

// Matches returns the ids of contacts in a duplicate error, or nil.
func Matches(err error) []string {
	e := errs.As(err)
	if e.Code != "duplicate" {
		return nil
	}
	ids, _ := e.Details["matches"].([]string)
	return ids
}

// duplicates returns the other contacts of wsID (not except) that have one
// of the emails or phones.
func duplicates(conn *sqlite.Conn, wsID, except string, norms []string, phones []Phone) ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	add := func(stmt *sqlite.Stmt) error {
		if id := stmt.ColumnText(0); !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
		return nil
	}
	for _, n := range norms {
		if err := sqlitex.Execute(conn, `SELECT contact_id FROM contact_emails WHERE workspace_id = ? AND address_norm = ? AND contact_id <> ?`,
			&sqlitex.ExecOptions{Args: []any{wsID, n, except}, ResultFunc: add}); err != nil {
			return nil, fmt.Errorf("find duplicates: %w", err)
		}
	}
	for _, p := range phones {
		if err := sqlitex.Execute(conn, `SELECT contact_id FROM contact_phones WHERE workspace_id = ? AND e164 = ? AND contact_id <> ?`,
			&sqlitex.ExecOptions{Args: []any{wsID, p.Number, except}, ResultFunc: add}); err != nil {
			return nil, fmt.Errorf("find duplicates: %w", err)
		}
	}
	return ids, nil
}

// Duplicates returns the ids of contacts in wsID that share an email or
// phone with the given ones (a form can warn before saving).
func (s *Store) Duplicates(ctx context.Context, actor auth.Actor, wsID, except string, emails []string, phones []string) ([]string, error) {
	var ids []string
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		if err := workspace.Owned(conn, actor, wsID); err != nil {
			return err
		}
		region, err := workspace.PhoneRegion(conn, wsID)
		if err != nil {
			return err
		}
		var norms []string
		for _, e := range emails {
			if _, n, msg := NormalizeEmail(e); msg == "" {
				norms = append(norms, n)
			}
		}
		var ps []Phone
		for _, p := range phones {
			if e, msg := NormalizePhone(p, region); msg == "" {
				ps = append(ps, Phone{Number: e})
			}
		}
		ids, err = duplicates(conn, wsID, except, norms, ps)
		return err
	})
	return ids, err
}

// Create adds a contact to the actor's workspace wsID. A contact sharing an
// email or phone with another answers a Conflict error with code "duplicate"
// (see Matches) unless keepSeparate. It returns NotFound for another user's
// workspace and Invalid naming each bad field.
func (s *Store) Create(ctx context.Context, actor auth.Actor, wsID string, f Fields, keepSeparate bool) (Contact, error) {
	var c Contact
	err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := workspace.Owned(conn, actor, wsID); err != nil {
			return err
		}
		id, err := create(conn, actor, wsID, f, keepSeparate, "")
		if err != nil {
			return err
		}
		if err := activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: activity.System, Summary: "Contact created", ActorUserID: actor.UserID},
			activity.SystemBody{Event: "created"}); err != nil {
			return err
		}
		if err := audit.Record(conn, actor.Audit("contact.create", "contact", id, map[string]any{"workspace_id": wsID})); err != nil {
			return err
		}
		c, err = load(conn, wsID, id)
		return err
	})
	return c, err
}

// create inserts a contact and returns its id; the caller audits and logs.
func create(conn *sqlite.Conn, actor auth.Actor, wsID string, f Fields, keepSeparate bool, copiedFrom string) (string, error) {
	region, err := workspace.PhoneRegion(conn, wsID)
	if err != nil {
		return "", err
	}
	n, err := check(&f, region)
	if err != nil {
		return "", err
	}
	if !identifiable(f, n) {
		return "", errNoIdentity
	}
	if !keepSeparate {
		ids, err := duplicates(conn, wsID, "", n.norms, n.phones)
		if err != nil {
			return "", err
		}
		if len(ids) > 0 {
			return "", duplicateError(ids)
		}
	}
	id := store.NewID()
	now := store.FormatTime(time.Now())
	if err := sqlitex.Execute(conn, `INSERT INTO contacts (id, workspace_id, copied_from, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		&sqlitex.ExecOptions{Args: []any{id, wsID, copiedFrom, now, now}}); err != nil {
		return "", fmt.Errorf("insert contact: %w", err)
	}
	if f.Emails == nil {
		f.Emails = &[]EmailInput{}
	}
	if f.Phones == nil {
		f.Phones = &[]PhoneInput{}
	}
	if err := applyDefaults(conn, wsID, id); err != nil {
		return "", err
	}
	if err := apply(conn, actor, wsID, id, f, n, Contact{}); err != nil {
		return "", err
	}
	return id, nil
}

// Update changes the fields set in f on contact id. Emails or phones that
// would make it a duplicate answer Conflict unless keepSeparate. A change of
// stage or of the loan-file notes is logged. It returns NotFound for a
// contact that is not in the actor's workspace wsID.
func (s *Store) Update(ctx context.Context, actor auth.Actor, wsID, id string, f Fields, keepSeparate bool) (Contact, error) {
	var c Contact
	err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := workspace.Owned(conn, actor, wsID); err != nil {
			return err
		}
		old, err := load(conn, wsID, id)
		if err != nil {
			return err
		}
		region, err := workspace.PhoneRegion(conn, wsID)
		if err != nil {
			return err
		}
		n, err := check(&f, region)
		if err != nil {
			return err
		}
		if !keepSeparate && (f.Emails != nil || f.Phones != nil) {
			// Only an email or phone the contact did not have can make it a
			// new duplicate: one it already shares with another contact is
			// a known pair (for the duplicates page), and saving it again
			// unchanged must not be refused.
			norms, phones := added(old, n)
			ids, err := duplicates(conn, wsID, id, norms, phones)
			if err != nil {
				return err
			}
			if len(ids) > 0 {
				return duplicateError(ids)
			}
		}
		if keepSeparate && (f.Emails != nil || f.Phones != nil) {
			// Saved on purpose beside the contacts it matches: different
			// people, no longer listed as duplicates.
			ids, err := duplicates(conn, wsID, id, n.norms, n.phones)
			if err != nil {
				return err
			}
			if len(ids) > 0 {
				if err := markSeparate(conn, wsID, append(ids, id)); err != nil {
					return err
				}
			}
		}
		if err := apply(conn, actor, wsID, id, f, n, old); err != nil {
			return err
		}
		if err := audit.Record(conn, actor.Audit("contact.update", "contact", id, map[string]any{"workspace_id": wsID})); err != nil {
			return err
		}
		c, err = load(conn, wsID, id)
		return err
	})
	return c, err
}

// added returns the emails (normalized) and phones of n that old does not
// have.
func added(old Contact, n normalized) ([]string, []Phone) {
	had := map[string]bool{}
	for _, e := range old.Emails {
		_, norm, _ := NormalizeEmail(e.Address)
		had["e:"+norm] = true
	}
	for _, p := range old.Phones {
		had["p:"+p.Number] = true
	}
	var norms []string
	var phones []Phone
	for _, e := range n.norms {
		if !had["e:"+e] {
			norms = append(norms, e)
		}
	}
	for _, p := range n.phones {
		if !had["p:"+p.Number] {
			phones = append(phones, p)
		}
	}
	return norms, phones
}

// apply writes f's set fields onto contact id (old is its state before).
func apply(conn *sqlite.Conn, actor auth.Actor, wsID, id string, f Fields, n normalized, old Contact) error {
	sets := []string{"updated_at = ?"}
	args := []any{store.FormatTime(time.Now())}
	str := func(col string, v *string) {
		if v != nil {
			sets = append(sets, col+" = ?")
			args = append(args, *v)
		}
	}
	str("first_name", f.FirstName)
	str("last_name", f.LastName)
	str("company", f.Company)
	str("middle_name", f.MiddleName)
	str("nickname", f.Nickname)
	str("job_title", f.JobTitle)
	str("website", f.Website)
	str("address", f.Address)
	str("marital_status", f.MaritalStatus)
	str("children", f.Children)
	str("pets", f.Pets)
	str("referred_by", f.ReferredBy)
	str("file_notes", f.FileNotes)
	if f.DoNotContact != nil {
		sets = append(sets, "do_not_contact = ?")
		args = append(args, *f.DoNotContact)
	}
	if f.Birthday != nil {
		sets = append(sets, "birthday_month = ?", "birthday_day = ?", "birthday_year = ?")
		if b := *f.Birthday; b != nil {
			var year any
			if b.Year != 0 {
				year = b.Year
			}
			args = append(args, b.Month, b.Day, year)
		} else {
			args = append(args, nil, nil, nil)
		}
	}
	if f.ReferredByID != nil {
		ref, err := optionalRef(conn, wsID, id, *f.ReferredByID, "referred_by_id")
		if err != nil {
			return err
		}
		sets = append(sets, "referred_by_id = ?")
		args = append(args, ref)
	}
	args = append(args, id)
	if err := sqlitex.Execute(conn, `UPDATE contacts SET `+strings.Join(sets, ", ")+` WHERE id = ?`, &sqlitex.ExecOptions{Args: args}); err != nil {
		return fmt.Errorf("update contact: %w", err)
	}
	if old.ID != "" {
		// The log is the contact's history: what a user changes by hand is
		// in it, as stage changes are.
		type change struct{ field, summary, from, to string }
		var changes []change
		str := func(field, summary string, v *string, was string) {
			if v != nil && *v != was {
				changes = append(changes, change{field, summary, was, *v})
			}
		}
		str("company", "Company changed", f.Company, old.Company)
		str("job_title", "Job title changed", f.JobTitle, old.JobTitle)
		str("address", "Address changed", f.Address, old.Address)
		str("file_notes", "Loan file notes changed", f.FileNotes, old.FileNotes)
		if f.Birthday != nil {
			if was, now := old.Birthday.String(), (*f.Birthday).String(); was != now {
				changes = append(changes, change{"birthday", "Birthday changed", was, now})
			}
		}
		if f.DoNotContact != nil && *f.DoNotContact != old.DoNotContact {
			ch := change{"do_not_contact", "Marked do not contact", "no", "yes"}
			if !*f.DoNotContact {
				ch = change{"do_not_contact", "No longer do not contact", "yes", "no"}
			}
			changes = append(changes, ch)
		}
		for _, ch := range changes {
			if err := activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: activity.Field, Summary: ch.summary, ActorUserID: actor.UserID},
				activity.FieldBody{Field: ch.field, From: ch.from, To: ch.to}); err != nil {
				return err
			}
		}
	}
	if f.SpouseID != nil {
		if err := setSpouse(conn, wsID, id, *f.SpouseID); err != nil {
			return err
		}
	}
	if f.Emails != nil {
		if err := sqlitex.Execute(conn, `DELETE FROM contact_emails WHERE contact_id = ?`, &sqlitex.ExecOptions{Args: []any{id}}); err != nil {
			return fmt.Errorf("replace emails: %w", err)
		}
		for i, e := range n.emails {
			if err := insertEmail(conn, wsID, id, e, n.norms[i]); err != nil {
				return err
			}
		}
	}
	if f.Phones != nil {
		if err := sqlitex.Execute(conn, `DELETE FROM contact_phones WHERE contact_id = ?`, &sqlitex.ExecOptions{Args: []any{id}}); err != nil {
			return fmt.Errorf("replace phones: %w", err)
		}
		for _, p := range n.phones {
			if err := insertPhone(conn, wsID, id, p); err != nil {
				return err
			}
		}
	}
	if (f.Emails != nil && len(n.emails) > 0) || (f.Phones != nil && len(n.phones) > 0) {
		if _, err := bumpKeys(conn, wsID); err != nil {
			return err
		}
	}
	if f.StageID != nil {
		if err := setStage(conn, actor, wsID, id, *f.StageID); err != nil {
			return err
		}
	}
	if f.Custom != nil {
		if err := setCustom(conn, actor, wsID, id, f.Custom, old.ID != ""); err != nil {
			return err
		}
	}
	return reindex(conn, id)
}

// insertEmail and insertPhone add one of contact id's emails or phones
// through the connection's cached statement (the import's fast path calls
// them once a row). The caller bumps the workspace's key version once for
// its transaction (bumpKeys).
func insertEmail(conn *sqlite.Conn, wsID, id string, e Email, norm string) error {
	st := conn.Prep(`INSERT INTO contact_emails (id, contact_id, workspace_id, address, address_norm, label, is_primary) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	for i, v := range []any{store.NewID(), id, wsID, e.Address, norm, e.Label, e.Primary} {
		bind(st, i+1, v)
	}
	if err := step(st); err != nil {
		return fmt.Errorf("insert email: %w", err)
	}
	return nil
}

func insertPhone(conn *sqlite.Conn, wsID, id string, p Phone) error {
	st := conn.Prep(`INSERT INTO contact_phones (id, contact_id, workspace_id, e164, label, is_primary) VALUES (?, ?, ?, ?, ?, ?)`)
	for i, v := range []any{store.NewID(), id, wsID, p.Number, p.Label, p.Primary} {
		bind(st, i+1, v)
	}
	if err := step(st); err != nil {
		return fmt.Errorf("insert phone: %w", err)
	}
	return nil
}

// optionalRef checks that ref ("" for none) is another contact of wsID.
func optionalRef(conn *sqlite.Conn, wsID, self, ref, field string) (any, error) {
	if ref == "" {
		return nil, nil
	}
	if ref == self {
		return nil, errs.Fields{field: "Choose another contact."}.Err()
	}
	ok, err := exists(conn, wsID, ref)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errs.Fields{field: "Choose a contact of this workspace."}.Err()
	}
	return ref, nil
}

// setSpouse links id and spouse both ways, unlinking their former spouses.
func setSpouse(conn *sqlite.Conn, wsID, id, spouse string) error {
	ref, err := optionalRef(conn, wsID, id, spouse, "spouse_id")
	if err != nil {
		return err
	}
	// Whoever pointed at id or at the new spouse lets go first.
	if err := sqlitex.Execute(conn, `UPDATE contacts SET spouse_id = NULL WHERE workspace_id = ? AND (spouse_id = ? OR id = ? OR (? <> '' AND (spouse_id = ? OR id = ?)))`,
		&sqlitex.ExecOptions{Args: []any{wsID, id, id, spouse, spouse, spouse}}); err != nil {
		return fmt.Errorf("unlink spouses: %w", err)
	}
	if ref == nil {
		return nil
	}
	if err := sqlitex.Execute(conn, `UPDATE contacts SET spouse_id = CASE id WHEN ? THEN ? ELSE ? END WHERE id IN (?, ?)`,
		&sqlitex.ExecOptions{Args: []any{id, spouse, id, id, spouse}}); err != nil {
		return fmt.Errorf("link spouses: %w", err)
	}
	return nil
}

// setStage moves id to stage (or none, "") and logs
// "Primary List changed: A → B".
func setStage(conn *sqlite.Conn, actor auth.Actor, wsID, id, stageID string) error {
	var from, fromName string
	err := sqlitex.Execute(conn, `SELECT coalesce(c.stage_id, ''), coalesce(l.name, '') FROM contacts c LEFT JOIN lists l ON l.id = c.stage_id WHERE c.id = ?`, &sqlitex.ExecOptions{
		Args: []any{id}, ResultFunc: func(stmt *sqlite.Stmt) error { from, fromName = stmt.ColumnText(0), stmt.ColumnText(1); return nil }})
	if err != nil {
		return fmt.Errorf("read stage: %w", err)
	}
	if from == stageID {
		return nil
	}
	toName := ""
	var to any
	if stageID != "" {
		l, err := list.Get(conn, wsID, stageID)
		if err != nil || l.Kind != list.Stage {
			return errs.Fields{"stage_id": "Choose a stage of this workspace."}.Err()
		}
		toName, to = l.Name, stageID
	}
	now := time.Now()
	if err := sqlitex.Execute(conn, `UPDATE contacts SET stage_id = ?, stage_changed_at = ? WHERE id = ?`,
		&sqlitex.ExecOptions{Args: []any{to, store.FormatTime(now), id}}); err != nil {
		return fmt.Errorf("set stage: %w", err)
	}
	return activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: activity.Stage, OccurredAt: now, ActorUserID: actor.UserID,
		Summary: fmt.Sprintf("Primary List changed: %s → %s", orNone(fromName), orNone(toName))}, activity.StageBody{From: fromName, To: toName})
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// setTag adds or removes tag on id and logs it; a no-op logs nothing.
func setTag(conn *sqlite.Conn, actor auth.Actor, wsID, id, tagID string, add bool) error {
	l, err := list.Get(conn, wsID, tagID)
	if err != nil || l.Kind != list.Tag {
		return errs.Fields{"tag_id": "Choose a tag of this workspace."}.Err()
	}
	q := `INSERT OR IGNORE INTO contact_tags (contact_id, list_id) VALUES (?, ?)`
	verb := "added"
	if !add {
		q, verb = `DELETE FROM contact_tags WHERE contact_id = ? AND list_id = ?`, "removed"
	}
	if err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: []any{id, tagID}}); err != nil {
		return fmt.Errorf("tag %s: %w", verb, err)
	}
	if conn.Changes() == 0 {
		return nil
	}
	return activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: activity.Tag, ActorUserID: actor.UserID,
		Summary: fmt.Sprintf("Tag %s: %s", verb, l.Name)}, activity.TagBody{Tag: l.Name, Added: add})
}

// Bulk applies one action to several contacts of wsID in one transaction:
// stageID moves them (when set), tagID is added or removed (when set). Any
// id not in the workspace makes the whole call NotFound, changing nothing.
func (s *Store) Bulk(ctx context.Context, actor auth.Actor, wsID string, ids []string, stageID *string, tagID string, addTag bool) error {
	if len(ids) == 0 {
		return errs.Fields{"ids": "Select at least one contact."}.Err()
	}
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := workspace.Owned(conn, actor, wsID); err != nil {
			return err
		}
		if err := allIn(conn, wsID, ids); err != nil {
			return err
		}
		for _, id := range ids {
			if stageID != nil {
				if err := setStage(conn, actor, wsID, id, *stageID); err != nil {
					return err
				}
			}
			if tagID != "" {
				if err := setTag(conn, actor, wsID, id, tagID, addTag); err != nil {
					return err
				}
			}
		}
		return audit.Record(conn, actor.Audit("contact.bulk", "workspace", wsID, map[string]any{"contacts": len(ids), "stage_id": stageID, "tag_id": tagID, "add": addTag}))
	})
}

// SetTag adds or removes one tag on contact id.
func (s *Store) SetTag(ctx context.Context, actor auth.Actor, wsID, id, tagID string, add bool) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := ownContact(conn, actor, wsID, id); err != nil {
			return err
		}
		if err := setTag(conn, actor, wsID, id, tagID, add); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit("contact.tag", "contact", id, map[string]any{"tag_id": tagID, "add": add}))
	})
}

// AddTagNamed adds the tag named name to contact id, making the tag when
// the workspace has none of that name, in one transaction: a contact that
// is not the actor's (NotFound) or a bad name (Invalid) leaves no tag
// behind.
func (s *Store) AddTagNamed(ctx context.Context, actor auth.Actor, wsID, id, name string) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := ownContact(conn, actor, wsID, id); err != nil {
			return err
		}
		l, created, err := list.Ensure(conn, wsID, list.Tag, name)
		if err != nil {
			return errs.Fields{"new_tag": errs.As(err).Message}.Err()
		}
		if created {
			if err := audit.Record(conn, actor.Audit("list.create", "list", l.ID, map[string]any{"workspace_id": wsID, "kind": string(list.Tag), "name": l.Name})); err != nil {
				return err
			}
		}
		if err := setTag(conn, actor, wsID, id, l.ID, true); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit("contact.tag", "contact", id, map[string]any{"tag_id": l.ID, "add": true}))
	})
}

// Promote makes email or phone itemID the contact's primary one.
func (s *Store) Promote(ctx context.Context, actor auth.Actor, wsID, id, itemID string) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := ownContact(conn, actor, wsID, id); err != nil {
			return err
		}
		for _, table := range []string{"contact_emails", "contact_phones"} {
			var found bool
			if err := sqlitex.Execute(conn, `SELECT 1 FROM `+table+` WHERE id = ? AND contact_id = ?`, &sqlitex.ExecOptions{
				Args: []any{itemID, id}, ResultFunc: func(*sqlite.Stmt) error { found = true; return nil }}); err != nil {
				return fmt.Errorf("promote: %w", err)
			}
			if !found {
				continue
			}
			// Clear first: the partial unique index allows one primary.
			if err := sqlitex.Execute(conn, `UPDATE `+table+` SET is_primary = 0 WHERE contact_id = ?`, &sqlitex.ExecOptions{Args: []any{id}}); err != nil {
				return fmt.Errorf("promote: %w", err)
			}
			if err := sqlitex.Execute(conn, `UPDATE `+table+` SET is_primary = 1 WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{itemID}}); err != nil {
				return fmt.Errorf("promote: %w", err)
			}
			return audit.Record(conn, actor.Audit("contact.promote", "contact", id, map[string]any{"item_id": itemID}))
		}
		return errs.NotFoundf("No such email or phone on this contact.")
	})
}

// Delete deletes contact id with its emails, phones, tags and log.
func (s *Store) Delete(ctx context.Context, actor auth.Actor, wsID, id string) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := workspace.Owned(conn, actor, wsID); err != nil {
			return err
		}
		c, err := load(conn, wsID, id)
		if err != nil {
			return err
		}
		if err := deleteContact(conn, id); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit("contact.delete", "contact", id, map[string]any{"workspace_id": wsID, "name": c.Name()}))
	})
}

func deleteContact(conn *sqlite.Conn, id string) error {
	if err := sqlitex.Execute(conn, `DELETE FROM contacts_fts WHERE rowid = (SELECT rowid FROM contacts WHERE id = ?)`, &sqlitex.ExecOptions{Args: []any{id}}); err != nil {
		return fmt.Errorf("unindex contact: %w", err)
	}
	if err := sqlitex.Execute(conn, `DELETE FROM contacts WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{id}}); err != nil {
		return fmt.Errorf("delete contact: %w", err)
	}
	return nil
}

// Get returns contact id of the actor's workspace wsID, or NotFound.
func (s *Store) Get(ctx context.Context, actor auth.Actor, wsID, id string) (Contact, error) {
	var c Contact
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		if err := workspace.Owned(conn, actor, wsID); err != nil {
			return err
		}
		var err error
		c, err = load(conn, wsID, id)
		return err
	})
	return c, err
}

// ownContact returns NotFound unless contact id is in workspace wsID and
// the workspace is the actor's.
func ownContact(conn *sqlite.Conn, actor auth.Actor, wsID, id string) error {
	if err := workspace.Owned(conn, actor, wsID); err != nil {
		return err
	}
	ok, err := exists(conn, wsID, id)
	if err != nil {
		return err
	}
	if !ok {
		return errNotFound
	}
	return nil
}

// allIn returns NotFound unless every one of ids is a contact of wsID.
func allIn(conn *sqlite.Conn, wsID string, ids []string) error {
	for _, id := range ids {
		ok, err := exists(conn, wsID, id)
		if err != nil {
			return err
		}
		if !ok {
			return errNotFound
		}
	}
	return nil
}

func exists(conn *sqlite.Conn, wsID, id string) (bool, error) {
	var found bool
	err := sqlitex.Execute(conn, `SELECT 1 FROM contacts WHERE id = ? AND workspace_id = ?`, &sqlitex.ExecOptions{
		Args: []any{id, wsID}, ResultFunc: func(*sqlite.Stmt) error { found = true; return nil }})
	if err != nil {
		return false, fmt.Errorf("check contact: %w", err)
	}
	return found, nil
}

const contactColumns = `c.id, c.workspace_id, c.first_name, c.last_name, c.company, coalesce(c.stage_id, ''), coalesce(st.name, ''), c.stage_changed_at,
	c.birthday_month, c.birthday_day, c.birthday_year, c.marital_status, coalesce(c.spouse_id, ''),
	coalesce(sp.first_name || ' ' || sp.last_name, ''), c.children, c.pets, c.referred_by, coalesce(c.referred_by_id, ''),
	coalesce(rb.first_name || ' ' || rb.last_name, ''), c.file_notes, c.do_not_contact, c.copied_from, c.created_at, c.updated_at, c.last_contact_at,
	coalesce((SELECT address FROM contact_emails WHERE contact_id = c.spouse_id AND is_primary = 1), ''),
	coalesce((SELECT address FROM contact_emails WHERE contact_id = c.referred_by_id AND is_primary = 1), ''),
	c.middle_name, c.nickname, c.job_title, c.website, c.address`

const contactFrom = ` FROM contacts c LEFT JOIN lists st ON st.id = c.stage_id
	LEFT JOIN contacts sp ON sp.id = c.spouse_id LEFT JOIN contacts rb ON rb.id = c.referred_by_id `

func optTime(stmt *sqlite.Stmt, col int) (*time.Time, error) {
	if stmt.ColumnType(col) == sqlite.TypeNull {
		return nil, nil
	}
	t, err := store.ParseTime(stmt.ColumnText(col))
	return &t, err
}

func scanContact(stmt *sqlite.Stmt) (Contact, error) {
	c := Contact{ID: stmt.ColumnText(0), WorkspaceID: stmt.ColumnText(1), FirstName: stmt.ColumnText(2), LastName: stmt.ColumnText(3),
		Company: stmt.ColumnText(4), StageID: stmt.ColumnText(5), StageName: stmt.ColumnText(6), MaritalStatus: stmt.ColumnText(11),
		Children: stmt.ColumnText(14), Pets: stmt.ColumnText(15), ReferredBy: stmt.ColumnText(16), FileNotes: stmt.ColumnText(19),
		DoNotContact: stmt.ColumnBool(20), CopiedFrom: stmt.ColumnText(21), Emails: []Email{}, Phones: []Phone{}, Tags: []Tag{},
		MiddleName: stmt.ColumnText(27), Nickname: stmt.ColumnText(28), JobTitle: stmt.ColumnText(29), Website: stmt.ColumnText(30), Address: stmt.ColumnText(31)}
	var err error
	if c.StageChangedAt, err = optTime(stmt, 7); err != nil {
		return c, err
	}
	if stmt.ColumnType(8) != sqlite.TypeNull {
		c.Birthday = &Birthday{Month: stmt.ColumnInt(8), Day: stmt.ColumnInt(9), Year: stmt.ColumnInt(10)}
	}
	if id := stmt.ColumnText(12); id != "" {
		c.Spouse = &Ref{ID: id, Name: strings.TrimSpace(stmt.ColumnText(13)), Email: stmt.ColumnText(25)}
	}
	if id := stmt.ColumnText(17); id != "" {
		c.ReferredByRef = &Ref{ID: id, Name: strings.TrimSpace(stmt.ColumnText(18)), Email: stmt.ColumnText(26)}
	}
	if c.CreatedAt, err = store.ParseTime(stmt.ColumnText(22)); err != nil {
		return c, err
	}
	if c.UpdatedAt, err = store.ParseTime(stmt.ColumnText(23)); err != nil {
		return c, err
	}
	c.LastContactAt, err = optTime(stmt, 24)
	return c, err
}

// load reads contact id of wsID with its emails, phones and tags.
func load(conn *sqlite.Conn, wsID, id string) (Contact, error) {
	var (
		c     Contact
		found bool
	)
	err := sqlitex.Execute(conn, `SELECT `+contactColumns+contactFrom+`WHERE c.id = ? AND c.workspace_id = ?`, &sqlitex.ExecOptions{
		Args: []any{id, wsID},
		ResultFunc: func(stmt *sqlite.Stmt) (err error) {
			found = true
			c, err = scanContact(stmt)
			return err
		},
	})
	if err != nil {
		return Contact{}, fmt.Errorf("load contact: %w", err)
	}
	if !found {
		return Contact{}, errNotFound
	}
	return c, loadItems(conn, &c)
}

func loadItems(conn *sqlite.Conn, c *Contact) error {
	if err := sqlitex.Execute(conn, `SELECT id, address, label, is_primary FROM contact_emails WHERE contact_id = ? ORDER BY is_primary DESC, id`, &sqlitex.ExecOptions{
		Args: []any{c.ID}, ResultFunc: func(stmt *sqlite.Stmt) error {
			c.Emails = append(c.Emails, Email{ID: stmt.ColumnText(0), Address: stmt.ColumnText(1), Label: stmt.ColumnText(2), Primary: stmt.ColumnBool(3)})
			return nil
		}}); err != nil {
		return fmt.Errorf("load emails: %w", err)
	}
	if err := sqlitex.Execute(conn, `SELECT id, e164, label, is_primary FROM contact_phones WHERE contact_id = ? ORDER BY is_primary DESC, id`, &sqlitex.ExecOptions{
		Args: []any{c.ID}, ResultFunc: func(stmt *sqlite.Stmt) error {
			c.Phones = append(c.Phones, Phone{ID: stmt.ColumnText(0), Number: stmt.ColumnText(1), Label: stmt.ColumnText(2), Primary: stmt.ColumnBool(3)})
			return nil
		}}); err != nil {
		return fmt.Errorf("load phones: %w", err)
	}
	if err := sqlitex.Execute(conn, `SELECT l.id, l.name FROM contact_tags t JOIN lists l ON l.id = t.list_id WHERE t.contact_id = ? ORDER BY l.name COLLATE NOCASE`, &sqlitex.ExecOptions{
		Args: []any{c.ID}, ResultFunc: func(stmt *sqlite.Stmt) error {
			c.Tags = append(c.Tags, Tag{ID: stmt.ColumnText(0), Name: stmt.ColumnText(1)})
			return nil
		}}); err != nil {
		return fmt.Errorf("load tags: %w", err)
	}
	if err := loadCustom(conn, c); err != nil {
		return fmt.Errorf("load custom values: %w", err)
	}
	return nil
}
