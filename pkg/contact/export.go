package contact

import (
	"context"
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

// ExportRow is one contact as an export writes it.
type ExportRow struct {
	ID            string
	FirstName     string
	LastName      string
	Company       string
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

// exportSQL reads a contact with its emails, phones and tags in one row:
// items are joined with the ASCII unit (31) and record (30) separators,
// which no validated text contains.
const exportSQL = `SELECT c.id, c.first_name, c.last_name, c.company, coalesce(s.name, ''),
	coalesce(c.birthday_month, 0), coalesce(c.birthday_day, 0), coalesce(c.birthday_year, 0),
	c.marital_status, c.children, c.pets, c.referred_by, c.file_notes, c.do_not_contact, c.created_at, coalesce(c.last_contact_at, ''),
	coalesce((SELECT group_concat(address || char(31) || label || char(31) || is_primary, char(30)) FROM
		(SELECT address, label, is_primary FROM contact_emails WHERE contact_id = c.id ORDER BY is_primary DESC, rowid)), ''),
	coalesce((SELECT group_concat(e164 || char(31) || label || char(31) || is_primary, char(30)) FROM
		(SELECT e164, label, is_primary FROM contact_phones WHERE contact_id = c.id ORDER BY is_primary DESC, rowid)), ''),
	coalesce((SELECT group_concat(l.name, char(30)) FROM contact_tags t JOIN lists l ON l.id = t.list_id WHERE t.contact_id = c.id), ''),
	%s
FROM contacts c LEFT JOIN lists s ON s.id = c.stage_id
WHERE c.workspace_id = ? %s ORDER BY c.rowid`

// Export streams the contacts of the actor's workspace wsID to fn, in the
// order they were added; ids, when not nil, picks which. It reads in one
// read transaction, so the export is consistent while others write.
// withCustom adds custom values.
func (s *Store) Export(ctx context.Context, actor auth.Actor, wsID string, ids []string, withCustom bool, fn func(*ExportRow) error) error {
	return s.db.Read(ctx, func(conn *sqlite.Conn) error {
		if err := workspace.Owned(conn, actor, wsID); err != nil {
			return err
		}
		custom, filter := "''", ""
		args := []any{wsID}
		if withCustom {
			custom = `coalesce((SELECT json_group_object(field_id, value) FROM custom_values WHERE contact_id = c.id), '')`
		}
		if ids != nil {
			b, _ := json.Marshal(ids)
			filter = "AND c.id IN (SELECT value FROM json_each(?))"
			args = append(args, string(b))
		}
		var row ExportRow
		return sqlitex.Execute(conn, fmt.Sprintf(exportSQL, custom, filter), &sqlitex.ExecOptions{Args: args, ResultFunc: func(st *sqlite.Stmt) error {
			row = ExportRow{ID: st.ColumnText(0), FirstName: st.ColumnText(1), LastName: st.ColumnText(2), Company: st.ColumnText(3), Stage: st.ColumnText(4),
				MaritalStatus: st.ColumnText(8), Children: st.ColumnText(9), Pets: st.ColumnText(10), ReferredBy: st.ColumnText(11), FileNotes: st.ColumnText(12),
				DoNotContact: st.ColumnBool(13)}
			if m := st.ColumnInt(5); m != 0 {
				row.Birthday = &Birthday{Month: m, Day: st.ColumnInt(6), Year: st.ColumnInt(7)}
			}
			row.CreatedAt, _ = store.ParseTime(st.ColumnText(14))
			if v := st.ColumnText(15); v != "" {
				if t, err := store.ParseTime(v); err == nil {
					row.LastContactAt = &t
				}
			}
			for _, it := range splitItems(st.ColumnText(16)) {
				row.Emails = append(row.Emails, Email{Address: it[0], Label: it[1], Primary: it[2] == "1"})
			}
			for _, it := range splitItems(st.ColumnText(17)) {
				row.Phones = append(row.Phones, Phone{Number: it[0], Label: it[1], Primary: it[2] == "1"})
			}
			if v := st.ColumnText(18); v != "" {
				row.Tags = strings.Split(v, "\x1e")
			}
			if v := st.ColumnText(19); v != "" {
				if err := json.Unmarshal([]byte(v), &row.Custom); err != nil {
					return fmt.Errorf("export %s: custom values: %w", row.ID, err)
				}
			}
			return fn(&row)
		}})
	})
}

func splitItems(v string) [][3]string {
	if v == "" {
		return nil
	}
	recs := strings.Split(v, "\x1e")
	out := make([][3]string, 0, len(recs))
	for _, r := range recs {
		f := strings.SplitN(r, "\x1f", 3)
		if len(f) == 3 {
			out = append(out, [3]string{f[0], f[1], f[2]})
		}
	}
	return out
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
