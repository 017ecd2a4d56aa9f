// Package ledger records snapshot runs: the nightly timer's, "Backup now"
// and crmctl's, with their progress, for the System page and crm-health.
// It is apart from package backup so that crm-web, which only queues runs
// and shows them, does not carry the S3, age and zstd code.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// Run is one snapshot run as the System page and crm-health see it.
type Run struct {
	ID          string
	RequestedBy string
	Trigger     string // timer, manual or cli
	Status      string // queued, running, ok or failed
	Step        string
	Percent     int
	File        string
	Size        int64
	Detail      string // the error, or warnings
	CreatedAt   time.Time
	FinishedAt  time.Time
}

// Runs records snapshot runs in the database.
type Runs struct{ db *store.DB }

// NewRuns returns the run ledger of db.
func NewRuns(db *store.DB) *Runs { return &Runs{db: db} }

// ErrBusy means a snapshot is already queued or running.
var ErrBusy = errors.New("a backup is already running")

// KindSnapshot is the job kind (pkg/jobs) of a snapshot run: crmctl backup
// snapshot runs it, since it holds the bucket keys crm-web never sees.
const KindSnapshot = "backup.snapshot"

// Request queues a manual run for userID, with its job, and writes its
// audit row. It answers ErrBusy while another run is queued, or running
// with a live lease (a run whose process was killed mid-way stops
// blocking the button once its lease runs out).
func (r *Runs) Request(ctx context.Context, userID, ip string) (string, error) {
	id := store.NewID()
	err := r.db.Write(ctx, func(conn *sqlite.Conn) error {
		busy, err := jobs.Pending(conn, KindSnapshot)
		if err != nil {
			return err
		}
		if busy {
			return ErrBusy
		}
		if err := queue(conn, id, "manual", userID); err != nil {
			return err
		}
		return audit.Record(conn, audit.Entry{UserID: userID, Action: "backup.request", EntityType: "backup_run", EntityID: id, IP: ip})
	})
	if err != nil {
		return "", fmt.Errorf("request backup: %w", err)
	}
	return id, nil
}

// queue inserts run id and its job.
func queue(conn *sqlite.Conn, id, trigger, userID string) error {
	now := time.Now()
	var by any
	if userID != "" {
		by = userID
	}
	if err := sqlitex.Execute(conn, `INSERT INTO backup_runs (id, requested_by, trigger, status, created_at) VALUES (?, ?, ?, 'queued', ?)`,
		&sqlitex.ExecOptions{Args: []any{id, by, trigger, store.FormatTime(now)}}); err != nil {
		return err
	}
	_, err := jobs.Enqueue(conn, KindSnapshot, id, now)
	return err
}

// Open queues a run with trigger unless one is queued already (a "Backup
// now" the timer then serves): what crmctl backup snapshot does before it
// runs the queue.
func (r *Runs) Open(ctx context.Context, trigger string) error {
	err := r.db.Write(ctx, func(conn *sqlite.Conn) error {
		busy, err := jobs.Pending(conn, KindSnapshot)
		if err != nil || busy {
			return err
		}
		return queue(conn, store.NewID(), trigger, "")
	})
	if err != nil {
		return fmt.Errorf("open backup run: %w", err)
	}
	return nil
}

// Begin marks claimed run id running, fenced on claim c.
func (r *Runs) Begin(ctx context.Context, c *jobs.Claim) error {
	err := r.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := c.Fence(conn); err != nil {
			return err
		}
		return sqlitex.Execute(conn, `UPDATE backup_runs SET status = 'running', started_at = ?, step = '', percent = 0 WHERE id = ?`,
			&sqlitex.ExecOptions{Args: []any{store.FormatTime(time.Now()), c.Ref}})
	})
	if err != nil {
		return fmt.Errorf("start backup run: %w", err)
	}
	return nil
}

// Failed records on run ref that its job failed for good (jobs.Kind's
// Failed): a run whose process died each time says so on the System page.
func Failed(conn *sqlite.Conn, ref string, err error) error {
	return sqlitex.Execute(conn, `UPDATE backup_runs SET status = 'failed', detail = ?, finished_at = ? WHERE id = ? AND status IN ('queued', 'running')`,
		&sqlitex.ExecOptions{Args: []any{err.Error(), store.FormatTime(time.Now()), ref}})
}

