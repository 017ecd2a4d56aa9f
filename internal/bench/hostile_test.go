package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/testrig"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
	"github.com/pi-crm/pi-crm/pkg/transfer"
)

// TestBenchHostile measures what the security audit broke:
//   - login_flood_db_growth_kb: how much 1,000 hostile log-ins (500 with an
//     oversized email, 500 wrong guesses for unknown emails, throttled after
//     the first few) grow the database;
//   - write_during_import_p99_ms and write_during_import_failures: 4 clients
//     saving notes through crm-web while `crmctl import` loads 100,000 rows
//     into a workspace of 100,000 contacts; import_batch_ms and
//     import_batch_max_ms are that import's mean and longest time between
//     two batch commits, the yardstick of the p99 (target: batch + 100 ms).
func TestBenchHostile(t *testing.T) {
	want := benchOnly(t)
	flood, writes := want("login_flood_db_growth_kb"), want("write_during_import")
	if !flood && !writes {
		return
	}
	bin := os.Getenv("PICRM_BIN_DIR")
	dir := t.TempDir()
	vars := []string{"PICRM_DATA_DIR=" + dir, "PICRM_LOG_LEVEL=warn", "HOME=" + dir, "PICRM_HTTP_ADDR=127.0.0.1:0",
		"PICRM_WEB_METRICS_ADDR=127.0.0.1:0"}
	crmctl := func(args ...string) string {
		c := exec.Command(filepath.Join(bin, "crmctl"), args...)
		c.Env = vars
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("crmctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	contacts := "100"
	if writes {
		contacts = "100000"
	}
	crmctl("demo", "--bare", "--contacts", contacts, "--activities", "0")
	base, web := startWeb(t, bin, vars)
	defer web.Stop(10 * time.Second)
	dbPath := filepath.Join(dir, "pi-crm.db")
	db, err := store.Open(dbPath, store.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// The note writers sign in first: the flood throttles this IP.
	email, pw := demoLogin(t, dir)
	clients := make([]*http.Client, 4)
	for i := range clients {
		jar, _ := cookiejar.New(nil)
		clients[i] = &http.Client{Jar: jar, Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		if code := postForm(t, clients[i], base+"/login", url.Values{"email": {email}, "password": {pw}}); code != http.StatusSeeOther {
			t.Fatalf("log-in: status %d", code)
		}
	}

	if flood {
		before := storetest.Bytes(t, db)
		cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		huge := strings.Repeat("x", 5000) + "@example.com"
		for i := range 1000 {
			email, pw := huge, strings.Repeat("p", 1500)
			if i%2 == 1 {
				email, pw = fmt.Sprintf("guess%d@example.org", i), "wrong password"
			}
			code := postForm(t, cl, base+"/login", url.Values{"email": {email}, "password": {pw}})
			if code != http.StatusUnauthorized && code != http.StatusTooManyRequests {
				t.Fatalf("hostile log-in %d: status %d", i, code)
			}
		}
		grown := float64(storetest.Bytes(t, db)-before) / 1024
		fmt.Printf("BENCH login_flood_db_growth_kb %.1f KB\n", grown)
	}

	if writes {
		var wsID string
		var ids []string
		_ = db.Read(context.Background(), func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT w.id, c.id FROM contacts c JOIN workspaces w ON w.id = c.workspace_id WHERE w.name = 'Loan Factory' LIMIT 50`,
				&sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { wsID = st.ColumnText(0); ids = append(ids, st.ColumnText(1)); return nil }})
		})
		file := filepath.Join(dir, "contacts.csv")
		var b strings.Builder
		b.WriteString("First Name,Last Name,Company,E-mail Address,Mobile Phone\n")
		const rows = 100000
		for i := range rows {
			fmt.Fprintf(&b, "Import,Person%d,Aloha Homes,import%d@example.net,+1 415 %03d %04d\n", i, i, 200+i/10000, i%10000)
		}
		if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		imp := exec.Command(filepath.Join(bin, "crmctl"), "import", file, "--workspace", "Loan Factory", "--user", email)
		imp.Env = vars
		var impOut strings.Builder
		imp.Stdout, imp.Stderr = &impOut, &impOut
		start := time.Now()
		if err := imp.Start(); err != nil {
			t.Fatal(err)
		}
		importDone := make(chan error, 1)
		go func() { importDone <- imp.Wait() }()
		// The import's batch times, from its progress: the time between
		// two commits of next_row (yields to the notes included).
		var batchMs []float64
		watchDone := make(chan struct{})
		stopWatch := make(chan struct{})
		go func() {
			defer close(watchDone)
			last, lastAt := -1, time.Now()
			for {
				select {
				case <-stopWatch:
					return
				case <-time.After(5 * time.Millisecond):
				}
				next := -1
				_ = db.Read(context.Background(), func(conn *sqlite.Conn) error {
					return sqlitex.Execute(conn, `SELECT next_row FROM import_jobs ORDER BY created_at DESC LIMIT 1`, &sqlitex.ExecOptions{
						ResultFunc: func(st *sqlite.Stmt) error { next = st.ColumnInt(0); return nil }})
				})
				if next != last {
					if last > 0 {
						batchMs = append(batchMs, float64(time.Since(lastAt).Microseconds())/1000)
					}
					last, lastAt = next, time.Now()
				}
			}
		}()
		var (
			mu       sync.Mutex
			lats     []float64
			failures int
			wg       sync.WaitGroup
			finished = make(chan struct{})
		)
		for n, cl := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-finished:
						return
					case <-time.After(50 * time.Millisecond):
					}
					t0 := time.Now()
					code := postForm(t, cl, base+"/w/"+wsID+"/contacts/"+ids[(n*13+i)%len(ids)]+"/notes", url.Values{"note": {fmt.Sprintf("Called back, client %d note %d", n, i)}})
					mu.Lock()
					lats = append(lats, float64(time.Since(t0).Microseconds())/1000)
					if code != http.StatusSeeOther {
						failures++
					}
					mu.Unlock()
				}
			}()
		}
		err := <-importDone
		took := time.Since(start)
		close(finished)
		wg.Wait()
		close(stopWatch)
		<-watchDone
		if err != nil || !strings.Contains(impOut.String(), "100000 created") {
			t.Fatalf("crmctl import: %v\n%s", err, impOut.String())
		}
		t.Logf("import of %d rows in %v beside %d note saves; batches (ms): %.0f", rows, took.Round(time.Millisecond), len(lats), batchMs)
		if len(batchMs) < rows/transfer.BatchRows/2 {
			t.Fatalf("saw %d batches commit, want about %d", len(batchMs), rows/transfer.BatchRows)
		}
		mean := 0.0
		for _, v := range batchMs {
			mean += v / float64(len(batchMs))
		}
		fmt.Printf("BENCH import_batch_ms %.1f ms\n", mean)
		fmt.Printf("BENCH import_batch_max_ms %.1f ms\n", slices.Max(batchMs))
		fmt.Printf("BENCH write_during_import_p99_ms %.1f ms\n", testrig.Percentile(lats, 0.99))
		fmt.Printf("BENCH write_during_import_failures %d count\n", failures)
	}
}

// startWeb starts crm-web and returns its base URL and a stop function.
// startWeb starts crm-web from bin with vars (and info logging, for its
// address line) and returns its base URL and the process.
func startWeb(t *testing.T, bin string, vars []string) (string, *testrig.Process) {
	c := exec.Command(filepath.Join(bin, "crm-web"))
	c.Env = append(append([]string(nil), vars...), "PICRM_LOG_LEVEL=info")
	p := testrig.Start(t, c)
	base := p.Await(t, regexp.MustCompile(`addr=(http://\S+)`), 30*time.Second)[1]
	return base, p
}

func demoLogin(t *testing.T, dir string) (email, pw string) {
	logins, err := os.ReadFile(filepath.Join(dir, "demo-logins.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(strings.Split(string(logins), "\n")[0])
	return f[1], f[2]
}

// postForm posts a same-origin form and returns the status.
func postForm(t *testing.T, cl *http.Client, target string, v url.Values) int {
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := cl.Do(req)
	if err != nil {
		t.Logf("POST %s: %v", target, err)
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
