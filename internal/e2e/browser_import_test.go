package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/internal/testrig"
	"github.com/pi-crm/pi-crm/pkg/demo"
)

// TestBrowserImport uploads a Google Contacts CSV in Chromium, changes a
// column's mapping, starts the import, watches the progress bar finish,
// and downloads the report: the row with a bad email imported without it,
// listed with its line, the value as typed and the row's own cells.
func TestBrowserImport(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	logins, err := demo.Seed(context.Background(), app.Auth, app.Workspaces)
	if err != nil {
		t.Fatal(err)
	}
	andy := logins[0]
	ws := workspaceID(t, app, andy.Email, "MaiStory")
	ctx := browser(t)
	downloads := t.TempDir()
	login(t, ctx, app.URL, andy.Email, andy.Password)
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}
	file := testrig.RepoFile("pkg/csvio/testdata/google.csv")
	err = chromedp.Do(ctx,
		chromedp.Navigate(app.URL+"/w/"+ws+"/contacts"),
		chromedp.Click(`//main//a[text()="Import"]`),
		chromedp.WaitVisible(`#file`),
		chromedp.SetUploadFiles(`#file`, []string{file}),
		chromedp.Click(`//button[text()="Upload"]`),
		chromedp.WaitVisible(`#preview`),
	)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	shot(t, ctx, "import-mapping")
	// Map "Organization Title" to the note instead of the job title, to use the form,
	// and see the preview: Linh Tran's two emails with their labels.
	preview, err := chromedp.Run(ctx, chromedp.Text(`#preview`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"linh@loanfactory.example (Work)", "linh.tran@example.com (Home)", "(808) 555-0100 (Mobile)"} {
		if !strings.Contains(preview, want) {
			t.Fatalf("preview lacks %q:\n%s", want, preview)
		}
	}
	problems, err := chromedp.Run(ctx, chromedp.Text(`#problems`))
	if err != nil || !strings.Contains(problems, "Line 7") || !strings.Contains(problems, "not-an-email") {
		t.Fatalf("the preview does not list the row with a bad email: %q %v", problems, err)
	}
	// The old preview is marked, so the new one is waited for, not the one
	// the update replaces (a click on its button found a node gone).
	err = chromedp.Do(ctx,
		chromedp.SetValue(`select[aria-label="Import Organization Title as"]`, "notes"),
		chromedp.SetAttributeValue(`#preview`, "data-stale", "1"),
		chromedp.Click(`//button[text()="Update the preview"]`),
		chromedp.WaitVisible(`#preview:not([data-stale])`),
		chromedp.Click(`//button[starts-with(text(), "Import 4 rows")]`),
		chromedp.WaitVisible(`#import-progress`),
	)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.WaitVisible(`#error-report`)); err != nil {
		shot(t, ctx, "import-stuck")
		t.Fatalf("the progress bar never finished: %v", err)
	}
	created, _ := chromedp.Run(ctx, chromedp.Text(`#import-created`))
	failed, _ := chromedp.Run(ctx, chromedp.Text(`#import-failed`))
	warned, _ := chromedp.Run(ctx, chromedp.Text(`#import-warned`))
	if created != "4" || failed != "0" || warned != "1" {
		t.Fatalf("created %q, warned %q, failed %q", created, warned, failed)
	}
	shot(t, ctx, "import-done")
	if err := chromedp.Do(ctx, chromedp.Click(`#error-report`)); err != nil {
		t.Fatal(err)
	}
	var report []byte
	deadline := time.Now().Add(10 * time.Second)
	for len(report) == 0 && time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(downloads, "*.csv"))
		for _, f := range files {
			report, _ = os.ReadFile(f)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.HasPrefix(string(report), "Line,Result,Problems,First Name,Middle Name,Last Name") ||
		!strings.Contains(string(report), `7,imported without these values,"E-mail 1 - Value ""not-an-email"": `) || !strings.Contains(string(report), ",Bad,,Email,") {
		t.Fatalf("report: %q", report)
	}
}
