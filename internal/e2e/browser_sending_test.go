package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/internal/faketwilio"
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
	// Choosing a provider shows its fields and how it unsubscribes.
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[[]bool](`(() => {
		const k = document.querySelector('#kind');
		const vis = sel => !document.querySelector(sel).closest('[data-kinds]').hidden;
		k.value = 'smtp'; k.dispatchEvent(new Event('change', {bubbles: true}));
		const smtp = [vis('#host'), vis('#domain'), vis('#client_id')];
		k.value = 'mailgun'; k.dispatchEvent(new Event('change', {bubbles: true}));
		return smtp.concat([vis('#host'), vis('#domain'), vis('#client_id')]);
	})()`))
	if err != nil || fmt.Sprint(shown) != "[true false false false true false]" {
		t.Errorf("fields shown for SMTP, then Mailgun: %v %v", shown, err)
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
	// The log line says so without opening the entry.
	line, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const o = document.querySelector('#log-list [data-outcome]');
		return o && o.checkVisibility() ? o.closest('summary').innerText : ''; })()`))
	if !strings.HasSuffix(strings.TrimSpace(line), "· email · sent") {
		t.Errorf("the log line, closed: %q, want it to end in the state", line)
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

// TestBrowserTextAndReply: with the real crm-sender on a local Twilio,
// send a text from a contact's page, see it sent in their log, and see the
// contact's reply (polled from Twilio) arrive in the timeline; at 390 px
// the timeline fits.
func TestBrowserTextAndReply(t *testing.T) {
	const ours, phone = "+14155550100", "+14155550188"
	app := apptest.New(t, apptest.Options{})
	logins := app.SeedDemo(0, 0)
	andy := logins[0]
	ff := workspaceID(t, app, andy.Email, "Family & Friends")
	au, _ := app.Auth.UserByEmail(context.Background(), andy.Email)
	q, err := app.Contacts.Create(context.Background(), au.Actor(""), ff, contact.Fields{FirstName: ptr("Quyen"), Phones: &[]contact.PhoneInput{{Number: phone}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	tw, sender := senderOnTwilio(t, e, app, ours)

	ctx := browserFor(t, 2*time.Minute)
	login(t, ctx, app.URL, andy.Email, andy.Password)
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			shot(t, ctx, "texting-"+name+"-failed")
			t.Fatalf("%s: %v", name, err)
		}
	}
	contactURL := app.URL + "/w/" + ff + "/contacts/" + q.ID
	step("text form", chromedp.Navigate(contactURL), chromedp.Click(`//a[text()="Send a text"]`), chromedp.WaitVisible(`#body`))
	step("send", chromedp.SendKeys(`#body`, "Hi {{first_name}}, still on for 5pm?"), chromedp.Click(`//button[text()="Send"]`),
		chromedp.WaitVisible(`//*[contains(text(), "queued")]`))
	timeline := func(want string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		page := ""
		for time.Now().Before(deadline) {
			step("timeline", chromedp.Navigate(contactURL), chromedp.WaitVisible(chromedp.CSS(`main`)))
			page, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
			if strings.Contains(page, want) {
				return page
			}
			time.Sleep(300 * time.Millisecond)
		}
		shot(t, ctx, "texting-timeline-failed")
		t.Fatalf("the timeline never showed %q:\n%s\n%s", want, page, sender)
		return ""
	}
	timeline("Hi Quyen, still on for 5pm?")
	// the log shows the text once it is queued; crm-sender sends it just after
	for deadline := time.Now().Add(20 * time.Second); len(tw.Sent()[phone]) == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if sent := tw.Sent()[phone]; len(sent) != 1 || sent[0] != "Hi Quyen, still on for 5pm?" {
		t.Fatalf("at Twilio: %v", tw.Sent())
	}
	// Twilio dates texts in whole seconds: a reply in the same second as
	// the text could sort either way.
	time.Sleep(1100 * time.Millisecond)
	tw.Inbound(phone, ours, "Yes, see you at 5!")
	page := timeline("Yes, see you at 5!")
	if strings.Index(page, "Yes, see you at 5!") > strings.Index(page, "Hi Quyen, still on for 5pm?") {
		t.Errorf("the reply is not above the text it answers (newest first):\n%s", page)
	}
	step("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(contactURL), chromedp.WaitVisible(chromedp.CSS(`main`)))
	if problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fitCheck)); err != nil || len(problems) > 0 {
		t.Errorf("the contact page at 390 px: %v %v", problems, err)
	}
	shot(t, ctx, "texting-timeline-390")
}

// senderOnTwilio starts the real crm-sender on app's database, polling
// every second, with a local Twilio whose number is ours; both stop with
// the test.
func senderOnTwilio(t *testing.T, e *env, app *apptest.App, ours string) (*faketwilio.Server, *testrig.Process) {
	t.Helper()
	tw := faketwilio.New("AC7", "tw-token")
	t.Cleanup(tw.Close)
	creds := filepath.Join(e.dir, "creds")
	if err := os.MkdirAll(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(creds, "twilio-auth-token"), []byte("tw-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := e.cmd("crm-sender")
	c.Env = append(c.Env, "PICRM_DB="+app.DB.Path(), "PICRM_LOG_LEVEL=debug", "CREDENTIALS_DIRECTORY="+creds, "PICRM_SENDER_POLL=1s",
		"PICRM_TWILIO_ACCOUNT_SID=AC7", "PICRM_TWILIO_FROM="+ours, "PICRM_TWILIO_BASE_URL="+tw.URL)
	sender := testrig.Start(t, c)
	sender.Await(t, regexp.MustCompile(`msg=started`), 20*time.Second)
	t.Cleanup(func() { _ = sender.Stop(5 * time.Second) })
	return tw, sender
}
