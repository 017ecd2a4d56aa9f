package web_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/compose"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/sender"
)

// TestSendingPages: the Email page refuses bad settings keeping what was
// typed (the secret is never put back), saves the file provider; a contact's
// Send form queues a message once however often it is sent; crm-sender's
// engine sends it; the Sending page and the contact's log say sent.
func TestSendingPages(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Family")
	tom := andy.Contact(ws.ID, "Tom", "tom@example.com")
	base := "/w/" + ws.ID

	_, body := app.Do(andy.Client, http.MethodGet, base+"/email", nil, nil)
	if !strings.Contains(body, "Not set up yet") {
		t.Fatalf("the Email page of a new workspace: %s", apptest.Trim(body))
	}
	// Mailgun without a domain or key: refused, what was typed kept, the key not echoed.
	resp, body := app.Do(andy.Client, http.MethodPost, base+"/email", strings.NewReader(url.Values{"kind": {"mailgun"}, "from_name": {"Andy N"},
		"from_email": {"andy@example.com"}, "secret": {"key-topsecret"}, "per_minute": {"0"}, "daily_cap": {"0"}}.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "Mailgun sending domain") || !strings.Contains(body, `value="Andy N"`) || strings.Contains(body, "key-topsecret") {
		t.Fatalf("the refused form: %s", apptest.Trim(body))
	}
	// SMTP with too many connections, and an IMAP port that is no number.
	resp, body = app.Do(andy.Client, http.MethodPost, base+"/email", strings.NewReader(url.Values{"kind": {"smtp"}, "from_email": {"andy@example.com"}, "host": {"smtp.example.com"},
		"port": {"587"}, "conns": {"99"}, "per_minute": {"0"}, "daily_cap": {"0"}}.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "Send on 1 to 16 connections at once") || !strings.Contains(body, `value="smtp.example.com"`) {
		t.Fatalf("too many connections: %s", apptest.Trim(body))
	}
	resp, body = app.Do(andy.Client, http.MethodPost, base+"/email", strings.NewReader(url.Values{"kind": {"smtp"}, "from_email": {"andy@example.com"}, "host": {"smtp.example.com"},
		"port": {"587"}, "imap_host": {"imap.example.com"}, "imap_port": {"nine"}, "per_minute": {"0"}, "daily_cap": {"0"}}.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "Enter the IMAP port as a number") || !strings.Contains(body, `value="imap.example.com"`) {
		t.Fatalf("a bad IMAP port: %s", apptest.Trim(body))
	}
	if resp := app.PostForm(andy.Client, base+"/email", url.Values{"kind": {"file"}, "from_name": {"Andy"}, "from_email": {"andy@example.com"},
		"per_minute": {"0"}, "daily_cap": {"0"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", resp.StatusCode)
	}

	_, body = app.Do(andy.Client, http.MethodGet, base+"/contacts/"+tom.ID+"/email", nil, nil)
	m := regexp.MustCompile(`name="request_id" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "To tom@example.com") {
		t.Fatalf("the send form: %s", apptest.Trim(body))
	}
	form := url.Values{"request_id": {m[1]}, "subject": {"Hi {{first_name}}"}, "body": {"<p>Rates moved, {{first_name}}.</p><script>x()</script>"}, "transaction": {"1"}}
	// Nothing to say: refused, the subject and the checkbox kept.
	resp, body = app.Do(andy.Client, http.MethodPost, base+"/contacts/"+tom.ID+"/email", strings.NewReader(url.Values{"request_id": {m[1]}, "subject": {"Hi"}, "transaction": {"1"}}.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "Write the message.") || !strings.Contains(body, `value="Hi"`) || !strings.Contains(body, `value="1" class="mt-1" checked`) {
		t.Fatalf("the refused send: %s", apptest.Trim(body))
	}
	// Preview: the message as it would go, nothing queued, what was typed kept.
	resp, body = postForm(app, andy.Client, base+"/contacts/"+tom.ID+"/email/preview", form, false)
	apptest.Expect(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `id="preview-subject" >Hi Tom<`) && !strings.Contains(body, `id="preview-subject">Hi Tom<`) || !strings.Contains(body, "Rates moved, Tom.") ||
		!strings.Contains(body, `value="`+m[1]+`"`) || strings.Contains(body[strings.Index(body, `id="email-preview"`):], "x()") {
		t.Fatalf("the preview: %s", body)
	}
	if msgs, _ := app.Compose.List(context.Background(), andy.Actor, ws.ID, "", 10); len(msgs) != 0 {
		t.Fatalf("a preview queued %d messages", len(msgs))
	}
	for range 2 { // a double submit is one message
		if resp := app.PostForm(andy.Client, base+"/contacts/"+tom.ID+"/email", form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("send: %d", resp.StatusCode)
		}
	}
	_, body = app.Do(andy.Client, http.MethodGet, base+"/outbox", nil, nil)
	if n := strings.Count(body, `data-state="queued"`); n != 1 || !strings.Contains(body, "Hi Tom") {
		t.Fatalf("the Sending page shows %d queued: %s", n, apptest.Trim(body))
	}
	s := sender.New(app.DB, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, t.TempDir(), sender.Options{})
	if _, err := s.Turn(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, body = app.Do(andy.Client, http.MethodGet, base+"/outbox?state=sent", nil, nil)
	if !strings.Contains(body, `data-state="sent"`) {
		t.Fatalf("after the sender's turn: %s", apptest.Trim(body))
	}
	_, body = app.Do(andy.Client, http.MethodGet, base+"/contacts/"+tom.ID+"/log", nil, nil)
	if !strings.Contains(body, "Email to tom@example.com: Hi Tom") || !strings.Contains(body, `data-status="sent"`) || strings.Contains(body, "x()") {
		t.Fatalf("the log: %s", apptest.Trim(body))
	}
	// Transaction-related: one note in the loan-file notes, however often
	// the form was sent.
	_, body = app.Do(andy.Client, http.MethodGet, base+"/contacts/"+tom.ID+"/log?tab=notes", nil, nil)
	if n := strings.Count(body, "Loan file: emailed tom@example.com: Hi Tom"); n != 1 {
		t.Fatalf("%d loan-file notes: %s", n, apptest.Trim(body))
	}
	// Another user sees none of it.
	mona := app.NewUser("Mona")
	if resp, _ := app.Do(mona.Client, http.MethodGet, base+"/outbox", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("Mona's view of Andy's Sending page: %d", resp.StatusCode)
	}
}

// TestMailgunWebhook: a signed webhook records its event once (the poll
// that reads it again adds nothing); a forged, stale or replayed one is
// refused; an unsubscribe flags the contact.
func TestMailgunWebhook(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("RateReady")
	tom := andy.Contact(ws.ID, "Tom", "tom@example.com")
	ctx := context.Background()
	if _, err := app.Providers.Set(ctx, andy.Actor, ws.ID, mailer.Change{Kind: mailer.KindMailgun, FromEmail: "andy@mg.example", Secret: "key-1",
		WebhookKey: "whsec", Settings: mailer.Settings{Domain: "mg.example"}}); err != nil {
		t.Fatal(err)
	}
	q, err := app.Compose.Email(ctx, andy.Actor, ws.ID, compose.Draft{RequestID: "r", ContactID: tom.ID, Subject: "Hi", BodyHTML: "<p>Hi</p>"})
	if err != nil {
		t.Fatal(err)
	}
	post := func(key, token string, ts time.Time, kind string) int {
		t.Helper()
		stamp := strconv.FormatInt(ts.Unix(), 10)
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write([]byte(stamp + token))
		body, _ := json.Marshal(map[string]any{
			"signature":  map[string]string{"timestamp": stamp, "token": token, "signature": hex.EncodeToString(mac.Sum(nil))},
			"event-data": map[string]any{"event": kind, "id": "ev-" + kind, "timestamp": float64(ts.Unix()), "recipient": "tom@example.com", "user-variables": map[string]any{"picrm-id": q.Message.ID}, "message": map[string]any{"headers": map[string]any{"message-id": q.Message.MessageID}}},
		})
		resp, err := http.Post(app.URL+"/hooks/mailgun/"+ws.ID, "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	now := time.Now()
	if st := post("wrong", "tok-0", now, "delivered"); st != http.StatusUnauthorized {
		t.Fatalf("forged: %d", st)
	}
	if st := post("whsec", "tok-1", now.Add(-time.Hour), "delivered"); st != http.StatusUnauthorized {
		t.Fatalf("stale: %d", st)
	}
	if st := post("whsec", "tok-2", now, "delivered"); st != http.StatusOK {
		t.Fatalf("signed: %d", st)
	}
	if st := post("whsec", "tok-2", now, "delivered"); st != http.StatusUnauthorized {
		t.Fatalf("replayed: %d", st)
	}
	if st := post("whsec", "tok-3", now, "unsubscribed"); st != http.StatusOK {
		t.Fatalf("unsubscribe: %d", st)
	}
	// The same events, read again as a poll would: recorded once.
	if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		fresh, err := events.Record(conn, events.Event{Provider: "mailgun", ID: "ev-delivered", WorkspaceID: ws.ID, Kind: events.Delivered, MessageID: q.Message.MessageID, Via: "poll"})
		if fresh {
			t.Error("the polled copy of a webhook's event was recorded again")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, err = app.Compose.Email(ctx, andy.Actor, ws.ID, compose.Draft{RequestID: "r2", ContactID: tom.ID, Subject: "Again", BodyHTML: "<p>x</p>"})
	if fe := errs.As(err).Fields; !strings.Contains(fe["contact"], "unsubscribed") {
		t.Fatalf("an email to an unsubscribed contact: %v", err)
	}
	// Another workspace's id in the path: 404, as for one without a hook.
	other := andy.Workspace("Other")
	resp, _ := http.Post(app.URL+"/hooks/mailgun/"+other.ID, "application/json", strings.NewReader("{}"))
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a workspace without a hook: %d", resp.StatusCode)
	}
}

// TestTextPage: without Twilio the form says so and a send is refused
// keeping the words; with it the text is queued once and its segments said.
func TestTextPage(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Family")
	first := "Linh"
	linh, err := app.Contacts.Create(context.Background(), andy.Actor, ws.ID, contact.Fields{FirstName: &first, Phones: &[]contact.PhoneInput{{Number: "+14155550123"}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	u := "/w/" + ws.ID + "/contacts/" + linh.ID + "/text"
	_, body := app.Do(andy.Client, http.MethodGet, u, nil, nil)
	if !strings.Contains(body, `id="sms-unset"`) {
		t.Fatalf("no word that texting is not set up: %s", apptest.Trim(body))
	}
	form := url.Values{"request_id": {"req-1"}, "body": {"Chào {{first_name}}, see you at 5 😀"}}
	resp, body := app.Do(andy.Client, http.MethodPost, u, strings.NewReader(form.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "Texting is not set up") || !strings.Contains(body, "see you at 5") {
		t.Fatalf("the refused text: %s", apptest.Trim(body))
	}
	if err := app.DB.Write(context.Background(), func(conn *sqlite.Conn) error { return events.SetSMSConfig(conn, "+14155550100") }); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if resp := app.PostForm(andy.Client, u, form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("send: %d", resp.StatusCode)
		}
	}
	msgs, err := app.Compose.List(context.Background(), andy.Actor, ws.ID, "", 10)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "Chào Linh, see you at 5 😀" || msgs[0].Channel != "sms" || msgs[0].To != "+14155550123" {
		t.Fatalf("queued: %+v %v", msgs, err)
	}
}

// TestLogShowsWhereEachMessageStands: a message the appliance sent says
// where it stands on its log line without opening the entry: queued, then
// sent, then the provider's word once it went (delivered; a bounce in red,
// which the Sending page shows beside the state);
// a text says queued as well; entries that are no message we sent (the
// contact's creation) say nothing.
func TestLogShowsWhereEachMessageStands(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Family")
	ctx := context.Background()
	first := "Tom"
	tom, err := app.Contacts.Create(ctx, andy.Actor, ws.ID, contact.Fields{FirstName: &first, Emails: &[]contact.EmailInput{{Address: "tom@example.com"}},
		Phones: &[]contact.PhoneInput{{Number: "+14155550123"}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Providers.Set(ctx, andy.Actor, ws.ID, mailer.Change{Kind: mailer.KindFile, FromEmail: "andy@family.example"}); err != nil {
		t.Fatal(err)
	}
	q, err := app.Compose.Email(ctx, andy.Actor, ws.ID, compose.Draft{RequestID: "r1", ContactID: tom.ID, Subject: "Rates", BodyHTML: "<p>Hi</p>"})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := func() []string {
		t.Helper()
		_, body := app.Do(andy.Client, http.MethodGet, "/w/"+ws.ID+"/contacts/"+tom.ID+"/log", nil, nil)
		var got []string
		for _, m := range regexp.MustCompile(`<span class="([^"]*)" data-outcome="([^"]*)">([^<]*)</span>`).FindAllStringSubmatch(body, -1) {
			if m[2] != m[3] {
				t.Errorf("outcome %q reads %q", m[2], m[3])
			}
			got = append(got, m[2]+"/"+m[1])
		}
		return got
	}
	if got := strings.Join(outcomes(), " "); got != "queued/" {
		t.Fatalf("queued: %s", got)
	}
	s := sender.New(app.DB, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, t.TempDir(), sender.Options{})
	if _, err := s.Turn(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(outcomes(), " "); got != "sent/" {
		t.Fatalf("sent: %s", got)
	}
	event := func(id, kind string) {
		t.Helper()
		if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
			_, err := events.Record(conn, events.Event{Provider: "file", ID: id, WorkspaceID: ws.ID, Kind: kind, MessageID: q.Message.MessageID, Recipient: "tom@example.com", Via: "poll"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	event("e1", events.Delivered)
	if got := strings.Join(outcomes(), " "); got != "delivered/" {
		t.Fatalf("delivered: %s", got)
	}
	event("e2", events.Bounced)
	if got := strings.Join(outcomes(), " "); got != "bounced/text-red-700" {
		t.Fatalf("bounced: %s", got)
	}
	// The Sending page says it too.
	if _, body := app.Do(andy.Client, http.MethodGet, "/w/"+ws.ID+"/outbox", nil, nil); !strings.Contains(body, `<span data-state="sent">sent</span> · <span data-delivery="bounced">bounced</span>`) {
		t.Errorf("the Sending page: %s", apptest.Trim(body))
	}
	if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error { return events.SetSMSConfig(conn, "+14155550100") }); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Compose.Text(ctx, andy.Actor, ws.ID, compose.TextDraft{RequestID: "t1", ContactID: tom.ID, Body: "See you at 5"}); err != nil {
		t.Fatal(err)
	}
	// Newest first: the text, then the email; the bounce's own entry and
	// the contact's creation have none.
	if got := strings.Join(outcomes(), " "); got != "queued/ bounced/text-red-700" {
		t.Fatalf("with a text: %s", got)
	}
	_, body := app.Do(andy.Client, http.MethodGet, "/w/"+ws.ID+"/contacts/"+tom.ID+"/log", nil, nil)
	if !strings.Contains(body, `data-status="queued">To +14155550123 · queued</p>`) || !strings.Contains(body, `data-status="sent">To tom@example.com · sent · bounced</p>`) {
		t.Errorf("the entries' first lines: %.3000s", body)
	}
}
