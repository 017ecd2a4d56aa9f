package bench

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/testrig"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// TestBenchContacts fills one workspace with 100,000 contacts and 1,000,000
// log entries (crmctl demo) and measures the contact pages under 8 clients.
func TestBenchContacts(t *testing.T) {
	want := benchOnly(t)
	if !want("contacts_list_p99_ms") && !want("contacts_search_p99_ms") && !want("contact_detail_p99_ms") && !want("web_rss_mb_under_load") && !want("dashboard_") {
		return
	}
	bin := os.Getenv("PICRM_BIN_DIR")
	dir := t.TempDir()
	b := &bench{t: t, bin: bin, dir: dir, only: os.Getenv("PICRM_BENCH_ONLY"), vars: []string{
		"PICRM_DATA_DIR=" + dir, "PICRM_HTTP_ADDR=127.0.0.1:0", "PICRM_WEB_METRICS_ADDR=127.0.0.1:0", "PICRM_LOG_LEVEL=info",
	}}
	if a := os.Getenv("PICRM_BENCH_PPROF"); a != "" {
		b.vars = append(b.vars, "PICRM_PPROF_ADDR="+a)
	}
	demo := exec.Command(filepath.Join(bin, "crmctl"), "demo", "--bare", "--contacts", "100000", "--activities", "1000000")
	demo.Env = b.vars
	if out, err := demo.CombinedOutput(); err != nil {
		t.Fatalf("crmctl demo: %v\n%s", err, out)
	}
	wsID, busy := ids(t, filepath.Join(dir, "pi-crm.db"))

	base, web := startWeb(t, b.bin, b.vars)
	defer web.Stop(10 * time.Second)
	logins, _ := os.ReadFile(filepath.Join(dir, "demo-logins.txt"))
	f := strings.Fields(strings.Split(string(logins), "\n")[0])
	transport := &http.Transport{MaxIdleConnsPerHost: 16}
	mk := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		cl := &http.Client{Transport: transport, Jar: jar}
		req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{"email": {f[1]}, "password": {f[2]}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return cl
	}
	// RSS is sampled all through the load.
	var maxRSS atomic.Int64
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
				if v := int64(rssMB(web.Cmd.Process.Pid) * 1024); v > maxRSS.Load() {
					maxRSS.Store(v)
				}
			}
		}
	}()

	stages := regexp.MustCompile(`All stages</option>\s*<option value="([0-9a-f-]{36})"`)
	cl := mk()
	first := base + "/w/" + wsID + "/contacts"
	page := get(t, cl, first, nil)
	stage := stages.FindStringSubmatch(page)[1]
	first += "?stage=" + stage
	deep := first
	more := regexp.MustCompile(`href="([^"]*after=[^"]*)"`)
	for range 40 {
		m := more.FindStringSubmatch(get(t, cl, deep, nil))
		if m == nil {
			t.Fatal("no next page link")
		}
		deep = base + html.UnescapeString(m[1])
	}
	// The three loads always run: the RSS figure is taken under them.
	var urls []string
	for _, q := range []string{"ngu", "tra", "lin", "bao", "emi", "kea", "smi", "liam gar", "8085550", "olivia.k"} {
		urls = append(urls, base+"/w/"+wsID+"/contacts?q="+url.QueryEscape(q))
	}
	figures := []struct {
		name string
		urls []string
		h    http.Header
	}{
		{"contacts_list_p99_ms", []string{first, deep}, nil},
		{"contacts_search_p99_ms", urls, http.Header{"HX-Request": {"true"}, "HX-Target": {"contact-rows"}}},
		{"contact_detail_p99_ms", []string{base + "/w/" + wsID + "/contacts/" + busy}, nil},
	}
	for _, f := range figures {
		p99 := load(t, 8, 10*time.Second, mk, f.urls, f.h)
		if want(f.name) {
			b.report(f.name, p99, "ms")
		}
	}
	if want("dashboard_") {
		dashboardLoad(t, b, mk, base, wsID)
	}
	close(done)
	if want("web_rss_mb_under_load") {
		b.report("web_rss_mb_under_load", float64(maxRSS.Load())/1024, "MB")
	}
}

var widgetLink = regexp.MustCompile(`hx-get="([^"]+/widgets/[^"]+)"`)

// dashboardLoad measures the dashboard on the filled workspace under 8
// clients: dashboard_p99_ms is the whole page as a browser loads it (the
// page, then its widgets at once), dashboard_widget_p99_ms the slowest
// widget's own p99, each widget loaded alone.
func dashboardLoad(t *testing.T, b *bench, mk func() *http.Client, base, wsID string) {
	page := base + "/w/" + wsID
	cl := mk()
	var widgets []string
	for _, m := range widgetLink.FindAllStringSubmatch(get(t, cl, page, nil), -1) {
		widgets = append(widgets, base+html.UnescapeString(m[1]))
	}
	if len(widgets) != 8 {
		t.Fatalf("the dashboard asks for %d widgets, want 8", len(widgets))
	}
	hx := http.Header{"HX-Request": {"true"}}
	whole := loadEach(8, 10*time.Second, mk, func(c *http.Client, _ int) {
		get(t, c, page, nil)
		var all sync.WaitGroup
		for _, w := range widgets {
			all.Add(1)
			go func() { defer all.Done(); get(t, c, w, hx) }()
		}
		all.Wait()
	})
	if b.want("dashboard_p99_ms") {
		b.report("dashboard_p99_ms", whole, "ms")
	}
	if !b.want("dashboard_widget") {
		return
	}
	worst, name := 0.0, ""
	for _, w := range widgets {
		p := load(t, 8, 3*time.Second, mk, []string{w}, hx)
		t.Logf("widget %s p99 %.1f ms", w[strings.LastIndex(w, "/")+1:], p)
		if p > worst {
			worst, name = p, w[strings.LastIndex(w, "/")+1:]
		}
	}
	t.Logf("slowest widget: %s", name)
	b.report("dashboard_widget_p99_ms", worst, "ms")
}

// ids returns the filled workspace and its contact with the most log entries.
func ids(t *testing.T, path string) (ws, busy string) {
	db, err := store.Open(path, store.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT workspace_id, contact_id FROM activities GROUP BY contact_id ORDER BY count(*) DESC LIMIT 1`, &sqlitex.ExecOptions{
			ResultFunc: func(stmt *sqlite.Stmt) error { ws, busy = stmt.ColumnText(0), stmt.ColumnText(1); return nil }})
	})
	if err != nil {
		t.Fatal(err)
	}
	return ws, busy
}

func get(t *testing.T, cl *http.Client, u string, h http.Header) string {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return string(body)
}

// load runs n clients over urls (round robin) for d and returns the p99 in ms.
func load(t *testing.T, n int, d time.Duration, mk func() *http.Client, urls []string, h http.Header) float64 {
	return loadEach(n, d, mk, func(cl *http.Client, k int) { get(t, cl, urls[k%len(urls)], h) })
}

// loadEach runs n clients (each made by mk) for d, each doing one(its
// client, its k-th turn) over and over, and returns the 99th percentile
// of a turn in ms.
func loadEach(n int, d time.Duration, mk func() *http.Client, one func(cl *http.Client, k int)) float64 {
	var (
		mu   sync.Mutex
		lats []float64
		wg   sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	for i := range n {
		cl := mk()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []float64
			for k := i; time.Now().Before(deadline); k++ {
				start := time.Now()
				one(cl, k)
				mine = append(mine, float64(time.Since(start).Microseconds())/1000)
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return testrig.Percentile(lats, 0.99)
}
