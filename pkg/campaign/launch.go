package campaign

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/placeholder"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Recipients evaluates campaign id's segment as it stands now: who gets
// it, who is left out and why (the page's preview).
func (s *Store) Recipients(ctx context.Context, actor auth.Actor, wsID, id string) ([]Recipient, error) {
	var out []Recipient
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		c, err := getIn(conn, wsID, id)
		if err != nil {
			return err
		}
		out, err = audience(conn, c, s.now())
		return err
	})
	return out, err
}

// stepsOrBlast is what the campaign sends: a drip's steps, or a blast's
// one email.
func (c Campaign) stepsOrBlast() []Step {
	if c.Kind == Drip {
		return c.Steps
	}
	return []Step{{TemplateID: c.TemplateID}}
}

// segmentOf is who campaign c goes to: its saved segment's definition as
// it stands now, when it names one, else its own.
func segmentOf(conn *sqlite.Conn, c Campaign) (Segment, error) {
	if c.SegmentID == "" {
		return c.Segment, nil
	}
	sg, err := savedIn(conn, c.WorkspaceID, c.SegmentID)
	if errs.KindOf(err) == errs.NotFound {
		return Segment{}, errs.Fields{"segment_id": "The campaign's saved segment was deleted: choose who gets it again."}.Err()
	}
	return sg.Segment, err
}

// audience evaluates campaign c's segment now, each contact's Excluded
// saying why they are left out of c: for a drip, that reaches its
// contacts by email, by text or both, the drip's own reasons (dripOut).
func audience(conn *sqlite.Conn, c Campaign, now time.Time) ([]Recipient, error) {
	g, err := segmentOf(conn, c)
	if err != nil {
		return nil, err
	}
	rs, err := Recipients(conn, c.WorkspaceID, c.ID, g, now)
	if err != nil || c.Kind != Drip {
		return rs, err
	}
	for i := range rs {
		rs[i].Excluded = dripOut(c.Steps, rs[i], true)
	}
	return rs, nil
}

// channels reports whether steps send email, texts, or both.
func channels(steps []Step) (mail, text bool) {
	for _, st := range steps {
		if st.IsText() {
			text = true
		} else {
			mail = true
		}
	}
	return mail, text
}

// dripOut is why contact r may not walk a drip of these steps ("" when
// they may): do-not-contact; unsubscribed, bounced or a complaint when it
// sends email; opted out when it sends texts; no way to reach them by any
// of its steps; and, joining (not walking already), campaign mail too
// recently.
func dripOut(steps []Step, r Recipient, joining bool) string {
	mail, text := channels(steps)
	switch r.Excluded {
	case WhyDoNotContact:
		return r.Excluded
	case WhyUnsubscribed, WhyBounced, WhyComplained:
		if mail {
			return r.Excluded
		}
	case WhyRecent:
		if joining {
			return r.Excluded
		}
	}
	switch {
	case text && r.NoText == WhyTextOptOut:
		return WhyTextOptOut
	case (!mail || r.Email == "") && (!text || r.Phone == ""):
		if mail {
			return WhyNoEmail
		}
		return WhyNoPhone
	}
	return ""
}

// ready reports why campaign c may not be launched in its workspace ("" when
// it may): a workspace that needs approval launches only the version its
// approver approved.
func ready(conn *sqlite.Conn, c Campaign) (string, error) {
	need, _, err := needsApproval(conn, c.WorkspaceID)
	if err != nil {
		return "", err
	}
	switch {
	case c.Status == Sent || c.Status == Cancelled:
		return fmt.Sprintf("This campaign was %s already.", c.Status), nil
	case c.Status == Running || c.Status == Paused:
		return fmt.Sprintf("This drip is %s already.", c.Status), nil
	case need && (c.Status != Approved && c.Status != Scheduled || c.ApprovedVersion != c.Version):
		return "Campaigns in this workspace need approval: submit it, and launch it once approved.", nil
	case !need && c.Status != Draft && c.Status != Approved && c.Status != Scheduled:
		return fmt.Sprintf("This campaign is %s.", c.Status), nil
	}
	return "", nil
}

// Launched is what Launch did.
type Launched struct {
	Campaign  Campaign
	Scheduled bool // it waits for its time
	Enqueued  int  // messages queued now
	Excluded  int
}

