package e2e

import (
	"bufio"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMetrics scrapes every daemon's /metrics: picrm_ metrics plus the Go
// and process collectors.
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.ctl("", "migrate")
	scrape := func(t *testing.T, url string, want ...string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, w := range append(want, "go_goroutines", "process_resident_memory_bytes", "picrm_build_info{") {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %s", url, w)
			}
		}
	}
	base := startWeb(t, e)
	if resp, err := http.Get(base + "/login"); err == nil {
		resp.Body.Close()
	}
	// The LAN port does not serve /metrics: it would need no log-in.
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics on the app port: status=%d, want 404", resp.StatusCode)
	}
	scrape(t, "http://"+e.webMetrics+"/metrics", `picrm_http_requests_total{code="200",method="GET",route="/login"}`, "picrm_http_request_duration_seconds")
	for _, d := range []string{"crm-sender", "crm-insights", "crm-health"} {
		c := e.cmd(d)
		stderr, _ := c.StderrPipe()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
		addr := ""
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`metrics=(\S+)`)
		deadline := time.Now().Add(10 * time.Second)
		for addr == "" && time.Now().Before(deadline) && sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr = m[1]
			}
		}
		go func() { _, _ = io.Copy(io.Discard, stderr) }()
		if addr == "" {
			t.Fatalf("%s logged no metrics address", d)
		}
		time.Sleep(1200 * time.Millisecond) // one loop pass
		scrape(t, "http://"+addr+"/metrics", `picrm_loop_runs_total{job="heartbeat",result="ok"}`, `binary="`+d+`"`)
	}
}
