package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestBenchInsights fills Andy's Loan Factory with 100,000 contacts and
// 1,000,000 log entries (crmctl demo) and times a full insights run over
// every workspace (crmctl insights, the engine crm-insights runs hourly):
// insights_run_s, and the process's peak RSS, insights_run_peak_rss_mb.
func TestBenchInsights(t *testing.T) {
	want := benchOnly(t)
	if !want("insights_run") {
		return
	}
	bin, dir := os.Getenv("PICRM_BIN_DIR"), t.TempDir()
	b := &bench{t: t, bin: bin, dir: dir, vars: []string{"PICRM_DATA_DIR=" + dir, "PICRM_LOG_LEVEL=warn"}}
	demo := exec.Command(filepath.Join(bin, "crmctl"), "demo", "--bare", "--contacts", "100000", "--activities", "1000000")
	demo.Env = b.vars
	if out, err := demo.CombinedOutput(); err != nil {
		t.Fatalf("crmctl demo: %v\n%s", err, out)
	}
	var slowest time.Duration
	var peak float64
	for range 3 { // the second and third see the first one's rows: the steady state
		c := exec.Command(filepath.Join(bin, "crmctl"), "insights")
		c.Env = b.vars
		start := time.Now()
		out, rss, err := runPeak(c)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("crmctl insights: %v\n%s", err, out)
		}
		t.Logf("%s in %v", out, took)
		slowest = max(slowest, took)
		peak = max(peak, rss)
	}
	b.report("insights_run_s", slowest.Seconds(), "s")
	b.report("insights_run_peak_rss_mb", peak, "MB")
}
