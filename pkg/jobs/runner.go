package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// Kind is one kind of job and how a runner runs it.
type Kind struct {
	Name string
	// Run does the job. It returns nil when the job is done, an error to
	// have it tried again after Backoff (Permanent to fail it at once), or
	// the context's error when the runner stops or the claim is lost
	// (context.Cause is then ErrLost). Every transaction that records
	// progress calls c.Fence.
	Run func(ctx context.Context, c *Claim) error
	// Failed, when set, records on the kind's own row that its job failed
	// for good, in the transaction that fails the job.
	Failed func(conn *sqlite.Conn, ref string, err error) error
	// Lease is how long a claim lasts without renewal (default 30 s); the
	// runner renews it every third of that.
	Lease time.Duration
	// MaxAttempts bounds the runs of one job (default 5), counting the
	// ones whose runner died.
	MaxAttempts int
	// Backoff is the wait before attempt n+1 after attempt n failed
	// (default 10 s doubling, at most an hour).
	Backoff func(attempt int) time.Duration
	// Concurrency is how many jobs of the kind one runner runs at once
	// (default 1).
	Concurrency int
}

func (k *Kind) lease() time.Duration {
	if k.Lease <= 0 {
		return 30 * time.Second
	}
	return k.Lease
}

func (k *Kind) maxAttempts() int {
	if k.MaxAttempts <= 0 {
		return 5
	}
	return k.MaxAttempts
}

func (k *Kind) backoff(attempt int) time.Duration {
	if k.Backoff != nil {
		return k.Backoff(attempt)
	}
	d := 10 * time.Second << min(attempt-1, 9)
	return min(d, time.Hour)
}

func (k *Kind) concurrency() int { return max(k.Concurrency, 1) }

type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Permanent marks err as one that another attempt would not cure (a file
// that cannot be read): the job fails at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

type retryAfter struct {
	error
	wait time.Duration
}

func (r retryAfter) Unwrap() error { return r.error }

// RetryAfter marks err as one to try again after wait instead of the
// kind's Backoff: a server that said when (HTTP Retry-After). The attempt
// still counts against MaxAttempts.
func RetryAfter(err error, wait time.Duration) error {
	if err == nil {
		return nil
	}
	return retryAfter{err, wait}
}

// Runner claims and runs the jobs of its kinds: any daemon (crm-web,
// crm-sender, crm-insights) or crmctl runs the kinds it has the means for.
// It wakes when another connection commits (PRAGMA data_version, looked at
// every Tick) or when a known job falls due, and otherwise sleeps.
type Runner struct {
	db    *store.DB
	log   *slog.Logger
	kinds []*Kind
	// Tick is how often an idle runner looks at data_version (default
	// 100 ms): the bound on how late it notices a new job.
	Tick time.Duration

	mu       sync.Mutex
	inflight map[string]int // kind -> jobs running
	done     chan struct{}  // a job ended: a slot is free
	wg       sync.WaitGroup
}

// NewRunner returns a runner of kinds on db.
func NewRunner(db *store.DB, log *slog.Logger, kinds ...Kind) *Runner {
	r := &Runner{db: db, log: log, inflight: map[string]int{}, done: make(chan struct{}, 1)}
	for i := range kinds {
		r.kinds = append(r.kinds, &kinds[i])
	}
	return r
}

func (r *Runner) kind(name string) *Kind {
	for _, k := range r.kinds {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// Run claims and runs jobs until ctx ends, then waits for the running ones
// to stop (each is put back in the queue, due at once, for the next runner).
func (r *Runner) Run(ctx context.Context) error {
	watch, err := r.db.Watch()
	if err != nil {
		return err
	}
	defer watch.Close()
	defer r.wg.Wait()
	tickEvery := r.Tick
	if tickEvery <= 0 {
		tickEvery = 100 * time.Millisecond
	}
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	check := true
	var wakeAt time.Time
	for {
		if check {
			check = false
			wakeAt = r.startDue(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.done:
			check = true
		case now := <-tick.C:
			changed, err := watch.Changed()
			if err != nil {
				r.log.Warn("jobs: watch the database", logkey.Err, err)
			}
			check = changed || (!wakeAt.IsZero() && !now.Before(wakeAt))
		}
	}
}

// startDue claims what each kind has room for and starts it; it returns
// when to look again without a commit to wake it (zero: never). It looks
// with a read first: most commits that wake it (a session touched, a
// contact saved) bring no job, and a look must not take the write lock.
func (r *Runner) startDue(ctx context.Context) time.Time {
	now := time.Now()
	var open, due []string
	for _, k := range r.kinds {
		r.mu.Lock()
		free := k.concurrency() - r.inflight[k.Name]
		r.mu.Unlock()
		if free > 0 {
			open = append(open, k.Name)
		}
	}
	if len(open) == 0 {
		return time.Time{}
	}
	var next time.Time
	if err := r.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		if next, err = nextWake(conn, open); err != nil {
			return err
		}
		due, err = dueKinds(conn, open, now)
		return err
	}); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("jobs: look for due jobs", logkey.Err, err)
		}
		return now.Add(time.Second)
	}
	for _, name := range due {
		k := r.kind(name)
		r.mu.Lock()
		free := k.concurrency() - r.inflight[k.Name]
		r.mu.Unlock()
		var claims []*Claim
		err := r.db.Write(ctx, func(conn *sqlite.Conn) error {
			var err error
			claims, err = claim(conn, k, "", free, now)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("jobs: claim", logkey.Kind, k.Name, logkey.Err, err)
			}
			return now.Add(time.Second)
		}
		for _, c := range claims {
			r.mu.Lock()
			r.inflight[k.Name]++
			r.mu.Unlock()
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				_ = r.run(ctx, k, c)
				r.mu.Lock()
				r.inflight[k.Name]--
				r.mu.Unlock()
				select {
				case r.done <- struct{}{}:
				default:
				}
			}()
		}
	}
	// The claims' own commits wake the next look, which sees the claimed
	// jobs running and the next due one.
	return next
}

