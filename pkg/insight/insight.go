// Package insight finds what is worth a user's attention in a
// workspace's own data (birthdays coming, contacts gone quiet past a
// list's cadence, stalled stages, duplicate contacts, how templates do,
// near-duplicate templates), keeps each as one row by its dedupe key, and
// lets the user act on it, dismiss it or say whether it helped. A
// dismissed insight stays dismissed until the facts it stands on change.
// crm-insights runs the finders on a schedule; with a model configured it
// also phrases and ranks them and now and then proposes an income idea.
package insight

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/todo"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Kinds of insight.
const (
	KindBirthday   = "birthday"
	KindInactive   = "inactive"
	KindStalled    = "stalled"
	KindDuplicates = "duplicates"
	KindTemplate   = "template" // a template's bounces, unsubscribes or replies
	KindSimilar    = "similar_templates"
	KindUsage      = "usage" // how the user's sending does: the weekday that gets replies
	KindIdea       = "idea"  // the model's income idea
)

// Actions an insight offers.
const (
	ActTodo     = "todo"
	ActCampaign = "campaign"
	ActMerge    = "merge"
	ActTemplate = "template"
)

// Threshold is the confidence from which an insight is shown.
const Threshold = 0.6

// Ref is what an insight's action needs.
type Ref struct {
	Title      string            `json:"title,omitempty"` // the to-do's
	DueOn      string            `json:"due_on,omitempty"`
	ContactID  string            `json:"contact_id,omitempty"`
	Query      map[string]string `json:"query,omitempty"` // the new campaign form's
	TemplateID string            `json:"template_id,omitempty"`
	OtherID    string            `json:"other_id,omitempty"` // the similar template
	ListID     string            `json:"list_id,omitempty"`  // the stage or tag it is about
	Steps      []string          `json:"steps,omitempty"`    // an idea's next steps
	Estimate   string            `json:"estimate,omitempty"` // an idea's revenue estimate
}

// Insight is one stored insight.
type Insight struct {
	ID, WorkspaceID, Kind, Key string
	Subject, Evidence          string
	Confidence                 float64
	Action                     string
	Ref                        Ref
	Phrased                    string // the model's wording, "" without one
	ByModel                    bool   // the model proposed it
	Rank                       float64
	Status                     string
	Feedback                   string
	UpdatedAt                  time.Time
}

// Text is the insight's wording: the model's when it phrased it.
func (i Insight) Text() string {
	if i.Phrased != "" {
		return i.Phrased
	}
	return i.Subject
}

// URL is where the insight's action (other than a to-do) is done.
func (i Insight) URL() string {
	base := "/w/" + url.PathEscape(i.WorkspaceID)
	switch i.Action {
	case ActCampaign:
		q := url.Values{}
		for k, v := range i.Ref.Query {
			q.Set(k, v)
		}
		return base + "/campaigns/new?" + q.Encode()
	case ActMerge:
		return base + "/duplicates"
	case ActTemplate:
		if i.Ref.TemplateID != "" {
			return base + "/templates/" + url.PathEscape(i.Ref.TemplateID)
		}
		return base + "/templates"
	}
	return ""
}

// Label is the action button's wording.
func (i Insight) Label() string {
	switch i.Action {
	case ActTodo:
		return "Add to-do"
	case ActCampaign:
		return "Start campaign"
	case ActMerge:
		return "Review duplicates"
	case ActTemplate:
		return "Open template"
	}
	return ""
}

// Store reads and changes the stored insights on behalf of users.
type Store struct {
	db  *store.DB
	now func() time.Time
}

// NewStore returns a Store over db.
func NewStore(db *store.DB) *Store { return &Store{db: db, now: time.Now} }

// SetClock replaces the clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

const columns = `id, workspace_id, kind, dedupe_key, subject, evidence, confidence, action, action_ref, phrased, by_model, rank, status, feedback, updated_at`

func scan(st *sqlite.Stmt) Insight {
	i := Insight{ID: st.ColumnText(0), WorkspaceID: st.ColumnText(1), Kind: st.ColumnText(2), Key: st.ColumnText(3), Subject: st.ColumnText(4),
		Evidence: st.ColumnText(5), Confidence: st.ColumnFloat(6), Action: st.ColumnText(7), Phrased: st.ColumnText(9), ByModel: st.ColumnBool(10),
		Rank: st.ColumnFloat(11), Status: st.ColumnText(12), Feedback: st.ColumnText(13)}
	_ = json.Unmarshal([]byte(st.ColumnText(8)), &i.Ref)
	i.UpdatedAt, _ = store.ParseTime(st.ColumnText(14))
	return i
}

