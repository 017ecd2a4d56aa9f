package campaign_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

func la(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestWindowNext: a step's window is read on the workspace's wall clock,
// across the spring and autumn daylight-saving changes, and weekdays-only
// skips the weekend.
func TestWindowNext(t *testing.T) {
	loc := la(t)
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	office := campaign.Window{Start: "09:00", End: "17:00", Weekdays: true}
	cases := []struct {
		w       campaign.Window
		t, want string
	}{
		{office, "2027-03-10 10:30", "2027-03-10 10:30"}, // open: now
		{office, "2027-03-10 08:59", "2027-03-10 09:00"},
		{office, "2027-03-10 17:00", "2027-03-11 09:00"}, // shut at its end
		{office, "2027-03-12 17:30", "2027-03-15 09:00"}, // Friday evening → Monday, after the spring change
		{office, "2027-11-06 12:00", "2027-11-08 09:00"}, // Saturday → Monday, after the autumn change
		{campaign.Window{Start: "09:00", End: "17:00"}, "2027-03-13 18:00", "2027-03-14 09:00"},
		{campaign.Window{Weekdays: true}, "2027-03-13 18:00", "2027-03-15 00:00"},
		{campaign.Window{}, "2027-03-13 18:00", "2027-03-13 18:00"},
	}
	for _, c := range cases {
		got := c.w.Next(at(c.t), loc)
		if want := at(c.want); !got.Equal(want) {
			t.Errorf("%v from %s: %s, want %s", c.w, c.t, got.In(loc), want)
		}
	}
	// 09:00 after the spring change is 16:00 UTC, not 17:00.
	if got := office.Next(at("2027-03-12 17:30"), loc).UTC().Hour(); got != 16 {
		t.Errorf("Monday 09:00 PDT is %d:00 UTC", got)
	}
}

// TestTextStepsWindowsAndExits walks a drip of a text then an email kept to
// office hours: the text goes to who has a phone (Cat, without one, is
// passed over to the email), the email waits for Monday 09:00 across the
// daylight-saving change, a contact who answers the text and one who texts
// STOP leave the drip, and Bob, with no email, finishes without it.
func TestTextStepsWindowsAndExits(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	none, tz := "", "America/Los_Angeles"
	if _, err := r.app.Workspaces.Update(ctx, r.andy.Actor, r.ws, workspace.Change{QuietStart: &none, QuietEnd: &none, TimeZone: &tz}); err != nil {
		t.Fatal(err)
	}
	mk := func(first, email, phone string) string {
		f := contact.Fields{FirstName: &first}
		if email != "" {
			f.Emails = &[]contact.EmailInput{{Address: email}}
		}
		if phone != "" {
			f.Phones = &[]contact.PhoneInput{{Number: phone, Primary: true}}
		}
		c, err := r.app.Contacts.Create(ctx, r.andy.Actor, r.ws, f, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.app.Contacts.Bulk(ctx, r.andy.Actor, r.ws, []string{c.ID}, nil, r.vip.ID, true); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	ann, bob := mk("Ann", "ann@example.com", "+14155550101"), mk("Bob", "", "+14155550102")
	cat, dee := mk("Cat", "cat@example.com", ""), mk("Dee", "dee@example.com", "+14155550104")
	mk("Eve", "", "") // no way to reach her
	steps := []campaign.Step{{Text: "Hi {{first_name}}, rates dropped. Reply to chat."},
		{Delay: time.Hour, TemplateID: r.tpl, Window: campaign.Window{Start: "09:00", End: "17:00", Weekdays: true}}}

	c, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Rates", Kind: campaign.Drip, Steps: steps, Segment: campaign.Segment{TagIDs: []string{r.vip.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID); errs.KindOf(err) != errs.Invalid {
		t.Fatalf("launch without texting set up: %v", err)
	}
	const ours = "+14155550100"
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error { return events.SetSMSConfig(conn, ours) }); err != nil {
		t.Fatal(err)
	}
	rs, err := r.app.Campaigns.Recipients(ctx, r.andy.Actor, r.ws, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := byName(rs); got["Bob"] != "" || got["Cat"] != "" || got["Eve"] != campaign.WhyNoEmail {
		t.Fatalf("who walks a text-and-email drip: %v", got)
	}
	l, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID)
	if err != nil || l.Enqueued != 4 || l.Excluded != 1 {
		t.Fatalf("launch: %+v %v", l, err)
	}
	loc := la(t)
	friday := time.Date(2027, 3, 12, 16, 30, 0, 0, loc) // the Friday before the spring change
	if n, err := campaign.DripTick(ctx, r.app.DB, friday); err != nil || n != 3 {
		t.Fatalf("the texts: %d %v", n, err)
	}
	type msg struct{ contact, channel, to, text string }
	var texts []msg
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `SELECT contact_id, channel, to_addr, coalesce(b.text, '') FROM outbox LEFT JOIN outbox_bodies b ON b.outbox_id = outbox.id WHERE campaign_id = ? ORDER BY to_addr`, &sqlitex.ExecOptions{Args: []any{c.ID},
			ResultFunc: func(st *sqlite.Stmt) error {
				texts = append(texts, msg{st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnText(3)})
				return nil
			}}); err != nil {
			return err
		}
		// crm-sender sent them; Ann answers, Dee texts STOP.
		if err := sqlitex.Execute(conn, `UPDATE outbox SET state = 'sent' WHERE campaign_id = ?`, &sqlitex.ExecOptions{Args: []any{c.ID}}); err != nil {
			return err
		}
		if _, err := events.Inbound(conn, "SMa", "+14155550101", ours, "Sounds good, call me", "poll", friday.Add(time.Minute)); err != nil {
			return err
		}
		_, err := events.Inbound(conn, "SMd", "+14155550104", ours, "stop", "poll", friday.Add(time.Minute))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(texts) != 3 || texts[0] != (msg{ann, "sms", "+14155550101", "Hi Ann, rates dropped. Reply to chat."}) || texts[1].contact != bob || texts[2].contact != dee {
		t.Fatalf("texts queued: %+v", texts)
	}
	es, err := r.app.Campaigns.Enrollments(ctx, r.andy.Actor, r.ws, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	monday := time.Date(2027, 3, 15, 9, 0, 0, 0, loc)
	for _, e := range es {
		if e.NextStep != 2 || !e.NextAt.Equal(monday) {
			t.Errorf("%s: step %d at %s, want step 2 at Monday 09:00 PDT", e.ContactID, e.NextStep, e.NextAt.In(loc))
		}
	}
	if n, err := campaign.DripTick(ctx, r.app.DB, monday.Add(-time.Minute)); err != nil || n != 0 {
		t.Fatalf("before the window: %d %v", n, err)
	}
	if n, err := campaign.DripTick(ctx, r.app.DB, monday); err != nil || n != 1 {
		t.Fatalf("Monday 09:00: %d sent (want Cat's email) %v", n, err)
	}
	es, err = r.app.Campaigns.Enrollments(ctx, r.andy.Actor, r.ws, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range es {
		got[e.ContactID] = e.Status + ":" + e.ExitReason
	}
	want := map[string]string{ann: "exited:" + campaign.ExitReplied, bob: "done:", cat: "done:", dee: "exited:" + campaign.WhyTextOptOut}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if n := r.outboxCount(t, c.ID); n != 4 {
		t.Fatalf("%d messages, want 3 texts and Cat's email", n)
	}
}

// TestTextStepChecks: a step is a template or a text, not both; a text
// with an unknown placeholder or too long, or a window that does not
// read, is refused with the step named.
func TestTextStepChecks(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	long := make([]byte, campaign.MaxText+1)
	for i := range long {
		long[i] = 'a'
	}
	for name, st := range map[string]campaign.Step{
		"both":        {TemplateID: r.tpl, Text: "Hi"},
		"placeholder": {Text: "Hi {{frist_name}}"},
		"long":        {Text: string(long)},
		"window":      {Text: "Hi", Window: campaign.Window{Start: "17:00", End: "09:00"}},
		"half window": {Text: "Hi", Window: campaign.Window{Start: "09:00"}},
	} {
		_, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "X", Kind: campaign.Drip, Steps: []campaign.Step{{TemplateID: r.tpl}, st}})
		if msg := errs.As(err).Fields["steps"]; msg == "" || msg[:7] != "Step 2:" {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestSavedSegmentsReadAtSendTime: a campaign naming a saved segment goes
// to who it names when it is launched, not when it was made; a segment a
// campaign still needs is not deleted; another user's segment is neither
// seen nor usable; a name is used once per workspace.
func TestSavedSegmentsReadAtSendTime(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.contact(t, "Ann", "ann@example.com", false, true)
	sg, err := r.app.Campaigns.CreateSegment(ctx, r.andy.Actor, r.ws, " VIPs ", campaign.Segment{TagIDs: []string{r.vip.ID}})
	if err != nil || sg.Name != "VIPs" {
		t.Fatalf("create: %+v %v", sg, err)
	}
	if _, err := r.app.Campaigns.CreateSegment(ctx, r.andy.Actor, r.ws, "VIPs", campaign.Segment{}); errs.As(err).Fields["name"] == "" {
		t.Fatalf("a second VIPs: %v", err)
	}
	c, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "News", TemplateID: r.tpl, SegmentID: sg.ID})
	if err != nil {
		t.Fatal(err)
	}
	r.contact(t, "Bob", "bob@example.com", false, true) // joins after the campaign was made
	if _, err := r.app.Campaigns.UpdateSegment(ctx, r.andy.Actor, r.ws, sg.ID, "VIPs", campaign.Segment{TagIDs: []string{r.vip.ID}, StageIDs: []string{"none"}}); err != nil {
		t.Fatal(err)
	}
	r.contact(t, "Cat", "cat@example.com", true, true) // in a stage: out of the edited segment
	if err := r.app.Campaigns.DeleteSegment(ctx, r.andy.Actor, r.ws, sg.ID); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("delete while a draft uses it: %v", err)
	}
	members, err := r.app.Campaigns.SegmentMembers(ctx, r.andy.Actor, r.ws, sg.ID)
	if err != nil || len(members) != 2 {
		t.Fatalf("members: %+v %v", members, err)
	}
	l, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID)
	if err != nil || l.Enqueued != 2 {
		t.Fatalf("launch: %+v %v", l, err)
	}
	if err := r.app.Campaigns.DeleteSegment(ctx, r.andy.Actor, r.ws, sg.ID); err != nil {
		t.Fatalf("delete once sent: %v", err)
	}

	monaWS := r.mona.Workspace("Mine").ID
	theirs, err := r.app.Campaigns.CreateSegment(ctx, r.mona.Actor, monaWS, "Mine", campaign.Segment{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.app.Campaigns.Segment(ctx, r.andy.Actor, monaWS, theirs.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("Andy reading Mona's segment: %v", err)
	}
	if _, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Sneak", TemplateID: r.tpl, SegmentID: theirs.ID}); errs.As(err).Fields["segment_id"] == "" {
		t.Fatalf("Andy's campaign to Mona's segment: %v", err)
	}
	if err := r.app.Campaigns.DeleteSegment(ctx, r.andy.Actor, r.ws, theirs.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("Andy deleting Mona's segment: %v", err)
	}
}

