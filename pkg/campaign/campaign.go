// Package campaign keeps a workspace's campaigns: a template sent through
// the outbox to a segment of its contacts, now or at a set time, and, in a
// workspace whose settings require it, only after its designated approver
// approved this very version. The approver's reach into a campaign that is
// not theirs is a narrow grant (the campaigns waiting for them, approve or
// reject), not access to the workspace.
package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/placeholder"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Status is where a campaign stands.
type Status string

// Statuses. A draft (or a rejected one, edited) is submitted for approval
// where the workspace needs it (pending), approved by the approver, then
// launched: sent at once, or scheduled for its time.
const (
	Draft     Status = "draft"
	Pending   Status = "pending"
	Rejected  Status = "rejected"
	Approved  Status = "approved"
	Scheduled Status = "scheduled"
	Sent      Status = "sent"
	Running   Status = "running" // a drip enrolling and sending its steps
	Paused    Status = "paused"  // a drip whose steps wait; positions kept
	Cancelled Status = "cancelled"
)

// Kinds of campaign.
const (
	Blast = "blast" // one message to the segment, now or at a time
	Drip  = "drip"  // steps each enrolled contact walks
)

// Step is one message of a drip, sent Delay after the step before (the
// first: after enrolment): an email (a template) or a text (its body, with
// the same placeholders), inside its send window when it has one.
type Step struct {
	Delay      time.Duration `json:"delay"`
	TemplateID string        `json:"template_id,omitempty"` // an email step's
	Text       string        `json:"text,omitempty"`        // a text step's
	Window     Window        `json:"window,omitzero"`
}

// IsText reports whether the step is a text rather than an email.
func (s Step) IsText() bool { return s.Text != "" }

// MaxText is the longest text step, in characters (ten segments).
const MaxText = 1530

// MaxSteps is the most steps a drip has.
const MaxSteps = 12