// Launch sends campaign id: at once, every recipient's message queued in
// the outbox in one transaction (a recipient never gets a campaign twice:
// the outbox's unique key), or, with a time set, scheduled for it.
func (s *Store) Launch(ctx context.Context, actor auth.Actor, wsID, id string) (Launched, error) {
	var l Launched
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		c, err := getIn(conn, wsID, id)
		if err != nil {
			return err
		}
		why, err := ready(conn, c)
		if err != nil {
			return err
		}
		if why != "" {
			return errs.New(errs.Conflict, "%s", why)
		}
		m, err := newMessenger(conn, c)
		if err != nil {
			return err
		}
		if err := m.able(c.stepsOrBlast()); err != nil {
			return err
		}
		now := s.now()
		if c.Kind == Drip {
			if l.Enqueued, l.Excluded, err = enroll(conn, c, now); err != nil {
				return err
			}
			if err := setStatus(conn, actor, c, Running, "campaign.launch", map[string]any{"enrolled": l.Enqueued, "excluded": l.Excluded}, ""); err != nil {
				return err
			}
		} else if !c.SendAt.IsZero() && c.SendAt.After(now) {
			if err := setStatus(conn, actor, c, Scheduled, "campaign.schedule", map[string]any{"send_at": store.FormatTime(c.SendAt)}, ""); err != nil {
				return err
			}
			l.Scheduled = true
		} else if l.Enqueued, l.Excluded, err = enqueue(conn, m, now); err != nil {
			return err
		} else if err := setStatus(conn, actor, c, Sent, "campaign.launch", map[string]any{"enqueued": l.Enqueued, "excluded": l.Excluded}, `, enqueued = ?`, l.Enqueued); err != nil {
			return err
		}
		l.Campaign, err = getIn(conn, wsID, id)
		return err
	})
	return l, err
}

