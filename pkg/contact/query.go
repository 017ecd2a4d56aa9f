package contact

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/numplan"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Query selects and orders a page of a workspace's contacts.
type Query struct {
	StageID   string   // only this stage; "none" for contacts without one
	TagIDs    []string // in every one of these tags
	StaleDays int      // last contact older than this many days (or never)
	// Custom keeps contacts whose custom field (by id) has this value.
	Custom map[string]string
	Search string // full-text, prefix match on every word
	Sort   string // created (default), first_name, last_name, company, last_contact
	Asc    bool   // ascending; the default is descending
	After  string // cursor from the previous page
	Limit  int    // default 50, at most 200
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

// phoneLike reports whether q is a phone number being typed: three or more
// digits and only phone punctuation.
func phoneLike(q string) bool {
	n := 0
	for _, r := range q {
		switch {
		case unicode.IsDigit(r):
			n++
		case strings.ContainsRune("+-(). ", r):
		default:
			return false
		}
	}
	return n >= 3
}

// phoneRanges returns the two E.164 prefix ranges a typed number may start:
// as typed with a country code, and as a national number of region.
func phoneRanges(q, region string) [4]string {
	digits := strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) {
			return r
		}
		return -1
	}, q)
	intl := "+" + digits
	national := intl
	if cc := numplan.CountryCode(region); cc > 0 && !strings.HasPrefix(strings.TrimSpace(q), "+") {
		national = "+" + strconv.Itoa(cc) + strings.TrimLeft(digits, "0") // 0912… in VN is +84 912…
	}
	return [4]string{intl, intl + "~", national, national + "~"}
}

// MatchQuery turns what a user typed into an FTS5 query: every word must
// match as a prefix. Words split where the index's tokenizer splits
// (anything but letters and digits), so "linh.nguyen@" finds "linh" and
// "nguyen". A one-letter word is dropped when there are others: as a prefix
// it matches most of the index, and the next keystroke narrows anyway.
// Quotes are escaped, so no input is an FTS syntax error.
func MatchQuery(q string) string {
	words := strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var terms []string
	for _, w := range words {
		if len([]rune(w)) == 1 && len(words) > 1 {
			continue
		}
		terms = append(terms, `"`+strings.ReplaceAll(w, `"`, `""`)+`"*`)
	}
	return strings.Join(terms, " AND ")
}

