package contact

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// ExportRow is one contact as an export writes it.
type ExportRow struct {
	ID            string
	FirstName     string
	LastName      string
	MiddleName    string
	Nickname      string
	Company       string
	JobTitle      string
	Website       string
	Address       string
	SpouseID      string // another contact of the workspace
	ReferredByID  string
	Emails        []Email // the primary first
	Phones        []Phone // the primary first
	Stage         string
	Tags          []string
	Birthday      *Birthday
	MaritalStatus string
	Children      string
	Pets          string
	ReferredBy    string
	FileNotes     string
	DoNotContact  bool
	CreatedAt     time.Time
	LastContactAt *time.Time
	Custom        map[string]string // field id -> value
}

// The export reads the contacts and, beside them, their emails, phones,
// tags and custom values as streams ordered by contact id, and merges them
// in step: one pass over each table instead of a subquery per contact.
// Emails and phones are clustered by (contact_id, id): "+workspace_id"
// keeps the planner on that order instead of sorting the workspace's rows
// out of the duplicate index.
const (
	exportContactsSQL = `SELECT c.id, c.first_name, c.last_name, c.company, coalesce(s.name, ''),
	coalesce(c.birthday_month, 0), coalesce(c.birthday_day, 0), coalesce(c.birthday_year, 0),
	c.marital_status, c.children, c.pets, c.referred_by, c.file_notes, c.do_not_contact, c.created_at, coalesce(c.last_contact_at, ''),
	c.middle_name, c.nickname, c.job_title, c.website, c.address, coalesce(c.spouse_id, ''), coalesce(c.referred_by_id, '')
FROM contacts c LEFT JOIN lists s ON s.id = c.stage_id
WHERE c.workspace_id = ?1 AND (?2 IS NULL OR c.id IN (SELECT value FROM json_each(?2))) ORDER BY c.id`
	exportEmailsSQL = `SELECT contact_id, address, label, is_primary FROM contact_emails
WHERE +workspace_id = ?1 ORDER BY contact_id`
	exportPhonesSQL = `SELECT contact_id, e164, label, is_primary FROM contact_phones
WHERE +workspace_id = ?1 ORDER BY contact_id`
	exportTagsSQL = `SELECT t.contact_id, l.name FROM contact_tags t CROSS JOIN lists l ON l.id = t.list_id
WHERE l.workspace_id = ?1 ORDER BY t.contact_id`
	exportCustomSQL = `SELECT contact_id, field_id, value FROM custom_values ORDER BY contact_id`
)

// side is one ordered stream beside the contacts.
type side struct {
	st   *sqlite.Stmt
	more bool
	err  error
}

func newSide(conn *sqlite.Conn, q string, wsID string) *side {
	st := conn.Prep(q)
	if st.BindParamCount() > 0 {
		st.BindText(1, wsID)
	}
	sd := &side{st: st}
	sd.next()
	return sd
}

func (sd *side) next() { sd.more, sd.err = sd.st.Step() }

// take calls fn for each row of contact id, skipping rows of contacts
// before it (other workspaces' or unselected ones).
func (sd *side) take(id string, fn func(st *sqlite.Stmt)) error {
	for sd.more && sd.err == nil {
		cid := sd.st.ColumnText(0)
		if cid > id {
			break
		}
		if cid == id {
			fn(sd.st)
		}
		sd.next()
	}
	return sd.err
}

func (sd *side) close() { sd.st.Reset() }

