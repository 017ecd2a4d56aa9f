package transfer

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/csv"
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
	"github.com/pi-crm/pi-crm/pkg/logkey"
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
	// DefaultLease is how long a running job's runner may go without a
	// heartbeat before another runner takes the job over (a crash, a kill
	// -9, a restart mid-import). A runner beats every Lease/6, and with
	// every batch. The heartbeat is the only test of life: /proc cannot
	// see the processes of another user under ProtectProc=invisible, so a
	// live crmctl run as another user would look dead.
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
	if err := im.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := workspace.Owned(conn, actor, wsID); err != nil {
			return err
		}
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
	err := im.db.Read(ctx, func(conn *sqlite.Conn) error {
		if err := workspace.Owned(conn, actor, wsID); err != nil {
			return err
		}
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

// Start queues a draft job; the caller runs it (Run) in the background.
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
		return audit.Record(conn, actor.Audit("contact.import_start", "import_job", id, map[string]any{"workspace_id": wsID, "file": j.FileName, "rows": j.Total}))
	})
}

// ErrTooLarge is Upload's answer to a file over MaxUploadBytes.
var ErrTooLarge = &errs.Error{Kind: errs.Invalid, Code: "too_large", Message: fmt.Sprintf("The file is larger than %d MB.", MaxUploadBytes>>20),
	Fields: map[string]string{"file": fmt.Sprintf("The file is larger than %d MB.", MaxUploadBytes>>20)}}

// ErrTaken means another runner holds the job.
var ErrTaken = errors.New("import job is being run elsewhere")

// newRunner names one claim of a job: host, pid and a random part, so a
// second Run in the same process is a different runner too. The progress
// update is fenced on it.
func newRunner() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%x", host, os.Getpid(), b)
}

// claim marks job id running for a new runner when it is queued, or running
// with a runner whose heartbeat is older than the lease. It returns the job
// and the runner, or ErrTaken.
func (im *Imports) claim(ctx context.Context, id string) (Job, string, error) {
	var j Job
	now := time.Now()
	runner := newRunner()
	err := im.db.Write(ctx, func(conn *sqlite.Conn) error {
		var status, beat string
		if err := sqlitex.Execute(conn, `SELECT status, coalesce(heartbeat_at, '') FROM import_jobs WHERE id = ?`, &sqlitex.ExecOptions{
			Args: []any{id}, ResultFunc: func(st *sqlite.Stmt) error {
				status, beat = st.ColumnText(0), st.ColumnText(1)
				return nil
			}}); err != nil {
			return err
		}
		switch {
		case status == Queued:
		case status == Running && beat < store.FormatTime(now.Add(-im.lease())):
		default:
			return ErrTaken
		}
		if err := sqlitex.Execute(conn, `UPDATE import_jobs SET status = 'running', heartbeat_at = ?, runner = ? WHERE id = ?`,
			&sqlitex.ExecOptions{Args: []any{store.FormatTime(now), runner, id}}); err != nil {
			return err
		}
		var err error
		j, err = loadJob(conn, "", id)
		return err
	})
	return j, runner, err
}

// beat keeps runner's claim on job id alive until ctx ends; when the claim
// is lost (another runner took the job over) it calls lost.
func (im *Imports) beat(ctx context.Context, id, runner string, lost func()) {
	t := time.NewTicker(im.lease() / 6)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var held bool
		err := im.db.Write(ctx, func(conn *sqlite.Conn) error {
			err := sqlitex.Execute(conn, `UPDATE import_jobs SET heartbeat_at = ? WHERE id = ? AND runner = ? AND status = 'running'`,
				&sqlitex.ExecOptions{Args: []any{store.FormatTime(time.Now()), id, runner}})
			held = conn.Changes() == 1
			return err
		})
		if err == nil && !held {
			lost()
			return
		}
	}
}