// Campaign is one campaign.
type Campaign struct {
	ID          string
	WorkspaceID string
	UserID      string
	Name        string
	Kind        string
	TemplateID  string // a blast's; a drip's first step's
	Steps       []Step // a drip's
	// AutoEnroll has a running drip enrol the contacts who join its
	// segment later (a welcome series for a list); AskEnroll suggests it
	// on their page instead.
	AutoEnroll bool
	AskEnroll  bool
	Segment    Segment
	// SegmentID names a saved segment the campaign goes to instead of
	// Segment, read again each time it sends.
	SegmentID string
	Status    Status
	SendAt    time.Time // a scheduled blast's time; zero sends when launched
	Version   int
	// ApprovedVersion is the version the approver approved; an edit after
	// it makes Version larger, and the campaign needs approval again.
	ApprovedVersion int
	ReviewedBy      string
	ReviewNotes     string
	Enqueued        int
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Change is what a campaign's form sets.
type Change struct {
	Name       string
	Kind       string // Blast (default) or Drip
	TemplateID string // a blast's
	Steps      []Step // a drip's
	AutoEnroll bool   // a drip's: enrol who joins the segment later
	AskEnroll  bool   // a drip's: suggest it on the page of who joins
	Segment    Segment
	SegmentID  string // a saved segment instead of Segment
	SendAt     time.Time
}

// Store keeps campaigns.
type Store struct {
	db  *store.DB
	now func() time.Time
}

// NewStore returns a store over db.
func NewStore(db *store.DB) *Store { return &Store{db: db, now: time.Now} }

const columns = `id, workspace_id, user_id, name, template_id, segment, status, send_at, version, approved_version, reviewed_by, review_notes, enqueued, created_at, updated_at, kind, auto_enroll, ask_enroll, segment_id`

func scan(st *sqlite.Stmt) (Campaign, error) {
	t := func(i int) time.Time { v, _ := store.ParseTime(st.ColumnText(i)); return v }
	c := Campaign{ID: st.ColumnText(0), WorkspaceID: st.ColumnText(1), UserID: st.ColumnText(2), Name: st.ColumnText(3), TemplateID: st.ColumnText(4),
		Status: Status(st.ColumnText(6)), SendAt: t(7), Version: st.ColumnInt(8), ApprovedVersion: st.ColumnInt(9), ReviewedBy: st.ColumnText(10),
		ReviewNotes: st.ColumnText(11), Enqueued: st.ColumnInt(12), CreatedAt: t(13), UpdatedAt: t(14), Kind: st.ColumnText(15), AutoEnroll: st.ColumnBool(16),
		AskEnroll: st.ColumnBool(17), SegmentID: st.ColumnText(18)}
	if err := json.Unmarshal([]byte(st.ColumnText(5)), &c.Segment); err != nil {
		return c, fmt.Errorf("campaign %s segment: %w", c.ID, err)
	}
	return c, nil
}

var errNotFound = errs.NotFoundf("No such campaign.")

// getIn reads campaign id of workspace wsID inside the caller's
// transaction.
func getIn(conn *sqlite.Conn, wsID, id string) (Campaign, error) {
	var c Campaign
	found := false
	var serr error
	err := sqlitex.Execute(conn, `SELECT `+columns+` FROM campaigns WHERE id = ? AND workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{id, wsID},
		ResultFunc: func(st *sqlite.Stmt) error { c, serr = scan(st); found = true; return nil }})
	if err != nil {
		return c, fmt.Errorf("read campaign: %w", err)
	}
	if serr != nil {
		return c, serr
	}
	if !found {
		return c, errNotFound
	}
	c.Steps, err = stepsOf(conn, c.ID)
	return c, err
}

// stepsOf reads a drip's steps in order.
func stepsOf(conn *sqlite.Conn, id string) ([]Step, error) {
	var out []Step
	err := sqlitex.Execute(conn, `SELECT delay_minutes, template_id, sms_text, window_start, window_end, weekdays FROM campaign_steps WHERE campaign_id = ? ORDER BY position`, &sqlitex.ExecOptions{Args: []any{id},
		ResultFunc: func(st *sqlite.Stmt) error {
			out = append(out, Step{Delay: time.Duration(st.ColumnInt64(0)) * time.Minute, TemplateID: st.ColumnText(1), Text: st.ColumnText(2),
				Window: Window{Start: st.ColumnText(3), End: st.ColumnText(4), Weekdays: st.ColumnBool(5)}})
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("read steps: %w", err)
	}
	return out, nil
}

// saveSteps replaces campaign id's steps.
func saveSteps(conn *sqlite.Conn, id string, steps []Step) error {
	if err := sqlitex.Execute(conn, `DELETE FROM campaign_steps WHERE campaign_id = ?`, &sqlitex.ExecOptions{Args: []any{id}}); err != nil {
		return fmt.Errorf("save steps: %w", err)
	}
	for i, st := range steps {
		if err := sqlitex.Execute(conn, `INSERT INTO campaign_steps (campaign_id, position, delay_minutes, template_id, sms_text, window_start, window_end, weekdays) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			&sqlitex.ExecOptions{Args: []any{id, i + 1, int64(st.Delay / time.Minute), st.TemplateID, st.Text, st.Window.Start, st.Window.End, st.Window.Weekdays}}); err != nil {
			return fmt.Errorf("save steps: %w", err)
		}
	}
	return nil
}

// withStatus reads campaign id, whatever its workspace, if it is (still)
// in status st: crm-sender's ticks, which act for no user.
func withStatus(conn *sqlite.Conn, id string, st Status) (Campaign, bool, error) {
	var wsID string
	if err := sqlitex.Execute(conn, `SELECT workspace_id FROM campaigns WHERE id = ? AND status = ?`, &sqlitex.ExecOptions{Args: []any{id, string(st)},
		ResultFunc: func(s *sqlite.Stmt) error { wsID = s.ColumnText(0); return nil }}); err != nil || wsID == "" {
		return Campaign{}, false, err
	}
	c, err := getIn(conn, wsID, id)
	return c, err == nil, err
}

