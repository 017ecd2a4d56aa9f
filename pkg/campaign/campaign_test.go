package campaign_test

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

type rig struct {
	app        *apptest.App
	andy, mona *apptest.User
	ws         string
	tpl        string
	prospects  list.List
	vip        list.List
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{app: apptest.New(t, apptest.Options{NoJobs: true})}
	r.andy, r.mona = r.app.NewUser("Andy"), r.app.NewUser("Mona")
	ctx := context.Background()
	r.ws = r.andy.Workspace("RateReady").ID
	if _, err := r.app.Providers.Set(ctx, r.andy.Actor, r.ws, mailer.Change{Kind: mailer.KindFile, FromName: "Andy", FromEmail: "andy@rateready.example"}); err != nil {
		t.Fatal(err)
	}
	tpl, err := r.app.Templates.Create(ctx, r.andy.Actor, r.ws, emailtemplate.Change{Name: "Rates", Subject: "Rates for {{first_name}}", BodyHTML: "<p>Hi {{first_name}}</p>"})
	if err != nil {
		t.Fatal(err)
	}
	r.tpl = tpl.ID
	if r.prospects, err = r.app.Lists.Create(ctx, r.andy.Actor, r.ws, list.Stage, "Spring leads"); err != nil {
		t.Fatal(err)
	}
	if r.vip, err = r.app.Lists.Create(ctx, r.andy.Actor, r.ws, list.Tag, "VIP"); err != nil {
		t.Fatal(err)
	}
	return r
}

// contact makes a contact in the rig's workspace, in the stage and tags given.
func (r *rig) contact(t *testing.T, first, email string, prospect, vip bool) string {
	t.Helper()
	f := contact.Fields{FirstName: &first}
	if email != "" {
		f.Emails = &[]contact.EmailInput{{Address: email}}
	}
	c, err := r.app.Contacts.Create(context.Background(), r.andy.Actor, r.ws, f, true)
	if err != nil {
		t.Fatal(err)
	}
	var stage *string
	if prospect {
		stage = &r.prospects.ID
	}
	tag := ""
	if vip {
		tag = r.vip.ID
	}
	if stage != nil || tag != "" {
		if err := r.app.Contacts.Bulk(context.Background(), r.andy.Actor, r.ws, []string{c.ID}, stage, tag, true); err != nil {
			t.Fatal(err)
		}
	}
	return c.ID
}

// reply records, inside the caller's transaction, that the contact
// answered campaign campaignID's message to them (a poll's event).
func (r *rig) reply(conn *sqlite.Conn, eventID, campaignID, contactID string) error {
	var msg string
	if err := sqlitex.Execute(conn, `SELECT id FROM outbox WHERE campaign_id = ? AND contact_id = ?`, &sqlitex.ExecOptions{Args: []any{campaignID, contactID},
		ResultFunc: func(st *sqlite.Stmt) error { msg = st.ColumnText(0); return nil }}); err != nil {
		return err
	}
	_, err := events.Record(conn, events.Event{Provider: "google", ID: eventID, WorkspaceID: r.ws, Kind: events.Replied, OutboxID: msg, Via: "poll"})
	return err
}

