package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/demo"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// artifactDir is where screenshots are kept: $PICRM_ARTIFACTS or
// test-artifacts/ at the repository root.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("PICRM_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts Debian's headless Chromium with a fresh profile and no
// background traffic (this machine has no internet), for a minute.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browserFor(t, time.Minute)
}

// browserFor is browser with a time limit of d.
func browserFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed: .ci/run must install Debian's chromium package")
		}
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, d)
	t.Cleanup(cancel3)
	return ctx
}

// TestBrowserLogInCreateWorkspace logs in as a demo user in Chromium,
// creates a workspace, sees it in the sidebar, and keeps screenshots of the
// dashboard at phone and desktop widths.
func TestBrowserLogInCreateWorkspace(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	logins, err := demo.Seed(context.Background(), app.Auth, app.Workspaces)
	if err != nil {
		t.Fatal(err)
	}
	andy := logins[0]
	ctx := browser(t)
	err = chromedp.Do(ctx,
		chromedp.Navigate(app.URL+"/"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, andy.Email),
		chromedp.SendKeys(`#password`, andy.Password),
		chromedp.Submit(`#password`),
		chromedp.WaitVisible(`#sidebar-workspaces`),
		chromedp.Navigate(app.URL+"/workspaces/new"),
		chromedp.WaitVisible(`#name`),
		chromedp.SendKeys(`#name`, "Mortgage Referrals"),
		chromedp.Submit(`#name`),
		chromedp.WaitVisible(`//h1[text()="Mortgage Referrals"]`),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	sidebar, err := chromedp.Run(ctx, chromedp.Text(`#sidebar-workspaces`))
	if err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Mortgage Referrals", "Loan Factory", "Family & Friends"} {
		if !strings.Contains(sidebar, want) {
			t.Fatalf("sidebar %q lacks %q", sidebar, want)
		}
	}
	if strings.Contains(sidebar, "Coldwell Banker") {
		t.Fatal("Andy's sidebar shows Monalisa's workspace")
	}
	if !strings.Contains(title, "Mortgage Referrals") {
		t.Fatalf("title %q", title)
	}
	dir := artifactDir(t)
	for _, size := range []struct {
		name          string
		width, height int64
	}{{"phone", 390, 844}, {"desktop", 1280, 800}} {
		err := chromedp.Do(ctx,
			chromedp.EmulateViewport(size.width, size.height),
			chromedp.Reload(),
			chromedp.WaitVisible(chromedp.CSS(`h1`)),
		)
		if err != nil {
			t.Fatalf("viewport %s: %v", size.name, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
		if err != nil {
			t.Fatalf("screenshot %s: %v", size.name, err)
		}
		if len(png) < 5000 {
			t.Fatalf("%s screenshot is only %d bytes", size.name, len(png))
		}
		p := filepath.Join(dir, "dashboard-"+size.name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("kept %s", p)
	}
	// The other pages render too; keep a desktop view of each to look at.
	for _, pg := range []struct{ name, path, wait string }{
		{"settings-api-keys", "/settings/api-keys", "#key-name"},
		{"settings-audit", "/settings/audit", "#audit-rows"},
		{"system", "/system", "#backups"},
		{"workspace-settings", "/w/" + workspaceID(t, app, andy.Email, "Loan Factory") + "/settings", "#time_zone"},
	} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(app.URL+pg.path), chromedp.WaitVisible(pg.wait)); err != nil {
			t.Fatalf("%s: %v", pg.name, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, pg.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A new API key has a copy button: it copies (the label says so) or,
	// where the clipboard is not allowed, selects the key for the user.
	err = chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(app.URL+"/settings/api-keys"), chromedp.WaitVisible(`#key-name`),
		chromedp.SendKeys(`#key-name`, "Zapier"), chromedp.Click(`input[name=scope]`), chromedp.Submit(`#key-name`), chromedp.WaitVisible(`#new-api-key`),
		chromedp.Click(`[data-copy]`))
	if err != nil {
		t.Fatalf("new API key: %v", err)
	}
	var copied bool
	for i := 0; i < 20 && !copied && err == nil; i++ { // the clipboard answers asynchronously
		time.Sleep(100 * time.Millisecond)
		copied, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () {
		var key = document.getElementById('new-api-key').textContent.trim();
		return key.length > 20 && (document.querySelector('[data-copy]').textContent === 'Copied' || window.getSelection().toString().trim() === key);
	})()`))
	}
	if err != nil || !copied {
		t.Errorf("the copy button neither copied nor selected the key (err %v)", err)
	}
	// The settings pages fit a phone: nothing wider than the screen.
	for _, pg := range []string{"/settings/sessions", "/settings/password", "/settings/api-keys"} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(app.URL+pg), chromedp.WaitVisible(chromedp.CSS(`h1`))); err != nil {
			t.Fatalf("%s: %v", pg, err)
		}
		fits, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
		if err != nil || !fits {
			t.Errorf("%s at 390 px: wider than the screen (err %v)", pg, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, strings.ReplaceAll(strings.Trim(pg, "/"), "/", "-")+"-phone.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(app.URL+"/w/"+workspaceID(t, app, andy.Email, "Mortgage Referrals"))); err != nil {
		t.Fatal(err)
	}

	// The switcher, with htmx, moves to another workspace.
	err = chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 800),
		chromedp.SetValue(`#ws-switch`, workspaceID(t, app, andy.Email, "Loan Factory")),
	)
	if err != nil {
		t.Fatal(err)
	}
	// The change fires after Evaluate returns: the page navigates away in
	// its handler, which would otherwise race the evaluation's answer.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`setTimeout(function () { document.getElementById('ws-switch').dispatchEvent(new Event('change', {bubbles: true})) }, 0); true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`//h1[text()="Loan Factory"]`)); err != nil {
		t.Fatalf("workspace switcher did not open Loan Factory: %v", err)
	}
	h1, err := chromedp.Run(ctx, chromedp.Text(`h1`))
	if err != nil || h1 != "Loan Factory" {
		t.Fatalf("workspace switcher: h1=%q err=%v", h1, err)
	}
}

func workspaceID(t *testing.T, app *apptest.App, email, name string) string {
	t.Helper()
	u, err := app.Auth.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	list, err := app.Workspaces.List(context.Background(), apptestActor(u))
	return idNamed(t, "workspace", list, err, name, func(w workspace.Workspace) (string, string) { return w.Name, w.ID })
}

// idNamed returns the id of the item called name in items (listed with
// err), or fails the test saying which kind of item was missing.
func idNamed[T any](t *testing.T, what string, items []T, err error, name string, nameID func(T) (string, string)) string {
	t.Helper()
	if err != nil {
		t.Fatalf("list %ss: %v", what, err)
	}
	for _, it := range items {
		if n, id := nameID(it); n == name {
			return id
		}
	}
	t.Fatalf("no %s %q", what, name)
	return ""
}