// Get returns campaign id of the actor's workspace wsID.
func (s *Store) Get(ctx context.Context, actor auth.Actor, wsID, id string) (Campaign, error) {
	var c Campaign
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		c, err = getIn(conn, wsID, id)
		return err
	})
	return c, err
}

// List returns the workspace's campaigns, newest first.
func (s *Store) List(ctx context.Context, actor auth.Actor, wsID string) ([]Campaign, error) {
	var out []Campaign
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		out, err = listWhere(conn, `SELECT `+columns+` FROM campaigns WHERE workspace_id = ? ORDER BY created_at DESC, id DESC`, wsID)
		return err
	})
	return out, err
}

// listWhere reads the campaigns query q (selecting the columns) finds.
func listWhere(conn *sqlite.Conn, q string, args ...any) ([]Campaign, error) {
	var out []Campaign
	var serr error
	err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args, ResultFunc: func(st *sqlite.Stmt) error {
		c, err := scan(st)
		if err != nil {
			serr = err
		}
		out = append(out, c)
		return nil
	}})
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	return out, serr
}

// check validates ch against workspace wsID (its template must be the
// workspace's, its tags and stage too).
func check(conn *sqlite.Conn, wsID string, ch *Change, now time.Time) error {
	f := errs.Fields{}
	ch.Name = strings.Join(strings.Fields(ch.Name), " ")
	switch {
	case ch.Name == "":
		f.Add("name", "Name the campaign.")
	case utf8.RuneCountInString(ch.Name) > 120:
		f.Add("name", "Use at most 120 characters.")
	}
	switch ch.Kind {
	case "", Blast:
		ch.Kind, ch.Steps, ch.AutoEnroll, ch.AskEnroll = Blast, nil, false, false
	case Drip:
		switch {
		case len(ch.Steps) == 0:
			f.Add("steps", "Give the drip at least one step.")
		case len(ch.Steps) > MaxSteps:
			f.Add("steps", fmt.Sprintf("Use at most %d steps.", MaxSteps))
		default:
			ch.TemplateID = ch.Steps[0].TemplateID
		}
		if ch.AutoEnroll {
			ch.AskEnroll = false
		}
		if err := checkSteps(conn, wsID, ch.Steps, f); err != nil {
			return err
		}
		if !ch.SendAt.IsZero() {
			f.Add("send_at", "A drip starts when launched: each contact's steps follow their enrolment.")
		}
	default:
		f.Add("kind", "Choose a blast or a drip.")
	}
	if ch.Kind == Blast {
		if ch.TemplateID == "" {
			f.Add("template_id", "Choose the template it sends.")
		} else if _, err := emailtemplate.GetIn(conn, wsID, ch.TemplateID); errs.KindOf(err) == errs.NotFound {
			f.Add("template_id", "Choose one of this workspace's templates.")
		} else if err != nil {
			return err
		}
	}
	if !ch.SendAt.IsZero() && !ch.SendAt.After(now) {
		f.Add("send_at", "Choose a time in the future, or leave it empty to send when launched.")
	}
	if ch.SegmentID != "" {
		ok, err := store.Exists(conn, `SELECT 1 FROM segments WHERE id = ? AND workspace_id = ?`, ch.SegmentID, wsID)
		if err != nil {
			return fmt.Errorf("check segment: %w", err)
		}
		if !ok {
			f.Add("segment_id", "Choose one of this workspace's saved segments.")
		}
		ch.Segment = Segment{}
	}
	if err := ch.Segment.check(conn, wsID, f); err != nil {
		return err
	}
	return f.Err()
}

