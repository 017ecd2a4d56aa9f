package outbox_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/outbox"
)

// BenchmarkClaimRecord is the outbox's part of sending a message: claimed
// in a batch of 200 (read with its body, marked claimed), then recorded
// sent, each in its own write transaction as crm-sender does, on a real
// database file. ns/msg is per message.
func BenchmarkClaimRecord(b *testing.B) {
	app := apptest.New(b, apptest.Options{})
	u := app.NewUser("Andy")
	ws := u.Workspace("Bench")
	ctx := context.Background()
	html := "<h2>Hi Client</h2><p>Rates moved this week for Homes &amp; Co. " + strings.Repeat("<a href=\"https://rateready.example/?e=client@example.com\">See yours</a> ", 12) + "</p>"
	text := strings.Repeat("Hi Client, rates moved this week for Homes & Co.\n", 12)
	const batch = 200
	n := 0
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		now := time.Now()
		if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
			for range batch {
				n++
				if _, _, err := outbox.Enqueue(conn, outbox.Message{WorkspaceID: ws.ID, UserID: u.Actor.UserID, DedupeKey: fmt.Sprintf("bench:%d", n), Provider: "smtp",
					To: fmt.Sprintf("client%d@example.com", n), From: "andy@bench.example", FromName: "Andy", Subject: "Rates for you", HTML: html, Text: text}, now); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		var claimed []outbox.Message
		if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
			var err error
			claimed, err = outbox.Claim(conn, batch, time.Minute, time.Now())
			return err
		}); err != nil || len(claimed) != batch {
			b.Fatalf("claimed %d: %v", len(claimed), err)
		}
		outs := make([]outbox.Outcome, len(claimed))
		for i := range claimed {
			outs[i] = claimed[i].Outcome()
			outs[i].State, outs[i].Ref = outbox.Sent, claimed[i].MessageID
		}
		if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
			took, err := outbox.Record(conn, time.Now(), outs...)
			if err == nil && len(took) != batch {
				err = fmt.Errorf("%d of %d recorded", len(took), batch)
			}
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/msg")
}
