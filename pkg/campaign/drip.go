package campaign

import (
	"context"
	"fmt"
	"slices"
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

// enroll puts drip c's segment members (the ones it may reach) on its
// first step, inside the caller's transaction; contacts enrolled before
// keep their places. It returns how many were new and how many left out.
func enroll(conn *sqlite.Conn, c Campaign, now time.Time) (int, int, error) {
	if len(c.Steps) == 0 {
		return 0, 0, errs.Fields{"steps": "Give the drip at least one step."}.Err()
	}
	rs, err := audience(conn, c, now)
	if err != nil {
		return 0, 0, err
	}
	loc, err := zoneOf(conn, c.WorkspaceID)
	if err != nil {
		return 0, 0, err
	}
	added, left := 0, 0
	for _, r := range rs {
		if r.Excluded != "" {
			left++
			continue
		}
		n, err := enrolOne(conn, c, r.ContactID, now, loc)
		if err != nil {
			return 0, 0, err
		}
		added += n
	}
	return added, left, nil
}

// enrolOne puts contact id on drip c's first step, due its delay from now
// (in its window); it returns 0 when they walk or walked it already.
func enrolOne(conn *sqlite.Conn, c Campaign, id string, now time.Time, loc *time.Location) (int, error) {
	nowS := store.FormatTime(now)
	first := store.FormatTime(c.Steps[0].Window.Next(now.Add(c.Steps[0].Delay), loc))
	if err := sqlitex.Execute(conn, `INSERT INTO enrollments (campaign_id, contact_id, workspace_id, next_step, next_at, status, enrolled_at, updated_at)
VALUES (?, ?, ?, 1, ?, 'active', ?, ?) ON CONFLICT DO NOTHING`, &sqlitex.ExecOptions{Args: []any{c.ID, id, c.WorkspaceID, first, nowS, nowS}}); err != nil {
		return 0, fmt.Errorf("enroll: %w", err)
	}
	return conn.Changes(), nil
}

// zoneOf is workspace wsID's time zone, where its drips' send windows are
// read (UTC when it names none this machine knows).
func zoneOf(conn *sqlite.Conn, wsID string) (*time.Location, error) {
	set, err := workspace.SettingsIn(conn, wsID)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(set.TimeZone)
	if err != nil || set.TimeZone == "" {
		return time.UTC, nil
	}
	return loc, nil
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
	// Who replied, or was marked do-not-contact, leaves now, not when
	// their next step falls due.
	if err := db.Write(ctx, func(conn *sqlite.Conn) error { return sweep(conn, now) }); err != nil {
		return 0, err
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
	var list []due
	if err := sqlitex.Execute(conn, `SELECT contact_id, next_step, enrolled_at FROM enrollments WHERE campaign_id = ? AND status = 'active' AND next_at <= ?`,
		&sqlitex.ExecOptions{Args: []any{id, store.FormatTime(now)}, ResultFunc: func(st *sqlite.Stmt) error {
			at, _ := store.ParseTime(st.ColumnText(2))
			list = append(list, due{st.ColumnText(0), st.ColumnInt(1), at})
			return nil
		}}); err != nil {
		return 0, fmt.Errorf("due steps: %w", err)
	}
	// Who is still in the segment, and how they may be reached.
	g, err := segmentOf(conn, c)
	if err != nil {
		return 0, err
	}
	members, err := Recipients(conn, c.WorkspaceID, id, g, now)
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
	loc, err := zoneOf(conn, c.WorkspaceID)
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
		default:
			why = dripOut(c.Steps, r, false)
			if why != "" {
				break
			}
			replied, err := store.Exists(conn, `SELECT 1 FROM outbox o JOIN provider_events e ON e.outbox_id = o.id AND e.outbox_id <> ''
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
		st := c.Steps[d.step-1]
		if at := st.Window.Next(now, loc); at.After(now) { // outside its window: wait for it
			if err := sqlitex.Execute(conn, `UPDATE enrollments SET next_at = ?, updated_at = ? WHERE campaign_id = ? AND contact_id = ?`,
				&sqlitex.ExecOptions{Args: []any{store.FormatTime(at), store.FormatTime(now), id, d.contact}}); err != nil {
				return sent, fmt.Errorf("wait for window: %w", err)
			}
			continue
		}
		// A step whose way is closed to them (a text to a contact with no
		// phone, an email to one with no address) is passed over.
		if reach := (st.IsText() && r.NoText == "") || (!st.IsText() && r.Email != ""); reach {
			if err := m.able([]Step{st}); err != nil {
				continue // texting or email was unset since: the step waits for it
			}
			created, err := m.send(conn, r, st, d.step, now)
			if err != nil {
				return sent, err
			}
			if created {
				sent++
			}
		}
		if d.step == len(c.Steps) {
			err = leave(conn, id, d.contact, "done", ExitFinished, now)
		} else {
			next := c.Steps[d.step]
			err = sqlitex.Execute(conn, `UPDATE enrollments SET next_step = ?, next_at = ?, updated_at = ? WHERE campaign_id = ? AND contact_id = ?`,
				&sqlitex.ExecOptions{Args: []any{d.step + 1, store.FormatTime(next.Window.Next(now.Add(next.Delay), loc)), store.FormatTime(now), id, d.contact}})
		}
		if err != nil {
			return sent, fmt.Errorf("advance: %w", err)
		}
	}
	if err := m.flush(conn); err != nil {
		return sent, err
	}
	if sent > 0 {
		err = sqlitex.Execute(conn, `UPDATE campaigns SET enqueued = enqueued + ? WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{sent, id}})
	}
	return sent, err
}

