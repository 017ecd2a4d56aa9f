package transfer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/csvio"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Limits, stated on the upload page.
const (
	MaxUploadBytes = 20 << 20
	MaxRows        = 100_000
	// BatchRows is how many rows one transaction imports: large enough to be
	// fast, small enough that progress moves, a crash loses little work and
	// other writers wait little for the lock (about 0.13 s a batch on the
	// 2-core test machine). Measured on the benchmark: 2,000 gave 21,300-
	// 22,000 rows/s, 3,000 gave 23,200-23,300 and 4,000 22,700.
	BatchRows = 3000
	// DefaultLease is how long a running import's claim lasts without
	// renewal before another runner takes the job over (a crash, a kill
	// -9, a restart mid-import). The runner renews it every third of that,
	// and with every batch. The lease is the only test of life: /proc
	// cannot see the processes of another user under ProtectProc=invisible.
	DefaultLease = 30 * time.Second
	// UploadRetention is how long the upload of a draft nobody started, or
	// of a failed job, is kept.
	UploadRetention = 24 * time.Hour
)

// Job statuses.
const (
	Draft   = "draft"
	Queued  = "queued"
	Running = "running"
	Done    = "done"
	Failed  = "failed"
)

// Options are the choices for a whole import.
type Options struct {
	StageID     string                       `json:"stage_id"`
	TagIDs      []string                     `json:"tag_ids"`
	OnDuplicate contact.DupAction            `json:"on_duplicate"`
	RowActions  map[string]contact.DupAction `json:"row_actions"` // data row number -> action
}

// Job is one import.
type Job struct {
	ID          string
	UserID      string
	WorkspaceID string
	FileName    string
	FilePath    string
	Format      string // csv or vcard
	Encoding    string
	Delimiter   string
	Header      []string
	Mapping     csvio.Mapping
	Options     Options
	Status      string
	Total       int
	Next        int // rows consumed: the resume point
	Created     int
	Merged      int
	Skipped     int
	Failed      int
	Warned      int // rows imported without some of their values (the report lists them)
	Detail      string
	CreatedAt   time.Time
	FinishedAt  time.Time
}

// Percent is how far the job is.
func (j Job) Percent() int {
	if j.Status == Done {
		return 100
	}
	if j.Total == 0 {
		return 0
	}
	return min(100, j.Next*100/j.Total)
}

// Active reports whether the job is queued or running.
func (j Job) Active() bool { return j.Status == Queued || j.Status == Running }

// Imports runs import jobs.
type Imports struct {
	db       *store.DB
	contacts *contact.Store
	dir      string
	log      *slog.Logger
	// Progress, when set, hears of every batch a Run commits.
	Progress func(Job)
	// Lease is DefaultLease unless set (PICRM_IMPORT_LEASE; tests shorten
	// it).
	Lease time.Duration
}

// NewImports keeps uploads in dir.
func NewImports(db *store.DB, contacts *contact.Store, dir string, log *slog.Logger) *Imports {
	return &Imports{db: db, contacts: contacts, dir: dir, log: log, Lease: DefaultLease}
}

func (im *Imports) lease() time.Duration {
	if im.Lease <= 0 {
		return DefaultLease
	}
	return im.Lease
}

