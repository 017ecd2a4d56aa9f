// Command crm-health watches the appliance: database integrity, disk, backup freshness, replica lag and unit states, and alerts by email. Until those checks land, its loop only proves it is alive:
// it checks the schema, serves /metrics on PICRM_HEALTH_ADDR, writes its heartbeat row
// and pets the systemd watchdog from its main loop.
package main

import (
	"os"

	"github.com/pi-crm/pi-crm/pkg/daemon"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(daemon.WorkerMain("crm-health", version, "PICRM_HEALTH_ADDR", "127.0.0.1:9103"))
}
