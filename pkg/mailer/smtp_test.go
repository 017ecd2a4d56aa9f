package mailer_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	gomail "github.com/wneessen/go-mail"

	"github.com/pi-crm/pi-crm/internal/smtptest"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/outbox"
)

func smtpFor(t *testing.T, srv *smtptest.Server, cfg mailer.SMTPConfig) *mailer.SMTP {
	t.Helper()
	host, port, _ := net.SplitHostPort(srv.Addr)
	cfg.Host, cfg.Port = host, mailer.Port(port)
	if cfg.TLS == "" {
		cfg.TLS = "starttls"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	cfg.TLSConfig = srv.ClientTLS
	p, err := mailer.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func mailTo(to, id, text string) *mailer.Mail {
	return &mailer.Mail{MessageID: id + "@pi-crm.example", From: "andy@example.com", FromName: "Andy", To: to, Subject: "Rates for " + to, Text: text,
		HTML: "<p>" + text + "</p>"}
}

// TestSMTPSignsInSendsAndClassifies: over STARTTLS, with an app password
// and with an XOAUTH2 token, pipelined and not: each message arrives once
// with our Message-ID and its lines intact (dots at line starts too); a
// refused address fails, a deferred one retries, a wrong password retries
// (nothing was sent) and a server that hangs up after taking the message
// leaves it unknown, to be reconciled, never resent blindly.
func TestSMTPSignsInSendsAndClassifies(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.StartWith(t, smtptest.Options{TLS: true, Passwords: map[string]string{"andy@example.com": "app-password-1"},
		Tokens: map[string]string{"andy@example.com": "ya29.token-1"}})
	body := "Hi Tom,\n.this line starts with a dot\n..and this with two\nBye"
	for name, cfg := range map[string]mailer.SMTPConfig{
		"password":     {Username: "andy@example.com", Password: "app-password-1"},
		"xoauth2":      {Username: "andy@example.com", Token: "ya29.token-1"},
		"no pipelines": {Username: "andy@example.com", Password: "app-password-1", NoPipelining: true},
		"data":         {Username: "andy@example.com", Password: "app-password-1", NoChunking: true},
	} {
		p := smtpFor(t, srv, cfg)
		before := len(srv.Messages())
		for i := range 3 {
			id := name + strconv.Itoa(i)
			ref, err := p.Send(ctx, mailTo("tom@example.com", strings.ReplaceAll(id, " ", "-"), body))
			if err != nil || !strings.HasPrefix(ref, strings.ReplaceAll(id, " ", "-")) {
				t.Fatalf("%s: send %d: %q %v", name, i, ref, err)
			}
		}
		got := srv.Messages()[before:]
		if len(got) != 3 {
			t.Fatalf("%s: %d messages arrived, want 3", name, len(got))
		}
		for _, m := range got {
			if m.User != "andy@example.com" || m.To[0] != "tom@example.com" || !strings.Contains(m.Body, ".this line starts with a dot") ||
				!strings.Contains(m.Body, "\r\n..and this with two") || !strings.HasSuffix(m.ID, "@pi-crm.example>") {
				t.Fatalf("%s: arrived %+v\n%s", name, m, m.Raw)
			}
		}
	}
	if n := srv.Conns(); n != 4 {
		t.Errorf("%d connections for 12 messages on four providers, want 4 (kept open)", n)
	}

	p := smtpFor(t, srv, mailer.SMTPConfig{Username: "andy@example.com", Password: "app-password-1"})
	srv.Refuse("gone@example.com", 550)
	srv.Refuse("full@example.com", 451)
	if _, err := p.Send(ctx, mailTo("gone@example.com", "gone", "x")); mailer.Classify(err) != outbox.Failed {
		t.Errorf("a refused address: %v (%s)", err, mailer.Classify(err))
	}
	if _, err := p.Send(ctx, mailTo("full@example.com", "full", "x")); mailer.Classify(err) != outbox.Retrying {
		t.Errorf("a deferred address: %v (%s)", err, mailer.Classify(err))
	}
	// The connection is still good after refusals: the next one goes.
	if _, err := p.Send(ctx, mailTo("tom@example.com", "after", "x")); err != nil {
		t.Fatalf("after refusals: %v", err)
	}
	wrong := smtpFor(t, srv, mailer.SMTPConfig{Username: "andy@example.com", Password: "not-it"})
	if _, err := wrong.Send(ctx, mailTo("tom@example.com", "wrong", "x")); mailer.Classify(err) != outbox.Retrying {
		t.Errorf("a wrong password: %v (%s)", err, mailer.Classify(err))
	}
	n := len(srv.Messages())
	srv.GoSilent()
	if _, err := p.Send(ctx, mailTo("tom@example.com", "silent", "x")); mailer.Classify(err) != outbox.Unknown {
		t.Errorf("no answer after the data: %v (%s)", err, mailer.Classify(err))
	}
	if len(srv.Messages()) != n+1 {
		t.Fatal("the silent server did not take the message")
	}
	// The provider dials again after losing its connection.
	if _, err := p.Send(ctx, mailTo("tom@example.com", "again", "x")); err != nil {
		t.Fatalf("after a dropped connection: %v", err)
	}
	for _, m := range srv.Messages() {
		if strings.Contains(m.ID, "gone@") || strings.Contains(m.ID, "full@") || strings.Contains(m.ID, "wrong@") {
			t.Errorf("a refused message arrived: %s", m.ID)
		}
	}
}

// TestSMTPRefusesPlainTextSignIn: a server without STARTTLS never gets the
// password (the mandatory TLS policy).
func TestSMTPRefusesPlainTextSignIn(t *testing.T) {
	srv := smtptest.StartWith(t, smtptest.Options{Passwords: map[string]string{"andy@example.com": "app-password-1"}})
	p := smtpFor(t, srv, mailer.SMTPConfig{Username: "andy@example.com", Password: "app-password-1"})
	if _, err := p.Send(context.Background(), mailTo("tom@example.com", "plain", "x")); err == nil || mailer.Classify(err) != outbox.Retrying {
		t.Fatalf("sent without TLS: %v", err)
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("a message went over plain text")
	}
}

// TestSMTPSignsWithDKIM: with a DKIM key, every message carries a
// signature that verifies against the key's public half published for the
// selector; changed in transit, it does not.
func TestSMTPSignsWithDKIM(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	key, err := gomail.PrivKeyFromPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	srv := smtptest.Start(t)
	p := smtpFor(t, srv, mailer.SMTPConfig{TLS: "none", DKIM: gomail.NewDKIMSigner("example.com", "pi2026", key)})
	if _, err := p.Send(context.Background(), mailTo("tom@example.net", "dkim", "Signed.\nTwo lines.")); err != nil {
		t.Fatal(err)
	}
	raw := srv.Messages()[0].Raw
	lookup := &dkim.VerifyOptions{LookupTXT: func(domain string) ([]string, error) {
		if domain != "pi2026._domainkey.example.com" {
			return nil, fmt.Errorf("no such record %s", domain)
		}
		return []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}, nil
	}}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), lookup)
	if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "example.com" {
		t.Fatalf("verify: %v %+v\n%s", err, vs, raw)
	}
	tampered := bytes.Replace(raw, []byte("Two lines."), []byte("Two lies."), 1)
	if vs, err := dkim.VerifyWithOptions(bytes.NewReader(tampered), lookup); err != nil || len(vs) != 1 || vs[0].Err == nil {
		t.Fatalf("a changed message verified: %v %+v", err, vs)
	}
}