// Upload stores the file r (at most MaxUploadBytes and MaxRows), detects
// its format, encoding and delimiter, guesses the column mapping and makes
// a draft job in the actor's workspace wsID.
func (im *Imports) Upload(ctx context.Context, actor auth.Actor, wsID, fileName string, r io.Reader) (Job, error) {
	fields, err := im.contacts.Fields(ctx, actor, wsID) // also checks the workspace is the actor's
	if err != nil {
		return Job{}, err
	}
	fileName = cleanName(fileName)
	if fileName == "" {
		return Job{}, errs.Fields{"file": "Choose a file to import."}.Err()
	}
	if err := os.MkdirAll(im.dir, 0o700); err != nil {
		return Job{}, fmt.Errorf("imports folder: %w", err)
	}
	j := Job{ID: store.NewID(), UserID: actor.UserID, WorkspaceID: wsID, FileName: fileName, Status: Draft,
		Options: Options{OnDuplicate: contact.DupSkip}, CreatedAt: time.Now()}
	j.FilePath = filepath.Join(im.dir, j.ID+".upload")
	f, err := os.OpenFile(j.FilePath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return Job{}, fmt.Errorf("store upload: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(r, MaxUploadBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(j.FilePath)
		return Job{}, fmt.Errorf("store upload: %w", err)
	}
	fail := func(msg string) (Job, error) {
		os.Remove(j.FilePath)
		return Job{}, errs.Fields{"file": msg}.Err()
	}
	if n > MaxUploadBytes {
		os.Remove(j.FilePath)
		return Job{}, ErrTooLarge
	}
	if n == 0 {
		return fail("The file is empty.")
	}
	src, closeSrc, err := im.open(&j, "", nil, true)
	var limit *csvio.LimitError
	if errors.As(err, &limit) {
		return fail(limit.Msg)
	}
	if err != nil {
		if errs.KindOf(err) == errs.Invalid {
			os.Remove(j.FilePath)
			return Job{}, err
		}
		return fail("The file could not be read: " + err.Error())
	}
	total, err := csvio.Count(src)
	closeSrc()
	if errors.As(err, &limit) {
		return fail(limit.Msg)
	}
	if err != nil {
		return fail("The file could not be read: " + err.Error())
	}
	if total == 0 {
		return fail("The file has no rows to import.")
	}
	if total > MaxRows {
		return fail(fmt.Sprintf("The file has %d rows; an import takes at most %d. Split it and import the parts.", total, MaxRows))
	}
	j.Total = total
	if j.Format == "csv" {
		j.Mapping = csvio.Guess(j.Header, fields)
	}
	if err := workspace.Write(ctx, im.db, actor, wsID, func(conn *sqlite.Conn) error {
		if err := im.save(conn, j, true); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit("contact.import_upload", "import_job", j.ID, map[string]any{
			"workspace_id": wsID, "file": j.FileName, "format": j.Format, "bytes": n, "rows": j.Total}))
	}); err != nil {
		os.Remove(j.FilePath)
		return Job{}, err
	}
	return j, nil
}

// cleanName keeps a file's base name, without control characters.
func cleanName(n string) string {
	n = filepath.Base(strings.ReplaceAll(n, "\\", "/"))
	n = strings.Map(func(r rune) rune {
		if r < 32 || r == 127 {
			return -1
		}
		return r
	}, n)
	if n == "." || n == "/" {
		return ""
	}
	if len(n) > 120 {
		n = n[:120]
	}
	return n
}