// Run imports job id from where it stopped (its next_row) to the end, in
// batches of BatchRows: each batch, its progress and its error rows commit
// in one transaction, so a crash or kill -9 leaves only whole rows and an
// exact count, and a second Run resumes. It finishes with one audit row
// holding the counts.
func (im *Imports) Run(ctx context.Context, id string) error {
	j, runner, err := im.claim(ctx, id)
	if err != nil {
		return err
	}
	ctx, stopBeating := context.WithCancelCause(ctx)
	defer stopBeating(nil)
	go im.beat(ctx, id, runner, func() { stopBeating(ErrTaken) })
	actor := auth.Actor{UserID: j.UserID}
	fields, err := im.contacts.Fields(ctx, actor, j.WorkspaceID)
	if err != nil {
		return im.fail(j, err)
	}
	byID := map[string]contact.FieldDef{}
	for _, f := range fields {
		byID[f.ID] = f
	}
	region, err := im.region(ctx, j.WorkspaceID)
	if err != nil {
		return im.fail(j, err)
	}
	src, closeSrc, err := im.open(&j, region, byID, false)
	if err != nil {
		return im.fail(j, err)
	}
	defer closeSrc()
	for skipped := 0; skipped < j.Next; skipped++ { // resume: pass the rows already done
		if _, err := src.Next(); err != nil {
			return im.fail(j, fmt.Errorf("resume at row %d: %w", j.Next, err))
		}
	}
	opt := contact.ImportOptions{Source: j.FileName, StageID: j.Options.StageID, TagIDs: j.Options.TagIDs, OnDuplicate: j.Options.OnDuplicate}
	imp, err := im.contacts.BeginImport(ctx, actor, j.WorkspaceID, opt)
	if err != nil {
		return im.fail(j, err)
	}
	defer imp.Close()
	// A reader goroutine parses, maps and validates the next batch while
	// this one writes the current: on two cores the file costs nothing.
	readCtx, stopReading := context.WithCancel(ctx)
	batches := make(chan batch)
	reading := make(chan struct{})
	go func() {
		defer close(reading)
		readBatches(readCtx, src, j.Options, region, batches)
	}()
	defer func() { stopReading(); <-reading }() // before closeSrc
	var lists []string
	for b := range batches {
		if b.err != nil {
			return im.fail(j, b.err)
		}
		if b.consumed > 0 {
			from := j.Next
			res, err := imp.Batch(ctx, b.rows, func(conn *sqlite.Conn, r contact.ImportResult) error {
				return im.commitBatch(conn, j.ID, runner, from, b.consumed, r, b)
			})
			if err != nil {
				if ctx.Err() != nil {
					return context.Cause(ctx) // stopped or taken over: the job resumes from its last whole batch
				}
				if errors.Is(err, ErrTaken) {
					return err // another runner has it; not a failure
				}
				return im.fail(j, err)
			}
			lists = append(lists, res.ListsMade...)
			j.Next += b.consumed
			j.Created += res.Created
			j.Merged += res.Merged
			j.Skipped += res.Skipped
			f, w := b.counts(res)
			j.Failed += f
			j.Warned += w
			if im.Progress != nil {
				im.Progress(j)
			}
		}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx) // stopped between batches
	}
	return im.finish(ctx, j, runner, lists)
}

// rowError is a report line: a refused row's error or a kept row's
// warning.
type rowError struct {
	row, line             int
	warning               bool
	column, value, reason string
}

// batch is one transaction's worth of rows, read ahead.
type batch struct {
	rows     []contact.ImportRow
	bad      []rowError
	data     map[int][]string // row -> the row as the file has it, for the report
	lines    map[int]int      // row -> its line
	consumed int
	err      error
}

// counts returns how many rows of the batch failed (refused by the mapping
// or the store) and how many imported with warnings.
func (b batch) counts(r contact.ImportResult) (failed, warned int) {
	f, w := map[int]bool{}, map[int]bool{}
	for _, e := range b.bad {
		if e.warning {
			w[e.row] = true
		} else {
			f[e.row] = true
		}
	}
	for _, e := range r.Failed {
		f[e.Row] = true
	}
	for row := range f {
		delete(w, row)
	}
	return len(f), len(w)
}

// readBatches sends src's rows in batches, validated for region, until the
// end of the file (then closes out), an error (sent as the last batch) or
// ctx's end.
func readBatches(ctx context.Context, src csvio.Source, o Options, region string, out chan<- batch) {
	defer close(out)
	for {
		b, eof := readBatch(src, o)
		contact.PrepareRows(b.rows, region)
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
		if eof || b.err != nil {
			return
		}
	}
}

