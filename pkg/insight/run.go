package insight

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Model is the model, as the run needs it: ai.Client.JSON without the
// usage.
type Model func(ctx context.Context, system, user, name string, schema json.RawMessage, out any) error

// Engine runs the finders over every workspace and keeps their results.
type Engine struct {
	db    *store.DB
	now   func() time.Time
	model Model // nil without one
	log   *slog.Logger
}

// NewEngine returns an Engine over db; model may be nil.
func NewEngine(db *store.DB, model Model, log *slog.Logger) *Engine {
	return &Engine{db: db, now: time.Now, model: model, log: log}
}

// SetClock replaces the clock (tests).
func (e *Engine) SetClock(now func() time.Time) { e.now = now }

// Stats is what a run did.
type Stats struct {
	Workspaces, Found, New, Back, Gone, Phrased int
}

func factsHash(f Found) string {
	h := sha256.Sum256([]byte(f.Kind + "\x00" + f.Facts))
	return hex.EncodeToString(h[:8])
}

// Run finds and stores the insights of every workspace: each in its own
// short write, so the web never waits long.
func (e *Engine) Run(ctx context.Context) (Stats, error) {
	var st Stats
	var wss []string
	err := e.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT id FROM workspaces ORDER BY id`, &sqlitex.ExecOptions{
			ResultFunc: func(s *sqlite.Stmt) error { wss = append(wss, s.ColumnText(0)); return nil }})
	})
	if err != nil {
		return st, fmt.Errorf("insights: workspaces: %w", err)
	}
	for _, ws := range wss {
		if err := e.RunWorkspace(ctx, ws, &st); err != nil {
			return st, fmt.Errorf("insights for workspace %s: %w", ws, err)
		}
	}
	return st, nil
}

// RunWorkspace finds and stores the insights of one workspace, then has
// the model phrase the new ones.
func (e *Engine) RunWorkspace(ctx context.Context, wsID string, st *Stats) error {
	now := e.now()
	var found []Found
	err := e.db.Read(ctx, func(conn *sqlite.Conn) error {
		tz, err := workspace.TimeZoneIn(conn, wsID)
		if err != nil {
			return err
		}
		loc, err := time.LoadLocation(tz)
		if err != nil {
			loc = time.UTC
		}
		found, err = Find(conn, wsID, now, loc)
		return err
	})
	if err != nil {
		return err
	}
	st.Workspaces++
	st.Found += len(found)
	err = e.db.Write(ctx, func(conn *sqlite.Conn) error { return e.keep(conn, wsID, found, now, st) })
	if err != nil {
		return err
	}
	if e.model != nil {
		if err := e.phrase(ctx, wsID, now, st); err != nil && e.log != nil {
			// the insights stand without the wording; the next run tries again
			e.log.Warn("insights: the model could not phrase them", "workspace", wsID, "err", err)
		}
	}
	return nil
}

// keep upserts what was found by dedupe key: a new one opens; a dismissed
// or acted-on one stays so while its facts hash is the one it was
// dismissed at, and opens again when they changed; an open one the run no
// longer found is gone (the model's ideas aside, which no finder makes).
func (e *Engine) keep(conn *sqlite.Conn, wsID string, found []Found, now time.Time, st *Stats) error {
	type row struct{ id, status, dismissed, hash string }
	have := map[string]row{}
	err := sqlitex.Execute(conn, `SELECT dedupe_key, id, status, dismissed_hash, facts_hash FROM insights WHERE workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{wsID},
		ResultFunc: func(s *sqlite.Stmt) error {
			have[s.ColumnText(0)] = row{s.ColumnText(1), s.ColumnText(2), s.ColumnText(3), s.ColumnText(4)}
			return nil
		}})
	if err != nil {
		return fmt.Errorf("stored insights: %w", err)
	}
	ts := store.FormatTime(now)
	seen := map[string]bool{}
	for _, f := range found {
		if seen[f.Key] {
			continue
		}
		seen[f.Key] = true
		h := factsHash(f)
		ref, _ := json.Marshal(f.Ref)
		rank := f.Confidence * f.Weight
		old, ok := have[f.Key]
		status := "open"
		switch {
		case !ok:
			st.New++
		case (old.status == "dismissed" || old.status == "acted") && old.dismissed == h:
			status = old.status
		case old.status != "open":
			st.Back++
		}
		// the model's wording is kept while the facts stand
		err := sqlitex.Execute(conn, `INSERT INTO insights (id, workspace_id, kind, dedupe_key, subject, evidence, confidence, facts_hash, action, action_ref, rank, status, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)
ON CONFLICT (workspace_id, dedupe_key) DO UPDATE SET kind = ?3, subject = ?5, evidence = ?6, confidence = ?7,
  phrased = CASE WHEN facts_hash = ?8 THEN phrased ELSE '' END,
  rank = CASE WHEN facts_hash = ?8 AND phrased <> '' THEN rank ELSE ?11 END,
  facts_hash = ?8, action = ?9, action_ref = ?10, status = ?12,
  updated_at = CASE WHEN status = ?12 AND facts_hash = ?8 THEN updated_at ELSE ?13 END`,
			&sqlitex.ExecOptions{Args: []any{store.NewID(), wsID, f.Kind, f.Key, f.Subject, f.Evidence, f.Confidence, h, f.Action, string(ref), rank, status, ts}})
		if err != nil {
			return fmt.Errorf("keep insight %s: %w", f.Key, err)
		}
	}
	for key, r := range have {
		if seen[key] || r.status != "open" || strings.HasPrefix(key, KindIdea+":") {
			continue
		}
		if err := sqlitex.Execute(conn, `UPDATE insights SET status = 'gone', updated_at = ? WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{ts, r.id}}); err != nil {
			return fmt.Errorf("insight %s gone: %w", key, err)
		}
		st.Gone++
	}
	return nil
}

// phrasing is what the model answers.
type phrasing struct {
	Items []struct {
		Key  string  `json:"key"`
		Text string  `json:"text"`
		Rank float64 `json:"rank"`
	} `json:"items"`
	Idea struct {
		Title    string   `json:"title"`
		Why      string   `json:"why"`
		Estimate string   `json:"estimate"`
		Steps    []string `json:"steps"`
	} `json:"idea"`
}

var phrasingSchema = json.RawMessage(`{"type":"object","additionalProperties":false,"required":["items","idea"],"properties":{
"items":{"type":"array","items":{"type":"object","additionalProperties":false,"required":["key","text","rank"],"properties":{
 "key":{"type":"string"},"text":{"type":"string"},"rank":{"type":"number"}}}},
"idea":{"type":"object","additionalProperties":false,"required":["title","why","estimate","steps"],"properties":{
 "title":{"type":"string"},"why":{"type":"string"},"estimate":{"type":"string"},"steps":{"type":"array","items":{"type":"string"}}}}}}`)

const phrasingSystem = `You help a small business owner act on their CRM. You get insights computed from their own data, as JSON.
For each, write one short, friendly sentence (at most 140 characters) saying what to do and why, keeping every number as given, and a rank from 0 to 1 for how much it matters to their income this week. Answer each key you were given, no others.
If the insights suggest one, also propose an income idea: a title, why it fits their data, a revenue estimate with its reasoning in a few words, and up to four next steps; otherwise leave the idea's fields empty.`

// phrase asks the model to word and rank the workspace's open insights
// it has not phrased yet, and, once a week, for an income idea: marked as
// the model's.
func (e *Engine) phrase(ctx context.Context, wsID string, now time.Time, st *Stats) error {
	var pending []Insight
	y, w := now.ISOWeek()
	week := fmt.Sprintf("%s:%d-W%02d", KindIdea, y, w)
	haveIdea := false
	err := e.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		if haveIdea, err = store.Exists(conn, `SELECT 1 FROM insights WHERE workspace_id = ? AND dedupe_key = ?`, wsID, week); err != nil {
			return err
		}
		return sqlitex.Execute(conn, `SELECT `+columns+` FROM insights WHERE workspace_id = ? AND status = 'open' AND phrased = '' AND NOT by_model AND confidence >= ?
ORDER BY rank DESC, dedupe_key LIMIT 20`, &sqlitex.ExecOptions{Args: []any{wsID, Threshold},
			ResultFunc: func(s *sqlite.Stmt) error { pending = append(pending, scan(s)); return nil }})
	})
	if err != nil {
		return fmt.Errorf("insights to phrase: %w", err)
	}
	if len(pending) == 0 {
		return nil
	}
	type item struct{ Key, Kind, Subject, Evidence string }
	items := make([]item, len(pending))
	for i, in := range pending {
		items[i] = item{in.Key, in.Kind, in.Subject, in.Evidence}
	}
	user, _ := json.Marshal(map[string]any{"insights": items, "want_idea": !haveIdea})
	var out phrasing
	if err := e.model(ctx, phrasingSystem, string(user), "insights", phrasingSchema, &out); err != nil {
		return err
	}
	asked := map[string]bool{}
	for _, in := range pending {
		asked[in.Key] = true
	}
	ts := store.FormatTime(now)
	return e.db.Write(ctx, func(conn *sqlite.Conn) error {
		for _, it := range out.Items {
			text := strings.TrimSpace(it.Text)
			if !asked[it.Key] || text == "" {
				continue // a key we did not give, or nothing said
			}
			if len([]rune(text)) > 280 {
				text = string([]rune(text)[:280])
			}
			if err := sqlitex.Execute(conn, `UPDATE insights SET phrased = ?, rank = ? WHERE workspace_id = ? AND dedupe_key = ?`,
				&sqlitex.ExecOptions{Args: []any{text, min(max(it.Rank, 0), 1), wsID, it.Key}}); err != nil {
				return fmt.Errorf("phrase insight %s: %w", it.Key, err)
			}
			st.Phrased += conn.Changes()
			delete(asked, it.Key)
		}
		// what the model left unsaid keeps its own wording, and is not asked
		// again while its facts stand
		for key := range asked {
			if err := sqlitex.Execute(conn, `UPDATE insights SET phrased = subject WHERE workspace_id = ? AND dedupe_key = ? AND phrased = ''`,
				&sqlitex.ExecOptions{Args: []any{wsID, key}}); err != nil {
				return fmt.Errorf("insight %s unphrased: %w", key, err)
			}
		}
		idea := out.Idea
		if haveIdea || strings.TrimSpace(idea.Title) == "" {
			return nil
		}
		title := strings.TrimSpace(idea.Title)
		// its action is a to-do to start on it
		ref, _ := json.Marshal(Ref{Title: "Start on: " + string([]rune(title)[:min(len([]rune(title)), 280)]), Estimate: idea.Estimate, Steps: idea.Steps})
		return sqlitex.Execute(conn, `INSERT INTO insights (id, workspace_id, kind, dedupe_key, subject, evidence, confidence, facts_hash, action, action_ref, phrased, by_model, rank, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, 0.7, '', 'todo', ?, '', 1, 0.5, ?, ?) ON CONFLICT DO NOTHING`,
			&sqlitex.ExecOptions{Args: []any{store.NewID(), wsID, KindIdea, week, title, strings.TrimSpace(idea.Why), string(ref), ts, ts}})
	})
}