// open returns a Source over the job's file. With detect it fills the
// job's format, encoding, delimiter and header first.
func (im *Imports) open(j *Job, region string, fields map[string]contact.FieldDef, detect bool) (csvio.Source, func(), error) {
	f, err := os.Open(j.FilePath)
	if err != nil {
		return nil, nil, fmt.Errorf("open upload: %w", err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(512)
	if detect {
		j.Format = "csv"
		ext := strings.ToLower(filepath.Ext(j.FileName))
		if ext == ".vcf" || ext == ".vcard" || csvio.IsVCard(head) {
			j.Format = "vcard"
		}
	}
	if j.Format == "vcard" {
		r := csvio.NewVCardReader(br)
		if detect {
			j.Encoding = "UTF-8"
		}
		return &csvio.VCardSource{R: r, Region: region}, func() { f.Close() }, nil
	}
	r, err := csvio.NewReader(br)
	if err != nil {
		f.Close()
		if errors.Is(err, csvio.ErrEmpty) {
			return nil, nil, errs.Fields{"file": "The file has no header row naming its columns."}.Err()
		}
		return nil, nil, err
	}
	if detect {
		j.Encoding, j.Delimiter, j.Header = r.Encoding, delimName(r.Delimiter), r.Header
	}
	return &csvio.CSVSource{R: r, Mapping: j.Mapping, Region: region, Fields: fields}, func() { f.Close() }, nil
}

func delimName(d rune) string {
	switch d {
	case '\t':
		return "tab"
	case ';':
		return "semicolon"
	case '|':
		return "pipe"
	}
	return "comma"
}

const jobColumns = `id, user_id, workspace_id, file_name, file_path, format, encoding, delimiter, header, mapping, options, status,
	total_rows, next_row, created, merged, skipped, failed, detail, created_at, coalesce(finished_at, ''), warned`

func scanJob(st *sqlite.Stmt) (Job, error) {
	j := Job{ID: st.ColumnText(0), UserID: st.ColumnText(1), WorkspaceID: st.ColumnText(2), FileName: st.ColumnText(3), FilePath: st.ColumnText(4),
		Format: st.ColumnText(5), Encoding: st.ColumnText(6), Delimiter: st.ColumnText(7), Status: st.ColumnText(11),
		Total: st.ColumnInt(12), Next: st.ColumnInt(13), Created: st.ColumnInt(14), Merged: st.ColumnInt(15), Skipped: st.ColumnInt(16),
		Failed: st.ColumnInt(17), Detail: st.ColumnText(18), Warned: st.ColumnInt(21)}
	for i, dst := range map[int]any{8: &j.Header, 9: &j.Mapping, 10: &j.Options} {
		if err := json.Unmarshal([]byte(st.ColumnText(i)), dst); err != nil {
			return j, fmt.Errorf("import job %s: %w", j.ID, err)
		}
	}
	j.CreatedAt, _ = store.ParseTime(st.ColumnText(19))
	if v := st.ColumnText(20); v != "" {
		j.FinishedAt, _ = store.ParseTime(v)
	}
	return j, nil
}

func (im *Imports) save(conn *sqlite.Conn, j Job, insert bool) error {
	h, _ := json.Marshal(j.Header)
	m, _ := json.Marshal(j.Mapping)
	o, _ := json.Marshal(j.Options)
	q := `UPDATE import_jobs SET mapping = ?, options = ? WHERE id = ?`
	args := []any{string(m), string(o), j.ID}
	if insert {
		q = `INSERT INTO import_jobs (id, user_id, workspace_id, file_name, file_path, format, encoding, delimiter, header, mapping, options, status, total_rows, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		args = []any{j.ID, j.UserID, j.WorkspaceID, j.FileName, j.FilePath, j.Format, j.Encoding, j.Delimiter, string(h), string(m), string(o), j.Status, j.Total, store.FormatTime(j.CreatedAt)}
	}
	if err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args}); err != nil {
		return fmt.Errorf("save import job: %w", err)
	}
	return nil
}

// Get returns the actor's job id in workspace wsID; anyone else's is NotFound.
func (im *Imports) Get(ctx context.Context, actor auth.Actor, wsID, id string) (Job, error) {
	var j Job
	err := im.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		j, err = getJob(conn, actor, wsID, id)
		return err
	})
	return j, err
}

func getJob(conn *sqlite.Conn, actor auth.Actor, wsID, id string) (Job, error) {
	return loadJob(conn, ` AND user_id = ? AND workspace_id = ?`, id, actor.UserID, wsID)
}

// loadJob reads job id with an extra condition on its owner (where, with
// its args after the id); a job that does not match is NotFound.
func loadJob(conn *sqlite.Conn, where, id string, args ...any) (Job, error) {
	var j Job
	found := false
	err := sqlitex.Execute(conn, `SELECT `+jobColumns+` FROM import_jobs WHERE id = ?`+where, &sqlitex.ExecOptions{
		Args: append([]any{id}, args...), ResultFunc: func(st *sqlite.Stmt) error {
			var err error
			j, err = scanJob(st)
			found = true
			return err
		}})
	if err != nil {
		return j, err
	}
	if !found {
		return j, errs.NotFoundf("no such import")
	}
	return j, nil
}

// List returns the actor's recent imports into wsID, newest first.
func (im *Imports) List(ctx context.Context, actor auth.Actor, wsID string, n int) ([]Job, error) {
	var out []Job
	err := workspace.Read(ctx, im.db, actor, wsID, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT `+jobColumns+` FROM import_jobs WHERE user_id = ? AND workspace_id = ? ORDER BY created_at DESC LIMIT ?`,
			&sqlitex.ExecOptions{Args: []any{actor.UserID, wsID, n}, ResultFunc: func(st *sqlite.Stmt) error {
				j, err := scanJob(st)
				out = append(out, j)
				return err
			}})
	})
	return out, err
}

