package mailer_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/pkg/mailer"
)

// BenchmarkMIME builds and writes the MIME of a message like the sender
// bench's (one template with placeholders, text and HTML parts): the part
// of crm-sender's CPU per message that is not SQLite or the socket.
func BenchmarkMIME(b *testing.B) {
	m := &mailer.Mail{MessageID: "0190c0de-1234@pi-crm.example", From: "andy@bench.example", FromName: "Andy", To: "client42@example.com",
		Subject: "Rates for Client42", Date: time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC),
		HTML: `<!doctype html><html><body><div style="display:none">What moved for Homes &amp; Co</div><h2>Hi Client42</h2><p>Rates moved this week for Homes &amp; Co. <a href="https://rateready.example/?e=client42@example.com">See yours</a></p><p>Call me, Andy.</p></body></html>`,
		Text: "Hi Client42\n\nRates moved this week for Homes & Co. See yours (https://rateready.example/?e=client42@example.com)\n\nCall me, Andy.\n"}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		msg, err := m.Msg()
		if err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		if _, err := msg.WriteTo(&buf); err != nil {
			b.Fatal(err)
		}
	}
}
