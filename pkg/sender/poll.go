package sender

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// eventSource is a provider that can be polled for what became of the
// messages it took.
type eventSource interface {
	Events(ctx context.Context, begin time.Time) ([]events.Event, error)
}

// inboxSource is a provider whose mailbox can be read for replies: Gmail's
// history, Graph's inbox delta.
type inboxSource interface {
	Inbox(ctx context.Context, cursor string) ([]events.Email, string, error)
}

const (
	mailgunCursor = "mailgun-events"
	inboxCursor   = "inbox"
)

// Poll asks each workspace's provider that keeps events (Mailgun) for
// those since its cursor and records them (each once), and reads each
// signed-in mailbox (Gmail, Microsoft 365, an SMTP account's IMAP) for the emails that came in
// since (replies). Mailgun's cursor only moves past events older than
// Settle: its documented way, since events become visible out of order for
// a while; what is read again is recorded once all the same. Then the
// scheduled campaigns whose time has come are queued and the drips' due
// steps.
func (s *Sender) Poll(ctx context.Context) error {
	var spaces []string
	if err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT workspace_id FROM email_providers WHERE kind IN (?, ?, ?) OR kind = ? AND json_extract(settings, '$.imap_host') <> ''`,
			&sqlitex.ExecOptions{Args: []any{mailer.KindMailgun, mailer.KindGoogle, mailer.KindMicrosoft, mailer.KindSMTP},
				ResultFunc: func(st *sqlite.Stmt) error { spaces = append(spaces, st.ColumnText(0)); return nil }})
	}); err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	for _, ws := range spaces {
		if err := s.pollOne(ctx, ws); err != nil && !errors.Is(err, mailer.ErrNotSignedIn) {
			s.log.Warn("poll provider events", "workspace", ws, logkey.Err, err)
		}
	}
	if s.opt.SMS != nil {
		if err := s.pollTexts(ctx); err != nil {
			s.log.Warn("poll inbound texts", logkey.Err, err)
		}
	}
	// Campaigns last: a reply, a STOP or an unsubscribe just read takes its
	// contact off a drip before the drip's next step.
	if n, err := campaign.EnqueueDue(ctx, s.db, time.Now()); err != nil {
		s.log.Warn("scheduled campaigns", logkey.Err, err)
	} else if n > 0 {
		s.log.Info("scheduled campaigns queued", "campaigns", n)
	}
	if n, err := campaign.DripTick(ctx, s.db, time.Now()); err != nil {
		s.log.Warn("drip steps", logkey.Err, err)
	} else if n > 0 {
		s.log.Info("drip steps queued", "messages", n)
	}
	return nil
}

// pollTexts lists the texts to and from the appliance's number since the
// day before the last poll (Twilio filters by day; the SID makes a text
// read twice count once): each one in is recorded, and what became of
// each of ours (delivered, undelivered) is noted on it.
func (s *Sender) pollTexts(ctx context.Context) error {
	day := time.Now().UTC().AddDate(0, 0, -1)
	if err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT cursor FROM sms_cursor WHERE id = 1`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
			if t, err := time.Parse("2006-01-02", st.ColumnText(0)); err == nil {
				day = t.AddDate(0, 0, -1)
			}
			return nil
		}})
	}); err != nil {
		return err
	}
	in, err := s.opt.SMS.List(ctx, s.opt.SMS.From(), "", day)
	if err != nil {
		return err
	}
	out, err := s.opt.SMS.List(ctx, "", s.opt.SMS.From(), day)
	if err != nil {
		return err
	}
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		for _, t := range in {
			if t.Direction != "inbound" {
				continue
			}
			if _, err := events.Inbound(conn, t.SID, t.From, t.To, t.Body, "poll", t.Sent()); err != nil {
				return err
			}
		}
		for _, t := range out {
			code := ""
			if t.ErrorCode != nil {
				code = strconv.Itoa(*t.ErrorCode)
			}
			if _, err := events.TextStatus(conn, t.SID, t.Status, code, "poll", t.Sent()); err != nil {
				return err
			}
		}
		return sqlitex.Execute(conn, `INSERT INTO sms_cursor (id, cursor) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET cursor = excluded.cursor`,
			&sqlitex.ExecOptions{Args: []any{time.Now().UTC().Format("2006-01-02")}})
	})
}

func (s *Sender) pollOne(ctx context.Context, wsID string) error {
	p, err := s.provider(ctx, wsID)
	if err != nil {
		return err
	}
	if in, ok := p.p.(inboxSource); ok {
		return s.pollInbox(ctx, wsID, p.p.Kind(), in)
	}
	src, ok := p.p.(eventSource)
	if !ok {
		return nil
	}
	now := time.Now()
	begin := now.Add(-24 * time.Hour)
	if err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		c, err := events.Cursor(conn, wsID, mailgunCursor)
		if t, perr := store.ParseTime(c); err == nil && c != "" && perr == nil {
			begin = t
		}
		return err
	}); err != nil {
		return err
	}
	evs, err := src.Events(ctx, begin)
	if err != nil && len(evs) == 0 {
		return err
	}
	settled := now.Add(-s.opt.Settle)
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		next := begin
		for _, e := range evs {
			e.WorkspaceID = wsID
			if _, err := events.Record(conn, e); err != nil {
				return err
			}
			if e.At.Before(settled) && e.At.After(next) {
				next = e.At
			}
		}
		if next.After(begin) {
			return events.SetCursor(conn, wsID, mailgunCursor, store.FormatTime(next))
		}
		return nil
	})
}

// pollInbox reads workspace wsID's mailbox from its cursor (one a provider
// kind: a Gmail history id means nothing to Graph) and records
// each email that came in (once, by the provider's id), in the same
// transaction as the cursor that moves past them.
func (s *Sender) pollInbox(ctx context.Context, wsID, kind string, in inboxSource) error {
	var cursor string
	if err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		cursor, err = events.Cursor(conn, wsID, inboxCursor+":"+kind)
		return err
	}); err != nil {
		return err
	}
	mails, next, err := in.Inbox(ctx, cursor)
	if err != nil {
		return fmt.Errorf("read the inbox: %w", err)
	}
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		for _, e := range mails {
			e.WorkspaceID = wsID
			if _, err := events.Incoming(conn, e); err != nil {
				return err
			}
		}
		if next != "" && next != cursor {
			return events.SetCursor(conn, wsID, inboxCursor+":"+kind, next)
		}
		return nil
	})
}
