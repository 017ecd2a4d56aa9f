package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/testrig"
	"github.com/pi-crm/pi-crm/migrations"
	"github.com/pi-crm/pi-crm/pkg/store"
)

var daemons = []string{"crm-web", "crm-sender", "crm-insights", "crm-health"}

// TestDaemonsTalkToSystemd starts each daemon the way systemd does, with
// NOTIFY_SOCKET and WATCHDOG_USEC, and checks READY=1, WATCHDOG=1 at half the
// watchdog interval, and STOPPING=1 then a clean exit on SIGTERM within 5 s.
func TestDaemonsTalkToSystemd(t *testing.T) {
	for _, d := range daemons {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.ctl("", "migrate")
			ns := testrig.NewNotifySocket(t)
			const watchdog = 400 * time.Millisecond
			c := e.cmd(d)
			c.Env = append(c.Env, "NOTIFY_SOCKET="+ns.Path, fmt.Sprintf("WATCHDOG_USEC=%d", watchdog.Microseconds()))
			start := time.Now()
			logs := testrig.Start(t, c)
			ready := ns.WaitFor(t, "READY=1", 5*time.Second)
			t.Logf("%s READY after %v", d, ready.Sub(start))
			var beats []time.Time
			for len(beats) < 5 {
				beats = append(beats, ns.WaitFor(t, "WATCHDOG=1", watchdog))
			}
			mean := beats[len(beats)-1].Sub(beats[0]) / time.Duration(len(beats)-1)
			if mean < watchdog/4 || mean > watchdog*3/4 {
				t.Fatalf("WATCHDOG=1 every %v on average, want about %v (half of WatchdogSec)", mean, watchdog/2)
			}
			if err := c.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			termAt := time.Now()
			ns.WaitFor(t, "STOPPING=1", 5*time.Second)
			done := make(chan error, 1)
			go func() { done <- c.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
				}
			case <-time.After(5*time.Second - time.Since(termAt)):
				t.Fatalf("still running 5 s after SIGTERM\n%s", logs.String())
			}
		})
	}
}

func setSchemaVersion(t *testing.T, path string, v int) {
	t.Helper()
	db, err := store.Open(path, store.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Write(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.ExecuteTransient(conn, fmt.Sprintf("PRAGMA user_version = %d", v), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDaemonsRefuseOtherSchema: a daemon built for another schema version
// than the database's exits non-zero with a message that says what to do.
func TestDaemonsRefuseOtherSchema(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version int
		want    string
	}{
		{"DatabaseNewer", migrations.Version() + 1, "install the"},
		{"DatabaseOlder", 0, "crmctl migrate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.ctl("", "migrate")
			setSchemaVersion(t, e.dir+"/pi-crm.db", tc.version)
			for _, d := range daemons {
				if d == "crm-web" && tc.version < migrations.Version() {
					continue // crm-web migrates an older database itself
				}
				out, err := runFor(e.cmd(d), 10*time.Second)
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() == 0 {
					t.Fatalf("%s against schema %d: err=%v, want a non-zero exit\n%s", d, tc.version, err, out)
				}
				if !strings.Contains(out, "schema version") || !strings.Contains(out, tc.want) {
					t.Fatalf("%s output does not explain the schema mismatch (%q):\n%s", d, tc.want, out)
				}
			}
		})
	}
}

// TestConfigErrorsNameTheVariable: a malformed variable stops each binary
// with a message naming it.
func TestConfigErrorsNameTheVariable(t *testing.T) {
	cases := map[string]string{
		"crm-web":      "PICRM_HTTP_ADDR",
		"crm-sender":   "PICRM_SENDER_METRICS_ADDR",
		"crm-insights": "PICRM_INSIGHTS_METRICS_ADDR",
		"crm-health":   "PICRM_HEALTH_ADDR",
	}
	for d, v := range cases {
		e := newEnv(t)
		c := e.cmd(d)
		c.Env = append(c.Env, v+"=not-an-address")
		out, err := runFor(c, 10*time.Second)
		if err == nil || !strings.Contains(out, v) {
			t.Errorf("%s with bad %s: err=%v output=%q, want a failure naming the variable", d, v, err, out)
		}
	}
	// The profiler never faces the LAN.
	for _, addr := range []string{"0.0.0.0:6060", "192.168.1.20:6060", ":6060"} {
		e := newEnv(t)
		c := e.cmd("crm-web")
		c.Env = append(c.Env, "PICRM_PPROF_ADDR="+addr)
		out, err := runFor(c, 10*time.Second)
		if err == nil || !strings.Contains(out, "PICRM_PPROF_ADDR") || !strings.Contains(out, "loopback") {
			t.Errorf("PICRM_PPROF_ADDR=%s: err=%v output=%q, want a refusal asking for loopback", addr, err, out)
		}
	}
	e := newEnv(t)
	c := e.cmd("crm-web")
	c.Env = append(c.Env, "PICRM_SESSION_IDLE=forever", "PICRM_DB=")
	out, err := runFor(c, 10*time.Second)
	if err == nil || !strings.Contains(out, "PICRM_SESSION_IDLE") || !strings.Contains(out, "PICRM_DB") {
		t.Errorf("two bad variables: output=%q, want both named", out)
	}
}

func runFor(c *exec.Cmd, d time.Duration) (string, error) {
	var b strings.Builder
	c.Stdout, c.Stderr = &b, &b
	if err := c.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return b.String(), err
	case <-time.After(d):
		_ = c.Process.Kill()
		<-done
		return b.String(), fmt.Errorf("still running after %v", d)
	}
}

// TestSocketActivation hands crm-web a listening socket as systemd does
// (fd 3, LISTEN_FDS, LISTEN_PID) and expects it to serve on it.
func TestSocketActivation(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	// LISTEN_PID must be crm-web's own pid: a shell sets it, then execs.
	c := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0"`, binDir+"/crm-web")
	c.Env = append(e.vars, "LISTEN_FDS=1", "PICRM_HTTP_ADDR=127.0.0.1:1")
	c.ExtraFiles = []*os.File{f}
	logs := testrig.Start(t, c)
	f.Close()
	url := "http://" + ln.Addr().String() + "/healthz"
	var resp *http.Response
	for i := 0; i < 100; i++ {
		if resp, err = http.Get(url); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("crm-web does not serve on the passed socket: %v\n%s", err, logs.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !regexp.MustCompile(`"schema_version":\d+`).Match(body) || !strings.Contains(string(body), `"version"`) {
		t.Fatalf("/healthz: %d %s", resp.StatusCode, body)
	}
}
