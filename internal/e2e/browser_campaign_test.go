package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// TestBrowserDripApprovalAndReply: in Loan Factory, whose campaigns need
// Andy's approval, build a three-step drip (an email, a text, an email two
// days on) on a tag, preview who gets it, submit it, approve it as Andy,
// start it; the real crm-sender sends step one through the file provider
// (in each contact's log) and step two through a local Twilio; a contact
// who answers the text leaves the drip while the others walk on; at 390
// px the campaign's page fits.
func TestBrowserDripApprovalAndReply(t *testing.T) {
	const ours = "+14155550100"
	app := apptest.New(t, apptest.Options{})
	logins := app.SeedDemo(0, 0)
	andy := logins[0]
	ctx := context.Background()
	lf := workspaceID(t, app, andy.Email, "Loan Factory")
	au, _ := app.Auth.UserByEmail(ctx, andy.Email)
	actor := au.Actor("")
	none := ""
	if _, err := app.Workspaces.Update(ctx, actor, lf, workspace.Change{QuietStart: &none, QuietEnd: &none}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Providers.Set(ctx, actor, lf, mailer.Change{Kind: mailer.KindFile, FromName: "Andy", FromEmail: "andy@loanfactory.example"}); err != nil {
		t.Fatal(err)
	}
	tag, err := app.Lists.Create(ctx, actor, lf, list.Tag, "Spring drip")
	if err != nil {
		t.Fatal(err)
	}
	phones := map[string]string{"Quyen": "+14155550181", "Rosa": "+14155550182", "Sam": "+14155550183"}
	ids := map[string]string{}
	for name, phone := range phones {
		c, err := app.Contacts.Create(ctx, actor, lf, contact.Fields{FirstName: ptr(name), Emails: &[]contact.EmailInput{{Address: strings.ToLower(name) + "@example.com"}},
			Phones: &[]contact.PhoneInput{{Number: phone, Primary: true}}}, true)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = c.ID
		if err := app.Contacts.Bulk(ctx, actor, lf, []string{c.ID}, nil, tag.ID, true); err != nil {
			t.Fatal(err)
		}
	}
	hello, err := app.Templates.Create(ctx, actor, lf, emailtemplate.Change{Name: "Spring hello", Subject: "Spring rates, {{first_name}}", BodyHTML: "<p>Hi {{first_name}}, spring rates are in.</p>"})
	if err != nil {
		t.Fatal(err)
	}
	follow, err := app.Templates.Create(ctx, actor, lf, emailtemplate.Change{Name: "Spring follow-up", Subject: "Still looking, {{first_name}}?", BodyHTML: "<p>Hi again</p>"})
	if err != nil {
		t.Fatal(err)
	}

	e := newEnv(t)
	tw, sender := senderOnTwilio(t, e, app, ours)

	bctx := browserFor(t, 3*time.Minute)
	login(t, bctx, app.URL, andy.Email, andy.Password)
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			shot(t, bctx, "drip-"+name+"-failed")
			t.Fatalf("%s: %v\n%s", name, err, sender)
		}
	}
	text := func() string {
		s, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
		return s
	}
	base := app.URL + "/w/" + lf
	step("form", chromedp.Navigate(base+"/campaigns/new"), chromedp.WaitVisible(`#name`),
		chromedp.SendKeys(`#name`, "Spring drip"),
		chromedp.SetValue(`#kind`, "drip"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#kind').dispatchEvent(new Event('change', {bubbles: true}))`),
		chromedp.WaitVisible(`#step_tpl_1`),
		chromedp.SetValue(`#step_tpl_1`, hello.ID),
		chromedp.Click(`[data-step="2"] details summary`),
		chromedp.WaitVisible(`#step_text_2`),
		chromedp.SendKeys(`#step_text_2`, "Hi {{first_name}}, any questions about spring rates? Just reply."),
		chromedp.SetValue(`#step_tpl_3`, follow.ID),
		chromedp.SendKeys(`#step_days_3`, "2"),
		chromedp.Click(`input[name="tag_id"][value="`+tag.ID+`"]`),
		chromedp.Click(`//button[text()="Save"]`),
		chromedp.WaitVisible(`#drip-steps`),
	)
	page := text()
	for _, want := range []string{"Email: Spring hello", "Text: “Hi {{first_name}}, any questions about spring rates? Just reply.”", "Email: Spring follow-up · 2 days after the step before", "Quyen", "Rosa", "Sam"} {
		if !strings.Contains(page, want) {
			t.Fatalf("the drip's page (preview) lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "Start the drip") {
		t.Fatalf("a Loan Factory drip can start before approval:\n%s", page)
	}
	step("submit", chromedp.Click(`//button[text()="Submit for approval"]`), chromedp.WaitVisible(`//*[contains(text(), "Submitted")]`))
	step("approvals", chromedp.Navigate(app.URL+"/approvals"), chromedp.Click(`//a[contains(text(), "Spring drip")]`), chromedp.WaitVisible(`[data-review-step="3"]`))
	if review := text(); !strings.Contains(review, "Spring rates, ") || !strings.Contains(review, "any questions about spring rates? Just reply.") {
		t.Errorf("the approver's review:\n%s", review)
	}
	step("approve", chromedp.Click(`//button[text()="Approve"]`), chromedp.WaitVisible(`//*[contains(text(), "Approved")]`))
	step("start", chromedp.Navigate(base+"/campaigns"), chromedp.Click(`//a[text()="Spring drip"]`), chromedp.Click(`//button[contains(text(), "Start the drip for 3 contacts")]`),
		chromedp.WaitVisible(`//*[contains(text(), "3 contacts enrolled")]`))
	dripURL, _ := chromedp.Run(bctx, chromedp.Location())

	// crm-sender sends step one by the file provider, then step two's texts.
	deadline := time.Now().Add(30 * time.Second)
	for len(tw.Sent()) < 3 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if sent := tw.Sent(); len(sent) != 3 || len(sent[phones["Quyen"]]) != 1 || sent[phones["Quyen"]][0] != "Hi Quyen, any questions about spring rates? Just reply." {
		t.Fatalf("texts at Twilio: %v\n%s", sent, sender)
	}
	if files, _ := filepath.Glob(filepath.Join(e.dir, "mail", "*.eml")); len(files) != 3 {
		t.Fatalf("%d emails written, want step one's 3", len(files))
	}
	step("log", chromedp.Navigate(base+"/contacts/"+ids["Rosa"]), chromedp.WaitVisible(chromedp.CSS(`main`)))
	if log := text(); !strings.Contains(log, "Campaign “Spring drip”, step 1: Spring rates, Rosa") || !strings.Contains(log, "step 2: text to "+phones["Rosa"]) {
		t.Fatalf("Rosa's log:\n%s", log)
	}
	// Quyen answers the text (a second on: Twilio dates in whole seconds).
	time.Sleep(1100 * time.Millisecond)
	tw.Inbound(phones["Quyen"], ours, "Yes! Can you call me tomorrow?")
	deadline = time.Now().Add(30 * time.Second)
	for {
		step("drip page", chromedp.Navigate(dripURL), chromedp.WaitVisible(`#enrollments`))
		page = text()
		if strings.Contains(page, "Quyen: left (replied)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Quyen never left the drip:\n%s\n%s", page, sender)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if !strings.Contains(page, "2 walking it") || !strings.Contains(page, "Rosa: step 3") || !strings.Contains(page, "Sam: step 3") {
		t.Errorf("the others walk on:\n%s", page)
	}
	step("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(dripURL), chromedp.WaitVisible(`#enrollments`))
	if problems, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](fitCheck)); err != nil || len(problems) > 0 {
		t.Errorf("the drip's page at 390 px: %v %v", problems, err)
	}
	shot(t, bctx, "drip-replied-390")
}
