package sender_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/sender"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// TestQuietHoursHoldBulkMail: with quiet hours around the present hour in
// New York, bulk mail to a contact whose phone is in New York waits (put
// back untried, until the hours end there), while bulk mail to a contact
// on the workspace's Los Angeles clock and a one-off to the New Yorker go.
func TestQuietHoursHoldBulkMail(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	ny, _ := time.LoadLocation("America/New_York")
	now := time.Now().In(ny)
	from, to := now.Add(-time.Hour).Format("15:04"), now.Add(time.Hour).Format("15:04")
	tz := "America/Los_Angeles"
	if _, err := r.app.Workspaces.Update(ctx, r.andy.Actor, r.fileWS, workspace.Change{TimeZone: &tz, QuietStart: &from, QuietEnd: &to}); err != nil {
		t.Fatal(err)
	}
	first, phone := "Nia", "+12125550123" // a Manhattan number
	nia, err := r.app.Contacts.Create(ctx, r.andy.Actor, r.fileWS, contact.Fields{FirstName: &first, Emails: &[]contact.EmailInput{{Address: "nia@example.com"}},
		Phones: &[]contact.PhoneInput{{Number: phone}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	bulk := func(contactID, to, key string) string {
		var id string
		if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
			var err error
			id, _, err = outbox.Enqueue(conn, outbox.Message{WorkspaceID: r.fileWS, UserID: r.andy.Actor.UserID, ContactID: contactID, DedupeKey: key, Provider: "file",
				To: to, From: "andy@family.example", Subject: "Holiday hours", Text: "We are open", Bulk: true}, time.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	toNia, toTom := bulk(nia.ID, "nia@example.com", "c:nia"), bulk(r.tom, "tom@example.com", "c:tom")
	oneOff := r.queue(t, r.fileWS, nia.ID, "one-off")
	s := r.sender(sender.Options{Settle: -1})
	r.turnsUntil(t, s, func() bool { return r.get(t, toTom).State == outbox.Sent && r.get(t, oneOff.ID).State == outbox.Sent })
	held := r.get(t, toNia)
	wantDue := time.Date(now.Year(), now.Month(), now.Day(), now.Add(time.Hour).Hour(), now.Add(time.Hour).Minute(), 0, 0, ny)
	if !wantDue.After(now) {
		wantDue = wantDue.AddDate(0, 0, 1)
	}
	if held.State != outbox.Queued || held.Attempts != 0 || !strings.Contains(held.Error, "America/New_York") || !held.DueAt.Equal(wantDue) {
		t.Fatalf("bulk mail in quiet hours: %s, %d attempts, due %s (want %s), %q", held.State, held.Attempts, held.DueAt, wantDue, held.Error)
	}
	// Another turn does not take it again before the hours end.
	if _, err := s.Turn(ctx); err != nil {
		t.Fatal(err)
	}
	if again := r.get(t, toNia); again.State != outbox.Queued || again.Attempts != 0 {
		t.Fatalf("after another turn: %s %d", again.State, again.Attempts)
	}
	// Quiet hours off: it goes.
	none := ""
	if _, err := r.app.Workspaces.Update(ctx, r.andy.Actor, r.fileWS, workspace.Change{QuietStart: &none, QuietEnd: &none}); err != nil {
		t.Fatal(err)
	}
	if err := r.app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `UPDATE outbox SET due_at = ? WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{store.FormatTime(time.Now()), toNia}})
	}); err != nil {
		t.Fatal(err)
	}
	r.turnsUntil(t, s, func() bool { return r.get(t, toNia).State == outbox.Sent })
}

// sqlitexOne reads one text value.
func sqlitexOne(conn *sqlite.Conn, q string, into *string) error {
	return sqlitex.Execute(conn, q, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { *into = st.ColumnText(0); return nil }})
}
