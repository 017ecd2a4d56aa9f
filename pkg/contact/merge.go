package contact

import (
	"context"
	"fmt"
	"strings"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// MergeFields are the fields whose value a merge takes from one side.
var MergeFields = []string{"first_name", "middle_name", "last_name", "nickname", "company", "job_title", "website", "address", "stage", "birthday", "marital_status", "spouse",
	"children", "pets", "referred_by", "file_notes", "do_not_contact"}

// MergeChoice says which side each field comes from and which email and
// phone become primary. Fields missing from Take come from the target.
type MergeChoice struct {
	Take         map[string]string `json:"take"`          // field -> "target" or "source"
	PrimaryEmail string            `json:"primary_email"` // an address of either side; "" keeps the target's
	PrimaryPhone string            `json:"primary_phone"` // an E.164 number of either side; "" keeps the target's
	// TakeCustom lists custom fields (by id) whose value comes from the
	// source; the others keep the target's value, or take the source's when
	// the target has none.
	TakeCustom []string `json:"take_custom"`
}

func (m MergeChoice) source(field string) bool { return m.Take[field] == "source" }

// Merge folds contact sourceID into targetID in one transaction: each field
// by the choice, every email and phone of both kept (with their labels) and
// the chosen ones primary, tags and custom values of both, every log entry
// moved, links and shares pointing at the source moved to the target, then
// the source deleted. The merge is logged on the target and audited. It
// returns NotFound when either contact is not in the actor's workspace and
// Invalid for a bad choice; on any error nothing changes.
func (s *Store) Merge(ctx context.Context, actor auth.Actor, wsID, targetID, sourceID string, ch MergeChoice) (Contact, error) {
	var c Contact
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		t, err := load(conn, wsID, targetID)
		if err != nil {
			return err
		}
		if targetID == sourceID {
			return errs.Fields{"source_id": "Choose two different contacts."}.Err()
		}
		c, err = s.mergeInto(conn, actor, wsID, t, sourceID, ch)
		return err
	})
	return c, err
}

