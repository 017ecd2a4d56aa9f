package contact

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// FieldTypes are the kinds of custom field.
var FieldTypes = []string{"text", "long_text", "number", "date", "dropdown", "checkbox", "url"}

// FieldDef is a custom field: the user's own in all their workspaces
// (WorkspaceID "") or one workspace's.
type FieldDef struct {
	ID          string   `json:"id"`
	WorkspaceID string   `json:"workspace_id"`
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Options     []string `json:"options"`
	Required    bool     `json:"required"`
	Default     string   `json:"default"`
	Position    int      `json:"position"`
}

// checkValue validates v for def and returns its stored form.
func (d FieldDef) checkValue(v string) (string, string) {
	v = strings.TrimSpace(v)
	if v == "" {
		if d.Required {
			return "", "This field is required."
		}
		return "", ""
	}
	switch d.Type {
	case "text":
		if utf8.RuneCountInString(v) > MaxText {
			return "", fmt.Sprintf("Use at most %d characters.", MaxText)
		}
	case "long_text":
		if utf8.RuneCountInString(v) > MaxNotes {
			return "", fmt.Sprintf("Use at most %d characters.", MaxNotes)
		}
	case "number":
		f, err := strconv.ParseFloat(strings.ReplaceAll(v, ",", ""), 64)
		if err != nil {
			return "", "Enter a number, like 350000 or 4.25."
		}
		return strconv.FormatFloat(f, 'f', -1, 64), ""
	case "date":
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			return "", "Enter a date as YYYY-MM-DD."
		}
		return t.Format("2006-01-02"), ""
	case "dropdown":
		for _, o := range d.Options {
			if o == v {
				return v, ""
			}
		}
		return "", "Choose one of: " + strings.Join(d.Options, ", ") + "."
	case "checkbox":
		b, err := strconv.ParseBool(v)
		if err != nil && v != "on" {
			return "", "Use true or false."
		}
		return strconv.FormatBool(b || v == "on"), ""
	case "url":
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", "Enter a web address starting with https://."
		}
	}
	return v, ""
}

func (d *FieldDef) validate() error {
	f := errs.Fields{}
	d.Name = strings.Join(strings.Fields(d.Name), " ")
	if d.Name == "" || utf8.RuneCountInString(d.Name) > 60 {
		f.Add("name", "Enter a name of at most 60 characters.")
	}
	if !contains(FieldTypes, d.Type) {
		f.Add("type", "Choose a type: "+strings.Join(FieldTypes, ", ")+".")
	}
	var opts []string
	for _, o := range d.Options {
		if o = strings.TrimSpace(o); o != "" && !contains(opts, o) {
			opts = append(opts, o)
		}
	}
	d.Options = opts
	if d.Type == "dropdown" && len(opts) == 0 {
		f.Add("options", "List the choices, separated by commas.")
	}
	if d.Type != "dropdown" {
		d.Options = nil
	}
	if d.Default != "" && f.Err() == nil {
		req := d.Required
		d.Required = false
		v, msg := d.checkValue(d.Default)
		d.Required = req
		if msg != "" {
			f.Add("default", msg)
		}
		d.Default = v
	}
	return f.Err()
}

const defColumns = `id, coalesce(workspace_id, ''), name, type, options, required, default_value, position`

func scanDef(stmt *sqlite.Stmt) (FieldDef, error) {
	d := FieldDef{ID: stmt.ColumnText(0), WorkspaceID: stmt.ColumnText(1), Name: stmt.ColumnText(2), Type: stmt.ColumnText(3),
		Required: stmt.ColumnBool(5), Default: stmt.ColumnText(6), Position: stmt.ColumnInt(7)}
	if err := json.Unmarshal([]byte(stmt.ColumnText(4)), &d.Options); err != nil {
		return d, fmt.Errorf("field %s options: %w", d.ID, err)
	}
	return d, nil
}

