// Package aidraft owns the requests a user makes of the model for an email
// template draft: crm-web writes the request and its job in one
// transaction (Request); crm-insights, which alone holds the model's key,
// claims the job and calls the model (Kind); the page reads where it
// stands (Get) until the draft is there. The model's HTML is sanitized
// like anything a user writes, and every call is recorded (ai_calls), on
// the contact's log too when the request is tied to one.
package aidraft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/ai"
	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/richtext"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// KindName is the job kind crm-insights runs.
const KindName = "ai.draft"

// The states of a request.
const (
	Queued   = "queued"
	Running  = "running"
	Retrying = "retrying"
	Done     = "done"
	Failed   = "failed"
)

// Limits of a brief, in characters.
const (
	MaxAnswer = 1000 // each of the wizard's answers, and a revision comment
	MaxPrompt = 8000
)

// Request is one ask of the model and where it stands.
type Request struct {
	ID          string
	UserID      string
	WorkspaceID string
	ContactID   string
	ParentID    string
	Brief       ai.Brief
	Status      string
	Detail      string
	Draft       *ai.Draft // when Status is Done
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Ended reports whether the request is done or failed.
func (r Request) Ended() bool { return r.Status == Done || r.Status == Failed }

// Model is the model crm-insights runs with.
type Model struct {
	Name, Endpoint string
	UpdatedAt      time.Time
}

// Store reads and writes requests.
type Store struct {
	db  *store.DB
	now func() time.Time
}

// NewStore returns the request store over db.
func NewStore(db *store.DB) *Store { return &Store{db: db, now: time.Now} }

var errNotFound = errs.NotFoundf("No such AI request.")

// Model returns the model crm-insights said it runs with, if any.
func (s *Store) Model(ctx context.Context) (Model, bool, error) {
	var m Model
	found := false
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT model, endpoint, updated_at FROM ai_model WHERE id = 1`, &sqlitex.ExecOptions{
			ResultFunc: func(st *sqlite.Stmt) error {
				m.Name, m.Endpoint, found = st.ColumnText(0), st.ColumnText(1), true
				m.UpdatedAt, _ = store.ParseTime(st.ColumnText(2))
				return nil
			}})
	})
	if err != nil {
		return m, false, fmt.Errorf("read the AI model: %w", err)
	}
	return m, found && m.Name != "", nil
}

// SetModel records the model crm-insights runs with (cfg not configured:
// none), for crm-web to read.
func SetModel(ctx context.Context, db *store.DB, cfg ai.Config) error {
	return db.Write(ctx, func(conn *sqlite.Conn) error {
		if !cfg.Configured() {
			return sqlitex.Execute(conn, `DELETE FROM ai_model`, nil)
		}
		return sqlitex.Execute(conn, `INSERT INTO ai_model (id, model, endpoint, updated_at) VALUES (1, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET model = excluded.model, endpoint = excluded.endpoint, updated_at = excluded.updated_at`,
			&sqlitex.ExecOptions{Args: []any{cfg.Model, cfg.Endpoint(), store.FormatTime(time.Now())}})
	})
}

// check validates a brief's user-written parts.
func check(b *ai.Brief) error {
	fe := errs.Fields{}
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{{"goal", &b.Goal, MaxAnswer}, {"audience", &b.Audience, MaxAnswer}, {"tone", &b.Tone, MaxAnswer}, {"must_haves", &b.MustHaves, MaxAnswer},
		{"prompt", &b.Prompt, MaxPrompt}, {"comment", &b.Comment, MaxAnswer}} {
		*f.v = strings.TrimSpace(*f.v)
		if utf8.RuneCountInString(*f.v) > f.max {
			fe.Add(f.name, fmt.Sprintf("Use at most %d characters.", f.max))
		}
	}
	if b.Goal == "" && b.Prompt == "" {
		fe.Add("goal", "Say what the email is for, here or in the request box.")
	}
	if b.Previous != nil && b.Comment == "" {
		fe.Add("comment", "Say what to change.")
	}
	return fe.Err()
}

// Ask records a request for brief b in the actor's workspace wsID (tied
// to contactID when not empty; parentID names the request a revision
// revises) and queues its job, in one transaction.
func (s *Store) Ask(ctx context.Context, actor auth.Actor, wsID, contactID, parentID string, b ai.Brief) (Request, error) {
	if err := check(&b); err != nil {
		return Request{}, err
	}
	now := s.now().UTC()
	r := Request{ID: store.NewID(), UserID: actor.UserID, WorkspaceID: wsID, ContactID: contactID, ParentID: parentID, Brief: b, Status: Queued, CreatedAt: now, UpdatedAt: now}
	brief, err := json.Marshal(b)
	if err != nil {
		return Request{}, fmt.Errorf("encode brief: %w", err)
	}
	err = workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if parentID != "" {
			if _, err := get(conn, actor, wsID, parentID); err != nil {
				return err
			}
		}
		ts := store.FormatTime(now)
		if err := sqlitex.Execute(conn, `INSERT INTO ai_requests (id, user_id, workspace_id, contact_id, parent_id, brief, status, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, &sqlitex.ExecOptions{Args: []any{r.ID, actor.UserID, wsID, contactID, parentID, string(brief), Queued, ts, ts}}); err != nil {
			return fmt.Errorf("insert AI request: %w", err)
		}
		if _, err := jobs.Enqueue(conn, KindName, r.ID, now); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit("ai.request", "ai_request", r.ID, map[string]any{"workspace_id": wsID, "revision_of": parentID}))
	})
	if err != nil {
		return Request{}, err
	}
	return r, nil
}