// mergeInto merges contact sourceID into the loaded target t and returns
// the target as it is afterwards, inside the caller's transaction.
func (s *Store) mergeInto(conn *sqlite.Conn, actor auth.Actor, wsID string, t Contact, sourceID string, ch MergeChoice) (Contact, error) {
	src, err := load(conn, wsID, sourceID)
	if err != nil {
		return Contact{}, err
	}
	if err := s.merge(conn, actor, wsID, t, src, ch); err != nil {
		return Contact{}, err
	}
	return load(conn, wsID, t.ID)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Store) merge(conn *sqlite.Conn, actor auth.Actor, wsID string, t, src Contact, ch MergeChoice) error {
	for f, side := range ch.Take {
		if !contains(MergeFields, f) || (side != "target" && side != "source") {
			return errs.Fields{"take": fmt.Sprintf("Unknown choice %q: %q.", f, side)}.Err()
		}
	}
	pick := func(field string, tv, sv string) *string {
		if ch.source(field) {
			return &sv
		}
		return &tv
	}
	f := Fields{
		FirstName:     pick("first_name", t.FirstName, src.FirstName),
		LastName:      pick("last_name", t.LastName, src.LastName),
		MiddleName:    pick("middle_name", t.MiddleName, src.MiddleName),
		Nickname:      pick("nickname", t.Nickname, src.Nickname),
		Company:       pick("company", t.Company, src.Company),
		JobTitle:      pick("job_title", t.JobTitle, src.JobTitle),
		Website:       pick("website", t.Website, src.Website),
		Address:       pick("address", t.Address, src.Address),
		MaritalStatus: pick("marital_status", t.MaritalStatus, src.MaritalStatus),
		Children:      pick("children", t.Children, src.Children),
		Pets:          pick("pets", t.Pets, src.Pets),
		ReferredBy:    pick("referred_by", t.ReferredBy, src.ReferredBy),
		FileNotes:     pick("file_notes", t.FileNotes, src.FileNotes),
	}
	dnc := t.DoNotContact
	bd := t.Birthday
	if ch.source("do_not_contact") {
		dnc = src.DoNotContact
	}
	if ch.source("birthday") {
		bd = src.Birthday
	}
	f.DoNotContact, f.Birthday = &dnc, &bd
	if ch.source("stage") {
		f.StageID = &src.StageID
	}

	// Emails and phones: the target's, then the source's not already there.
	var emails []EmailInput
	seen := map[string]bool{}
	for _, e := range append(append([]Email{}, t.Emails...), src.Emails...) {
		if k := strings.ToLower(e.Address); !seen[k] {
			seen[k] = true
			emails = append(emails, EmailInput{Address: e.Address, Label: e.Label})
		}
	}
	if err := choosePrimary(len(emails), func(i int) string { return emails[i].Address }, func(i int) { emails[i].Primary = true }, ch.PrimaryEmail, t.PrimaryEmail(), "primary_email", strings.EqualFold); err != nil {
		return err
	}
	var phones []PhoneInput
	seenP := map[string]bool{}
	for _, p := range append(append([]Phone{}, t.Phones...), src.Phones...) {
		if !seenP[p.Number] {
			seenP[p.Number] = true
			phones = append(phones, PhoneInput{Number: p.Number, Label: p.Label})
		}
	}
	if err := choosePrimary(len(phones), func(i int) string { return phones[i].Number }, func(i int) { phones[i].Primary = true }, ch.PrimaryPhone, t.PrimaryPhone(), "primary_phone", func(a, b string) bool { return a == b }); err != nil {
		return err
	}
	f.Emails, f.Phones = &emails, &phones

	region, err := workspace.PhoneRegion(conn, wsID)
	if err != nil {
		return err
	}
	n, err := check(&f, region, s.phones)
	if err != nil {
		return err
	}
	// Links to the source now point at the target, before it goes.
	for _, q := range []string{
		`INSERT OR IGNORE INTO contact_tags (contact_id, list_id) SELECT ?, list_id FROM contact_tags WHERE contact_id = ?`,
		`INSERT OR IGNORE INTO custom_values (contact_id, field_id, value) SELECT ?, field_id, value FROM custom_values WHERE contact_id = ?`,
		// (custom values chosen from the source are overwritten below)
		`INSERT OR IGNORE INTO contact_shares (contact_id, viewer_user_id, created_at) SELECT ?, viewer_user_id, created_at FROM contact_shares WHERE contact_id = ?`,
		`UPDATE contacts SET referred_by_id = ? WHERE referred_by_id = ?`,
	} {
		if err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: []any{t.ID, src.ID}}); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
	}
	for _, fid := range ch.TakeCustom {
		q := `DELETE FROM custom_values WHERE contact_id = ? AND field_id = ?`
		args := []any{t.ID, fid}
		if v, ok := src.Custom[fid]; ok {
			q = `INSERT INTO custom_values (contact_id, field_id, value) VALUES (?, ?, ?) ON CONFLICT (contact_id, field_id) DO UPDATE SET value = excluded.value`
			args = []any{t.ID, fid, v}
		}
		if err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args}); err != nil {
			return fmt.Errorf("merge custom value: %w", err)
		}
	}
	if err := activity.MoveAll(conn, src.ID, t.ID); err != nil {
		return err
	}
	spouse := t.Spouse
	if ch.source("spouse") {
		spouse = src.Spouse
	}
	if src.LastContactAt != nil {
		at := store.FormatTime(*src.LastContactAt)
		if err := sqlitex.Execute(conn, `UPDATE contacts SET last_contact_at = ? WHERE id = ? AND (last_contact_at IS NULL OR last_contact_at < ?)`,
			&sqlitex.ExecOptions{Args: []any{at, t.ID, at}}); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
	}
	if err := deleteContact(conn, src.ID); err != nil {
		return err
	}
	spouseID := ""
	if spouse != nil && spouse.ID != t.ID && spouse.ID != src.ID {
		spouseID = spouse.ID
	}
	f.SpouseID = &spouseID
	if err := apply(conn, actor, wsID, t.ID, f, n, t); err != nil {
		return err
	}
	if err := activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: t.ID, Kind: activity.System, ActorUserID: actor.UserID,
		Summary: "Merged with " + src.Name()}, activity.SystemBody{Event: "merged", Details: map[string]any{"source_contact_id": src.ID, "source_name": src.Name(), "take": ch.Take}}); err != nil {
		return err
	}
	return audit.Record(conn, actor.Audit("contact.merge", "contact", t.ID, map[string]any{"source_contact_id": src.ID, "workspace_id": wsID}))
}

// choosePrimary marks the item equal to want (or, when want is "", to
// fallback, or else the first) as primary.
func choosePrimary(n int, get func(int) string, mark func(int), want, fallback, field string, eq func(a, b string) bool) error {
	if n == 0 {
		if want != "" {
			return errs.Fields{field: "Neither contact has that value."}.Err()
		}
		return nil
	}
	target := want
	if target == "" {
		target = fallback
	}
	for i := 0; i < n; i++ {
		if target != "" && eq(get(i), target) {
			mark(i)
			return nil
		}
	}
	if want != "" {
		return errs.Fields{field: "Neither contact has that value."}.Err()
	}
	mark(0)
	return nil
}

// CreateMerged creates a contact from f and merges it straight into
// targetID with ch, in one transaction: the "Merge" answer to a duplicate
// found while creating. Errors as for Create and Merge.
func (s *Store) CreateMerged(ctx context.Context, actor auth.Actor, wsID string, f Fields, targetID string, ch MergeChoice) (Contact, error) {
	var c Contact
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		t, err := load(conn, wsID, targetID)
		if err != nil {
			return err
		}
		id, err := s.create(conn, actor, wsID, f, true, "")
		if err != nil {
			return err
		}
		c, err = s.mergeInto(conn, actor, wsID, t, id, ch)
		return err
	})
	return c, err
}
