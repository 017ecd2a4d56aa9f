package campaign

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Why a contact left a drip.
const (
	ExitReplied  = "replied"
	ExitLeft     = "left the segment"
	ExitRemoved  = "removed by hand"
	ExitFinished = "" // done: reached the end
)

// enroll puts drip c's segment members (the ones it may mail) on its first
// step, inside the caller's transaction; contacts enrolled before keep
// their places. It returns how many were new and how many left out.
func enroll(conn *sqlite.Conn, c Campaign, now time.Time) (int, int, error) {
	if len(c.Steps) == 0 {
		return 0, 0, errs.Fields{"steps": "Give the drip at least one step."}.Err()
	}
	rs, err := Recipients(conn, c.WorkspaceID, c.ID, c.Segment, now)
	if err != nil {
		return 0, 0, err
	}
	nowS, first := store.FormatTime(now), store.FormatTime(now.Add(c.Steps[0].Delay))
	added, left := 0, 0
	for _, r := range rs {
		if r.Excluded != "" && r.Excluded != WhyAlready { // already: enrolled before
			left++
			continue
		}
		if err := sqlitex.Execute(conn, `INSERT INTO enrollments (campaign_id, contact_id, workspace_id, next_step, next_at, status, enrolled_at, updated_at)
VALUES (?, ?, ?, 1, ?, 'active', ?, ?) ON CONFLICT DO NOTHING`, &sqlitex.ExecOptions{Args: []any{c.ID, r.ContactID, c.WorkspaceID, first, nowS, nowS}}); err != nil {
			return 0, 0, fmt.Errorf("enroll: %w", err)
		}
		added += conn.Changes()
	}
	return added, left, nil
}

// DripTick enrols, in the running drips that say so, the contacts who
// joined their segment since, then sends the steps that are due of every
// running drip, checking first whether each contact should leave it
// (replied, unsubscribed, bounced, do-not-contact, no longer in the
// segment): crm-sender's poll. Each drip goes in a transaction of its own.
// It returns how many steps were queued.
func DripTick(ctx context.Context, db *store.DB, now time.Time) (int, error) {
	var auto []string
	if err := db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT id FROM campaigns WHERE status = 'running' AND kind = 'drip' AND auto_enroll`, &sqlitex.ExecOptions{
			ResultFunc: func(st *sqlite.Stmt) error { auto = append(auto, st.ColumnText(0)); return nil }})
	}); err != nil {
		return 0, fmt.Errorf("auto-enrolling drips: %w", err)
	}
	for _, id := range auto {
		if err := db.Write(ctx, func(conn *sqlite.Conn) error {
			c, ok, err := withStatus(conn, id, Running)
			if err != nil || !ok {
				return err
			}
			_, _, err = enroll(conn, c, now)
			return err
		}); err != nil {
			return 0, fmt.Errorf("drip %s: enrol: %w", id, err)
		}
	}
	var ids []string
	if err := db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT DISTINCT e.campaign_id FROM enrollments e JOIN campaigns c ON c.id = e.campaign_id
WHERE e.status = 'active' AND e.next_at <= ? AND c.status = 'running'`, &sqlitex.ExecOptions{Args: []any{store.FormatTime(now)},
			ResultFunc: func(st *sqlite.Stmt) error { ids = append(ids, st.ColumnText(0)); return nil }})
	}); err != nil {
		return 0, fmt.Errorf("due drips: %w", err)
	}
	sent := 0
	for _, id := range ids {
		err := db.Write(ctx, func(conn *sqlite.Conn) error {
			n, err := tickOne(conn, id, now)
			sent += n
			return err
		})
		if err != nil {
			return sent, fmt.Errorf("drip %s: %w", id, err)
		}
	}
	return sent, nil
}

type due struct {
	contact string
	step    int
	at      time.Time
}

