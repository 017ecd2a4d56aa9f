package contact

import (
	"context"
	"fmt"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// DupAction says what an import does with a row that shares an email or a
// phone with a contact already in the workspace (or an earlier row).
type DupAction string

// The duplicate actions.
const (
	DupSkip   DupAction = "skip"   // leave the existing contact alone
	DupCreate DupAction = "create" // add the row as a contact of its own
	DupMerge  DupAction = "merge"  // fold the row into the existing contact
)

// Valid reports whether a is one of the actions.
func (a DupAction) Valid() bool { return a == DupSkip || a == DupCreate || a == DupMerge }

// ImportRow is one contact to import.
type ImportRow struct {
	Row    int // the file's data row, for the report
	Fields Fields
	Stage  string   // stage name from the file ("" takes the import's)
	Tags   []string // tag names from the file, made when missing
	Note   string   // plain text, logged as a note
	Action DupAction
	// ID is the id to give the contact (a restore keeps the exported ids,
	// which its log and links name); a new one when empty or taken.
	ID string
	// CreatedAt and LastContactAt backdate a new contact (the demo
	// generator's history); zero is now and never.
	CreatedAt, LastContactAt time.Time
	prep                     *prepared // set by PrepareRows
}

// prepared is a row validated ahead of its batch.
type prepared struct {
	region string
	n      normalized
	err    error
}

// PrepareRows validates and normalizes rows ahead of their batch, so that
// the work can run outside the write transaction (on a reader goroutine,
// say, beside Batch). region is the workspace's phone region; a batch
// checks again if the region has changed since.
func (in *Importer) PrepareRows(rows []ImportRow, region string) {
	for i := range rows {
		n, err := check(&rows[i].Fields, region, in.phones)
		rows[i].prep = &prepared{region: region, n: n, err: err}
	}
}

// ImportOptions apply to every row of an import.
type ImportOptions struct {
	Source      string    // the file's name, for "Imported from <file>"
	StageID     string    // stage for rows without one ("" for none)
	TagIDs      []string  // tags for every row
	OnDuplicate DupAction // for rows without their own Action
	// Restore leaves out the "Imported from" entries (a restore brings the
	// contacts' own log back; the demo generator writes its own).
	Restore bool
}

// RowFailure is a row that could not be imported.
type RowFailure struct {
	Row    int
	Column string
	Reason string
}

// ImportResult counts one batch.
type ImportResult struct {
	Created, Merged, Skipped int
	Failed                   []RowFailure
	ListsMade                []string
	// IDs maps each created row's ImportRow.ID to the contact's id (the
	// same unless it was taken).
	IDs map[string]string
}

// Importer imports batches of rows into one workspace over one held
// connection. Between batches it keeps the workspace's email and phone
// keys in memory (see keySet), so a row that duplicates nothing costs no
// look-up. Close releases the connection.
type Importer struct {
	held  *store.Held
	actor auth.Actor
	wsID  string
	opt   ImportOptions
	// phones reads typed numbers (the Store's).
	phones PhoneParser
	// keys holds the workspace's duplicate keys as of version, the
	// workspace's key version after the last batch; nil until the first.
	keys    *keySet
	version int64
	reloads int // how often keys were loaded, for tests
}

// BeginImport starts an import into the actor's workspace wsID. opt
// applies to every batch.
func (s *Store) BeginImport(ctx context.Context, actor auth.Actor, wsID string, opt ImportOptions) (*Importer, error) {
	held, err := s.db.Hold(ctx)
	if err != nil {
		return nil, err
	}
	return &Importer{held: held, actor: actor, wsID: wsID, opt: opt, phones: s.phones}, nil
}

// Close releases the import's connection.
func (in *Importer) Close() { in.held.Release() }

// Batch adds rows in one transaction, then calls commit in the same
// transaction (a job records its progress there, so a crash leaves either
// the whole batch and its progress or neither). A row that fails
// validation is reported, not imported; duplicates follow each row's
// Action or the import's OnDuplicate. Every imported contact's log gets
// "Imported from <file>". The caller writes the audit row for the import.
func (in *Importer) Batch(ctx context.Context, rows []ImportRow, commit func(conn *sqlite.Conn, r ImportResult) error) (ImportResult, error) {
	var (
		res     ImportResult
		version int64
	)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	err := in.held.Write(func(conn *sqlite.Conn) error {
		res = ImportResult{}
		if err := workspace.Owned(conn, in.actor, in.wsID); err != nil {
			return err
		}
		if err := in.syncKeys(conn); err != nil {
			return err
		}
		im, err := newImporter(conn, in.actor, in.wsID, in.opt, in.phones)
		if err != nil {
			return err
		}
		im.keys = in.keys
		// A bulk load touches every index of five tables: an 8 MB page
		// cache for the batch (4x the default) saves reads, then goes back
		// to normal. Measured: 32 MB was no faster.
		if err := sqlitex.ExecuteTransient(conn, "PRAGMA cache_size = -8192", nil); err != nil {
			return err
		}
		defer sqlitex.ExecuteTransient(conn, "PRAGMA cache_size = -2000", nil)
		for i := range rows {
			if err := im.row(&rows[i], &res); err != nil {
				return fmt.Errorf("import row %d: %w", rows[i].Row, err)
			}
		}
		if err := im.flushFTS(); err != nil {
			return err
		}
		// This batch's keys are in the set already; the bump tells any
		// other import into the workspace to reload its own.
		if version, err = bumpKeys(conn, in.wsID); err != nil {
			return err
		}
		if commit != nil {
			return commit(conn, res)
		}
		return nil
	})
	if err != nil {
		// The batch rolled back: the set may hold its keys, which only
		// costs look-ups, but start again from the database anyway.
		in.keys = nil
		return res, err
	}
	in.version = version
	return res, nil
}

// syncKeys makes in.keys hold every email and phone key of the workspace:
// loaded on the first batch, and loaded again when someone else added keys
// since the last batch (the workspace's key version moved: a note or a
// heartbeat committed meanwhile costs no reload). Within a batch the write
// lock keeps everyone else out.
func (in *Importer) syncKeys(conn *sqlite.Conn) error {
	v, err := keyVersion(conn, in.wsID)
	if err != nil {
		return err
	}
	if in.keys != nil && v == in.version {
		return nil
	}
	keys, err := loadKeys(conn, in.wsID)
	if err != nil {
		return err
	}
	in.keys, in.version = keys, v
	in.reloads++
	return nil
}

// importer holds what one batch reuses: the region, custom fields, lists by
// name and the prepared inserts.
type importer struct {
	conn   *sqlite.Conn
	actor  auth.Actor
	wsID   string
	opt    ImportOptions
	region string
	phones PhoneParser
	defs   map[string]FieldDef
	owner  string
	lists  map[string]string // kind + "\x00" + lower(name) -> id
	now    string
	insC   *sqlite.Stmt
	insTag *sqlite.Stmt
	insFTS *sqlite.Stmt
	insCV  *sqlite.Stmt
	// keys are the workspace's duplicate keys (nil: look every row up).
	keys    *keySet
	summary string
	// defaults are the custom fields' default values, read once.
	defaults map[string]string
	// fts holds the batch's full-text rows, written last: FTS5 flushes
	// its pending index at every statement savepoint, so interleaving its
	// inserts with other statements would flush once per row.
	fts []ftsRow
}

type ftsRow struct {
	rowid int64
	body  string
}

func (im *importer) flushFTS() error {
	for _, r := range im.fts {
		bind(im.insFTS, 1, r.rowid)
		bind(im.insFTS, 2, r.body)
		if err := step(im.insFTS); err != nil {
			return fmt.Errorf("index contact: %w", err)
		}
	}
	im.fts = im.fts[:0]
	return nil
}

func newImporter(conn *sqlite.Conn, actor auth.Actor, wsID string, opt ImportOptions, phones PhoneParser) (*importer, error) {
	region, err := workspace.PhoneRegion(conn, wsID)
	if err != nil {
		return nil, err
	}
	owner, err := ownerOf(conn, wsID)
	if err != nil {
		return nil, err
	}
	all, err := defs(conn, owner, wsID)
	if err != nil {
		return nil, err
	}
	im := &importer{conn: conn, actor: actor, wsID: wsID, opt: opt, region: region, phones: phones, owner: owner, defs: map[string]FieldDef{}, lists: map[string]string{},
		now: store.FormatTime(time.Now()), summary: "Imported from " + opt.Source}
	im.defaults = map[string]string{}
	for _, d := range all {
		im.defs[d.ID] = d
		if d.Default != "" {
			im.defaults[d.ID] = d.Default
		}
	}
	if err := sqlitex.Execute(conn, `SELECT id, kind, name FROM lists WHERE workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{wsID}, ResultFunc: func(st *sqlite.Stmt) error {
		im.lists[st.ColumnText(1)+"\x00"+strings.ToLower(st.ColumnText(2))] = st.ColumnText(0)
		return nil
	}}); err != nil {
		return nil, fmt.Errorf("read lists: %w", err)
	}
	if opt.StageID != "" {
		if l, err := list.Get(conn, wsID, opt.StageID); err != nil || l.Kind != list.Stage {
			return nil, errs.Fields{"stage_id": "Choose a stage of this workspace."}.Err()
		}
	}
	for _, t := range opt.TagIDs {
		if l, err := list.Get(conn, wsID, t); err != nil || l.Kind != list.Tag {
			return nil, errs.Fields{"tag_ids": "Choose tags of this workspace."}.Err()
		}
	}
	im.insC = conn.Prep(`INSERT INTO contacts (id, workspace_id, first_name, last_name, company, stage_id, stage_changed_at,
		birthday_month, birthday_day, birthday_year, marital_status, children, pets, referred_by, file_notes, do_not_contact, created_at, updated_at,
		middle_name, nickname, job_title, website, address, last_contact_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	im.insTag = conn.Prep(`INSERT OR IGNORE INTO contact_tags (contact_id, list_id) VALUES (?, ?)`)
	im.insFTS = conn.Prep(`INSERT INTO contacts_fts (rowid, body) VALUES (?, ?)`)
	im.insCV = conn.Prep(`INSERT INTO custom_values (contact_id, field_id, value) VALUES (?, ?, ?) ON CONFLICT (contact_id, field_id) DO UPDATE SET value = excluded.value`)
	return im, nil
}

// listID returns the id of the list of kind named name, making it.
func (im *importer) listID(kind list.Kind, name string, res *ImportResult) (string, error) {
	key := string(kind) + "\x00" + strings.ToLower(strings.TrimSpace(name))
	if id, ok := im.lists[key]; ok {
		return id, nil
	}
	l, created, err := list.Ensure(im.conn, im.wsID, kind, name)
	if err != nil {
		return "", err
	}
	if created {
		res.ListsMade = append(res.ListsMade, string(kind)+" "+l.Name)
	}
	im.lists[key] = l.ID
	return l.ID, nil
}

func (im *importer) fail(res *ImportResult, r *ImportRow, err error) {
	e := errs.As(err)
	if len(e.Fields) == 0 {
		res.Failed = append(res.Failed, RowFailure{Row: r.Row, Reason: e.Message})
		return
	}
	for field, msg := range e.Fields {
		res.Failed = append(res.Failed, RowFailure{Row: r.Row, Column: field, Reason: msg})
	}
}

func (im *importer) row(r *ImportRow, res *ImportResult) error {
	var n normalized
	var err error
	if p := r.prep; p != nil && p.region == im.region {
		n, err = p.n, p.err
	} else {
		n, err = check(&r.Fields, im.region, im.phones)
	}
	if err != nil {
		im.fail(res, r, err)
		return nil
	}
	custom := map[string]string{}
	for fid, v := range r.Fields.Custom {
		d, ok := im.defs[fid]
		if !ok {
			continue
		}
		sv, msg := d.checkValue(v)
		if msg != "" {
			res.Failed = append(res.Failed, RowFailure{Row: r.Row, Column: d.Name, Reason: msg})
			return nil
		}
		custom[fid] = sv
	}
	stageID := im.opt.StageID
	if r.Stage != "" {
		if stageID, err = im.listID(list.Stage, r.Stage, res); err != nil {
			im.fail(res, r, err)
			return nil
		}
	}
	tagIDs := append([]string(nil), im.opt.TagIDs...)
	for _, t := range r.Tags {
		id, err := im.listID(list.Tag, t, res)
		if err != nil {
			im.fail(res, r, err)
			return nil
		}
		tagIDs = append(tagIDs, id)
	}
	var dups []string
	if im.keys == nil || im.keys.mayHave(n) {
		if dups, err = duplicates(im.conn, im.wsID, "", n.norms, n.phones); err != nil {
			return err
		}
	}
	action := r.Action
	if !action.Valid() {
		action = im.opt.OnDuplicate
	}
	if len(dups) > 0 {
		switch action {
		case DupSkip, "":
			res.Skipped++
			return nil
		case DupMerge:
			if err := im.merge(dups[0], r, n, stageID, tagIDs, custom); err != nil {
				if errs.KindOf(err) == errs.Invalid {
					im.fail(res, r, err)
					return nil
				}
				return err
			}
			res.Merged++
			return nil
		}
	}
	if err := im.insert(r, n, stageID, tagIDs, custom, res); err != nil {
		return err
	}
	res.Created++
	return nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// insert adds the row as a new contact with prepared statements: the
// import's fast path.
func (im *importer) insert(r *ImportRow, n normalized, stageID string, tagIDs []string, custom map[string]string, res *ImportResult) error {
	f := &r.Fields
	id := store.NewID()
	if r.ID != "" {
		taken, err := anyContact(im.conn, r.ID)
		if err != nil {
			return err
		}
		if !taken {
			id = r.ID
		}
		if res.IDs == nil {
			res.IDs = map[string]string{}
		}
		res.IDs[r.ID] = id
	}
	var stage, stageAt, bm, bd, by, lastContact any
	created := im.now
	if !r.CreatedAt.IsZero() {
		created = store.FormatTime(r.CreatedAt)
	}
	if !r.LastContactAt.IsZero() {
		lastContact = store.FormatTime(r.LastContactAt)
	}
	if stageID != "" {
		stage, stageAt = stageID, created
	}
	if f.Birthday != nil && *f.Birthday != nil {
		b := *f.Birthday
		bm, bd = b.Month, b.Day
		if b.Year != 0 {
			by = b.Year
		}
	}
	dnc := f.DoNotContact != nil && *f.DoNotContact
	for i, v := range []any{id, im.wsID, str(f.FirstName), str(f.LastName), str(f.Company), stage, stageAt, bm, bd, by,
		str(f.MaritalStatus), str(f.Children), str(f.Pets), str(f.ReferredBy), str(f.FileNotes), dnc, created, created,
		str(f.MiddleName), str(f.Nickname), str(f.JobTitle), str(f.Website), str(f.Address), lastContact} {
		bind(im.insC, i+1, v)
	}
	if err := step(im.insC); err != nil {
		return fmt.Errorf("insert contact: %w", err)
	}
	rowid := im.conn.LastInsertRowID()
	x := indexed{names: []string{str(f.FirstName), str(f.MiddleName), str(f.LastName), str(f.Nickname), str(f.Company), str(f.JobTitle)}, fileNotes: str(f.FileNotes)}
	for i, e := range n.emails {
		if err := insertEmail(im.conn, im.wsID, id, e, n.norms[i]); err != nil {
			return err
		}
		x.emails = append(x.emails, e.Address)
	}
	for _, p := range n.phones {
		if err := insertPhone(im.conn, im.wsID, id, p); err != nil {
			return err
		}
		x.phones = append(x.phones, p.Number)
	}
	if im.keys != nil {
		im.keys.add(n)
	}
	for fid, v := range im.defaults {
		if _, set := custom[fid]; !set {
			custom[fid] = v
		}
	}
	for fid, v := range custom {
		if v == "" {
			continue
		}
		for i, a := range []any{id, fid, v} {
			bind(im.insCV, i+1, a)
		}
		if err := step(im.insCV); err != nil {
			return fmt.Errorf("custom value: %w", err)
		}
	}
	for _, t := range tagIDs {
		bind(im.insTag, 1, id)
		bind(im.insTag, 2, t)
		if err := step(im.insTag); err != nil {
			return fmt.Errorf("tag: %w", err)
		}
	}
	if err := im.log(id, r, false); err != nil {
		return err
	}
	if r.Note != "" {
		x.notes = append(x.notes, noteHTML(r.Note))
	}
	im.fts = append(im.fts, ftsRow{rowid, searchText(x)})
	return nil
}

// log records the import on the contact's log, and the row's note.
func (im *importer) log(id string, r *ImportRow, merged bool) error {
	summary := im.summary
	if merged {
		summary += " (merged)"
	}
	if !im.opt.Restore {
		if err := activity.Record(im.conn, activity.Entry{WorkspaceID: im.wsID, ContactID: id, Kind: activity.System, Summary: summary, ActorUserID: im.actor.UserID},
			activity.SystemBody{Event: "imported", Details: map[string]any{"file": im.opt.Source, "row": r.Row, "merged": merged}}); err != nil {
			return err
		}
	}
	if r.Note == "" {
		return nil
	}
	note := noteHTML(r.Note)
	return activity.Record(im.conn, activity.Entry{WorkspaceID: im.wsID, ContactID: id, Kind: activity.Note, Summary: snippet(r.Note), ActorUserID: im.actor.UserID},
		activity.NoteBody{HTML: note})
}

// merge folds the row into contact id: its empty fields are filled, new
// emails and phones are added (the existing primaries stay), tags join,
// and custom values fill the empty ones.
func (im *importer) merge(id string, r *ImportRow, n normalized, stageID string, tagIDs []string, custom map[string]string) error {
	// The contact may be one this batch created, whose index row waits.
	if err := im.flushFTS(); err != nil {
		return err
	}
	old, err := load(im.conn, im.wsID, id)
	if err != nil {
		return err
	}
	var f Fields
	fill := func(dst **string, cur string, v *string) {
		if cur == "" && v != nil && *v != "" {
			*dst = v
		}
	}
	fill(&f.FirstName, old.FirstName, r.Fields.FirstName)
	fill(&f.LastName, old.LastName, r.Fields.LastName)
	fill(&f.Company, old.Company, r.Fields.Company)
	fill(&f.MiddleName, old.MiddleName, r.Fields.MiddleName)
	fill(&f.Nickname, old.Nickname, r.Fields.Nickname)
	fill(&f.JobTitle, old.JobTitle, r.Fields.JobTitle)
	fill(&f.Website, old.Website, r.Fields.Website)
	fill(&f.Address, old.Address, r.Fields.Address)
	fill(&f.MaritalStatus, old.MaritalStatus, r.Fields.MaritalStatus)
	fill(&f.Children, old.Children, r.Fields.Children)
	fill(&f.Pets, old.Pets, r.Fields.Pets)
	fill(&f.ReferredBy, old.ReferredBy, r.Fields.ReferredBy)
	fill(&f.FileNotes, old.FileNotes, r.Fields.FileNotes)
	if old.Birthday == nil && r.Fields.Birthday != nil {
		f.Birthday = r.Fields.Birthday
	}
	emails := make([]EmailInput, 0, len(old.Emails)+len(n.emails))
	have := map[string]bool{}
	for _, e := range old.Emails {
		emails = append(emails, EmailInput{Address: e.Address, Label: e.Label, Primary: e.Primary})
		_, norm, _ := NormalizeEmail(e.Address)
		have[norm] = true
	}
	for i, e := range n.emails {
		if !have[n.norms[i]] {
			emails = append(emails, EmailInput{Address: e.Address, Label: e.Label, Primary: len(emails) == 0})
		}
	}
	phones := make([]PhoneInput, 0, len(old.Phones)+len(n.phones))
	haveP := map[string]bool{}
	for _, p := range old.Phones {
		phones = append(phones, PhoneInput{Number: p.Number, Label: p.Label, Primary: p.Primary})
		haveP[p.Number] = true
	}
	for _, p := range n.phones {
		if !haveP[p.Number] {
			phones = append(phones, PhoneInput{Number: p.Number, Label: p.Label, Primary: len(phones) == 0})
		}
	}
	f.Emails, f.Phones = &emails, &phones
	nn, err := check(&f, im.region, im.phones)
	if err != nil {
		return err
	}
	if err := apply(im.conn, im.actor, im.wsID, id, f, nn, old); err != nil {
		return err
	}
	if im.keys != nil {
		im.keys.add(nn)
	}
	if old.StageID == "" && stageID != "" {
		if err := setStage(im.conn, im.actor, im.wsID, id, stageID); err != nil {
			return err
		}
	}
	for _, t := range tagIDs {
		if err := setTag(im.conn, im.actor, im.wsID, id, t, true); err != nil {
			return err
		}
	}
	for fid, v := range custom {
		if old.Custom[fid] == "" && v != "" {
			for i, a := range []any{id, fid, v} {
				bind(im.insCV, i+1, a)
			}
			if err := step(im.insCV); err != nil {
				return fmt.Errorf("custom value: %w", err)
			}
		}
	}
	return im.log(id, r, true)
}

// Match is an existing contact an imported row would duplicate.
type Match struct {
	ID   string
	Name string
}

// DuplicatesOf returns, for each of fs, the contacts of the actor's
// workspace wsID that share an email or a phone with it, in one read.
func (s *Store) DuplicatesOf(ctx context.Context, actor auth.Actor, wsID string, fs []Fields) ([][]Match, error) {
	out := make([][]Match, len(fs))
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		region, err := workspace.PhoneRegion(conn, wsID)
		if err != nil {
			return err
		}
		names := map[string]string{}
		for i := range fs {
			n, err := check(&fs[i], region, s.phones)
			if err != nil {
				continue
			}
			ids, err := duplicates(conn, wsID, "", n.norms, n.phones)
			if err != nil {
				return err
			}
			for _, id := range ids {
				name, ok := names[id]
				if !ok {
					if err := sqlitex.Execute(conn, `SELECT trim(first_name || ' ' || last_name) FROM contacts WHERE id = ?`, &sqlitex.ExecOptions{
						Args: []any{id}, ResultFunc: func(st *sqlite.Stmt) error { name = st.ColumnText(0); return nil }}); err != nil {
						return err
					}
					names[id] = name
				}
				out[i] = append(out[i], Match{ID: id, Name: name})
			}
		}
		return nil
	})
	return out, err
}

// Validate checks f as an import or a form would (phones reads its
// numbers, those without a country code as region's), without touching
// the database.
func Validate(f Fields, region string, phones PhoneParser) error {
	_, err := check(&f, region, phones)
	return err
}

// anyContact reports whether any workspace has a contact with this id.
func anyContact(conn *sqlite.Conn, id string) (bool, error) {
	found, err := store.Exists(conn, `SELECT 1 FROM contacts WHERE id = ?`, id)
	if err != nil {
		return false, fmt.Errorf("check contact id: %w", err)
	}
	return found, nil
}
