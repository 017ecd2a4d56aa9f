package transfer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/phone"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// TestStaleBatchIsFenced: a runner whose claim ran out while another runner
// took the import over cannot commit a batch, even when the job's progress
// still reads as it left it (the new runner has not committed yet): the
// claim's fence refuses it and nothing of it lands.
func TestStaleBatchIsFenced(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	users := auth.NewStore(db, auth.Options{BcryptCost: bcrypt.MinCost})
	usr, err := users.CreateUser(ctx, auth.NewUser{Email: "andy@example.com", Name: "Andy", TimeZone: "UTC", Password: "correct horse battery"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	actor := usr.Actor("")
	name := "Loan Factory"
	ws, err := contact.NewWorkspaces(db).Create(ctx, actor, workspace.Change{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	im := NewImports(db, contact.NewStore(db, phone.Normalize), filepath.Join(t.TempDir(), "imports"), quiet)
	j, err := im.Upload(ctx, actor, ws.ID, "a.csv", bytes.NewReader([]byte("Name,Email\nAnn Lee,ann@example.com\n")))
	if err != nil {
		t.Fatal(err)
	}
	if err := im.Start(ctx, actor, ws.ID, j.ID); err != nil {
		t.Fatal(err)
	}
	// hold claims the job and keeps it until released; with freeze it
	// stops renewing, as a frozen process would.
	hold := func(lease time.Duration) (*jobs.Claim, context.CancelFunc, chan struct{}) {
		got := make(chan *jobs.Claim, 1)
		release := make(chan struct{})
		rctx, freeze := context.WithCancel(ctx)
		k := jobs.Kind{Name: KindImport, Lease: lease, Run: func(_ context.Context, c *jobs.Claim) error { got <- c; <-release; return jobs.ErrLost }}
		go func() { _ = jobs.NewRunner(db, quiet, k).RunOne(rctx, KindImport, j.ID) }()
		select {
		case c := <-got:
			return c, freeze, release
		case <-time.After(5 * time.Second):
			t.Fatal("no claim")
			return nil, nil, nil
		}
	}
	stale, freeze, releaseStale := hold(200 * time.Millisecond)
	defer close(releaseStale)
	if err := db.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `UPDATE import_jobs SET status = 'running' WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{j.ID}})
	}); err != nil {
		t.Fatal(err)
	}
	freeze()
	time.Sleep(300 * time.Millisecond) // past the stale claim's lease
	_, _, releaseNew := hold(time.Minute)
	defer close(releaseNew)
	b := batch{consumed: 1, data: map[int][]string{}, lines: map[int]int{}}
	err = db.Write(ctx, func(conn *sqlite.Conn) error {
		return commitBatch(conn, stale, j.ID, 0, 1, contact.ImportResult{Created: 1}, b)
	})
	if !errors.Is(err, jobs.ErrLost) {
		t.Fatalf("the stale runner's batch: %v, want ErrLost", err)
	}
	got, err := im.GetAny(ctx, j.ID)
	if err != nil || got.Next != 0 || got.Created != 0 {
		t.Fatalf("after the refused batch: next %d, created %d (%v); want nothing of it", got.Next, got.Created, err)
	}
}
