package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/smtptest"
	"github.com/pi-crm/pi-crm/internal/testrig"
)

// TestMissingDataVolumeFailsClosed: an appliance whose marker says it has
// data, started without its database (the encrypted volume did not mount),
// creates nothing: crm-web, crm-sender and crmctl refuse with a message
// that says what to check, while crm-health stays up without a database,
// reports data_volume failing, mails one alert, and gives way when the
// database is back.
func TestMissingDataVolumeFailsClosed(t *testing.T) {
	smtpSrv := smtptest.Start(t)
	e := newEnv(t)
	marker := filepath.Join(t.TempDir(), "data-marker") // outside the data folder, as /etc/pi-crm/data-marker
	if err := os.WriteFile(marker, []byte("this appliance keeps its data in "+e.dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	healthAddr := fmt.Sprintf("127.0.0.1:%d", testrig.FreePort(t))
	e.vars = append(e.vars, "PICRM_DATA_MARKER="+marker, "PICRM_HEALTH_ADDR="+healthAddr, "PICRM_HEALTH_INTERVAL=200ms",
		"PICRM_ALERT_SMTP_ADDR="+smtpSrv.Addr, "PICRM_ALERT_SMTP_INSECURE=true", "PICRM_ALERT_FROM=pi@example.com", "PICRM_ALERT_TO=andy@example.com")
	db := filepath.Join(e.dir, "pi-crm.db")
	for _, args := range [][]string{{"crm-web"}, {"crm-sender"}, {"crmctl", "migrate"}, {"crmctl", "demo"}} {
		out, err := runFor(e.cmd(args[0], args[1:]...), 10*time.Second)
		if err == nil || !strings.Contains(out, "is the encrypted data volume mounted") {
			t.Errorf("%v without its database: err=%v, output %q; want a refusal saying what to check", args, err, out)
		}
		if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v created %s", args, db)
		}
	}
	if out, code := healthCheck(t, e); code != 1 || !strings.Contains(out, "data_volume  FAIL") {
		t.Fatalf("crm-health check without the database: exit %d\n%s", code, out)
	}
	health := e.cmd("crm-health")
	logs := testrig.Start(t, health)
	deadline := time.Now().Add(10 * time.Second)
	for checkMetric(healthAddr, "data_volume") != "0" || len(smtpSrv.Messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("crm-health: data_volume=%q, %d alerts; want 0 and one mail\n%s", checkMetric(healthAddr, "data_volume"), len(smtpSrv.Messages()), logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // several more rounds
	if n := len(smtpSrv.Messages()); n != 1 {
		t.Fatalf("%d alert mails, want exactly 1", n)
	}
	if m := smtpSrv.Messages()[0]; !strings.Contains(m.Subject+m.Body, "data_volume") {
		t.Fatalf("the alert does not name the check:\n%s\n%s", m.Subject, m.Body)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("crm-health created the database")
	}
	// The volume is back (here: a restored database): crm-health exits for
	// systemd to start it again in its normal loop.
	migrate := e.cmd("crmctl", "migrate")
	migrate.Env = migrate.Env[:0] // as a restore does: it may create the file
	for _, v := range e.vars {
		if !strings.HasPrefix(v, "PICRM_DATA_MARKER=") {
			migrate.Env = append(migrate.Env, v)
		}
	}
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	done := make(chan error, 1)
	go func() { done <- health.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("crm-health exited 0 when the database came back; want 1, so that systemd restarts it")
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("crm-health did not give way when the database came back\n%s", logs)
	}
}
