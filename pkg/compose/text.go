package compose

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/placeholder"
	"github.com/pi-crm/pi-crm/pkg/sms"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// MaxText is the longest text, in characters (ten segments).
const MaxText = 1530

// TextDraft is the text form.
type TextDraft struct {
	RequestID string
	ContactID string
	Body      string // with placeholders, as an email's
}

// QueuedText is what Text did: the message and its segment count.
type QueuedText struct {
	Queued
	Segments int
	Unicode  bool
}

// Text fills d's placeholders for its contact and queues it to their
// primary phone from the appliance's number. A contact who texted STOP, is
// do-not-contact or has no phone is refused with the reason, as is a text
// when Twilio is not set up.
func (c *Composer) Text(ctx context.Context, actor auth.Actor, wsID string, d TextDraft) (QueuedText, error) {
	f := errs.Fields{}
	d.RequestID, d.Body = strings.TrimSpace(d.RequestID), strings.TrimSpace(d.Body)
	if badRequestID(d.RequestID) {
		f.Add("request_id", errRequestID)
	}
	if d.Body == "" {
		f.Add("body", "Write the text.")
	}
	if utf8.RuneCountInString(d.Body) > MaxText {
		f.Add("body", fmt.Sprintf("Use at most %d characters (ten texts).", MaxText))
	}
	if err := f.Err(); err != nil {
		return QueuedText{}, err
	}
	var q QueuedText
	err := workspace.Write(ctx, c.db, actor, wsID, func(conn *sqlite.Conn) error {
		from, err := events.SMSFrom(conn)
		if err != nil {
			return err
		}
		if from == "" {
			return errs.Fields{"provider": "Texting is not set up: crm-sender needs the Twilio account, number and token (see the README)."}.Err()
		}
		ct, err := contact.LoadIn(conn, wsID, d.ContactID)
		if err != nil {
			return err
		}
		q, err = c.textOne(conn, actor, wsID, ct, d.Body, from, "oneoff-sms:"+actor.UserID+":"+d.RequestID, false)
		return err
	})
	return q, err
}

// textOne queues body, its placeholders filled for ct, to ct's primary
// phone inside the caller's transaction, logged on ct. A contact it cannot
// go to is an Invalid error on "contact" saying why.
func (c *Composer) textOne(conn *sqlite.Conn, actor auth.Actor, wsID string, ct contact.Contact, text, from, dedupe string, bulk bool) (QueuedText, error) {
	var q QueuedText
	to, _, _ := strings.Cut(ct.PrimaryPhone(), ";") // a phone's extension is not dialled by a text
	switch {
	case ct.DoNotContact:
		return q, errs.Fields{"contact": ct.Name() + " is marked do-not-contact."}.Err()
	case to == "":
		return q, errs.Fields{"contact": ct.Name() + " has no phone number."}.Err()
	}
	flags, err := events.Flags(conn, ct.ID)
	if err != nil {
		return q, err
	}
	if why, ok := flags[events.FlagSMSOptOut]; ok {
		return q, errs.Fields{"contact": ct.Name() + " opted out of texts (" + why + "): no texts until they text START."}.Err()
	}
	defs, err := contact.FieldsIn(conn, wsID)
	if err != nil {
		return q, err
	}
	body, probs := placeholder.Text(text, emailtemplate.Values(ct, defs, emailtemplate.Sender{Name: actor.Name, Email: actor.Email}, ""), emailtemplate.KeysOf(defs))
	if len(probs) > 0 {
		return q, errs.Fields{"body": fmt.Sprintf("%s at %d: %s", probs[0].Source, probs[0].Pos, probs[0].Message)}.Err()
	}
	q.Segments, q.Unicode = sms.Segments(body)
	m := outbox.Message{WorkspaceID: wsID, UserID: actor.UserID, ContactID: ct.ID, Channel: outbox.SMS, DedupeKey: dedupe,
		Provider: "twilio", To: to, From: from, Text: body, Bulk: bulk}
	q.Queued, err = queueLogged(conn, actor, m, c.now(), activity.Entry{Kind: activity.SMS, Summary: "Text to " + to + ": " + body},
		func(id string) any {
			return activity.SMSBody{Text: body, Direction: activity.Out, OutboxID: id, Status: string(outbox.Queued), To: to}
		}, "sms.queue", map[string]any{"segments": q.Segments, "bulk": bulk})
	return q, err
}

