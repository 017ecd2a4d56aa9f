package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/transfer"
)

func exec(t *testing.T, db *store.DB, q string, args ...any) {
	t.Helper()
	if err := db.Write(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args})
	}); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseDecidesWhoRuns: an import whose runner renewed its claim within
// the lease is not claimable, whatever /proc says; once the lease runs out
// anyone may take it over and finish it, and the stale runner's next batch
// is refused whole.
func TestLeaseDecidesWhoRuns(t *testing.T) {
	ctx := context.Background()
	app := apptest.New(t, apptest.Options{NoJobs: true})
	u := app.NewUser("Andy")
	ws := u.Workspace("Loan Factory")
	im := transfer.NewImports(app.DB, app.Contacts, filepath.Join(t.TempDir(), "imports"), slog.New(slog.DiscardHandler))
	im.Lease = time.Minute
	j, err := im.Upload(ctx, u.Actor, ws.ID, "a.csv", bytes.NewReader([]byte("Name,Email\nAnn Lee,ann@example.com\n")))
	if err != nil {
		t.Fatal(err)
	}
	if err := im.Start(ctx, u.Actor, ws.ID, j.ID); err != nil {
		t.Fatal(err)
	}
	// Another runner holds it and renewed just now.
	exec(t, app.DB, `UPDATE jobs SET state = 'running', attempts = 1, runner = 'elsewhere:1:ab', lease_until = ? WHERE ref = ?`, store.FormatTime(time.Now().Add(time.Minute)), j.ID)
	runner := im.Runner()
	if err := runner.RunOne(ctx, transfer.KindImport, j.ID); !errors.Is(err, jobs.ErrHeld) {
		t.Fatalf("RunOne of a held import: %v, want ErrHeld", err)
	}
	// Its runner stops renewing.
	exec(t, app.DB, `UPDATE jobs SET lease_until = ? WHERE ref = ?`, store.FormatTime(time.Now().Add(-time.Second)), j.ID)
	if err := runner.RunOne(ctx, transfer.KindImport, j.ID); err != nil {
		t.Fatal(err)
	}
	got, err := im.Get(ctx, u.Actor, ws.ID, j.ID)
	if err != nil || got.Status != transfer.Done || got.Created != 1 {
		t.Fatalf("after the take-over: %+v, %v", got, err)
	}
	var state string
	var attempts int
	_ = app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		s, _, err := jobs.Get(conn, transfer.KindImport, j.ID)
		state, attempts = s.State, s.Attempts
		return err
	})
	if state != jobs.Done || attempts != 2 {
		t.Fatalf("job %s after %d attempts, want done after 2", state, attempts)
	}
}

// TestSweepDeletesStaleUploads: uploads of drafts and failed jobs older than
// a day go (a draft with its row, a failed job keeps its row), as does a
// file no job names; a fresh draft keeps its file.
func TestSweepDeletesStaleUploads(t *testing.T) {
	ctx := context.Background()
	app := apptest.New(t, apptest.Options{NoJobs: true})
	u := app.NewUser("Andy")
	ws := u.Workspace("Loan Factory")
	dir := filepath.Join(t.TempDir(), "imports")
	im := transfer.NewImports(app.DB, app.Contacts, dir, slog.New(slog.DiscardHandler))
	up := func() transfer.Job {
		j, err := im.Upload(ctx, u.Actor, ws.ID, "a.csv", bytes.NewReader([]byte("Name,Email\nAnn Lee,ann@example.com\n")))
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	old, failed, fresh := up(), up(), up()
	twoDays := store.FormatTime(time.Now().Add(-48 * time.Hour))
	exec(t, app.DB, `UPDATE import_jobs SET created_at = ? WHERE id = ?`, twoDays, old.ID)
	exec(t, app.DB, `UPDATE import_jobs SET status = 'failed', created_at = ?, finished_at = ? WHERE id = ?`, twoDays, twoDays, failed.ID)
	orphan := filepath.Join(dir, "orphan.upload")
	if err := os.WriteFile(orphan, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-48 * time.Hour)
	_ = os.Chtimes(orphan, past, past)
	n, err := im.Sweep(ctx, time.Now())
	if err != nil || n != 3 {
		t.Fatalf("Sweep: %d files, %v; want 3", n, err)
	}
	for _, p := range []string{old.FilePath, failed.FilePath, orphan} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there", p)
		}
	}
	if _, err := os.Stat(fresh.FilePath); err != nil {
		t.Fatalf("the fresh draft's upload went: %v", err)
	}
	if _, err := im.Get(ctx, u.Actor, ws.ID, old.ID); err == nil {
		t.Fatal("the stale draft is still listed")
	}
	var expired int
	_ = app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*) FROM audit_log WHERE action = 'contact.import_expired' AND entity_id = ? AND user_id = ?`,
			&sqlitex.ExecOptions{Args: []any{old.ID, u.ID}, ResultFunc: func(st *sqlite.Stmt) error { expired = st.ColumnInt(0); return nil }})
	})
	if expired != 1 {
		t.Fatalf("%d audit rows for the expired draft, want 1 in its owner's trail", expired)
	}
	if j, err := im.Get(ctx, u.Actor, ws.ID, failed.ID); err != nil || j.Status != transfer.Failed {
		t.Fatalf("the failed job: %+v %v, want kept", j, err)
	}
}
