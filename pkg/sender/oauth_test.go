package sender_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/mail"
	"net/url"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/fakegoogle"
	"github.com/pi-crm/pi-crm/internal/fakemicrosoft"
	"github.com/pi-crm/pi-crm/pkg/compose"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/sender"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

const (
	googleClient = "123-abc.apps.googleusercontent.com"
	googleSecret = "GOCSPX-not-a-real-secret"
	msClient     = "0f6f7c2e-1111-2222-3333-444455556666"
)

// oauthRig is the sender rig with a Google (Loan Factory) and a Microsoft
// 365 (Friends) workspace, each with a contact Tom, and a sender whose
// log is kept to grep for secrets.
type oauthRig struct {
	*rig
	g     *fakegoogle.Server
	ms    *fakemicrosoft.Server
	gWS   string
	msWS  string
	tomG  string
	tomMS string
	logs  bytes.Buffer
}

func newOAuthRig(t *testing.T) *oauthRig {
	t.Helper()
	o := &oauthRig{rig: newRig(t), g: fakegoogle.New(googleClient, googleSecret, mailer.GoogleRedirect), ms: fakemicrosoft.New(msClient)}
	t.Cleanup(o.g.Close)
	t.Cleanup(o.ms.Close)
	o.gWS, o.msWS = o.andy.Workspace("Loan Factory").ID, o.andy.Workspace("Friends").ID
	o.tomG, o.tomMS = o.andy.Contact(o.gWS, "Tom", "tom@example.com").ID, o.andy.Contact(o.msWS, "Tom", "tom@example.com").ID
	t.Cleanup(func() { o.noSecretsLogged(t) })
	return o
}

