package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/testrig"
)

// startWeb starts crm-web and returns its base URL, read from its log line.
func startWeb(t *testing.T, e *env) string {
	t.Helper()
	m := testrig.Start(t, e.cmd("crm-web")).Await(t, regexp.MustCompile(`addr=(http://\S+) metrics=(\S+)`), 10*time.Second)
	e.webMetrics = m[2]
	return m[1]
}

// TestAppliance runs the appliance the way `make run` does: crmctl makes a
// user (password on stdin) and a key (only the key on stdout), the daemons
// run, and the System page shows the workers' heartbeats.
func TestAppliance(t *testing.T) {
	e := newEnv(t)
	if out := e.ctl("", "migrate"); !strings.Contains(out, "migrated schema from version 0") {
		t.Fatalf("first migrate said %q", out)
	}
	if out := e.ctl("", "migrate"); !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate said %q, want a no-op", out)
	}
	e.ctl("s3cret-enough-pw\n", "user", "add", "--email", "andy@example.com", "--name", "Andy", "--tz", "America/Los_Angeles")
	if out := e.ctl("", "user", "list"); !strings.Contains(out, "andy@example.com") {
		t.Fatalf("user list: %q", out)
	}
	key := e.ctl("", "apikey", "create", "--user", "andy@example.com", "--scope", "workspaces:read", "--scope", "workspaces:write")
	if !regexp.MustCompile(`^pcrm_[A-Za-z0-9_-]{43}\n$`).MatchString(key) {
		t.Fatalf("apikey create printed %q, want only the key", key)
	}
	for _, d := range []string{"crm-sender", "crm-insights", "crm-health"} {
		testrig.Start(t, e.cmd(d))
	}
	base := startWeb(t, e)

	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/workspaces", strings.NewReader(`{"name":"Loan Factory"}`))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(key))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("API create: %d", resp.StatusCode)
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	form := url.Values{"email": {"andy@example.com"}, "password": {"s3cret-enough-pw"}}
	req, _ = http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Loan Factory") {
		t.Fatalf("after log-in the dashboard does not show the workspace: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.Get(base + "/system")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(b)
		if strings.Count(page, ">alive<") == 3 && strings.Contains(page, "crm-sender") && strings.Contains(page, "crm-health") && strings.Contains(page, "crm-insights") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("System page does not show three live workers:\n%s", page)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// "Backup now" outside systemd runs crmctl beside crm-web, which claims
	// the queued run; the System page then lists it as ok.
	req, _ = http.NewRequest(http.MethodPost, base+"/system/backup", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline = time.Now().Add(20 * time.Second)
	for {
		resp, err := c.Get(base + "/system")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "Backup done: pi-crm-") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Backup now never finished:\n%s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
