package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/sender"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// TestCampaignPages: the form refuses a campaign without a template,
// keeping what was typed; the campaign's page shows who gets it and who is
// left out and why; in a workspace that needs approval the author can only
// submit, the approver sees it in Approvals, sends it back with notes
// (which the author sees), then approves; the author launches it and the
// messages are queued.
func TestCampaignPages(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	andy, boss := app.NewUser("Andy"), app.NewUser("Boss")
	ws := andy.Workspace("Loan Factory")
	ctx := context.Background()
	yes, none := true, "" // no quiet hours: the campaign goes whatever the hour
	if _, err := app.Workspaces.Update(ctx, andy.Actor, ws.ID, workspace.Change{CampaignsNeedApproval: &yes, ApproverUserID: &boss.Actor.UserID, QuietStart: &none, QuietEnd: &none}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Providers.Set(ctx, andy.Actor, ws.ID, mailer.Change{Kind: mailer.KindFile, FromName: "Andy", FromEmail: "andy@lf.example"}); err != nil {
		t.Fatal(err)
	}
	tpl, err := app.Templates.Create(ctx, andy.Actor, ws.ID, emailtemplate.Change{Name: "Promo", Subject: "Rates for {{first_name}}", BodyHTML: "<p>Hi {{first_name}}, rates dipped.</p>"})
	if err != nil {
		t.Fatal(err)
	}
	ann := andy.Contact(ws.ID, "Ann", "ann@example.com")
	nomail := "Nomail"
	if _, err := app.Contacts.Create(ctx, andy.Actor, ws.ID, contact.Fields{FirstName: &nomail}, true); err != nil {
		t.Fatal(err)
	}
	base := "/w/" + ws.ID
	resp, body := postForm(app, andy.Client, base+"/campaigns", url.Values{"name": {"Spring promo"}, "stale_days": {"abc"}}, false)
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, `value="Spring promo"`) || !strings.Contains(body, "Enter a number of days") {
		t.Fatalf("a bad form: %s", apptest.Trim(body))
	}
	resp, body = postForm(app, andy.Client, base+"/campaigns", url.Values{"name": {"Spring promo"}, "template_id": {tpl.ID}, "created_since": {"31/12/2026"}}, false)
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "Enter a date") || !strings.Contains(body, `value="31/12/2026"`) {
		t.Fatalf("a bad date: %s", apptest.Trim(body))
	}
	resp, body = postForm(app, andy.Client, base+"/campaigns", url.Values{"name": {"Spring promo"}}, false)
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "Choose the template it sends") {
		t.Fatalf("no template: %s", apptest.Trim(body))
	}
	resp, _ = postForm(app, andy.Client, base+"/campaigns", url.Values{"name": {"Spring promo"}, "template_id": {tpl.ID}, "not_within_days": {"7"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	page := resp.Header.Get("Location")
	id := regexp.MustCompile(`/campaigns/([^/]+)$`).FindStringSubmatch(page)[1]
	_, body = app.Do(andy.Client, http.MethodGet, page, nil, nil)
	if !strings.Contains(body, "1 contact gets it; 1 is left out") || !strings.Contains(body, "Nomail") || !strings.Contains(body, "no email address") ||
		!strings.Contains(body, "Submit for approval") || strings.Contains(body, "now</button>") {
		t.Fatalf("the campaign's page: %s", body)
	}
	if resp := app.PostForm(andy.Client, base+"/campaigns/"+id+"/launch", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("launch before approval: %d", resp.StatusCode)
	}
	if msgs, _ := app.Compose.List(ctx, andy.Actor, ws.ID, "", 10); len(msgs) != 0 {
		t.Fatal("an unapproved campaign reached the outbox")
	}
	app.PostForm(andy.Client, base+"/campaigns/"+id+"/submit", nil)
	_, body = app.Do(boss.Client, http.MethodGet, "/approvals", nil, nil)
	if !strings.Contains(body, "Spring promo") {
		t.Fatalf("the approver's queue: %s", apptest.Trim(body))
	}
	// The approver's dashboard (any workspace of theirs) says so.
	body = dashboard(t, app, boss.Client, "/w/"+boss.Workspace("Boss's").ID)
	if !strings.Contains(body, `id="pending-approvals"`) || !strings.Contains(body, "/approvals/"+id) {
		t.Fatalf("the approver's dashboard: %s", apptest.Trim(body))
	}
	body = dashboard(t, app, andy.Client, base)
	if strings.Contains(body, `id="pending-approvals"`) || !strings.Contains(body, "Spring promo") {
		t.Fatalf("the author's dashboard: %s", apptest.Trim(body))
	}
	_, body = app.Do(boss.Client, http.MethodGet, "/approvals/"+id, nil, nil)
	m := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "Rates for Ann") || !strings.Contains(body, "By Andy in Loan Factory") {
		t.Fatalf("the approval page: %s", body)
	}
	resp, body = postForm(app, boss.Client, "/approvals/"+id+"/reject", url.Values{"version": {m[1]}}, false)
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	if resp := app.PostForm(boss.Client, "/approvals/"+id+"/reject", url.Values{"version": {m[1]}, "notes": {"Add the NMLS number"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reject: %d", resp.StatusCode)
	}
	_, body = app.Do(andy.Client, http.MethodGet, page, nil, nil)
	if !strings.Contains(body, "Add the NMLS number") {
		t.Fatalf("the author does not see the notes: %s", apptest.Trim(body))
	}
	app.PostForm(andy.Client, base+"/campaigns/"+id+"/submit", nil)
	_, body = app.Do(boss.Client, http.MethodGet, "/approvals/"+id, nil, nil)
	m = regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(body)
	if resp := app.PostForm(boss.Client, "/approvals/"+id+"/approve", url.Values{"version": {m[1]}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: %d", resp.StatusCode)
	}
	// Andy cannot reach the approver's page for it; Boss cannot reach the workspace's.
	if resp, _ := app.Do(andy.Client, http.MethodGet, "/approvals/"+id, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the author on the approval page: %d", resp.StatusCode)
	}
	if resp, _ := app.Do(boss.Client, http.MethodGet, page, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the approver on the workspace's campaign page: %d", resp.StatusCode)
	}
	_, body = app.Do(andy.Client, http.MethodGet, page, nil, nil)
	if !strings.Contains(body, "Send to 1 contact now") {
		t.Fatalf("approved: %s", apptest.Trim(body))
	}
	app.PostForm(andy.Client, base+"/campaigns/"+id+"/launch", nil)
	msgs, _ := app.Compose.List(ctx, andy.Actor, ws.ID, "", 10)
	if len(msgs) != 1 || msgs[0].Subject != "Rates for Ann" || !msgs[0].Bulk || msgs[0].CampaignID != id {
		t.Fatalf("queued: %+v", msgs)
	}
	_, body = app.Do(andy.Client, http.MethodGet, page, nil, nil)
	if !strings.Contains(body, `id="campaign-stats"`) || !strings.Contains(body, `data-status="sent"`) || !strings.Contains(body, `hx-trigger="every 2s"`) {
		t.Fatalf("after launch: %s", apptest.Trim(body))
	}
	// Sent: the figures stop asking.
	s := sender.New(app.DB, slog.New(slog.DiscardHandler), nil, t.TempDir(), sender.Options{})
	if _, err := s.Turn(ctx); err != nil {
		t.Fatal(err)
	}
	_, body = app.Do(andy.Client, http.MethodGet, page, nil, nil)
	if strings.Contains(body, `hx-trigger="every 2s"`) || !regexp.MustCompile(`Sent</dt><dd class="text-lg font-bold">1<`).MatchString(body) {
		t.Fatalf("once sent: %s", body)
	}
	// Contacts picked on the contact list.
	_, body = app.Do(andy.Client, http.MethodGet, base+"/campaigns/new?id="+ann.ID, nil, nil)
	if !strings.Contains(body, "1 contact picked on the contact list") || !strings.Contains(body, `name="contact_id" value="`+ann.ID+`"`) {
		t.Fatalf("picked: %s", apptest.Trim(body))
	}
}

// TestDripPages: a drip made on the form (steps with their waits), its
// page shows the steps; started, it lists who walks it; pause and resume;
// a contact taken off by hand.
func TestDripPages(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("MaiStory")
	ctx := context.Background()
	if _, err := app.Providers.Set(ctx, andy.Actor, ws.ID, mailer.Change{Kind: mailer.KindFile, FromEmail: "andy@mai.example"}); err != nil {
		t.Fatal(err)
	}
	tpl, err := app.Templates.Create(ctx, andy.Actor, ws.ID, emailtemplate.Change{Name: "Welcome", Subject: "Welcome {{first_name}}", BodyHTML: "<p>Hi</p>"})
	if err != nil {
		t.Fatal(err)
	}
	follow, err := app.Templates.Create(ctx, andy.Actor, ws.ID, emailtemplate.Change{Name: "Follow-up", Subject: "Still there?", BodyHTML: "<p>Hi again</p>"})
	if err != nil {
		t.Fatal(err)
	}
	ann := andy.Contact(ws.ID, "Ann", "ann@example.com")
	andy.Contact(ws.ID, "Bob", "bob@example.com")
	base := "/w/" + ws.ID
	resp, body := postForm(app, andy.Client, base+"/campaigns", url.Values{"name": {"Welcome series"}, "kind": {"drip"}}, false)
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "at least one step") {
		t.Fatalf("a drip without steps: %s", apptest.Trim(body))
	}
	resp, _ = postForm(app, andy.Client, base+"/campaigns", url.Values{"name": {"Welcome series"}, "kind": {"drip"},
		"step_tpl_1": {tpl.ID}, "step_tpl_2": {follow.ID}, "step_days_2": {"3"}, "step_hours_2": {"4"},
		"step_text_3": {"Hi {{first_name}}, a quick call this week?"}, "step_days_3": {"1"}, "step_from_3": {"09:00"}, "step_to_3": {"17:00"}, "step_weekdays_3": {"1"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	page := resp.Header.Get("Location")
	_, body = app.Do(andy.Client, http.MethodGet, page, nil, nil)
	if !strings.Contains(body, "Email: Welcome · at once after joining") || !strings.Contains(body, "Email: Follow-up · 3 days 4 hours after the step before") ||
		!strings.Contains(body, "Text: “Hi {{first_name}}, a quick call this week?” · 1 day after the step before · only 09:00–17:00, weekdays") || !strings.Contains(body, "Start the drip for 2 contacts") {
		t.Fatalf("the drip's page: %s", body)
	}
	id := page[strings.LastIndex(page, "/")+1:]
	app.PostForm(andy.Client, page+"/launch", nil)
	if _, body = app.Do(andy.Client, http.MethodGet, page, nil, nil); !strings.Contains(body, "Texting is not set up") {
		t.Fatalf("a drip with a text launched without texting: %s", apptest.Trim(body))
	}
	if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error { return events.SetSMSConfig(conn, "+14155550100") }); err != nil {
		t.Fatal(err)
	}
	app.PostForm(andy.Client, page+"/launch", nil)
	_, body = app.Do(andy.Client, http.MethodGet, page, nil, nil)
	if !strings.Contains(body, "2 walking it") || !strings.Contains(body, "Pause") || strings.Count(body, `data-enrollment="active"`) != 2 {
		t.Fatalf("started: %s", apptest.Trim(body))
	}
	app.PostForm(andy.Client, page+"/pause", nil)
	_, body = app.Do(andy.Client, http.MethodGet, page, nil, nil)
	if !strings.Contains(body, `data-status="paused"`) || !strings.Contains(body, ">Resume<") {
		t.Fatalf("paused: %s", apptest.Trim(body))
	}
	app.PostForm(andy.Client, page+"/resume", nil)
	app.PostForm(andy.Client, page+"/unenroll", url.Values{"contact_id": {ann.ID}})
	es, err := app.Campaigns.Enrollments(ctx, andy.Actor, ws.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	left := 0
	for _, e := range es {
		if e.ContactID == ann.ID && e.Status == "exited" {
			left++
		}
	}
	if left != 1 {
		t.Fatalf("taken off: %+v", es)
	}
	// The edit form keeps the steps.
	_, body = app.Do(andy.Client, http.MethodGet, page+"/edit", nil, nil)
	if !strings.Contains(body, `name="step_days_2" inputmode="numeric" class="input" value="3"`) || !strings.Contains(body, `>Hi {{first_name}}, a quick call this week?</textarea>`) ||
		!strings.Contains(body, `name="step_from_3" type="time" class="input w-auto" value="09:00"`) || !strings.Contains(body, `name="step_weekdays_3" value="1" checked`) {
		t.Fatalf("the edit form: %s", body)
	}
}

// TestSegmentPagesAndOffers: a saved segment made on its page keeps what
// was typed when refused, shows who it names, and a campaign made from it
// goes to it; the new campaign form offers the quick broad segments, which
// check their stages; a drip that asks is offered on the page of a contact
// in its segment, and the offer enrols them.
func TestSegmentPagesAndOffers(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("MaiStory")
	ctx := context.Background()
	if _, err := app.Providers.Set(ctx, andy.Actor, ws.ID, mailer.Change{Kind: mailer.KindFile, FromEmail: "andy@mai.example"}); err != nil {
		t.Fatal(err)
	}
	tpl, err := app.Templates.Create(ctx, andy.Actor, ws.ID, emailtemplate.Change{Name: "Welcome", Subject: "Welcome {{first_name}}", BodyHTML: "<p>Hi</p>"})
	if err != nil {
		t.Fatal(err)
	}
	stages, err := app.Lists.All(ctx, andy.Actor, ws.ID, list.Stage)
	if err != nil {
		t.Fatal(err)
	}
	stage := map[string]string{}
	for _, s := range stages {
		stage[s.Name] = s.ID
	}
	ann := andy.Contact(ws.ID, "Ann", "ann@example.com")
	andy.Contact(ws.ID, "Bob", "bob@example.com")
	prospects := stage["Prospects"]
	if err := app.Contacts.Bulk(ctx, andy.Actor, ws.ID, []string{ann.ID}, &prospects, "", true); err != nil {
		t.Fatal(err)
	}
	base := "/w/" + ws.ID
	// Ann, a prospect never contacted, is worth a re-engagement campaign.
	body := dashboard(t, app, andy.Client, base)
	if !strings.Contains(body, "1 contact in Leads, Prospects has not heard from you in 60 days") || !strings.Contains(body, `campaigns/new?name=Re-engagement&amp;not_within_days=60&amp;stage_id=`) {
		t.Fatalf("no re-engagement suggestion: %s", apptest.Trim(body))
	}
	resp, body := postForm(app, andy.Client, base+"/segments", url.Values{"name": {"Warm"}, "stage_id": {prospects}, "stale_days": {"soon"}}, false)
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, `value="Warm"`) || !strings.Contains(body, `value="`+prospects+`" checked`) || !strings.Contains(body, `value="soon"`) {
		t.Fatalf("a refused segment lost what was typed: %s", apptest.Trim(body))
	}
	resp, _ = postForm(app, andy.Client, base+"/segments", url.Values{"name": {"Warm"}, "stage_id": {prospects}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create segment: %d", resp.StatusCode)
	}
	segPage := resp.Header.Get("Location")
	_, body = app.Do(andy.Client, http.MethodGet, segPage, nil, nil)
	if !strings.Contains(body, "1 contact gets campaign mail") || !strings.Contains(body, ">Ann<") || strings.Contains(body, ">Bob<") {
		t.Fatalf("the segment's page: %s", apptest.Trim(body))
	}
	segID := segPage[strings.LastIndex(segPage, "/")+1:]
	_, body = app.Do(andy.Client, http.MethodGet, base+"/campaigns/new", nil, nil)
	if !strings.Contains(body, "Prospects and past clients") || !strings.Contains(body, "All active (not lost)") || !strings.Contains(body, `<option value="`+segID+`">Warm</option>`) {
		t.Fatalf("the new campaign form: %s", body[strings.Index(body, "<main"):])
	}
	// The suggestion's link leaves out who a campaign reached in its 60 days.
	_, body = app.Do(andy.Client, http.MethodGet, base+"/campaigns/new?name=Re-engagement&not_within_days=60&stale_days=60", nil, nil)
	if !regexp.MustCompile(`name="not_within_days"[^>]*value="60"`).MatchString(body) {
		t.Fatalf("the re-engagement form's exclusion: %s", apptest.Trim(body))
	}
	_, body = app.Do(andy.Client, http.MethodGet, base+"/campaigns/new?stage_id="+stage["Leads"]+"&stage_id="+prospects+"&stage_id="+stage["Closed"], nil, nil)
	if strings.Count(body, `" checked> `) != 3 || !strings.Contains(body, `value="`+stage["Closed"]+`" checked`) {
		t.Fatalf("a quick segment's stages unchecked: %s", apptest.Trim(body))
	}
	// A drip that asks, to the saved segment.
	resp, _ = postForm(app, andy.Client, base+"/campaigns", url.Values{"name": {"Welcome"}, "kind": {"drip"}, "step_tpl_1": {tpl.ID}, "segment_id": {segID}, "on_join": {"ask"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create drip: %d", resp.StatusCode)
	}
	drip := resp.Header.Get("Location")
	dripID := drip[strings.LastIndex(drip, "/")+1:]
	_, body = app.Do(andy.Client, http.MethodGet, drip, nil, nil)
	if !strings.Contains(body, "offered to who joins its segment") || !strings.Contains(body, "to the segment") {
		t.Fatalf("the drip's page: %s", apptest.Trim(body))
	}
	app.PostForm(andy.Client, drip+"/launch", nil)
	if err := app.Campaigns.Unenroll(ctx, andy.Actor, ws.ID, dripID, ann.ID); err != nil { // walked it: no longer offered
		t.Fatal(err)
	}
	cat := andy.Contact(ws.ID, "Cat", "cat@example.com")
	if err := app.Contacts.Bulk(ctx, andy.Actor, ws.ID, []string{cat.ID}, &prospects, "", true); err != nil {
		t.Fatal(err)
	}
	_, body = app.Do(andy.Client, http.MethodGet, base+"/contacts/"+cat.ID, nil, nil)
	if !strings.Contains(body, `data-offer="`+dripID+`"`) || !strings.Contains(body, "is in the segment of the drip “Welcome”") {
		t.Fatalf("no offer on Cat's page: %s", apptest.Trim(body))
	}
	if _, body = app.Do(andy.Client, http.MethodGet, base+"/contacts/"+ann.ID, nil, nil); strings.Contains(body, `data-offer=`) {
		t.Fatal("offered to a contact who walked it")
	}
	app.PostForm(andy.Client, drip+"/enroll", url.Values{"contact_id": {cat.ID}})
	if _, body = app.Do(andy.Client, http.MethodGet, base+"/contacts/"+cat.ID, nil, nil); strings.Contains(body, `data-offer=`) || !strings.Contains(body, "Enrolled") {
		t.Fatalf("after enrolling: %s", apptest.Trim(body))
	}
}