func (o *oauthRig) sender(opt sender.Options) *sender.Sender {
	opt.Backoff = func(int) time.Duration { return 0 }
	return sender.New(o.app.DB, slog.New(slog.NewTextHandler(&o.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), o.ring, o.dir, opt)
}

// noSecretsLogged checks the sender's log and the audit trail hold none
// of the tokens the fakes issued nor the client secret.
func (o *oauthRig) noSecretsLogged(t *testing.T) {
	var audit strings.Builder
	if err := o.app.DB.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT action || ' ' || details FROM audit_log`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
			audit.WriteString(st.ColumnText(0) + "\n")
			return nil
		}})
	}); err != nil {
		t.Fatal(err)
	}
	secrets := append(append(o.g.Issued(), o.ms.Issued()...), googleSecret)
	for _, s := range secrets {
		if strings.Contains(o.logs.String(), s) || strings.Contains(audit.String(), s) {
			t.Errorf("a secret (%s…) is in the logs or the audit trail", s[:6])
		}
	}
}

func (o *oauthRig) setGoogle(t *testing.T, secret string) error {
	t.Helper()
	_, err := o.cfgs.Set(context.Background(), o.andy.Actor, o.gWS, mailer.Change{Kind: mailer.KindGoogle, FromName: "Andy Nguyen", FromEmail: "andy@loanfactory.example",
		Settings: mailer.Settings{ClientID: googleClient, AuthBase: o.g.URL, BaseURL: o.g.URL}, Secret: secret})
	return err
}

// signInGoogle walks the paste-back sign-in: begin, consent at the fake,
// paste the address the browser ended on.
func (o *oauthRig) signInGoogle(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	p, err := o.cfgs.Begin(ctx, o.andy.Actor, o.gWS)
	if err != nil {
		t.Fatal(err)
	}
	landed, err := o.g.Consent(p.AuthURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.cfgs.FinishGoogle(ctx, o.andy.Actor, o.gWS, landed); err != nil {
		t.Fatal(err)
	}
}

func (o *oauthRig) problem(t *testing.T, ws string) (string, bool) {
	t.Helper()
	cfg, _, err := o.cfgs.Get(context.Background(), o.andy.Actor, ws)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Problem, o.cfgs.Connected(cfg)
}

func TestGoogleSignInByPastingTheRedirectedAddress(t *testing.T) {
	o := newOAuthRig(t)
	ctx := context.Background()
	if err := o.setGoogle(t, ""); errsFields(err)["secret"] == "" {
		t.Fatalf("no client secret: %v", err)
	}
	if err := o.setGoogle(t, googleSecret); err != nil {
		t.Fatal(err)
	}
	if _, ok := o.problem(t, o.gWS); ok {
		t.Fatal("connected before signing in")
	}
	if err := o.cfgs.FinishGoogle(ctx, o.andy.Actor, o.gWS, "http://127.0.0.1:8976/?code=x&state=y"); err == nil {
		t.Fatal("finished a sign-in never begun")
	}
	p, err := o.cfgs.Begin(ctx, o.andy.Actor, o.gWS)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(p.AuthURL)
	if !strings.HasPrefix(p.AuthURL, o.g.URL+"/o/oauth2/v2/auth?") || u.Query().Get("code_challenge_method") != "S256" || u.Query().Get("code_verifier") != "" {
		t.Fatalf("consent address %s", p.AuthURL)
	}
	landed, err := o.g.Consent(p.AuthURL)
	if err != nil {
		t.Fatal(err)
	}
	lu, _ := url.Parse(landed)
	for paste, want := range map[string]string{
		"": "Paste the address",
		"http://127.0.0.1:8976/?error=access_denied&state=" + lu.Query().Get("state"): "did not allow",
		"http://127.0.0.1:8976/?state=" + lu.Query().Get("state"):                     "no code",
		"http://127.0.0.1:8976/?code=" + lu.Query().Get("code") + "&state=forged":     "another sign-in",
	} {
		if err := o.cfgs.FinishGoogle(ctx, o.andy.Actor, o.gWS, paste); !strings.Contains(errsFields(err)["pasted"], want) {
			t.Errorf("pasting %q: %v, want %q", paste, err, want)
		}
	}
	// Another user cannot finish (or see) it.
	mona := o.app.NewUser("Mona")
	if err := o.cfgs.FinishGoogle(ctx, mona.Actor, o.gWS, landed); err == nil {
		t.Fatal("another user finished the sign-in")
	}
	// Pasted with stray spaces, as from a phone's address bar.
	if err := o.cfgs.FinishGoogle(ctx, o.andy.Actor, o.gWS, "  "+landed+"\n"); err != nil {
		t.Fatal(err)
	}
	if problem, ok := o.problem(t, o.gWS); !ok || problem != "" {
		t.Fatalf("after signing in: connected %v, problem %q", ok, problem)
	}
	// The code was used: pasting it again finds no sign-in in progress.
	if err := o.cfgs.FinishGoogle(ctx, o.andy.Actor, o.gWS, landed); err == nil {
		t.Fatal("a sign-in finished twice")
	}
	// Saving the settings again (a new daily cap) keeps the sign-in.
	if err := o.setGoogle(t, ""); err != nil {
		t.Fatal(err)
	}
	if _, ok := o.problem(t, o.gWS); !ok {
		t.Fatal("saving the settings dropped the sign-in")
	}
}

// TestGoogleSendsReconcilesAndReadsReplies: a message goes out through
// users.messages.send with our Message-ID; after a crash, rows are asked
// for by rfc822msgid: before any resend; replies come in through
// history.list (and a full sync when the history id is stale), each once,
// on the contact.
func TestGoogleSendsReconcilesAndReadsReplies(t *testing.T) {
	o := newOAuthRig(t)
	ctx := context.Background()
	if err := o.setGoogle(t, googleSecret); err != nil {
		t.Fatal(err)
	}
	o.signInGoogle(t)
	s := o.sender(sender.Options{Settle: -1, Recheck: time.Millisecond})
	if err := s.Poll(ctx); err != nil { // the mailbox's history starts here
		t.Fatal(err)
	}
	a := o.queue(t, o.gWS, o.tomG, "a")
	o.turnsUntil(t, s, func() bool { return o.get(t, a.ID).State == outbox.Sent })
	raw := string(o.g.SentRaw(a.MessageID))
	if !strings.Contains(raw, "Rates for Tom") || !strings.Contains(raw, "andy@loanfactory.example") {
		t.Fatalf("the MIME Gmail got:\n%s", raw)
	}
	// Two claims left by a sender that died: one had reached Gmail.
	b, c := o.queue(t, o.gWS, o.tomG, "b"), o.queue(t, o.gWS, o.tomG, "c")
	if err := o.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		_, err := outbox.Claim(conn, 10, -time.Second, time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	o.g.AddSent(b.MessageID)
	o.turnsUntil(t, s, func() bool { return o.get(t, b.ID).State == outbox.Sent && o.get(t, c.ID).State == outbox.Sent })
	counts := map[string]int{}
	for _, id := range o.g.Sent() {
		counts[id]++
	}
	if counts[a.MessageID] != 1 || counts[b.MessageID] != 1 || counts[c.MessageID] != 1 || len(counts) != 3 {
		t.Fatalf("sent at Gmail: %v", counts)
	}
	if gb := o.get(t, b.ID); gb.Attempts != 1 {
		t.Fatalf("the message Gmail had was sent again: %d attempts", gb.Attempts)
	}

	// A reply to a, an email from Tom about something else, and one from
	// a stranger.
	o.g.Deliver("Tom <Tom@Example.com>", "Re: Rates for Tom", "<"+a.MessageID+">", "<"+a.MessageID+">", "Sounds good, call me")
	o.g.Deliver("tom@example.com", "Question", "", "", "Another thing")
	o.g.Deliver("stranger@example.net", "Hello", "", "", "Who is this")
	for range 2 {
		if err := s.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	o.wantInbound(t, o.gWS, map[string]string{"Re: Rates for Tom": o.tomG, "Question": o.tomG, "Hello": ""})
	o.wantLogged(t, o.tomG, []string{"Replied: Re: Rates for Tom", "Email received: Question"})
	o.wantReplied(t, a.ID, 1)

	// Gmail forgot the history id: a full sync of the inbox's last days,
	// each email still once.
	o.g.ForgetHistory()
	o.g.Deliver("tom@example.com", "Re: Rates for Tom", "", "<"+c.MessageID+"> <unrelated@x>", "Thanks")
	if err := s.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	o.wantInbound(t, o.gWS, map[string]string{"Re: Rates for Tom": o.tomG, "Question": o.tomG, "Hello": ""}, 4)
	o.wantReplied(t, c.ID, 1)
	o.wantReplied(t, a.ID, 1)
}

// wantInbound checks the workspace's inbound emails by subject -> contact
// (and their count, when given).
func (o *oauthRig) wantInbound(t *testing.T, ws string, want map[string]string, n ...int) {
	t.Helper()
	got, count := map[string]string{}, 0
	if err := o.app.DB.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT subject, contact_id FROM inbound_emails WHERE workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{ws},
			ResultFunc: func(st *sqlite.Stmt) error { got[st.ColumnText(0)] = st.ColumnText(1); count++; return nil }})
	}); err != nil {
		t.Fatal(err)
	}
	want0 := len(want)
	if len(n) > 0 {
		want0 = n[0]
	}
	for k, v := range want {
		if gv, ok := got[k]; !ok || gv != v {
			t.Errorf("inbound %q: contact %q (present %v), want %q", k, gv, ok, v)
		}
	}
	if count != want0 {
		t.Errorf("%d inbound emails, want %d: %v", count, want0, got)
	}
}

// wantLogged checks the contact's log holds exactly these incoming email
// summaries, newest last.
func (o *oauthRig) wantLogged(t *testing.T, contactID string, want []string) {
	t.Helper()
	var got []string
	if err := o.app.DB.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT summary FROM activities WHERE contact_id = ? AND kind = 'email' AND body LIKE '%"direction":"in"%' ORDER BY occurred_at, rowid`,
			&sqlitex.ExecOptions{Args: []any{contactID}, ResultFunc: func(st *sqlite.Stmt) error { got = append(got, st.ColumnText(0)); return nil }})
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("incoming emails logged: %q, want %q", got, want)
	}
}

