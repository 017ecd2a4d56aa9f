// Command crm-health watches the appliance. As a daemon (no arguments) it
// runs the checks every PICRM_HEALTH_INTERVAL, exports them on /metrics at
// PICRM_HEALTH_ADDR, mails an alert per failing check at most once a day,
// writes its heartbeat and pets the systemd watchdog. `crm-health check`
// runs the checks once, prints a table and exits 1 if any failed.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/pi-crm/pi-crm/migrations"
	"github.com/pi-crm/pi-crm/pkg/backup"
	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/daemon"
	"github.com/pi-crm/pi-crm/pkg/health"
	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	daemon.PrivateFiles()
	if len(os.Args) > 1 {
		if os.Args[1] != "check" {
			fmt.Fprintln(os.Stderr, "usage: crm-health [check]")
			os.Exit(2)
		}
		os.Exit(check(os.Stdout))
	}
	if code, guarded := guard(); guarded {
		os.Exit(code)
	}
	os.Exit(daemon.WorkerMainWith("crm-health", version, "PICRM_HEALTH_ADDR", "127.0.0.1:9103", setup))
}

// guard runs health.Guard instead of the worker when the database is
// missing although the appliance has data; guarded is false when it is
// there (or nothing says it should be). It exits 1 when the database comes
// back, so that systemd restarts crm-health into its normal loop.
func guard() (code int, guarded bool) {
	e := config.FromOS()
	common := config.ReadCommon(e)
	hc := health.ReadConfig(e, common)
	addr := e.Addr("PICRM_HEALTH_ADDR", "127.0.0.1:9103")
	if e.Err() != nil || health.DataResult(hc).OK {
		return 0, false // the worker reports bad configuration itself
	}
	daemon.TuneMemory(0, 0)
	log := daemon.NewLogger(common.LogLevel).With("daemon", "crm-health")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	reg := daemon.NewRegistry("crm-health", version)
	metrics := health.NewMetrics(reg)
	srv, err := daemon.ListenMetrics(log, addr, reg)
	if err != nil {
		log.Error("cannot start", logkey.Err, err)
		return 1, true
	}
	defer srv.Shutdown(context.Background())
	daemon.Notify(log, "READY=1\nSTATUS=the database is missing: waiting for the data volume")
	log.Info("serving", "metrics", srv.Addr(), "mode", "data volume missing")
	every := min(30*time.Second, hc.Interval)
	if wd := daemon.WatchdogInterval(); wd > 0 && wd < every {
		every = wd
	}
	err = health.Guard(ctx, hc, log, metrics, every, func() { daemon.Notify(log, "WATCHDOG=1") })
	daemon.Notify(log, "STOPPING=1")
	if err != nil {
		return 0, true // stopped
	}
	return 1, true
}

// setup puts health.Scheduler on the worker's loop: the checks every
// Interval and the retention daily, beside the heartbeat and the watchdog.
func setup(e *config.Env, cfg *daemon.WorkerConfig) {
	hc := health.ReadConfig(e, cfg.Common)
	if e.Err() != nil {
		return
	}
	cfg.Registry = daemon.NewRegistry(cfg.Name, cfg.Version)
	metrics := health.NewMetrics(cfg.Registry)
	log := daemon.NewLogger(cfg.Common.LogLevel).With("daemon", cfg.Name)
	cfg.Setup = func(l *daemon.Loop, db *store.DB) error {
		bucket, err := openBucket(hc)
		if err != nil {
			log.Warn("replica lag check off", logkey.Err, err)
		}
		health.NewScheduler(hc, db, bucket, metrics, log).Add(l)
		return nil
	}
}

func openBucket(hc health.Config) (*backup.Bucket, error) {
	if hc.S3 == nil {
		return nil, nil
	}
	return backup.OpenBucket(*hc.S3)
}

// check runs the checks once and prints them; 0 when all pass, 1 when any
// fails, 2 when it cannot run.
func check(w io.Writer) int {
	e := config.FromOS()
	common := config.ReadCommon(e)
	hc := health.ReadConfig(e, common)
	if err := e.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "crm-health:", err)
		return 2
	}
	if r := health.DataResult(hc); !r.OK {
		fmt.Fprintf(w, "CHECK  STATUS  VALUE  DETAIL\n%s  FAIL  %s  %s\n1 check(s) failed\n", r.Check, r.Value, r.Detail)
		return 1
	}
	db, err := store.Open(common.DB, store.Options{PoolSize: 1, Marker: common.DataMarker})
	if err != nil {
		fmt.Fprintln(os.Stderr, "crm-health:", err)
		return 2
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.CheckSchema(ctx, migrations.Version()); err != nil {
		fmt.Fprintln(os.Stderr, "crm-health:", err)
		return 2
	}
	bucket, err := openBucket(hc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crm-health: bucket:", err)
	}
	results := health.NewChecker(hc, db, bucket, nil).Run(ctx)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tVALUE\tDETAIL")
	failed := 0
	for _, r := range results {
		st := "ok"
		switch {
		case r.Skipped:
			st = "skip"
		case !r.OK:
			st, failed = "FAIL", failed+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Check, st, r.Value, r.Detail)
	}
	tw.Flush()
	if failed > 0 {
		fmt.Fprintf(w, "%d check(s) failed\n", failed)
		return 1
	}
	return 0
}
