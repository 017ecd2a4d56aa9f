// Package activity owns a contact's communication log: emails, texts and
// calls, AI interactions, stage and tag changes, notes and manual entries,
// and system events. Entries are written by the capability that caused them,
// in the same transaction as the change (Record), and read newest first,
// by tab, with a cursor.
//
// Each kind's body is typed JSON:
//
//	call   {"duration_seconds": 300, "notes": "text"}
//	note   {"html": "<p>sanitized rich text</p>"}
//	stage  {"from": "Prospects", "to": "Applications"}
//	tag    {"tag": "VIP", "added": true}
//	field  {"field": "file_notes", "from": "...", "to": "..."}
//	email  {"subject": "...", "text": "...", "campaign_id": "...", "direction": "out"}
//	sms    {"text": "...", "direction": "out"}
//	ai     {"prompt": "...", "result": "..."}
//	system {"event": "merged" | "created" | "copied" | "shared", ...}
package activity

import (
	"encoding/json"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// Kind is the type of a log entry.
type Kind string

// The kinds of log entry.
const (
	Email  Kind = "email"
	SMS    Kind = "sms"
	Call   Kind = "call"
	AI     Kind = "ai"
	Stage  Kind = "stage"
	Tag    Kind = "tag"
	Note   Kind = "note"
	Field  Kind = "field"
	System Kind = "system"
)

// Tab is one of the log's views on the details page.
type Tab struct {
	Key   string
	Label string
	Kinds []Kind // nil: every kind
}

// Tabs are the log's views, in the order the page shows them.
var Tabs = []Tab{
	{"all", "All Activity", nil},
	{"emails", "Emails", []Kind{Email}},
	{"texts", "Texts", []Kind{SMS}},
	{"calls", "Phone Calls", []Kind{Call}},
	{"ai", "AI Interactions", []Kind{AI}},
	{"lists", "Stage & List Changes", []Kind{Stage, Tag}},
	{"notes", "Notes & Manual Entries", []Kind{Note, Field}},
	{"other", "Other / System", []Kind{System}},
}

// TabByKey returns the tab named key, or All.
func TabByKey(key string) Tab {
	for _, t := range Tabs {
		if t.Key == key {
			return t
		}
	}
	return Tabs[0]
}

// touchesContact lists the kinds that move a contact's last-contact time.
var touchesContact = map[Kind]bool{Email: true, SMS: true, Call: true}

// Entry is one log entry.
type Entry struct {
	ID          string
	WorkspaceID string
	ContactID   string
	Kind        Kind
	OccurredAt  time.Time
	Summary     string          // one line, shown collapsed
	Body        json.RawMessage // typed by Kind, see the package doc
	ActorUserID string
	// Bulk marks a campaign's email or text: logged like any other, but
	// not a personal touch, so the contact's last-contact time stays (a
	// holiday blast must not make every contact look recently reached;
	// "last campaign" is its own filter, read from the outbox).
	Bulk bool
}

// Record writes e inside the caller's transaction, filling the ID (unless
// the caller chose one) and the time, and moves the contact's last-contact
// time forward for emails, texts and calls that are not a campaign's.
func Record(conn *sqlite.Conn, e Entry, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("log %s: encode: %w", e.Kind, err)
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now()
	}
	var actor any
	if e.ActorUserID != "" {
		actor = e.ActorUserID
	}
	at := store.FormatTime(e.OccurredAt)
	if e.ID == "" {
		e.ID = store.NewID()
	}
	if err := sqlitex.Execute(conn, `INSERT INTO activities (id, workspace_id, contact_id, kind, occurred_at, summary, body, actor_user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		&sqlitex.ExecOptions{Args: []any{e.ID, e.WorkspaceID, e.ContactID, string(e.Kind), at, e.Summary, string(b), actor}}); err != nil {
		return fmt.Errorf("log %s: %w", e.Kind, err)
	}
	if touchesContact[e.Kind] && !e.Bulk {
		if err := sqlitex.Execute(conn, `UPDATE contacts SET last_contact_at = max(coalesce(last_contact_at, ''), ?) WHERE id = ?`,
			&sqlitex.ExecOptions{Args: []any{at, e.ContactID}}); err != nil {
			return fmt.Errorf("log %s: last contact: %w", e.Kind, err)
		}
	}
	return nil
}

// CallBody is a call's body.
type CallBody struct {
	DurationSeconds int    `json:"duration_seconds"`
	Notes           string `json:"notes"`
}

// NoteBody is a note's body: rich text, sanitized on the way in.
type NoteBody struct {
	HTML string `json:"html"`
}

// StageBody records a move between stages.
type StageBody struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// TagBody records a tag added or removed.
type TagBody struct {
	Tag   string `json:"tag"`
	Added bool   `json:"added"`
}

// FieldBody records a change to a logged field.
type FieldBody struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// Directions of an email or a text.
const (
	Out = "out"
	In  = "in"
)

// EmailBody is an email's body: its subject and plain text, which way it
// went and the campaign that sent it, if any.
type EmailBody struct {
	Subject    string `json:"subject"`
	Text       string `json:"text,omitempty"`
	CampaignID string `json:"campaign_id,omitempty"`
	Direction  string `json:"direction"`
	// A message the appliance sent: its outbox row and where it stands
	// (queued, sent, retrying, failed, unknown), kept current by the outbox.
	OutboxID string `json:"outbox_id,omitempty"`
	Status   string `json:"status,omitempty"`
	Error    string `json:"error,omitempty"`
	HTML     string `json:"html,omitempty"`
	To       string `json:"to,omitempty"`
	// Delivery is the provider's last word on it once it went (delivered,
	// bounced, deferred, complained, unsubscribed), kept by the events.
	Delivery string `json:"delivery,omitempty"`
}

// SMSBody is a text message's body.
type SMSBody struct {
	Text      string `json:"text"`
	Direction string `json:"direction"`
	// A text the appliance sent: its outbox row and where it stands.
	OutboxID string `json:"outbox_id,omitempty"`
	Status   string `json:"status,omitempty"`
	Error    string `json:"error,omitempty"`
	To       string `json:"to,omitempty"`
	// Delivery is the carrier's last word on it once it went (delivered,
	// undelivered), kept by the events.
	Delivery string `json:"delivery,omitempty"`
}

// SystemBody records a system event.
type SystemBody struct {
	Event   string         `json:"event"`
	Details map[string]any `json:"details,omitempty"`
}
