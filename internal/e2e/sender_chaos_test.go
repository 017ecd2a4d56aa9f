package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/fakemailgun"
	"github.com/pi-crm/pi-crm/internal/services"
	"github.com/pi-crm/pi-crm/internal/testrig"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/secrets"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// TestSenderChaos queues 10,000 messages for a Mailgun workspace and
// SIGKILLs crm-sender at random points five times while it sends them,
// then lets a last one finish: every message reaches the provider exactly
// once, every claim a kill left behind was reconciled (none is left
// unknown), and the outbox says sent for all of them.
func TestSenderChaos(t *testing.T) {
	const total = 10_000
	r := newChaosRig(t)
	start := time.Now()
	if err := r.db.Write(context.Background(), func(conn *sqlite.Conn) error {
		for i := range total {
			if _, _, err := outbox.Enqueue(conn, outbox.Message{WorkspaceID: r.ws, UserID: r.user, DedupeKey: fmt.Sprintf("chaos:%d", i), Provider: mailer.KindMailgun,
				To: fmt.Sprintf("client%05d@example.com", i), From: "andy@mg.rateready.example", Subject: "Rates moved", Text: "Hi, rates moved."}, time.Now()); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("queued %d in %v", total, time.Since(start))
	r.chaos(t, total)
}

// TestCampaignChaos launches a campaign to 10,000 contacts and SIGKILLs
// crm-sender five times while it sends: each recipient gets it exactly
// once.
func TestCampaignChaos(t *testing.T) {
	const total = 10_000
	r := newChaosRig(t)
	ctx := context.Background()
	tag, err := r.svc.Lists.Create(ctx, r.actor, r.ws, list.Tag, "Newsletter")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range total {
		first := fmt.Sprintf("Client%05d", i)
		c, err := r.svc.Contacts.Create(ctx, r.actor, r.ws, contact.Fields{FirstName: &first, Emails: &[]contact.EmailInput{{Address: fmt.Sprintf("client%05d@example.com", i)}}}, true)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	for i := 0; i < len(ids); i += 500 {
		if err := r.svc.Contacts.Bulk(ctx, r.actor, r.ws, ids[i:min(i+500, len(ids))], nil, tag.ID, true); err != nil {
			t.Fatal(err)
		}
	}
	tpl, err := r.svc.Templates.Create(ctx, r.actor, r.ws, emailtemplate.Change{Name: "News", Subject: "News for {{first_name}}", BodyHTML: "<p>Hi {{first_name}}</p>"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.svc.Campaigns.Create(ctx, r.actor, r.ws, campaign.Change{Name: "Blast", TemplateID: tpl.ID, Segment: campaign.Segment{TagIDs: []string{tag.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := r.svc.Campaigns.Launch(ctx, r.actor, r.ws, c.ID); err != nil || l.Enqueued != total {
		t.Fatalf("launch: %+v %v", l, err)
	}
	r.chaos(t, total)
	// Each recipient once: one message a contact, none without one.
	var perContact, contacts int
	if err := r.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(DISTINCT contact_id), count(*) FROM outbox WHERE campaign_id = ?`, &sqlitex.ExecOptions{Args: []any{c.ID},
			ResultFunc: func(st *sqlite.Stmt) error { contacts, perContact = st.ColumnInt(0), st.ColumnInt(1); return nil }})
	}); err != nil {
		t.Fatal(err)
	}
	if contacts != total || perContact != total {
		t.Fatalf("%d messages for %d contacts, want %d each", perContact, contacts, total)
	}
	// The figures kept through every kill match the outbox: all sent.
	st, err := r.svc.Campaigns.StatsOf(ctx, r.actor, r.ws, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != total || st.Queued != 0 || st.Unknown != 0 || st.Failed != 0 {
		t.Fatalf("the campaign's figures after the kills: %+v, want %d sent", st, total)
	}
}

// chaosRig is an appliance with a Mailgun workspace (no quiet hours) on a
// local Mailgun.
type chaosRig struct {
	e     *env
	db    *store.DB
	svc   *services.Services
	fake  *fakemailgun.Server
	actor auth.Actor
	user  string
	ws    string
}

func newChaosRig(t *testing.T) *chaosRig {
	t.Helper()
	e := newEnv(t)
	e.ctl("", "migrate")
	e.ctl("s3cret-enough-pw\n", "user", "add", "--email", "andy@example.com", "--name", "Andy")
	fake := fakemailgun.New("key-chaos")
	t.Cleanup(fake.Close)

	db, err := store.Open(filepath.Join(e.dir, "pi-crm.db"), store.Options{PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ring, err := secrets.LoadFile(filepath.Join(e.dir, secrets.FileName), false)
	if err != nil {
		t.Fatalf("crmctl migrate made no secret keys: %v", err)
	}
	ctx := context.Background()
	svc := services.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)), services.Options{DataDir: e.dir, Ring: ring})
	u, err := svc.Auth.UserByEmail(ctx, "andy@example.com")
	if err != nil {
		t.Fatal(err)
	}
	name := "RateReady"
	ws, err := svc.Workspaces.Create(ctx, u.Actor(""), workspace.Change{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Providers.Set(ctx, u.Actor(""), ws.ID, mailer.Change{Kind: mailer.KindMailgun, FromName: "Andy", FromEmail: "andy@mg.rateready.example",
		Settings: mailer.Settings{Domain: "mg.rateready.example", BaseURL: fake.URL}, Secret: "key-chaos"}); err != nil {
		t.Fatal(err)
	}
	none := ""
	if _, err := svc.Workspaces.Update(ctx, u.Actor(""), ws.ID, workspace.Change{QuietStart: &none, QuietEnd: &none}); err != nil {
		t.Fatal(err)
	}
	return &chaosRig{e: e, db: db, svc: svc, fake: fake, actor: u.Actor(""), user: u.ID, ws: ws.ID}
}

// chaos SIGKILLs crm-sender at random points five times while it sends
// the total messages queued, then lets a last one finish, and checks each
// went out exactly once and no claim was left unknown.
func (r *chaosRig) chaos(t *testing.T, total int) {
	t.Helper()
	e, db, fake, ctx := r.e, r.db, r.fake, context.Background()
	var err error
	fake.Hang(time.Millisecond) // sends are in flight most of the time: a kill lands mid-send

	vars := []string{"PICRM_SENDER_LEASE=2s", "PICRM_SENDER_SETTLE=1ms", "PICRM_SENDER_RECHECK=100ms", "PICRM_SENDER_BATCH=100", "PICRM_LOG_LEVEL=info"}
	startSender := func() *testrig.Process {
		c := e.cmd("crm-sender")
		c.Env = append(c.Env, vars...)
		p := testrig.Start(t, c)
		p.Await(t, regexp.MustCompile(`msg=started`), 10*time.Second)
		return p
	}
	states := func() map[outbox.State]int {
		var c map[outbox.State]int
		if err := db.Read(ctx, func(conn *sqlite.Conn) error { c, err = outbox.Counts(conn); return err }); err != nil {
			t.Fatal(err)
		}
		return c
	}
	orphans := map[string]bool{} // message ids a kill left claimed
	atProvider := 0              // of those, how many the provider had already taken
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for kill := range 5 {
		p := startSender()
		before := states()[outbox.Sent]
		time.Sleep(time.Duration(300+rng.IntN(900)) * time.Millisecond)
		if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.Cmd.Wait()
		c := states()
		sends := fake.Sends()
		if err := db.Read(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT message_id FROM outbox WHERE state = 'claimed'`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
				if id := st.ColumnText(0); !orphans[id] {
					orphans[id] = true
					if sends[id] > 0 {
						atProvider++
					}
				}
				return nil
			}})
		}); err != nil {
			t.Fatal(err)
		}
		t.Logf("kill %d: %d sent (+%d), %d claims left behind, %d unknown", kill+1, c[outbox.Sent], c[outbox.Sent]-before, c[outbox.Claimed], c[outbox.Unknown])
		if c[outbox.Sent] == total {
			t.Fatalf("kill %d came after the last send: the test killed nothing mid-way", kill+1)
		}
	}
	orphaned := len(orphans)
	if orphaned == 0 || atProvider == 0 {
		t.Fatalf("%d claims left behind, %d of them at the provider: reconciliation was not exercised both ways", orphaned, atProvider)
	}
	p := startSender()
	deadline := time.Now().Add(2 * time.Minute)
	for states()[outbox.Sent] < total && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	_ = p.Stop(10 * time.Second)
	c := states()
	sends := fake.Sends()
	twice, missing := 0, 0
	var ids []string
	if err := db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT message_id FROM outbox`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
			ids = append(ids, st.ColumnText(0))
			return nil
		}})
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		switch n := sends[id]; {
		case n == 0:
			missing++
		case n > 1:
			twice++
		}
	}
	t.Logf("after 5 kills: %v; %d claims were reconciled (%d the provider had taken, %d it had not); provider: %d distinct, %d twice, %d missing",
		c, orphaned, atProvider, orphaned-atProvider, len(sends), twice, missing)
	if c[outbox.Sent] != total || c[outbox.Unknown] != 0 || twice != 0 || missing != 0 || len(sends) != total {
		t.Fatalf("not exactly once: states %v, %d sent twice, %d missing, %d at the provider\n%s", c, twice, missing, len(sends), p)
	}
}
