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
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/outbox"
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
		out, err = Recipients(conn, wsID, c.ID, c.Segment, s.now())
		return err
	})
	return out, err
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
		} else if l.Enqueued, l.Excluded, err = enqueue(conn, c, now); err != nil {
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
			n, excluded, err := enqueue(conn, c, now)
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

// enqueue queues campaign c's message for each recipient of its segment
// now, logged on each contact, inside the caller's transaction; it returns
// how many were queued and how many left out.
func enqueue(conn *sqlite.Conn, c Campaign, now time.Time) (int, int, error) {
	rs, err := Recipients(conn, c.WorkspaceID, c.ID, c.Segment, now)
	if err != nil {
		return 0, 0, err
	}
	m, err := newMessenger(conn, c)
	if err != nil {
		return 0, 0, err
	}
	queued, excluded := 0, 0
	for _, rc := range rs {
		if rc.Excluded != "" {
			excluded++
			continue
		}
		created, err := m.send(conn, rc.ContactID, rc.Email, c.TemplateID, 0, now)
		if err != nil {
			return 0, 0, err
		}
		if created {
			queued++
		}
	}
	return queued, excluded, nil
}

// messenger queues a campaign's messages: the workspace's provider, its
// fields, a renderer and the templates, read once.
type messenger struct {
	c      Campaign
	cfg    mailer.Config
	defs   []contact.FieldDef
	keys   map[string]bool
	r      *emailtemplate.Renderer
	sender emailtemplate.Sender
	tpls   map[string]emailtemplate.Template
}

func newMessenger(conn *sqlite.Conn, c Campaign) (*messenger, error) {
	cfg, ok, err := mailer.ConfigIn(conn, c.WorkspaceID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errs.New(errs.Invalid, "Set up how this workspace sends email first (Workspace settings → Email).")
	}
	defs, err := contact.FieldsIn(conn, c.WorkspaceID)
	if err != nil {
		return nil, err
	}
	return &messenger{c: c, cfg: cfg, defs: defs, keys: emailtemplate.KeysOf(defs), r: emailtemplate.NewRenderer(4),
		sender: emailtemplate.Sender{Name: cfg.FromName, Email: cfg.FromEmail}, tpls: map[string]emailtemplate.Template{}}, nil
}

// send queues template tplID, step step (0 for a blast), to contact id at
// address to, logged on the contact; it reports whether it was new (the
// outbox's key makes a step reach a contact once).
func (m *messenger) send(conn *sqlite.Conn, id, to, tplID string, step int, now time.Time) (bool, error) {
	c := m.c
	tpl, ok := m.tpls[tplID]
	if !ok {
		var err error
		if tpl, err = emailtemplate.GetIn(conn, c.WorkspaceID, tplID); err != nil {
			return false, fmt.Errorf("campaign template: %w", err)
		}
		m.tpls[tplID] = tpl
	}
	ct, err := contact.LoadIn(conn, c.WorkspaceID, id)
	if err != nil {
		return false, err
	}
	e, err := m.r.Render(tpl, emailtemplate.Values(ct, m.defs, m.sender, ""), m.keys)
	if err != nil {
		return false, fmt.Errorf("render for %s: %w", ct.ID, err)
	}
	if len(e.Problems) > 0 {
		return false, errs.Fields{"template_id": fmt.Sprintf("The template has a placeholder that is not known: %s. Fix it in the editor first.", e.Problems[0].Source)}.Err()
	}
	msg := outbox.Message{WorkspaceID: c.WorkspaceID, UserID: c.UserID, ContactID: ct.ID, Channel: outbox.Email, DedupeKey: fmt.Sprintf("campaign:%s:%d:%s", c.ID, step, ct.ID),
		Provider: m.cfg.Kind, To: to, From: m.cfg.FromEmail, FromName: m.cfg.FromName, TemplateID: tpl.ID, Subject: e.Subject, HTML: e.HTML, Text: e.Text,
		Bulk: true, CampaignID: c.ID}
	oid, created, err := outbox.Enqueue(conn, msg, now)
	if err != nil || !created {
		return false, err
	}
	summary := "Campaign “" + c.Name + "”: " + e.Subject
	if step > 0 {
		summary = fmt.Sprintf("Campaign “%s”, step %d: %s", c.Name, step, e.Subject)
	}
	entry := activity.Entry{ID: store.NewID(), WorkspaceID: c.WorkspaceID, ContactID: ct.ID, Kind: activity.Email, OccurredAt: now, ActorUserID: c.UserID, Summary: summary}
	if err := activity.Record(conn, entry, activity.EmailBody{Subject: e.Subject, Text: e.Text, CampaignID: c.ID, Direction: activity.Out, OutboxID: oid,
		Status: string(outbox.Queued), To: to}); err != nil {
		return false, err
	}
	return true, outbox.SetActivity(conn, oid, entry.ID)
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
		if err := sqlitex.Execute(conn, `SELECT state, count(*) FROM outbox WHERE campaign_id = ? AND workspace_id = ? GROUP BY state`, &sqlitex.ExecOptions{
			Args: []any{id, wsID}, ResultFunc: func(row *sqlite.Stmt) error {
				n := row.ColumnInt(1)
				switch outbox.State(row.ColumnText(0)) {
				case outbox.Queued, outbox.Claimed, outbox.Retrying:
					st.Queued += n
				case outbox.Sent:
					st.Sent += n
				case outbox.Failed, outbox.Dropped:
					st.Failed += n
				case outbox.Unknown:
					st.Unknown += n
				}
				return nil
			}}); err != nil {
			return fmt.Errorf("campaign stats: %w", err)
		}
		return sqlitex.Execute(conn, `SELECT e.kind, count(DISTINCT e.outbox_id) FROM provider_events e JOIN outbox o ON o.id = e.outbox_id
WHERE o.campaign_id = ? AND o.workspace_id = ? GROUP BY e.kind`, &sqlitex.ExecOptions{Args: []any{id, wsID}, ResultFunc: func(row *sqlite.Stmt) error {
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
// it says (filled in for its first recipient) and how many it reaches.
type Review struct {
	Campaign  Campaign
	Workspace string
	Author    string
	Template  string
	Email     emailtemplate.Email
	Gets      int
	Left      int
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
		rv.Campaign = c
		if err := sqlitex.Execute(conn, `SELECT w.name, u.name FROM workspaces w JOIN users u ON u.id = ? WHERE w.id = ?`, &sqlitex.ExecOptions{
			Args: []any{c.UserID, c.WorkspaceID}, ResultFunc: func(st *sqlite.Stmt) error { rv.Workspace, rv.Author = st.ColumnText(0), st.ColumnText(1); return nil }}); err != nil {
			return fmt.Errorf("review: %w", err)
		}
		tpl, err := emailtemplate.GetIn(conn, c.WorkspaceID, c.TemplateID)
		if err != nil {
			return err
		}
		rv.Template = tpl.Name
		rs, err := Recipients(conn, c.WorkspaceID, c.ID, c.Segment, s.now())
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
		cfg, _, err := mailer.ConfigIn(conn, c.WorkspaceID)
		if err != nil {
			return err
		}
		defs, err := contact.FieldsIn(conn, c.WorkspaceID)
		if err != nil {
			return err
		}
		rv.Email, err = emailtemplate.Render(tpl, emailtemplate.Values(first, defs, emailtemplate.Sender{Name: cfg.FromName, Email: cfg.FromEmail}, ""), emailtemplate.KeysOf(defs))
		return err
	})
	return rv, err
}
