package contact

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/richtext"
)

// Log returns a page of contact id's communication log in tab.
func (s *Store) Log(ctx context.Context, actor auth.Actor, wsID, id string, tab activity.Tab, before string) (activity.Page, error) {
	var p activity.Page
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		if err := ownContact(conn, actor, wsID, id); err != nil {
			return err
		}
		var err error
		p, err = activity.List(conn, wsID, id, tab, before, 25)
		return err
	})
	return p, err
}

// AddNote adds a timestamped rich-text note, sanitized with an allow-list.
func (s *Store) AddNote(ctx context.Context, actor auth.Actor, wsID, id, body string) error {
	return s.AddNoteAt(ctx, actor, wsID, id, body, time.Time{})
}

// AddNoteAt is AddNote for a note written at (a past meeting, the demo's
// history); zero is now.
func (s *Store) AddNoteAt(ctx context.Context, actor auth.Actor, wsID, id, body string, at time.Time) error {
	if at.After(time.Now().Add(time.Minute)) {
		return errs.Fields{"at": "A note cannot be written in the future."}.Err()
	}
	clean := strings.TrimSpace(s.notes.Clean(body))
	if clean == "" {
		return errs.Fields{"note": "Write the note first."}.Err()
	}
	if utf8.RuneCountInString(clean) > MaxNotes {
		return errs.Fields{"note": fmt.Sprintf("Use at most %d characters.", MaxNotes)}.Err()
	}
	return s.manual(ctx, actor, wsID, id, func(conn *sqlite.Conn) error {
		return activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: activity.Note, ActorUserID: actor.UserID, OccurredAt: at,
			Summary: snippet(richtext.Text(clean))}, activity.NoteBody{HTML: clean})
	}, true)
}

// AddCall logs a phone call: when, how long, and notes.
func (s *Store) AddCall(ctx context.Context, actor auth.Actor, wsID, id string, at time.Time, duration time.Duration, notes string) error {
	f := errs.Fields{}
	notes = strings.TrimSpace(notes)
	if duration < 0 || duration > 24*time.Hour {
		f.Add("duration", "Enter a duration from 0 to 24 hours.")
	}
	if at.After(time.Now().Add(time.Minute)) {
		f.Add("at", "A call that was made cannot be in the future.")
	}
	if utf8.RuneCountInString(notes) > MaxNotes {
		f.Add("notes", fmt.Sprintf("Use at most %d characters.", MaxNotes))
	}
	if err := f.Err(); err != nil {
		return err
	}
	return s.manual(ctx, actor, wsID, id, func(conn *sqlite.Conn) error {
		return activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: activity.Call, OccurredAt: at, ActorUserID: actor.UserID,
			Summary: callSummary(duration, notes)},
			activity.CallBody{DurationSeconds: int(duration.Seconds()), Notes: notes})
	}, false)
}

// Message is an email or a text sent or received outside the appliance
// (from the user's phone or mail app), logged by hand.
type Message struct {
	Kind      activity.Kind // Email or SMS
	Direction string        // activity.Out or activity.In
	At        time.Time     // zero: now
	Subject   string        // emails only
	Text      string
}

// AddMessage logs m on contact id's communication log, which moves the
// contact's last-contact time as a sent message does.
func (s *Store) AddMessage(ctx context.Context, actor auth.Actor, wsID, id string, m Message) error {
	f := errs.Fields{}
	m.Subject, m.Text = strings.TrimSpace(m.Subject), strings.TrimSpace(m.Text)
	if m.Kind != activity.Email && m.Kind != activity.SMS {
		f.Add("kind", "Choose email or text.")
	}
	if m.Direction != activity.Out && m.Direction != activity.In {
		f.Add("direction", "Choose sent or received.")
	}
	if m.At.After(time.Now().Add(time.Minute)) {
		f.Add("at", "A message that was sent cannot be in the future.")
	}
	if m.Text == "" && m.Subject == "" {
		f.Add("text", "Write what the message said.")
	}
	checkText(f, "subject", &m.Subject, MaxText)
	if utf8.RuneCountInString(m.Text) > MaxNotes {
		f.Add("text", fmt.Sprintf("Use at most %d characters.", MaxNotes))
	}
	if err := f.Err(); err != nil {
		return err
	}
	return s.manual(ctx, actor, wsID, id, func(conn *sqlite.Conn) error {
		e := activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: m.Kind, OccurredAt: m.At, ActorUserID: actor.UserID, Summary: m.summary()}
		if m.Kind == activity.Email {
			return activity.Record(conn, e, activity.EmailBody{Subject: m.Subject, Text: m.Text, Direction: m.Direction})
		}
		return activity.Record(conn, e, activity.SMSBody{Text: m.Text, Direction: m.Direction})
	}, false)
}

// summary is the message's one line in the log: "Email sent: <subject>",
// "Text received: <text>".
func (m Message) summary() string {
	verb := map[string]string{activity.Out: "sent", activity.In: "received"}[m.Direction]
	if m.Kind == activity.Email {
		return "Email " + verb + ": " + snippet(cmp.Or(m.Subject, m.Text))
	}
	return "Text " + verb + ": " + snippet(m.Text)
}

// callSummary is a call's one line in the log: "Call, 12 min: <notes>".
func callSummary(d time.Duration, notes string) string {
	s := fmt.Sprintf("Call, %d min", int(d.Round(time.Minute).Minutes()))
	if notes != "" {
		s += ": " + snippet(notes)
	}
	return s
}

func (s *Store) manual(ctx context.Context, actor auth.Actor, wsID, id string, write func(*sqlite.Conn) error, reindexAfter bool) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := ownContact(conn, actor, wsID, id); err != nil {
			return err
		}
		if err := write(conn); err != nil {
			return err
		}
		if reindexAfter {
			if err := reindex(conn, id); err != nil {
				return err
			}
		}
		return audit.Record(conn, actor.Audit("contact.log", "contact", id, nil))
	})
}

func snippet(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > 120 {
		r := []rune(s)
		return string(r[:119]) + "…"
	}
	return s
}

// LastOf returns contact id's newest log entry of kind, if any (for the
// details page's pinned notices: last email sent, and so on).
func (s *Store) LastOf(ctx context.Context, actor auth.Actor, wsID, id string, kind activity.Kind) (activity.Entry, bool, error) {
	var (
		e  activity.Entry
		ok bool
	)
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		if err := ownContact(conn, actor, wsID, id); err != nil {
			return err
		}
		var err error
		e, ok, err = activity.Latest(conn, id, kind)
		return err
	})
	return e, ok, err
}
