// Package bench measures the appliance's figures against the real binaries
// and prints them as `BENCH <name> <value> <unit>` lines. It runs only under
// `make bench` (PICRM_BENCH=1), never in `make test`: targets live here, not
// in timed unit tests.
package bench

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/testrig"
)

type bench struct {
	t    *testing.T
	bin  string
	dir  string
	only string
	vars []string
	runs int // daemons started, which names their profiles
}

// benchOnly skips t outside `make bench` and returns whether a figure
// is asked for (`make bench ONLY=<prefix>` sets PICRM_BENCH_ONLY).
func benchOnly(t *testing.T) func(name string) bool {
	t.Helper()
	if os.Getenv("PICRM_BENCH") == "" {
		t.Skip("benchmarks run with `make bench`")
	}
	only := os.Getenv("PICRM_BENCH_ONLY")
	return func(n string) bool { return wanted(n, only) }
}

// wanted reports whether a figure name, or a family of them (a prefix
// such as "outbox_" that gates the work they share), is asked for by only:
// the figure starts with it, or it names a figure of the family
// (ONLY=outbox_enqueue_10k_ms runs the sender's work, gated on "outbox_").
func wanted(name, only string) bool {
	return strings.HasPrefix(name, only) || strings.HasPrefix(only, name)
}

func (b *bench) want(name string) bool { return wanted(name, b.only) }

func (b *bench) report(name string, v float64, unit string) {
	if v != 0 && v < 1 && v > -1 {
		fmt.Printf("BENCH %s %.3f %s\n", name, v, unit) // a fraction keeps its digits
		return
	}
	fmt.Printf("BENCH %s %.1f %s\n", name, v, unit)
}

func (b *bench) cmd(name string, extra ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(b.bin, name))
	c.Env = append(append([]string(nil), b.vars...), extra...)
	if d := os.Getenv("PICRM_BENCH_PROFILE"); d != "" {
		b.runs++
		c.Env = append(c.Env, fmt.Sprintf("PICRM_CPUPROFILE=%s/%s-%d.prof", d, name, b.runs))
	}
	return c
}

func TestBench(t *testing.T) {
	benchOnly(t)
	bin := os.Getenv("PICRM_BIN_DIR")
	if bin == "" {
		t.Fatal("PICRM_BIN_DIR must name the folder of built binaries (make bench sets it)")
	}
	dir := t.TempDir()
	b := &bench{t: t, bin: bin, dir: dir, only: os.Getenv("PICRM_BENCH_ONLY"), vars: []string{
		"PICRM_DATA_DIR=" + dir, "PICRM_HTTP_ADDR=127.0.0.1:0", "PICRM_WEB_METRICS_ADDR=127.0.0.1:0", "PICRM_SENDER_METRICS_ADDR=127.0.0.1:0",
		"PICRM_INSIGHTS_METRICS_ADDR=127.0.0.1:0", "PICRM_HEALTH_ADDR=127.0.0.1:0", "PICRM_LOG_LEVEL=warn",
		"PICRM_API_RATE=10000", "PICRM_API_BURST=10000",
	}}
	if a := os.Getenv("PICRM_BENCH_PPROF"); a != "" {
		b.vars = append(b.vars, "PICRM_PPROF_ADDR="+a)
	}
	demo := exec.Command(filepath.Join(bin, "crmctl"), "demo", "--bare")
	demo.Env = b.vars
	if out, err := demo.CombinedOutput(); err != nil {
		t.Fatalf("crmctl demo: %v\n%s", err, out)
	}
	if b.want("web_ready") {
		b.webReady()
	}
	if b.want("web_idle") || b.want("sender_idle") || b.want("insights_idle") || b.want("health_idle") {
		b.idleRSS()
	}
	if b.want("login_page") {
		b.latency()
	}
	if b.want("jobs_") {
		b.jobs()
	}
	if b.want("template_preview") {
		b.templates()
	}
	if b.want("ai_job_pickup") {
		b.aiPickup()
	}
	if b.want("campaign_") || b.want("campaign_page") || b.want("campaign_enqueue") || b.want("drip_") {
		b.campaigns()
	}
	if b.want("outbox_") || b.want("sender_smtp") || b.want("sender_cpu") || b.want("sender_rss") || b.want("sender_kinstr") || b.want("sender_file") {
		b.sender()
	}
	if b.want("sender_campaign") {
		b.campaignSend()
	}
}

func stop(c *exec.Cmd) {
	_ = c.Process.Signal(syscall.SIGTERM)
	_ = c.Wait()
}

