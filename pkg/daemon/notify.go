package daemon

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/pi-crm/pi-crm/pkg/logkey"
)

// Notify sends state to systemd when the process runs under a unit with
// NOTIFY_SOCKET set; otherwise it does nothing. Failures are logged, never
// fatal: a lost notification must not stop the service.
func Notify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", "state", state, logkey.Err, err)
	}
}

// WatchdogInterval returns how often to pet systemd's watchdog (half of
// WatchdogSec, as sd_watchdog_enabled(3) advises), or 0 when it is off.
func WatchdogInterval() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil || d <= 0 {
		return 0
	}
	return d / 2
}

// NewLogger returns the process's logger: text lines to stderr, which
// journald captures, at level (debug, info, warn, error).
func NewLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// DefaultMemoryLimit is a daemon's soft limit on the Go runtime's memory.
const DefaultMemoryLimit = 26 << 20

// TuneMemory sets the Go collector for a Pi daemon unless the environment
// already does (GOGC, GOMEMLIMIT): collect less often (GOGC=300 when
// percent is 0), which cuts the CPU a busy page spends in GC, and bound the
// heap with a soft limit (limit bytes, DefaultMemoryLimit when 0) so the
// fewer collections never cost the Pi its memory.
func TuneMemory(percent int, limit int64) {
	if percent <= 0 {
		percent = 300
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
	if limit <= 0 {
		limit = DefaultMemoryLimit
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
}

// Settle collects what start-up left behind (templates parsed, phone
// metadata decoded, migrations read) and gives it back to the system, so
// a daemon that then idles does not keep it: with GOGC=300 the next
// collection might be hours away. Call it once, just before READY.
func Settle() { debug.FreeOSMemory() }

// PrivateFiles makes every file and folder the process creates readable by
// its own user only (umask 0077). systemd units set UMask=0077; a binary
// run by hand (make run, crmctl) would otherwise leave the database, its
// snapshots and uploaded contact files at 0644 for every local account.
// Call it first thing in main.
func PrivateFiles() { syscall.Umask(0o077) }
