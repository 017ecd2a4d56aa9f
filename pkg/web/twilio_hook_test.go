package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/internal/faketwilio"
	"github.com/pi-crm/pi-crm/pkg/compose"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/sender"
	"github.com/pi-crm/pi-crm/pkg/sms"
	"github.com/pi-crm/pi-crm/pkg/web"
)

// TestTwilioWebhook: texts Twilio posts to /hooks/twilio are logged on the
// contact with that phone, STOP and START applied, each once whether the
// webhook or the poller hears it first; a status callback marks our text
// delivered; forged, tampered, replayed and other accounts' requests are
// refused and change nothing; without a token the route is 404.
func TestTwilioWebhook(t *testing.T) {
	const ours, phone = "+14155550100", "+14155550123"
	app := apptest.New(t, apptest.Options{NoJobs: true, Twilio: web.TwilioHook{AccountSID: "AC1", AuthToken: "tok"}})
	tw := faketwilio.New("AC1", "tok")
	defer tw.Close()
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Family")
	first := "Linh"
	linh, err := app.Contacts.Create(context.Background(), andy.Actor, ws.ID, contact.Fields{FirstName: &first, Phones: &[]contact.PhoneInput{{Number: phone}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	hook := app.URL + "/hooks/twilio"
	text := func(sid, body string) url.Values {
		return url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {"AC1"}, "From": {phone}, "To": {ours}, "Body": {body}, "NumMedia": {"0"}, "SmsStatus": {"received"}}
	}
	post := func(v url.Values, sig string) int {
		req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	count := func(q string, args ...any) int {
		n := 0
		if err := app.DB.Read(context.Background(), func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args, ResultFunc: func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }})
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	logged := func() int {
		return count(`SELECT count(*) FROM activities WHERE contact_id = ? AND kind = 'sms'`, linh.ID)
	}

	resp, err := tw.Post(hook, text("SM100", "Is 5pm ok?"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "<Response></Response>") || logged() != 1 {
		t.Fatalf("a signed text: %d %s, %d logged", resp.StatusCode, b, logged())
	}
	// The same request again (a replay), forged, tampered, another account.
	v := text("SM100", "Is 5pm ok?")
	if code := post(v, sms.Signature("tok", hook, v)); code != http.StatusConflict {
		t.Errorf("a replay: %d", code)
	}
	v = text("SM101", "STOP")
	if code := post(v, sms.Signature("not-the-token", hook, v)); code != http.StatusForbidden {
		t.Errorf("forged: %d", code)
	}
	sig := sms.Signature("tok", hook, v)
	v.Set("Body", "START")
	if code := post(v, sig); code != http.StatusForbidden {
		t.Errorf("tampered: %d", code)
	}
	if code := post(text("SM102", "STOP"), ""); code != http.StatusForbidden {
		t.Errorf("unsigned: %d", code)
	}
	other := text("SM103", "STOP")
	other.Set("AccountSid", "AC2")
	if code := post(other, sms.Signature("tok", hook, other)); code != http.StatusForbidden {
		t.Errorf("another account: %d", code)
	}
	optedOut := func() int {
		return count(`SELECT count(*) FROM contact_flags WHERE contact_id = ? AND flag = ?`, linh.ID, events.FlagSMSOptOut)
	}
	if logged() != 1 || optedOut() != 0 {
		t.Fatalf("refused requests changed things: %d logged, opted out %d", logged(), optedOut())
	}
	// STOP, then START, through the webhook.
	if resp, err := tw.Post(hook, text("SM104", "Stop")); err != nil || resp.StatusCode != http.StatusOK || optedOut() != 1 {
		t.Fatalf("STOP: %v %v, opted out %d", resp, err, optedOut())
	}
	if resp, err := tw.Post(hook, text("SM105", "start")); err != nil || resp.StatusCode != http.StatusOK || optedOut() != 0 {
		t.Fatalf("START: %v %v, opted out %d", resp, err, optedOut())
	}
	// The poller reading the same texts later adds nothing.
	if err := app.DB.Write(context.Background(), func(conn *sqlite.Conn) error {
		isNew, err := events.Inbound(conn, "SM104", phone, ours, "Stop", "poll", time.Now())
		if isNew {
			t.Error("the poller recorded a text the webhook had")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if logged() != 3 {
		t.Fatalf("%d texts logged, want 3", logged())
	}

	// A text of ours, and Twilio's status callback for it.
	if err := app.DB.Write(context.Background(), func(conn *sqlite.Conn) error { return events.SetSMSConfig(conn, ours) }); err != nil {
		t.Fatal(err)
	}
	q, err := app.Compose.Text(context.Background(), andy.Actor, ws.ID, compose.TextDraft{RequestID: "r1", ContactID: linh.ID, Body: "See you at 5"})
	if err != nil {
		t.Fatal(err)
	}
	s := sender.New(app.DB, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, t.TempDir(), sender.Options{SMS: sms.New(sms.Config{AccountSID: "AC1", AuthToken: "tok", From: ours, BaseURL: tw.URL})})
	if _, err := s.Turn(context.Background()); err != nil {
		t.Fatal(err)
	}
	sids := tw.SentSIDs(phone)
	if len(sids) != 1 {
		t.Fatalf("sent %v", sids)
	}
	status := url.Values{"MessageSid": {sids[0]}, "AccountSid": {"AC1"}, "From": {ours}, "To": {phone}, "MessageStatus": {"delivered"}}
	if resp, err := tw.Post(hook, status); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status callback: %v %v", resp, err)
	}
	if n := count(`SELECT count(*) FROM outbox WHERE id = ? AND state = 'sent' AND delivery = 'delivered'`, q.Message.ID); n != 1 {
		t.Fatal("the status callback did not mark the text delivered")
	}
	// The same status heard again by the poller is recorded once.
	if err := app.DB.Write(context.Background(), func(conn *sqlite.Conn) error {
		isNew, err := events.TextStatus(conn, sids[0], "delivered", "", "poll", time.Now())
		if isNew {
			t.Error("the poller recorded a status the webhook had")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	bare := apptest.New(t, apptest.Options{NoJobs: true})
	if resp, err := tw.Post(bare.URL+"/hooks/twilio", text("SM200", "hi")); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("without a token: %v %v", resp, err)
	}
}
