package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/csvio"
	"github.com/pi-crm/pi-crm/pkg/errs"
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
