package transfer

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/csvio"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Exports writes contacts out.
type Exports struct {
	contacts   *contact.Store
	workspaces *workspace.Store
}

// NewExports returns an Exports.
func NewExports(contacts *contact.Store, workspaces *workspace.Store) *Exports {
	return &Exports{contacts: contacts, workspaces: workspaces}
}

// CSV writes the contacts of the actor's workspace wsID (ids picks some; nil
// is all) with columns (keys; nil is DefaultColumns) to w, and returns how
// many rows it wrote. bom prefixes a UTF-8 byte-order mark for Excel.
func (x *Exports) CSV(ctx context.Context, actor auth.Actor, wsID string, ids, columns []string, bom bool, loc *time.Location, w io.Writer) (int, error) {
	fields, err := x.contacts.Fields(ctx, actor, wsID)
	if err != nil {
		return 0, err
	}
	if columns == nil {
		columns = csvio.DefaultColumns
	}
	cols, err := csvio.Columns(columns, fields)
	if err != nil {
		return 0, err
	}
	withCustom := false
	for _, c := range cols {
		withCustom = withCustom || len(c.Key) > 7 && c.Key[:7] == "custom:"
	}
	cw, err := csvio.NewWriter(w, cols, bom, loc)
	if err != nil {
		return 0, err
	}
	n := 0
	err = x.contacts.Export(ctx, actor, wsID, ids, withCustom, func(r *contact.ExportRow) error {
		n++
		return cw.Write(r)
	})
	if err != nil {
		return n, err
	}
	return n, cw.Flush()
}

// AllColumns is every built-in column and every custom field of the
// workspace: what a round trip and the emergency export write.
func AllColumns(fields []contact.FieldDef) []string {
	out := append(append([]string(nil), csvio.DefaultColumns...), csvio.OptionalColumns...)
	for _, f := range fields {
		out = append(out, "custom:"+f.ID)
	}
	return out
}

// VCard writes the contacts as one .vcf (vCard 4.0).
func (x *Exports) VCard(ctx context.Context, actor auth.Actor, wsID string, ids []string, w io.Writer) (int, error) {
	vw := csvio.NewVCardWriter(w)
	n := 0
	err := x.contacts.Export(ctx, actor, wsID, ids, false, func(r *contact.ExportRow) error {
		n++
		return vw.Write(r)
	})
	return n, err
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._ -]+`)

// All writes the emergency export: a zip holding every workspace of the
// actor as CSV with every column, and the templates and campaigns as JSON.
// It returns how many contacts it wrote.
func (x *Exports) All(ctx context.Context, actor auth.Actor, loc *time.Location, w io.Writer) (int, error) {
	spaces, err := x.workspaces.List(ctx, actor)
	if err != nil {
		return 0, err
	}
	zw := zip.NewWriter(w)
	total := 0
	used := map[string]bool{}
	for _, ws := range spaces {
		fields, err := x.contacts.Fields(ctx, actor, ws.ID)
		if err != nil {
			return total, err
		}
		name := unsafeName.ReplaceAllString(ws.Name, "_")
		for i := 2; used[name]; i++ {
			name = fmt.Sprintf("%s (%d)", unsafeName.ReplaceAllString(ws.Name, "_"), i)
		}
		used[name] = true
		f, err := zw.CreateHeader(&zip.FileHeader{Name: "workspaces/" + name + ".csv", Method: zip.Deflate, Modified: time.Now()})
		if err != nil {
			return total, err
		}
		n, err := x.CSV(ctx, actor, ws.ID, nil, AllColumns(fields), true, loc, f)
		total += n
		if err != nil {
			return total, fmt.Errorf("export %s: %w", ws.Name, err)
		}
	}
	meta := map[string]any{
		"exported_at": time.Now().UTC().Format(time.RFC3339),
		"user_id":     actor.UserID,
		"workspaces":  len(spaces),
		"contacts":    total,
	}
	// Templates and campaigns are written as JSON; until those features
	// exist the lists are empty, so the layout of the export never changes.
	for name, v := range map[string]any{"templates.json": []any{}, "campaigns.json": []any{}, "export.json": meta} {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Now()})
		if err != nil {
			return total, err
		}
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return total, err
		}
	}
	return total, zw.Close()
}
