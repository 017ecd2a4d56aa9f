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

// Replied is the event a reply to one of our messages records on it.
const Replied = "replied"

// UnsubscribeSubject starts the subject of the email a List-Unsubscribe
// mailto of ours sends ("unsubscribe <outbox id>").
const UnsubscribeSubject = "unsubscribe"

// Email is one email that came in to a workspace's mailbox.
type Email struct {
	Provider    string
	ID          string // the provider's id of the message
	WorkspaceID string
	From        string // the sender's address
	FromName    string
	Subject     string
	Snippet     string
	MessageID   string
	InReplyTo   string
	References  []string
	At          time.Time
}

// Incoming records email e once, inside the caller's write transaction.
// It is matched to the message of ours it answers (In-Reply-To, then
// References, in e's workspace only) and that message's contact, else to
// the workspace's contacts with the sender's address; it is logged on
// each as an email received, and a reply to our message is a replied event
// on it (a campaign's figures, a drip's exit). An email no contact matches
// is kept for the attention list. It reports whether e was new.
func Incoming(conn *sqlite.Conn, e Email) (bool, error) {
	if e.Provider == "" || e.ID == "" || e.WorkspaceID == "" {
		return false, fmt.Errorf("record email: a provider, an id and a workspace are needed")
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.From = strings.ToLower(strings.TrimSpace(e.From))
	var ours outbox.Message
	found := false
	unsub := false
	// A List-Unsubscribe mailto of ours: its subject names the message.
	if f := strings.Fields(e.Subject); len(f) == 2 && strings.EqualFold(f[0], UnsubscribeSubject) {
		m, ok, err := outbox.Get(conn, f[1])
		if err != nil {
			return false, err
		}
		if ok && m.WorkspaceID == e.WorkspaceID && m.Bulk {
			ours, found, unsub = m, true, true
		}
	}
	for _, ref := range append([]string{e.InReplyTo}, reverse(e.References)...) {
		ref = strings.Trim(strings.TrimSpace(ref), "<>")
		if ref == "" || found {
			continue
		}
		m, ok, err := outbox.ByMessageID(conn, ref)
		if err != nil {
			return false, err
		}
		if ok && m.WorkspaceID == e.WorkspaceID {
			ours, found = m, true
			break
		}
	}
	var contacts []string
	if found && ours.ContactID != "" {
		contacts = []string{ours.ContactID}
	} else if e.From != "" {
		if err := sqlitex.Execute(conn, `SELECT DISTINCT contact_id FROM contact_emails WHERE workspace_id = ? AND address_norm = ?`,
			&sqlitex.ExecOptions{Args: []any{e.WorkspaceID, e.From}, ResultFunc: func(st *sqlite.Stmt) error {
				contacts = append(contacts, st.ColumnText(0))
				return nil
			}}); err != nil {
			return false, fmt.Errorf("match email from %s: %w", e.From, err)
		}
	}
	first := ""
	if len(contacts) > 0 {
		first = contacts[0]
	}
	err := sqlitex.Execute(conn, `INSERT INTO inbound_emails (provider, provider_id, workspace_id, from_email, subject, snippet, message_id, in_reply_to, contact_id, outbox_id, received_at, recorded_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, &sqlitex.ExecOptions{Args: []any{e.Provider, e.ID, e.WorkspaceID, e.From, e.Subject,
		snippet(e.Snippet), strings.Trim(e.MessageID, "<> "), strings.Trim(e.InReplyTo, "<> "), first, ours.ID, store.FormatTime(e.At), store.FormatTime(time.Now())}})
	if err != nil {
		return false, fmt.Errorf("record email %s: %w", e.ID, err)
	}
	if conn.Changes() == 0 {
		return false, nil
	}
	summary := "Email received: " + e.Subject
	switch {
	case unsub:
		summary = "Asked by email to unsubscribe"
	case found:
		summary = "Replied: " + e.Subject
	}
	for _, c := range contacts {
		if err := activity.Record(conn, activity.Entry{WorkspaceID: e.WorkspaceID, ContactID: c, Kind: activity.Email, OccurredAt: e.At, Summary: summary},
			activity.EmailBody{Subject: e.Subject, Text: e.Snippet, Direction: activity.In}); err != nil {
			return false, err
		}
	}
	switch {
	case unsub:
		// Recorded as the provider's unsubscribes are: the contact's flag
		// for the workspace, logged.
		if _, err := Record(conn, Event{Provider: e.Provider, ID: "unsubscribe:" + e.ID, WorkspaceID: e.WorkspaceID, Kind: Unsubscribed, OutboxID: ours.ID,
			MessageID: ours.MessageID, Recipient: e.From, At: e.At, Via: "poll", Detail: "by email (List-Unsubscribe)"}); err != nil {
			return false, err
		}
	case found:
		if _, err := Record(conn, Event{Provider: e.Provider, ID: "reply:" + e.ID, WorkspaceID: e.WorkspaceID, Kind: Replied, OutboxID: ours.ID,
			MessageID: ours.MessageID, Recipient: e.From, At: e.At, Via: "poll"}); err != nil {
			return false, err
		}
	}
	return true, nil
}

// reverse returns refs last first: the nearest message a reply answers
// is the last of its References.
func reverse(refs []string) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[len(refs)-1-i] = r
	}
	return out
}