// defs returns the fields that apply in wsID for owner: theirs everywhere
// and the workspace's own.
func defs(conn *sqlite.Conn, ownerID, wsID string) ([]FieldDef, error) {
	var out []FieldDef
	err := sqlitex.Execute(conn, `SELECT `+defColumns+` FROM custom_fields WHERE owner_id = ? AND (workspace_id IS NULL OR workspace_id = ?) ORDER BY position, name COLLATE NOCASE`, &sqlitex.ExecOptions{
		Args: []any{ownerID, wsID}, ResultFunc: func(stmt *sqlite.Stmt) error {
			d, err := scanDef(stmt)
			out = append(out, d)
			return err
		}})
	if err != nil {
		return nil, fmt.Errorf("list custom fields: %w", err)
	}
	return out, nil
}

func ownerOf(conn *sqlite.Conn, wsID string) (string, error) {
	var owner string
	err := sqlitex.Execute(conn, `SELECT owner_id FROM workspaces WHERE id = ?`, &sqlitex.ExecOptions{
		Args: []any{wsID}, ResultFunc: func(stmt *sqlite.Stmt) error { owner = stmt.ColumnText(0); return nil }})
	if err != nil {
		return "", fmt.Errorf("workspace owner: %w", err)
	}
	return owner, nil
}

// Fields returns the custom fields that apply in the actor's workspace wsID.
func (s *Store) Fields(ctx context.Context, actor auth.Actor, wsID string) ([]FieldDef, error) {
	var out []FieldDef
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		out, err = defs(conn, actor.UserID, wsID)
		return err
	})
	return out, err
}

func getDef(conn *sqlite.Conn, actor auth.Actor, wsID, id string) (FieldDef, error) {
	var (
		d     FieldDef
		found bool
	)
	err := sqlitex.Execute(conn, `SELECT `+defColumns+` FROM custom_fields WHERE id = ? AND owner_id = ? AND (workspace_id IS NULL OR workspace_id = ?)`, &sqlitex.ExecOptions{
		Args: []any{id, actor.UserID, wsID}, ResultFunc: func(stmt *sqlite.Stmt) (err error) {
			found = true
			d, err = scanDef(stmt)
			return err
		}})
	if err != nil {
		return d, fmt.Errorf("get custom field: %w", err)
	}
	if !found {
		return d, errs.NotFoundf("No such custom field.")
	}
	return d, nil
}

// CreateField adds a custom field, seen from workspace wsID: with global,
// in every workspace of the actor; otherwise in wsID only. Contacts that
// exist get the default value, if any.
func (s *Store) CreateField(ctx context.Context, actor auth.Actor, wsID string, d FieldDef, global bool) (FieldDef, error) {
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if err := d.validate(); err != nil {
			return err
		}
		d.ID, d.WorkspaceID = store.NewID(), wsID
		var wsArg any = wsID
		if global {
			d.WorkspaceID, wsArg = "", nil
		}
		opts, _ := json.Marshal(d.Options)
		if opts == nil || string(opts) == "null" {
			opts = []byte("[]")
		}
		if err := sqlitex.Execute(conn, `INSERT INTO custom_fields (id, owner_id, workspace_id, name, type, options, required, default_value, position, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(position) + 1, 0) FROM custom_fields WHERE owner_id = ?), ?)`, &sqlitex.ExecOptions{
			Args: []any{d.ID, actor.UserID, wsArg, d.Name, d.Type, string(opts), d.Required, d.Default, actor.UserID, store.FormatTime(time.Now())}}); err != nil {
			return fmt.Errorf("insert custom field: %w", err)
		}
		if d.Default != "" {
			if err := sqlitex.Execute(conn, `INSERT OR IGNORE INTO custom_values (contact_id, field_id, value)
SELECT c.id, ?, ? FROM contacts c JOIN workspaces w ON w.id = c.workspace_id WHERE w.owner_id = ? AND (? IS NULL OR c.workspace_id = ?)`,
				&sqlitex.ExecOptions{Args: []any{d.ID, d.Default, actor.UserID, wsArg, wsArg}}); err != nil {
				return fmt.Errorf("fill defaults: %w", err)
			}
		}
		return audit.Record(conn, actor.Audit("field.create", "custom_field", d.ID, map[string]any{"name": d.Name, "type": d.Type, "global": global}))
	})
	return d, err
}

