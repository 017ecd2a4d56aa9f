// Package compose queues the one-off emails a user writes to a contact,
// from a template or free-form: it renders the message for the contact,
// puts it in the outbox under the form's request id (a second submit of
// the same form queues nothing) and logs it on the contact, in one
// transaction. crm-sender sends it; the log entry follows its state.
package compose

import (
	"context"
	"fmt"
	"html"
	"strings"
	"time"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/richtext"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Draft is the send form.
type Draft struct {
	RequestID  string // the form's own id: the same form sent twice is one message
	ContactID  string
	TemplateID string // or the free-form subject and body
	Subject    string
	BodyHTML   string
	// Transaction marks an email about a loan or a sale in progress: it
	// also lands in the contact's notes (the loan-file notes' history).
	Transaction bool
}

// Composer queues one-off emails.
type Composer struct {
	db        *store.DB
	templates *emailtemplate.Store
	policy    *richtext.Policy
	now       func() time.Time
}

// New returns a composer over db.
func New(db *store.DB, templates *emailtemplate.Store) *Composer {
	return &Composer{db: db, templates: templates, policy: richtext.NewEmail(), now: time.Now}
}

// Queued is what Email did.
type Queued struct {
	Message outbox.Message
	Again   bool // the request had been queued before: nothing new
}

// Email renders d for its contact and queues it. The contact must have an
// email address and not be marked do-not-contact; the workspace must have
// a provider. Errors name the field; nothing is queued then.
func (c *Composer) Email(ctx context.Context, actor auth.Actor, wsID string, d Draft) (Queued, error) {
	f := errs.Fields{}
	d.RequestID = strings.TrimSpace(d.RequestID)
	if badRequestID(d.RequestID) {
		f.Add("request_id", errRequestID)
	}
	tpl, err := c.draftTemplate(ctx, actor, wsID, &d, f)
	if err != nil {
		return Queued{}, err
	}
	var q Queued
	err = workspace.Write(ctx, c.db, actor, wsID, func(conn *sqlite.Conn) error {
		r, err := c.render(conn, wsID, d.ContactID, tpl)
		if err != nil {
			return err
		}
		ct, cfg, to, e := r.contact, r.cfg, r.to, r.email
		now := c.now()
		m := outbox.Message{WorkspaceID: wsID, UserID: actor.UserID, ContactID: ct.ID, Channel: outbox.Email, DedupeKey: "oneoff:" + actor.UserID + ":" + d.RequestID,
			Provider: cfg.Kind, To: to, From: cfg.FromEmail, FromName: cfg.FromName, TemplateID: d.TemplateID, Subject: e.Subject, HTML: e.HTML, Text: e.Text}
		q, err = queueLogged(conn, actor, m, now, activity.Entry{Kind: activity.Email, Summary: "Email to " + to + ": " + e.Subject},
			func(id string) any {
				return activity.EmailBody{Subject: e.Subject, Text: e.Text, Direction: activity.Out, OutboxID: id, Status: string(outbox.Queued), To: to}
			}, "email.queue", map[string]any{"template_id": d.TemplateID, "transaction": d.Transaction})
		if err != nil || q.Again || !d.Transaction {
			return err
		}
		return activity.Record(conn, activity.Entry{ID: store.NewID(), WorkspaceID: wsID, ContactID: ct.ID, Kind: activity.Note, OccurredAt: now, ActorUserID: actor.UserID,
			Summary: "Loan file: emailed " + to + ": " + e.Subject}, activity.NoteBody{HTML: loanFileNote(to, e.Subject, e.Text)})
	})
	return q, err
}

// Previewed is what an email would be: to whom, from whom, and its
// subject and parts as filled in for the contact.
type Previewed struct {
	To, From string
	Email    emailtemplate.Email
}

// Preview renders d for its contact as Email would, queuing nothing, with
// the same refusals.
func (c *Composer) Preview(ctx context.Context, actor auth.Actor, wsID string, d Draft) (Previewed, error) {
	tpl, err := c.draftTemplate(ctx, actor, wsID, &d, errs.Fields{})
	if err != nil {
		return Previewed{}, err
	}
	var p Previewed
	err = workspace.Read(ctx, c.db, actor, wsID, func(conn *sqlite.Conn) error {
		r, err := c.render(conn, wsID, d.ContactID, tpl)
		p = Previewed{To: r.to, From: r.cfg.FromEmail, Email: r.email}
		return err
	})
	return p, err
}

// draftTemplate checks d's free-form subject and body (adding to f) or
// loads its template.
func (c *Composer) draftTemplate(ctx context.Context, actor auth.Actor, wsID string, d *Draft, f errs.Fields) (emailtemplate.Template, error) {
	d.Subject = strings.TrimSpace(d.Subject)
	if d.TemplateID == "" {
		if d.Subject == "" {
			f.Add("subject", "Write a subject.")
		}
		if utf8.RuneCountInString(d.Subject) > 200 {
			f.Add("subject", "Use at most 200 characters.")
		}
		d.BodyHTML = strings.TrimSpace(c.policy.Clean(d.BodyHTML))
		if richtext.Text(d.BodyHTML) == "" {
			f.Add("body", "Write the message.")
		}
	}
	if err := f.Err(); err != nil {
		return emailtemplate.Template{}, err
	}
	if d.TemplateID == "" {
		return emailtemplate.Template{Name: "one-off", Subject: d.Subject, BodyHTML: d.BodyHTML}, nil
	}
	tpl, err := c.templates.Get(ctx, actor, wsID, d.TemplateID)
	if errs.KindOf(err) == errs.NotFound {
		return tpl, errs.Fields{"template_id": "Choose one of this workspace's templates."}.Err()
	}
	return tpl, err
}

// rendered is a draft filled in for its contact.
type rendered struct {
	contact contact.Contact
	cfg     mailer.Config
	to      string
	email   emailtemplate.Email
}

// render fills tpl for contact id of workspace wsID, inside the caller's
// transaction, refusing what Email refuses (no provider, no address,
// do-not-contact, unsubscribed, bounced, an unknown placeholder).
func (c *Composer) render(conn *sqlite.Conn, wsID, id string, tpl emailtemplate.Template) (rendered, error) {
	var r rendered
	cfg, ok, err := mailer.ConfigIn(conn, wsID)
	if err != nil {
		return r, err
	}
	if !ok {
		return r, errs.Fields{"provider": "Set up how this workspace sends email first (Workspace settings → Email)."}.Err()
	}
	ct, err := contact.LoadIn(conn, wsID, id)
	if err != nil {
		return r, err
	}
	to := ct.PrimaryEmail()
	switch {
	case ct.DoNotContact:
		return r, errs.Fields{"contact": ct.Name() + " is marked do-not-contact."}.Err()
	case to == "":
		return r, errs.Fields{"contact": ct.Name() + " has no email address."}.Err()
	}
	flags, err := events.Flags(conn, ct.ID)
	if err != nil {
		return r, err
	}
	for _, f := range []string{events.FlagUnsubscribed, events.FlagBounced, events.FlagComplained} {
		if why, ok := flags[f]; ok {
			return r, errs.Fields{"contact": "No email to " + ct.Name() + ": " + why}.Err()
		}
	}
	defs, err := contact.FieldsIn(conn, wsID)
	if err != nil {
		return r, err
	}
	e, err := emailtemplate.Render(tpl, emailtemplate.Values(ct, defs, emailtemplate.Sender{Name: cfg.FromName, Email: cfg.FromEmail}, ""), emailtemplate.KeysOf(defs))
	if err != nil {
		return r, fmt.Errorf("render: %w", err)
	}
	if len(e.Problems) > 0 {
		return r, errs.Fields{"template_id": fmt.Sprintf("The template has a placeholder that is not known: %s. Fix it in the editor first.", e.Problems[0].Source)}.Err()
	}
	return rendered{contact: ct, cfg: cfg, to: to, email: e}, nil
}

// loanFileNote is the note a transaction-related email leaves: what was
// sent to whom, and the start of its text.
func loanFileNote(to, subject, text string) string {
	r := []rune(strings.TrimSpace(text))
	if len(r) > 600 {
		r = append(r[:600], '…')
	}
	return "<p>Emailed <strong>" + html.EscapeString(subject) + "</strong> to " + html.EscapeString(to) + " (transaction-related).</p><blockquote>" +
		strings.ReplaceAll(html.EscapeString(string(r)), "\n", "<br>") + "</blockquote>"
}

// queueLogged enqueues m for its contact inside the caller's transaction
// and, unless its dedupe key was queued before, logs it on the contact
// (entry, with the body bodyOf makes for the message's id), ties the log
// entry to it and writes the audit row action with details.
func queueLogged(conn *sqlite.Conn, actor auth.Actor, m outbox.Message, now time.Time, entry activity.Entry, bodyOf func(id string) any,
	action string, details map[string]any) (Queued, error) {
	id, created, err := outbox.Enqueue(conn, m, now)
	if err != nil {
		return Queued{}, err
	}
	if !created {
		got, _, err := outbox.Get(conn, id)
		return Queued{Message: got, Again: true}, err
	}
	entry.ID, entry.WorkspaceID, entry.ContactID, entry.OccurredAt, entry.ActorUserID = store.NewID(), m.WorkspaceID, m.ContactID, now, actor.UserID
	if err := activity.Record(conn, entry, bodyOf(id)); err != nil {
		return Queued{}, err
	}
	if err := outbox.SetActivity(conn, id, entry.ID); err != nil {
		return Queued{}, err
	}
	details["outbox_id"], details["to"] = id, m.To
	if err := audit.Record(conn, actor.Audit(action, "contact", m.ContactID, details)); err != nil {
		return Queued{}, err
	}
	got, _, err := outbox.Get(conn, id)
	return Queued{Message: got}, err
}

// errRequestID is the answer to a form without its request id.
const errRequestID = "The form is missing its id: reload the page and send again."

func badRequestID(id string) bool { return id == "" || len(id) > 64 }

// Test queues a test email from workspace wsID's provider to the actor's
// own address: the settings page's "Send test email".
func (c *Composer) Test(ctx context.Context, actor auth.Actor, wsID, requestID string) (Queued, error) {
	if badRequestID(requestID) {
		return Queued{}, errs.Fields{"request_id": errRequestID}.Err()
	}
	var q Queued
	err := workspace.Write(ctx, c.db, actor, wsID, func(conn *sqlite.Conn) error {
		cfg, ok, err := mailer.ConfigIn(conn, wsID)
		if err != nil {
			return err
		}
		if !ok {
			return errs.Fields{"provider": "Save the provider's settings first."}.Err()
		}
		e, err := emailtemplate.Render(emailtemplate.Template{Name: "test", Subject: "pi-crm test email",
			BodyHTML: "<p>This is a test email from pi-crm. If you can read it, this workspace can send.</p>"}, nil, nil)
		if err != nil {
			return fmt.Errorf("render test: %w", err)
		}
		m := outbox.Message{WorkspaceID: wsID, UserID: actor.UserID, Channel: outbox.Email, DedupeKey: "test:" + actor.UserID + ":" + requestID,
			Provider: cfg.Kind, To: actor.Email, From: cfg.FromEmail, FromName: cfg.FromName, Subject: e.Subject, HTML: e.HTML, Text: e.Text}
		id, created, err := outbox.Enqueue(conn, m, c.now())
		if err != nil {
			return err
		}
		if created {
			if err := audit.Record(conn, actor.Audit("email.test", "workspace", wsID, map[string]any{"outbox_id": id, "to": actor.Email})); err != nil {
				return err
			}
		}
		got, _, err := outbox.Get(conn, id)
		q = Queued{Message: got, Again: !created}
		return err
	})
	return q, err
}

// List returns workspace wsID's newest messages (at most n), those in
// state first when state is set.
func (c *Composer) List(ctx context.Context, actor auth.Actor, wsID string, state outbox.State, n int) ([]outbox.Message, error) {
	var out []outbox.Message
	err := workspace.Read(ctx, c.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		out, err = outbox.ListIn(conn, wsID, state, n)
		return err
	})
	return out, err
}

