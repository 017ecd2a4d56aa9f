package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/demo"
)

// TestBrowserBackupNow presses "Backup now" on the System page and watches
// the htmx progress bar finish with the snapshot's name.
func TestBrowserBackupNow(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	logins, err := demo.Seed(context.Background(), app.Auth, app.Workspaces)
	if err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	login(t, ctx, app.URL, logins[0].Email, logins[0].Password)
	err = chromedp.Do(ctx,
		chromedp.Navigate(app.URL+"/system"),
		chromedp.WaitVisible(`//button[text()="Backup now"]`),
		chromedp.Click(`//button[text()="Backup now"]`),
		chromedp.WaitVisible(`#backup-progress`),
	)
	if err != nil {
		t.Fatalf("Backup now: %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.WaitVisible(`//p[contains(., "Backup done")]`)); err != nil {
		shot(t, ctx, "backup-now-stuck")
		t.Fatalf("the progress bar never finished: %v", err)
	}
	// The finished fragment loads a refresh of the whole Backups section,
	// which replaces #backup-progress: read its text in one evaluation, not
	// a node lookup followed by a read of a node that may be gone.
	done, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#backup-progress").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(done, "pi-crm-") || !strings.Contains(done, ".db.zst") {
		t.Fatalf("finished fragment says %q", done)
	}
	// The finished run refreshes the Backups section once, and then
	// nothing polls.
	count := `performance.getEntriesByType("resource").filter(e => e.name.includes("/system")).length`
	time.Sleep(1500 * time.Millisecond)
	before, err := chromedp.Run(ctx, chromedp.Evaluate[int](count))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	after, err := chromedp.Run(ctx, chromedp.Evaluate[int](count))
	if err != nil {
		t.Fatal(err)
	}
	if before < 2 {
		t.Fatalf("counted %d htmx requests to /system: the count does not see XHRs", before)
	}
	if after != before {
		t.Fatalf("the System page keeps polling after the backup ended: %d -> %d requests", before, after)
	}
	if status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#backups table").textContent`)); !strings.Contains(status, "ok") {
		t.Fatalf("the runs table was not refreshed: %q", status)
	}
	shot(t, ctx, "backup-now")
}
