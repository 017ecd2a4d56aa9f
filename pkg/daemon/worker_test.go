package daemon_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/daemon"
	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
)

// TestWorkerRunsItsKinds: a worker given a job kind (as crm-sender will be
// given sends) runs a job another connection queues, and writes its
// heartbeat before it says it has started.
func TestWorkerRunsItsKinds(t *testing.T) {
	db := storetest.New(t)
	ran := make(chan string, 1)
	w, err := daemon.OpenWorker(slog.New(slog.DiscardHandler), daemon.WorkerConfig{
		Name: "crm-sender", Version: "test", MetricsAddr: "127.0.0.1:0",
		Common: config.Common{DB: db.Path()},
		Kinds: func(db *store.DB, log *slog.Logger) []jobs.Kind {
			return []jobs.Kind{{Name: "send", Run: func(ctx context.Context, c *jobs.Claim) error { ran <- c.Ref; return nil }}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	if err := db.Write(ctx, func(conn *sqlite.Conn) error {
		_, err := jobs.Enqueue(conn, "send", "message-1", time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case ref := <-ran:
		if ref != "message-1" {
			t.Fatalf("ran %q", ref)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the worker did not run the queued job")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
