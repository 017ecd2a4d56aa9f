package events

import (
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// InboundEmail is an email that came in to a workspace's mailbox, as the
// attention list shows it.
type InboundEmail struct {
	Provider, ID string
	From         string
	Subject      string
	Snippet      string
	ContactID    string // "" when no contact has the address
	ContactName  string
	Reply        bool // it answers a message of ours
	At           time.Time
}

// OpenEmails returns workspace wsID's inbound emails not yet marked done,
// newest first, at most n, inside the caller's transaction (the caller
// has checked the workspace).
func OpenEmails(conn *sqlite.Conn, wsID string, n int) ([]InboundEmail, error) {
	var out []InboundEmail
	err := sqlitex.Execute(conn, `SELECT e.provider, e.provider_id, e.from_email, e.subject, e.snippet, e.contact_id,
	coalesce(trim(c.first_name || ' ' || c.last_name), ''), e.outbox_id <> '', e.received_at
FROM inbound_emails e LEFT JOIN contacts c ON c.id = e.contact_id AND c.workspace_id = e.workspace_id
WHERE e.workspace_id = ? AND e.done_at = '' ORDER BY e.received_at DESC LIMIT ?`, &sqlitex.ExecOptions{Args: []any{wsID, n},
		ResultFunc: func(st *sqlite.Stmt) error {
			at, _ := store.ParseTime(st.ColumnText(8))
			out = append(out, InboundEmail{Provider: st.ColumnText(0), ID: st.ColumnText(1), From: st.ColumnText(2), Subject: st.ColumnText(3), Snippet: st.ColumnText(4),
				ContactID: st.ColumnText(5), ContactName: st.ColumnText(6), Reply: st.ColumnBool(7), At: at})
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("read inbound emails: %w", err)
	}
	return out, nil
}

// EmailDone marks workspace wsID's inbound email done and reports whether
// there was one to mark.
func EmailDone(conn *sqlite.Conn, wsID, provider, id string, now time.Time) (bool, error) {
	err := sqlitex.Execute(conn, `UPDATE inbound_emails SET done_at = ? WHERE workspace_id = ? AND provider = ? AND provider_id = ? AND done_at = ''`,
		&sqlitex.ExecOptions{Args: []any{store.FormatTime(now), wsID, provider, id}})
	if err != nil {
		return false, fmt.Errorf("mark email done: %w", err)
	}
	return conn.Changes() == 1, nil
}

// UnknownText is a text from a number no contact has.
type UnknownText struct {
	SID, From, Body string
	At              time.Time
}

// OpenUnknownTexts returns the texts from numbers no contact has, not yet
// marked done, newest first, at most n. They belong to the appliance's
// number, not to a workspace.
func OpenUnknownTexts(conn *sqlite.Conn, n int) ([]UnknownText, error) {
	var out []UnknownText
	err := sqlitex.Execute(conn, `SELECT sid, from_number, body, received_at FROM inbound_texts WHERE matched = 0 AND done_at = '' ORDER BY received_at DESC LIMIT ?`,
		&sqlitex.ExecOptions{Args: []any{n}, ResultFunc: func(st *sqlite.Stmt) error {
			at, _ := store.ParseTime(st.ColumnText(3))
			out = append(out, UnknownText{SID: st.ColumnText(0), From: st.ColumnText(1), Body: st.ColumnText(2), At: at})
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("read unknown texts: %w", err)
	}
	return out, nil
}

// TextDone marks an unmatched text done and reports whether there was one.
func TextDone(conn *sqlite.Conn, sid string, now time.Time) (bool, error) {
	err := sqlitex.Execute(conn, `UPDATE inbound_texts SET done_at = ? WHERE sid = ? AND matched = 0 AND done_at = ''`,
		&sqlitex.ExecOptions{Args: []any{store.FormatTime(now), sid}})
	if err != nil {
		return false, fmt.Errorf("mark text done: %w", err)
	}
	return conn.Changes() == 1, nil
}
