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

// Request queues a manual run for userID and writes its audit row. It
// answers ErrBusy while another run is queued or running (and started less
// than an hour ago, so a run killed mid-way never blocks the button).
func (r *Runs) Request(ctx context.Context, userID, ip string) (string, error) {
	id := store.NewID()
	now := time.Now()
	err := r.db.Write(ctx, func(conn *sqlite.Conn) error {
		busy := false
		if err := sqlitex.Execute(conn, `SELECT 1 FROM backup_runs WHERE status IN ('queued','running') AND created_at > ? LIMIT 1`,
			&sqlitex.ExecOptions{Args: []any{store.FormatTime(now.Add(-time.Hour))}, ResultFunc: func(*sqlite.Stmt) error { busy = true; return nil }}); err != nil {
			return err
		}
		if busy {
			return ErrBusy
		}
		if err := sqlitex.Execute(conn, `INSERT INTO backup_runs (id, requested_by, trigger, status, created_at) VALUES (?, ?, 'manual', 'queued', ?)`,
			&sqlitex.ExecOptions{Args: []any{id, userID, store.FormatTime(now)}}); err != nil {
			return err
		}
		return audit.Record(conn, audit.Entry{UserID: userID, Action: "backup.request", EntityType: "backup_run", EntityID: id, IP: ip})
	})
	if err != nil {
		return "", fmt.Errorf("request backup: %w", err)
	}
	return id, nil
}

// Start claims the oldest queued manual run, or opens a new run with
// trigger when none is queued, and marks it running.
func (r *Runs) Start(ctx context.Context, trigger string) (string, error) {
	var id string
	now := store.FormatTime(time.Now())
	err := r.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `SELECT id FROM backup_runs WHERE status = 'queued' ORDER BY created_at LIMIT 1`,
			&sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { id = st.ColumnText(0); return nil }}); err != nil {
			return err
		}
		if id == "" {
			id = store.NewID()
			return sqlitex.Execute(conn, `INSERT INTO backup_runs (id, trigger, status, created_at, started_at) VALUES (?, ?, 'running', ?, ?)`,
				&sqlitex.ExecOptions{Args: []any{id, trigger, now, now}})
		}
		return sqlitex.Execute(conn, `UPDATE backup_runs SET status = 'running', started_at = ? WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{now, id}})
	})
	if err != nil {
		return "", fmt.Errorf("start backup run: %w", err)
	}
	return id, nil
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
