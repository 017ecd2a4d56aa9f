// Package emailtemplate owns a workspace's email templates: their name,
// subject, preheader, body and signature, checked and sanitized before they
// are stored, copied between the actor's workspaces, and rendered for one
// contact (render.go). Every query is scoped by a workspace the actor owns;
// another's template answers NotFound.
package emailtemplate

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/images"
	"github.com/pi-crm/pi-crm/pkg/placeholder"
	"github.com/pi-crm/pi-crm/pkg/richtext"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Limits of a template's parts.
const (
	MaxName    = 100
	MaxSubject = 200
	MaxPreview = 200
	MaxBody    = 200 << 10 // bytes of HTML, before the layout
)

// Template is one email template.
type Template struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspace_id"`
	Name        string    `json:"name"`
	Subject     string    `json:"subject"`
	Preheader   string    `json:"preheader"`
	BodyHTML    string    `json:"body_html"`
	Signature   string    `json:"signature_html"`
	CopiedFrom  string    `json:"copied_from,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Change is the input to Create and Update: every part of the template.
type Change struct {
	Name      string `json:"name"`
	Subject   string `json:"subject"`
	Preheader string `json:"preheader"`
	BodyHTML  string `json:"body_html"`
	Signature string `json:"signature_html"`
}

// Store reads and writes templates.
type Store struct {
	db       *store.DB
	contacts *contact.Store // the contacts a preview is rendered for
	render   *Renderer
	policy   *richtext.Policy
	now      func() time.Time
}

// NewStore returns the template store over db; previews read contacts
// through contacts.
func NewStore(db *store.DB, contacts *contact.Store) *Store {
	return &Store{db: db, contacts: contacts, policy: richtext.NewEmail(), render: NewRenderer(64), now: time.Now}
}

var errNotFound = errs.NotFoundf("No such template.")

const columns = `id, workspace_id, name, subject, preheader, body_html, signature_html, copied_from, created_at, updated_at`

func scan(st *sqlite.Stmt) Template {
	t := Template{ID: st.ColumnText(0), WorkspaceID: st.ColumnText(1), Name: st.ColumnText(2), Subject: st.ColumnText(3), Preheader: st.ColumnText(4),
		BodyHTML: st.ColumnText(5), Signature: st.ColumnText(6), CopiedFrom: st.ColumnText(7)}
	t.CreatedAt, _ = store.ParseTime(st.ColumnText(8))
	t.UpdatedAt, _ = store.ParseTime(st.ColumnText(9))
	return t
}

// List returns the templates of the actor's workspace wsID by name.
func (s *Store) List(ctx context.Context, actor auth.Actor, wsID string) ([]Template, error) {
	var out []Template
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT `+columns+` FROM email_templates WHERE workspace_id = ? ORDER BY name COLLATE NOCASE, id`,
			&sqlitex.ExecOptions{Args: []any{wsID}, ResultFunc: func(st *sqlite.Stmt) error { out = append(out, scan(st)); return nil }})
	})
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	return out, nil
}

// Get returns template id of the actor's workspace wsID, or NotFound.
func (s *Store) Get(ctx context.Context, actor auth.Actor, wsID, id string) (Template, error) {
	var t Template
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		t, err = get(conn, wsID, id)
		return err
	})
	return t, err
}

// GetIn returns template id of workspace wsID inside the caller's
// transaction (the caller has checked the workspace), or NotFound.
func GetIn(conn *sqlite.Conn, wsID, id string) (Template, error) { return get(conn, wsID, id) }

func get(conn *sqlite.Conn, wsID, id string) (Template, error) {
	var t Template
	found := false
	err := sqlitex.Execute(conn, `SELECT `+columns+` FROM email_templates WHERE id = ? AND workspace_id = ?`,
		&sqlitex.ExecOptions{Args: []any{id, wsID}, ResultFunc: func(st *sqlite.Stmt) error { t, found = scan(st), true; return nil }})
	if err != nil {
		return t, fmt.Errorf("get template: %w", err)
	}
	if !found {
		return t, errNotFound
	}
	return t, nil
}

