package bench

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// campaigns measures launching a blast to 10,000 contacts of one tag
// (campaign_enqueue_10k_ms: the segment evaluated with its exclusions,
// each message rendered for its contact, queued and logged, in one
// transaction).
func (b *bench) campaigns() {
	t := b.t
	svc, actor, _, done := b.openServices()
	defer done()
	ctx := context.Background()
	ws := b.workspaceFor(svc, actor, "Bench campaigns", mailer.Change{Kind: mailer.KindFile, FromName: "Andy", FromEmail: "andy@bench.example"})
	tag, err := svc.Lists.Create(ctx, actor, ws, list.Tag, "Newsletter")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 10_000 {
		first, last := fmt.Sprintf("Client%d", i), "Nguyen"
		c, err := svc.Contacts.Create(ctx, actor, ws, contact.Fields{FirstName: &first, LastName: &last,
			Emails: &[]contact.EmailInput{{Address: fmt.Sprintf("client%d@example.com", i)}}}, true)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	for i := 0; i < len(ids); i += 500 {
		if err := svc.Contacts.Bulk(ctx, actor, ws, ids[i:min(i+500, len(ids))], nil, tag.ID, true); err != nil {
			t.Fatal(err)
		}
	}
	tpl, err := svc.Templates.Create(ctx, actor, ws, emailtemplate.Change{Name: "Newsletter", Subject: "News for {{first_name}}",
		BodyHTML: `<h2>Hi {{first_name | "there"}}</h2><p>Rates moved this week. <a href="https://rateready.example/?e={{email}}">See yours</a></p><p>{{sender.name}}</p>`})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.Campaigns.Create(ctx, actor, ws, campaign.Change{Name: "Bench", TemplateID: tpl.ID, Segment: campaign.Segment{TagIDs: []string{tag.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	l, err := svc.Campaigns.Launch(ctx, actor, ws, c.ID)
	took := time.Since(start)
	if err != nil || l.Enqueued != 10_000 {
		t.Fatalf("launch: %d queued, %v", l.Enqueued, err)
	}
	b.report("campaign_enqueue_10k_ms", float64(took.Microseconds())/1000, "ms")
	if !b.want("campaign_") && !b.want("drip_") {
		return
	}
	// A two-step drip on the same 10,000: a tick with 100 of them due,
	// then one with all of them due.
	d, err := svc.Campaigns.Create(ctx, actor, ws, campaign.Change{Name: "Bench drip", Kind: campaign.Drip,
		Steps: []campaign.Step{{Delay: time.Hour, TemplateID: tpl.ID}, {Delay: time.Hour, TemplateID: tpl.ID}}, Segment: campaign.Segment{TagIDs: []string{tag.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := svc.Campaigns.Launch(ctx, actor, ws, d.ID); err != nil || l.Enqueued != 10_000 {
		t.Fatalf("drip launch: %d enrolled, %v", l.Enqueued, err)
	}
	if err := svc.DB.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `UPDATE enrollments SET next_at = ?1 WHERE campaign_id = ?2 AND contact_id IN (SELECT contact_id FROM enrollments WHERE campaign_id = ?2 LIMIT 100)`,
			&sqlitex.ExecOptions{Args: []any{store.FormatTime(time.Now().Add(-time.Minute)), d.ID}})
	}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	n, err := campaign.DripTick(ctx, svc.DB, time.Now())
	if err != nil || n != 100 {
		t.Fatalf("tick: %d sent, %v", n, err)
	}
	b.report("drip_tick_ms", float64(time.Since(start).Microseconds())/1000, "ms")
	start = time.Now()
	if n, err := campaign.DripTick(ctx, svc.DB, time.Now().Add(2*time.Hour)); err != nil || n != 10_000 { // 9,900 first steps, 100 second ones
		t.Fatalf("tick, all due: %d sent, %v", n, err)
	}
	b.report("drip_tick_all_due_ms", float64(time.Since(start).Microseconds())/1000, "ms")
}
