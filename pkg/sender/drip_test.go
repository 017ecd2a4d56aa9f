package sender_test

import (
	"context"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/sender"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// TestDripExitOnReplyThroughGmail: a two-step drip in a Google workspace
// that needs approval, approved by its approver: step one goes through
// Gmail to both contacts; one replies (read from the inbox by the poll),
// and the same poll's drip tick sends step two to the other only: the one
// who replied left the drip.
func TestDripExitOnReplyThroughGmail(t *testing.T) {
	o := newOAuthRig(t)
	ctx := context.Background()
	if err := o.setGoogle(t, googleSecret); err != nil {
		t.Fatal(err)
	}
	o.signInGoogle(t)
	boss := o.app.NewUser("Boss")
	yes, none := true, ""
	if _, err := o.app.Workspaces.Update(ctx, o.andy.Actor, o.gWS, workspace.Change{CampaignsNeedApproval: &yes, ApproverUserID: &boss.Actor.UserID, QuietStart: &none, QuietEnd: &none}); err != nil {
		t.Fatal(err)
	}
	ann := o.andy.Contact(o.gWS, "Ann", "ann@example.com").ID
	tpl, err := o.app.Templates.Create(ctx, o.andy.Actor, o.gWS, emailtemplate.Change{Name: "Welcome", Subject: "Welcome, {{first_name}}", BodyHTML: "<p>Hi</p>"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.app.Campaigns.Create(ctx, o.andy.Actor, o.gWS, campaign.Change{Name: "Welcome", Kind: campaign.Drip,
		Steps: []campaign.Step{{TemplateID: tpl.ID}, {TemplateID: tpl.ID}}, Segment: campaign.Segment{ContactIDs: []string{ann, o.tomG}}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = o.app.Campaigns.Submit(ctx, o.andy.Actor, o.gWS, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := o.app.Campaigns.Approve(ctx, boss.Actor, c.ID, c.Version, ""); err != nil {
		t.Fatal(err)
	}
	if l, err := o.app.Campaigns.Launch(ctx, o.andy.Actor, o.gWS, c.ID); err != nil || l.Enqueued != 2 {
		t.Fatalf("launch: %+v %v", l, err)
	}
	s := o.sender(sender.Options{Settle: -1, Recheck: time.Millisecond})
	if err := s.Poll(ctx); err != nil { // the inbox's start, and step one queued
		t.Fatal(err)
	}
	msgs := func() map[string][]outbox.Message {
		out := map[string][]outbox.Message{}
		if err := o.app.DB.Read(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT id FROM outbox WHERE campaign_id = ? ORDER BY created_at`, &sqlitex.ExecOptions{Args: []any{c.ID},
				ResultFunc: func(st *sqlite.Stmt) error {
					m, _, err := outbox.Get(conn, st.ColumnText(0))
					out[m.ContactID] = append(out[m.ContactID], m)
					return err
				}})
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := msgs()
	if len(first[ann]) != 1 || len(first[o.tomG]) != 1 {
		t.Fatalf("step one: %v", first)
	}
	o.turnsUntil(t, s, func() bool { m := msgs(); return m[ann][0].State == outbox.Sent && m[o.tomG][0].State == outbox.Sent })
	o.g.Deliver("tom@example.com", "Re: Welcome, Tom", "<"+first[o.tomG][0].MessageID+">", "", "Thanks!")
	if err := s.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	after := msgs()
	if len(after[ann]) != 2 || len(after[o.tomG]) != 1 {
		t.Fatalf("after Tom's reply: Ann %d, Tom %d messages", len(after[ann]), len(after[o.tomG]))
	}
	es, err := o.app.Campaigns.Enrollments(ctx, o.andy.Actor, o.gWS, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.ContactID == o.tomG && (e.Status != "exited" || e.ExitReason != campaign.ExitReplied) {
			t.Fatalf("Tom: %+v", e)
		}
	}
	o.wantReplied(t, first[o.tomG][0].ID, 1)
}
