package contact

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Query selects and orders a page of a workspace's contacts.
type Query struct {
	StageID   string   // only this stage; "none" for contacts without one
	TagIDs    []string // in every one of these tags
	StaleDays int      // last contact older than this many days (or never)
	Search    string   // full-text, prefix match on every word
	Sort      string   // created (default), first_name, last_name, company, last_contact
	Asc       bool     // ascending; the default is descending
	After     string   // cursor from the previous page
	Limit     int      // default 50, at most 200
}

// Row is one line of the contact list.
type Row struct {
	ID            string     `json:"id"`
	CreatedAt     time.Time  `json:"created_at"`
	FirstName     string     `json:"first_name"`
	LastName      string     `json:"last_name"`
	Company       string     `json:"company"`
	PrimaryEmail  string     `json:"primary_email"`
	PrimaryPhone  string     `json:"primary_phone"`
	Stage         string     `json:"stage"`
	LastContactAt *time.Time `json:"last_contact_at"`
}

// Page is one page of rows; Next is the cursor for the following page.
type Page struct {
	Rows []Row  `json:"rows"`
	Next string `json:"next"`
}

var sortColumns = map[string]string{
	"created":      "c.id",
	"first_name":   "c.first_name COLLATE NOCASE",
	"last_name":    "c.last_name COLLATE NOCASE",
	"company":      "c.company COLLATE NOCASE",
	"last_contact": "coalesce(c.last_contact_at, '')",
}

// SortKeys lists the accepted Sort values.
var SortKeys = []string{"created", "first_name", "last_name", "company", "last_contact"}

type cursor struct {
	V  string `json:"v"`
	ID string `json:"id"`
}

func encodeCursor(v, id string) string {
	b, _ := json.Marshal(cursor{v, id})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return c, errs.Fields{"after": "This page link is not valid; start again from the first page."}.Err()
	}
	return c, nil
}

// MatchQuery turns what a user typed into an FTS5 query: every word must
// match as a prefix. A phone-looking query becomes its digits. Quotes are
// escaped, so no input is an FTS syntax error.
func MatchQuery(q string) string {
	q = strings.TrimSpace(q)
	digits := strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) {
			return r
		}
		return -1
	}, q)
	if len(digits) >= 3 && strings.Trim(q, "0123456789+-(). ") == "" {
		return `"` + digits + `"*`
	}
	var terms []string
	for _, w := range strings.FieldsFunc(q, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '@' && r != '.' && r != '_' && r != '-'
	}) {
		terms = append(terms, `"`+strings.ReplaceAll(w, `"`, `""`)+`"*`)
	}
	return strings.Join(terms, " AND ")
}

// List returns a page of the actor's workspace wsID. It returns NotFound
// for another user's workspace and Invalid for a bad sort or cursor.
func (s *Store) List(ctx context.Context, actor auth.Actor, wsID string, q Query) (Page, error) {
	col, ok := sortColumns[q.Sort]
	if q.Sort == "" {
		col, ok = sortColumns["created"], true
	}
	if !ok {
		return Page{}, errs.Fields{"sort": "Sort by one of: " + strings.Join(SortKeys, ", ") + "."}.Err()
	}
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = 50
	}
	where := []string{"c.workspace_id = ?"}
	args := []any{wsID}
	switch q.StageID {
	case "":
	case "none":
		where = append(where, "c.stage_id IS NULL")
	default:
		where = append(where, "c.stage_id = ?")
		args = append(args, q.StageID)
	}
	for _, t := range q.TagIDs {
		where = append(where, "EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.list_id = ?)")
		args = append(args, t)
	}
	if q.StaleDays > 0 {
		where = append(where, "coalesce(c.last_contact_at, '') < ?")
		args = append(args, store.FormatTime(time.Now().AddDate(0, 0, -q.StaleDays)))
	}
	if m := MatchQuery(q.Search); m != "" {
		where = append(where, "c.rowid IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?)")
		args = append(args, m)
	}
	op, dir := "<", "DESC"
	if q.Asc {
		op, dir = ">", "ASC"
	}
	if q.After != "" {
		cur, err := decodeCursor(q.After)
		if err != nil {
			return Page{}, err
		}
		if col == "c.id" {
			where = append(where, "c.id "+op+" ?")
			args = append(args, cur.ID)
		} else {
			where = append(where, "("+col+" "+op+" ? OR ("+col+" = ? AND c.id "+op+" ?))")
			args = append(args, cur.V, cur.V, cur.ID)
		}
	}
	args = append(args, q.Limit+1)
	var p Page
	var lastKey string
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		if err := workspace.Owned(conn, actor, wsID); err != nil {
			return err
		}
		return sqlitex.Execute(conn, `SELECT c.id, c.created_at, c.first_name, c.last_name, c.company,
	coalesce((SELECT address FROM contact_emails WHERE contact_id = c.id AND is_primary = 1), ''),
	coalesce((SELECT e164 FROM contact_phones WHERE contact_id = c.id AND is_primary = 1), ''),
	coalesce((SELECT name FROM lists WHERE id = c.stage_id), ''), c.last_contact_at, `+col+`
FROM contacts c WHERE `+strings.Join(where, " AND ")+` ORDER BY `+col+` `+dir+`, c.id `+dir+` LIMIT ?`, &sqlitex.ExecOptions{
			Args: args,
			ResultFunc: func(stmt *sqlite.Stmt) error {
				if len(p.Rows) == q.Limit {
					last := p.Rows[len(p.Rows)-1]
					p.Next = encodeCursor(lastKey, last.ID)
					return nil
				}
				r := Row{ID: stmt.ColumnText(0), FirstName: stmt.ColumnText(2), LastName: stmt.ColumnText(3), Company: stmt.ColumnText(4),
					PrimaryEmail: stmt.ColumnText(5), PrimaryPhone: stmt.ColumnText(6), Stage: stmt.ColumnText(7)}
				var err error
				if r.CreatedAt, err = store.ParseTime(stmt.ColumnText(1)); err != nil {
					return err
				}
				if r.LastContactAt, err = optTime(stmt, 8); err != nil {
					return err
				}
				lastKey = stmt.ColumnText(9)
				p.Rows = append(p.Rows, r)
				return nil
			},
		})
	})
	if err != nil {
		return Page{}, fmt.Errorf("list contacts: %w", err)
	}
	return p, nil
}