// TestAskEnrollSuggests: a drip set to ask is suggested on the page of a
// contact who joined its segment after it started (not enrolled by
// itself), once they may join; enrolled by hand, it is suggested no more,
// and they walk its steps.
func TestAskEnrollSuggests(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	none := ""
	if _, err := r.app.Workspaces.Update(ctx, r.andy.Actor, r.ws, workspace.Change{QuietStart: &none, QuietEnd: &none}); err != nil {
		t.Fatal(err)
	}
	c, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Welcome", Kind: campaign.Drip, AskEnroll: true,
		Steps: []campaign.Step{{TemplateID: r.tpl}}, Segment: campaign.Segment{StageID: r.prospects.ID}})
	if err != nil || !c.AskEnroll || c.AutoEnroll {
		t.Fatalf("create: %+v %v", c, err)
	}
	if _, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID); err != nil {
		t.Fatal(err)
	}
	bob := r.contact(t, "Bob", "bob@example.com", true, false)
	out := r.contact(t, "Out", "out@example.com", false, false)
	if n, err := campaign.DripTick(ctx, r.app.DB, time.Now().Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("a drip that asks enrolled by itself: %d %v", n, err)
	}
	sug := func(id string) int {
		t.Helper()
		cs, err := r.app.Campaigns.Suggested(ctx, r.andy.Actor, r.ws, id)
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	if sug(bob) != 1 || sug(out) != 0 {
		t.Fatalf("suggested: Bob %d, a contact outside the stage %d", sug(bob), sug(out))
	}
	if err := r.app.Campaigns.Enroll(ctx, r.mona.Actor, r.ws, c.ID, bob); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("Mona enrolling Andy's contact: %v", err)
	}
	if err := r.app.Campaigns.Enroll(ctx, r.andy.Actor, r.ws, c.ID, out); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("enrolling a contact outside the segment: %v", err)
	}
	if err := r.app.Campaigns.Enroll(ctx, r.andy.Actor, r.ws, c.ID, bob); err != nil {
		t.Fatal(err)
	}
	if sug(bob) != 0 {
		t.Fatal("still suggested once enrolled")
	}
	if err := r.app.Campaigns.Enroll(ctx, r.andy.Actor, r.ws, c.ID, bob); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("enrolled twice: %v", err)
	}
	if n, err := campaign.DripTick(ctx, r.app.DB, time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("Bob's step: %d %v", n, err)
	}
	var audited int
	if err := r.app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*) FROM audit_log WHERE action = 'campaign.enroll' AND entity_id = ?`, &sqlitex.ExecOptions{Args: []any{c.ID},
			ResultFunc: func(st *sqlite.Stmt) error { audited = st.ColumnInt(0); return nil }})
	}); err != nil {
		t.Fatal(err)
	}
	if audited != 1 {
		t.Fatalf("%d audit rows for the enrolment", audited)
	}
}

// TestReengageCounts: the suggestion counts the workspace's prospects and
// leads with no contact in 60 days, not the ones heard from lately or
// reached by a campaign lately, not a do-not-contact one, not another
// stage, not another user's.
func TestReengageCounts(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	stages, err := r.app.Lists.All(ctx, r.andy.Actor, r.ws, list.Stage)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, s := range stages {
		byName[s.Name] = s.ID
	}
	put := func(first, stage string, lastContact time.Duration, dnc bool) {
		id := r.contact(t, first, first+"@example.com", false, false)
		st := byName[stage]
		if err := r.app.Contacts.Bulk(ctx, r.andy.Actor, r.ws, []string{id}, &st, "", true); err != nil {
			t.Fatal(err)
		}
		if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
			last := any(nil)
			if lastContact > 0 {
				last = time.Now().Add(-lastContact).UTC().Format(time.RFC3339Nano)
			}
			return sqlitex.Execute(conn, `UPDATE contacts SET last_contact_at = ?, do_not_contact = ? WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{last, dnc, id}})
		}); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	put("ann", "Prospects", 90*day, false) // counts
	put("ned", "Leads", 0, false)          // never contacted: counts
	put("bob", "Prospects", 10*day, false)
	put("cat", "Leads", 90*day, true)
	put("dan", "Closed", 90*day, false)
	// Eve is as quiet as Ann, but a campaign reached her last week.
	put("eve", "Prospects", 90*day, false)
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		week := time.Now().Add(-7 * day).UTC().Format(time.RFC3339Nano)
		return sqlitex.Execute(conn, `INSERT INTO outbox (id, workspace_id, user_id, contact_id, channel, dedupe_key, message_id, provider, to_addr, from_addr, state, due_at, sent_at, created_at, updated_at, bulk)
SELECT 'eve-news', workspace_id, ?, id, 'email', 'campaign:x:0:eve', 'eve-1@example.com', 'file', 'eve@example.com', 'andy@example.com', 'sent', ?2, ?2, ?2, ?2, 1 FROM contacts WHERE first_name = 'eve'`,
			&sqlitex.ExecOptions{Args: []any{r.andy.ID, week}})
	}); err != nil {
		t.Fatal(err)
	}
	monaWS := r.mona.Workspace("Mine").ID
	r.mona.Contact(monaWS, "Secret", "secret@example.com")
	g, err := r.app.Campaigns.Reengage(ctx, r.andy.Actor, r.ws)
	if err != nil {
		t.Fatal(err)
	}
	if g.Count != 2 || g.Days != 60 || len(g.Stages) != 3 /* and the rig's Spring leads */ || !strings.Contains(g.Query, "stale_days=60") || !strings.Contains(g.Query, "not_within_days=60") || !strings.Contains(g.Query, byName["Prospects"]) || strings.Contains(g.Query, byName["Closed"]) {
		t.Fatalf("suggestion: %+v", g)
	}
	if _, err := r.app.Campaigns.Reengage(ctx, r.mona.Actor, r.ws); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("Mona reading Andy's suggestion: %v", err)
	}
}

