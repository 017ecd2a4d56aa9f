// Command crm-health watches the appliance: database integrity, disk, backup freshness, replica lag and unit states, and alerts by email. Until those checks land, its loop only proves it is alive:
// it checks the schema, serves /metrics on PICRM_HEALTH_ADDR, writes its heartbeat row
// and pets the systemd watchdog from its main loop.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/daemon"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	e := config.FromOS()
	cfg := daemon.WorkerConfig{Name: "crm-health", Version: version, Common: config.ReadCommon(e)}
	cfg.MetricsAddr = e.Addr("PICRM_HEALTH_ADDR", "127.0.0.1:9103")
	cfg.Poll = e.Duration("PICRM_WORKER_POLL", time.Second)
	if err := e.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "crm-health:", err)
		os.Exit(2)
	}
	log := daemon.NewLogger(cfg.Common.LogLevel).With("daemon", cfg.Name)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	w, err := daemon.OpenWorker(log, cfg)
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	if err := w.Run(ctx); err != nil {
		log.Error("stopped with error", "err", err)
		os.Exit(1)
	}
}
