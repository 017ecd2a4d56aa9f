// Package config reads PICRM_* environment variables into typed values with
// defaults, collecting every problem so that a daemon can exit with one
// message that names each bad variable.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Env reads variables from a lookup function (os.LookupEnv in main, a map in
// tests) and remembers what was wrong.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// FromOS returns an Env over the process environment.
func FromOS() *Env { return &Env{lookup: os.LookupEnv} }

// FromMap returns an Env over m, for tests.
func FromMap(m map[string]string) *Env {
	return &Env{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

// Fail records a problem with variable name, for readers outside this
// package that check more than a value's syntax.
func (e *Env) Fail(name, format string, args ...any) { e.fail(name, format, args...) }

func (e *Env) fail(name, format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// raw returns the variable's value and whether it is set. A variable set to
// the empty string is an error: unset it to take the default.
func (e *Env) raw(name string) (string, bool) {
	v, ok := e.lookup(name)
	if !ok {
		return "", false
	}
	if strings.TrimSpace(v) == "" {
		e.fail(name, "is set but empty (unset it to use the default)")
		return "", false
	}
	return strings.TrimSpace(v), true
}

// String returns the variable or def.
func (e *Env) String(name, def string) string {
	if v, ok := e.raw(name); ok {
		return v
	}
	return def
}

// Path returns the variable as an absolute path, or def made absolute.
func (e *Env) Path(name, def string) string {
	p := e.String(name, def)
	abs, err := filepath.Abs(p)
	if err != nil {
		e.fail(name, "cannot make %q absolute: %v", p, err)
		return p
	}
	return abs
}

// Addr returns the variable as a host:port listen address, or def.
func (e *Env) Addr(name, def string) string {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		e.fail(name, "%q is not a host:port address such as 127.0.0.1:8080", v)
		return def
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		e.fail(name, "%q has no valid port number", v)
		return def
	}
	return v
}

// LoopbackAddr is Addr for a service that must never face the LAN (the
// profiler): the host must be a loopback address or "localhost".
func (e *Env) LoopbackAddr(name, def string) string {
	v := e.Addr(name, def)
	if v == "" {
		return v
	}
	host, _, err := net.SplitHostPort(v)
	if err != nil {
		return def
	}
	if ip, perr := netip.ParseAddr(host); host != "localhost" && (perr != nil || !ip.IsLoopback()) {
		e.fail(name, "%q must listen on loopback (127.0.0.1 or [::1]): it would serve the LAN without a log-in", v)
		return def
	}
	return v
}

// Duration returns the variable as a positive Go duration ("90s", "12h"), or def.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.fail(name, "%q is not a positive duration such as 30s or 12h", v)
		return def
	}
	return d
}

// Int returns the variable as an integer in [min, max], or def.
func (e *Env) Int(name string, def, min, max int) int {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		e.fail(name, "%q is not a whole number from %d to %d", v, min, max)
		return def
	}
	return n
}

// Bool returns the variable as a boolean (true/false/1/0), or def.
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.fail(name, "%q is not true or false", v)
		return def
	}
	return b
}

// Err returns every problem found so far, joined, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %w", errors.Join(e.errs...))
}

// Common is the configuration every binary shares.
type Common struct {
	// DataDir holds the database and the file providers' output.
	DataDir string
	// DB is the database file.
	DB string
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// ImportLease is how long an import's claim lasts without renewal
	// before another process takes the job over (crm-web and crmctl).
	ImportLease time.Duration
	// DataMarker is a file outside the data folder that says the
	// appliance has data (store.Options.Marker); empty under make run.
	DataMarker string
}

// ReadCommon reads PICRM_DATA_DIR, PICRM_DB, PICRM_LOG_LEVEL,
// PICRM_IMPORT_LEASE and PICRM_DATA_MARKER. The data
// folder defaults to systemd's $STATE_DIRECTORY when the unit sets
// StateDirectory=, else to ./var, so `make run` needs no configuration.
func ReadCommon(e *Env) Common {
	def := "./var"
	if sd, ok := e.lookup("STATE_DIRECTORY"); ok && sd != "" {
		// systemd may pass several, colon-separated; the first is ours.
		def = strings.Split(sd, ":")[0]
	}
	c := Common{DataDir: e.Path("PICRM_DATA_DIR", def)}
	c.DB = e.Path("PICRM_DB", filepath.Join(c.DataDir, "pi-crm.db"))
	c.LogLevel = e.String("PICRM_LOG_LEVEL", "info")
	c.ImportLease = e.Duration("PICRM_IMPORT_LEASE", 30*time.Second)
	c.DataMarker = e.String("PICRM_DATA_MARKER", "")
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		e.fail("PICRM_LOG_LEVEL", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	return c
}