// readBatch reads up to BatchRows rows into b: the ones to import, and
// the problems of each row for the report.
func readBatch(src csvio.Source, o Options) (b batch, eof bool) {
	b.data, b.lines = map[int][]string{}, map[int]int{}
	for b.consumed < BatchRows {
		it, err := src.Next()
		if errors.Is(err, io.EOF) {
			return b, true
		}
		if err != nil {
			b.err = err
			return b, false
		}
		b.consumed++
		b.data[it.Row], b.lines[it.Row] = it.Data, it.Line
		for _, e := range it.Errs {
			b.bad = append(b.bad, rowError{row: it.Row, line: it.Line, column: e.Column, value: e.Value, reason: e.Reason})
		}
		if len(it.Errs) > 0 {
			continue
		}
		for _, e := range it.Warns {
			b.bad = append(b.bad, rowError{row: it.Row, line: it.Line, warning: true, column: e.Column, value: e.Value, reason: e.Reason})
		}
		b.rows = append(b.rows, contact.ImportRow{Row: it.Row, Fields: it.Entry.Fields, Stage: it.Entry.Stage, Tags: it.Entry.Tags, Note: it.Entry.Note,
			Action: o.RowActions[strconv.Itoa(it.Row)]})
	}
	return b, false
}

// commitBatch records a batch's progress and report lines inside its
// transaction. The runner and next_row guard makes a batch of a runner
// that lost the job (another took it over) fail whole.
func (im *Imports) commitBatch(conn *sqlite.Conn, id, runner string, from, consumed int, r contact.ImportResult, b batch) error {
	lines := b.bad
	for _, f := range r.Failed {
		lines = append(lines, rowError{row: f.Row, line: b.lines[f.Row], column: f.Column, reason: f.Reason})
	}
	written := map[int]bool{} // the row's data goes with its first line
	for _, l := range lines {
		data := ""
		if !written[l.row] {
			written[l.row] = true
			if d, err := json.Marshal(b.data[l.row]); err == nil && b.data[l.row] != nil {
				data = string(d)
			}
		}
		severity := "error"
		if l.warning {
			severity = "warning"
		}
		if err := sqlitex.Execute(conn, `INSERT INTO import_errors (job_id, row, line, severity, column_name, value, reason, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			&sqlitex.ExecOptions{Args: []any{id, l.row, l.line, severity, l.column, l.value, l.reason, data}}); err != nil {
			return fmt.Errorf("import report: %w", err)
		}
	}
	failed, warned := b.counts(r)
	if err := sqlitex.Execute(conn, `UPDATE import_jobs SET next_row = next_row + ?, created = created + ?, merged = merged + ?, skipped = skipped + ?,
		failed = failed + ?, warned = warned + ?, heartbeat_at = ? WHERE id = ? AND next_row = ? AND status = 'running' AND runner = ?`,
		&sqlitex.ExecOptions{Args: []any{consumed, r.Created, r.Merged, r.Skipped, failed, warned, store.FormatTime(time.Now()), id, from, runner}}); err != nil {
		return fmt.Errorf("import progress: %w", err)
	}
	if conn.Changes() == 0 {
		return ErrTaken
	}
	return nil
}

func (im *Imports) finish(ctx context.Context, j Job, runner string, lists []string) error {
	err := im.db.Write(context.WithoutCancel(ctx), func(conn *sqlite.Conn) error {
		var created, merged, skipped, failed, warned int
		if err := sqlitex.Execute(conn, `SELECT created, merged, skipped, failed, warned FROM import_jobs WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{j.ID},
			ResultFunc: func(st *sqlite.Stmt) error {
				created, merged, skipped, failed, warned = st.ColumnInt(0), st.ColumnInt(1), st.ColumnInt(2), st.ColumnInt(3), st.ColumnInt(4)
				return nil
			}}); err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `UPDATE import_jobs SET status = 'done', finished_at = ? WHERE id = ? AND runner = ? AND status = 'running'`,
			&sqlitex.ExecOptions{Args: []any{store.FormatTime(time.Now()), j.ID, runner}}); err != nil {
			return err
		}
		if conn.Changes() == 0 {
			return ErrTaken
		}
		return audit.Record(conn, auth.Actor{UserID: j.UserID}.Audit("contact.import", "import_job", j.ID, map[string]any{
			"workspace_id": j.WorkspaceID, "file": j.FileName, "rows": j.Total, "created": created, "merged": merged,
			"skipped": skipped, "failed": failed, "warned": warned, "lists_made": lists}))
	})
	if err == nil {
		os.Remove(j.FilePath) // the rows are in the database and the report; the upload goes
	}
	return err
}

