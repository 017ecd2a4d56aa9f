package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/testrig"
)

// TestArm64WebAnswersUnderQemu builds crm-web for the Pi (linux/arm64,
// CGO_ENABLED=0) and runs it under qemu-user: it migrates a fresh database
// and answers /healthz.
func TestArm64WebAnswersUnderQemu(t *testing.T) {
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		t.Fatal("qemu-aarch64-static is missing: install Debian's qemu-user-static (.ci/run does)")
	}
	bin := filepath.Join(t.TempDir(), "crm-web")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, testrig.RepoFile("cmd/crm-web"))
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build arm64 crm-web: %v\n%s", err, out)
	}
	if out, _ := exec.Command("file", bin).Output(); len(out) > 0 {
		t.Logf("%s", out)
	}
	e := newEnv(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testrig.FreePort(t))
	c := exec.Command(qemu, bin)
	c.Env = append(append([]string(nil), e.vars...), "PICRM_HTTP_ADDR="+addr)
	p := testrig.Start(t, c)
	deadline := time.Now().Add(60 * time.Second) // emulation is slow
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			var h struct{ Status, DB string }
			json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if resp.StatusCode == 200 && h.Status == "ok" && h.DB == "ok" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("arm64 crm-web under qemu did not answer /healthz: %v\n%s", err, p)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("stop: %v\n%s", err, p)
	}
}