// Export streams the contacts of the actor's workspace wsID to fn, in id
// (creation) order; ids, when not nil, picks which. It reads in one read
// transaction, so the export is consistent while others write. withCustom
// adds custom values.
func (s *Store) Export(ctx context.Context, actor auth.Actor, wsID string, ids []string, withCustom bool, fn func(*ExportRow) error) error {
	return workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		emails, phones, tags := newSide(conn, exportEmailsSQL, wsID), newSide(conn, exportPhonesSQL, wsID), newSide(conn, exportTagsSQL, wsID)
		defer emails.close()
		defer phones.close()
		defer tags.close()
		var custom *side
		if withCustom {
			custom = newSide(conn, exportCustomSQL, wsID)
			defer custom.close()
		}
		main := conn.Prep(exportContactsSQL)
		defer main.Reset()
		main.BindText(1, wsID)
		if ids != nil {
			b, _ := json.Marshal(ids)
			main.BindText(2, string(b))
		} else {
			main.BindNull(2)
		}
		var row ExportRow
		for {
			more, err := main.Step()
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if !more {
				return nil
			}
			st := main
			row = ExportRow{ID: st.ColumnText(0), FirstName: st.ColumnText(1), LastName: st.ColumnText(2), Company: st.ColumnText(3), Stage: st.ColumnText(4),
				MaritalStatus: st.ColumnText(8), Children: st.ColumnText(9), Pets: st.ColumnText(10), ReferredBy: st.ColumnText(11), FileNotes: st.ColumnText(12),
				DoNotContact: st.ColumnBool(13), MiddleName: st.ColumnText(16), Nickname: st.ColumnText(17), JobTitle: st.ColumnText(18),
				Website: st.ColumnText(19), Address: st.ColumnText(20), SpouseID: st.ColumnText(21), ReferredByID: st.ColumnText(22)}
			if m := st.ColumnInt(5); m != 0 {
				row.Birthday = &Birthday{Month: m, Day: st.ColumnInt(6), Year: st.ColumnInt(7)}
			}
			row.CreatedAt, _ = store.ParseTime(st.ColumnText(14))
			if v := st.ColumnText(15); v != "" {
				if t, err := store.ParseTime(v); err == nil {
					row.LastContactAt = &t
				}
			}
			if err := emails.take(row.ID, func(st *sqlite.Stmt) {
				row.Emails = append(row.Emails, Email{Address: st.ColumnText(1), Label: st.ColumnText(2), Primary: st.ColumnBool(3)})
			}); err != nil {
				return fmt.Errorf("export emails: %w", err)
			}
			if err := phones.take(row.ID, func(st *sqlite.Stmt) {
				row.Phones = append(row.Phones, Phone{Number: st.ColumnText(1), Label: st.ColumnText(2), Primary: st.ColumnBool(3)})
			}); err != nil {
				return fmt.Errorf("export phones: %w", err)
			}
			primaryFirst(row.Emails, func(i int) bool { return row.Emails[i].Primary }, func(i, j int) { row.Emails[i], row.Emails[j] = row.Emails[j], row.Emails[i] })
			primaryFirst(row.Phones, func(i int) bool { return row.Phones[i].Primary }, func(i, j int) { row.Phones[i], row.Phones[j] = row.Phones[j], row.Phones[i] })
			if err := tags.take(row.ID, func(st *sqlite.Stmt) { row.Tags = append(row.Tags, st.ColumnText(1)) }); err != nil {
				return fmt.Errorf("export tags: %w", err)
			}
			if custom != nil {
				if err := custom.take(row.ID, func(st *sqlite.Stmt) {
					if row.Custom == nil {
						row.Custom = map[string]string{}
					}
					row.Custom[st.ColumnText(1)] = st.ColumnText(2)
				}); err != nil {
					return fmt.Errorf("export custom values: %w", err)
				}
			}
			if err := fn(&row); err != nil {
				return err
			}
		}
	})
}

// primaryFirst moves the primary item to the front, keeping the others'
// order (the order they were added in).
func primaryFirst[T any](items []T, primary func(int) bool, swap func(i, j int)) {
	for i := range items {
		if primary(i) {
			for j := i; j > 0; j-- {
				swap(j, j-1)
			}
			return
		}
	}
}