func (r *rig) outboxCount(t *testing.T, campaignID string) int {
	t.Helper()
	n := 0
	if err := r.app.DB.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*) FROM outbox WHERE campaign_id = ? AND bulk = 1`, &sqlitex.ExecOptions{Args: []any{campaignID},
			ResultFunc: func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }})
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func byName(rs []campaign.Recipient) map[string]string {
	out := map[string]string{}
	for _, r := range rs {
		out[r.Name] = r.Excluded
	}
	return out
}

// TestSegmentFiltersAndExclusions: a stage and a tag together name their
// contacts only; do-not-contact, unsubscribed and address-less ones are
// left out with the reason; contacts picked by hand name only the
// workspace's own (another user's id pasted in names nobody); a contact
// who got this campaign, or campaign mail within the days set, is left out.
func TestSegmentFiltersAndExclusions(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	ann := r.contact(t, "Ann", "ann@example.com", true, true)
	r.contact(t, "Bob", "bob@example.com", true, false)
	cat := r.contact(t, "Cat", "cat@example.com", true, true)
	dan := r.contact(t, "Dan", "dan@example.com", true, true)
	r.contact(t, "Eve", "", true, true)
	r.contact(t, "Fay", "fay@example.com", false, true)
	dnc := true
	if _, err := r.app.Contacts.Update(ctx, r.andy.Actor, r.ws, cat, contact.Fields{DoNotContact: &dnc}, false); err != nil {
		t.Fatal(err)
	}
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		return events.SetFlag(conn, r.ws, dan, events.FlagUnsubscribed, "unsubscribed (mailgun)")
	}); err != nil {
		t.Fatal(err)
	}
	monaWS := r.mona.Workspace("Mine").ID
	stranger := r.mona.Contact(monaWS, "Secret", "secret@example.com")

	c, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Spring", TemplateID: r.tpl,
		Segment: campaign.Segment{StageID: r.prospects.ID, TagIDs: []string{r.vip.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := r.app.Campaigns.Recipients(ctx, r.andy.Actor, r.ws, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := byName(rs)
	want := map[string]string{"Ann": "", "Cat": campaign.WhyDoNotContact, "Dan": campaign.WhyUnsubscribed, "Eve": campaign.WhyNoEmail}
	if len(got) != len(want) {
		t.Fatalf("recipients %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: %q (named %v), want %q", k, g, ok, v)
		}
	}
	// Picked by hand, another user's contact among them.
	picked, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Picked", TemplateID: r.tpl,
		Segment: campaign.Segment{ContactIDs: []string{ann, stranger.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	if rs, _ := r.app.Campaigns.Recipients(ctx, r.andy.Actor, r.ws, picked.ID); len(rs) != 1 || rs[0].ContactID != ann {
		t.Fatalf("picked: %+v", rs)
	}
	// Launched: Ann gets it once; then she is "already" for it and
	// "recent" for another campaign that leaves out the last week's.
	l, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID)
	if err != nil || l.Enqueued != 1 || l.Excluded != 3 || l.Campaign.Status != campaign.Sent {
		t.Fatalf("launch: %+v %v", l, err)
	}
	if rs, _ := r.app.Campaigns.Recipients(ctx, r.andy.Actor, r.ws, c.ID); byName(rs)["Ann"] != campaign.WhyAlready {
		t.Fatalf("after sending: %v", byName(rs))
	}
	next, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Summer", TemplateID: r.tpl,
		Segment: campaign.Segment{TagIDs: []string{r.vip.ID}, NotWithinDays: 7}})
	if err != nil {
		t.Fatal(err)
	}
	rs, _ = r.app.Campaigns.Recipients(ctx, r.andy.Actor, r.ws, next.ID)
	if g := byName(rs); g["Ann"] != campaign.WhyRecent || g["Fay"] != "" {
		t.Fatalf("not within 7 days: %v", g)
	}
	// A custom field's value, and an added-since date.
	field, err := r.app.Contacts.CreateField(ctx, r.andy.Actor, r.ws, contact.FieldDef{Name: "Loan type", Type: "text"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.app.Contacts.Update(ctx, r.andy.Actor, r.ws, ann, contact.Fields{Custom: map[string]string{field.ID: "VA"}}, false); err != nil {
		t.Fatal(err)
	}
	va, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "VA", TemplateID: r.tpl,
		Segment: campaign.Segment{Custom: map[string]string{field.ID: "VA"}}})
	if err != nil {
		t.Fatal(err)
	}
	if rs, _ := r.app.Campaigns.Recipients(ctx, r.andy.Actor, r.ws, va.ID); len(rs) != 1 || rs[0].ContactID != ann {
		t.Fatalf("custom field: %+v", rs)
	}
	later, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "New ones", TemplateID: r.tpl, Segment: campaign.Segment{CreatedSince: time.Now().Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if rs, _ := r.app.Campaigns.Recipients(ctx, r.andy.Actor, r.ws, later.ID); len(rs) != 0 {
		t.Fatalf("added since a time to come: %d", len(rs))
	}
	monaField, err := r.app.Contacts.CreateField(ctx, r.mona.Actor, monaWS, contact.FieldDef{Name: "Secret", Type: "text"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "X", TemplateID: r.tpl, Segment: campaign.Segment{Custom: map[string]string{monaField.ID: "x"}}}); errs.As(err).Fields["custom"] == "" {
		t.Fatalf("another workspace's field: %v", err)
	}
	// Bad segments are refused by field; another user's workspace is not found.
	_, err = r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Bad", TemplateID: r.tpl, Segment: campaign.Segment{TagIDs: []string{"nope"}, StaleDays: -1}})
	if f := errs.As(err).Fields; f["tag_ids"] == "" || f["stale_days"] == "" {
		t.Fatalf("bad segment: %v", err)
	}
	if _, err := r.app.Campaigns.Get(ctx, r.mona.Actor, r.ws, c.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("Mona reading Andy's campaign: %v", err)
	}
	if _, err := r.app.Campaigns.Get(ctx, r.mona.Actor, monaWS, c.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("Mona reading Andy's campaign under her workspace: %v", err)
	}
}

// TestApprovalGatesTheOutbox: in a workspace that needs approval, a
// campaign reaches the outbox only after its designated approver approved
// the version launched: the author, another user and an approver of
// another workspace cannot approve; an edit after approval needs approval
// again; a rejection needs notes and goes back to the author; each step is
// audited.
func TestApprovalGatesTheOutbox(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	boss := r.app.NewUser("Boss")
	yes := true
	if _, err := r.app.Workspaces.Update(ctx, r.andy.Actor, r.ws, workspace.Change{CampaignsNeedApproval: &yes, ApproverUserID: &boss.Actor.UserID}); err != nil {
		t.Fatal(err)
	}
	// Mona names Boss approver of her own workspace: no grant over Andy's.
	monaWS := r.mona.Workspace("Mine").ID
	if _, err := r.app.Workspaces.Update(ctx, r.mona.Actor, monaWS, workspace.Change{CampaignsNeedApproval: &yes, ApproverUserID: &r.mona.Actor.UserID}); err != nil {
		t.Fatal(err)
	}
	r.contact(t, "Ann", "ann@example.com", true, true)
	r.contact(t, "Bob", "bob@example.com", true, false)
	c, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Loan promo", TemplateID: r.tpl, Segment: campaign.Segment{StageID: r.prospects.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("launch before approval: %v", err)
	}
	if c, err = r.app.Campaigns.Submit(ctx, r.andy.Actor, r.ws, c.ID); err != nil || c.Status != campaign.Pending {
		t.Fatalf("submit: %+v %v", c, err)
	}
	for name, who := range map[string]*apptest.User{"the author": r.andy, "another user": r.mona} {
		if _, err := r.app.Campaigns.Approve(ctx, who.Actor, c.ID, c.Version, ""); errs.KindOf(err) != errs.NotFound {
			t.Errorf("%s approving: %v", name, err)
		}
		if p, _ := r.app.Campaigns.PendingFor(ctx, who.Actor); len(p) != 0 {
			t.Errorf("%s sees %d pending", name, len(p))
		}
	}
	pending, err := r.app.Campaigns.PendingFor(ctx, boss.Actor)
	if err != nil || len(pending) != 1 || pending[0].ID != c.ID {
		t.Fatalf("the approver's queue: %+v %v", pending, err)
	}
	if _, err := r.app.Campaigns.Get(ctx, boss.Actor, r.ws, c.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("the approver has no access to the workspace itself: %v", err)
	}
	if _, err := r.app.Campaigns.Reject(ctx, boss.Actor, c.ID, c.Version, " "); errs.As(err).Fields["notes"] == "" {
		t.Fatalf("a rejection without notes: %v", err)
	}
	if c, err = r.app.Campaigns.Reject(ctx, boss.Actor, c.ID, c.Version, "Add the NMLS number."); err != nil || c.Status != campaign.Rejected || c.ReviewNotes != "Add the NMLS number." {
		t.Fatalf("reject: %+v %v", c, err)
	}
	if _, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("launch after rejection: %v", err)
	}
	c, err = r.app.Campaigns.Update(ctx, r.andy.Actor, r.ws, c.ID, campaign.Change{Name: "Loan promo (NMLS 123)", TemplateID: r.tpl, Segment: c.Segment})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = r.app.Campaigns.Submit(ctx, r.andy.Actor, r.ws, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.app.Campaigns.Approve(ctx, boss.Actor, c.ID, c.Version-1, ""); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("approving a version not the current one: %v", err)
	}
	if c, err = r.app.Campaigns.Approve(ctx, boss.Actor, c.ID, c.Version, "Good to go"); err != nil || c.Status != campaign.Approved {
		t.Fatalf("approve: %+v %v", c, err)
	}
	// An edit after approval: approval again.
	if c, err = r.app.Campaigns.Update(ctx, r.andy.Actor, r.ws, c.ID, campaign.Change{Name: "Loan promo!", TemplateID: r.tpl, Segment: c.Segment}); err != nil || c.Status != campaign.Draft {
		t.Fatalf("edit after approval: %+v %v", c, err)
	}
	if _, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID); errs.KindOf(err) != errs.Conflict || r.outboxCount(t, c.ID) != 0 {
		t.Fatalf("launching an edit nobody approved: %v", err)
	}
	if c, err = r.app.Campaigns.Submit(ctx, r.andy.Actor, r.ws, c.ID); err != nil {
		t.Fatal(err)
	}
	if c, err = r.app.Campaigns.Approve(ctx, boss.Actor, c.ID, c.Version, ""); err != nil {
		t.Fatal(err)
	}
	l, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID)
	if err != nil || l.Enqueued != 2 || r.outboxCount(t, c.ID) != 2 {
		t.Fatalf("launch: %+v %v", l, err)
	}
	if _, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID); errs.KindOf(err) != errs.Conflict || r.outboxCount(t, c.ID) != 2 {
		t.Fatalf("launching twice: %v", err)
	}
	var actions []string
	if err := r.app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT action FROM audit_log WHERE entity_type = 'campaign' AND entity_id = ? ORDER BY rowid`, &sqlitex.ExecOptions{Args: []any{c.ID},
			ResultFunc: func(st *sqlite.Stmt) error { actions = append(actions, st.ColumnText(0)); return nil }})
	}); err != nil {
		t.Fatal(err)
	}
	want := "campaign.create campaign.submit campaign.reject campaign.update campaign.submit campaign.approve campaign.update campaign.submit campaign.approve campaign.launch"
	if strings.Join(actions, " ") != want {
		t.Fatalf("audit:\n%s\nwant\n%s", strings.Join(actions, " "), want)
	}
}

