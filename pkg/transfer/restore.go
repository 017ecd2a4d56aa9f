package transfer

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/csvio"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Restored counts what Restore brought back.
type Restored struct {
	Workspaces, Contacts, LogEntries int
	Skipped                          []string // rows or entries that could not come back, and why
}

// restoreBatch is how many rows or log entries one transaction restores.
const restoreBatch = 2000

// Restore brings an emergency export (All) back into the actor's account:
// each workspaces/<name>/ folder becomes a new workspace of that name (with
// " (restored)" when the name is taken), with its custom fields, its
// contacts (keeping their ids where free, so the log and the spouse and
// referral links still point at them) and its whole communication log. It
// is for the day the database is lost and the replica with it.
func (x *Exports) Restore(ctx context.Context, actor auth.Actor, zr *zip.Reader) (Restored, error) {
	var out Restored
	files := map[string]*zip.File{}
	var folders []string
	for _, f := range zr.File {
		files[f.Name] = f
		if dir, name := path.Split(f.Name); name == "contacts.csv" && strings.HasPrefix(dir, "workspaces/") {
			folders = append(folders, dir)
		}
	}
	meta := struct {
		UserID string `json:"user_id"`
	}{}
	if f := files["export.json"]; f == nil || readJSON(f, &meta) != nil {
		return out, errors.New("this is not a pi-crm emergency export: it has no export.json")
	}
	sort.Strings(folders)
	have, err := x.workspaces.List(ctx, actor)
	if err != nil {
		return out, err
	}
	taken := map[string]bool{}
	for _, w := range have {
		taken[strings.ToLower(w.Name)] = true
	}
	for _, dir := range folders {
		name := strings.TrimSuffix(strings.TrimPrefix(dir, "workspaces/"), "/")
		if taken[strings.ToLower(name)] {
			name += " (restored)"
		}
		taken[strings.ToLower(name)] = true
		ws, err := x.workspaces.Create(ctx, actor, workspace.Change{Name: &name})
		if err != nil {
			return out, fmt.Errorf("restore workspace %q: %w", name, err)
		}
		out.Workspaces++
		if err := x.restoreWorkspace(ctx, actor, ws.ID, meta.UserID, dir, files, &out); err != nil {
			return out, fmt.Errorf("restore workspace %q: %w", name, err)
		}
	}
	return out, nil
}

func (x *Exports) restoreWorkspace(ctx context.Context, actor auth.Actor, wsID, byID, dir string, files map[string]*zip.File, out *Restored) error {
	var defs []contact.FieldDef
	if f := files[dir+"custom_fields.json"]; f != nil {
		if err := readJSON(f, &defs); err != nil {
			return fmt.Errorf("custom_fields.json: %w", err)
		}
	}
	have, err := x.contacts.Fields(ctx, actor, wsID)
	if err != nil {
		return err
	}
	named := map[string]bool{}
	for _, d := range have {
		named[strings.ToLower(d.Name)] = true // a global field restored with an earlier workspace
	}
	for _, d := range defs {
		if named[strings.ToLower(d.Name)] {
			continue
		}
		global := d.WorkspaceID == ""
		d.ID, d.WorkspaceID = "", ""
		if _, err := x.contacts.CreateField(ctx, actor, wsID, d, global); err != nil {
			return fmt.Errorf("custom field %q: %w", d.Name, err)
		}
	}
	fields, err := x.contacts.Fields(ctx, actor, wsID)
	if err != nil {
		return err
	}
	byFieldID := map[string]contact.FieldDef{}
	for _, f := range fields {
		byFieldID[f.ID] = f
	}
	ids, links, err := x.restoreContacts(ctx, actor, wsID, files[dir+"contacts.csv"], fields, byFieldID, out)
	if err != nil {
		return err
	}
	for id, l := range links {
		f := contact.Fields{}
		if s, ok := ids[l[0]]; ok && l[0] != "" {
			f.SpouseID = &s
		}
		if r, ok := ids[l[1]]; ok && l[1] != "" {
			f.ReferredByID = &r
		}
		if f.SpouseID == nil && f.ReferredByID == nil {
			continue
		}
		if _, err := x.contacts.Update(ctx, actor, wsID, id, f, true); err != nil {
			out.Skipped = append(out.Skipped, fmt.Sprintf("the spouse or referrer of contact %s: %v", id, err))
		}
	}
	if f := files[dir+"log.csv"]; f != nil {
		return x.restoreLog(ctx, actor, wsID, byID, f, ids, out)
	}
	return nil
}

