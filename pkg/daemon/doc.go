// Package daemon holds what every pi-crm daemon does the same way: logging
// setup, systemd notification (READY, WATCHDOG, STOPPING), the Prometheus
// registry and /metrics server, and the worker main loop that the sender,
// insights and health daemons run.
package daemon