// IDs returns the ids of the contacts a list query selects, all pages of
// it, for an export that honours the list view's filter.
func (s *Store) IDs(ctx context.Context, actor auth.Actor, wsID string, q Query) ([]string, error) {
	q.Limit, q.After = 200, ""
	var ids []string
	for {
		p, err := s.List(ctx, actor, wsID, q)
		if err != nil {
			return nil, err
		}
		for _, r := range p.Rows {
			ids = append(ids, r.ID)
		}
		if p.Next == "" {
			return ids, nil
		}
		q.After = p.Next
	}
}

// ExportLog calls fn with every entry of the communication log of the
// actor's workspace wsID, contact by contact, oldest first.
func (s *Store) ExportLog(ctx context.Context, actor auth.Actor, wsID string, fn func(activity.Entry) error) error {
	return workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		return activity.Each(conn, wsID, fn)
	})
}

// OutShare is one of the actor's contacts shared with another user.
type OutShare struct {
	ContactID   string    `json:"contact_id"`
	WorkspaceID string    `json:"workspace_id"`
	ViewerID    string    `json:"viewer_user_id"`
	ViewerName  string    `json:"viewer_name"`
	ViewerEmail string    `json:"viewer_email"`
	SharedAt    time.Time `json:"shared_at"`
}

// SharesBy lists every contact of the actor's workspaces shared with
// someone, and with whom.
func (s *Store) SharesBy(ctx context.Context, actor auth.Actor) ([]OutShare, error) {
	var out []OutShare
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT s.contact_id, c.workspace_id, s.viewer_user_id, u.name, u.email, s.created_at FROM contact_shares s
JOIN contacts c ON c.id = s.contact_id JOIN workspaces w ON w.id = c.workspace_id JOIN users u ON u.id = s.viewer_user_id
WHERE w.owner_id = ? ORDER BY c.workspace_id, s.contact_id`, &sqlitex.ExecOptions{
			Args: []any{actor.UserID}, ResultFunc: func(st *sqlite.Stmt) error {
				at, err := store.ParseTime(st.ColumnText(5))
				out = append(out, OutShare{ContactID: st.ColumnText(0), WorkspaceID: st.ColumnText(1), ViewerID: st.ColumnText(2),
					ViewerName: st.ColumnText(3), ViewerEmail: st.ColumnText(4), SharedAt: at})
				return err
			}})
	})
	if err != nil {
		return nil, fmt.Errorf("list shares: %w", err)
	}
	return out, nil
}

// RestoreLog writes entries (from an emergency export) back into the
// communication log of the actor's workspace wsID, with their kinds, times,
// summaries and bodies, in one transaction; each names a contact of the
// workspace. The entries' actor is the restoring user when they were the
// exporting user's (byID), else none. It returns NotFound when an entry
// names a contact that is not in the workspace.
func (s *Store) RestoreLog(ctx context.Context, actor auth.Actor, wsID, byID string, entries []activity.Entry) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		known, noted := map[string]bool{}, map[string]bool{}
		for _, e := range entries {
			if !known[e.ContactID] {
				ok, err := exists(conn, wsID, e.ContactID)
				if err != nil {
					return err
				}
				if !ok {
					return errs.New(errs.NotFound, "The log names a contact that is not in this workspace.")
				}
				known[e.ContactID] = true
			}
			e.WorkspaceID, e.ID = wsID, ""
			if e.ActorUserID == byID && byID != "" {
				e.ActorUserID = actor.UserID
			} else {
				e.ActorUserID = ""
			}
			body := e.Body
			if !json.Valid(body) {
				body = json.RawMessage(`{}`)
			}
			if err := activity.Record(conn, e, body); err != nil {
				return err
			}
			if e.Kind == activity.Note {
				noted[e.ContactID] = true
			}
		}
		for id := range noted { // their notes are searchable again
			if err := reindex(conn, id); err != nil {
				return err
			}
		}
		return audit.Record(conn, actor.Audit("contact.restore_log", "workspace", wsID, map[string]any{"entries": len(entries)}))
	})
}
