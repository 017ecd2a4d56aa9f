package sender_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/backend/memory"
	imapserver "github.com/emersion/go-imap/server"
	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/internal/smtptest"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/secrets"
	"github.com/pi-crm/pi-crm/pkg/sender"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// TestSMTPRepliesOverIMAP: an SMTP account with its IMAP server given
// (a real IMAP server here) has its inbox read by UID from where it stood:
// a reply to our message lands on the contact as a reply, a
// List-Unsubscribe email unsubscribes them, and reading again adds
// nothing.
func TestSMTPRepliesOverIMAP(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	smtpSrv := smtptest.StartWith(t, smtptest.Options{Passwords: map[string]string{"username": "password"}})
	be := memory.New() // one account, username / password, a message in INBOX
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	is := imapserver.New(be)
	is.AllowInsecureAuth = true
	go is.Serve(l)
	t.Cleanup(func() { is.Close() })
	ws := r.andy.Workspace("Consulting").ID
	tom := r.andy.Contact(ws, "Tom", "tom@example.com").ID
	sh, sp, _ := net.SplitHostPort(smtpSrv.Addr)
	_, ip, _ := net.SplitHostPort(l.Addr().String())
	imapPort, _ := strconv.Atoi(ip)
	if _, err := r.cfgs.Set(ctx, r.andy.Actor, ws, mailer.Change{Kind: mailer.KindSMTP, FromName: "Andy", FromEmail: "andy@consulting.example", Secret: "password",
		Settings: mailer.Settings{Host: sh, Port: mailer.Port(sp), TLS: "none", Username: "username", IMAPHost: "127.0.0.1", IMAPPort: imapPort, IMAPTLS: "none"}}); err != nil {
		t.Fatal(err)
	}
	none := ""
	if _, err := r.app.Workspaces.Update(ctx, r.andy.Actor, ws, workspace.Change{QuietStart: &none, QuietEnd: &none}); err != nil {
		t.Fatal(err)
	}
	s := r.sender(sender.Options{Settle: -1})
	if err := s.Poll(ctx); err != nil { // the inbox is read from here on: its old message is not a reply
		t.Fatal(err)
	}
	a := r.queue(t, ws, tom, "a")
	var bulkID string
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		var err error
		bulkID, _, err = outbox.Enqueue(conn, outbox.Message{WorkspaceID: ws, UserID: r.andy.Actor.UserID, ContactID: tom, DedupeKey: "campaign:x:" + tom, Provider: mailer.KindSMTP,
			To: "tom@example.com", From: "andy@consulting.example", Subject: "News", Text: "News", Bulk: true}, time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r.turnsUntil(t, s, func() bool { return r.get(t, a.ID).State == outbox.Sent && r.get(t, bulkID).State == outbox.Sent })
	if n := len(smtpSrv.Messages()); n != 2 {
		t.Fatalf("%d messages at the SMTP server", n)
	}
	u, err := be.Login(nil, "username", "password")
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := u.GetMailbox("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	deliver := func(subject, inReplyTo, body string) {
		t.Helper()
		msg := "From: Tom <tom@example.com>\r\nTo: andy@consulting.example\r\nSubject: " + subject + "\r\nMessage-ID: <" + strconv.FormatInt(time.Now().UnixNano(), 10) + "@mail.example>\r\n"
		if inReplyTo != "" {
			msg += "In-Reply-To: <" + inReplyTo + ">\r\nReferences: <" + inReplyTo + ">\r\n"
		}
		msg += "Content-Type: text/plain\r\n\r\n" + body + "\r\n"
		if err := inbox.(*memory.Mailbox).CreateMessage(nil, time.Now(), bytes.NewBufferString(msg)); err != nil {
			t.Fatal(err)
		}
	}
	deliver("Re: Rates for Tom", a.MessageID, "Sounds good.\r\n> quoted")
	deliver("unsubscribe "+bulkID, "", "")
	for range 2 {
		if err := s.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	o := &oauthRig{rig: r}
	o.wantInbound(t, ws, map[string]string{"Re: Rates for Tom": tom, "unsubscribe " + bulkID: tom})
	o.wantLogged(t, tom, []string{"Replied: Re: Rates for Tom", "Asked by email to unsubscribe"})
	o.wantReplied(t, a.ID, 1)
	var snippet string
	if err := r.app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitexOne(conn, `SELECT snippet FROM inbound_emails WHERE subject = 'Re: Rates for Tom'`, &snippet)
	}); err != nil {
		t.Fatal(err)
	}
	if snippet != "Sounds good." {
		t.Errorf("snippet %q", snippet)
	}
}

