// Package e2e starts the real binaries, built once per test run, against a
// temporary database, the way systemd and an operator would.
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/pkg/auth"
)

var binDir string

func TestMain(m *testing.M) {
	if p := os.Getenv("PICRM_E2E_WRITER"); p != "" {
		os.Exit(runWriter(p))
	}
	dir, err := os.MkdirTemp("", "picrm-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	cmd := exec.Command("go", "build", "-o", dir+"/", "../../cmd/crm-web", "../../cmd/crm-sender", "../../cmd/crm-insights", "../../cmd/crm-health", "../../cmd/crmctl")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build binaries: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a temporary appliance: a data folder and the variables that point
// every binary at it, with every port chosen by the kernel.
type env struct {
	t    *testing.T
	dir  string
	vars []string
	// webMetrics is the metrics address the last crm-web started logged.
	webMetrics string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, vars: []string{
		"PICRM_DATA_DIR=" + dir,
		"PICRM_HTTP_ADDR=127.0.0.1:0",
		"PICRM_WEB_METRICS_ADDR=127.0.0.1:0",
		"PICRM_SENDER_METRICS_ADDR=127.0.0.1:0",
		"PICRM_INSIGHTS_METRICS_ADDR=127.0.0.1:0",
		"PICRM_HEALTH_ADDR=127.0.0.1:0",
		"PICRM_BCRYPT_COST=4",
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
	}}
	return e
}

func (e *env) cmd(name string, args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(binDir, name), args...)
	c.Env = append([]string(nil), e.vars...)
	return c
}

// ctl runs crmctl with stdin and returns stdout, failing the test on error.
func (e *env) ctl(stdin string, args ...string) string {
	e.t.Helper()
	c := e.cmd("crmctl", args...)
	c.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		e.t.Fatalf("crmctl %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

func apptestActor(u auth.User) auth.Actor {
	return u.Actor("")
}