// The sweep's statements start from the replies and the do-not-contact
// contacts, each through an index of just those (migration 0036): from the
// enrolments, it read every active one each minute and looked up its
// replies and its contact (70 ms of crm-sender's CPU a minute with 10,100
// of them).
const (
	sweepReplied = `UPDATE enrollments SET status = 'exited', exit_reason = ?, updated_at = ? WHERE status = 'active'
AND (campaign_id, contact_id) IN (SELECT o.campaign_id, o.contact_id FROM provider_events e JOIN outbox o ON o.id = e.outbox_id
	WHERE e.kind = 'replied' AND e.outbox_id <> '' AND o.campaign_id <> '')`
	sweepDoNotContact = `UPDATE enrollments SET status = 'exited', exit_reason = ?, updated_at = ? WHERE status = 'active'
AND contact_id IN (SELECT id FROM contacts WHERE do_not_contact = 1)`
)

// sweep takes off every drip the contacts walking it who replied to it or
// were marked do-not-contact since.
func sweep(conn *sqlite.Conn, now time.Time) error {
	nowS := store.FormatTime(now)
	if err := sqlitex.Execute(conn, sweepReplied, &sqlitex.ExecOptions{Args: []any{ExitReplied, nowS}}); err != nil {
		return fmt.Errorf("drip exits on replies: %w", err)
	}
	if err := sqlitex.Execute(conn, sweepDoNotContact, &sqlitex.ExecOptions{Args: []any{WhyDoNotContact, nowS}}); err != nil {
		return fmt.Errorf("drip exits on do-not-contact: %w", err)
	}
	return nil
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

// member evaluates drip c for contact id alone: whether its segment names
// them, and why they may not join it ("" when they may).
func member(conn *sqlite.Conn, c Campaign, id string, now time.Time) (bool, string, error) {
	g, err := segmentOf(conn, c)
	if err != nil {
		return false, "", err
	}
	if len(g.ContactIDs) > 0 && !slices.Contains(g.ContactIDs, id) {
		return false, "", nil
	}
	g.ContactIDs = []string{id}
	rs, err := Recipients(conn, c.WorkspaceID, c.ID, g, now)
	if err != nil || len(rs) == 0 {
		return false, "", err
	}
	return true, dripOut(c.Steps, rs[0], true), nil
}

// Suggested returns the running drips of workspace wsID that ask to enrol
// who joins their segment and that contact id could join: in the segment,
// reachable, never enrolled (the prompt on the contact's page).
func (s *Store) Suggested(ctx context.Context, actor auth.Actor, wsID, id string) ([]Campaign, error) {
	var out []Campaign
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		all, err := listWhere(conn, `SELECT `+columns+` FROM campaigns c WHERE workspace_id = ? AND status = 'running' AND kind = 'drip' AND ask_enroll
AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.campaign_id = c.id AND e.contact_id = ?) ORDER BY name`, wsID, id)
		if err != nil {
			return err
		}
		for _, c := range all {
			if c.Steps, err = stepsOf(conn, c.ID); err != nil {
				return err
			}
			in, why, err := member(conn, c, id, s.now())
			if err != nil {
				return err
			}
			if in && why == "" {
				out = append(out, c)
			}
		}
		return nil
	})
	return out, err
}

// Enroll puts contact id on running drip cid's first step by hand: they
// must be in its segment and reachable, and not have walked it before.
func (s *Store) Enroll(ctx context.Context, actor auth.Actor, wsID, cid, id string) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		c, err := getIn(conn, wsID, cid)
		if err != nil {
			return err
		}
		if c.Kind != Drip || c.Status != Running {
			return errs.New(errs.Conflict, "Contacts join a drip while it runs; this campaign is %s.", c.Status)
		}
		now := s.now()
		in, why, err := member(conn, c, id, now)
		switch {
		case err != nil:
			return err
		case !in:
			return errs.New(errs.Conflict, "That contact is not in the drip's segment.")
		case why != "":
			return errs.New(errs.Conflict, "That contact cannot join the drip: %s.", why)
		}
		loc, err := zoneOf(conn, wsID)
		if err != nil {
			return err
		}
		n, err := enrolOne(conn, c, id, now, loc)
		if err != nil {
			return err
		}
		if n == 0 {
			return errs.New(errs.Conflict, "That contact walked this drip already.")
		}
		return audit.Record(conn, actor.Audit("campaign.enroll", "campaign", c.ID, map[string]any{"workspace_id": wsID, "contact_id": id}))
	})
}