// fail marks the job failed with err's message.
func (im *Imports) fail(j Job, err error) error {
	im.log.Error("import failed", logkey.Job, j.ID, logkey.Err, err)
	_ = im.db.Write(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `UPDATE import_jobs SET status = 'failed', detail = ?, finished_at = ? WHERE id = ?`,
			&sqlitex.ExecOptions{Args: []any{errs.As(err).Message, store.FormatTime(time.Now()), j.ID}})
	})
	return err
}

func (im *Imports) region(ctx context.Context, wsID string) (string, error) {
	var region string
	err := im.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		region, err = workspace.PhoneRegion(conn, wsID)
		return err
	})
	return region, err
}

// Claimable returns the jobs a runner may take now: queued ones, and
// running ones whose runner has not beaten within the lease (it crashed,
// was killed or is stuck).
func (im *Imports) Claimable(ctx context.Context) ([]string, error) {
	var ids []string
	stale := store.FormatTime(time.Now().Add(-im.lease()))
	err := im.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT id FROM import_jobs WHERE status = 'queued' OR (status = 'running' AND coalesce(heartbeat_at, '') < ?) ORDER BY created_at`,
			&sqlitex.ExecOptions{Args: []any{stale}, ResultFunc: func(st *sqlite.Stmt) error { ids = append(ids, st.ColumnText(0)); return nil }})
	})
	return ids, err
}

// Resume runs jobs ids (Claimable) one after another; a job another runner
// still holds is left to it.
func (im *Imports) Resume(ctx context.Context, ids []string) {
	for _, id := range ids {
		if err := im.Run(ctx, id); err != nil && !errors.Is(err, ErrTaken) && ctx.Err() == nil {
			im.log.Warn("resume import", logkey.Job, id, logkey.Err, err)
		}
	}
}

// Watch takes over interrupted imports until ctx ends: at once, then every
// half lease it runs the jobs Claimable finds (a runner that died, a job
// queued by a process that stopped before running it), and once an hour it
// deletes stale uploads (Sweep). crm-web runs it; nothing else polls.
func (im *Imports) Watch(ctx context.Context) {
	t := time.NewTicker(im.lease() / 2)
	defer t.Stop()
	var nextSweep time.Time
	for {
		if ids, err := im.Claimable(ctx); err != nil {
			if ctx.Err() == nil {
				im.log.Warn("claimable imports", logkey.Err, err)
			}
		} else if len(ids) > 0 {
			im.Resume(ctx, ids)
		}
		if now := time.Now(); now.After(nextSweep) {
			nextSweep = now.Add(time.Hour)
			if n, err := im.Sweep(ctx, now); err != nil {
				im.log.Warn("sweep import uploads", logkey.Err, err)
			} else if n > 0 {
				im.log.Info("swept import uploads", "files", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep deletes the uploads of drafts nobody started and of failed jobs
// once they are older than UploadRetention, with the drafts themselves (a
// failed job keeps its row and error report), and any file in the uploads
// folder that no job names. It returns how many files went.
func (im *Imports) Sweep(ctx context.Context, now time.Time) (int, error) {
	cutoff := store.FormatTime(now.Add(-UploadRetention))
	var paths []string
	err := im.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `SELECT file_path FROM import_jobs WHERE file_path <> '' AND
	((status = 'draft' AND created_at < ?) OR (status = 'failed' AND coalesce(finished_at, created_at) < ?))`, &sqlitex.ExecOptions{
			Args: []any{cutoff, cutoff}, ResultFunc: func(st *sqlite.Stmt) error { paths = append(paths, st.ColumnText(0)); return nil }}); err != nil {
			return fmt.Errorf("stale uploads: %w", err)
		}
		// Each expired draft is gone from its owner's list: say so in
		// their audit trail.
		if err := sqlitex.Execute(conn, `DELETE FROM import_jobs WHERE status = 'draft' AND created_at < ? RETURNING id, user_id, workspace_id, file_name`, &sqlitex.ExecOptions{
			Args: []any{cutoff}, ResultFunc: func(st *sqlite.Stmt) error {
				return audit.Record(conn, audit.Entry{UserID: st.ColumnText(1), Action: "contact.import_expired", EntityType: "import_job", EntityID: st.ColumnText(0),
					Details: map[string]any{"workspace_id": st.ColumnText(2), "file": st.ColumnText(3), "after": UploadRetention.String()}})
			}}); err != nil {
			return fmt.Errorf("delete stale drafts: %w", err)
		}
		return sqlitex.Execute(conn, `UPDATE import_jobs SET file_path = '' WHERE status = 'failed' AND coalesce(finished_at, created_at) < ?`, &sqlitex.ExecOptions{Args: []any{cutoff}})
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range paths {
		if os.Remove(p) == nil {
			n++
		}
	}
	// Files no job names: an upload cut off before its draft was saved.
	known := map[string]bool{}
	if err := im.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT file_path FROM import_jobs WHERE file_path <> ''`, &sqlitex.ExecOptions{
			ResultFunc: func(st *sqlite.Stmt) error { known[filepath.Base(st.ColumnText(0))] = true; return nil }})
	}); err != nil {
		return n, fmt.Errorf("known uploads: %w", err)
	}
	ents, _ := os.ReadDir(im.dir)
	for _, e := range ents {
		info, err := e.Info()
		if err != nil || known[e.Name()] || !strings.HasSuffix(e.Name(), ".upload") || now.Sub(info.ModTime()) < UploadRetention {
			continue
		}
		if os.Remove(filepath.Join(im.dir, e.Name())) == nil {
			n++
		}
	}
	return n, nil
}

