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
	// phones reads the numbers people type (pkg/phone's Normalize).
	phones PhoneParser
	// notes is the rich-text allow-list, built once: a bluemonday policy
	// compiles its patterns when made, and is safe for concurrent use.
	notes *richtext.Policy
}

// NewStore returns a Store over db that reads typed phone numbers with
// phones (pkg/phone's Normalize).
func NewStore(db *store.DB, phones PhoneParser) *Store {
	return &Store{db: db, phones: phones, notes: richtext.New()}
}

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

// Create adds a contact to the actor's workspace wsID. A contact sharing an
// email or phone with another answers a Conflict error with code "duplicate"
// (see Matches) unless keepSeparate. It returns NotFound for another user's
// workspace and Invalid naming each bad field.
func (s *Store) Create(ctx context.Context, actor auth.Actor, wsID string, f Fields, keepSeparate bool) (Contact, error) {
	var c Contact
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		id, err := s.create(conn, actor, wsID, f, keepSeparate, "")
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
func (s *Store) create(conn *sqlite.Conn, actor auth.Actor, wsID string, f Fields, keepSeparate bool, copiedFrom string) (string, error) {
	region, err := workspace.PhoneRegion(conn, wsID)
	if err != nil {
		return "", err
	}
	n, err := check(&f, region, s.phones)
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
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		old, err := load(conn, wsID, id)
		if err != nil {
			return err
		}
		region, err := workspace.PhoneRegion(conn, wsID)
		if err != nil {
			return err
		}
		n, err := check(&f, region, s.phones)
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

// Delete deletes contact id with its emails, phones, tags and log.
func (s *Store) Delete(ctx context.Context, actor auth.Actor, wsID, id string) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
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
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		c, err = load(conn, wsID, id)
		return err
	})
	return c, err
}