func tickOne(conn *sqlite.Conn, id string, now time.Time) (int, error) {
	c, ok, err := withStatus(conn, id, Running)
	if err != nil || !ok {
		return 0, err
	}
	wsID := c.WorkspaceID
	var list []due
	if err := sqlitex.Execute(conn, `SELECT contact_id, next_step, enrolled_at FROM enrollments WHERE campaign_id = ? AND status = 'active' AND next_at <= ?`,
		&sqlitex.ExecOptions{Args: []any{id, store.FormatTime(now)}, ResultFunc: func(st *sqlite.Stmt) error {
			at, _ := store.ParseTime(st.ColumnText(2))
			list = append(list, due{st.ColumnText(0), st.ColumnInt(1), at})
			return nil
		}}); err != nil {
		return 0, fmt.Errorf("due steps: %w", err)
	}
	// Who is still in the segment, and may be mailed.
	members, err := Recipients(conn, wsID, id, c.Segment, now)
	if err != nil {
		return 0, err
	}
	in := map[string]Recipient{}
	for _, r := range members {
		in[r.ContactID] = r
	}
	m, err := newMessenger(conn, c)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, d := range list {
		r, ok := in[d.contact]
		why := ""
		switch {
		case !ok:
			why = ExitLeft
		case r.Excluded != "" && r.Excluded != WhyRecent && r.Excluded != WhyAlready:
			why = r.Excluded
		default:
			replied, err := store.Exists(conn, `SELECT 1 FROM provider_events e JOIN outbox o ON o.id = e.outbox_id
WHERE o.campaign_id = ? AND o.contact_id = ? AND e.kind = 'replied'`, id, d.contact)
			if err != nil {
				return sent, fmt.Errorf("replies: %w", err)
			}
			if replied {
				why = ExitReplied
			}
		}
		if why != "" {
			if err := leave(conn, id, d.contact, "exited", why, now); err != nil {
				return sent, err
			}
			continue
		}
		if d.step > len(c.Steps) { // the drip was shortened since
			if err := leave(conn, id, d.contact, "done", ExitFinished, now); err != nil {
				return sent, err
			}
			continue
		}
		created, err := m.send(conn, d.contact, r.Email, c.Steps[d.step-1].TemplateID, d.step, now)
		if err != nil {
			return sent, err
		}
		if created {
			sent++
		}
		if d.step == len(c.Steps) {
			err = leave(conn, id, d.contact, "done", ExitFinished, now)
		} else {
			err = sqlitex.Execute(conn, `UPDATE enrollments SET next_step = ?, next_at = ?, updated_at = ? WHERE campaign_id = ? AND contact_id = ?`,
				&sqlitex.ExecOptions{Args: []any{d.step + 1, store.FormatTime(now.Add(c.Steps[d.step].Delay)), store.FormatTime(now), id, d.contact}})
		}
		if err != nil {
			return sent, fmt.Errorf("advance: %w", err)
		}
	}
	if sent > 0 {
		err = sqlitex.Execute(conn, `UPDATE campaigns SET enqueued = enqueued + ? WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{sent, id}})
	}
	return sent, err
}

func leave(conn *sqlite.Conn, id, contactID, status, why string, now time.Time) error {
	if err := sqlitex.Execute(conn, `UPDATE enrollments SET status = ?, exit_reason = ?, updated_at = ? WHERE campaign_id = ? AND contact_id = ?`,
		&sqlitex.ExecOptions{Args: []any{status, why, store.FormatTime(now), id, contactID}}); err != nil {
		return fmt.Errorf("leave drip: %w", err)
	}
	return nil
}

// Enrollment is where one contact stands in a drip.
type Enrollment struct {
	ContactID  string
	NextStep   int
	NextAt     time.Time
	Status     string // active, done, exited
	ExitReason string
}

// Enrollments returns drip id's contacts and where each stands.
func (s *Store) Enrollments(ctx context.Context, actor auth.Actor, wsID, id string) ([]Enrollment, error) {
	var out []Enrollment
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if _, err := getIn(conn, wsID, id); err != nil {
			return err
		}
		return sqlitex.Execute(conn, `SELECT contact_id, next_step, next_at, status, exit_reason FROM enrollments WHERE campaign_id = ? AND workspace_id = ? ORDER BY enrolled_at, contact_id`,
			&sqlitex.ExecOptions{Args: []any{id, wsID}, ResultFunc: func(st *sqlite.Stmt) error {
				at, _ := store.ParseTime(st.ColumnText(2))
				out = append(out, Enrollment{ContactID: st.ColumnText(0), NextStep: st.ColumnInt(1), NextAt: at, Status: st.ColumnText(3), ExitReason: st.ColumnText(4)})
				return nil
			}})
	})
	return out, err
}

// Unenroll takes a contact off drip id by hand.
func (s *Store) Unenroll(ctx context.Context, actor auth.Actor, wsID, id, contactID string) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if _, err := getIn(conn, wsID, id); err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `UPDATE enrollments SET status = 'exited', exit_reason = ?, updated_at = ? WHERE campaign_id = ? AND contact_id = ? AND status = 'active'`,
			&sqlitex.ExecOptions{Args: []any{ExitRemoved, store.FormatTime(time.Now()), id, contactID}}); err != nil {
			return fmt.Errorf("unenroll: %w", err)
		}
		if conn.Changes() == 0 {
			return errs.NotFoundf("That contact is not walking this drip.")
		}
		return audit.Record(conn, actor.Audit("campaign.unenroll", "campaign", id, map[string]any{"workspace_id": wsID, "contact_id": contactID}))
	})
}
