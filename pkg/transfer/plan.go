package transfer

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/csvio"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/jobs"
)

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
