package transfer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/store"
)

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