// restoreContacts imports contacts.csv keeping the exported ids. It returns
// the exported id -> new id map and, by new id, the exported ids of each
// contact's spouse and referrer.
func (x *Exports) restoreContacts(ctx context.Context, actor auth.Actor, wsID string, f *zip.File, fields []contact.FieldDef, byFieldID map[string]contact.FieldDef,
	out *Restored) (map[string]string, map[string][2]string, error) {
	ids, links := map[string]string{}, map[string][2]string{}
	if f == nil {
		return ids, links, nil
	}
	rc, err := f.Open()
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	r, err := csvio.NewReader(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("contacts.csv: %w", err)
	}
	col := func(h string) int {
		for i, v := range r.Header {
			if v == h {
				return i
			}
		}
		return -1
	}
	idCol, spouseCol, refCol := col("pi-crm ID"), col("Spouse (pi-crm ID)"), col("Referred By (pi-crm ID)")
	m := csvio.Guess(r.Header, fields)
	var region string
	if ws, err := x.workspaces.Get(ctx, actor, wsID); err == nil {
		region = ws.Settings.PhoneRegion
	}
	imp, err := x.contacts.BeginImport(ctx, actor, wsID, contact.ImportOptions{Source: "emergency export", OnDuplicate: contact.DupCreate, Restore: true})
	if err != nil {
		return nil, nil, err
	}
	defer imp.Close()
	cell := func(rec csvio.Record, i int) string {
		if i >= 0 && i < len(rec.Fields) {
			return rec.Fields[i]
		}
		return ""
	}
	var batch []contact.ImportRow
	pending := map[string][2]string{} // exported id -> its spouse and referrer
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		imp.PrepareRows(batch, region)
		res, err := imp.Batch(ctx, batch, func(conn *sqlite.Conn, r contact.ImportResult) error {
			return audit.Record(conn, actor.Audit("contact.restore", "workspace", wsID, map[string]any{"created": r.Created, "failed": len(r.Failed)}))
		})
		if err != nil {
			return err
		}
		out.Contacts += res.Created
		for _, fl := range res.Failed {
			out.Skipped = append(out.Skipped, fmt.Sprintf("contacts.csv row %d: %s %s", fl.Row, fl.Column, fl.Reason))
		}
		for old, id := range res.IDs {
			ids[old] = id
			links[id] = pending[old]
		}
		batch, pending = batch[:0], map[string][2]string{}
		return nil
	}
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("contacts.csv: %w", err)
		}
		e, errs, _ := m.Apply(r.Header, rec, region, byFieldID)
		if len(errs) > 0 {
			out.Skipped = append(out.Skipped, fmt.Sprintf("contacts.csv line %d: %s", rec.Line, errs[len(errs)-1].Error()))
			continue
		}
		old := cell(rec, idCol)
		pending[old] = [2]string{cell(rec, spouseCol), cell(rec, refCol)}
		batch = append(batch, contact.ImportRow{Row: rec.Row, ID: old, Fields: e.Fields, Stage: e.Stage, Tags: e.Tags, Note: e.Note})
		if len(batch) == restoreBatch {
			if err := flush(); err != nil {
				return nil, nil, err
			}
		}
	}
	return ids, links, flush()
}

// restoreLog writes log.csv's entries back, each on its contact's new id.
func (x *Exports) restoreLog(ctx context.Context, actor auth.Actor, wsID, byID string, f *zip.File, ids map[string]string, out *Restored) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	cr, err := csvio.NewReader(rc)
	if err != nil {
		return fmt.Errorf("log.csv: %w", err)
	}
	var batch []activity.Entry
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := x.contacts.RestoreLog(ctx, actor, wsID, byID, batch); err != nil {
			return err
		}
		out.LogEntries += len(batch)
		batch = batch[:0]
		return nil
	}
	for {
		r, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("log.csv: %w", err)
		}
		rec, line := r.Fields, r.Line
		if len(rec) < 6 || r.Err != nil {
			out.Skipped = append(out.Skipped, fmt.Sprintf("log.csv line %d: %d columns, want 6", line, len(rec)))
			continue
		}
		id, ok := ids[rec[0]]
		at, terr := time.Parse(time.RFC3339Nano, rec[1])
		if !ok || terr != nil {
			out.Skipped = append(out.Skipped, fmt.Sprintf("log.csv line %d: no such contact or time", line))
			continue
		}
		batch = append(batch, activity.Entry{ContactID: id, Kind: activity.Kind(rec[2]), OccurredAt: at, Summary: rec[3],
			Body: json.RawMessage(rec[4]), ActorUserID: rec[5]})
		if len(batch) == restoreBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func readJSON(f *zip.File, v any) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	return json.NewDecoder(rc).Decode(v)
}
