package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/services"
	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
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
	none := "" // no quiet hours: the blast goes whatever the hour
	if _, err := svc.Workspaces.Update(ctx, actor, ws, workspace.Change{QuietStart: &none, QuietEnd: &none}); err != nil {
		t.Fatal(err)
	}
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
	if b.want("campaign_page") {
		b.campaignPage(svc, ws, c.ID)
	}
	if !b.want("drip_") {
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

// campaignPage measures the blast's page (what its progress refresh
// fetches every 2 s) under 8 clients while the real crm-sender sends its
// 10,000 messages through the file provider (campaign_page_p99_ms).
func (b *bench) campaignPage(svc *services.Services, ws, id string) {
	t := b.t
	base, web := startWeb(t, b.bin, b.vars)
	defer web.Stop(10 * time.Second)
	email, pw := demoLogin(t, b.dir)
	transport := &http.Transport{MaxIdleConnsPerHost: 16}
	mk := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		cl := &http.Client{Transport: transport, Jar: jar}
		if status := postForm(t, cl, base+"/login", url.Values{"email": {email}, "password": {pw}}); status != http.StatusOK {
			t.Fatalf("login: %d", status)
		}
		return cl
	}
	page := base + "/w/" + ws + "/campaigns/" + id
	if body := get(t, mk(), page, nil); !strings.Contains(body, `id="campaign-stats"`) {
		t.Fatalf("the campaign's page has no progress: %.500s", body)
	}
	t.Logf("the page before the send: p99 %.1f ms", load(t, 8, 10*time.Second, mk, []string{page}, nil))
	c := b.cmd("crm-sender", "PICRM_SENDER_POLL=1s")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer stop(c)
	sent := func() int {
		n := 0
		if err := svc.DB.Read(context.Background(), func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT count(*) FROM outbox WHERE campaign_id = ? AND state = 'sent'`, &sqlitex.ExecOptions{Args: []any{id},
				ResultFunc: func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }})
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for start := time.Now(); sent() == 0; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > time.Minute {
			t.Fatal("crm-sender sent none of the blast in a minute")
		}
	}
	p99 := load(t, 8, 5*time.Second, mk, []string{page}, nil)
	if n := sent(); n >= 10_000 {
		t.Logf("the blast was all sent before the load ended: the figure is partly of an idle sender")
	}
	b.report("campaign_page_p99_ms", p99, "ms")
}

// campaignSend measures crm-sender sending a blast of 10,000 to the local
// SMTP sink: campaign messages are filled from their stored layout and
// each one's log entry follows its state, which the one-off messages of
// sender_cpu_s_per_1000 do not (sender_campaign_cpu_s_per_1000,
// sender_campaign_msgs_per_s).
func (b *bench) campaignSend() {
	t := b.t
	svc, actor, _, done := b.openServices()
	defer done()
	ctx := context.Background()
	sk, port := b.startSink()
	ws := b.sinkWorkspace(svc, actor, "Bench campaign send", port)
	none := ""
	if _, err := svc.Workspaces.Update(ctx, actor, ws, workspace.Change{QuietStart: &none, QuietEnd: &none}); err != nil {
		t.Fatal(err)
	}
	for i := range 10_000 {
		first := fmt.Sprintf("Client%d", i)
		if _, err := svc.Contacts.Create(ctx, actor, ws, contact.Fields{FirstName: &first, Emails: &[]contact.EmailInput{{Address: fmt.Sprintf("client%d@example.com", i)}}}, true); err != nil {
			t.Fatal(err)
		}
	}
	tpl, err := svc.Templates.Create(ctx, actor, ws, emailtemplate.Change{Name: "Newsletter", Subject: "News for {{first_name}}",
		BodyHTML: `<h2>Hi {{first_name | "there"}}</h2><p>Rates moved this week. <a href="https://rateready.example/?e={{email}}">See yours</a></p><p>{{sender.name}}</p>`})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.Campaigns.Create(ctx, actor, ws, campaign.Change{Name: "Bench send", TemplateID: tpl.ID})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := svc.Campaigns.Launch(ctx, actor, ws, c.ID); err != nil || l.Enqueued != 10_000 {
		t.Fatalf("launch: %d queued, %v", l.Enqueued, err)
	}
	perS, cpu, _ := b.drain(10_000, func() bool { return sk.n.Load() >= 10_000 }, func() bool {
		st, err := svc.Campaigns.StatsOf(ctx, actor, ws, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return st.Sent >= 10_000
	})
	if got := sk.n.Load(); got != 10_000 {
		t.Fatalf("the sink got %d messages, want 10000", got)
	}
	b.report("sender_campaign_msgs_per_s", perS, "msgs/s")
	b.report("sender_campaign_cpu_s_per_1000", cpu, "s")
}