// wantReplied checks message id has n replied events.
func (o *oauthRig) wantReplied(t *testing.T, id string, n int) {
	t.Helper()
	got := 0
	if err := o.app.DB.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*) FROM provider_events WHERE outbox_id = ? AND kind = 'replied'`, &sqlitex.ExecOptions{Args: []any{id},
			ResultFunc: func(st *sqlite.Stmt) error { got = st.ColumnInt(0); return nil }})
	}); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("message %s: %d replied events, want %d", id, got, n)
	}
}

// TestRevokedSignInIsShownAndMessagesWait: a refresh Google refuses marks
// the workspace (with the 7-day Testing hint), fails nothing, and signing
// in again lets the waiting message go.
func TestRevokedSignInIsShownAndMessagesWait(t *testing.T) {
	o := newOAuthRig(t)
	if err := o.setGoogle(t, googleSecret); err != nil {
		t.Fatal(err)
	}
	o.signInGoogle(t)
	s := o.sender(sender.Options{Settle: -1, Recheck: time.Millisecond})
	a := o.queue(t, o.gWS, o.tomG, "a")
	o.turnsUntil(t, s, func() bool { return o.get(t, a.ID).State == outbox.Sent })
	// An hour later the access token ran out: it is refreshed, silently.
	o.g.ExpireAccess()
	b := o.queue(t, o.gWS, o.tomG, "b")
	o.turnsUntil(t, s, func() bool { return o.get(t, b.ID).State == outbox.Sent })
	if o.g.Refreshes() != 1 {
		t.Fatalf("%d refreshes", o.g.Refreshes())
	}
	o.g.Revoke()
	c := o.queue(t, o.gWS, o.tomG, "c")
	o.turnsUntil(t, s, func() bool { p, _ := o.problem(t, o.gWS); return p != "" })
	problem, connected := o.problem(t, o.gWS)
	if connected || !strings.Contains(problem, "revoked") || !strings.Contains(problem, "7 days") {
		t.Fatalf("after a revoke: connected %v, problem %q", connected, problem)
	}
	if got := o.get(t, c.ID); got.State == outbox.Failed || got.State == outbox.Sent {
		t.Fatalf("a message for a signed-out account: %s", got.State)
	}
	o.signInGoogle(t)
	if p, ok := o.problem(t, o.gWS); !ok || p != "" {
		t.Fatalf("after signing in again: connected %v, problem %q", ok, p)
	}
	o.turnsUntil(t, s, func() bool { return o.get(t, c.ID).State == outbox.Sent })
	if n := len(o.g.Sent()); n != 3 {
		t.Fatalf("%d sent", n)
	}
}

func (o *oauthRig) setMicrosoft(t *testing.T) {
	t.Helper()
	if _, err := o.cfgs.Set(context.Background(), o.andy.Actor, o.msWS, mailer.Change{Kind: mailer.KindMicrosoft, FromName: "Andy", FromEmail: "andy@friends.example",
		Settings: mailer.Settings{ClientID: msClient, AuthBase: o.ms.URL, BaseURL: o.ms.URL}}); err != nil {
		t.Fatal(err)
	}
}

// TestMicrosoftDeviceCodeDraftSendAndDelta: the device-code sign-in (pending
// until the code is entered, declined and expired codes end it), sends by
// draft then send, a refresh token that turns over survives a restart,
// reconciliation by Sent Items, and replies through the inbox's delta,
// resynced on 410 Gone.
func TestMicrosoftDeviceCodeDraftSendAndDelta(t *testing.T) {
	o := newOAuthRig(t)
	ctx := context.Background()
	if _, err := o.cfgs.Set(ctx, o.andy.Actor, o.msWS, mailer.Change{Kind: mailer.KindMicrosoft, FromEmail: "andy@friends.example"}); errsFields(err)["client_id"] == "" {
		t.Fatalf("no client id: %v", err)
	}
	o.setMicrosoft(t)
	// Declined, then expired: each ends the sign-in with a reason.
	p, err := o.cfgs.Begin(ctx, o.andy.Actor, o.msWS)
	if err != nil {
		t.Fatal(err)
	}
	o.ms.Enter(p.UserCode, false)
	if _, err := o.cfgs.PollMicrosoft(ctx, o.andy.Actor, o.msWS); err == nil || !strings.Contains(err.Error(), "declined") {
		t.Fatalf("declined: %v", err)
	}
	if _, ok, _ := o.cfgs.PendingIn(ctx, o.andy.Actor, o.msWS); ok {
		t.Fatal("a declined sign-in is still pending")
	}
	if _, err = o.cfgs.Begin(ctx, o.andy.Actor, o.msWS); err != nil {
		t.Fatal(err)
	}
	o.ms.ExpireCodes()
	if _, err := o.cfgs.PollMicrosoft(ctx, o.andy.Actor, o.msWS); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired: %v", err)
	}
	p, err = o.cfgs.Begin(ctx, o.andy.Actor, o.msWS)
	if err != nil {
		t.Fatal(err)
	}
	if p.UserCode == "" || p.VerificationURI != "https://microsoft.com/devicelogin" || p.Interval != time.Second {
		t.Fatalf("pending %+v", p)
	}
	if done, err := o.cfgs.PollMicrosoft(ctx, o.andy.Actor, o.msWS); done || err != nil {
		t.Fatalf("before the code is entered: %v %v", done, err)
	}
	if got, ok, _ := o.cfgs.PendingIn(ctx, o.andy.Actor, o.msWS); !ok || got.UserCode != p.UserCode {
		t.Fatalf("pending after a poll: %+v %v", got, ok)
	}
	if !o.ms.Enter(p.UserCode, true) {
		t.Fatal("the fake did not know the code")
	}
	if done, err := o.cfgs.PollMicrosoft(ctx, o.andy.Actor, o.msWS); !done || err != nil {
		t.Fatalf("after the code is entered: %v %v", done, err)
	}
	if pr, ok := o.problem(t, o.msWS); !ok || pr != "" {
		t.Fatalf("connected %v, problem %q", ok, pr)
	}

	s := o.sender(sender.Options{Settle: -1, Recheck: time.Millisecond})
	if err := s.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	a := o.queue(t, o.msWS, o.tomMS, "a")
	o.turnsUntil(t, s, func() bool { return o.get(t, a.ID).State == outbox.Sent })
	// The access token ran out: the refresh turns the refresh token over,
	// and a restarted sender (a new process) still signs in with the new
	// one.
	o.ms.ExpireAccess()
	b := o.queue(t, o.msWS, o.tomMS, "b")
	o.turnsUntil(t, s, func() bool { return o.get(t, b.ID).State == outbox.Sent })
	o.ms.ExpireAccess()
	s = o.sender(sender.Options{Settle: -1, Recheck: time.Millisecond})
	c, d := o.queue(t, o.msWS, o.tomMS, "c"), o.queue(t, o.msWS, o.tomMS, "d")
	if err := o.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		_, err := outbox.Claim(conn, 10, -time.Second, time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	o.ms.AddSent(c.MessageID) // c reached Graph before the crash
	o.turnsUntil(t, s, func() bool { return o.get(t, c.ID).State == outbox.Sent && o.get(t, d.ID).State == outbox.Sent })
	if pr, _ := o.problem(t, o.msWS); pr != "" {
		t.Fatalf("after a restart: %q", pr)
	}
	counts := map[string]int{}
	for _, id := range o.ms.Sent() {
		counts[id]++
	}
	if len(counts) != 4 || counts[a.MessageID] != 1 || counts[b.MessageID] != 1 || counts[c.MessageID] != 1 || counts[d.MessageID] != 1 || o.ms.Drafts() != 0 {
		t.Fatalf("sent items %v, %d drafts left", counts, o.ms.Drafts())
	}

	o.ms.Deliver("tom@example.com", "Tom", "Re: Rates for Tom", "<"+a.MessageID+">", "<"+a.MessageID+">", "Yes please")
	o.ms.Deliver("tom@example.com", "Tom", "Re: Rates for Tom (2)", "", "<"+b.MessageID+">", "Also this")
	o.ms.Deliver("nobody@example.org", "", "Offer", "", "", "Buy now")
	for range 2 {
		if err := s.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	o.wantInbound(t, o.msWS, map[string]string{"Re: Rates for Tom": o.tomMS, "Re: Rates for Tom (2)": o.tomMS, "Offer": ""})
	o.wantReplied(t, a.ID, 1)
	o.wantReplied(t, b.ID, 1)
	o.ms.ForgetDelta()
	o.ms.Deliver("tom@example.com", "Tom", "Late", "", "", "One more")
	if err := s.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	o.wantInbound(t, o.msWS, map[string]string{"Late": o.tomMS, "Offer": ""}, 4)
	o.wantLogged(t, o.tomMS, []string{"Replied: Re: Rates for Tom", "Replied: Re: Rates for Tom (2)", "Email received: Late"})
	// The Google workspace's inbox is its own: nothing of Friends' there.
	o.wantInbound(t, o.gWS, map[string]string{}, 0)
}

// TestUnsubscribeByMailto: bulk mail through Gmail carries a
// List-Unsubscribe mailto back to the sender naming the message; the
// email it sends, read by the reply poller, unsubscribes the contact for
// the workspace (logged, later sends refused). The same subject naming a
// one-off, or another workspace's message, unsubscribes nobody.
func TestUnsubscribeByMailto(t *testing.T) {
	o := newOAuthRig(t)
	ctx := context.Background()
	if err := o.setGoogle(t, googleSecret); err != nil {
		t.Fatal(err)
	}
	o.signInGoogle(t)
	none := "" // bulk mail waits in quiet hours: none here, whatever the hour
	if _, err := o.app.Workspaces.Update(ctx, o.andy.Actor, o.gWS, workspace.Change{QuietStart: &none, QuietEnd: &none}); err != nil {
		t.Fatal(err)
	}
	s := o.sender(sender.Options{Settle: -1, Recheck: time.Millisecond})
	if err := s.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	var bulk outbox.Message
	if err := o.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		id, _, err := outbox.Enqueue(conn, outbox.Message{WorkspaceID: o.gWS, UserID: o.andy.Actor.UserID, ContactID: o.tomG, DedupeKey: "campaign:1:" + o.tomG, Provider: mailer.KindGoogle,
			To: "tom@example.com", From: "andy@loanfactory.example", FromName: "Andy", Subject: "Holiday rates", Text: "Happy holidays", Bulk: true}, time.Now())
		bulk.ID = id
		return err
	}); err != nil {
		t.Fatal(err)
	}
	oneOff := o.queue(t, o.gWS, o.tomG, "one-off")
	o.turnsUntil(t, s, func() bool { return o.get(t, bulk.ID).State == outbox.Sent && o.get(t, oneOff.ID).State == outbox.Sent })
	bulk = o.get(t, bulk.ID)
	msg, err := mail.ReadMessage(bytes.NewReader(o.g.SentRaw(bulk.MessageID)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := msg.Header.Get("List-Unsubscribe"), "<mailto:andy@loanfactory.example?subject=unsubscribe%20"+bulk.ID+">"; got != want {
		t.Fatalf("List-Unsubscribe %q, want %q", got, want)
	}
	if strings.Contains(string(o.g.SentRaw(oneOff.MessageID)), "List-Unsubscribe") {
		t.Fatal("a one-off carries a List-Unsubscribe")
	}
	flagged := func() int {
		n := 0
		if err := o.app.DB.Read(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT count(*) FROM contact_flags WHERE contact_id = ? AND flag = 'email_unsubscribed'`, &sqlitex.ExecOptions{Args: []any{o.tomG},
				ResultFunc: func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }})
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Naming the one-off, or a message of another workspace: nothing.
	other := o.queue(t, o.fileWS, o.tom, "other-ws")
	o.g.Deliver("tom@example.com", "unsubscribe "+oneOff.ID, "", "", "")
	o.g.Deliver("tom@example.com", "unsubscribe "+other.ID, "", "", "")
	if err := s.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if flagged() != 0 {
		t.Fatal("unsubscribed by a subject naming a one-off or another workspace's message")
	}
	o.g.Deliver("Tom <tom@example.com>", "unsubscribe "+bulk.ID, "", "", "")
	if err := s.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if flagged() != 1 {
		t.Fatal("the List-Unsubscribe email did not unsubscribe the contact")
	}
	o.wantLogged(t, o.tomG, []string{"Email received: unsubscribe " + oneOff.ID, "Email received: unsubscribe " + other.ID, "Asked by email to unsubscribe"})
	if _, err := o.comp.Email(ctx, o.andy.Actor, o.gWS, compose.Draft{RequestID: "after", ContactID: o.tomG, Subject: "x", BodyHTML: "<p>y</p>"}); err == nil {
		t.Fatal("an email to an unsubscribed contact was queued")
	}
}