// UpdateField changes a field's name, type, options, required flag or
// default. A type or options change that some stored value does not fit is
// refused with a Conflict naming how many values would break: values are
// never silently corrupted.
func (s *Store) UpdateField(ctx context.Context, actor auth.Actor, wsID, id string, d FieldDef) (FieldDef, error) {
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		old, err := getDef(conn, actor, wsID, id)
		if err != nil {
			return err
		}
		d.ID, d.WorkspaceID, d.Position = id, old.WorkspaceID, old.Position
		if err := d.validate(); err != nil {
			return err
		}
		bad := 0
		check := d
		check.Required = false
		if err := sqlitex.Execute(conn, `SELECT value FROM custom_values WHERE field_id = ?`, &sqlitex.ExecOptions{
			Args: []any{id}, ResultFunc: func(stmt *sqlite.Stmt) error {
				if v, msg := check.checkValue(stmt.ColumnText(0)); msg != "" || v != stmt.ColumnText(0) {
					bad++
				}
				return nil
			}}); err != nil {
			return fmt.Errorf("check values: %w", err)
		}
		if bad > 0 {
			msg := fmt.Sprintf("%d contacts have a value that is not a valid %s; change or clear those values first.", bad, strings.ReplaceAll(d.Type, "_", " "))
			return &errs.Error{Kind: errs.Conflict, Code: "values_do_not_fit", Message: msg, Fields: map[string]string{"type": msg}, Details: map[string]any{"values": bad}}
		}
		opts, _ := json.Marshal(d.Options)
		if d.Options == nil {
			opts = []byte("[]")
		}
		if err := sqlitex.Execute(conn, `UPDATE custom_fields SET name = ?, type = ?, options = ?, required = ?, default_value = ? WHERE id = ?`, &sqlitex.ExecOptions{
			Args: []any{d.Name, d.Type, string(opts), d.Required, d.Default, id}}); err != nil {
			return fmt.Errorf("update custom field: %w", err)
		}
		return audit.Record(conn, actor.Audit("field.update", "custom_field", id, map[string]any{"from_type": old.Type, "to_type": d.Type, "name": d.Name}))
	})
	return d, err
}