// TestSMTPRunDecidesEachMessage sends runs on a pipelining server, with
// BDAT (the server offers CHUNKING) and with DATA: a run goes on one
// connection, each message decided on its own (a refused address fails, a
// deferred one retries, the others arrive once, in order, and the
// connection is still good for the next run).
func TestSMTPRunDecidesEachMessage(t *testing.T) {
	for name, cfg := range map[string]mailer.SMTPConfig{"bdat": {}, "data": {NoChunking: true}} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			srv := smtptest.StartWith(t, smtptest.Options{TLS: true, Passwords: map[string]string{"andy@example.com": "app-password-1"}})
			cfg.Username, cfg.Password = "andy@example.com", "app-password-1"
			p := smtpFor(t, srv, cfg)
			srv.Refuse("gone@example.com", 550)
			srv.Refuse("full@example.com", 451)
			srv.Refuse("busy@example.com", 421) // closing, it says, but it goes on
			srv.RefuseMessage("spammy", 554)    // its content, after its data
			srv.RefuseMessage("too big today", 452)
			run := []*mailer.Mail{mailTo("gone@example.com", "r0", "x"), mailTo("tom@example.com", "r1", "one"), mailTo("gone@example.com", "r2", "x"),
				mailTo("tom@example.com", "r3", "three"), mailTo("full@example.com", "r4", "x"), mailTo("tom@example.com", "r5", "five"),
				mailTo("busy@example.com", "r6", "x"), mailTo("tom@example.com", "r7", "seven"),
				mailTo("tom@example.com", "r8", "spammy"), mailTo("tom@example.com", "r9", "too big today"), mailTo("tom@example.com", "r10", "ten")}
			want := []outbox.State{outbox.Failed, outbox.Sent, outbox.Failed, outbox.Sent, outbox.Retrying, outbox.Sent, outbox.Retrying, outbox.Sent,
				outbox.Failed, outbox.Retrying, outbox.Sent}
			checkRun(t, run, p.SendRun(ctx, run), want)
			if a := arrived(srv); a != "r1 r3 r5 r7 r10" {
				t.Fatalf("arrived %s, want r1 r3 r5 r7 r10", a)
			}
			if n := srv.Conns(); n != 1 {
				t.Errorf("the run took %d connections, want 1", n)
			}

			// An address with a line break would carry a command of its own: it
			// fails before anything is written, and the rest of the run goes.
			injected := mailTo("tom@example.com>\r\nRCPT TO:<evil@example.com", "i1", "x")
			got := p.SendRun(ctx, []*mailer.Mail{injected, mailTo("tom@example.com", "i2", "x")})
			if mailer.Classify(got[0].Err) != outbox.Failed || got[1].Err != nil {
				t.Errorf("an address with a line break: %v (%s); the next: %v", got[0].Err, mailer.Classify(got[0].Err), got[1].Err)
			}
			for _, m := range srv.Messages() {
				for _, to := range m.To {
					if strings.Contains(to, "evil") {
						t.Fatalf("the injected recipient got mail: %+v", m)
					}
				}
			}
			if a := arrived(srv); a != "r1 r3 r5 r7 r10 i2" {
				t.Fatalf("arrived %s, want r1 r3 r5 r7 r10 i2", a)
			}
			if n := srv.Conns(); n != 1 {
				t.Errorf("%d connections after two runs, want 1", n)
			}
		})
	}
}