// checkSteps validates a drip's steps: each an email of the workspace's
// templates or a text whose placeholders are known, each wait and window
// sensible.
func checkSteps(conn *sqlite.Conn, wsID string, steps []Step, f errs.Fields) error {
	defs, err := contact.FieldsIn(conn, wsID)
	if err != nil {
		return err
	}
	keys := emailtemplate.KeysOf(defs)
	for i := range steps {
		st := &steps[i]
		st.Text = strings.TrimSpace(st.Text)
		if st.Delay < 0 || st.Delay > 365*24*time.Hour {
			f.Add("steps", fmt.Sprintf("Step %d: wait 0 to 365 days.", i+1))
		}
		if msg := st.Window.check(); msg != "" {
			f.Add("steps", fmt.Sprintf("Step %d: %s", i+1, msg))
		}
		switch {
		case st.IsText() && st.TemplateID != "":
			f.Add("steps", fmt.Sprintf("Step %d: choose a template or write a text, not both.", i+1))
		case st.IsText():
			if utf8.RuneCountInString(st.Text) > MaxText {
				f.Add("steps", fmt.Sprintf("Step %d: use at most %d characters in a text (ten texts).", i+1, MaxText))
			}
			if _, probs := placeholder.Text(st.Text, emailtemplate.Values(contact.Contact{}, defs, emailtemplate.Sender{}, ""), keys); len(probs) > 0 {
				f.Add("steps", fmt.Sprintf("Step %d: %s at %d: %s", i+1, probs[0].Source, probs[0].Pos, probs[0].Message))
			}
		default:
			if _, err := emailtemplate.GetIn(conn, wsID, st.TemplateID); errs.KindOf(err) == errs.NotFound {
				f.Add("steps", fmt.Sprintf("Step %d: choose one of this workspace's templates, or write a text.", i+1))
			} else if err != nil {
				return err
			}
		}
	}
	return nil
}

// Create stores a new draft.
func (s *Store) Create(ctx context.Context, actor auth.Actor, wsID string, ch Change) (Campaign, error) {
	var c Campaign
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		now := s.now()
		if err := check(conn, wsID, &ch, now); err != nil {
			return err
		}
		seg, _ := json.Marshal(ch.Segment)
		id, nowS := store.NewID(), store.FormatTime(now)
		if err := sqlitex.Execute(conn, `INSERT INTO campaigns (id, workspace_id, user_id, name, kind, template_id, segment, status, send_at, created_at, updated_at, auto_enroll, ask_enroll, segment_id)
VALUES (?, ?, ?, ?, ?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?)`, &sqlitex.ExecOptions{Args: []any{id, wsID, actor.UserID, ch.Name, ch.Kind, ch.TemplateID, string(seg), sendAt(ch.SendAt), nowS, nowS, ch.AutoEnroll, ch.AskEnroll, ch.SegmentID}}); err != nil {
			return fmt.Errorf("create campaign: %w", err)
		}
		if err := saveSteps(conn, id, ch.Steps); err != nil {
			return err
		}
		if err := audit.Record(conn, actor.Audit("campaign.create", "campaign", id, map[string]any{"workspace_id": wsID, "name": ch.Name})); err != nil {
			return err
		}
		var err error
		c, err = getIn(conn, wsID, id)
		return err
	})
	return c, err
}

func sendAt(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return store.FormatTime(t)
}