// DeleteField deletes a field and every value of it. It returns the number
// of values that go; unless confirm, nothing is deleted and an Invalid error
// says how many values would be lost.
func (s *Store) DeleteField(ctx context.Context, actor auth.Actor, wsID, id string, confirm bool) (int, error) {
	var n int
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		d, err := getDef(conn, actor, wsID, id)
		if err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `SELECT count(*) FROM custom_values WHERE field_id = ?`, &sqlitex.ExecOptions{
			Args: []any{id}, ResultFunc: func(stmt *sqlite.Stmt) error { n = stmt.ColumnInt(0); return nil }}); err != nil {
			return fmt.Errorf("count values: %w", err)
		}
		if !confirm {
			return errs.Fields{"confirm": fmt.Sprintf("Deleting %q also deletes its value on %d contacts. Confirm to go ahead.", d.Name, n)}.Err()
		}
		if err := sqlitex.Execute(conn, `DELETE FROM custom_fields WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{id}}); err != nil {
			return fmt.Errorf("delete custom field: %w", err)
		}
		return audit.Record(conn, actor.Audit("field.delete", "custom_field", id, map[string]any{"name": d.Name, "values_deleted": n}))
	})
	return n, err
}

// SetCustom sets custom values on contact id (field id -> value; "" clears),
// validated by type. It returns Invalid naming each bad field
// ("custom.<field id>").
func (s *Store) SetCustom(ctx context.Context, actor auth.Actor, wsID, id string, values map[string]string) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := ownContact(conn, actor, wsID, id); err != nil {
			return err
		}
		if err := setCustom(conn, actor, wsID, id, values, true); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit("contact.custom", "contact", id, map[string]any{"fields": len(values)}))
	})
}

// With logChanges each changed value is an entry in the contact's log (a
// new contact's first values are not changes).
func setCustom(conn *sqlite.Conn, actor auth.Actor, wsID, id string, values map[string]string, logChanges bool) error {
	all, err := defs(conn, actor.UserID, wsID)
	if err != nil {
		return err
	}
	byID := map[string]FieldDef{}
	for _, d := range all {
		byID[d.ID] = d
	}
	f := errs.Fields{}
	clean := map[string]string{}
	for fid, v := range values {
		d, ok := byID[fid]
		if !ok {
			f.Add("custom."+fid, "No such custom field in this workspace.")
			continue
		}
		sv, msg := d.checkValue(v)
		if msg != "" {
			f.Add("custom."+fid, msg)
			continue
		}
		clean[fid] = sv
	}
	if err := f.Err(); err != nil {
		return err
	}
	var old map[string]string
	if logChanges {
		if old, err = customValues(conn, id); err != nil {
			return err
		}
	}
	for fid, v := range clean {
		if logChanges && v != old[fid] {
			if err := activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: activity.Field, Summary: byID[fid].Name + " changed", ActorUserID: actor.UserID},
				activity.FieldBody{Field: "custom." + byID[fid].Name, From: old[fid], To: v}); err != nil {
				return err
			}
		}
		q := `INSERT INTO custom_values (contact_id, field_id, value) VALUES (?, ?, ?) ON CONFLICT (contact_id, field_id) DO UPDATE SET value = excluded.value`
		args := []any{id, fid, v}
		if v == "" {
			q, args = `DELETE FROM custom_values WHERE contact_id = ? AND field_id = ?`, []any{id, fid}
		}
		if err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args}); err != nil {
			return fmt.Errorf("set custom value: %w", err)
		}
	}
	return nil
}

// customValues returns contact id's custom values by field id.
func customValues(conn *sqlite.Conn, id string) (map[string]string, error) {
	out := map[string]string{}
	err := sqlitex.Execute(conn, `SELECT field_id, value FROM custom_values WHERE contact_id = ?`, &sqlitex.ExecOptions{
		Args: []any{id}, ResultFunc: func(st *sqlite.Stmt) error { out[st.ColumnText(0)] = st.ColumnText(1); return nil }})
	if err != nil {
		return nil, fmt.Errorf("read custom values: %w", err)
	}
	return out, nil
}

// applyDefaults gives a new contact the default of every field that has one.
func applyDefaults(conn *sqlite.Conn, wsID, id string) error {
	owner, err := ownerOf(conn, wsID)
	if err != nil {
		return err
	}
	if err := sqlitex.Execute(conn, `INSERT OR IGNORE INTO custom_values (contact_id, field_id, value)
SELECT ?, id, default_value FROM custom_fields WHERE owner_id = ? AND (workspace_id IS NULL OR workspace_id = ?) AND default_value <> ''`,
		&sqlitex.ExecOptions{Args: []any{id, owner, wsID}}); err != nil {
		return fmt.Errorf("apply defaults: %w", err)
	}
	return nil
}

func loadCustom(conn *sqlite.Conn, c *Contact) error {
	c.Custom = map[string]string{}
	return sqlitex.Execute(conn, `SELECT field_id, value FROM custom_values WHERE contact_id = ?`, &sqlitex.ExecOptions{
		Args: []any{c.ID}, ResultFunc: func(stmt *sqlite.Stmt) error { c.Custom[stmt.ColumnText(0)] = stmt.ColumnText(1); return nil }})
}

// CheckCustom checks v for field d as a form would, returning the stored
// form and a message when v does not fit ("" when it does).
func CheckCustom(d FieldDef, v string) (string, string) { return d.checkValue(v) }

// FieldsIn returns the custom fields that apply in workspace wsID, inside
// the caller's transaction (which has checked the workspace is the
// actor's): templates read them for their placeholders.
func FieldsIn(conn *sqlite.Conn, wsID string) ([]FieldDef, error) {
	owner, err := ownerOf(conn, wsID)
	if err != nil {
		return nil, err
	}
	return defs(conn, owner, wsID)
}
