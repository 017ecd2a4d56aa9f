package sender

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

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

const mailgunCursor = "mailgun-events"

// Poll asks each workspace's provider that keeps events (Mailgun) for
// those since its cursor and records them (each once). The cursor only
// moves past events older than Settle: Mailgun's documented way, since
// events become visible out of order for a while; what is read again is
// recorded once all the same.
func (s *Sender) Poll(ctx context.Context) error {
	var spaces []string
	if err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT workspace_id FROM email_providers WHERE kind = ?`, &sqlitex.ExecOptions{Args: []any{mailer.KindMailgun},
			ResultFunc: func(st *sqlite.Stmt) error { spaces = append(spaces, st.ColumnText(0)); return nil }})
	}); err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	for _, ws := range spaces {
		if err := s.pollOne(ctx, ws); err != nil {
			s.log.Warn("poll provider events", "workspace", ws, logkey.Err, err)
		}
	}
	return nil
}

func (s *Sender) pollOne(ctx context.Context, wsID string) error {
	p, err := s.provider(ctx, wsID)
	if err != nil {
		return err
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
