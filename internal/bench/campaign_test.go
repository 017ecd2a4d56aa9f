package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/mailer"
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
}
