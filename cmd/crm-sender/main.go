// Command crm-sender drains the outbox: email and SMS sends, drip steps, scheduled blasts, retries and rate limits. Until those land, its loop only proves it is alive:
// it checks the schema, serves /metrics on PICRM_SENDER_METRICS_ADDR, writes its heartbeat row
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
	os.Exit(daemon.WorkerMain("crm-sender", version, "PICRM_SENDER_METRICS_ADDR", "127.0.0.1:9101"))
}
