package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/internal/testrig"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
)

// TestBrowserSendEmail: set up the file provider on a workspace's Email
// page, send a template to a contact from their page, and see the message
// sent in their log once the real crm-sender has written it; at 390 px
// the log and the send form fit.
func TestBrowserSendEmail(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	logins := app.SeedDemo(0, 0)
	andy := logins[0]
	ff := workspaceID(t, app, andy.Email, "Family & Friends")
	au, _ := app.Auth.UserByEmail(context.Background(), andy.Email)
	actor := au.Actor("")
	q, err := app.Contacts.Create(context.Background(), actor, ff, contact.Fields{FirstName: ptr("Quyen"), Emails: &[]contact.EmailInput{{Address: "quyen@example.com"}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Templates.Create(context.Background(), actor, ff, emailtemplate.Change{Name: "Rate drop", Subject: "Rates dipped, {{first_name}}",
		BodyHTML: `<p>Hi {{first_name}}, rates dipped. <a href="https://rateready.example/apply">Check yours</a>.</p>`}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	c := e.cmd("crm-sender")
	c.Env = append(c.Env, "PICRM_DB="+app.DB.Path(), "PICRM_LOG_LEVEL=debug")
	sender := testrig.Start(t, c)
	sender.Await(t, regexp.MustCompile(`msg=started`), 20*time.Second)
	t.Cleanup(func() { _ = sender.Stop(5 * time.Second) })

	ctx := browserFor(t, 2*time.Minute)
	login(t, ctx, app.URL, andy.Email, andy.Password)
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			shot(t, ctx, "sending-"+name+"-failed")
			t.Fatalf("%s: %v", name, err)
		}
	}
	step("email page", chromedp.Navigate(app.URL+"/w/"+ff+"/email"), chromedp.WaitVisible(`#provider-unset`))
	unset, _ := chromedp.Run(ctx, chromedp.Text(`#provider-unset`))
	if !strings.Contains(unset, "Microsoft 365") {
		t.Errorf("the demo's plan for Family & Friends: %q", unset)
	}
	step("save provider",
		chromedp.SetValue(`#kind`, "file"),
		chromedp.SendKeys(`#from_email`, "andy@family.example"),
		chromedp.Click(`//button[text()="Save email settings"]`),
		chromedp.WaitVisible(`//button[text()="Send test email"]`),
	)
	step("send form",
		chromedp.Navigate(app.URL+"/w/"+ff+"/contacts/"+q.ID),
		chromedp.Click(`//a[text()="Send an email"]`),
		chromedp.WaitVisible(`#template_id`),
	)
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#template_id option')].find(o => o.text === 'Rate drop').value`))
	if err != nil || ids == "" {
		t.Fatalf("the template in the select: %q %v", ids, err)
	}
	step("send", chromedp.SetValue(`#template_id`, ids), chromedp.Click(`//button[text()="Send"]`), chromedp.WaitVisible(`//*[contains(text(), "queued")]`))
	// crm-sender writes it; the log shows it sent (reload until it does).
	deadline := time.Now().Add(20 * time.Second)
	status := ""
	for time.Now().Before(deadline) {
		step("log", chromedp.Navigate(app.URL+"/w/"+ff+"/contacts/"+q.ID), chromedp.WaitVisible(chromedp.CSS(`main`)))
		status, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('[data-status]') || {}).dataset?.status || ''`))
		if status == "sent" {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if status != "sent" {
		shot(t, ctx, "sending-log-failed")
		t.Fatalf("the log's status is %q, not sent\n%s", status, sender)
	}
	page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
	if !strings.Contains(page, "Rates dipped, Quyen") || !strings.Contains(page, "quyen@example.com") {
		t.Errorf("the log entry: %s", page)
	}
	files, _ := filepath.Glob(filepath.Join(e.dir, "mail", "*.eml"))
	if len(files) != 1 {
		t.Fatalf("%d messages written, want 1", len(files))
	}
	eml, _ := os.ReadFile(files[0])
	if !strings.Contains(string(eml), "Subject: Rates dipped, Quyen") || !strings.Contains(string(eml), "To: <quyen@example.com>") {
		t.Errorf("the message: %.600s", eml)
	}
	step("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(app.URL+"/w/"+ff+"/contacts/"+q.ID), chromedp.WaitVisible(chromedp.CSS(`[data-status]`)))
	if problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fitCheck)); err != nil || len(problems) > 0 {
		t.Errorf("the contact page at 390 px: %v %v", problems, err)
	}
	shot(t, ctx, "sending-log-390")
}
