package sender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/internal/fakemailgun"
	"github.com/pi-crm/pi-crm/pkg/compose"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/placeholder"
	"github.com/pi-crm/pi-crm/pkg/secrets"
	"github.com/pi-crm/pi-crm/pkg/sender"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

type rig struct {
	app    *apptest.App
	andy   *apptest.User
	ring   *secrets.Ring
	dir    string
	mg     *fakemailgun.Server
	cfgs   *mailer.Configs
	comp   *compose.Composer
	fileWS string
	mgWS   string
	tom    string // a contact in each
	tomMG  string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{app: apptest.New(t, apptest.Options{NoJobs: true}), dir: t.TempDir(), mg: fakemailgun.New("key-123")}
	t.Cleanup(r.mg.Close)
	var err error
	if r.ring, err = secrets.LoadFile(filepath.Join(r.dir, secrets.FileName), true); err != nil {
		t.Fatal(err)
	}
	r.andy = r.app.NewUser("Andy")
	r.cfgs = mailer.NewConfigs(r.app.DB, r.ring)
	r.comp = compose.New(r.app.DB, r.app.Templates)
	ctx := context.Background()
	r.fileWS, r.mgWS = r.andy.Workspace("Family").ID, r.andy.Workspace("RateReady").ID
	if _, err := r.cfgs.Set(ctx, r.andy.Actor, r.fileWS, mailer.Change{Kind: mailer.KindFile, FromName: "Andy", FromEmail: "andy@family.example"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.cfgs.Set(ctx, r.andy.Actor, r.mgWS, mailer.Change{Kind: mailer.KindMailgun, FromName: "Andy Nguyen", FromEmail: "andy@mg.rateready.example",
		Settings: mailer.Settings{Domain: "mg.rateready.example", BaseURL: r.mg.URL}, Secret: "key-123"}); err != nil {
		t.Fatal(err)
	}
	r.tom = r.andy.Contact(r.fileWS, "Tom", "tom@example.com").ID
	r.tomMG = r.andy.Contact(r.mgWS, "Tom", "tom@example.com").ID
	return r
}

func (r *rig) sender(opt sender.Options) *sender.Sender {
	return sender.New(r.app.DB, slog.New(slog.NewTextHandler(io.Discard, nil)), r.ring, r.dir, opt)
}

func (r *rig) queue(t *testing.T, ws, contactID, req string) outbox.Message {
	t.Helper()
	q, err := r.comp.Email(context.Background(), r.andy.Actor, ws, compose.Draft{RequestID: req, ContactID: contactID, Subject: "Rates for {{first_name}}", BodyHTML: "<p>Hi {{first_name}}, rates moved.</p>"})
	if err != nil {
		t.Fatal(err)
	}
	return q.Message
}

func (r *rig) get(t *testing.T, id string) outbox.Message {
	t.Helper()
	var m outbox.Message
	if err := r.app.DB.Read(context.Background(), func(conn *sqlite.Conn) error {
		var err error
		m, _, err = outbox.Get(conn, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

// logStatus returns the status the contact's log entry shows for message m.
func (r *rig) logStatus(t *testing.T, m outbox.Message) string {
	t.Helper()
	status := ""
	if err := r.app.DB.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT body FROM activities WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{m.ActivityID},
			ResultFunc: func(st *sqlite.Stmt) error {
				var b struct{ Status string }
				_ = json.Unmarshal([]byte(st.ColumnText(0)), &b)
				status = b.Status
				return nil
			}})
	}); err != nil {
		t.Fatal(err)
	}
	return status
}

func TestOneOffGoesOutOnceAndTheLogFollows(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	m := r.queue(t, r.fileWS, r.tom, "form-1")
	// The same form sent twice is one message.
	again, err := r.comp.Email(ctx, r.andy.Actor, r.fileWS, compose.Draft{RequestID: "form-1", ContactID: r.tom, Subject: "x", BodyHTML: "<p>y</p>"})
	if err != nil || !again.Again || again.Message.ID != m.ID {
		t.Fatalf("a second submit: %+v %v", again, err)
	}
	if m.Subject != "Rates for Tom" || !strings.Contains(m.HTML, "Hi Tom, rates moved.") || r.logStatus(t, m) != "queued" {
		t.Fatalf("queued: %q, log %q", m.Subject, r.logStatus(t, m))
	}
	mg := r.queue(t, r.mgWS, r.tomMG, "form-2")
	s := r.sender(sender.Options{})
	if _, err := s.Turn(ctx); err != nil {
		t.Fatal(err)
	}
	got := r.get(t, m.ID)
	if got.State != outbox.Sent || r.logStatus(t, got) != "sent" {
		t.Fatalf("file message: %s %q, log %q", got.State, got.Error, r.logStatus(t, got))
	}
	eml, err := os.ReadFile(filepath.Join(r.dir, "mail", m.MessageID+".eml"))
	if err != nil || !strings.Contains(string(eml), "Message-ID: <"+m.MessageID+">") || !strings.Contains(string(eml), "Subject: Rates for Tom") {
		t.Fatalf("the .eml: %v\n%.400s", err, eml)
	}
	if got := r.get(t, mg.ID); got.State != outbox.Sent || got.ProviderRef != mg.MessageID {
		t.Fatalf("mailgun message: %s %q ref %q", got.State, got.Error, got.ProviderRef)
	}
	acc := r.mg.Accepted()
	if len(acc) != 1 || acc[0].MessageID != mg.MessageID || acc[0].Variables["picrm-id"] != mg.ID || acc[0].To[0] != "tom@example.com" {
		t.Fatalf("mailgun got: %+v", acc)
	}
	// Nothing left: another turn sends nothing again.
	if _, err := s.Turn(ctx); err != nil {
		t.Fatal(err)
	}
	if n := r.mg.Sends()[mg.MessageID]; n != 1 {
		t.Fatalf("sent %d times", n)
	}
}

func TestRetryFailAndRefusal(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.mg.FailNext(http.StatusServiceUnavailable, http.StatusBadRequest)
	a := r.queue(t, r.mgWS, r.tomMG, "a")
	s := r.sender(sender.Options{Backoff: func(int) time.Duration { return 0 }})
	if _, err := s.Turn(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.get(t, a.ID); got.State != outbox.Retrying || !strings.Contains(got.Error, "503") {
		t.Fatalf("after a 503: %s %q", got.State, got.Error)
	}
	// The retry gets the scripted 400: a refusal fails for good.
	if _, err := s.Turn(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.get(t, a.ID); got.State != outbox.Failed || !strings.Contains(got.Error, "400") || r.logStatus(t, got) != "failed" {
		t.Fatalf("after a 400: %s %q", got.State, got.Error)
	}
	if len(r.mg.Accepted()) != 0 {
		t.Fatal("a refused message was accepted")
	}
}

// TestUnknownIsReconciledBeforeAnyResend: a provider that takes the message
// and then times out leaves it unknown; its events say it went out, so it
// is marked sent and never sent again. A claim whose sender died before
// the provider had it is found absent and sent once.
func TestUnknownIsReconciledBeforeAnyResend(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	a := r.queue(t, r.mgWS, r.tomMG, "a")
	r.mg.Hang(3 * time.Second)
	s := r.sender(sender.Options{Settle: -1, Recheck: time.Millisecond, Open: func(cfg mailer.Config, _ mailer.Env) (mailer.Provider, error) {
		return mailer.NewMailgun(mailer.MailgunConfig{APIKey: "key-123", Domain: cfg.Settings.Domain, BaseURL: cfg.Settings.BaseURL, Timeout: 300 * time.Millisecond})
	}})
	if _, err := s.Turn(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.get(t, a.ID); got.State != outbox.Unknown || r.logStatus(t, got) != "unknown" {
		t.Fatalf("after a timeout: %s %q", got.State, got.Error)
	}
	r.mg.Hang(0)
	// A claim left by a sender that died before calling the provider.
	b := r.queue(t, r.mgWS, r.tomMG, "b")
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		_, err := outbox.Claim(conn, 10, -time.Second, time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r.turnsUntil(t, s, func() bool { return r.get(t, a.ID).State == outbox.Sent && r.get(t, b.ID).State == outbox.Sent })
	ga, gb := r.get(t, a.ID), r.get(t, b.ID)
	if ga.State != outbox.Sent || gb.State != outbox.Sent {
		t.Fatalf("after reconciling: a %s %q, b %s %q", ga.State, ga.Error, gb.State, gb.Error)
	}
	if sends := r.mg.Sends(); sends[a.MessageID] != 1 || sends[b.MessageID] != 1 {
		t.Fatalf("sends at the provider: %v", sends)
	}
	if gb.Attempts != 2 || ga.Attempts != 1 {
		t.Fatalf("attempts: a %d, b %d", ga.Attempts, gb.Attempts)
	}
}

// TestStaleAttemptCannotRecord: an outcome for an attempt that is no
// longer the row's changes nothing.
func TestStaleAttemptCannotRecord(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	m := r.queue(t, r.fileWS, r.tom, "a")
	var first []outbox.Message
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		var err error
		first, err = outbox.Claim(conn, 1, -time.Second, time.Now())
		if err != nil {
			return err
		}
		if _, err := outbox.Expire(conn, time.Now()); err != nil {
			return err
		}
		took, err := outbox.Record(conn, time.Now(), outbox.Outcome{ID: m.ID, AttemptID: first[0].AttemptID, State: outbox.Sent})
		if len(took) != 0 {
			t.Error("a stale attempt recorded its outcome")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := r.get(t, m.ID); got.State != outbox.Unknown {
		t.Fatalf("state %s", got.State)
	}
}

func TestProviderSecretsAreSealed(t *testing.T) {
	r := newRig(t)
	var raw string
	if err := r.app.DB.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT secret FROM email_providers WHERE workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{r.mgWS},
			ResultFunc: func(st *sqlite.Stmt) error { raw = st.ColumnText(0); return nil }})
	}); err != nil {
		t.Fatal(err)
	}
	if raw == "" || strings.Contains(raw, "key-123") || secrets.KeyID(raw) != r.ring.CurrentID() {
		t.Fatalf("stored secret %q", raw)
	}
	// Bound to its workspace: copied to another row it does not open.
	if _, err := r.ring.Open(raw, "email_providers.secret:"+r.fileWS); err == nil {
		t.Fatal("a sealed secret opened for another workspace")
	}
	cfg, _, _ := r.cfgs.Get(context.Background(), r.andy.Actor, r.mgWS)
	if !cfg.HasSecret {
		t.Fatal("HasSecret false")
	}
	// Another user's workspace answers NotFound.
	mona := r.app.NewUser("Mona")
	if _, _, err := r.cfgs.Get(context.Background(), mona.Actor, r.mgWS); err == nil {
		t.Fatal("another user read the provider")
	}
	_ = store.FormatTime
}

// TestDailyCapHoldsTheRestUntilTomorrow: a workspace capped at 2 a day
// sends 2 of 3 today; the third waits for its time zone's midnight.
func TestDailyCapHoldsTheRestUntilTomorrow(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.cfgs.Set(ctx, r.andy.Actor, r.fileWS, mailer.Change{Kind: mailer.KindFile, FromName: "Andy", FromEmail: "andy@family.example", DailyCap: 2}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, req := range []string{"a", "b", "c"} {
		ids = append(ids, r.queue(t, r.fileWS, r.tom, req).ID)
	}
	s := r.sender(sender.Options{})
	for range 2 {
		if _, err := s.Turn(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sent, held := 0, 0
	for _, id := range ids {
		switch m := r.get(t, id); {
		case m.State == outbox.Sent:
			sent++
		case m.State == outbox.Retrying && strings.Contains(m.Error, "daily limit") && m.DueAt.After(time.Now()) && time.Until(m.DueAt) <= 24*time.Hour:
			held++
		default:
			t.Errorf("message %s: %s %q due %v", id, m.State, m.Error, m.DueAt)
		}
	}
	if sent != 2 || held != 1 {
		t.Fatalf("sent %d, held %d", sent, held)
	}
}

// TestPollRecordsEventsOnceAndFlags: Mailgun's events, polled, mark the
// message delivered then bounced, flag the contact (no more email to
// them), and log it, once however often they are read again; an event
// naming another workspace's message changes nothing there.
func TestPollRecordsEventsOnceAndFlags(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	m := r.queue(t, r.mgWS, r.tomMG, "a")
	other := r.queue(t, r.fileWS, r.tom, "b") // another workspace's message
	s := r.sender(sender.Options{Settle: -1})
	if _, err := s.Turn(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Minute)
	r.mg.AddEvent("mg.rateready.example", fakemailgun.Event{ID: "ev-d", Kind: "delivered", MessageID: m.MessageID, OutboxID: m.ID, Recipient: "tom@example.com", At: at})
	r.mg.AddEvent("mg.rateready.example", fakemailgun.Event{ID: "ev-b", Kind: "failed", Severity: "permanent", Reason: "mailbox does not exist", MessageID: m.MessageID,
		OutboxID: m.ID, Recipient: "tom@example.com", At: at.Add(time.Second)})
	r.mg.AddEvent("mg.rateready.example", fakemailgun.Event{ID: "ev-x", Kind: "complained", MessageID: other.MessageID, Recipient: "tom@example.com", At: at})
	for range 3 {
		if err := s.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var delivery, otherDelivery string
	var flags, logs, events int
	if err := r.app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		for q, dst := range map[string]*string{`SELECT delivery FROM outbox WHERE id = '` + m.ID + `'`: &delivery, `SELECT delivery FROM outbox WHERE id = '` + other.ID + `'`: &otherDelivery} {
			if err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { *dst = st.ColumnText(0); return nil }}); err != nil {
				return err
			}
		}
		for q, dst := range map[string]*int{
			`SELECT count(*) FROM contact_flags WHERE contact_id = '` + r.tomMG + `' AND flag = 'email_bounced'`:                         &flags,
			`SELECT count(*) FROM activities WHERE contact_id = '` + r.tomMG + `' AND kind = 'system' AND summary LIKE 'Email bounced%'`: &logs,
			`SELECT count(*) FROM provider_events`: &events,
		} {
			if err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { *dst = st.ColumnInt(0); return nil }}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if delivery != "bounced" || flags != 1 || logs != 1 || events != 3 || otherDelivery != "" {
		t.Fatalf("delivery %q, flags %d, log entries %d, events %d, other workspace's message %q", delivery, flags, logs, events, otherDelivery)
	}
	_, err := r.comp.Email(ctx, r.andy.Actor, r.mgWS, compose.Draft{RequestID: "c", ContactID: r.tomMG, Subject: "Again", BodyHTML: "<p>x</p>"})
	if err == nil || !strings.Contains(err.Error(), "bounced") && !strings.Contains(fmt.Sprint(errsFields(err)), "bounced") {
		t.Fatalf("an email to a bounced contact: %v", err)
	}
}

func errsFields(err error) map[string]string { return errs.As(err).Fields }

// turnsUntil runs the sender's turns until done holds (at most 3 s): a
// reconciliation waits its Recheck after the claim expires, so how many
// turns that takes depends on the clock, not on a count.
func (r *rig) turnsUntil(t *testing.T, s *sender.Sender, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatal("the sender's turns did not get there in 3 s")
		}
		if _, err := s.Turn(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestCampaignMessagesFilledFromTheirLayout: messages queued as a
// campaign's are, one stored layout and each recipient's values, go out
// through the file provider and Mailgun as their own whole messages
// (values escaped in the HTML, as they are in the text); a message naming
// no stored layout is never queued.
func TestCampaignMessagesFilledFromTheirLayout(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tpl := emailtemplate.Template{Name: "News", Subject: "News for {{first_name}}", BodyHTML: `<p>Hi {{first_name}} of {{company}}</p>`}
	rd := emailtemplate.NewRenderer(2)
	none := "" // campaign mail waits in quiet hours: none here, whatever the hour
	for _, ws := range []string{r.fileWS, r.mgWS} {
		if _, err := r.app.Workspaces.Update(ctx, r.andy.Actor, ws, workspace.Change{QuietStart: &none, QuietEnd: &none}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	var ids []string
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		for i, v := range []placeholder.Values{{"first_name": "Ann", "company": "Homes & Co"}, {"first_name": "Bob", "company": "Bob's <Barn>"}} {
			e, err := rd.Render(tpl, v, nil)
			if err != nil {
				return err
			}
			l := e.Layout
			ws := []string{r.fileWS, r.mgWS}[i]
			layout, err := outbox.SaveLayout(conn, ws, outbox.Layout(l), now)
			if err != nil {
				return err
			}
			id, _, err := outbox.Enqueue(conn, outbox.Message{WorkspaceID: ws, UserID: r.andy.ID, DedupeKey: fmt.Sprintf("campaign:news:0:%d", i), Provider: []string{"file", "mailgun"}[i],
				To: strings.ToLower(v["first_name"]) + "@example.com", From: "andy@family.example", Subject: e.Subject, LayoutID: layout, Fill: v, Bulk: true}, now)
			ids = append(ids, id)
			if err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A message naming no stored layout is refused, not queued to go blank.
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		_, _, err := outbox.Enqueue(conn, outbox.Message{WorkspaceID: r.fileWS, UserID: r.andy.ID, DedupeKey: "campaign:news:0:lost", Provider: "file",
			To: "cat@example.com", From: "andy@family.example", Subject: "News for Cat", LayoutID: "no-such-layout", Fill: map[string]string{"first_name": "Cat"}, Bulk: true}, now)
		return err
	}); err == nil {
		t.Fatal("a message of no stored layout was queued")
	}
	if _, err := r.sender(sender.Options{}).Turn(ctx); err != nil {
		t.Fatal(err)
	}
	ann := r.get(t, ids[0])
	eml, err := os.ReadFile(filepath.Join(r.dir, "mail", ann.MessageID+".eml"))
	if err != nil || ann.State != outbox.Sent || ann.HTML != "" {
		t.Fatalf("Ann's message: %s %q (%v), %d bytes of HTML kept", ann.State, ann.Error, err, len(ann.HTML))
	}
	if !strings.Contains(string(eml), "Hi Ann of Homes &amp; Co") || !strings.Contains(string(eml), "Hi Ann of Homes & Co") || strings.Contains(string(eml), "{{") {
		t.Fatalf("Ann's email is not hers, filled:\n%s", eml)
	}
	sent := r.mg.Accepted()
	if len(sent) != 1 || !strings.Contains(sent[0].MIME, "Hi Bob of Bob&#39;s &lt;Barn&gt;") || !strings.Contains(sent[0].MIME, "Hi Bob of Bob's <Barn>") {
		t.Fatalf("Bob's at Mailgun: %+v", sent)
	}
	// The same template in two workspaces is a layout each, and one goes
	// with its workspace.
	layouts := func() (n int) {
		_ = r.app.DB.Read(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT count(*) FROM outbox_layouts`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }})
		})
		return n
	}
	if n := layouts(); n != 2 {
		t.Fatalf("%d layouts for two workspaces", n)
	}
	if err := r.app.Workspaces.Delete(ctx, r.andy.Actor, r.fileWS, "Family"); err != nil {
		t.Fatal(err)
	}
	if n := layouts(); n != 1 {
		t.Fatalf("%d layouts after one workspace went", n)
	}
}