// Get returns the actor's request id in workspace wsID.
func (s *Store) Get(ctx context.Context, actor auth.Actor, wsID, id string) (Request, error) {
	var r Request
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		r, err = get(conn, actor, wsID, id)
		return err
	})
	return r, err
}

const columns = `id, user_id, workspace_id, contact_id, parent_id, brief, status, detail, result, created_at, updated_at`

func scan(st *sqlite.Stmt) (Request, error) {
	r := Request{ID: st.ColumnText(0), UserID: st.ColumnText(1), WorkspaceID: st.ColumnText(2), ContactID: st.ColumnText(3), ParentID: st.ColumnText(4),
		Status: st.ColumnText(6), Detail: st.ColumnText(7)}
	if err := json.Unmarshal([]byte(st.ColumnText(5)), &r.Brief); err != nil {
		return r, fmt.Errorf("AI request %s: brief: %w", r.ID, err)
	}
	if res := st.ColumnText(8); res != "" {
		r.Draft = &ai.Draft{}
		if err := json.Unmarshal([]byte(res), r.Draft); err != nil {
			return r, fmt.Errorf("AI request %s: result: %w", r.ID, err)
		}
	}
	r.CreatedAt, _ = store.ParseTime(st.ColumnText(9))
	r.UpdatedAt, _ = store.ParseTime(st.ColumnText(10))
	return r, nil
}

// get reads request id of the actor in workspace wsID, or NotFound.
func get(conn *sqlite.Conn, actor auth.Actor, wsID, id string) (Request, error) {
	r, found, err := one(conn, `id = ? AND workspace_id = ? AND user_id = ?`, id, wsID, actor.UserID)
	if err != nil {
		return r, fmt.Errorf("get AI request: %w", err)
	}
	if !found {
		return r, errNotFound
	}
	return r, nil
}

// byID reads request id whoever's it is, for the job that answers it.
func byID(conn *sqlite.Conn, id string) (Request, bool, error) { return one(conn, `id = ?`, id) }

// one reads the request that where (with args) selects.
func one(conn *sqlite.Conn, where string, args ...any) (Request, bool, error) {
	var r Request
	found := false
	err := sqlitex.Execute(conn, `SELECT `+columns+` FROM ai_requests WHERE `+where, &sqlitex.ExecOptions{Args: args, ResultFunc: func(st *sqlite.Stmt) error {
		var err error
		r, err = scan(st)
		found = true
		return err
	}})
	return r, found, err
}

// Call is one recorded call to the model.
type Call struct {
	Model, Endpoint, Prompt, Response, Outcome string
	PromptTokens, CompletionTokens, HTTPStatus int
	Duration                                   time.Duration
	At                                         time.Time
}

// Calls returns the calls made for request id of the actor.
func (s *Store) Calls(ctx context.Context, actor auth.Actor, wsID, id string) ([]Call, error) {
	var out []Call
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if _, err := get(conn, actor, wsID, id); err != nil {
			return err
		}
		return sqlitex.Execute(conn, `SELECT model, endpoint, prompt, response, outcome, prompt_tokens, completion_tokens, http_status, duration_ms, created_at
FROM ai_calls WHERE request_id = ? ORDER BY created_at, id`, &sqlitex.ExecOptions{Args: []any{id}, ResultFunc: func(st *sqlite.Stmt) error {
			c := Call{Model: st.ColumnText(0), Endpoint: st.ColumnText(1), Prompt: st.ColumnText(2), Response: st.ColumnText(3), Outcome: st.ColumnText(4),
				PromptTokens: st.ColumnInt(5), CompletionTokens: st.ColumnInt(6), HTTPStatus: st.ColumnInt(7), Duration: time.Duration(st.ColumnInt64(8)) * time.Millisecond}
			c.At, _ = store.ParseTime(st.ColumnText(9))
			out = append(out, c)
			return nil
		}})
	})
	return out, err
}