// TestDKIMKeyIsCheckedAndSealed: a key that is no PEM, or a selector
// without a key, is refused naming the field; a good key is stored sealed
// for its workspace and kept when the settings are saved without it.
func TestDKIMKeyIsCheckedAndSealed(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	ws := r.andy.Workspace("Relay").ID
	set := func(key, selector string) error {
		_, err := r.cfgs.Set(ctx, r.andy.Actor, ws, mailer.Change{Kind: mailer.KindSMTP, FromEmail: "andy@relay.example", DKIMKey: key,
			Settings: mailer.Settings{Host: "relay.lan", Port: 25, TLS: "none", DKIMSelector: selector}})
		return err
	}
	if f := errsFields(set("not a key", "pi")); f["dkim_key"] == "" {
		t.Fatalf("a key that is no PEM: %v", f)
	}
	if f := errsFields(set("", "pi")); f["dkim_key"] == "" {
		t.Fatalf("a selector without a key: %v", f)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if f := errsFields(set(pemKey, "")); f["dkim_selector"] == "" {
		t.Fatalf("a key without a selector: %v", f)
	}
	if err := set(pemKey, "pi"); err != nil {
		t.Fatal(err)
	}
	if err := set("", "pi"); err != nil { // saved again: the key is kept
		t.Fatal(err)
	}
	cfg, _, _ := r.cfgs.Get(ctx, r.andy.Actor, ws)
	var raw string
	if err := r.app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitexOne(conn, `SELECT dkim_key FROM email_providers WHERE workspace_id = '`+ws+`'`, &raw)
	}); err != nil {
		t.Fatal(err)
	}
	if !cfg.HasDKIMKey || raw == "" || strings.Contains(raw, "PRIVATE KEY") {
		t.Fatalf("stored %q (has %v)", raw, cfg.HasDKIMKey)
	}
	if _, err := mailer.Open(cfg, mailer.Env{Ring: r.ring, DataDir: r.dir}); err != nil {
		t.Fatalf("open with the key: %v", err)
	}
}

// TestResealMovesEverySecret: rotating the keys moves the password, the
// webhook key and the DKIM key to the new key; afterwards the provider
// opens with a ring holding the new key only.
func TestResealMovesEverySecret(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	ws := r.andy.Workspace("Relay").ID
	if _, err := r.cfgs.Set(ctx, r.andy.Actor, ws, mailer.Change{Kind: mailer.KindSMTP, FromEmail: "andy@relay.example", Secret: "app-pw",
		DKIMKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		Settings: mailer.Settings{Host: "relay.lan", Port: 587, Username: "andy", DKIMSelector: "pi"}}); err != nil {
		t.Fatal(err)
	}
	newKey := secrets.NewKey()
	rotated, err := secrets.Parse(newKey + "\n" + secretsText(t, r))
	if err != nil {
		t.Fatal(err)
	}
	moved, _, err := mailer.Reseal(ctx, r.app.DB, rotated)
	if err != nil {
		t.Fatal(err)
	}
	// The rig's Mailgun workspace has a key; this one a password and a DKIM key.
	if moved != 3 {
		t.Fatalf("%d secrets moved, want 3", moved)
	}
	only, _ := secrets.Parse(newKey)
	cfg, _, _ := mailer.NewConfigs(r.app.DB, only).Get(ctx, r.andy.Actor, ws)
	if _, err := mailer.Open(cfg, mailer.Env{Ring: only, DataDir: r.dir}); err != nil {
		t.Fatalf("open with the new key only: %v", err)
	}
}

// secretsText is the rig's key file.
func secretsText(t *testing.T, r *rig) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, secrets.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