// Plan sets a draft job's mapping and options, checking each: the mapping
// has one known target per column, custom fields and lists are the
// workspace's, the duplicate actions are known.
func (im *Imports) Plan(ctx context.Context, actor auth.Actor, wsID, id string, m csvio.Mapping, opt Options) (Job, error) {
	fields, err := im.contacts.Fields(ctx, actor, wsID)
	if err != nil {
		return Job{}, err
	}
	var j Job
	err = im.db.Write(ctx, func(conn *sqlite.Conn) error {
		if j, err = getJob(conn, actor, wsID, id); err != nil {
			return err
		}
		if j.Status != Draft {
			return errs.New(errs.Conflict, "This import has already started.")
		}
		fe := errs.Fields{}
		if j.Format == "csv" {
			if len(m) != len(j.Header) {
				return errs.Fields{"mapping": "Map every column of the file."}.Err()
			}
			known := map[string]bool{}
			for _, k := range csvio.Kinds {
				known[k.Kind] = true
			}
			ids := map[string]bool{}
			for _, f := range fields {
				ids[f.ID] = true
			}
			for i, t := range m {
				key := fmt.Sprintf("col%d", i)
				switch {
				case !known[t.Kind]:
					fe.Add(key, "Choose what this column holds.")
				case t.Kind == csvio.Custom && !ids[t.FieldID]:
					fe.Add(key, "Choose a custom field of this workspace.")
				case t.Slot < 0 || t.Slot > 20:
					fe.Add(key, "Choose an email or phone number from 1 to 20.")
				}
			}
			j.Mapping = m
		}
		if opt.OnDuplicate == "" {
			opt.OnDuplicate = contact.DupSkip
		}
		if !opt.OnDuplicate.Valid() {
			fe.Add("on_duplicate", "Choose skip, create or merge.")
		}
		for row, a := range opt.RowActions {
			if _, err := strconv.Atoi(row); err != nil || !a.Valid() {
				fe.Add("row_actions", "Choose skip, create or merge for each duplicate row.")
				break
			}
		}
		if err := fe.Err(); err != nil {
			return err
		}
		if err := checkLists(conn, wsID, opt); err != nil {
			return err
		}
		j.Options = opt
		if err := im.save(conn, j, false); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit("contact.import_plan", "import_job", j.ID, map[string]any{
			"workspace_id": wsID, "on_duplicate": opt.OnDuplicate, "stage_id": opt.StageID, "tag_ids": opt.TagIDs, "row_actions": len(opt.RowActions)}))
	})
	return j, err
}

// checkLists checks the options' stage and tags belong to wsID.
func checkLists(conn *sqlite.Conn, wsID string, opt Options) error {
	want := map[string]string{}
	if opt.StageID != "" {
		want[opt.StageID] = "stage"
	}
	for _, t := range opt.TagIDs {
		want[t] = "tag"
	}
	for id, kind := range want {
		ok := false
		if err := sqlitex.Execute(conn, `SELECT 1 FROM lists WHERE id = ? AND workspace_id = ? AND kind = ?`, &sqlitex.ExecOptions{
			Args: []any{id, wsID, kind}, ResultFunc: func(*sqlite.Stmt) error { ok = true; return nil }}); err != nil {
			return err
		}
		if !ok {
			if kind == "stage" {
				return errs.Fields{"stage_id": "Choose a stage of this workspace."}.Err()
			}
			return errs.Fields{"tag_ids": "Choose tags of this workspace."}.Err()
		}
	}
	return nil
}

// Start queues a draft job: a runner with the import kind (crm-web's)
// claims it within a moment.
func (im *Imports) Start(ctx context.Context, actor auth.Actor, wsID, id string) error {
	return im.db.Write(ctx, func(conn *sqlite.Conn) error {
		j, err := getJob(conn, actor, wsID, id)
		if err != nil {
			return err
		}
		if j.Status != Draft {
			return errs.New(errs.Conflict, "This import has already started.")
		}
		if err := sqlitex.Execute(conn, `UPDATE import_jobs SET status = 'queued' WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{id}}); err != nil {
			return err
		}
		if _, err := jobs.Enqueue(conn, KindImport, id, time.Now()); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit("contact.import_start", "import_job", id, map[string]any{"workspace_id": wsID, "file": j.FileName, "rows": j.Total}))
	})
}

// ErrTooLarge is Upload's answer to a file over MaxUploadBytes.
var ErrTooLarge = &errs.Error{Kind: errs.Invalid, Code: "too_large", Message: fmt.Sprintf("The file is larger than %d MB.", MaxUploadBytes>>20),
	Fields: map[string]string{"file": fmt.Sprintf("The file is larger than %d MB.", MaxUploadBytes>>20)}}

// GetAny returns job id whoever owns it: for the admin CLI only.
func (im *Imports) GetAny(ctx context.Context, id string) (Job, error) {
	var j Job
	err := im.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		j, err = loadJob(conn, "", id)
		return err
	})
	return j, err
}
