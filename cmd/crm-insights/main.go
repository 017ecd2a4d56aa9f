// Command crm-insights runs AI jobs: template generation requests from the UI, scheduled insights and the weekly summary. Until those land, its loop only proves it is alive:
// it checks the schema, serves /metrics on PICRM_INSIGHTS_METRICS_ADDR, writes its heartbeat row
// and pets the systemd watchdog from its main loop.
package main

import (
	"os"

	"github.com/pi-crm/pi-crm/pkg/daemon"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	daemon.PrivateFiles()
	os.Exit(daemon.WorkerMain("crm-insights", version, "PICRM_INSIGHTS_METRICS_ADDR", "127.0.0.1:9102"))
}