// TestScheduledBlast: a campaign with a time waits for it (nothing in the
// outbox), crm-sender's tick queues it once its time has come, and never
// twice; a cancelled one is never queued.
func TestScheduledBlast(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.contact(t, "Ann", "ann@example.com", true, false)
	r.contact(t, "Bob", "bob@example.com", true, false)
	at := time.Now().Add(time.Hour)
	c, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Holiday", TemplateID: r.tpl, SendAt: at, Segment: campaign.Segment{StageID: r.prospects.ID}})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Dropped", TemplateID: r.tpl, SendAt: at, Segment: campaign.Segment{StageID: r.prospects.ID}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{c.ID, gone.ID} {
		if l, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, id); err != nil || !l.Scheduled || l.Campaign.Status != campaign.Scheduled {
			t.Fatalf("schedule: %+v %v", l, err)
		}
	}
	if err := r.app.Campaigns.Cancel(ctx, r.andy.Actor, r.ws, gone.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := campaign.EnqueueDue(ctx, r.app.DB, time.Now()); err != nil || n != 0 || r.outboxCount(t, c.ID) != 0 {
		t.Fatalf("before its time: %d %v", n, err)
	}
	for i, want := range []int{1, 0} {
		if n, err := campaign.EnqueueDue(ctx, r.app.DB, at.Add(time.Minute)); err != nil || n != want {
			t.Fatalf("tick %d: %d %v", i, n, err)
		}
	}
	if r.outboxCount(t, c.ID) != 2 || r.outboxCount(t, gone.ID) != 0 {
		t.Fatalf("queued %d and %d", r.outboxCount(t, c.ID), r.outboxCount(t, gone.ID))
	}
	st, err := r.app.Campaigns.StatsOf(ctx, r.andy.Actor, r.ws, c.ID)
	if err != nil || st.Queued != 2 {
		t.Fatalf("stats %+v %v", st, err)
	}
	// One whose workspace can no longer send email when its time comes
	// waits, scheduled, with nothing queued.
	later, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Later", TemplateID: r.tpl, SendAt: at.Add(time.Hour), Segment: campaign.Segment{StageID: r.prospects.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, later.ID); err != nil || !l.Scheduled {
		t.Fatalf("schedule later: %+v %v", l, err)
	}
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `DELETE FROM email_providers WHERE workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{r.ws}})
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := campaign.EnqueueDue(ctx, r.app.DB, at.Add(2*time.Hour)); err == nil || n != 0 || r.outboxCount(t, later.ID) != 0 {
		t.Fatalf("due without email set up: %d sent, %v, %d queued", n, err, r.outboxCount(t, later.ID))
	}
	if again, err := r.app.Campaigns.Get(ctx, r.andy.Actor, r.ws, later.ID); err != nil || again.Status != campaign.Scheduled {
		t.Fatalf("after a due tick without email: %+v %v", again, err)
	}
	if _, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Past", TemplateID: r.tpl, SendAt: time.Now().Add(-time.Hour)}); errs.As(err).Fields["send_at"] == "" {
		t.Fatalf("a time in the past: %v", err)
	}
	names := []string{}
	all, _ := r.app.Campaigns.List(ctx, r.andy.Actor, r.ws)
	for _, x := range all {
		names = append(names, x.Name+":"+string(x.Status))
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "Dropped:cancelled Holiday:sent Later:scheduled" {
		t.Fatalf("list: %v", names)
	}
}

// TestDripSweepExitsBeforeTheNextStep: who replies to a drip's message,
// or is marked do-not-contact, leaves the drip at the next tick, long
// before the next step falls due; whoever did neither stays on it.
func TestDripSweepExitsBeforeTheNextStep(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	none := ""
	if _, err := r.app.Workspaces.Update(ctx, r.andy.Actor, r.ws, workspace.Change{QuietStart: &none, QuietEnd: &none}); err != nil {
		t.Fatal(err)
	}
	ann, bob, cat := r.contact(t, "Ann", "ann@example.com", false, true), r.contact(t, "Bob", "bob@example.com", false, true),
		r.contact(t, "Cat", "cat@example.com", false, true)
	c, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Welcome", Kind: campaign.Drip,
		Steps: []campaign.Step{{Delay: 0, TemplateID: r.tpl}, {Delay: 24 * time.Hour, TemplateID: r.tpl}}, Segment: campaign.Segment{TagIDs: []string{r.vip.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if _, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := campaign.DripTick(ctx, r.app.DB, t0.Add(time.Minute)); err != nil || n != 3 {
		t.Fatalf("step 1: %d sent %v", n, err)
	}
	// Ann replies to step 1; Bob is marked do-not-contact; Cat replies to
	// a one-off email, which does not take her off the drip.
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		if err := r.reply(conn, "reply:ann", c.ID, ann); err != nil {
			return err
		}
		catMsg, _, err := outbox.Enqueue(conn, outbox.Message{WorkspaceID: r.ws, UserID: r.andy.Actor.UserID, ContactID: cat, DedupeKey: "one-off:cat",
			Provider: mailer.KindFile, To: "cat@example.com", From: "andy@example.com", Subject: "About your rate", Text: "Hi Cat"}, t0)
		if err != nil {
			return err
		}
		_, err = events.Record(conn, events.Event{Provider: "google", ID: "reply:cat", WorkspaceID: r.ws, Kind: events.Replied, OutboxID: catMsg, Via: "poll"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	dnc := true
	if _, err := r.app.Contacts.Update(ctx, r.andy.Actor, r.ws, bob, contact.Fields{DoNotContact: &dnc}, false); err != nil {
		t.Fatal(err)
	}
	if n, err := campaign.DripTick(ctx, r.app.DB, t0.Add(2*time.Minute)); err != nil || n != 0 {
		t.Fatalf("the tick after: %d sent %v", n, err)
	}
	es, err := r.app.Campaigns.Enrollments(ctx, r.andy.Actor, r.ws, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range es {
		got[e.ContactID] = e.Status + ":" + e.ExitReason + ":" + strconv.Itoa(e.NextStep)
	}
	want := map[string]string{ann: "exited:" + campaign.ExitReplied + ":2", bob: "exited:" + campaign.WhyDoNotContact + ":2", cat: "active::2"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("enrollment %s: %q, want %q", k, got[k], v)
		}
	}
}

// TestDripWalksStepsAndExits: a three-step drip on a tag sends each step
// at its delay, each contact each step once however often the tick runs;
// a contact leaves it on a reply, an unsubscribe, or leaving the tag, or
// when taken off by hand; pausing holds every place, resuming goes on from
// it, and an edit stops the drip until it is launched again, places kept.
func TestDripWalksStepsAndExits(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	none := ""
	if _, err := r.app.Workspaces.Update(ctx, r.andy.Actor, r.ws, workspace.Change{QuietStart: &none, QuietEnd: &none}); err != nil {
		t.Fatal(err)
	}
	ann, bob, cat, dan := r.contact(t, "Ann", "ann@example.com", false, true), r.contact(t, "Bob", "bob@example.com", false, true),
		r.contact(t, "Cat", "cat@example.com", false, true), r.contact(t, "Dan", "dan@example.com", false, true)
	steps := []campaign.Step{{Delay: 0, TemplateID: r.tpl}, {Delay: time.Hour, TemplateID: r.tpl}, {Delay: 2 * time.Hour, TemplateID: r.tpl}}
	if _, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Bad", Kind: campaign.Drip}); errs.As(err).Fields["steps"] == "" {
		t.Fatalf("a drip without steps: %v", err)
	}
	c, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Welcome", Kind: campaign.Drip, Steps: steps, Segment: campaign.Segment{TagIDs: []string{r.vip.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	l, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID)
	if err != nil || l.Enqueued != 4 || l.Campaign.Status != campaign.Running {
		t.Fatalf("launch: %+v %v", l, err)
	}
	tick := func(at time.Duration, want int) {
		t.Helper()
		n, err := campaign.DripTick(ctx, r.app.DB, t0.Add(at))
		if err != nil || n != want {
			t.Fatalf("tick at +%v: %d sent, want %d (%v)", at, n, want, err)
		}
	}
	tick(time.Minute, 4)
	tick(2*time.Minute, 0)
	// Ann replies to step 1, Bob unsubscribes, Cat leaves the tag.
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		if err := r.reply(conn, "reply:1", c.ID, ann); err != nil {
			return err
		}
		return events.SetFlag(conn, r.ws, bob, events.FlagUnsubscribed, "unsubscribed")
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.app.Contacts.Bulk(ctx, r.andy.Actor, r.ws, []string{cat}, nil, r.vip.ID, false); err != nil {
		t.Fatal(err)
	}
	tick(30*time.Minute, 0)
	tick(61*time.Minute, 1) // Dan's step 2
	where := func() map[string]string {
		es, err := r.app.Campaigns.Enrollments(ctx, r.andy.Actor, r.ws, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, e := range es {
			out[e.ContactID] = e.Status + ":" + e.ExitReason + ":" + strconv.Itoa(e.NextStep)
		}
		return out
	}
	got := where()
	want := map[string]string{ann: "exited:replied:2", bob: "exited:" + campaign.WhyUnsubscribed + ":2", cat: "exited:" + campaign.ExitLeft + ":2", dan: "active::3"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("enrollment %s: %q, want %q", k, got[k], v)
		}
	}
	// Paused, nothing goes; resumed, Dan's last step goes and Dan is done.
	if err := r.app.Campaigns.Pause(ctx, r.andy.Actor, r.ws, c.ID); err != nil {
		t.Fatal(err)
	}
	tick(4*time.Hour, 0)
	if err := r.app.Campaigns.Resume(ctx, r.andy.Actor, r.ws, c.ID); err != nil {
		t.Fatal(err)
	}
	// An edit stops it until launched again; places are kept.
	c, err = r.app.Campaigns.Get(ctx, r.andy.Actor, r.ws, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The edit gives the step Dan has not had yet another template.
	last, err := r.app.Templates.Create(ctx, r.andy.Actor, r.ws, emailtemplate.Change{Name: "Last call", Subject: "Last call, {{first_name}}", BodyHTML: "<p>Last call</p>"})
	if err != nil {
		t.Fatal(err)
	}
	edited := slices.Clone(steps)
	edited[2].TemplateID = last.ID
	if _, err := r.app.Campaigns.Update(ctx, r.andy.Actor, r.ws, c.ID, campaign.Change{Name: "Welcome (new)", Kind: campaign.Drip, Steps: edited, Segment: c.Segment}); err != nil {
		t.Fatal(err)
	}
	tick(4*time.Hour, 0)
	if l, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID); err != nil || l.Enqueued != 0 {
		t.Fatalf("relaunch: %+v %v", l, err)
	}
	tick(4*time.Hour, 1)
	if where()[dan] != "done::3" {
		t.Fatalf("Dan at the end: %q", where()[dan])
	}
	tick(10*time.Hour, 0)
	if n := r.outboxCount(t, c.ID); n != 6 {
		t.Fatalf("%d messages, want 6 (4 + Dan's 2)", n)
	}
	var third string
	if err := r.app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT subject FROM outbox WHERE dedupe_key = ?`, &sqlitex.ExecOptions{Args: []any{"campaign:" + c.ID + ":3:" + dan},
			ResultFunc: func(st *sqlite.Stmt) error { third = st.ColumnText(0); return nil }})
	}); err != nil {
		t.Fatal(err)
	}
	if third != "Last call, Dan" {
		t.Fatalf("Dan's third step after the edit: %q, want the edited step's", third)
	}
	// Taken off by hand.
	d2, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Second", Kind: campaign.Drip, Steps: steps[:1], Segment: campaign.Segment{ContactIDs: []string{dan}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, d2.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.app.Campaigns.Unenroll(ctx, r.andy.Actor, r.ws, d2.ID, dan); err != nil {
		t.Fatal(err)
	}
	tick(11*time.Hour, 0)
	if err := r.app.Campaigns.Unenroll(ctx, r.mona.Actor, r.ws, d2.ID, dan); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("another user unenrolling: %v", err)
	}
}