// webReady: exec to READY=1, median of 7 starts on a migrated database.
func (b *bench) webReady() {
	var ms []float64
	for range 7 {
		ns := testrig.NewNotifySocket(b.t)
		c := b.cmd("crm-web", "NOTIFY_SOCKET="+ns.Path)
		start := time.Now()
		if err := c.Start(); err != nil {
			b.t.Fatal(err)
		}
		if !ready(ns) {
			b.t.Fatal("crm-web sent no READY=1")
		}
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		stop(c)
	}
	slices.Sort(ms)
	b.report("web_ready_ms", ms[len(ms)/2], "ms")
}

// rssMB is process pid's resident set in MB, -1 when it cannot be read.
func rssMB(pid int) float64 { return statusMB(pid, "VmRSS:") }

// statusMB is the field of process pid's /proc status (a size in kB, such
// as "VmRSS:" or "VmHWM:") in MB, -1 when it cannot be read.
func statusMB(pid int, field string) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	return -1
}

// idleRSS starts all four daemons, lets them idle for 5 s (several loop
// passes and a heartbeat), and reads each one's resident set.
func (b *bench) idleRSS() {
	names := map[string]string{"crm-web": "web_idle_rss_mb", "crm-sender": "sender_idle_rss_mb", "crm-insights": "insights_idle_rss_mb", "crm-health": "health_idle_rss_mb"}
	cmds := map[string]*exec.Cmd{}
	for _, d := range []string{"crm-web", "crm-sender", "crm-insights", "crm-health"} {
		ns := testrig.NewNotifySocket(b.t)
		extra := []string{"NOTIFY_SOCKET=" + ns.Path}
		if d == "crm-insights" {
			// With a model configured, as on a Pi that uses the AI: its job
			// runner watches for drafts (nothing listens at the URL; no
			// draft is asked for while it idles).
			extra = append(extra, "PICRM_AI_MODEL=idle-model", "PICRM_AI_BASE_URL=http://127.0.0.1:9/v1")
		}
		c := b.cmd(d, extra...)
		if err := c.Start(); err != nil {
			b.t.Fatal(err)
		}
		defer stop(c)
		if !ready(ns) {
			b.t.Fatalf("%s sent no READY=1", d)
		}
		cmds[d] = c
	}
	time.Sleep(5 * time.Second)
	for _, d := range []string{"crm-web", "crm-sender", "crm-insights", "crm-health"} {
		if b.want(names[d]) {
			b.report(names[d], rssMB(cmds[d].Process.Pid), "MB")
		}
	}
}

// latency runs 16 concurrent clients for 10 s against one page and reports
// the 99th percentile.
func (b *bench) latency() {
	base, web := startWeb(b.t, b.bin, b.vars)
	defer web.Stop(10 * time.Second)
	transport := &http.Transport{MaxIdleConnsPerHost: 32}
	if b.want("login_page_p99_ms") {
		b.report("login_page_p99_ms", p99(b.t, 16, 10*time.Second, func() *http.Client {
			return &http.Client{Transport: transport}
		}, base+"/login"), "ms")
	}
}

// p99 makes n clients (each made by mk) fetch target for d, following the
// redirect from / to the dashboard, and returns the 99th percentile in ms.
func p99(t *testing.T, n int, d time.Duration, mk func() *http.Client, target string) float64 {
	_, v := percentiles(t, n, d, mk, target)
	return v
}

// percentiles is p99 that also returns the median.
func percentiles(t *testing.T, n int, d time.Duration, mk func() *http.Client, target string) (p50, p99 float64) {
	clients := make([]*http.Client, n)
	for i := range clients {
		clients[i] = mk()
	}
	// Resolve the final URL once so every request is the page itself.
	resp, err := clients[0].Get(target)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d", target, resp.StatusCode)
	}
	final := resp.Request.URL.String()
	var (
		mu   sync.Mutex
		lats []float64
		wg   sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []float64
			for time.Now().Before(deadline) {
				start := time.Now()
				resp, err := cl.Get(final)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s: status %d", final, resp.StatusCode)
					return
				}
				mine = append(mine, float64(time.Since(start).Microseconds())/1000)
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(lats) == 0 {
		t.Fatal("no requests completed")
	}
	return testrig.Percentile(lats, 0.5), testrig.Percentile(lats, 0.99)
}

// ready waits up to 10 s for READY=1 on ns.
func ready(ns *testrig.NotifySocket) bool {
	_, ok := ns.Await("READY=1", 10*time.Second)
	return ok
}

// runPeak runs c and returns its output (stdout and stderr) and its peak
// RSS in MB, read from VmHWM every 20 ms while it runs: rusage's maxrss of
// a child counts the parent's pages it shared between fork and exec,
// which here is the test process's, gigabytes after the contacts bench.
func runPeak(c *exec.Cmd) (string, float64, error) {
	var out strings.Builder
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		return "", 0, err
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	peak := 0.0
	for {
		peak = max(peak, statusMB(c.Process.Pid, "VmHWM:"))
		select {
		case err := <-done:
			return out.String(), peak, err
		case <-time.After(20 * time.Millisecond):
		}
	}
}