// EnqueueDue queues the scheduled campaigns whose time has come, each in
// its own transaction: crm-sender's tick. One whose approval no longer
// holds (edited since) is not sent. It returns how many were sent.
func EnqueueDue(ctx context.Context, db *store.DB, now time.Time) (int, error) {
	var due []string
	if err := db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT id FROM campaigns WHERE status = 'scheduled' AND send_at <= ? ORDER BY send_at`, &sqlitex.ExecOptions{
			Args: []any{store.FormatTime(now)}, ResultFunc: func(st *sqlite.Stmt) error { due = append(due, st.ColumnText(0)); return nil }})
	}); err != nil {
		return 0, fmt.Errorf("due campaigns: %w", err)
	}
	sent := 0
	for _, id := range due {
		err := db.Write(ctx, func(conn *sqlite.Conn) error {
			c, ok, err := withStatus(conn, id, Scheduled)
			if err != nil || !ok {
				return err
			}
			owner := auth.Actor{UserID: c.UserID}
			if why, err := ready(conn, c); err != nil || why != "" {
				return err
			}
			m, err := newMessenger(conn, c)
			if err != nil {
				return err
			}
			if err := m.able(c.stepsOrBlast()); err != nil {
				return err
			}
			n, excluded, err := enqueue(conn, m, now)
			if err != nil {
				return err
			}
			sent++
			return setStatus(conn, owner, c, Sent, "campaign.launch", map[string]any{"enqueued": n, "excluded": excluded, "scheduled": true}, `, enqueued = ?`, n)
		})
		if err != nil {
			return sent, fmt.Errorf("campaign %s: %w", id, err)
		}
	}
	return sent, nil
}

// enqueue queues the messenger's campaign's message for each recipient of
// its segment now, logged on each contact, inside the caller's
// transaction (the caller has checked the messenger is able to send it);
// it returns how many were queued and how many left out.
func enqueue(conn *sqlite.Conn, m *messenger, now time.Time) (int, int, error) {
	c := m.c
	rs, err := audience(conn, c, now)
	if err != nil {
		return 0, 0, err
	}
	queued, excluded := 0, 0
	st := Step{TemplateID: c.TemplateID}
	in := make([]Recipient, 0, len(rs))
	for _, rc := range rs {
		if rc.Excluded != "" {
			excluded++
			continue
		}
		in = append(in, rc)
	}
	// The audience read what placeholders use of each contact but their
	// custom values, which come 500 contacts a query (none without fields).
	for len(in) > 0 {
		chunk := in[:min(len(in), 500)]
		in = in[len(chunk):]
		custom := map[string]map[string]string{}
		if len(m.defs) > 0 {
			ids := make([]string, len(chunk))
			for i, rc := range chunk {
				ids[i] = rc.ContactID
			}
			var err error
			if custom, err = contact.CustomValuesIn(conn, c.WorkspaceID, ids); err != nil {
				return 0, 0, err
			}
		}
		for _, rc := range chunk {
			ct := rc.merge
			ct.Custom = custom[rc.ContactID]
			// The audience left out whoever got this campaign: no check
			// of the dedupe key is needed (the outbox's unique key holds).
			created, err := m.sendTo(conn, ct, rc, st, 0, now, false)
			if err != nil {
				return 0, 0, err
			}
			if created {
				queued++
			}
		}
	}
	return queued, excluded, m.flush(conn)
}

// messenger queues a campaign's messages: the workspace's provider, the
// appliance's texting number, its fields, a renderer and the templates,
// read once.
type messenger struct {
	c      Campaign
	cfg    mailer.Config
	mail   bool   // the workspace can send email
	from   string // the number texts go from; "" when texting is not set up
	defs   []contact.FieldDef
	keys   map[string]bool
	r      *emailtemplate.Renderer
	sender emailtemplate.Sender
	tpls   map[string]emailtemplate.Template
	queue  outbox.Batch // what was queued; flush stores the campaign's figures
	// layouts are the ids of the layouts stored in this transaction, by
	// their digest.
	layouts map[string]string
}

// errNoMail and errNoText refuse a campaign the appliance cannot send.
var (
	errNoMail = errs.New(errs.Invalid, "Set up how this workspace sends email first (Workspace settings → Email).")
	errNoText = errs.New(errs.Invalid, "Texting is not set up: crm-sender needs the Twilio account, number and token (see the README).")
)

func newMessenger(conn *sqlite.Conn, c Campaign) (*messenger, error) {
	cfg, mail, err := mailer.ConfigIn(conn, c.WorkspaceID)
	if err != nil {
		return nil, err
	}
	from, err := events.SMSFrom(conn)
	if err != nil {
		return nil, err
	}
	defs, err := contact.FieldsIn(conn, c.WorkspaceID)
	if err != nil {
		return nil, err
	}
	return &messenger{c: c, cfg: cfg, mail: mail, from: from, defs: defs, keys: emailtemplate.KeysOf(defs), r: emailtemplate.NewRenderer(4),
		sender: emailtemplate.Sender{Name: cfg.FromName, Email: cfg.FromEmail}, tpls: map[string]emailtemplate.Template{}, layouts: map[string]string{}}, nil
}

// able says why the campaign's messages of these steps cannot go (nil
// when they can): no email set up for an email, no texting for a text.
func (m *messenger) able(steps []Step) error {
	mail, text := channels(steps)
	switch {
	case mail && !m.mail:
		return errNoMail
	case text && m.from == "":
		return errNoText
	}
	return nil
}

// send queues step st (numbered step, 0 for a blast) to recipient rc,
// logged on the contact, the caller having checked the step is able to go;
// it reports whether it was new (the outbox's key makes a step reach a
// contact once).
func (m *messenger) send(conn *sqlite.Conn, rc Recipient, st Step, step int, now time.Time) (bool, error) {
	ct, err := contact.LoadIn(conn, m.c.WorkspaceID, rc.ContactID)
	if err != nil {
		return false, err
	}
	return m.sendTo(conn, ct, rc, st, step, now, true)
}

// flush stores the figures of what the messenger queued; it comes before
// the transaction commits.
func (m *messenger) flush(conn *sqlite.Conn) error { return m.queue.Flush(conn) }

// sendTo is send to contact ct of recipient rc, read already (the fields
// placeholders read at least); the caller has checked the step can go,
// and asks for a look for the message first unless it knows there is none.
func (m *messenger) sendTo(conn *sqlite.Conn, ct contact.Contact, rc Recipient, st Step, step int, now time.Time, look bool) (bool, error) {
	c := m.c
	key := fmt.Sprintf("campaign:%s:%d:%s", c.ID, step, ct.ID)
	if look {
		if had, err := outbox.Has(conn, key); err != nil || had {
			return false, err // queued before: once is all
		}
	}
	if st.IsText() {
		return m.text(conn, ct, key, rc.Phone, st.Text, step, now)
	}
	to, tplID := rc.Email, st.TemplateID
	tpl, ok := m.tpls[tplID]
	if !ok {
		var err error
		if tpl, err = emailtemplate.GetIn(conn, c.WorkspaceID, tplID); err != nil {
			return false, fmt.Errorf("campaign template: %w", err)
		}
		m.tpls[tplID] = tpl
	}
	v := emailtemplate.Values(ct, m.defs, m.sender, "")
	e, err := m.r.RenderLayout(tpl, v, m.keys)
	if err != nil {
		return false, fmt.Errorf("render for %s: %w", ct.ID, err)
	}
	if len(e.Problems) > 0 {
		return false, errs.Fields{"template_id": fmt.Sprintf("The template has a placeholder that is not known: %s. Fix it in the editor first.", e.Problems[0].Source)}.Err()
	}
	// The layout is stored once; each message keeps its values, and
	// crm-sender fills it as it sends (what Render made here).
	layout, ok := m.layouts[e.Layout.ID]
	if !ok {
		if layout, err = outbox.SaveLayout(conn, c.WorkspaceID, outbox.Layout(e.Layout), now); err != nil {
			return false, err
		}
		m.layouts[e.Layout.ID] = layout
	}
	summary := "Campaign “" + c.Name + "”: " + e.Subject
	if step > 0 {
		summary = fmt.Sprintf("Campaign “%s”, step %d: %s", c.Name, step, e.Subject)
	}
	msg := outbox.Message{ID: store.NewID(), WorkspaceID: c.WorkspaceID, UserID: c.UserID, ContactID: ct.ID, Channel: outbox.Email, DedupeKey: key,
		Provider: m.cfg.Kind, To: to, From: m.cfg.FromEmail, FromName: m.cfg.FromName, TemplateID: tpl.ID, Subject: e.Subject, LayoutID: layout, Fill: filled(v),
		Bulk: true, CampaignID: c.ID}
	return m.put(conn, msg, activity.Entry{Kind: activity.Email, Summary: summary},
		activity.EmailBody{Subject: e.Subject, Text: e.Text, CampaignID: c.ID, Direction: activity.Out, OutboxID: msg.ID, Status: string(outbox.Queued), To: to}, now)
}

// filled is v without its empty values, which fill a placeholder as a
// missing one does: what a message keeps to be filled.
func filled(v placeholder.Values) map[string]string {
	out := make(map[string]string, len(v))
	for k, x := range v {
		if x != "" {
			out[k] = x
		}
	}
	return out
}

// put queues msg (its id set, its dedupe key not yet queued) logged on its
// contact: the log entry (entry, of body) first, so the message is written
// once, already tied to it.
func (m *messenger) put(conn *sqlite.Conn, msg outbox.Message, entry activity.Entry, body any, now time.Time) (bool, error) {
	entry.ID, entry.WorkspaceID, entry.ContactID, entry.OccurredAt, entry.ActorUserID, entry.Bulk = store.NewID(), msg.WorkspaceID, msg.ContactID, now, msg.UserID, true
	if err := activity.Record(conn, entry, body); err != nil {
		return false, err
	}
	msg.ActivityID = entry.ID
	if _, created, err := m.queue.Enqueue(conn, msg, now); err != nil {
		return false, err
	} else if !created {
		return false, fmt.Errorf("queue %s: already queued", msg.DedupeKey) // Has said it was not, in this transaction
	}
	return true, nil
}

// text queues text step step to contact ct at phone to, its placeholders
// filled, logged on the contact.
func (m *messenger) text(conn *sqlite.Conn, ct contact.Contact, key, to, text string, step int, now time.Time) (bool, error) {
	c := m.c
	body, probs := placeholder.Text(text, emailtemplate.Values(ct, m.defs, m.sender, ""), m.keys)
	if len(probs) > 0 {
		return false, errs.Fields{"steps": fmt.Sprintf("Step %d: %s at %d: %s", step, probs[0].Source, probs[0].Pos, probs[0].Message)}.Err()
	}
	msg := outbox.Message{ID: store.NewID(), WorkspaceID: c.WorkspaceID, UserID: c.UserID, ContactID: ct.ID, Channel: outbox.SMS, DedupeKey: key,
		Provider: "twilio", To: to, From: m.from, Text: body, Bulk: true, CampaignID: c.ID}
	return m.put(conn, msg, activity.Entry{Kind: activity.SMS, Summary: fmt.Sprintf("Campaign “%s”, step %d: text to %s: %s", c.Name, step, to, body)},
		activity.SMSBody{Text: body, Direction: activity.Out, OutboxID: msg.ID, Status: string(outbox.Queued), To: to}, now)
}

// Stats are a campaign's figures from the outbox and the providers'
// events.
type Stats struct {
	Queued, Sent, Failed, Unknown                   int
	Delivered, Bounced, Replied, Unsubscribed, Open int
}

// StatsOf returns campaign id's figures.
func (s *Store) StatsOf(ctx context.Context, actor auth.Actor, wsID, id string) (Stats, error) {
	var st Stats
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if _, err := getIn(conn, wsID, id); err != nil {
			return err
		}
		// Counted as they change (outbox.CampaignStates): the campaign is
		// this workspace's (getIn), and so are its messages.
		states, err := outbox.CampaignStates(conn, id)
		if err != nil {
			return err
		}
		for state, n := range states {
			switch state {
			case outbox.Queued, outbox.Claimed, outbox.Retrying:
				st.Queued += n
			case outbox.Sent:
				st.Sent += n
			case outbox.Failed, outbox.Dropped:
				st.Failed += n
			case outbox.Unknown:
				st.Unknown += n
			}
		}
		return sqlitex.Execute(conn, `SELECT kind, messages FROM campaign_events WHERE campaign_id = ?`, &sqlitex.ExecOptions{Args: []any{id}, ResultFunc: func(row *sqlite.Stmt) error {
			n := row.ColumnInt(1)
			switch row.ColumnText(0) {
			case "delivered":
				st.Delivered = n
			case "bounced":
				st.Bounced = n
			case "replied":
				st.Replied = n
			case "unsubscribed":
				st.Unsubscribed = n
			case "opened":
				st.Open = n
			}
			return nil
		}})
	})
	return st, err
}

// Review is a pending campaign as its approver sees it: whose it is, what
// each of its messages says (filled in for its first recipient) and how
// many it reaches.
type Review struct {
	Campaign  Campaign
	Workspace string
	Author    string
	Messages  []ReviewMessage
	Gets      int
	Left      int
}

// ReviewMessage is one message of a campaign under review: a blast's
// email, or a drip's step.
type ReviewMessage struct {
	Step     Step
	Number   int    // the drip's step, 0 for a blast
	Template string // an email's template's name
	Subject  string
	Text     string // the email's text part, or the text
}

// ForReview returns pending campaign id for its workspace's approver, or
// NotFound for anyone else (the narrow grant).
func (s *Store) ForReview(ctx context.Context, actor auth.Actor, id string) (Review, error) {
	var rv Review
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		c, err := forApprover(conn, actor, id)
		if err != nil {
			return err
		}
		if c.Steps, err = stepsOf(conn, c.ID); err != nil {
			return err
		}
		rv.Campaign = c
		if err := sqlitex.Execute(conn, `SELECT w.name, u.name FROM workspaces w JOIN users u ON u.id = ? WHERE w.id = ?`, &sqlitex.ExecOptions{
			Args: []any{c.UserID, c.WorkspaceID}, ResultFunc: func(st *sqlite.Stmt) error { rv.Workspace, rv.Author = st.ColumnText(0), st.ColumnText(1); return nil }}); err != nil {
			return fmt.Errorf("review: %w", err)
		}
		rs, err := audience(conn, c, s.now())
		if err != nil {
			return err
		}
		var first contact.Contact
		for _, r := range rs {
			if r.Excluded != "" {
				rv.Left++
				continue
			}
			if rv.Gets == 0 {
				if first, err = contact.LoadIn(conn, c.WorkspaceID, r.ContactID); err != nil {
					return err
				}
			}
			rv.Gets++
		}
		m, err := newMessenger(conn, c)
		if err != nil {
			return err
		}
		values := emailtemplate.Values(first, m.defs, m.sender, "")
		steps := c.stepsOrBlast()
		for i, st := range steps {
			msg := ReviewMessage{Step: st}
			if c.Kind == Drip {
				msg.Number = i + 1
			}
			if st.IsText() {
				msg.Text, _ = placeholder.Text(st.Text, values, m.keys)
			} else {
				tpl, err := emailtemplate.GetIn(conn, c.WorkspaceID, st.TemplateID)
				if err != nil {
					return err
				}
				e, err := m.r.Render(tpl, values, m.keys)
				if err != nil {
					return err
				}
				msg.Template, msg.Subject, msg.Text = tpl.Name, e.Subject, e.Text
			}
			rv.Messages = append(rv.Messages, msg)
		}
		return nil
	})
	return rv, err
}
