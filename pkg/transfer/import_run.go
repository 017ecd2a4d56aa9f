package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// KindImport is the job kind (pkg/jobs) that runs imports.
const KindImport = "import"

// Kind returns the job kind that runs imports: crm-web's runner has it,
// and so does crmctl's foreground import.
func (im *Imports) Kind() jobs.Kind {
	return jobs.Kind{Name: KindImport, Run: im.run, Failed: failed, Lease: im.lease(), MaxAttempts: 3}
}

// Runner returns a job runner of imports alone: crmctl runs its import in
// the foreground with it (RunOne).
func (im *Imports) Runner() *jobs.Runner { return jobs.NewRunner(im.db, im.log, im.Kind()) }

// run imports the claimed job from where it stopped (its next_row) to the
// end, in batches of BatchRows: each batch, its progress and its error rows
// commit in one transaction fenced on the claim, so a crash or kill -9
// leaves only whole rows and an exact count, a runner that lost the job
// cannot add a batch, and the next claim resumes. It finishes with one
// audit row holding the counts. A problem with the file fails the job at
// once; a database error is tried again.
func (im *Imports) run(ctx context.Context, c *jobs.Claim) error {
	var j Job
	if err := im.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := c.Fence(conn); err != nil {
			return err
		}
		var err error
		if j, err = loadJob(conn, "", c.Ref); err != nil {
			return jobs.Permanent(err) // its workspace went, and the job with it
		}
		if !j.Active() {
			return jobs.Permanent(fmt.Errorf("import %s is %s", j.ID, j.Status))
		}
		return sqlitex.Execute(conn, `UPDATE import_jobs SET status = 'running' WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{j.ID}})
	}); err != nil {
		return err
	}
	j.Status = Running
	actor := auth.JobActor(j.UserID)
	fields, err := im.contacts.Fields(ctx, actor, j.WorkspaceID)
	if err != nil {
		return err
	}
	byID := map[string]contact.FieldDef{}
	for _, f := range fields {
		byID[f.ID] = f
	}
	region, err := im.region(ctx, j.WorkspaceID)
	if err != nil {
		return err
	}
	src, closeSrc, err := im.open(&j, region, byID, false)
	if err != nil {
		return jobs.Permanent(err)
	}
	defer closeSrc()
	for skipped := 0; skipped < j.Next; skipped++ { // resume: pass the rows already done
		if _, err := src.Next(); err != nil {
			return jobs.Permanent(fmt.Errorf("resume at row %d: %w", j.Next, err))
		}
	}
	opt := contact.ImportOptions{Source: j.FileName, StageID: j.Options.StageID, TagIDs: j.Options.TagIDs, OnDuplicate: j.Options.OnDuplicate}
	imp, err := im.contacts.BeginImport(ctx, actor, j.WorkspaceID, opt)
	if err != nil {
		return err
	}
	defer imp.Close()
	// A reader goroutine parses, maps and validates the next batch while
	// this one writes the current: on two cores the file costs nothing.
	readCtx, stopReading := context.WithCancel(ctx)
	batches := make(chan batch)
	reading := make(chan struct{})
	go func() {
		defer close(reading)
		readBatches(readCtx, src, j.Options, imp, region, batches)
	}()
	defer func() { stopReading(); <-reading }() // before closeSrc
	var lists []string
	for b := range batches {
		if b.err != nil {
			return jobs.Permanent(b.err)
		}
		if b.consumed == 0 {
			continue
		}
		from := j.Next
		res, err := imp.Batch(ctx, b.rows, func(conn *sqlite.Conn, r contact.ImportResult) error {
			return commitBatch(conn, c, j.ID, from, b.consumed, r, b)
		})
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx) // stopped or taken over: the job resumes from its last whole batch
			}
			return err
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
	if ctx.Err() != nil {
		return context.Cause(ctx) // stopped between batches
	}
	return im.finish(ctx, c, j, lists)
}

// commitBatch records a batch's progress and report lines inside its
// transaction. The claim's fence and the next_row guard make a batch of a
// runner that lost the job fail whole.
func commitBatch(conn *sqlite.Conn, c *jobs.Claim, id string, from, consumed int, r contact.ImportResult, b batch) error {
	if err := c.Fence(conn); err != nil {
		return err
	}
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
		failed = failed + ?, warned = warned + ? WHERE id = ? AND next_row = ? AND status = 'running'`,
		&sqlitex.ExecOptions{Args: []any{consumed, r.Created, r.Merged, r.Skipped, failed, warned, id, from}}); err != nil {
		return fmt.Errorf("import progress: %w", err)
	}
	if conn.Changes() == 0 {
		return jobs.ErrLost
	}
	return nil
}

// finish marks the job done, fenced on the claim, with its audit row; the
// upload goes.
func (im *Imports) finish(ctx context.Context, c *jobs.Claim, j Job, lists []string) error {
	err := im.db.Write(context.WithoutCancel(ctx), func(conn *sqlite.Conn) error {
		if err := c.Fence(conn); err != nil {
			return err
		}
		var created, merged, skipped, failed, warned int
		if err := sqlitex.Execute(conn, `SELECT created, merged, skipped, failed, warned FROM import_jobs WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{j.ID},
			ResultFunc: func(st *sqlite.Stmt) error {
				created, merged, skipped, failed, warned = st.ColumnInt(0), st.ColumnInt(1), st.ColumnInt(2), st.ColumnInt(3), st.ColumnInt(4)
				return nil
			}}); err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `UPDATE import_jobs SET status = 'done', finished_at = ? WHERE id = ? AND status = 'running'`,
			&sqlitex.ExecOptions{Args: []any{store.FormatTime(time.Now()), j.ID}}); err != nil {
			return err
		}
		if conn.Changes() == 0 {
			return jobs.ErrLost
		}
		return audit.Record(conn, auth.JobActor(j.UserID).Audit("contact.import", "import_job", j.ID, map[string]any{
			"workspace_id": j.WorkspaceID, "file": j.FileName, "rows": j.Total, "created": created, "merged": merged,
			"skipped": skipped, "failed": failed, "warned": warned, "lists_made": lists}))
	})
	if err == nil {
		os.Remove(j.FilePath) // the rows are in the database and the report; the upload goes
	}
	return err
}

// failed marks import ref failed with err's message, in the transaction
// that fails its job.
func failed(conn *sqlite.Conn, ref string, err error) error {
	msg := errs.As(err).Message
	var e *errs.Error
	if !errors.As(err, &e) {
		msg = "The import stopped: " + err.Error()
	}
	return sqlitex.Execute(conn, `UPDATE import_jobs SET status = 'failed', detail = ?, finished_at = ? WHERE id = ? AND status IN ('queued', 'running')`,
		&sqlitex.ExecOptions{Args: []any{msg, store.FormatTime(time.Now()), ref}})
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