// Resend queues unknown message id of workspace wsID again: the user has
// checked it did not arrive. Only an unknown message can be resent.
func (c *Composer) Resend(ctx context.Context, actor auth.Actor, wsID, id string) error {
	return c.decide(ctx, actor, wsID, id, outbox.Queued, "email.resend")
}

// Drop gives up on unknown message id of workspace wsID: the user has
// checked it arrived, or no longer wants it sent.
func (c *Composer) Drop(ctx context.Context, actor auth.Actor, wsID, id string) error {
	return c.decide(ctx, actor, wsID, id, outbox.Dropped, "email.drop")
}

func (c *Composer) decide(ctx context.Context, actor auth.Actor, wsID, id string, to outbox.State, action string) error {
	return workspace.Write(ctx, c.db, actor, wsID, func(conn *sqlite.Conn) error {
		m, ok, err := outbox.Get(conn, id)
		if err != nil {
			return err
		}
		if !ok || m.WorkspaceID != wsID {
			return errs.NotFoundf("No such message.")
		}
		if m.State != outbox.Unknown {
			return errs.New(errs.Conflict, "Only a message whose fate is unknown can be resent or dropped; this one is %s.", m.State)
		}
		if err := outbox.Decide(conn, id, to, c.now()); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit(action, "outbox", id, map[string]any{"to": m.To}))
	})
}