// TestWelcomeDripEnrolsNewMembers: a running drip set to enrol who joins
// its segment later picks up a contact tagged after it started (and sends
// them the first step); one not set so leaves them out.
func TestWelcomeDripEnrolsNewMembers(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	none := ""
	if _, err := r.app.Workspaces.Update(ctx, r.andy.Actor, r.ws, workspace.Change{QuietStart: &none, QuietEnd: &none}); err != nil {
		t.Fatal(err)
	}
	r.contact(t, "Ann", "ann@example.com", false, true)
	steps := []campaign.Step{{TemplateID: r.tpl}, {Delay: 24 * time.Hour, TemplateID: r.tpl}}
	welcome, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Welcome", Kind: campaign.Drip, AutoEnroll: true, Steps: steps,
		Segment: campaign.Segment{TagIDs: []string{r.vip.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	fixed, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Fixed", Kind: campaign.Drip, Steps: steps,
		Segment: campaign.Segment{TagIDs: []string{r.vip.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{welcome.ID, fixed.ID} {
		if _, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, id); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := campaign.DripTick(ctx, r.app.DB, time.Now().Add(time.Minute)); err != nil || n != 2 {
		t.Fatalf("first steps: %d %v", n, err)
	}
	bob := r.contact(t, "Bob", "bob@example.com", false, true) // joins the tag later
	if n, err := campaign.DripTick(ctx, r.app.DB, time.Now().Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("after Bob joined: %d %v", n, err)
	}
	count := func(id string) int {
		es, err := r.app.Campaigns.Enrollments(ctx, r.andy.Actor, r.ws, id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range es {
			if e.ContactID == bob {
				n++
			}
		}
		return n
	}
	if count(welcome.ID) != 1 || count(fixed.ID) != 0 {
		t.Fatalf("Bob enrolled: welcome %d, fixed %d", count(welcome.ID), count(fixed.ID))
	}
}