// TestSMTPRunAfterHangUps: a server that hangs up on an idle connection
// (without a word, or saying 421 as go-smtp's idle timeout does) took
// nothing of the next run, which goes whole on a new connection, each
// message once. One that hangs up after taking a message leaves it
// unknown: with DATA the rest of the run, of which the server had
// nothing, goes on a new connection; with BDAT their data had gone too,
// so they are unknown as well, and none is sent twice.
func TestSMTPRunAfterHangUps(t *testing.T) {
	for name, cfg := range map[string]mailer.SMTPConfig{"bdat": {}, "data": {NoChunking: true}} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			srv := smtptest.StartWith(t, smtptest.Options{IdleTimeout: 300 * time.Millisecond})
			cfg.TLS = "none"
			p := smtpFor(t, srv, cfg)
			three := func(id string) []*mailer.Mail {
				return []*mailer.Mail{mailTo("tom@example.com", id+"1", "x"), mailTo("tom@example.com", id+"2", "x"), mailTo("tom@example.com", id+"3", "x")}
			}
			all := []outbox.State{outbox.Sent, outbox.Sent, outbox.Sent}
			run := three("a")
			checkRun(t, run, p.SendRun(ctx, run), all)
			srv.HangUp()
			run = three("b")
			checkRun(t, run, p.SendRun(ctx, run), all)
			time.Sleep(700 * time.Millisecond) // the server says 421 and hangs up
			run = three("c")
			checkRun(t, run, p.SendRun(ctx, run), all)
			if a := arrived(srv); a != "a1 a2 a3 b1 b2 b3 c1 c2 c3" {
				t.Fatalf("arrived %s, want each of a, b and c once", a)
			}
			if n := srv.Conns(); n != 3 {
				t.Errorf("%d connections, want 3: one, and one after each hang-up", n)
			}

			srv.GoSilent() // takes s1, then hangs up without a word
			run = three("s")
			want := []outbox.State{outbox.Unknown, outbox.Sent, outbox.Sent}
			arrivals, conns := "s1 s2 s3", 4
			if name == "bdat" {
				want, arrivals, conns = []outbox.State{outbox.Unknown, outbox.Unknown, outbox.Unknown}, "s1", 3
			}
			checkRun(t, run, p.SendRun(ctx, run), want)
			if a := arrived(srv); a != "a1 a2 a3 b1 b2 b3 c1 c2 c3 "+arrivals {
				t.Fatalf("arrived %s, want %s after c3", a, arrivals)
			}
			if n := srv.Conns(); n != conns {
				t.Errorf("%d connections after the silent hang-up, want %d", n, conns)
			}
			run = three("d")
			checkRun(t, run, p.SendRun(ctx, run), all)
		})
	}
}

// checkRun fails t unless each message of run came out in its state of
// want, a sent one with its Message-ID as its reference.
func checkRun(t *testing.T, run []*mailer.Mail, got []mailer.Result, want []outbox.State) {
	t.Helper()
	for i, r := range got {
		st := outbox.Sent
		if r.Err != nil {
			st = mailer.Classify(r.Err)
		} else if r.Ref != run[i].MessageID {
			t.Errorf("message %d: ref %q, want %q", i, r.Ref, run[i].MessageID)
		}
		if st != want[i] {
			t.Errorf("message %d (%s): %s (%v), want %s", i, run[i].To, st, r.Err, want[i])
		}
	}
}

