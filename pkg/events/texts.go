package events

import (
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/sms"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// Inbound records a text that came in to the appliance's number, once by
// its SID: it is logged on every contact with the sender's number (in
// whichever user's workspace: the household shares the number), a STOP
// marks them opted out of texts and a START clears it; a number no
// contact has is kept unmatched; any other text answers the last text we
// sent them. via says who heard it (poll or webhook). It reports whether
// the text was new.
func Inbound(conn *sqlite.Conn, sid, from, to, body, via string, at time.Time) (bool, error) {
	type hit struct{ contact, ws string }
	var hits []hit
	err := sqlitex.Execute(conn, `SELECT p.contact_id, p.workspace_id FROM workspaces w JOIN contact_phones p ON p.workspace_id = w.id AND p.e164 = ?`,
		&sqlitex.ExecOptions{Args: []any{from}, ResultFunc: func(st *sqlite.Stmt) error { hits = append(hits, hit{st.ColumnText(0), st.ColumnText(1)}); return nil }})
	if err != nil {
		return false, fmt.Errorf("inbound text: find contacts: %w", err)
	}
	err = sqlitex.Execute(conn, `INSERT INTO inbound_texts (sid, from_number, to_number, body, received_at, matched, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		&sqlitex.ExecOptions{Args: []any{sid, from, to, body, store.FormatTime(at), len(hits), store.FormatTime(time.Now())}})
	if err != nil {
		return false, fmt.Errorf("inbound text %s: %w", sid, err)
	}
	if conn.Changes() == 0 {
		return false, nil
	}
	kw := sms.KeywordOf(body)
	for _, h := range hits {
		if err := activity.Record(conn, activity.Entry{WorkspaceID: h.ws, ContactID: h.contact, Kind: activity.SMS, OccurredAt: at, Summary: "Text received: " + snippet(body)},
			activity.SMSBody{Text: body, Direction: activity.In}); err != nil {
			return false, err
		}
		switch kw {
		case sms.Stop:
			err = SetFlag(conn, h.ws, h.contact, FlagSMSOptOut, "texted "+body)
		case sms.Start:
			err = ClearFlag(conn, h.ws, h.contact, FlagSMSOptOut, "texted "+body)
		default:
			err = textReply(conn, sid, h.ws, h.contact, from, via, at)
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// textReply records a text from a contact as the reply to the last text
// we sent them in that workspace (texts have no thread: the last one is
// what they answer), so a drip that texted them lets them go.
func textReply(conn *sqlite.Conn, sid, wsID, contactID, from, via string, at time.Time) error {
	ours := ""
	if err := sqlitex.Execute(conn, `SELECT id FROM outbox WHERE contact_id = ? AND workspace_id = ? AND channel = 'sms' AND state = 'sent' AND created_at <= ?
ORDER BY created_at DESC LIMIT 1`, &sqlitex.ExecOptions{Args: []any{contactID, wsID, store.FormatTime(at.Add(time.Second))}, // Twilio dates in whole seconds
		ResultFunc: func(st *sqlite.Stmt) error { ours = st.ColumnText(0); return nil }}); err != nil {
		return fmt.Errorf("text reply: %w", err)
	}
	if ours == "" {
		return nil
	}
	_, err := Record(conn, Event{Provider: "twilio", ID: "reply:" + sid + ":" + contactID, WorkspaceID: wsID, Kind: Replied, OutboxID: ours, Recipient: from, At: at, Via: via})
	return err
}

func snippet(s string) string {
	r := []rune(s)
	if len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return s
}

// SetSMSConfig records which number crm-sender texts from ("" when it has
// no Twilio account), for crm-web to show.
func SetSMSConfig(conn *sqlite.Conn, from string) error {
	if from == "" {
		return sqlitex.Execute(conn, `DELETE FROM sms_config`, nil)
	}
	return sqlitex.Execute(conn, `INSERT INTO sms_config (id, from_number, updated_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET from_number = excluded.from_number, updated_at = excluded.updated_at`,
		&sqlitex.ExecOptions{Args: []any{from, store.FormatTime(time.Now())}})
}

// SMSFrom returns the number crm-sender texts from, or "" when texting is
// not set up.
func SMSFrom(conn *sqlite.Conn) (string, error) {
	from := ""
	err := sqlitex.Execute(conn, `SELECT from_number FROM sms_config WHERE id = 1`, &sqlitex.ExecOptions{
		ResultFunc: func(st *sqlite.Stmt) error { from = st.ColumnText(0); return nil }})
	if err != nil {
		return "", fmt.Errorf("read texting settings: %w", err)
	}
	return from, nil
}

// TextStatus records what Twilio says became of our text sid (delivered,
// undelivered, failed), once a status, heard by via (poll or webhook), on the outbox message Twilio gave
// that SID and its log entry. A SID that is not ours changes nothing. It
// reports whether the status was new.
func TextStatus(conn *sqlite.Conn, sid, status, errorCode, via string, at time.Time) (bool, error) {
	kind := map[string]string{"delivered": Delivered, "undelivered": Undelivered, "failed": Undelivered}[status]
	if kind == "" || sid == "" {
		return false, nil // queued, sent, ...: nothing to tell the user yet
	}
	id, ws := "", ""
	if err := sqlitex.Execute(conn, `SELECT id, workspace_id FROM outbox WHERE provider_ref = ? AND channel = 'sms'`, &sqlitex.ExecOptions{Args: []any{sid},
		ResultFunc: func(st *sqlite.Stmt) error { id, ws = st.ColumnText(0), st.ColumnText(1); return nil }}); err != nil {
		return false, fmt.Errorf("text status %s: %w", sid, err)
	}
	if id == "" {
		return false, nil
	}
	detail := ""
	if errorCode != "" && errorCode != "0" {
		detail = "Twilio error " + errorCode
	}
	return Record(conn, Event{Provider: "twilio", ID: sid + ":" + status, WorkspaceID: ws, Kind: kind, OutboxID: id, At: at, Via: via, Detail: detail})
}