// RunOne claims the job of kind for ref, when it is queued (due or not)
// or its lease ran out, and runs it here to its end: crmctl's foreground
// import. It answers ErrHeld when the job is not claimable, else what the
// kind's Run returned. With ref empty it takes the first due job of kind.
func (r *Runner) RunOne(ctx context.Context, kind, ref string) error {
	k := r.kind(kind)
	if k == nil {
		return fmt.Errorf("run %s job: this runner has no such kind", kind)
	}
	var claims []*Claim
	if err := r.db.Write(ctx, func(conn *sqlite.Conn) error {
		var err error
		claims, err = claim(conn, k, ref, 1, time.Now())
		return err
	}); err != nil {
		return err
	}
	if len(claims) == 0 {
		return ErrHeld
	}
	return r.run(ctx, k, claims[0])
}

// Drain runs kind's due jobs one after another until none is left, and
// returns how many ran and the first error: a one-shot process (crmctl
// backup snapshot) empties its queue this way.
func (r *Runner) Drain(ctx context.Context, kind string) (int, error) {
	n := 0
	var first error
	for ctx.Err() == nil {
		err := r.RunOne(ctx, kind, "")
		if errors.Is(err, ErrHeld) {
			break
		}
		n++
		if err != nil && first == nil {
			first = err
		}
	}
	return n, first
}

// run runs claim c of kind k, renewing its lease every third of it, and
// records how it ended. It returns what k.Run returned.
func (r *Runner) run(ctx context.Context, k *Kind, c *Claim) error {
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		r.renew(jctx, c, cancel)
	}()
	err := safeRun(jctx, k, c)
	cancel(nil)
	<-renewed
	lost := errors.Is(err, ErrLost) || errors.Is(context.Cause(jctx), ErrLost)
	now := time.Now()
	var serr error
	switch {
	case lost:
		r.log.Info("jobs: claim lost to another runner", logkey.Kind, k.Name, logkey.Job, c.Ref)
		return err
	case err == nil:
		serr = r.write(func(conn *sqlite.Conn) error { return end(conn, k, c.ID, c.runner, Done, "", now) })
	case ctx.Err() != nil:
		// The runner stops: the job goes back, due at once, without the
		// attempt counting against it.
		serr = r.write(func(conn *sqlite.Conn) error { return retry(conn, c, now, "", true) })
	default:
		var p permanent
		if errors.As(err, &p) || c.Attempt >= k.maxAttempts() {
			r.log.Error("jobs: failed", logkey.Kind, k.Name, logkey.Job, c.Ref, "attempt", c.Attempt, logkey.Err, err)
			serr = r.write(func(conn *sqlite.Conn) error {
				return endFailed(conn, k, c, err, now)
			})
		} else {
			wait := k.backoff(c.Attempt)
			var ra retryAfter
			if errors.As(err, &ra) && ra.wait > 0 {
				wait = ra.wait
			}
			r.log.Warn("jobs: will retry", logkey.Kind, k.Name, logkey.Job, c.Ref, "attempt", c.Attempt, "in", wait, logkey.Err, err)
			serr = r.write(func(conn *sqlite.Conn) error { return retry(conn, c, now.Add(wait), err.Error(), false) })
		}
	}
	if serr != nil {
		r.log.Warn("jobs: record the end", logkey.Kind, k.Name, logkey.Job, c.Ref, logkey.Err, serr)
	}
	return err
}

func endFailed(conn *sqlite.Conn, k *Kind, c *Claim, err error, now time.Time) error {
	if e := end(conn, k, c.ID, c.runner, Failed, err.Error(), now); e != nil {
		return e
	}
	if k.Failed != nil {
		if e := k.Failed(conn, c.Ref, err); e != nil {
			return fmt.Errorf("record failed %s job %s: %w", k.Name, c.Ref, e)
		}
	}
	return nil
}

// write runs fn in a write transaction that a stopping runner still
// finishes.
func (r *Runner) write(fn func(*sqlite.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return r.db.Write(ctx, fn)
}

// renew extends c's lease every third of it until ctx ends; when the
// claim turns out lost it cancels the job with ErrLost.
func (r *Runner) renew(ctx context.Context, c *Claim, cancel context.CancelCauseFunc) {
	t := time.NewTicker(c.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := r.db.Write(ctx, c.Fence)
		if errors.Is(err, ErrLost) {
			cancel(ErrLost)
			return
		}
		if err != nil && ctx.Err() == nil {
			r.log.Warn("jobs: renew lease", logkey.Kind, c.Kind, logkey.Job, c.Ref, logkey.Err, err)
		}
	}
}

// safeRun runs k.Run, turning a panic into the job's error.
func safeRun(ctx context.Context, k *Kind, c *Claim) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s job panicked: %v", k.Name, p)
		}
	}()
	return k.Run(ctx, c)
}