// arrived lists the ids of the messages srv took, in order.
func arrived(srv *smtptest.Server) string {
	var out []string
	for _, m := range srv.Messages() {
		out = append(out, strings.Trim(strings.TrimSuffix(m.ID, "@pi-crm.example>"), "<"))
	}
	return strings.Join(out, " ")
}

// TestSMTPRunWritesEachSendersHeaders: a run's messages are built one after
// another with what they share made once (the sender's address, the Date),
// yet each carries its own From (a display name with quotes in it too, and
// one not ASCII), a Date that reads back as the time it was sent, and its
// own data, a run far bigger than its write buffer included: each part
// exactly its own text, though one piece of memory held every part on its
// way into go-mail's message; a From that is not a bare address fails
// alone.
func TestSMTPRunWritesEachSendersHeaders(t *testing.T) {
	srv := smtptest.Start(t)
	p := smtpFor(t, srv, mailer.SMTPConfig{TLS: "none"})
	big := strings.Repeat("Rates moved this week.\n", 4000) // 92 KB
	run := []*mailer.Mail{mailTo("tom@example.com", "h0", "one"), mailTo("tom@example.com", "h1", big), mailTo("tom@example.com", "h2", "bad from"),
		mailTo("tom@example.com", "h3", "three"), mailTo("tom@example.com", "h4", "four\r\nlines\r\n"), mailTo("tom@example.com", "h5", "five")}
	run[1].FromName = `Andy "Rates" Lee`
	run[2].From = "Andy <andy@example.com>"
	run[3].From, run[3].FromName = "mona@example.com", "Mona Lisa Ngô"
	run[5].Date = time.Date(2026, 3, 1, 9, 30, 0, 0, time.FixedZone("PST", -8*3600))
	start := time.Now().Add(-time.Second)
	res := p.SendRun(context.Background(), run)
	checkRun(t, run, res, []outbox.State{outbox.Sent, outbox.Sent, outbox.Failed, outbox.Sent, outbox.Sent, outbox.Sent})
	if err := res[2].Err; err == nil || !strings.Contains(err.Error(), "not a bare address") {
		t.Errorf("h2's From %q: %v, want it refused before the server saw it", run[2].From, err)
	}
	if a := arrived(srv); a != "h0 h1 h3 h4 h5" {
		t.Fatalf("arrived %s, want h0 h1 h3 h4 h5", a)
	}
	want := map[string]mail.Address{"h0": {Name: "Andy", Address: "andy@example.com"}, "h1": {Name: `Andy "Rates" Lee`, Address: "andy@example.com"},
		"h3": {Name: "Mona Lisa Ngô", Address: "mona@example.com"}, "h4": {Name: "Andy", Address: "andy@example.com"}, "h5": {Name: "Andy", Address: "andy@example.com"}}
	for _, m := range srv.Messages() {
		id := strings.Trim(strings.TrimSuffix(m.ID, "@pi-crm.example>"), "<")
		msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		from, err := msg.Header.AddressList("From")
		if err != nil || len(from) != 1 || *from[0] != want[id] {
			t.Errorf("%s: From %q (%v), want %v", id, msg.Header.Get("From"), err, want[id])
		}
		date, err := msg.Header.Date()
		switch {
		case err != nil:
			t.Errorf("%s: Date %q: %v", id, msg.Header.Get("Date"), err)
		case id == "h5":
			if !date.Equal(run[5].Date) || msg.Header.Get("Date") != "Sun, 01 Mar 2026 09:30:00 -0800" {
				t.Errorf("h5: Date %q, want the message's own", msg.Header.Get("Date"))
			}
		case date.Before(start) || date.After(time.Now().Add(time.Second)):
			t.Errorf("%s: Date %v, want about now", id, date)
		}
		// Each part is its message's own, whole: the big one before
		// them leaves nothing in the parts after it.
		i, _ := strconv.Atoi(strings.TrimPrefix(id, "h"))
		got := parts(t, m.Raw)
		for ct, want := range map[string]string{"text/plain": run[i].Text, "text/html": run[i].HTML} {
			lf := func(s string) string { return strings.TrimSuffix(strings.ReplaceAll(s, "\r\n", "\n"), "\n") }
			if g := lf(got[ct][1]); g != lf(want) {
				t.Errorf("%s: %s reads back %d bytes %.40q, want its own %d bytes %.40q", id, ct, len(g), g, len(lf(want)), lf(want))
			}
		}
	}
}
