package sender_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/faketwilio"
	"github.com/pi-crm/pi-crm/pkg/compose"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/sender"
	"github.com/pi-crm/pi-crm/pkg/sms"
)

const ourNumber, phone = "+14155550100", "+14155550123"

// newTextRig is the sender rig with texting set up (a local Twilio) and a
// contact, Linh, who has a phone.
func newTextRig(t *testing.T) (*rig, *faketwilio.Server, contact.Contact) {
	t.Helper()
	r := newRig(t)
	tw := faketwilio.New("AC1", "tok")
	t.Cleanup(tw.Close)
	if err := r.app.DB.Write(context.Background(), func(conn *sqlite.Conn) error { return events.SetSMSConfig(conn, ourNumber) }); err != nil {
		t.Fatal(err)
	}
	first := "Linh"
	linh, err := r.app.Contacts.Create(context.Background(), r.andy.Actor, r.fileWS, contact.Fields{FirstName: &first, Phones: &[]contact.PhoneInput{{Number: phone}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	return r, tw, linh
}

// TestTextsStopStartAndInbound: a text goes out once; a reply is logged
// on every contact with that number; STOP marks them opted out (no text
// is queued to them, and a text Twilio refuses with 21610 fails), START
// clears it; a number no contact has is kept unmatched; a poll that reads
// the same texts again adds nothing.
func TestTextsStopStartAndInbound(t *testing.T) {
	r, tw, linh := newTextRig(t)
	ctx := context.Background()
	s := r.sender(sender.Options{Settle: -1, Recheck: time.Millisecond, SMS: sms.New(sms.Config{AccountSID: "AC1", AuthToken: "tok", From: ourNumber, BaseURL: tw.URL})})
	text := func(req string) (compose.QueuedText, error) {
		return r.comp.Text(ctx, r.andy.Actor, r.fileWS, compose.TextDraft{RequestID: req, ContactID: linh.ID, Body: "Hi {{first_name}}, rates moved."})
	}
	q, err := text("t1")
	if err != nil || q.Segments != 1 || q.Message.Text != "Hi Linh, rates moved." {
		t.Fatalf("queue: %+v %v", q, err)
	}
	if _, err := s.Turn(ctx); err != nil {
		t.Fatal(err)
	}
	got0 := r.get(t, q.Message.ID)
	if got0.State != outbox.Sent || !strings.HasPrefix(got0.ProviderRef, "SM") || len(tw.Sent()[phone]) != 1 {
		t.Fatalf("sent: %s %q ref %q, at Twilio %v", got0.State, got0.Error, got0.ProviderRef, tw.Sent())
	}
	count := func(q string, args ...any) int {
		n := 0
		if err := r.app.DB.Read(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args, ResultFunc: func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }})
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The carrier did not deliver it: the poll says so on the message.
	tw.SetStatus(got0.ProviderRef, "undelivered", 30003)
	tw.Inbound(phone, ourNumber, "Thanks!")
	tw.Inbound("+14155550999", ourNumber, "Who is this?")
	tw.Inbound(phone, ourNumber, "STOP")
	for range 2 {
		if err := s.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(`SELECT count(*) FROM activities WHERE contact_id = ? AND kind = 'sms' AND summary LIKE 'Text received%'`, linh.ID); n != 2 {
		t.Fatalf("%d replies logged, want 2", n)
	}
	if n := count(`SELECT count(*) FROM inbound_texts WHERE matched = 0`); n != 1 {
		t.Fatalf("%d unmatched, want 1", n)
	}
	if n := count(`SELECT count(*) FROM outbox WHERE id = ? AND delivery = 'undelivered'`, q.Message.ID); n != 1 {
		t.Fatal("the undelivered status did not reach the message")
	}
	if n := count(`SELECT count(*) FROM provider_events WHERE outbox_id = ? AND kind = 'undelivered' AND detail = 'Twilio error 30003'`, q.Message.ID); n != 1 {
		t.Fatalf("%d undelivered events", n)
	}
	if _, err := text("t2"); err == nil || !strings.Contains(errsFields(err)["contact"], "opted out") {
		t.Fatalf("a text after STOP: %v", err)
	}
	// A text already queued before the STOP: Twilio refuses it (21610), it fails.
	tw.Inbound(phone, ourNumber, "START")
	if err := s.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	q3, err := text("t3")
	if err != nil {
		t.Fatalf("a text after START: %v", err)
	}
	tw.Inbound(phone, ourNumber, "stop")
	if _, err := s.Turn(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.get(t, q3.Message.ID); got.State != outbox.Failed || !strings.Contains(got.Error, "STOP") {
		t.Fatalf("a text Twilio refused: %s %q", got.State, got.Error)
	}
	if n := count(`SELECT count(*) FROM contact_flags WHERE contact_id = ? AND flag = 'sms_opt_out'`, linh.ID); n != 1 {
		t.Fatalf("flag: %d", n)
	}
}

// TestUnknownTextIsReconciled: a text whose sender died after Twilio took
// it is found (by recipient, number and body) and marked sent, never sent
// again; a second text with the same words is not mistaken for the first.
func TestUnknownTextIsReconciled(t *testing.T) {
	r, tw, linh := newTextRig(t)
	ctx := context.Background()
	client := sms.New(sms.Config{AccountSID: "AC1", AuthToken: "tok", From: ourNumber, BaseURL: tw.URL})
	s := r.sender(sender.Options{Settle: -1, Recheck: time.Millisecond, SMS: client})
	queue := func(req string) outbox.Message {
		q, err := r.comp.Text(ctx, r.andy.Actor, r.fileWS, compose.TextDraft{RequestID: req, ContactID: linh.ID, Body: "See you at 5."})
		if err != nil {
			t.Fatal(err)
		}
		return q.Message
	}
	claimDead := func(send bool) {
		t.Helper()
		var claimed []outbox.Message
		if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
			var err error
			claimed, err = outbox.Claim(conn, 10, -time.Second, time.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if send {
			for _, m := range claimed {
				if _, err := client.Send(ctx, m.To, m.Text); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	a := queue("a")
	claimDead(true) // Twilio has it; the sender died before it recorded
	r.turnsUntil(t, s, func() bool { return r.get(t, a.ID).State == outbox.Sent })
	b := queue("b")
	claimDead(false) // the sender died before Twilio had it
	// Expire, reconcile (never sent: queued again), send.
	r.turnsUntil(t, s, func() bool { return r.get(t, b.ID).State == outbox.Sent })
	ga, gb := r.get(t, a.ID), r.get(t, b.ID)
	if ga.State != outbox.Sent || gb.State != outbox.Sent || ga.ProviderRef == gb.ProviderRef {
		t.Fatalf("a %s %q, b %s %q", ga.State, ga.ProviderRef, gb.State, gb.ProviderRef)
	}
	if n := len(tw.Sent()[phone]); n != 2 {
		t.Fatalf("Twilio got %d texts, want 2 (one each)", n)
	}
}
