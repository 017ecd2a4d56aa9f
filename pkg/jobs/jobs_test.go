package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
)

var quiet = slog.New(slog.DiscardHandler)

func enqueue(t testing.TB, db *store.DB, kind, ref string, due time.Time) {
	t.Helper()
	if err := db.Write(context.Background(), func(conn *sqlite.Conn) error {
		_, err := jobs.Enqueue(conn, kind, ref, due)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func status(t testing.TB, db *store.DB, kind, ref string) jobs.Status {
	t.Helper()
	var s jobs.Status
	if err := db.Read(context.Background(), func(conn *sqlite.Conn) error {
		var ok bool
		var err error
		s, ok, err = jobs.Get(conn, kind, ref)
		if err == nil && !ok {
			err = fmt.Errorf("no %s job %s", kind, ref)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func exec1(t testing.TB, db *store.DB, q string, args ...any) {
	t.Helper()
	if err := db.Write(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args})
	}); err != nil {
		t.Fatal(err)
	}
}

// second opens another pool on db's file: another process's view.
func second(t testing.TB, db *store.DB) *store.DB {
	t.Helper()
	other, err := store.Open(db.Path(), store.Options{PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func startRunner(t *testing.T, r *jobs.Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestRunnerRunsWhatAnotherConnectionQueues: a job enqueued through another
// pool (as crm-web enqueues for crm-sender) is run once and marked done,
// in due order, and a job due later waits for its time.
func TestRunnerRunsWhatAnotherConnectionQueues(t *testing.T) {
	db := storetest.New(t)
	var mu sync.Mutex
	var ran []string
	r := jobs.NewRunner(db, quiet, jobs.Kind{Name: "echo", Run: func(ctx context.Context, c *jobs.Claim) error {
		mu.Lock()
		defer mu.Unlock()
		ran = append(ran, c.Ref)
		return nil
	}})
	startRunner(t, r)
	web := second(t, db)
	now := time.Now()
	enqueue(t, web, "echo", "later", now.Add(700*time.Millisecond))
	if err := web.Write(context.Background(), func(conn *sqlite.Conn) error {
		for _, ref := range []string{"b", "a"} {
			due := now
			if ref == "b" {
				due = now.Add(-time.Second)
			}
			if _, err := jobs.Enqueue(conn, "echo", ref, due); err != nil {
				return err
			}
		}
		added, err := jobs.Enqueue(conn, "echo", "a", now) // twice: left as it is
		if added {
			t.Error("a second job for the same ref was added")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the two due jobs", func() bool { mu.Lock(); defer mu.Unlock(); return len(ran) == 2 })
	mu.Lock()
	if ran[0] != "b" || ran[1] != "a" {
		t.Errorf("ran %v, want the earlier due first: [b a]", ran)
	}
	mu.Unlock()
	if s := status(t, db, "echo", "later"); s.State != jobs.Queued {
		t.Fatalf("the job due later is %s before its time", s.State)
	}
	waitFor(t, "the later job", func() bool { mu.Lock(); defer mu.Unlock(); return len(ran) == 3 })
	if time.Since(now) < 700*time.Millisecond {
		t.Fatal("the later job ran before it was due")
	}
	waitFor(t, "the runner to record the ends", func() bool { return status(t, db, "echo", "later").State != jobs.Running })
	for _, ref := range []string{"a", "b", "later"} {
		if s := status(t, db, "echo", ref); s.State != jobs.Done || s.Attempts != 1 {
			t.Errorf("job %s: %+v, want done after one attempt", ref, s)
		}
	}
}

// TestRetryBackoffAndFailure: an error retries after the backoff, a
// permanent one fails at once and tells the kind in the same transaction,
// and the last allowed attempt fails for good.
func TestRetryBackoffAndFailure(t *testing.T) {
	db := storetest.New(t)
	exec1(t, db, `CREATE TABLE things (ref TEXT PRIMARY KEY, failure TEXT)`)
	var calls sync.Map
	k := jobs.Kind{Name: "flaky", MaxAttempts: 3, Backoff: func(n int) time.Duration { return time.Duration(n) * 50 * time.Millisecond },
		Run: func(ctx context.Context, c *jobs.Claim) error {
			n, _ := calls.LoadOrStore(c.Ref, new(atomic.Int32))
			got := n.(*atomic.Int32).Add(1)
			switch c.Ref {
			case "second-time":
				if got == 1 {
					return errors.New("provider said 503")
				}
				return nil
			case "broken-file":
				return jobs.Permanent(errors.New("not a CSV file"))
			default:
				return errors.New("always down")
			}
		},
		Failed: func(conn *sqlite.Conn, ref string, err error) error {
			return sqlitex.Execute(conn, `INSERT INTO things (ref, failure) VALUES (?, ?)`, &sqlitex.ExecOptions{Args: []any{ref, err.Error()}})
		}}
	startRunner(t, jobs.NewRunner(db, quiet, k))
	for _, ref := range []string{"second-time", "broken-file", "always"} {
		enqueue(t, db, "flaky", ref, time.Now())
	}
	waitFor(t, "every job to end", func() bool {
		for _, ref := range []string{"second-time", "broken-file", "always"} {
			if s := status(t, db, "flaky", ref); s.State != jobs.Done && s.State != jobs.Failed {
				return false
			}
		}
		return true
	})
	want := map[string]struct {
		state    string
		attempts int
	}{"second-time": {jobs.Done, 2}, "broken-file": {jobs.Failed, 1}, "always": {jobs.Failed, 3}}
	for ref, w := range want {
		s := status(t, db, "flaky", ref)
		if s.State != w.state || s.Attempts != w.attempts {
			t.Errorf("%s: %s after %d attempts, want %s after %d", ref, s.State, s.Attempts, w.state, w.attempts)
		}
	}
	failures := map[string]string{}
	_ = db.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT ref, failure FROM things`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
			failures[st.ColumnText(0)] = st.ColumnText(1)
			return nil
		}})
	})
	if len(failures) != 2 || failures["broken-file"] != "not a CSV file" || failures["always"] != "always down" {
		t.Fatalf("the kind heard of failures %v, want broken-file and always with their errors", failures)
	}
}

// TestExpiredLeaseIsTakenOverAndFenced: a job whose runner stopped renewing
// is claimed again with Resumed set; the stale runner's fenced write then
// fails with ErrLost and rolls back, and a job whose runner died on its last
// attempt fails instead of running again.
func TestExpiredLeaseIsTakenOverAndFenced(t *testing.T) {
	db := storetest.New(t)
	exec1(t, db, `CREATE TABLE progress (ref TEXT, runner TEXT)`)
	release := make(chan struct{})
	var staleErr error
	var resumed atomic.Bool
	stale := jobs.NewRunner(db, quiet, jobs.Kind{Name: "long", Lease: 300 * time.Millisecond, Run: func(ctx context.Context, c *jobs.Claim) error {
		if c.Resumed {
			resumed.Store(true)
		}
		<-release
		staleErr = db.Write(context.Background(), func(conn *sqlite.Conn) error {
			if err := sqlitex.Execute(conn, `INSERT INTO progress VALUES (?, 'stale')`, &sqlitex.ExecOptions{Args: []any{c.Ref}}); err != nil {
				return err
			}
			return c.Fence(conn)
		})
		return staleErr
	}})
	enqueue(t, db, "long", "j", time.Now())
	staleDone := make(chan error, 1)
	ctx, freeze := context.WithCancel(context.Background())
	// The stale runner claims, then stops renewing (as a frozen process
	// would): its renewal runs on ctx, which we cancel without ending Run's
	// work.
	go func() { staleDone <- stale.RunOne(ctx, "long", "j") }()
	waitFor(t, "the first claim", func() bool { return status(t, db, "long", "j").State == jobs.Running })
	first := status(t, db, "long", "j").Runner
	freeze()
	time.Sleep(400 * time.Millisecond) // past the lease
	var took atomic.Value
	fresh := jobs.NewRunner(db, quiet, jobs.Kind{Name: "long", Lease: 300 * time.Millisecond, Run: func(ctx context.Context, c *jobs.Claim) error {
		took.Store(c)
		return db.Write(ctx, func(conn *sqlite.Conn) error {
			if err := sqlitex.Execute(conn, `INSERT INTO progress VALUES (?, 'fresh')`, &sqlitex.ExecOptions{Args: []any{c.Ref}}); err != nil {
				return err
			}
			return c.Fence(conn)
		})
	}})
	if err := fresh.RunOne(context.Background(), "long", "j"); err != nil {
		t.Fatalf("take-over: %v", err)
	}
	c := took.Load().(*jobs.Claim)
	if !c.Resumed || c.Attempt != 2 || c.Runner() == first {
		t.Fatalf("take-over claim %+v: want Resumed, attempt 2 and a new runner", c)
	}
	close(release)
	<-staleDone
	if !errors.Is(staleErr, jobs.ErrLost) {
		t.Fatalf("the stale runner's write: %v, want ErrLost", staleErr)
	}
	var rows []string
	_ = db.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT runner FROM progress`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
			rows = append(rows, st.ColumnText(0))
			return nil
		}})
	})
	if len(rows) != 1 || rows[0] != "fresh" {
		t.Fatalf("progress rows %v: the stale batch must roll back whole", rows)
	}
	if s := status(t, db, "long", "j"); s.State != jobs.Done {
		t.Fatalf("after the take-over the job is %s, want done (the stale runner must not undo it)", s.State)
	}
	if resumed.Load() {
		t.Fatal("the first claim said Resumed")
	}

	// A job whose runner died on its last attempt fails.
	enqueue(t, db, "long", "poison", time.Now())
	exec1(t, db, `UPDATE jobs SET state = 'running', attempts = 5, runner = 'dead:1:00', lease_until = ? WHERE ref = 'poison'`, store.FormatTime(time.Now().Add(-time.Second)))
	if err := fresh.RunOne(context.Background(), "long", "poison"); !errors.Is(err, jobs.ErrHeld) {
		t.Fatalf("RunOne of an exhausted job: %v, want ErrHeld", err)
	}
	if s := status(t, db, "long", "poison"); s.State != jobs.Failed || s.Error == "" {
		t.Fatalf("exhausted job: %+v, want failed with a reason", s)
	}
}

// TestStoppingRunnerPutsJobsBack: a runner told to stop mid-job puts the
// job back in the queue, due at once, without counting the attempt, and a
// live lease keeps others off it meanwhile.
func TestStoppingRunnerPutsJobsBack(t *testing.T) {
	db := storetest.New(t)
	started := make(chan struct{})
	r := jobs.NewRunner(db, quiet, jobs.Kind{Name: "slow", Lease: 300 * time.Millisecond, Run: func(ctx context.Context, c *jobs.Claim) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	enqueue(t, db, "slow", "j", time.Now())
	<-started
	time.Sleep(500 * time.Millisecond) // longer than the lease: the renewals keep it
	other := jobs.NewRunner(second(t, db), quiet, jobs.Kind{Name: "slow", Run: func(context.Context, *jobs.Claim) error { return nil }})
	if err := other.RunOne(context.Background(), "slow", "j"); !errors.Is(err, jobs.ErrHeld) {
		t.Fatalf("a job renewed within its lease was claimable: %v", err)
	}
	stop()
	<-done
	s := status(t, db, "slow", "j")
	if s.State != jobs.Queued || s.Attempts != 0 || s.Runner != "" || s.DueAt.After(time.Now()) {
		t.Fatalf("after the stop: %+v, want queued, due now, no attempt counted", s)
	}
}

// TestTwoRunnersRunEachJobOnce: two runners on two pools share 60 jobs;
// every job runs exactly once.
func TestTwoRunnersRunEachJobOnce(t *testing.T) {
	db := storetest.New(t)
	var mu sync.Mutex
	count := map[string]int{}
	kind := func() jobs.Kind {
		return jobs.Kind{Name: "count", Concurrency: 3, Run: func(ctx context.Context, c *jobs.Claim) error {
			mu.Lock()
			count[c.Ref]++
			mu.Unlock()
			time.Sleep(time.Millisecond)
			return nil
		}}
	}
	startRunner(t, jobs.NewRunner(db, quiet, kind()))
	startRunner(t, jobs.NewRunner(second(t, db), quiet, kind()))
	for i := range 60 {
		enqueue(t, db, "count", fmt.Sprint(i), time.Now())
	}
	waitFor(t, "60 jobs", func() bool { mu.Lock(); defer mu.Unlock(); return len(count) == 60 })
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for ref, n := range count {
		if n != 1 {
			t.Errorf("job %s ran %d times", ref, n)
		}
	}
}

// TestKilledProcessJobIsResumed: a real process claims a job and is killed
// with SIGKILL mid-run; this process's runner takes it over once the lease
// runs out, with Resumed set.
func TestKilledProcessJobIsResumed(t *testing.T) {
	if os.Getenv("JOBS_TEST_CHILD") != "" {
		childHoldsJob()
		return
	}
	db := storetest.New(t)
	enqueue(t, db, "held", "j", time.Now())
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledProcessJobIsResumed$")
	cmd.Env = append(os.Environ(), "JOBS_TEST_CHILD="+db.Path())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the child's claim", func() bool { return status(t, db, "held", "j").State == jobs.Running })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	var got atomic.Value
	r := jobs.NewRunner(db, quiet, jobs.Kind{Name: "held", Lease: 400 * time.Millisecond, Run: func(ctx context.Context, c *jobs.Claim) error {
		got.Store(c)
		return nil
	}})
	startRunner(t, r)
	waitFor(t, "the take-over", func() bool { return status(t, db, "held", "j").State == jobs.Done })
	if c := got.Load().(*jobs.Claim); !c.Resumed || c.Attempt != 2 {
		t.Fatalf("take-over claim %+v, want Resumed on attempt 2", c)
	}
}

// childHoldsJob claims job j and blocks until killed.
func childHoldsJob() {
	db, err := store.Open(os.Getenv("JOBS_TEST_CHILD"), store.Options{PoolSize: 2})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	r := jobs.NewRunner(db, quiet, jobs.Kind{Name: "held", Lease: 400 * time.Millisecond, Run: func(ctx context.Context, c *jobs.Claim) error {
		select {}
	}})
	_ = r.RunOne(context.Background(), "held", "j")
	os.Exit(0)
}

// TestDrainRunsEveryDueJob: Drain (crmctl's one-shot runner) runs each due
// job and returns the first error.
func TestDrainRunsEveryDueJob(t *testing.T) {
	db := storetest.New(t)
	for _, ref := range []string{"1", "2", "3"} {
		enqueue(t, db, "snap", ref, time.Now())
	}
	enqueue(t, db, "snap", "tomorrow", time.Now().Add(24*time.Hour))
	var ran atomic.Int32
	r := jobs.NewRunner(db, quiet, jobs.Kind{Name: "snap", Run: func(ctx context.Context, c *jobs.Claim) error {
		ran.Add(1)
		if c.Ref == "2" {
			return jobs.Permanent(errors.New("bucket refused"))
		}
		return nil
	}})
	n, err := r.Drain(context.Background(), "snap")
	if n != 3 || ran.Load() != 3 || err == nil || err.Error() != "bucket refused" {
		t.Fatalf("Drain: %d ran (%d calls), %v; want 3 and the bucket's error", n, ran.Load(), err)
	}
	if s := status(t, db, "snap", "tomorrow"); s.State != jobs.Queued {
		t.Fatalf("the job due tomorrow is %s", s.State)
	}
}

// TestRetryAfterOverridesBackoff: a job that says when to try again (a
// server's Retry-After) waits that long, not the kind's backoff.
func TestRetryAfterOverridesBackoff(t *testing.T) {
	db := storetest.New(t)
	var first, second atomic.Int64
	k := jobs.Kind{Name: "busy", Backoff: func(int) time.Duration { return time.Hour },
		Run: func(ctx context.Context, c *jobs.Claim) error {
			if first.Load() == 0 {
				first.Store(time.Now().UnixNano())
				return jobs.RetryAfter(errors.New("429"), 300*time.Millisecond)
			}
			second.Store(time.Now().UnixNano())
			return nil
		}}
	startRunner(t, jobs.NewRunner(db, quiet, k))
	enqueue(t, db, "busy", "x", time.Now())
	waitFor(t, "the retried job to end", func() bool { return status(t, db, "busy", "x").State == jobs.Done })
	if gap := time.Duration(second.Load() - first.Load()); gap < 300*time.Millisecond || gap > 5*time.Second {
		t.Fatalf("retried after %s, want the server's 300 ms (the kind's backoff is an hour)", gap)
	}
	if s := status(t, db, "busy", "x"); s.Attempts != 2 {
		t.Fatalf("%d attempts", s.Attempts)
	}
}