// WriteReport writes job id's report as CSV, one line per row with a
// problem: its line in the file (the header is line 1), whether it was
// imported without some values or not at all, the problems with the values
// as typed, then the row as the file has it (a CSV's own columns, so the
// refused rows can be fixed in a spreadsheet and imported again; a card's
// text).
func (im *Imports) WriteReport(ctx context.Context, actor auth.Actor, wsID, id string, w io.Writer) error {
	return im.db.Read(ctx, func(conn *sqlite.Conn) error {
		j, err := getJob(conn, actor, wsID, id)
		if err != nil {
			return err
		}
		cw := csv.NewWriter(w)
		head := []string{"Line", "Result", "Problems"}
		if j.Format == "vcard" {
			head = append(head, "Card")
		} else {
			head = append(head, j.Header...)
		}
		if err := cw.Write(head); err != nil {
			return err
		}
		type line struct {
			row, line int
			failed    bool
			problems  []string
			data      []string
		}
		var cur *line
		flush := func() error {
			if cur == nil {
				return nil
			}
			result := "imported without these values"
			if cur.failed {
				result = "not imported"
			}
			rec := []string{strconv.Itoa(cur.line), result, csvio.Neutralize(strings.Join(cur.problems, "; "))}
			for _, d := range cur.data {
				rec = append(rec, csvio.Neutralize(d))
			}
			return cw.Write(rec)
		}
		err = sqlitex.Execute(conn, `SELECT row, line, severity, column_name, value, reason, data FROM import_errors WHERE job_id = ? ORDER BY row, rowid`, &sqlitex.ExecOptions{
			Args: []any{id}, ResultFunc: func(st *sqlite.Stmt) error {
				row := st.ColumnInt(0)
				if cur == nil || cur.row != row {
					if err := flush(); err != nil {
						return err
					}
					cur = &line{row: row, line: st.ColumnInt(1)}
				}
				if cur.line == 0 {
					cur.line = st.ColumnInt(1)
				}
				if d := st.ColumnText(6); d != "" && cur.data == nil {
					_ = json.Unmarshal([]byte(d), &cur.data) // a row without readable data still reports its problem
				}
				cur.failed = cur.failed || st.ColumnText(2) == "error"
				p := st.ColumnText(5)
				switch col, val := st.ColumnText(3), st.ColumnText(4); {
				case col != "" && val != "":
					p = fmt.Sprintf("%s %q: %s", col, val, p)
				case col != "":
					p = col + ": " + p
				}
				cur.problems = append(cur.problems, p)
				return nil
			}})
		if err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	})
}

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
