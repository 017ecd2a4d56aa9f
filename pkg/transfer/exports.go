package transfer

import (
	"archive/zip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/pi-crm/pi-crm/pkg/activity"
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

// exportReadme is the README.txt at the top of the emergency export.
const exportReadme = `pi-crm emergency export
=======================

Everything of yours in pi-crm, written %s, as plain files any spreadsheet
or text editor opens. One folder per workspace:

  workspaces/<name>/contacts.csv
      Every contact with every field: names, company, job title, emails and
      phones with their labels (the primary first), stage, tags, birthday,
      address, website, family, referral, loan file notes, do not contact,
      created and last contact times, and one column per custom field.
      "pi-crm ID" names each contact; the spouse and referred-by columns
      with "(pi-crm ID)" point at another row. Import this file into any
      workspace (Contacts > Import) to bring the contacts back.

  workspaces/<name>/log.csv
      The whole communication log: every note, call, text, email, stage and
      tag change, field change and system event, one line each, by contact
      ("Contact ID" is the "pi-crm ID" of contacts.csv), oldest first.
      "Details" holds the entry's full content as JSON.

  workspaces/<name>/custom_fields.json
      The custom field definitions the workspace uses: name, type, choices,
      required and default.

  shares.json
      "shared_by_me": your contacts shared with another user, and with whom.
      "shared_with_me": the contacts other users share with you (read-only;
      their details are in that file too, as you see them).

  templates.json, campaigns.json
      Your email templates and campaigns.

  export.json
      When this was written, for whom, and how many workspaces, contacts
      and log entries it holds.

To bring everything back into a pi-crm appliance, workspaces, contacts,
links and the whole log alike:

  crmctl import-export <this zip> --user <your email>

Times are in %s. CSV files are UTF-8 with a byte-order mark, as Excel
expects; a cell that starts like a formula has a leading apostrophe.
`

// All writes the emergency export: a zip with a README, and per workspace
// of the actor every contact with every column, the whole communication
// log and the custom field definitions; then the shares both ways, the
// templates and campaigns as JSON. It returns how many contacts it wrote.
func (x *Exports) All(ctx context.Context, actor auth.Actor, loc *time.Location, w io.Writer) (int, error) {
	spaces, err := x.workspaces.List(ctx, actor)
	if err != nil {
		return 0, err
	}
	zw := zip.NewWriter(w)
	create := func(name string) (io.Writer, error) {
		return zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Now()})
	}
	writeJSON := func(name string, v any) error {
		f, err := create(name)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	f, err := create("README.txt")
	if err != nil {
		return 0, err
	}
	if _, err := fmt.Fprintf(f, exportReadme, time.Now().In(loc).Format("2 January 2006 15:04 MST"), loc); err != nil {
		return 0, err
	}
	total, entries := 0, 0
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
		dir := "workspaces/" + name + "/"
		f, err := create(dir + "contacts.csv")
		if err != nil {
			return total, err
		}
		cols := append([]string{"id"}, AllColumns(fields)...)
		cols = append(cols, "spouse_id", "referred_by_id")
		n, err := x.CSV(ctx, actor, ws.ID, nil, cols, true, loc, f)
		total += n
		if err != nil {
			return total, fmt.Errorf("export %s: %w", ws.Name, err)
		}
		if f, err = create(dir + "log.csv"); err != nil {
			return total, err
		}
		m, err := x.log(ctx, actor, ws.ID, loc, f)
		entries += m
		if err != nil {
			return total, fmt.Errorf("export the log of %s: %w", ws.Name, err)
		}
		if fields == nil {
			fields = []contact.FieldDef{}
		}
		if err := writeJSON(dir+"custom_fields.json", fields); err != nil {
			return total, err
		}
	}
	by, err := x.contacts.SharesBy(ctx, actor)
	if err != nil {
		return total, err
	}
	with, err := x.contacts.SharedWithMe(ctx, actor)
	if err != nil {
		return total, err
	}
	if by == nil {
		by = []contact.OutShare{}
	}
	if with == nil {
		with = []contact.Share{}
	}
	meta := map[string]any{
		"exported_at": time.Now().UTC().Format(time.RFC3339),
		"user_id":     actor.UserID,
		"workspaces":  len(spaces),
		"contacts":    total,
		"log_entries": entries,
	}
	// Templates and campaigns are written as JSON; until those features
	// exist the lists are empty, so the layout of the export never changes.
	for _, file := range []struct {
		name string
		v    any
	}{{"shares.json", map[string]any{"shared_by_me": by, "shared_with_me": with}}, {"templates.json", []any{}}, {"campaigns.json", []any{}}, {"export.json", meta}} {
		if err := writeJSON(file.name, file.v); err != nil {
			return total, err
		}
	}
	return total, zw.Close()
}

// log writes workspace wsID's communication log as CSV and returns how
// many entries it wrote.
func (x *Exports) log(ctx context.Context, actor auth.Actor, wsID string, loc *time.Location, w io.Writer) (int, error) {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil { // Excel reads UTF-8 by its mark
		return 0, err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"Contact ID", "When", "Kind", "Summary", "Details", "By (user ID)"}); err != nil {
		return 0, err
	}
	n := 0
	err := x.contacts.ExportLog(ctx, actor, wsID, func(e activity.Entry) error {
		n++
		return cw.Write([]string{e.ContactID, e.OccurredAt.In(loc).Format(time.RFC3339Nano), string(e.Kind),
			csvio.Neutralize(e.Summary), csvio.Neutralize(string(e.Body)), e.ActorUserID})
	})
	if err != nil {
		return n, err
	}
	cw.Flush()
	return n, cw.Error()
}
