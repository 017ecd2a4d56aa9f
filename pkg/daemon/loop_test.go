package daemon

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pi-crm/pi-crm/internal/testrig"
)

// TestWatchdogFollowsTheLoopNotTheJob: a job stuck for many watchdog
// intervals (a send waiting on a provider) does not stop the pets, which
// arrive on a real notify socket; the job never runs twice at once (the
// turns it overlaps are skipped and counted), and a database that stops
// answering (Alive) stops the pets.
func TestWatchdogFollowsTheLoopNotTheJob(t *testing.T) {
	ns := testrig.NewNotifySocket(t)
	t.Setenv("NOTIFY_SOCKET", ns.Path)
	reg := prometheus.NewRegistry()
	l := NewLoop(slog.New(slog.DiscardHandler), reg)
	l.Watchdog = 50 * time.Millisecond
	var alive atomic.Bool
	alive.Store(true)
	l.Alive = func(context.Context) error {
		if !alive.Load() {
			return errors.New("database is locked")
		}
		return nil
	}
	release := make(chan struct{})
	var inFlight, most, runs atomic.Int32
	l.Every("send", 20*time.Millisecond, func(ctx context.Context) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		if n > most.Load() {
			most.Store(n)
		}
		if runs.Add(1) == 1 {
			select { // the first run hangs on its "provider"
			case <-release:
			case <-ctx.Done():
			}
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	pets := 0
	deadline := time.Now().Add(600 * time.Millisecond) // 12 watchdog intervals with the job stuck
	for time.Now().Before(deadline) {
		if strings.Contains(ns.Next(time.Until(deadline)), "WATCHDOG=1") {
			pets++
		}
	}
	if pets < 6 {
		t.Fatalf("%d pets in 600 ms with a job stuck: the watchdog follows the job, not the loop", pets)
	}
	if runs.Load() != 1 {
		t.Fatalf("%d runs while the first was stuck: the in-flight guard let another in", runs.Load())
	}
	var m dto.Metric
	_ = l.runs.WithLabelValues("send", "skipped").Write(&m)
	if skipped := m.GetCounter().GetValue(); skipped < 10 {
		t.Fatalf("%v turns counted as skipped, want about 30", skipped)
	}
	close(release)
	waitUntil(t, func() bool { return runs.Load() >= 3 })
	if most.Load() != 1 {
		t.Fatalf("%d runs of one job overlapped", most.Load())
	}
	alive.Store(false)
	_ = ns.Next(60 * time.Millisecond) // a pet already on its way
	if got := ns.Next(300 * time.Millisecond); strings.Contains(got, "WATCHDOG=1") {
		t.Fatal("petted while the database does not answer")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestLoopEndsWithAFailedTask: a task that stops ends the loop with its
// error, and the periodic jobs see their context end.
func TestLoopEndsWithAFailedTask(t *testing.T) {
	l := NewLoop(slog.New(slog.DiscardHandler), nil)
	var ended atomic.Bool
	l.Every("tick", time.Hour, func(ctx context.Context) error { <-ctx.Done(); ended.Store(true); return nil })
	l.Go("http", func(ctx context.Context) error {
		time.Sleep(20 * time.Millisecond)
		return errors.New("address in use")
	})
	err := l.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "http: address in use") {
		t.Fatalf("Run: %v, want the task's error", err)
	}
	if !ended.Load() {
		t.Fatal("Run returned before its jobs stopped")
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