// Kind is the job that runs requests with client, for crm-insights.
func Kind(db *store.DB, client *ai.Client, endpoint string) jobs.Kind {
	policy := richtext.NewEmail()
	setState := func(c *jobs.Claim, id, status, detail string) error {
		return db.Write(context.Background(), func(conn *sqlite.Conn) error {
			if err := c.Fence(conn); err != nil {
				return err
			}
			return sqlitex.Execute(conn, `UPDATE ai_requests SET status = ?, detail = ?, updated_at = ? WHERE id = ?`,
				&sqlitex.ExecOptions{Args: []any{status, detail, store.FormatTime(time.Now()), id}})
		})
	}
	return jobs.Kind{
		Name: KindName, MaxAttempts: 5, Concurrency: 1, Lease: 30 * time.Second,
		Backoff: func(n int) time.Duration { return min(2*time.Second<<min(n-1, 6), time.Minute) },
		Run: func(ctx context.Context, c *jobs.Claim) error {
			var r Request
			var found bool
			if err := db.Read(ctx, func(conn *sqlite.Conn) error {
				var err error
				r, found, err = byID(conn, c.Ref)
				return err
			}); err != nil {
				return err
			}
			if !found || r.Ended() {
				return nil // deleted with its workspace, or already answered
			}
			if err := setState(c, r.ID, Running, ""); err != nil {
				return err
			}
			system, user := r.Brief.Messages()
			d, u, err := client.Draft(ctx, r.Brief)
			if ctx.Err() != nil {
				return ctx.Err() // stopping or lost: the next runner asks again
			}
			call := Call{Model: client.Model(), Endpoint: endpoint, Prompt: system + "\n\n" + user, Duration: u.Duration,
				PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, Outcome: "ok"}
			var aerr *ai.Error
			if err != nil {
				call.Outcome = err.Error()
				if errors.As(err, &aerr) {
					call.HTTPStatus = aerr.Status
				}
			} else {
				d.Body = policy.Clean(d.Body)
				d.Subject = oneLine(d.Subject, 200)
				d.Preheader = oneLine(d.Preheader, 200)
				res, _ := json.Marshal(d)
				call.Response = string(res)
			}
			werr := db.Write(context.Background(), func(conn *sqlite.Conn) error {
				if err := c.Fence(conn); err != nil {
					return err
				}
				if err := recordCall(conn, r, call); err != nil {
					return err
				}
				if err != nil {
					return nil
				}
				return sqlitex.Execute(conn, `UPDATE ai_requests SET status = ?, detail = '', result = ?, updated_at = ? WHERE id = ?`,
					&sqlitex.ExecOptions{Args: []any{Done, call.Response, store.FormatTime(time.Now()), r.ID}})
			})
			if werr != nil {
				return werr
			}
			if err == nil {
				return nil
			}
			if aerr == nil || !aerr.Retry {
				return jobs.Permanent(err)
			}
			wait := aerr.RetryAfter
			detail := aerr.Message + " Trying again shortly."
			if wait > 0 {
				detail = fmt.Sprintf("%s Trying again in %s.", aerr.Message, wait.Round(time.Second))
			}
			if serr := setState(c, r.ID, Retrying, detail); serr != nil {
				return serr
			}
			return jobs.RetryAfter(err, wait)
		},
		Failed: func(conn *sqlite.Conn, ref string, err error) error {
			return sqlitex.Execute(conn, `UPDATE ai_requests SET status = ?, detail = ?, updated_at = ? WHERE id = ?`,
				&sqlitex.ExecOptions{Args: []any{Failed, err.Error(), store.FormatTime(time.Now()), ref}})
		},
	}
}

// recordCall writes call, and when the request is tied to a contact, an
// entry in its AI Interactions.
func recordCall(conn *sqlite.Conn, r Request, c Call) error {
	now := time.Now()
	if err := sqlitex.Execute(conn, `INSERT INTO ai_calls (id, request_id, user_id, workspace_id, contact_id, model, endpoint, prompt, response,
prompt_tokens, completion_tokens, duration_ms, outcome, http_status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		&sqlitex.ExecOptions{Args: []any{store.NewID(), r.ID, r.UserID, r.WorkspaceID, r.ContactID, c.Model, c.Endpoint, c.Prompt, c.Response,
			c.PromptTokens, c.CompletionTokens, c.Duration.Milliseconds(), c.Outcome, c.HTTPStatus, store.FormatTime(now)}}); err != nil {
		return fmt.Errorf("record AI call: %w", err)
	}
	if r.ContactID == "" {
		return nil
	}
	summary := "AI draft: " + oneLine(r.Brief.Goal+" "+r.Brief.Prompt, 80)
	if c.Outcome != "ok" {
		summary = "AI draft failed: " + oneLine(c.Outcome, 80)
	}
	return activity.Record(conn, activity.Entry{WorkspaceID: r.WorkspaceID, ContactID: r.ContactID, Kind: activity.AI, OccurredAt: now,
		Summary: summary, ActorUserID: r.UserID}, map[string]any{"prompt": r.Brief.Goal + "\n" + r.Brief.Prompt, "result": c.Response, "model": c.Model,
		"tokens": c.PromptTokens + c.CompletionTokens, "duration_ms": c.Duration.Milliseconds(), "outcome": c.Outcome})
}

// oneLine folds s to one line of at most n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n])
	}
	return s
}
