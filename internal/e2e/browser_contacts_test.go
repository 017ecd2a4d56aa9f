package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/demo"
	"github.com/pi-crm/pi-crm/pkg/list"
)

func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(artifactDir(t), name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func login(t *testing.T, ctx context.Context, base, email, password string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, email),
		chromedp.SendKeys(`#password`, password),
		chromedp.Submit(`#password`),
		chromedp.WaitVisible(`#sidebar-workspaces`),
	)
	if err != nil {
		t.Fatalf("log in as %s: %v", email, err)
	}
}

// TestBrowserContactFlow: create a contact, add a second phone, move its
// stage and see the log entry, share it with Monalisa, log in as her and
// Save As into her workspace.
func TestBrowserContactFlow(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	logins, err := demo.Seed(context.Background(), app.Auth, app.Workspaces)
	if err != nil {
		t.Fatal(err)
	}
	andy, mona := logins[0], logins[1]
	ws := workspaceID(t, app, andy.Email, "Loan Factory")
	ctx := browser(t)
	login(t, ctx, app.URL, andy.Email, andy.Password)
	err = chromedp.Do(ctx,
		chromedp.Navigate(app.URL+"/w/"+ws+"/contacts/new"),
		chromedp.WaitVisible(`#first_name`),
		chromedp.SendKeys(`#first_name`, "Linh"),
		chromedp.SendKeys(`#last_name`, "Tran <script>alert(1)</script>"),
		chromedp.SendKeys(`input[name=email_address]`, "linh@example.com"),
		chromedp.SendKeys(`input[name=phone_number]`, "(808) 555-0123"),
		chromedp.SendKeys(`input[name=phone_label]`, "HI Mobile"),
		chromedp.Submit(`#first_name`),
		chromedp.WaitVisible(`#stage-select`),
	)
	if err != nil {
		t.Fatalf("create contact: %v", err)
	}
	// A second phone, through the edit form.
	err = chromedp.Do(ctx,
		chromedp.Click(`#edit-details summary`),
		chromedp.SendKeys(`(//input[@name="phone_number"])[2]`, "+1 415 555 0199"),
		chromedp.SendKeys(`(//input[@name="phone_label"])[2]`, "CA Mobile"),
		chromedp.Click(`//details//button[text()="Save"]`),
		chromedp.WaitVisible(`//a[contains(., "(415) 555-0199")]`),
	)
	if err != nil {
		t.Fatalf("second phone: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.SetValue(`#stage-select`, stageID(t, app, andy.Email, ws, "Prospects")),
		chromedp.Click(`//button[text()="Move"]`),
		chromedp.WaitVisible(`//span[contains(., "Primary List changed: (none) → Prospects")]`),
	)
	if err != nil {
		t.Fatalf("stage move and its log entry: %v", err)
	}
	title, _ := chromedp.Run(ctx, chromedp.Title())
	if !strings.Contains(title, "<script>") {
		t.Fatalf("title %q: the typed name should come back as text", title)
	}
	if alerted, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!window.__alerted`)); alerted {
		t.Fatal("script ran")
	}
	shot(t, ctx, "contact-details")
	// A bad entry in a boosted (in-place) form shows its message.
	err = chromedp.Do(ctx,
		chromedp.SendKeys(`input[name=duration_minutes]`, "ten"),
		chromedp.Click(`//button[text()="Log call"]`),
		chromedp.WaitVisible(`//p[contains(., "Enter the call's length in minutes.")]`),
	)
	if err != nil {
		t.Fatalf("validation message in the in-place form: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(`//button[text()="Share"]`),
		chromedp.WaitVisible(`//li[contains(., "Shared with Monalisa")]`),
	)
	if err != nil {
		t.Fatalf("share: %v", err)
	}
	err = chromedp.Do(ctx, chromedp.Navigate(app.URL+"/w/"+ws+"/contacts"), chromedp.WaitVisible(`#contact-rows`))
	if err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "contacts-list")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(`#contact-rows`)); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "contacts-list-phone")

	// Monalisa sees it read-only and saves a copy.
	ctx2 := browser(t)
	login(t, ctx2, app.URL, mona.Email, mona.Password)
	err = chromedp.Do(ctx2,
		chromedp.Navigate(app.URL+"/shared"),
		chromedp.Click(`//a[contains(., "Linh")]`),
		chromedp.WaitVisible(`//button[text()="Save As"]`),
	)
	if err != nil {
		t.Fatalf("shared view: %v", err)
	}
	shot(t, ctx2, "shared-contact")
	if err := chromedp.Do(ctx2, chromedp.Click(`//button[text()="Save As"]`), chromedp.WaitVisible(`#stage-select`)); err != nil {
		t.Fatalf("save as: %v", err)
	}
	page, err := chromedp.Run(ctx2, chromedp.Text(`main`))
	if err != nil || !strings.Contains(page, "Saved as a copy of a contact shared by Andy") || !strings.Contains(page, "(415) 555-0199") {
		t.Fatalf("copy page lacks its origin or the phones: %v\n%s", err, page)
	}
}

func stageID(t *testing.T, app *apptest.App, email, ws, name string) string {
	t.Helper()
	u, _ := app.Auth.UserByEmail(context.Background(), email)
	stages, err := app.Lists.All(context.Background(), apptestActor(u), ws, "stage")
	return idNamed(t, "stage", stages, err, name, func(l list.List) (string, string) { return l.Name, l.ID })
}
