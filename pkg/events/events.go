// Package events records what providers say about the messages pi-crm
// sent — delivered, bounced, complained, unsubscribed — each event once,
// whether it arrived by polling (crm-sender asks; the Pi exposes no port)
// or by a signed webhook (for an owner who exposes one), and applies it: the
// outbox row's delivery, the contact's log, and on a hard bounce, a
// complaint or an unsubscribe the contact's flag for the workspace, which
// keeps every later send from them.
package events

import (
	"fmt"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// Kinds of event.
const (
	Delivered    = "delivered"
	Undelivered  = "undelivered" // a text the carrier did not deliver
	Bounced      = "bounced"     // permanent: the address does not take mail
	Deferred     = "deferred"
	Complained   = "complained"
	Unsubscribed = "unsubscribed"
	Opened       = "opened"
	Clicked      = "clicked"
)

// Flags a contact can carry.
const (
	FlagUnsubscribed = "email_unsubscribed"
	FlagBounced      = "email_bounced"
	FlagComplained   = "email_complained"
	FlagSMSOptOut    = "sms_opt_out"
)

// Event is one thing a provider said.
type Event struct {
	Provider    string
	ID          string // the provider's id of the event
	WorkspaceID string
	Kind        string
	MessageID   string // our Message-ID, without angle brackets
	OutboxID    string // our variable, where the provider keeps one
	Recipient   string
	At          time.Time
	Via         string // poll or webhook
	Detail      string
}

// flagOf is the flag an event puts on its contact.
var flagOf = map[string]string{Bounced: FlagBounced, Complained: FlagComplained, Unsubscribed: FlagUnsubscribed}

// Record stores e once inside the caller's write transaction and applies
// it; an event already recorded (by the other path, or an earlier poll)
// changes nothing and Record reports false.
func Record(conn *sqlite.Conn, e Event) (bool, error) {
	if e.Provider == "" || e.ID == "" || e.WorkspaceID == "" {
		return false, fmt.Errorf("record event: a provider, an event id and a workspace are needed")
	}
	e.MessageID = strings.Trim(e.MessageID, "<> ")
	if e.At.IsZero() {
		e.At = time.Now()
	}
	// Our message: by our variable, else by our Message-ID, in this workspace only.
	var m outbox.Message
	var found bool
	var err error
	if e.OutboxID != "" {
		m, found, err = outbox.Get(conn, e.OutboxID)
	}
	if err == nil && !found && e.MessageID != "" {
		m, found, err = outbox.ByMessageID(conn, e.MessageID)
	}
	if err != nil {
		return false, err
	}
	if found && m.WorkspaceID != e.WorkspaceID {
		found = false // another workspace's message: never touched from here
	}
	outboxID := ""
	if found {
		outboxID = m.ID
	}
	err = sqlitex.Execute(conn, `INSERT INTO provider_events (provider, event_id, workspace_id, kind, message_id, outbox_id, recipient, occurred_at, via, detail, recorded_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, &sqlitex.ExecOptions{Args: []any{e.Provider, e.ID, e.WorkspaceID, e.Kind, e.MessageID, outboxID,
		strings.ToLower(e.Recipient), store.FormatTime(e.At), e.Via, e.Detail, store.FormatTime(time.Now())}})
	if err != nil {
		return false, fmt.Errorf("record event %s: %w", e.ID, err)
	}
	if conn.Changes() == 0 {
		return false, nil
	}
	if !found {
		return true, nil
	}
	if err := countForCampaign(conn, m, e.Kind); err != nil {
		return false, err
	}
	if e.Kind != Opened && e.Kind != Clicked {
		if err := outbox.SetDelivery(conn, m.ID, e.Kind); err != nil {
			return false, err
		}
	}
	flag, ok := flagOf[e.Kind]
	if !ok || m.ContactID == "" {
		return true, nil
	}
	if err := SetFlag(conn, m.WorkspaceID, m.ContactID, flag, e.Kind+" ("+e.Provider+"): "+e.Recipient+detailSuffix(e.Detail)); err != nil {
		return false, err
	}
	return true, nil
}

// countForCampaign counts an event just recorded on campaign message m in
// its campaign's figures, once per message and kind.
func countForCampaign(conn *sqlite.Conn, m outbox.Message, kind string) error {
	if m.CampaignID == "" {
		return nil
	}
	n := 0
	if err := sqlitex.Execute(conn, `SELECT count(*) FROM provider_events WHERE outbox_id = ? AND outbox_id <> '' AND kind = ?`, &sqlitex.ExecOptions{Args: []any{m.ID, kind},
		ResultFunc: func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }}); err != nil {
		return fmt.Errorf("campaign figures: %w", err)
	}
	if n != 1 {
		return nil // the message had one of these already
	}
	if err := sqlitex.Execute(conn, `INSERT INTO campaign_events (campaign_id, kind, messages) VALUES (?, ?, 1)
ON CONFLICT (campaign_id, kind) DO UPDATE SET messages = messages + 1`, &sqlitex.ExecOptions{Args: []any{m.CampaignID, kind}}); err != nil {
		return fmt.Errorf("campaign figures: %w", err)
	}
	return nil
}

func detailSuffix(d string) string {
	if d == "" {
		return ""
	}
	return ", " + d
}

// SetFlag puts flag on contact id of workspace wsID (once) and logs it on
// the contact.
func SetFlag(conn *sqlite.Conn, wsID, id, flag, reason string) error {
	err := sqlitex.Execute(conn, `INSERT INTO contact_flags (contact_id, flag, workspace_id, reason, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		&sqlitex.ExecOptions{Args: []any{id, flag, wsID, reason, store.FormatTime(time.Now())}})
	if err != nil {
		return fmt.Errorf("flag contact: %w", err)
	}
	if conn.Changes() == 0 {
		return nil
	}
	return activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: activity.System, Summary: flagSummary[flag] + ": " + reason},
		activity.SystemBody{Event: flag, Details: map[string]any{"reason": reason}})
}

