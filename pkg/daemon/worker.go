package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pi-crm/pi-crm/migrations"
	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/heartbeat"
	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// WorkerConfig is what a worker daemon needs to start.
type WorkerConfig struct {
	Name        string // binary and heartbeat name, e.g. "crm-sender"
	Version     string
	Common      config.Common
	MetricsAddr string
	// BeatEvery is how often the heartbeat row is rewritten (default 15 s).
	BeatEvery time.Duration
	// Setup adds the worker's periodic jobs and tasks to its loop; nil
	// while it has none.
	Setup func(l *Loop, db *store.DB) error
	// Kinds are the job kinds (pkg/jobs) the worker runs; a runner for
	// them joins the loop when there are any.
	Kinds func(db *store.DB, log *slog.Logger) []jobs.Kind
	// Registry serves /metrics; nil makes one with the standard collectors.
	Registry *prometheus.Registry
	// MemoryLimit is the soft limit on the Go runtime's memory (0:
	// DefaultMemoryLimit).
	MemoryLimit int64
	// GCPercent is the collector's GOGC (0: TuneMemory's 300), unless the
	// environment's GOGC says otherwise.
	GCPercent int
	// CacheKiB bounds each database connection's page cache (0:
	// SQLite's 2 MiB).
	CacheKiB int
	// Procs, when set, is how many threads run Go code at once
	// (GOMAXPROCS), unless the environment's GOMAXPROCS says otherwise.
	Procs int
}

// Worker is a running worker daemon.
type Worker struct {
	cfg     WorkerConfig
	log     *slog.Logger
	db      *store.DB
	metrics *MetricsServer
	loop    *Loop
	beats   *heartbeat.Writer
}

// OpenWorker opens the store, refuses a schema other than this build's,
// binds the metrics port and builds the loop: the heartbeat, the worker's
// own jobs and its job runner. It does not notify systemd; Run does.
func OpenWorker(log *slog.Logger, cfg WorkerConfig) (*Worker, error) {
	if cfg.BeatEvery <= 0 {
		cfg.BeatEvery = 15 * time.Second
	}
	db, err := store.Open(cfg.Common.DB, store.Options{PoolSize: 2, CacheKiB: cfg.CacheKiB, Marker: cfg.Common.DataMarker})
	if err != nil {
		return nil, err
	}
	if err := db.CheckSchema(context.Background(), migrations.Version()); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s refuses to start: %w", cfg.Name, err)
	}
	reg := cfg.Registry
	if reg == nil {
		reg = NewRegistry(cfg.Name, cfg.Version)
	}
	w := &Worker{cfg: cfg, log: log, db: db, loop: NewLoop(log, reg), beats: heartbeat.NewWriter(db, cfg.Name, cfg.Version)}
	w.loop.Every("heartbeat", cfg.BeatEvery, w.beats.Beat)
	w.loop.Alive = db.Ping
	if cfg.Setup != nil {
		if err := cfg.Setup(w.loop, db); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: %w", cfg.Name, err)
		}
	}
	if cfg.Kinds != nil {
		if kinds := cfg.Kinds(db, log); len(kinds) > 0 {
			w.loop.Go("jobs", jobs.NewRunner(db, log, kinds...).Run)
		}
	}
	if w.metrics, err = ListenMetrics(log, cfg.MetricsAddr, reg); err != nil {
		db.Close()
		return nil, err
	}
	return w, nil
}

// MetricsAddr returns the bound metrics address.
func (w *Worker) MetricsAddr() string { return w.metrics.Addr() }

// Run beats once (so a worker that said READY has a heartbeat row: crm-health
// never sees a started worker without one), tells systemd READY and runs
// the loop until ctx ends; then it sends STOPPING and closes everything.
func (w *Worker) Run(ctx context.Context) error {
	defer w.close()
	if err := w.beats.Beat(ctx); err != nil {
		return err
	}
	Settle()
	Notify(w.log, "READY=1\nSTATUS=waiting for work")
	w.log.Info("started", "metrics", w.MetricsAddr(), "watchdog", WatchdogInterval())
	err := w.loop.Run(ctx)
	Notify(w.log, "STOPPING=1")
	w.log.Info("stopping")
	return err
}

func (w *Worker) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := w.metrics.Shutdown(ctx); err != nil {
		w.log.Warn("metrics shutdown", logkey.Err, err)
	}
	if err := w.db.Close(); err != nil {
		w.log.Warn("close database", logkey.Err, err)
	}
}

// WorkerMain is the whole main of a worker daemon: it reads the common
// configuration and the metrics address from metricsVar, opens the worker and
// runs it until SIGTERM or SIGINT. It returns the process exit code: 2 for
// bad configuration, 1 for a failed start or run.
func WorkerMain(name, version, metricsVar, metricsDefault string) int {
	return WorkerMainWith(name, version, metricsVar, metricsDefault, nil)
}

// WorkerMainWith is WorkerMain with a setup function that reads the
// worker's own settings from e and fills in cfg (Setup, Kinds, Registry) before the
// configuration is checked.
func WorkerMainWith(name, version, metricsVar, metricsDefault string, setup func(e *config.Env, cfg *WorkerConfig)) int {
	e := config.FromOS()
	cfg := WorkerConfig{Name: name, Version: version, Common: config.ReadCommon(e)}
	cfg.MetricsAddr = e.Addr(metricsVar, metricsDefault)
	cfg.BeatEvery = e.Duration("PICRM_HEARTBEAT_EVERY", 15*time.Second)
	if setup != nil {
		setup(e, &cfg)
	}
	if err := e.Err(); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 2
	}
	log := NewLogger(cfg.Common.LogLevel).With("daemon", name)
	TuneMemory(cfg.GCPercent, cfg.MemoryLimit)
	if cfg.Procs > 0 && os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(cfg.Procs)
	}
	defer CPUProfile()()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	w, err := OpenWorker(log, cfg)
	if err != nil {
		log.Error("cannot start", logkey.Err, err)
		return 1
	}
	if err := w.Run(ctx); err != nil {
		log.Error("stopped with error", logkey.Err, err)
		return 1
	}
	return 0
}