// Abandon fails the queued runs and their jobs with err: the process that
// would have run them could not start.
func (r *Runs) Abandon(ctx context.Context, cause error) error {
	err := r.db.Write(ctx, func(conn *sqlite.Conn) error {
		var ids []string
		if err := sqlitex.Execute(conn, `SELECT id FROM backup_runs WHERE status = 'queued'`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
			ids = append(ids, st.ColumnText(0))
			return nil
		}}); err != nil {
			return err
		}
		for _, id := range ids {
			if err := jobs.Fail(conn, KindSnapshot, id, cause.Error()); err != nil {
				return err
			}
			if err := Failed(conn, id, cause); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("abandon backup runs: %w", err)
	}
	return nil
}

// Progress receives the current step and how far the whole run is, 0–100.
type Progress func(step string, percent int)

// Outcome is what a finished run reports.
type Outcome struct {
	File     string
	Size     int64
	Warnings []string
}

// Progress returns a Progress that records the step and percent of run id,
// writing at most twice a second (and always the last step).
func (r *Runs) Progress(ctx context.Context, id string) Progress {
	var mu sync.Mutex
	var last time.Time
	var lastStep string
	return func(step string, pct int) {
		mu.Lock()
		defer mu.Unlock()
		if step == lastStep && time.Since(last) < 500*time.Millisecond {
			return
		}
		last, lastStep = time.Now(), step
		_ = r.db.Write(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `UPDATE backup_runs SET step = ?, percent = ? WHERE id = ? AND status = 'running'`,
				&sqlitex.ExecOptions{Args: []any{step, min(max(pct, 0), 100), id}})
		})
	}
}

// Finish records the run's outcome.
func (r *Runs) Finish(ctx context.Context, id string, res Outcome, runErr error) error {
	status, detail, pct := "ok", "", 100
	if runErr != nil {
		status, detail, pct = "failed", runErr.Error(), 0
	} else if len(res.Warnings) > 0 {
		detail = fmt.Sprint(res.Warnings)
	}
	err := r.db.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `UPDATE backup_runs SET status = ?, step = CASE WHEN ? = 'ok' THEN 'done' ELSE step END, percent = CASE WHEN ? = 'ok' THEN ? ELSE percent END,
			file = ?, size = ?, detail = ?, finished_at = ? WHERE id = ?`,
			&sqlitex.ExecOptions{Args: []any{status, status, status, pct, res.File, res.Size, detail, store.FormatTime(time.Now()), id}})
	})
	if err != nil {
		return fmt.Errorf("finish backup run: %w", err)
	}
	return nil
}

// Latest returns the newest runs, newest first.
func (r *Runs) Latest(ctx context.Context, n int) ([]Run, error) {
	var out []Run
	err := r.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT id, coalesce(requested_by, ''), trigger, status, step, percent, file, size, detail, created_at, coalesce(finished_at, '')
			FROM backup_runs ORDER BY created_at DESC LIMIT ?`, &sqlitex.ExecOptions{Args: []any{n}, ResultFunc: func(st *sqlite.Stmt) error {
			run := Run{ID: st.ColumnText(0), RequestedBy: st.ColumnText(1), Trigger: st.ColumnText(2), Status: st.ColumnText(3), Step: st.ColumnText(4),
				Percent: st.ColumnInt(5), File: st.ColumnText(6), Size: st.ColumnInt64(7), Detail: st.ColumnText(8)}
			run.CreatedAt, _ = store.ParseTime(st.ColumnText(9))
			if v := st.ColumnText(10); v != "" {
				run.FinishedAt, _ = store.ParseTime(v)
			}
			out = append(out, run)
			return nil
		}})
	})
	if err != nil {
		return nil, fmt.Errorf("list backup runs: %w", err)
	}
	return out, nil
}

// Get returns run id.
func (r *Runs) Get(ctx context.Context, id string) (Run, bool, error) {
	runs, err := r.Latest(ctx, 20)
	if err != nil {
		return Run{}, false, err
	}
	for _, run := range runs {
		if run.ID == id {
			return run, true, nil
		}
	}
	return Run{}, false, nil
}

// LastSuccess returns when the newest successful run finished (zero if none).
func (r *Runs) LastSuccess(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := r.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT max(finished_at) FROM backup_runs WHERE status = 'ok'`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
			if v := st.ColumnText(0); v != "" {
				t, _ = store.ParseTime(v)
			}
			return nil
		}})
	})
	if err != nil {
		return t, fmt.Errorf("last backup: %w", err)
	}
	return t, nil
}