// OpenIn returns the shown insights of the workspaces wsIDs (the caller
// has checked them): open, at or above Threshold, best ranked first, at
// most n. kinds, when given, narrows them.
func OpenIn(conn *sqlite.Conn, wsIDs []string, n int, kinds ...string) ([]Insight, error) {
	ids, _ := json.Marshal(wsIDs)
	ks, _ := json.Marshal(kinds)
	var out []Insight
	err := sqlitex.Execute(conn, `SELECT `+columns+` FROM insights WHERE workspace_id IN (SELECT value FROM json_each(?1))
AND status = 'open' AND confidence >= ?2 AND (json_array_length(?3) = 0 OR kind IN (SELECT value FROM json_each(?3)))
ORDER BY rank DESC, dedupe_key LIMIT ?4`, &sqlitex.ExecOptions{Args: []any{string(ids), Threshold, string(ks), n},
		ResultFunc: func(st *sqlite.Stmt) error { out = append(out, scan(st)); return nil }})
	if err != nil {
		return nil, fmt.Errorf("open insights: %w", err)
	}
	return out, nil
}

// Open returns the shown insights of the actor's workspace wsID.
func (s *Store) Open(ctx context.Context, actor auth.Actor, wsID string, n int, kinds ...string) ([]Insight, error) {
	var out []Insight
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		out, err = OpenIn(conn, []string{wsID}, n, kinds...)
		return err
	})
	return out, err
}

func getIn(conn *sqlite.Conn, wsID, id string) (Insight, error) {
	var out Insight
	found := false
	err := sqlitex.Execute(conn, `SELECT `+columns+` FROM insights WHERE workspace_id = ? AND id = ?`, &sqlitex.ExecOptions{Args: []any{wsID, id},
		ResultFunc: func(st *sqlite.Stmt) error { out, found = scan(st), true; return nil }})
	if err != nil {
		return out, fmt.Errorf("insight %s: %w", id, err)
	}
	if !found {
		return out, errs.ErrNotFound
	}
	return out, nil
}

// Dismiss hides an insight of the actor's workspace until its facts
// change.
func (s *Store) Dismiss(ctx context.Context, actor auth.Actor, wsID, id string) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if _, err := getIn(conn, wsID, id); err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `UPDATE insights SET status = 'dismissed', dismissed_hash = facts_hash, updated_at = ? WHERE id = ?`,
			&sqlitex.ExecOptions{Args: []any{store.FormatTime(s.now()), id}}); err != nil {
			return fmt.Errorf("dismiss insight: %w", err)
		}
		return audit.Record(conn, actor.Audit("insight.dismiss", "insight", id, map[string]any{"workspace_id": wsID}))
	})
}

// Feedback keeps whether the user found an insight useful.
func (s *Store) Feedback(ctx context.Context, actor auth.Actor, wsID, id string, useful bool) error {
	fb := "not_useful"
	if useful {
		fb = "useful"
	}
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if _, err := getIn(conn, wsID, id); err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `UPDATE insights SET feedback = ?, updated_at = ? WHERE id = ?`,
			&sqlitex.ExecOptions{Args: []any{fb, store.FormatTime(s.now()), id}}); err != nil {
			return fmt.Errorf("insight feedback: %w", err)
		}
		return audit.Record(conn, actor.Audit("insight.feedback", "insight", id, map[string]any{"workspace_id": wsID, "feedback": fb}))
	})
}

// Act does an insight's action: a to-do action makes the to-do (once,
// however often it is pressed) and marks the insight acted on; the others
// answer where the action is done (the pre-filled campaign, the
// duplicates page, the template).
func (s *Store) Act(ctx context.Context, actor auth.Actor, wsID, id string) (string, error) {
	var to string
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		in, err := getIn(conn, wsID, id)
		if err != nil {
			return err
		}
		if in.Action != ActTodo {
			to = in.URL()
			return nil
		}
		title := in.Ref.Title
		if title == "" {
			title = in.Subject
		}
		if _, err := todo.CreateIn(conn, actor, wsID, todo.Change{Title: title, DueOn: in.Ref.DueOn, ContactID: in.Ref.ContactID, Source: todo.ByInsight, SourceRef: id}, s.now()); err != nil {
			return fmt.Errorf("insight to-do: %w", err)
		}
		if err := sqlitex.Execute(conn, `UPDATE insights SET status = 'acted', dismissed_hash = facts_hash, updated_at = ? WHERE id = ?`,
			&sqlitex.ExecOptions{Args: []any{store.FormatTime(s.now()), id}}); err != nil {
			return fmt.Errorf("insight acted: %w", err)
		}
		to = "/w/" + url.PathEscape(wsID) + "/todos"
		return audit.Record(conn, actor.Audit("insight.act", "insight", id, map[string]any{"workspace_id": wsID, "action": in.Action}))
	})
	return to, err
}
