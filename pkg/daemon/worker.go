package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pi-crm/pi-crm/migrations"
	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/heartbeat"
	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// WorkerConfig is what a worker daemon needs to start.
type WorkerConfig struct {
	Name        string // binary and heartbeat name, e.g. "crm-sender"
	Version     string
	Common      config.Common
	MetricsAddr string
	// Poll is how often the loop runs a pass (default 1 s): one cheap indexed
	// query for due work, the architecture's "no broker" design.
	Poll time.Duration
	// BeatEvery is how often the heartbeat row is rewritten (default 15 s).
	BeatEvery time.Duration
	// Pass does one pass of the worker's job; nil while it has none yet.
	Pass func(ctx context.Context, db *store.DB) error
	// Registry serves /metrics; nil makes one with the standard collectors.
	Registry *prometheus.Registry
}

// Worker is a running worker daemon.
type Worker struct {
	cfg     WorkerConfig
	log     *slog.Logger
	db      *store.DB
	metrics *MetricsServer
	beats   *heartbeat.Writer
	passes  *prometheus.CounterVec
	lastOK  prometheus.Gauge
}

// OpenWorker opens the store, refuses a schema other than this build's, and
// binds the metrics port. It does not notify systemd; Run does.
func OpenWorker(log *slog.Logger, cfg WorkerConfig) (*Worker, error) {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.BeatEvery <= 0 {
		cfg.BeatEvery = 15 * time.Second
	}
	db, err := store.Open(cfg.Common.DB, store.Options{PoolSize: 2, Marker: cfg.Common.DataMarker})
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
	w := &Worker{cfg: cfg, log: log, db: db, beats: heartbeat.NewWriter(db, cfg.Name, cfg.Version),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "picrm_worker_passes_total", Help: "Main-loop passes of the worker, by result.",
		}, []string{"result"}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "picrm_worker_last_success_timestamp_seconds", Help: "Unix time of the last successful main-loop pass.",
		}),
	}
	reg.MustRegister(w.passes, w.lastOK)
	if w.metrics, err = ListenMetrics(log, cfg.MetricsAddr, reg); err != nil {
		db.Close()
		return nil, err
	}
	return w, nil
}

// MetricsAddr returns the bound metrics address.
func (w *Worker) MetricsAddr() string { return w.metrics.Addr() }

// Run beats once, tells systemd READY, then loops until ctx ends: each tick
// runs a pass, rewrites the heartbeat when due, and pets the watchdog only
// when the pass and the database answered, so a wedged loop or database gets
// the unit restarted. On ctx's end it sends STOPPING and closes everything.
func (w *Worker) Run(ctx context.Context) error {
	defer w.close()
	if err := w.beats.Beat(ctx); err != nil {
		return err
	}
	lastBeat := time.Now()
	wd := WatchdogInterval()
	tick := w.cfg.Poll
	if wd > 0 && wd < tick {
		tick = wd
	}
	Settle()
	Notify(w.log, "READY=1\nSTATUS=waiting for work")
	w.log.Info("started", "metrics", w.MetricsAddr(), "poll", w.cfg.Poll, "watchdog", wd)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			Notify(w.log, "STOPPING=1")
			w.log.Info("stopping")
			return nil
		case <-t.C:
		}
		if err := w.pass(ctx, &lastBeat); err != nil {
			if ctx.Err() != nil {
				continue
			}
			w.passes.WithLabelValues("error").Inc()
			w.log.Error("pass failed", logkey.Err, err)
			continue
		}
		w.passes.WithLabelValues("ok").Inc()
		w.lastOK.SetToCurrentTime()
		if wd > 0 {
			Notify(w.log, "WATCHDOG=1")
		}
	}
}

func (w *Worker) pass(ctx context.Context, lastBeat *time.Time) error {
	if w.cfg.Pass != nil {
		if err := w.cfg.Pass(ctx, w.db); err != nil {
			return err
		}
	}
	if time.Since(*lastBeat) >= w.cfg.BeatEvery {
		if err := w.beats.Beat(ctx); err != nil {
			return err
		}
		*lastBeat = time.Now()
	}
	return nil
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
// worker's own settings from e and fills in cfg (Pass, Registry) before the
// configuration is checked.
func WorkerMainWith(name, version, metricsVar, metricsDefault string, setup func(e *config.Env, cfg *WorkerConfig)) int {
	e := config.FromOS()
	cfg := WorkerConfig{Name: name, Version: version, Common: config.ReadCommon(e)}
	cfg.MetricsAddr = e.Addr(metricsVar, metricsDefault)
	cfg.Poll = e.Duration("PICRM_WORKER_POLL", time.Second)
	cfg.BeatEvery = e.Duration("PICRM_HEARTBEAT_EVERY", 15*time.Second)
	if setup != nil {
		setup(e, &cfg)
	}
	if err := e.Err(); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 2
	}
	log := NewLogger(cfg.Common.LogLevel).With("daemon", name)
	TuneMemory()
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