// ClearFlag takes flag off contact id (a START after a STOP).
func ClearFlag(conn *sqlite.Conn, wsID, id, flag, reason string) error {
	err := sqlitex.Execute(conn, `DELETE FROM contact_flags WHERE contact_id = ? AND flag = ? AND workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{id, flag, wsID}})
	if err != nil {
		return fmt.Errorf("unflag contact: %w", err)
	}
	if conn.Changes() == 0 {
		return nil
	}
	return activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: activity.System, Summary: "Cleared: " + flagSummary[flag] + " (" + reason + ")"},
		activity.SystemBody{Event: flag + "_cleared", Details: map[string]any{"reason": reason}})
}

var flagSummary = map[string]string{FlagUnsubscribed: "Unsubscribed from email", FlagBounced: "Email bounced: no more email to this contact",
	FlagComplained: "Marked an email as spam: no more email to this contact", FlagSMSOptOut: "Opted out of texts"}

// Flags returns contact id's flags, inside the caller's transaction.
func Flags(conn *sqlite.Conn, id string) (map[string]string, error) {
	out := map[string]string{}
	err := sqlitex.Execute(conn, `SELECT flag, reason FROM contact_flags WHERE contact_id = ?`, &sqlitex.ExecOptions{Args: []any{id},
		ResultFunc: func(st *sqlite.Stmt) error { out[st.ColumnText(0)] = st.ColumnText(1); return nil }})
	if err != nil {
		return nil, fmt.Errorf("read contact flags: %w", err)
	}
	return out, nil
}

// Cursor returns where poller source of workspace wsID stands ("" at
// first).
func Cursor(conn *sqlite.Conn, wsID, source string) (string, error) {
	c := ""
	err := sqlitex.Execute(conn, `SELECT cursor FROM poll_cursors WHERE workspace_id = ? AND source = ?`, &sqlitex.ExecOptions{Args: []any{wsID, source},
		ResultFunc: func(st *sqlite.Stmt) error { c = st.ColumnText(0); return nil }})
	if err != nil {
		return "", fmt.Errorf("read cursor: %w", err)
	}
	return c, nil
}

// SetCursor moves poller source of workspace wsID to cursor.
func SetCursor(conn *sqlite.Conn, wsID, source, cursor string) error {
	err := sqlitex.Execute(conn, `INSERT INTO poll_cursors (workspace_id, source, cursor, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (workspace_id, source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
		&sqlitex.ExecOptions{Args: []any{wsID, source, cursor, store.FormatTime(time.Now())}})
	if err != nil {
		return fmt.Errorf("move cursor: %w", err)
	}
	return nil
}

// SeenToken records a webhook's token and reports whether it had been seen
// (a replay); tokens older than a day are forgotten.
func SeenToken(conn *sqlite.Conn, token string, now time.Time) (bool, error) {
	if err := sqlitex.Execute(conn, `DELETE FROM webhook_tokens WHERE seen_at < ?`, &sqlitex.ExecOptions{Args: []any{store.FormatTime(now.Add(-24 * time.Hour))}}); err != nil {
		return false, fmt.Errorf("prune webhook tokens: %w", err)
	}
	if err := sqlitex.Execute(conn, `INSERT INTO webhook_tokens (token, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		&sqlitex.ExecOptions{Args: []any{token, store.FormatTime(now)}}); err != nil {
		return false, fmt.Errorf("record webhook token: %w", err)
	}
	return conn.Changes() == 0, nil
}