// Update changes a campaign not yet sent. Its version moves on, so one
// approved before needs approval again (it goes back to draft).
func (s *Store) Update(ctx context.Context, actor auth.Actor, wsID, id string, ch Change) (Campaign, error) {
	var c Campaign
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		old, err := getIn(conn, wsID, id)
		if err != nil {
			return err
		}
		if old.Status == Sent || old.Status == Cancelled {
			return errs.New(errs.Conflict, "This campaign was %s: it can no longer be changed.", old.Status)
		}
		now := s.now()
		if err := check(conn, wsID, &ch, now); err != nil {
			return err
		}
		seg, _ := json.Marshal(ch.Segment)
		if ch.Kind != old.Kind && old.Status != Draft && old.Status != Rejected && old.Status != Pending && old.Status != Approved {
			return errs.New(errs.Conflict, "A launched campaign stays a %s.", old.Kind)
		}
		// An edit stops a running drip (its steps wait) until it is launched
		// again, approved first where that is needed; its contacts keep
		// their places and later steps follow the edit.
		if err := sqlitex.Execute(conn, `UPDATE campaigns SET name = ?, kind = ?, template_id = ?, segment = ?, send_at = ?, auto_enroll = ?, ask_enroll = ?, segment_id = ?, version = version + 1, status = 'draft', updated_at = ?
WHERE id = ? AND workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{ch.Name, ch.Kind, ch.TemplateID, string(seg), sendAt(ch.SendAt), ch.AutoEnroll, ch.AskEnroll, ch.SegmentID, store.FormatTime(now), id, wsID}}); err != nil {
			return fmt.Errorf("update campaign: %w", err)
		}
		if err := saveSteps(conn, id, ch.Steps); err != nil {
			return err
		}
		if err := audit.Record(conn, actor.Audit("campaign.update", "campaign", id, map[string]any{"workspace_id": wsID, "was": string(old.Status)})); err != nil {
			return err
		}
		c, err = getIn(conn, wsID, id)
		return err
	})
	return c, err
}

// needsApproval reads whether workspace wsID's campaigns need approval,
// and by whom.
func needsApproval(conn *sqlite.Conn, wsID string) (bool, string, error) {
	set, err := workspace.SettingsIn(conn, wsID)
	return set.CampaignsNeedApproval, set.ApproverUserID, err
}

// setStatus moves campaign c to status to, audited as action.
func setStatus(conn *sqlite.Conn, actor auth.Actor, c Campaign, to Status, action string, details map[string]any, extra string, args ...any) error {
	q := `UPDATE campaigns SET status = ?, updated_at = ?` + extra + ` WHERE id = ? AND workspace_id = ? AND version = ?`
	all := append([]any{string(to), store.FormatTime(time.Now())}, args...)
	all = append(all, c.ID, c.WorkspaceID, c.Version)
	if err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: all}); err != nil {
		return fmt.Errorf("campaign %s: %w", action, err)
	}
	if conn.Changes() != 1 {
		return errs.New(errs.Conflict, "The campaign changed meanwhile: look at it again.")
	}
	if details == nil {
		details = map[string]any{}
	}
	details["workspace_id"], details["version"], details["from"] = c.WorkspaceID, c.Version, string(c.Status)
	return audit.Record(conn, actor.Audit(action, "campaign", c.ID, details))
}

// Submit sends a draft (or a rejected campaign, edited) for approval. In a
// workspace that needs none there is nothing to submit.
func (s *Store) Submit(ctx context.Context, actor auth.Actor, wsID, id string) (Campaign, error) {
	var c Campaign
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		if c, err = getIn(conn, wsID, id); err != nil {
			return err
		}
		need, _, err := needsApproval(conn, wsID)
		if err != nil {
			return err
		}
		if !need {
			return errs.New(errs.Invalid, "Campaigns in this workspace need no approval: launch it.")
		}
		if c.Status != Draft && c.Status != Rejected {
			return errs.New(errs.Conflict, "Only a draft can be submitted; this one is %s.", c.Status)
		}
		if err := setStatus(conn, actor, c, Pending, "campaign.submit", nil, ""); err != nil {
			return err
		}
		c, err = getIn(conn, wsID, id)
		return err
	})
	return c, err
}

// PendingFor returns the campaigns waiting for the actor's approval, in
// every workspace that names them approver (the narrow grant).
func (s *Store) PendingFor(ctx context.Context, actor auth.Actor) ([]Campaign, error) {
	var out []Campaign
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		out, err = listWhere(conn, `SELECT `+prefixed("c.")+` FROM campaigns c JOIN workspace_settings w ON w.workspace_id = c.workspace_id
WHERE c.status = 'pending' AND w.campaigns_need_approval AND w.approver_user_id = ? ORDER BY c.updated_at`, actor.UserID)
		return err
	})
	return out, err
}

func prefixed(p string) string {
	cols := strings.Split(columns, ", ")
	for i := range cols {
		cols[i] = p + strings.TrimSpace(cols[i])
	}
	return strings.Join(cols, ", ")
}

// forApprover reads campaign id for its workspace's approver: NotFound
// unless the actor is that approver and it waits for them.
func forApprover(conn *sqlite.Conn, actor auth.Actor, id string) (Campaign, error) {
	var c Campaign
	found := false
	var serr error
	err := sqlitex.Execute(conn, `SELECT `+prefixed("c.")+` FROM campaigns c JOIN workspace_settings w ON w.workspace_id = c.workspace_id
WHERE c.id = ? AND c.status = 'pending' AND w.campaigns_need_approval AND w.approver_user_id = ?`, &sqlitex.ExecOptions{Args: []any{id, actor.UserID},
		ResultFunc: func(st *sqlite.Stmt) error { c, serr = scan(st); found = true; return nil }})
	if err != nil {
		return c, fmt.Errorf("read campaign: %w", err)
	}
	if serr != nil {
		return c, serr
	}
	if !found {
		return c, errNotFound
	}
	return c, nil
}

// Approve approves the version of pending campaign id the approver saw
// (version): only the workspace's designated approver can, and an edit
// made since refuses it.
func (s *Store) Approve(ctx context.Context, actor auth.Actor, id string, version int, notes string) (Campaign, error) {
	return s.review(ctx, actor, id, version, notes, true)
}

// Reject sends pending campaign id back to its author with notes.
func (s *Store) Reject(ctx context.Context, actor auth.Actor, id string, version int, notes string) (Campaign, error) {
	if strings.TrimSpace(notes) == "" {
		return Campaign{}, errs.Fields{"notes": "Say what to change."}.Err()
	}
	return s.review(ctx, actor, id, version, notes, false)
}

func (s *Store) review(ctx context.Context, actor auth.Actor, id string, version int, notes string, ok bool) (Campaign, error) {
	notes = strings.TrimSpace(notes)
	if utf8.RuneCountInString(notes) > 2000 {
		return Campaign{}, errs.Fields{"notes": "Use at most 2,000 characters."}.Err()
	}
	var c Campaign
	err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
		var err error
		if c, err = forApprover(conn, actor, id); err != nil {
			return err
		}
		if c.Version != version {
			return errs.New(errs.Conflict, "The campaign was edited since you opened it: look at it again.")
		}
		if ok {
			err = setStatus(conn, actor, c, Approved, "campaign.approve", map[string]any{"notes": notes}, `, approved_version = version, reviewed_by = ?, review_notes = ?`, actor.UserID, notes)
		} else {
			err = setStatus(conn, actor, c, Rejected, "campaign.reject", map[string]any{"notes": notes}, `, reviewed_by = ?, review_notes = ?`, actor.UserID, notes)
		}
		if err != nil {
			return err
		}
		c, err = getIn(conn, c.WorkspaceID, id)
		return err
	})
	return c, err
}

// Pause stops a running drip's steps; its contacts keep their places.
func (s *Store) Pause(ctx context.Context, actor auth.Actor, wsID, id string) error {
	return s.flip(ctx, actor, wsID, id, Running, Paused, "campaign.pause")
}

// Resume lets a paused drip's steps go again, from where each contact is.
func (s *Store) Resume(ctx context.Context, actor auth.Actor, wsID, id string) error {
	return s.flip(ctx, actor, wsID, id, Paused, Running, "campaign.resume")
}

func (s *Store) flip(ctx context.Context, actor auth.Actor, wsID, id string, from, to Status, action string) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		c, err := getIn(conn, wsID, id)
		if err != nil {
			return err
		}
		if c.Status != from {
			return errs.New(errs.Conflict, "Only a %s drip can be: this one is %s.", from, c.Status)
		}
		return setStatus(conn, actor, c, to, action, nil, "")
	})
}

// Cancel stops a campaign that is not sent yet.
func (s *Store) Cancel(ctx context.Context, actor auth.Actor, wsID, id string) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		c, err := getIn(conn, wsID, id)
		if err != nil {
			return err
		}
		if c.Status == Sent || c.Status == Cancelled {
			return errs.New(errs.Conflict, "This campaign was %s already.", c.Status)
		}
		return setStatus(conn, actor, c, Cancelled, "campaign.cancel", nil, "")
	})
}
