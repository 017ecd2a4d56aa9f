package contact

import (
	"fmt"
	"html"
	"strings"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/richtext"
)

// indexed is what the full-text index holds of one contact.
type indexed struct {
	names     []string // first, middle and last name, nickname, company, job title
	fileNotes string
	emails    []string
	phones    []string // E.164
	notes     []string // note bodies as stored: sanitized HTML
}

// searchText is the one place that builds a contact's full-text row, for
// every path that writes contacts (create, edit, import, merge, restore):
// names, company and title, loan-file notes, emails, phones (E.164 and the
// national digits, so "8085550123" finds "+18085550123") and the text of
// the notes, tags dropped and entities decoded, so an imported note and an
// edited one index alike ("Tom & Jerry", never "Tom &amp; Jerry").
func searchText(x indexed) string {
	var b strings.Builder
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(s)
		}
	}
	for _, n := range x.names {
		add(n)
	}
	add(x.fileNotes)
	for _, e := range x.emails {
		add(e)
	}
	for _, p := range x.phones {
		add(p)
		add(p[min(2, len(p)):])
	}
	for _, n := range x.notes {
		add(richtext.Text(n))
	}
	return b.String()
}

// noteHTML is a plain-text note (an import's Note column) as a note's body
// stores it.
func noteHTML(text string) string {
	return "<p>" + strings.ReplaceAll(html.EscapeString(text), "\n", "<br>") + "</p>"
}

// reindex rewrites contact id's full-text row from what the database holds.
func reindex(conn *sqlite.Conn, id string) error {
	var x indexed
	var rowid int64
	found := false
	err := sqlitex.Execute(conn, `SELECT rowid, first_name, middle_name, last_name, nickname, company, job_title, file_notes FROM contacts WHERE id = ?`,
		&sqlitex.ExecOptions{Args: []any{id}, ResultFunc: func(st *sqlite.Stmt) error {
			found, rowid = true, st.ColumnInt64(0)
			for i := 1; i <= 6; i++ {
				x.names = append(x.names, st.ColumnText(i))
			}
			x.fileNotes = st.ColumnText(7)
			return nil
		}})
	if err != nil || !found {
		return fmt.Errorf("index contact: %w", err)
	}
	for _, q := range []struct {
		sql string
		dst *[]string
	}{
		{`SELECT address FROM contact_emails WHERE contact_id = ? ORDER BY is_primary DESC, id`, &x.emails},
		{`SELECT e164 FROM contact_phones WHERE contact_id = ? ORDER BY is_primary DESC, id`, &x.phones},
		{`SELECT coalesce(json_extract(body, '$.html'), '') FROM activities WHERE contact_id = ? AND kind = 'note' ORDER BY occurred_at, id`, &x.notes},
	} {
		if err := sqlitex.Execute(conn, q.sql, &sqlitex.ExecOptions{Args: []any{id}, ResultFunc: func(st *sqlite.Stmt) error {
			*q.dst = append(*q.dst, st.ColumnText(0))
			return nil
		}}); err != nil {
			return fmt.Errorf("index contact: %w", err)
		}
	}
	if err := sqlitex.Execute(conn, `INSERT OR REPLACE INTO contacts_fts (rowid, body) VALUES (?, ?)`, &sqlitex.ExecOptions{
		Args: []any{rowid, searchText(x)}}); err != nil {
		return fmt.Errorf("index contact: %w", err)
	}
	return nil
}
