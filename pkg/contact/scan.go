package contact

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// ownContact returns NotFound unless contact id is in workspace wsID and
// the workspace is the actor's.
func ownContact(conn *sqlite.Conn, actor auth.Actor, wsID, id string) error {
	if err := workspace.Owned(conn, actor, wsID); err != nil {
		return err
	}
	return allIn(conn, wsID, []string{id})
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
	found, err := store.Exists(conn, `SELECT 1 FROM contacts WHERE id = ? AND workspace_id = ?`, id, wsID)
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

// LoadIn returns contact id of workspace wsID inside the caller's
// transaction, or NotFound; the caller has checked the workspace is the
// actor's (workspace.Read).
func LoadIn(conn *sqlite.Conn, wsID, id string) (Contact, error) { return load(conn, wsID, id) }

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

// CustomValuesIn returns the custom values of the contacts of workspace
// wsID among ids (by contact, then field id), inside the caller's
// transaction, 500 contacts a query: for filling a campaign's messages.
func CustomValuesIn(conn *sqlite.Conn, wsID string, ids []string) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		list, err := json.Marshal(chunk)
		if err != nil {
			return nil, fmt.Errorf("custom values: %w", err)
		}
		if err := sqlitex.Execute(conn, `SELECT v.contact_id, v.field_id, v.value FROM custom_values v JOIN contacts c ON c.id = v.contact_id AND c.workspace_id = ?
WHERE v.contact_id IN (SELECT value FROM json_each(?))`, &sqlitex.ExecOptions{Args: []any{wsID, string(list)},
			ResultFunc: func(st *sqlite.Stmt) error {
				id := st.ColumnText(0)
				if out[id] == nil {
					out[id] = map[string]string{}
				}
				out[id][st.ColumnText(1)] = st.ColumnText(2)
				return nil
			}}); err != nil {
			return nil, fmt.Errorf("custom values: %w", err)
		}
	}
	return out, nil
}
