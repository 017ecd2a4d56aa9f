package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/smtptest"
	"github.com/pi-crm/pi-crm/internal/testfs"
	"github.com/pi-crm/pi-crm/internal/testrig"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// healthCheck runs `crm-health check` and returns its table and exit code.
func healthCheck(t *testing.T, e *env) (string, int) {
	t.Helper()
	out, err := e.cmd("crm-health", "check").CombinedOutput()
	code := 0
	if ee, ok := err.(interface{ ExitCode() int }); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// checkMetric returns picrm_check_ok{check=name} from the daemon, or "".
func checkMetric(addr, name string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^picrm_check_ok\{check="` + name + `"\} (\S+)$`).FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// TestHealthTurnsRed breaks the appliance three ways (a stale backup, a full
// backup volume, a dead daemon) and checks that each turns its check red in
// the metrics and in `crm-health check`'s exit code, and mails exactly one
// alert to a real SMTP server, even as the checks keep running.
func TestHealthTurnsRed(t *testing.T) {
	smtpSrv := smtptest.Start(t)
	e := newEnv(t)
	backupVol := testfs.Tmpfs(t, "4m")
	healthAddr := fmt.Sprintf("127.0.0.1:%d", testrig.FreePort(t))
	e.vars = append(e.vars,
		"PICRM_BACKUP_DIR="+backupVol,
		"PICRM_HEALTH_ADDR="+healthAddr,
		"PICRM_HEALTH_INTERVAL=250ms",
		"PICRM_HEALTH_DAEMONS=crm-sender",
		"PICRM_HEALTH_UNITS=crm-web.service", // skipped: no systemd here
		"PICRM_HEALTH_MAX_HEARTBEAT_AGE=2s",
		"PICRM_ALERT_SMTP_ADDR="+smtpSrv.Addr,
		"PICRM_ALERT_SMTP_INSECURE=true",
		"PICRM_ALERT_FROM=pi@example.com",
		"PICRM_ALERT_TO=andy@example.com",

		"PICRM_HEARTBEAT_EVERY=300ms",
	)
	e.ctl("", "migrate")
	if out := e.ctl("", "backup", "snapshot"); !strings.Contains(out, "snapshot pi-crm-") {
		t.Fatalf("backup snapshot said %q", out)
	}
	sender := e.cmd("crm-sender")
	testrig.Start(t, sender)
	testrig.Start(t, e.cmd("crm-health"))

	waitMetric := func(t *testing.T, name, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for checkMetric(healthAddr, name) != want {
			if time.Now().After(deadline) {
				t.Fatalf("picrm_check_ok{check=%q} = %q, want %s", name, checkMetric(healthAddr, name), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, c := range []string{"db_quick_check", "wal_size", "disk_data", "disk_backup", "backup_age", "heartbeat_sender"} {
		waitMetric(t, c, "1")
	}
	if out, code := healthCheck(t, e); code != 0 {
		t.Fatalf("healthy appliance: exit %d\n%s", code, out)
	}
	if n := len(smtpSrv.Messages()); n != 0 {
		t.Fatalf("%d alerts while healthy", n)
	}

	db, err := store.Open(filepath.Join(e.dir, "pi-crm.db"), store.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	scenarios := []struct {
		name, check string
		breakIt     func(t *testing.T)
	}{
		{"StaleBackup", "backup_age", func(t *testing.T) {
			old := store.FormatTime(time.Now().Add(-72 * time.Hour))
			if err := db.Write(context.Background(), func(conn *sqlite.Conn) error {
				return sqlitex.Execute(conn, "UPDATE backup_runs SET finished_at = ?", &sqlitex.ExecOptions{Args: []any{old}})
			}); err != nil {
				t.Fatal(err)
			}
		}},
		{"FullDisk", "disk_backup", func(t *testing.T) {
			f, err := os.Create(filepath.Join(backupVol, "filler"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 64<<10)
			for { // until the volume is full
				if _, err := f.Write(buf); err != nil {
					if !strings.Contains(err.Error(), "no space") {
						t.Fatal(err)
					}
					return
				}
			}
		}},
		{"DeadHeartbeat", "heartbeat_sender", func(t *testing.T) {
			sender.Process.Kill()
		}},
	}
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			sc.breakIt(t)
			waitMetric(t, sc.check, "0")
			out, code := healthCheck(t, e)
			if code != 1 || !regexp.MustCompile(`(?m)^`+sc.check+`\s+FAIL`).MatchString(out) {
				t.Fatalf("crm-health check: exit %d\n%s", code, out)
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(smtpSrv.Messages()) < i+1 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(1500 * time.Millisecond) // six more check rounds
			msgs := smtpSrv.Messages()
			if len(msgs) != i+1 {
				var subj []string
				for _, m := range msgs {
					subj = append(subj, m.Subject)
				}
				t.Fatalf("%d alert mails after %s, want %d: %q", len(msgs), sc.name, i+1, subj)
			}
			m := msgs[i]
			if !strings.Contains(m.Subject, sc.check+" failing") || m.To[0] != "andy@example.com" {
				t.Fatalf("alert %q to %v", m.Subject, m.To)
			}
			t.Logf("alert: %s", m.Subject)
		})
	}
}