// check validates c for workspace wsID and returns it cleaned: the body
// and signature through the email policy, and every placeholder known (a
// name not on the list, or a custom field the workspace lacks, is a field
// error with its line and column). What the user typed is never changed
// here beyond the sanitizing; the caller re-renders the form from c.
func (s *Store) check(conn *sqlite.Conn, wsID string, c Change) (Change, error) {
	fe := errs.Fields{}
	c.Name = strings.TrimSpace(c.Name)
	switch {
	case c.Name == "":
		fe.Add("name", "Give the template a name.")
	case utf8.RuneCountInString(c.Name) > MaxName:
		fe.Add("name", fmt.Sprintf("Use at most %d characters.", MaxName))
	case strings.ContainsFunc(c.Name, func(r rune) bool { return r < 32 || r == 127 }):
		fe.Add("name", "The name has a control character.")
	}
	c.Subject = strings.TrimSpace(c.Subject)
	if c.Subject == "" {
		fe.Add("subject", "Write a subject line.")
	} else if utf8.RuneCountInString(c.Subject) > MaxSubject {
		fe.Add("subject", fmt.Sprintf("Use at most %d characters.", MaxSubject))
	}
	c.Preheader = strings.TrimSpace(c.Preheader)
	if utf8.RuneCountInString(c.Preheader) > MaxPreview {
		fe.Add("preheader", fmt.Sprintf("Use at most %d characters.", MaxPreview))
	}
	if len(c.BodyHTML) > MaxBody {
		fe.Add("body", fmt.Sprintf("The body is larger than %d KB.", MaxBody>>10))
	}
	if strings.ContainsRune(c.Subject, '\n') || strings.ContainsRune(c.Preheader, '\n') {
		fe.Add("subject", "A subject is one line.")
	}
	c.BodyHTML = unchip(unmangleURLs(s.policy.Clean(c.BodyHTML)))
	c.Signature = unchip(unmangleURLs(s.policy.Clean(c.Signature)))
	custom, err := CustomKeys(conn, wsID)
	if err != nil {
		return c, err
	}
	for _, part := range []struct{ field, text string }{{"subject", c.Subject}, {"preheader", c.Preheader}} {
		if _, probs := placeholder.Text(part.text, nil, custom); len(probs) > 0 {
			fe.Add(part.field, describe(probs))
		}
	}
	for _, part := range []struct{ field, html string }{{"body", c.BodyHTML}, {"signature", c.Signature}} {
		if _, probs := placeholder.Compile(part.html, custom); len(probs) > 0 {
			fe.Add(part.field, describe(probs))
		}
	}
	if strings.TrimSpace(richtext.Text(c.BodyHTML)) == "" && !strings.Contains(c.BodyHTML, "<img") {
		fe.Add("body", "Write the message.")
	}
	return c, fe.Err()
}

// urlAttr is an href or src as the sanitizer writes it (always in double
// quotes, its value attribute-escaped, so it holds no '"').
var urlAttr = regexp.MustCompile(`\b(href|src)="([^"]*)"`)

// unmangleURLs restores the placeholders the sanitizer percent-encoded in
// href and src ({{unsubscribe_url}} is not a URL it accepts as is), and
// nothing else: a %7B%7B in the text stays as typed. The value is decoded,
// restored and escaped again, so a quote inside a restored placeholder
// (a fallback, or a hostile %22) stays inside the attribute.
func unmangleURLs(body string) string {
	return urlAttr.ReplaceAllStringFunc(body, func(m string) string {
		sub := urlAttr.FindStringSubmatch(m)
		return sub[1] + `="` + html.EscapeString(placeholder.Unmangle(html.UnescapeString(sub[2]))) + `"`
	})
}

// chip is the editor's placeholder chip as the sanitizer writes it: a span
// whose text is the placeholder itself.
var chip = regexp.MustCompile(`<span data-placeholder="[^"]*"[^>]*>([^<]*)</span>`)

// unchip stores a chip as the placeholder text it holds: the body reads as
// typed, and no span sits between a placeholder and the punctuation after
// it (the text part would show "Hi Tom ,"). The editor makes chips again
// when it loads the body.
func unchip(body string) string { return chip.ReplaceAllString(body, "$1") }

// describe says what is wrong with the placeholders, at most three.
func describe(probs []placeholder.Problem) string {
	var parts []string
	for i, p := range probs {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(probs)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s at %s: %s", p.Source, p.Pos, p.Message))
	}
	return strings.Join(parts, "; ") + "."
}

// nameTaken turns the unique index's refusal into a field error.
func nameTaken(err error) error {
	if err != nil && sqlite.ErrCode(err) == sqlite.ResultConstraintUnique {
		return errs.Fields{"name": "This workspace has a template of that name already."}.Err()
	}
	return err
}

// Create adds a template to the actor's workspace wsID.
func (s *Store) Create(ctx context.Context, actor auth.Actor, wsID string, c Change) (Template, error) {
	var t Template
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		clean, err := s.check(conn, wsID, c)
		if err != nil {
			return err
		}
		id, err := insert(conn, wsID, clean, "", s.now())
		if err != nil {
			return err
		}
		if t, err = get(conn, wsID, id); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit("template.create", "email_template", id, map[string]any{"workspace_id": wsID, "name": t.Name}))
	})
	return t, err
}

