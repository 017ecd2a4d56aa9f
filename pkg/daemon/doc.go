// Package daemon holds what every pi-crm daemon does the same way: logging
// setup, systemd notification (READY, WATCHDOG, STOPPING), the Prometheus
// registry and /metrics server, the listeners of a web daemon (socket
// activation, TLS, the redirect), and the one main loop (Loop: periodic jobs
// with an in-flight guard, long-running tasks, a watchdog that follows the
// loop) that crm-web and the sender, insights and health workers run.
package daemon