// MaxTexts is the most contacts one bulk text goes to.
const MaxTexts = 1000

// TextsDraft is the bulk text form: one text for each contact selected.
type TextsDraft struct {
	RequestID  string
	ContactIDs []string
	Body       string
}

// TextsResult is what Texts did: how many were queued (and had been
// already, for a form sent twice) and who was left out, and why.
type TextsResult struct {
	Queued, Again int
	Segments      int // the longest text's
	Skipped       []Skipped
}

// Skipped is a contact a bulk text does not go to.
type Skipped struct {
	ContactID, Name, Why string
}

// Texts queues d's text for each selected contact of workspace wsID, its
// placeholders filled for each, in one transaction. Being bulk, the texts
// wait out the quiet hours where each recipient is. Contacts it cannot go
// to (do-not-contact, no phone, opted out, not in the workspace) are left
// out with the reason; a placeholder the text does not know refuses the
// whole form.
func (c *Composer) Texts(ctx context.Context, actor auth.Actor, wsID string, d TextsDraft) (TextsResult, error) {
	f := errs.Fields{}
	d.RequestID, d.Body = strings.TrimSpace(d.RequestID), strings.TrimSpace(d.Body)
	if badRequestID(d.RequestID) {
		f.Add("request_id", errRequestID)
	}
	switch {
	case d.Body == "":
		f.Add("body", "Write the text.")
	case utf8.RuneCountInString(d.Body) > MaxText:
		f.Add("body", fmt.Sprintf("Use at most %d characters (ten texts).", MaxText))
	}
	switch {
	case len(d.ContactIDs) == 0:
		f.Add("contacts", "Select the contacts to text on the contact list.")
	case len(d.ContactIDs) > MaxTexts:
		f.Add("contacts", fmt.Sprintf("Select at most %d contacts at a time.", MaxTexts))
	}
	if err := f.Err(); err != nil {
		return TextsResult{}, err
	}
	var res TextsResult
	err := workspace.Write(ctx, c.db, actor, wsID, func(conn *sqlite.Conn) error {
		res = TextsResult{}
		from, err := events.SMSFrom(conn)
		if err != nil {
			return err
		}
		if from == "" {
			return errs.Fields{"provider": "Texting is not set up: crm-sender needs the Twilio account, number and token (see the README)."}.Err()
		}
		seen := map[string]bool{}
		for _, id := range d.ContactIDs {
			if seen[id] {
				continue
			}
			seen[id] = true
			ct, err := contact.LoadIn(conn, wsID, id)
			if errs.KindOf(err) == errs.NotFound {
				res.Skipped = append(res.Skipped, Skipped{ContactID: id, Why: "not a contact of this workspace"})
				continue
			}
			if err != nil {
				return err
			}
			q, err := c.textOne(conn, actor, wsID, ct, d.Body, from, "bulk-sms:"+actor.UserID+":"+d.RequestID+":"+ct.ID, true)
			if fe := errs.As(err).Fields; err != nil && fe["contact"] != "" {
				res.Skipped = append(res.Skipped, Skipped{ContactID: ct.ID, Name: ct.Name(), Why: fe["contact"]})
				continue
			}
			if err != nil {
				return err
			}
			if q.Again {
				res.Again++
			} else {
				res.Queued++
			}
			res.Segments = max(res.Segments, q.Segments)
		}
		return nil
	})
	return res, err
}

// SMSFrom returns the appliance's texting number, or "" when texting is
// not set up.
func (c *Composer) SMSFrom(ctx context.Context) (string, error) {
	from := ""
	err := c.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		from, err = events.SMSFrom(conn)
		return err
	})
	return from, err
}
