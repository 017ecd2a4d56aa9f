package health

import (
	"context"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/outbox"
)

// TestOutboxChecks: an unknown message and a message due for an hour
// each fail their check with what to do; an empty outbox passes both.
func TestOutboxChecks(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("LF")
	c := NewChecker(Config{MaxQueueWait: 30 * time.Minute}, app.DB, nil, nil)
	ctx := context.Background()
	if r := c.outboxUnknown(ctx); !r.OK {
		t.Fatalf("empty outbox: %+v", r)
	}
	if r := c.outboxStuck(ctx); !r.OK || r.Value != "empty" {
		t.Fatalf("empty outbox: %+v", r)
	}
	now := time.Now()
	if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		for i, due := range []time.Time{now.Add(-time.Hour), now} {
			if _, _, err := outbox.Enqueue(conn, outbox.Message{WorkspaceID: ws.ID, UserID: andy.Actor.UserID, DedupeKey: "k" + string(rune('a'+i)), Provider: "file",
				To: "t@example.com", From: "a@example.com", DueAt: due}, now); err != nil {
				return err
			}
		}
		if _, err := outbox.Claim(conn, 1, -time.Second, now.Add(-time.Minute)); err != nil {
			return err
		}
		_, err := outbox.Expire(conn, now)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if r := c.outboxUnknown(ctx); r.OK || r.Value != "1" || !strings.Contains(r.Detail, "Sending page") {
		t.Fatalf("one unknown: %+v", r)
	}
	// The hour-old one was claimed (now unknown); the one due now is fresh.
	if r := c.outboxStuck(ctx); !r.OK {
		t.Fatalf("a fresh message: %+v", r)
	}
	c.now = func() time.Time { return now.Add(time.Hour) }
	if r := c.outboxStuck(ctx); r.OK || !strings.Contains(r.Detail, "crm-sender") {
		t.Fatalf("a message due for an hour: %+v", r)
	}
}