func insert(conn *sqlite.Conn, wsID string, c Change, copiedFrom string, now time.Time) (string, error) {
	id := store.NewID()
	ts := store.FormatTime(now)
	err := sqlitex.Execute(conn, `INSERT INTO email_templates (`+columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, &sqlitex.ExecOptions{
		Args: []any{id, wsID, c.Name, c.Subject, c.Preheader, c.BodyHTML, c.Signature, copiedFrom, ts, ts}})
	if err != nil {
		return "", nameTaken(fmt.Errorf("insert template: %w", err))
	}
	return id, nil
}

// Update replaces template id's parts with c.
func (s *Store) Update(ctx context.Context, actor auth.Actor, wsID, id string, c Change) (Template, error) {
	var t Template
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		old, err := get(conn, wsID, id)
		if err != nil {
			return err
		}
		clean, err := s.check(conn, wsID, c)
		if err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `UPDATE email_templates SET name = ?, subject = ?, preheader = ?, body_html = ?, signature_html = ?, updated_at = ?
			WHERE id = ? AND workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{clean.Name, clean.Subject, clean.Preheader, clean.BodyHTML, clean.Signature,
			store.FormatTime(s.now()), id, wsID}}); err != nil {
			return nameTaken(fmt.Errorf("update template: %w", err))
		}
		if t, err = get(conn, wsID, id); err != nil {
			return err
		}
		details := map[string]any{"workspace_id": wsID, "name": t.Name}
		if old.Name != t.Name {
			details["old_name"] = old.Name
		}
		return audit.Record(conn, actor.Audit("template.update", "email_template", id, details))
	})
	return t, err
}

// Delete removes template id.
func (s *Store) Delete(ctx context.Context, actor auth.Actor, wsID, id string) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		t, err := get(conn, wsID, id)
		if err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `DELETE FROM email_templates WHERE id = ? AND workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{id, wsID}}); err != nil {
			return fmt.Errorf("delete template: %w", err)
		}
		return audit.Record(conn, actor.Audit("template.delete", "email_template", id, map[string]any{"workspace_id": wsID, "name": t.Name}))
	})
}

// Copy copies template id of workspace wsID into the actor's workspace
// toWS, named as it is or, when taken there, "Name (copy)", "Name (copy
// 2)"... Placeholders of custom fields the other workspace lacks make the
// copy refuse, naming them.
func (s *Store) Copy(ctx context.Context, actor auth.Actor, wsID, id, toWS string) (Template, error) {
	var t Template
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		src, err := get(conn, wsID, id)
		if err != nil {
			return err
		}
		t, err = s.place(conn, actor, wsID, toWS, Change{Name: src.Name, Subject: src.Subject, Preheader: src.Preheader, BodyHTML: src.BodyHTML, Signature: src.Signature},
			src.ID, "template.copy", map[string]any{"from_workspace_id": wsID, "from": id})
		return err
	})
	return t, err
}

// withImages copies the images c shows from workspace from into to and
// points c at the copies.
func withImages(conn *sqlite.Conn, from, to string, c Change) (Change, error) {
	var err error
	if c.BodyHTML, err = images.CopyInto(conn, from, to, c.BodyHTML); err != nil {
		return c, err
	}
	c.Signature, err = images.CopyInto(conn, from, to, c.Signature)
	return c, err
}

// freeName returns name, or name with " (copy)", " (copy 2)"... when
// workspace wsID has a template of that name.
func freeName(conn *sqlite.Conn, wsID, name string) (string, error) {
	for n := 1; ; n++ {
		try := name
		switch {
		case n == 2:
			try = name + " (copy)"
		case n > 2:
			try = fmt.Sprintf("%s (copy %d)", name, n-1)
		}
		if utf8.RuneCountInString(try) > MaxName {
			r := []rune(try)
			try = string(r[:MaxName])
		}
		taken := false
		if err := sqlitex.Execute(conn, `SELECT 1 FROM email_templates WHERE workspace_id = ? AND name = ? COLLATE NOCASE`,
			&sqlitex.ExecOptions{Args: []any{wsID, try}, ResultFunc: func(*sqlite.Stmt) error { taken = true; return nil }}); err != nil {
			return "", fmt.Errorf("template names: %w", err)
		}
		if !taken {
			return try, nil
		}
	}
}