// FilterWhere turns q's filters (stage, tags, custom values, last contact
// older than StaleDays before now) into conditions on contacts aliased c,
// with their arguments, for the contact list and a campaign's segment
// alike; the caller adds the workspace.
func FilterWhere(q Query, now time.Time) ([]string, []any) {
	var where []string
	var args []any
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
	for fid, v := range q.Custom {
		where = append(where, "EXISTS (SELECT 1 FROM custom_values cv WHERE cv.contact_id = c.id AND cv.field_id = ? AND cv.value = ?)")
		args = append(args, fid, v)
	}
	if q.StaleDays > 0 {
		where = append(where, "coalesce(c.last_contact_at, '') < ?")
		args = append(args, store.FormatTime(now.AddDate(0, 0, -q.StaleDays)))
	}
	return where, args
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
	var cur cursor
	if q.After != "" {
		var err error
		if cur, err = decodeCursor(q.After); err != nil {
			return Page{}, err
		}
	}
	var p Page
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		from := "contacts c"
		where, args := FilterWhere(q, time.Now())
		where = append([]string{"c.workspace_id = ?"}, where...)
		args = append([]any{wsID}, args...)
		if phoneLike(q.Search) {
			// Numbers are found through the phone index by E.164 prefix:
			// exact and cheap, where a digit prefix in the text index is
			// neither.
			region, err := workspace.PhoneRegion(conn, wsID)
			if err != nil {
				return err
			}
			r := phoneRanges(q.Search, region)
			// A UNION of two range scans: SQLite cannot split an OR into
			// index look-ups on a WITHOUT ROWID table, and would scan all
			// of the workspace's phones instead (20 ms at 100,000).
			where = append(where, `c.id IN (SELECT contact_id FROM contact_phones WHERE workspace_id = ? AND e164 >= ? AND e164 < ?
	UNION ALL SELECT contact_id FROM contact_phones WHERE workspace_id = ? AND e164 >= ? AND e164 < ?)`)
			args = append(args, wsID, r[0], r[1], wsID, r[2], r[3])
		} else if m := MatchQuery(q.Search); m != "" {
			if col == "c.id" {
				// Newest first, driven by the full-text index: FTS5 walks its
				// doclist by rowid (the contact's rowid, in creation order)
				// and stops at the page's end instead of sorting every match.
				from = "contacts_fts f JOIN contacts c ON c.rowid = f.rowid"
				col = "f.rowid"
				where = append(where, "contacts_fts MATCH ?")
			} else {
				where = append(where, "c.rowid IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?)")
			}
			args = append(args, m)
		}
		op, dir := "<", "DESC"
		if q.Asc {
			op, dir = ">", "ASC"
		}
		if q.After != "" {
			switch col {
			case "c.id":
				where = append(where, "c.id "+op+" ?")
				args = append(args, cur.ID)
			case "f.rowid":
				rowid, err := strconv.ParseInt(cur.V, 10, 64)
				if err != nil {
					return errs.Fields{"after": "This page link is not valid; start again from the first page."}.Err()
				}
				where = append(where, "f.rowid "+op+" ?")
				args = append(args, rowid)
			default:
				where = append(where, "("+col+" "+op+" ? OR ("+col+" = ? AND c.id "+op+" ?))")
				args = append(args, cur.V, cur.V, cur.ID)
			}
		}
		order := col + " " + dir + ", c.id " + dir
		if col == "f.rowid" {
			order = col + " " + dir // unique already; a second key would force a sort
		}
		args = append(args, q.Limit+1)
		var lastKey string
		return sqlitex.Execute(conn, `SELECT c.id, c.created_at, c.first_name, c.last_name, c.company,
	coalesce((SELECT address FROM contact_emails WHERE contact_id = c.id AND is_primary = 1), ''),
	coalesce((SELECT e164 FROM contact_phones WHERE contact_id = c.id AND is_primary = 1), ''),
	coalesce((SELECT name FROM lists WHERE id = c.stage_id), ''), c.last_contact_at, `+col+`
FROM `+from+` WHERE `+strings.Join(where, " AND ")+` ORDER BY `+order+` LIMIT ?`, &sqlitex.ExecOptions{
			Args: args,
			ResultFunc: func(stmt *sqlite.Stmt) error {
				if len(p.Rows) == q.Limit {
					p.Next = encodeCursor(lastKey, p.Rows[len(p.Rows)-1].ID)
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

// Counts are a workspace's contact figures for its dashboard.
type Counts struct {
	Total        int // contacts in the workspace
	NewThisMonth int // created in the last 30 days
	DoNotContact int
}

// Count returns workspace wsID's contact figures. It returns NotFound for a
// workspace that is not the actor's.
func (s *Store) Count(ctx context.Context, actor auth.Actor, wsID string) (Counts, error) {
	var c Counts
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*), count(*) FILTER (WHERE created_at >= ?), count(*) FILTER (WHERE do_not_contact)
FROM contacts WHERE workspace_id = ?`, &sqlitex.ExecOptions{
			Args: []any{store.FormatTime(time.Now().Add(-30 * 24 * time.Hour)), wsID},
			ResultFunc: func(st *sqlite.Stmt) error {
				c = Counts{Total: st.ColumnInt(0), NewThisMonth: st.ColumnInt(1), DoNotContact: st.ColumnInt(2)}
				return nil
			}})
	})
	if err != nil {
		return Counts{}, fmt.Errorf("count contacts: %w", err)
	}
	return c, nil
}

// NewestIn returns the id of workspace wsID's newest contact ("" when it
// has none), inside the caller's transaction: the caller has checked the
// workspace is the actor's. Ids grow with time, so the newest is the
// largest, one step down the (workspace_id, id) index.
func NewestIn(conn *sqlite.Conn, wsID string) (string, error) {
	id := ""
	err := sqlitex.Execute(conn, `SELECT id FROM contacts WHERE workspace_id = ? ORDER BY id DESC LIMIT 1`, &sqlitex.ExecOptions{
		Args: []any{wsID}, ResultFunc: func(st *sqlite.Stmt) error { id = st.ColumnText(0); return nil }})
	if err != nil {
		return "", fmt.Errorf("newest contact: %w", err)
	}
	return id, nil
}

// NameColumns are the columns of contacts c a query selects to name a
// contact as DisplayName does (first name, last name, company, primary
// or else first email); NameAt reads them back.
const NameColumns = `c.first_name, c.last_name, c.company,
  coalesce((SELECT e.address FROM contact_emails e WHERE e.contact_id = c.id ORDER BY e.is_primary DESC, e.id LIMIT 1), '')`

// NameAt is DisplayName of the NameColumns that start at column col of
// st.
func NameAt(st *sqlite.Stmt, col int) string {
	return DisplayName(st.ColumnText(col), st.ColumnText(col+1), st.ColumnText(col+2), st.ColumnText(col+3))
}
