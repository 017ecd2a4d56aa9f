package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pi-crm/pi-crm/pkg/logkey"
)

// Loop is a daemon's one main loop: periodic jobs (Every), long-running
// tasks (Go: a job runner, an HTTP server) and systemd's watchdog. The
// watchdog follows the loop, not the jobs: it is petted on its own tick
// while the loop turns and Alive answers, so a job that waits a minute on a
// provider never trips WatchdogSec, while a wedged loop or a database that
// stopped answering gets the unit restarted.
type Loop struct {
	log   *slog.Logger
	every []*periodic
	tasks []task
	// Alive, when set, is asked before each pet (crm-web and the workers
	// ping the database); an error skips the pet.
	Alive func(ctx context.Context) error
	// Watchdog overrides WatchdogInterval (tests).
	Watchdog time.Duration
	runs     *prometheus.CounterVec
	lastOK   *prometheus.GaugeVec
}

type periodic struct {
	name     string
	first    time.Duration // before the first run
	interval time.Duration
	job      func(ctx context.Context) error
	running  sync.Mutex // the in-flight guard
}

type task struct {
	name string
	run  func(ctx context.Context) error
}

// NewLoop returns an empty loop that logs to log; reg, when set, receives
// picrm_loop_runs_total{job,result} and
// picrm_loop_last_success_timestamp_seconds{job}.
func NewLoop(log *slog.Logger, reg prometheus.Registerer) *Loop {
	l := &Loop{log: log,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "picrm_loop_runs_total", Help: "Runs of the daemon's periodic jobs, by job and result (ok, error, skipped while the last run was still going).",
		}, []string{"job", "result"}),
		lastOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "picrm_loop_last_success_timestamp_seconds", Help: "Unix time of each periodic job's last successful run.",
		}, []string{"job"}),
	}
	if reg != nil {
		reg.MustRegister(l.runs, l.lastOK)
	}
	return l
}

// Every runs job every interval, the first time as the loop starts, each
// run beside the loop. A run still going when the next is due makes that
// one skip (the in-flight guard): two runs of one job never overlap.
func (l *Loop) Every(name string, interval time.Duration, job func(ctx context.Context) error) {
	l.EveryAfter(name, 0, interval, job)
}

// EveryAfter is Every with the first run first after the loop starts
// (crm-health gives the other daemons a moment to write their first
// heartbeat).
func (l *Loop) EveryAfter(name string, first, interval time.Duration, job func(ctx context.Context) error) {
	l.every = append(l.every, &periodic{name: name, first: first, interval: interval, job: job})
}

// Log is the daemon's logger, for the jobs a setup adds.
func (l *Loop) Log() *slog.Logger { return l.log }

// Go runs task for the loop's life; when it returns before the loop ends,
// with an error or not, the loop ends with that error.
func (l *Loop) Go(name string, run func(ctx context.Context) error) {
	l.tasks = append(l.tasks, task{name: name, run: run})
}

// Run runs the loop until ctx ends or a task stops, then cancels the jobs
// and tasks and waits for them.
func (l *Loop) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	stopped := make(chan error, len(l.tasks))
	for _, t := range l.tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := t.run(ctx)
			if err == nil && ctx.Err() == nil {
				err = fmt.Errorf("%s stopped", t.name)
			} else if err != nil {
				err = fmt.Errorf("%s: %w", t.name, err)
			}
			stopped <- err
		}()
	}
	fire := func(p *periodic) {
		if !p.running.TryLock() {
			l.runs.WithLabelValues(p.name, "skipped").Inc()
			l.log.Warn("periodic job still running: this turn skipped", "job", p.name, "interval", p.interval)
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.running.Unlock()
			if err := safe(ctx, p.job); err != nil {
				if ctx.Err() != nil {
					return
				}
				l.runs.WithLabelValues(p.name, "error").Inc()
				l.log.Error("periodic job failed", "job", p.name, logkey.Err, err)
				return
			}
			l.runs.WithLabelValues(p.name, "ok").Inc()
			l.lastOK.WithLabelValues(p.name).SetToCurrentTime()
		}()
	}
	tickers := make([]*time.Ticker, len(l.every))
	cases := make(chan *periodic)
	for i, p := range l.every {
		tickers[i] = time.NewTicker(p.interval)
		defer tickers[i].Stop()
		if p.first == 0 {
			fire(p)
		}
		wg.Add(1)
		go func(t *time.Ticker) {
			defer wg.Done()
			if p.first > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(p.first):
				}
				select {
				case cases <- p:
				case <-ctx.Done():
					return
				}
				t.Reset(p.interval)
			}
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					select {
					case cases <- p:
					case <-ctx.Done():
						return
					}
				}
			}
		}(tickers[i])
	}
	var wdC <-chan time.Time
	wd := l.Watchdog
	if wd <= 0 {
		wd = WatchdogInterval()
	}
	if wd > 0 {
		t := time.NewTicker(wd)
		defer t.Stop()
		wdC = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-stopped:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case p := <-cases:
			fire(p)
		case <-wdC:
			l.pet(ctx, wd)
		}
	}
}

// pet tells systemd the loop is alive, when Alive agrees.
func (l *Loop) pet(ctx context.Context, wd time.Duration) {
	if l.Alive != nil {
		actx, cancel := context.WithTimeout(ctx, min(wd, 2*time.Second))
		err := l.Alive(actx)
		cancel()
		if err != nil {
			l.log.Error("watchdog: not petted", logkey.Err, err)
			return
		}
	}
	Notify(l.log, "WATCHDOG=1")
}

// safe runs job, turning a panic into its error.
func safe(ctx context.Context, job func(ctx context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = errors.New(fmt.Sprint("panic: ", p))
		}
	}()
	return job(ctx)
}