// TestStatsCountAsTheyChange: a blast's figures follow its messages
// through claims, outcomes (a stale one counted nowhere), an expired claim
// and a resend, and the providers' events as they are recorded, each kind
// once per message; they match a count of the outbox.
func TestStatsCountAsTheyChange(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for _, n := range []string{"Ann", "Bob", "Cat", "Dan"} {
		r.contact(t, n, strings.ToLower(n)+"@example.com", false, true)
	}
	c, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "News", TemplateID: r.tpl, Segment: campaign.Segment{TagIDs: []string{r.vip.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID); err != nil {
		t.Fatal(err)
	}
	stats := func() campaign.Stats {
		t.Helper()
		st, err := r.app.Campaigns.StatsOf(ctx, r.andy.Actor, r.ws, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := stats(); st != (campaign.Stats{Queued: 4}) {
		t.Fatalf("launched: %+v", st)
	}
	// Each message is tied to its contact's log entry; campaign mail is no
	// personal contact, so no last-contact time moved.
	var tied, touched int
	if err := r.app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `SELECT count(*) FROM outbox o JOIN activities a ON a.id = o.activity_id AND a.contact_id = o.contact_id AND a.kind = 'email'
WHERE o.campaign_id = ?`, &sqlitex.ExecOptions{Args: []any{c.ID}, ResultFunc: func(st *sqlite.Stmt) error { tied = st.ColumnInt(0); return nil }}); err != nil {
			return err
		}
		return sqlitex.Execute(conn, `SELECT count(*) FROM contacts WHERE workspace_id = ? AND last_contact_at IS NOT NULL`,
			&sqlitex.ExecOptions{Args: []any{r.ws}, ResultFunc: func(st *sqlite.Stmt) error { touched = st.ColumnInt(0); return nil }})
	}); err != nil {
		t.Fatal(err)
	}
	if tied != 4 || touched != 0 {
		t.Fatalf("%d messages tied to their log entries (want 4), %d contacts' last contact moved (want 0)", tied, touched)
	}
	now := time.Now()
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		ms, err := outbox.Claim(conn, 10, time.Minute, now)
		if err != nil || len(ms) != 4 {
			return fmt.Errorf("claim: %d %v", len(ms), err)
		}
		slices.SortFunc(ms, func(a, b outbox.Message) int { return strings.Compare(a.To, b.To) }) // ann, bob, cat, dan
		out := func(m outbox.Message, st outbox.State, attempt string) outbox.Outcome {
			o := m.Outcome()
			o.State = st
			if attempt != "" {
				o.AttemptID = attempt
			}
			return o
		}
		if _, err := outbox.Record(conn, now, out(ms[0], outbox.Sent, ""), out(ms[1], outbox.Sent, ""), out(ms[2], outbox.Failed, ""),
			out(ms[2], outbox.Sent, "stale")); err != nil { // an outcome of no current attempt: counted nowhere
			return err
		}
		if n, err := outbox.Expire(conn, now.Add(2*time.Minute)); err != nil || n != 1 { // Dan's claim runs out
			return fmt.Errorf("expire: %d %v", n, err)
		}
		for _, e := range []events.Event{{ID: "d1", Kind: events.Delivered, OutboxID: ms[0].ID}, {ID: "d1b", Kind: events.Delivered, OutboxID: ms[0].ID},
			{ID: "d2", Kind: events.Delivered, OutboxID: ms[1].ID}, {ID: "r1", Kind: events.Replied, OutboxID: ms[1].ID}, {ID: "b3", Kind: events.Bounced, OutboxID: ms[2].ID}} {
			e.Provider, e.WorkspaceID, e.Via = "file", r.ws, "poll"
			if _, err := events.Record(conn, e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if st, want := stats(), (campaign.Stats{Sent: 2, Failed: 1, Unknown: 1, Delivered: 2, Replied: 1, Bounced: 1}); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	// The user resends Dan's: queued again; and the figures match a count of the outbox.
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		var dan string
		if err := sqlitex.Execute(conn, `SELECT id FROM outbox WHERE campaign_id = ? AND state = 'unknown'`, &sqlitex.ExecOptions{Args: []any{c.ID},
			ResultFunc: func(st *sqlite.Stmt) error { dan = st.ColumnText(0); return nil }}); err != nil {
			return err
		}
		return outbox.Decide(conn, dan, outbox.Queued, now)
	}); err != nil {
		t.Fatal(err)
	}
	if st := stats(); st.Queued != 1 || st.Unknown != 0 || st.Sent != 2 {
		t.Fatalf("after the resend: %+v", st)
	}
	if err := r.app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		kept, err := outbox.CampaignStates(conn, c.ID)
		if err != nil {
			return err
		}
		counted := map[outbox.State]int{}
		if err := sqlitex.Execute(conn, `SELECT state, count(*) FROM outbox WHERE campaign_id = ? GROUP BY state`, &sqlitex.ExecOptions{Args: []any{c.ID},
			ResultFunc: func(st *sqlite.Stmt) error { counted[outbox.State(st.ColumnText(0))] = st.ColumnInt(1); return nil }}); err != nil {
			return err
		}
		for k, v := range kept {
			if v == 0 {
				delete(kept, k)
			}
		}
		if fmt.Sprint(kept) != fmt.Sprint(counted) {
			return fmt.Errorf("kept %v, counted %v", kept, counted)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.app.Campaigns.StatsOf(ctx, r.mona.Actor, r.ws, c.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("Mona reading Andy's stats: %v", err)
	}
}

// TestBlastFillsEveryPlaceholder: a blast's messages, filled from their
// layout as crm-sender fills them, carry each recipient's names, company,
// nickname (or the fallback), job title, email and custom value, as their
// log entries do, and no one else's.
func TestBlastFillsEveryPlaceholder(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	rate, err := r.app.Contacts.CreateField(ctx, r.andy.Actor, r.ws, contact.FieldDef{Name: "Rate", Type: "text"}, false)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := r.app.Templates.Create(ctx, r.andy.Actor, r.ws, emailtemplate.Change{Name: "Full", Subject: "For {{first_name}} {{last_name}}",
		BodyHTML: `<p>{{nickname | "friend"}} of {{company}}, {{job_title}}: {{email}} at {{custom.rate | "no rate"}}</p>`})
	if err != nil {
		t.Fatal(err)
	}
	ann := r.contact(t, "Ann", "ann@example.com", false, true)
	nick, co, job, last := "Annie", "Homes & Co", "Broker", "Lee"
	if _, err := r.app.Contacts.Update(ctx, r.andy.Actor, r.ws, ann, contact.Fields{LastName: &last, Nickname: &nick, Company: &co, JobTitle: &job}, false); err != nil {
		t.Fatal(err)
	}
	if err := r.app.Contacts.SetCustom(ctx, r.andy.Actor, r.ws, ann, map[string]string{rate.ID: "6.1%"}); err != nil {
		t.Fatal(err)
	}
	r.contact(t, "Bob", "bob@example.com", false, true)
	c, err := r.app.Campaigns.Create(ctx, r.andy.Actor, r.ws, campaign.Change{Name: "Full", TemplateID: tpl.ID, Segment: campaign.Segment{TagIDs: []string{r.vip.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.app.Campaigns.Launch(ctx, r.andy.Actor, r.ws, c.ID); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{} // to -> the filled HTML and the log entry's text
	fill := emailtemplate.NewRenderer(2)
	if err := r.app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		ms, err := outbox.ListIn(conn, r.ws, "", 10)
		for _, m := range ms {
			l, err := outbox.LayoutIn(conn, m.LayoutID)
			if err != nil {
				return err
			}
			html, _ := fill.Fill(emailtemplate.Layout(l), m.Fill)
			var logged string
			if err := sqlitex.Execute(conn, `SELECT body ->> '$.text' FROM activities WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{m.ActivityID},
				ResultFunc: func(st *sqlite.Stmt) error { logged = st.ColumnText(0); return nil }}); err != nil {
				return err
			}
			got[m.To] = m.Subject + " | " + html + " | " + logged
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	a, b := got["ann@example.com"], got["bob@example.com"]
	if len(got) != 2 || !strings.HasPrefix(a, "For Ann Lee | ") || !strings.Contains(a, "Annie of Homes &amp; Co, Broker: ann@example.com at 6.1%") ||
		!strings.Contains(a, "Annie of Homes & Co, Broker: ann@example.com at 6.1%") {
		t.Fatalf("Ann's message and log entry: %q", a)
	}
	if !strings.HasPrefix(b, "For Bob  | ") || !strings.Contains(b, "friend of , : bob@example.com at no rate") || strings.Contains(b, "Ann") {
		t.Fatalf("Bob's message and log entry: %q", b)
	}
}
