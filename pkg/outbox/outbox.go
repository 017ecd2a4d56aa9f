// Package outbox owns every message pi-crm sends: one row per message, made
// by whoever wants it sent (crm-web for a one-off, campaigns next) and
// carried through its states by crm-sender alone.
//
// A row is queued; a sender claims it in a transaction that commits before
// the provider is called (a fresh attempt id and a lease); the answer is
// recorded fenced on that attempt id: sent, retrying (a later due time),
// failed, or unknown when the provider may have taken it without saying so
// (a timeout after the request went out). A claim whose lease runs out
// becomes unknown too: its sender died between the claim and the answer.
// Unknown rows are reconciled with the provider, by our own Message-ID,
// before anything is sent again; what the provider cannot confirm either
// way waits for the user to resend or drop. The dedupe key (UNIQUE) makes a
// second enqueue of the same message a no-op, so nothing is sent twice and
// nothing is lost silently.
package outbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// State is where a message stands.
type State string

// The states of a message.
const (
	Queued   State = "queued"
	Claimed  State = "claimed"
	Sent     State = "sent"
	Retrying State = "retrying"
	Failed   State = "failed"
	Unknown  State = "unknown"
	Dropped  State = "dropped"
)

// Channels.
const (
	Email = "email"
	SMS   = "sms"
)

// Message is one outbox row.
type Message struct {
	ID          string
	WorkspaceID string
	UserID      string
	ContactID   string
	Channel     string
	DedupeKey   string
	MessageID   string // our Message-ID, without angle brackets
	Provider    string // the provider kind when it was queued
	To          string
	From        string
	FromName    string
	TemplateID  string
	ActivityID  string // the contact's log entry that shows where it stands
	Subject     string
	HTML        string
	Text        string
	// LayoutID, when set, names the stored layout (SaveLayout) whose
	// placeholders Fill's values fill to make HTML and Text, which are then
	// empty: a campaign's messages share one.
	LayoutID    string
	Fill        map[string]string
	State       State
	AttemptID   string
	Attempts    int
	DueAt       time.Time
	ClaimedAt   time.Time
	ProviderRef string // the provider's id for it
	Error       string
	CreatedAt   time.Time
	SentAt      time.Time
	// Bulk is a campaign's mail: it carries a List-Unsubscribe.
	Bulk bool
	// CampaignID is the campaign it is of, if any.
	CampaignID string
	// Delivery is the provider's last word on it once it was sent
	// (delivered, bounced...; SetDelivery), "" before.
	Delivery string
	// row is the outbox row's rowid, when it was read from the outbox:
	// claim and outcome find the row by it, without a search of the index
	// of ids.
	row int64
}

// Outcome starts the outcome of m's attempt, for the sender to say what
// became of it.
func (m *Message) Outcome() Outcome {
	return Outcome{ID: m.ID, AttemptID: m.AttemptID, Campaign: m.CampaignID, Logged: m.ActivityID != "", row: m.row}
}

// NewMessageID returns a Message-ID for a message from domain: a UUIDv7
// (random enough to name this message at the provider and nowhere else),
// whose time first keeps the outbox's index of Message-IDs growing at its
// end, not split all over as a blast of random ones did.
func NewMessageID(domain string) string {
	if domain == "" {
		domain = "pi-crm.invalid"
	}
	return strings.ReplaceAll(store.NewID(), "-", "") + "@" + domain
}

// DomainOf returns the domain of an email address, or "".
func DomainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(strings.Trim(addr[i+1:], "> "))
	}
	return ""
}

// Enqueue adds m inside the caller's transaction and returns its id. A
// message whose dedupe key is already in the outbox is not added again:
// Enqueue returns the first one's id and false.
func Enqueue(conn *sqlite.Conn, m Message, now time.Time) (string, bool, error) {
	var b Batch
	id, created, err := b.Enqueue(conn, m, now)
	if err != nil {
		return "", false, err
	}
	return id, created, b.Flush(conn)
}

// Layout is a stored layout: HTML and text with placeholders unfilled,
// read with the custom-field keys Custom (comma-separated).
type Layout struct {
	ID, HTML, Text, Custom string
}

// SaveLayout stores layout l, its ID a digest of the rest, for workspace
// wsID's messages, once, inside the caller's transaction, and returns the
// id they name it by: a digest of the workspace and l.ID, so a layout is
// one workspace's, deleted with it.
func SaveLayout(conn *sqlite.Conn, wsID string, l Layout, now time.Time) (string, error) {
	sum := sha256.Sum256([]byte(wsID + "\x00" + l.ID))
	id := hex.EncodeToString(sum[:16])
	if err := sqlitex.Execute(conn, `INSERT INTO outbox_layouts (id, workspace_id, html, text, custom, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		&sqlitex.ExecOptions{Args: []any{id, wsID, l.HTML, l.Text, l.Custom, store.FormatTime(now)}}); err != nil {
		return "", fmt.Errorf("save layout: %w", err)
	}
	return id, nil
}

// LayoutIn returns stored layout id.
func LayoutIn(conn *sqlite.Conn, id string) (Layout, error) {
	l := Layout{ID: id}
	found := false
	err := sqlitex.Execute(conn, `SELECT html, text, custom FROM outbox_layouts WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{id},
		ResultFunc: func(st *sqlite.Stmt) error {
			l.HTML, l.Text, l.Custom, found = st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), true
			return nil
		}})
	if err != nil {
		return l, fmt.Errorf("read layout %s: %w", id, err)
	}
	if !found {
		return l, fmt.Errorf("read layout %s: not stored", id)
	}
	return l, nil
}

// CampaignMailSince is the SQL condition that contact c (the query's
// alias) got campaign mail since its one argument, a time: what keeps a
// contact a campaign reached out of the suggestions to reach them.
const CampaignMailSince = `EXISTS (SELECT 1 FROM outbox o WHERE o.contact_id = c.id AND o.bulk = 1 AND o.created_at >= ?)`

// Has reports whether a message with dedupe key key is in the outbox,
// inside the caller's transaction.
func Has(conn *sqlite.Conn, key string) (bool, error) {
	ok, err := store.Exists(conn, `SELECT 1 FROM outbox WHERE dedupe_key = ?`, key)
	if err != nil {
		return false, fmt.Errorf("look for %s: %w", key, err)
	}
	return ok, nil
}

// Batch queues many messages in the caller's transaction, a campaign's,
// and adds them to their campaigns' figures once, at Flush, which must
// come before the transaction commits.
type Batch struct{ moves tally }

// Enqueue adds m as the package's Enqueue does, its campaign figure kept
// for Flush.
func (b *Batch) Enqueue(conn *sqlite.Conn, m Message, now time.Time) (string, bool, error) {
	if m.DedupeKey == "" || m.To == "" || m.WorkspaceID == "" || m.UserID == "" {
		return "", false, fmt.Errorf("enqueue: a message needs a dedupe key, a workspace, a user and a recipient")
	}
	if m.ID == "" {
		m.ID = store.NewID()
	}
	if m.Channel == "" {
		m.Channel = Email
	}
	if m.MessageID == "" {
		m.MessageID = NewMessageID(DomainOf(m.From))
	}
	due := m.DueAt
	if due.IsZero() {
		due = now
	}
	nowS := store.FormatTime(now)
	err := sqlitex.Execute(conn, `INSERT INTO outbox (id, workspace_id, user_id, contact_id, channel, dedupe_key, message_id, provider, to_addr, from_addr, from_name,
	template_id, activity_id, subject, state, due_at, created_at, updated_at, bulk, campaign_id)
VALUES (?, ?, ?, nullif(?, ''), ?, ?, ?, ?, ?, ?, ?, nullif(?, ''), nullif(?, ''), ?, 'queued', ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
		&sqlitex.ExecOptions{Args: []any{m.ID, m.WorkspaceID, m.UserID, m.ContactID, m.Channel, m.DedupeKey, m.MessageID, m.Provider, m.To, m.From, m.FromName,
			m.TemplateID, m.ActivityID, m.Subject, store.FormatTime(due), nowS, nowS, m.Bulk, m.CampaignID}})
	if err != nil {
		return "", false, fmt.Errorf("enqueue %s: %w", m.DedupeKey, err)
	}
	if conn.Changes() == 1 {
		switch {
		case m.LayoutID != "":
			fill, err := json.Marshal(m.Fill)
			if err != nil {
				return "", false, fmt.Errorf("enqueue %s: values: %w", m.DedupeKey, err)
			}
			if err := sqlitex.Execute(conn, `INSERT INTO outbox_bodies (outbox_id, layout_id, fill) VALUES (?, ?, ?)`,
				&sqlitex.ExecOptions{Args: []any{m.ID, m.LayoutID, string(fill)}}); err != nil {
				return "", false, fmt.Errorf("enqueue %s: body: %w", m.DedupeKey, err)
			}
		case m.HTML != "" || m.Text != "":
			if err := sqlitex.Execute(conn, `INSERT INTO outbox_bodies (outbox_id, html, text) VALUES (?, ?, ?)`,
				&sqlitex.ExecOptions{Args: []any{m.ID, m.HTML, m.Text}}); err != nil {
				return "", false, fmt.Errorf("enqueue %s: body: %w", m.DedupeKey, err)
			}
		}
		if b.moves == nil {
			b.moves = tally{}
		}
		b.moves.move(m.CampaignID, "", Queued)
		return m.ID, true, nil
	}
	id := ""
	err = sqlitex.Execute(conn, `SELECT id FROM outbox WHERE dedupe_key = ?`, &sqlitex.ExecOptions{Args: []any{m.DedupeKey},
		ResultFunc: func(st *sqlite.Stmt) error { id = st.ColumnText(0); return nil }})
	if err != nil {
		return "", false, fmt.Errorf("enqueue %s: %w", m.DedupeKey, err)
	}
	return id, false, nil
}

const columns = `id, workspace_id, user_id, coalesce(contact_id, ''), channel, dedupe_key, message_id, provider, to_addr, from_addr, from_name,
	coalesce(template_id, ''), subject, coalesce(b.html, ''), coalesce(b.text, ''), state, attempt_id, attempts, due_at, claimed_at, provider_ref, error, created_at, sent_at,
	coalesce(activity_id, ''), bulk, campaign_id, coalesce(b.layout_id, ''), coalesce(b.fill, ''), outbox.rowid, delivery`

func scan(st *sqlite.Stmt) Message {
	t := func(i int) time.Time {
		s := st.ColumnText(i)
		if s == "" {
			return time.Time{} // not yet: no error to make and throw away
		}
		v, _ := store.ParseTime(s)
		return v
	}
	m := Message{ID: st.ColumnText(0), WorkspaceID: st.ColumnText(1), UserID: st.ColumnText(2), ContactID: st.ColumnText(3), Channel: st.ColumnText(4),
		DedupeKey: st.ColumnText(5), MessageID: st.ColumnText(6), Provider: st.ColumnText(7), To: st.ColumnText(8), From: st.ColumnText(9), FromName: st.ColumnText(10),
		TemplateID: st.ColumnText(11), Subject: st.ColumnText(12), HTML: st.ColumnText(13), Text: st.ColumnText(14), State: State(st.ColumnText(15)),
		AttemptID: st.ColumnText(16), Attempts: st.ColumnInt(17), DueAt: t(18), ClaimedAt: t(19), ProviderRef: st.ColumnText(20), Error: st.ColumnText(21),
		CreatedAt: t(22), SentAt: t(23), ActivityID: st.ColumnText(24), Bulk: st.ColumnBool(25), CampaignID: st.ColumnText(26), LayoutID: st.ColumnText(27),
		row: st.ColumnInt64(29), Delivery: st.ColumnText(30)}
	if raw := st.ColumnText(28); raw != "" && m.LayoutID != "" {
		// Into a variable of its own: &m.Fill would move every Message
		// scanned to the heap (450 bytes of garbage a message sent).
		var fill map[string]string
		_ = json.Unmarshal([]byte(raw), &fill) // written by Enqueue from a map: it reads back
		m.Fill = fill
	}
	return m
}

func list(conn *sqlite.Conn, q string, args ...any) ([]Message, error) {
	return listInto(conn, nil, q, args...)
}

// listInto is list appending to out, which a caller that knows how many
// rows may come makes with room for them (a claim's 200 messages grown
// by doubling were a tenth of crm-sender's garbage).
func listInto(conn *sqlite.Conn, out []Message, q string, args ...any) ([]Message, error) {
	err := sqlitex.Execute(conn, `SELECT `+columns+` FROM outbox LEFT JOIN outbox_bodies b ON b.outbox_id = outbox.id `+q, &sqlitex.ExecOptions{Args: args,
		ResultFunc: func(st *sqlite.Stmt) error { out = append(out, scan(st)); return nil }})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// Get returns message id inside the caller's transaction (the caller has
// checked the workspace, or is crm-sender).
func Get(conn *sqlite.Conn, id string) (Message, bool, error) {
	l, err := list(conn, `WHERE id = ?`, id)
	if err != nil || len(l) == 0 {
		return Message{}, false, err
	}
	return l[0], true, nil
}

// Claim takes up to n due messages (queued, or retrying and due) of the
// given providers (all when none are named) for one attempt each, in the
// caller's write transaction, which must commit before any is sent: the
// lease, one more attempt and the claim's attempt id, which fences each
// message's outcome (Record) against a later claim of it.
func Claim(conn *sqlite.Conn, n int, lease time.Duration, now time.Time, providers ...string) ([]Message, error) {
	q := `WHERE state IN ('queued', 'retrying') AND due_at <= ?`
	args := []any{store.FormatTime(now)}
	if len(providers) > 0 {
		q += ` AND provider IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(providers)), ", ") + `)`
		for _, p := range providers {
			args = append(args, p)
		}
	}
	q += ` ORDER BY due_at, id` + limit(n)
	due, err := listInto(conn, make([]Message, 0, min(n, 1000)), q, args...)
	if err != nil || len(due) == 0 {
		return nil, err
	}
	// One statement for the whole claim, its rows named by rowid: a
	// statement a message, each bound with its own attempt id and found
	// through the index of ids, cost more than the claim's other work.
	// OR FAIL: a statement that changes many rows inside a transaction and
	// may abort keeps a journal of its own to undo just itself, a copy of
	// each page before it changes it. A failed claim here fails the whole
	// transaction, which rolls back, so that copy is never used.
	attempt, nowS := store.NewID(), store.FormatTime(now)
	rows := make([]byte, 0, 1+len(due)*8)
	moves := tally{}
	for i := range due {
		m := &due[i]
		moves.move(m.CampaignID, m.State, Claimed)
		m.AttemptID, m.State, m.ClaimedAt = attempt, Claimed, now
		m.Attempts++
		rows = strconv.AppendInt(append(rows, ','), m.row, 10)
	}
	rows[0] = '['
	rows = append(rows, ']')
	if err := sqlitex.Execute(conn, `UPDATE OR FAIL outbox SET state = 'claimed', attempt_id = ?1, lease_until = ?2, attempts = attempts + 1, claimed_at = ?3, updated_at = ?3
WHERE rowid IN (SELECT value FROM json_each(?4))`, &sqlitex.ExecOptions{Args: []any{attempt, store.FormatTime(now.Add(lease)), nowS, string(rows)}}); err != nil {
		return nil, fmt.Errorf("claim %d messages: %w", len(due), err)
	}
	if got := conn.Changes(); got != len(due) {
		return nil, fmt.Errorf("claim: %d of %d messages changed", got, len(due))
	}
	return due, moves.store(conn)
}

// Outcome is what became of one attempt.
type Outcome struct {
	ID, AttemptID string
	// Campaign is the message's campaign, if any, whose figures move with
	// it: a message's campaign never changes, so the claimed message's is
	// the row's (Message.Outcome fills it).
	Campaign string
	State    State     // Sent, Retrying, Failed or Unknown
	Ref      string    // the provider's id (Sent)
	Error    string    // why (Retrying, Failed, Unknown)
	Due      time.Time // when to try again (Retrying)
	Logged   bool      // the message has a log entry to keep current
	OptOut   bool      // the provider refused the recipient for good (a STOP): flag the contact
	Deferred bool      // put back untried (quiet hours): the claim does not count as an attempt
	row      int64     // the row's rowid, when the outcome was started from its claimed message
}

// Record stores outcomes inside the caller's write transaction, each fenced
// on its attempt id: an outcome for an attempt that is no longer the row's
// (its lease ran out and the row moved on) changes nothing. It returns the
// outcomes that took.
func Record(conn *sqlite.Conn, now time.Time, outs ...Outcome) ([]Outcome, error) {
	// No RETURNING: SQLite runs such a statement through a temporary
	// table of its own, opened and closed for each row (a tenth of
	// crm-sender's CPU when sending); the outcome names its campaign, and
	// the change count says whether the fence held. The row is found by
	// its rowid where the claim read it (the attempt id, which a row that
	// took a deleted one's rowid has not, still fences), by its id
	// otherwise.
	const set = `UPDATE outbox SET state = ?1, provider_ref = ?2, error = ?3, due_at = CASE WHEN ?4 = '' THEN due_at ELSE ?4 END,
	sent_at = CASE WHEN ?1 = 'sent' THEN ?5 ELSE sent_at END, lease_until = '', updated_at = ?5, attempts = attempts - ?6
WHERE `
	byRow := conn.Prep(set + `rowid = ?7 AND attempt_id = ?8 AND state = 'claimed'`)
	byID := conn.Prep(set + `id = ?7 AND attempt_id = ?8 AND state = 'claimed'`)
	type bound struct {
		bound bool
		v     [8]string
	}
	var lastRow, lastID bound
	nowS := store.FormatTime(now)
	took := make([]Outcome, 0, len(outs)) // nearly all take: grown by doubling, a tenth of a send's garbage
	moves := tally{}
	for _, o := range outs {
		due := ""
		if !o.Due.IsZero() {
			due = store.FormatTime(o.Due)
		}
		stmt, last := byID, &lastID
		if o.row > 0 {
			stmt, last = byRow, &lastRow
			stmt.BindInt64(7, o.row)
		} else {
			stmt.BindText(7, o.ID)
		}
		// A parameter keeps its value from one row to the next: the
		// state, error, time and attempt, which the outcomes of a claim
		// mostly share, are bound again only when they change.
		for i, v := range [...]string{string(o.State), o.Ref, o.Error, due, nowS, 7: o.AttemptID} {
			if i == 5 || i == 6 || last.bound && last.v[i] == v {
				continue
			}
			stmt.BindText(i+1, v)
			last.v[i] = v
		}
		last.bound = true
		stmt.BindBool(6, o.Deferred)
		if _, err := stmt.Step(); err != nil {
			return nil, fmt.Errorf("record %s: %w", o.ID, err)
		}
		if err := stmt.Reset(); err != nil {
			return nil, fmt.Errorf("record %s: %w", o.ID, err)
		}
		if conn.Changes() == 1 {
			moves.move(o.Campaign, Claimed, o.State)
			took = append(took, o)
			if !o.Logged {
				continue
			}
			if err := showState(conn, o.ID); err != nil {
				return nil, err
			}
		}
	}
	return took, moves.store(conn)
}

// showState copies message id's state to its log entry, if it has one.
func showState(conn *sqlite.Conn, id string) error {
	err := sqlitex.Execute(conn, `UPDATE activities SET body = json_set(body, '$.status', o.state, '$.error', o.error)
FROM outbox o WHERE o.id = ? AND activities.id = o.activity_id`, &sqlitex.ExecOptions{Args: []any{id}})
	if err != nil {
		return fmt.Errorf("show state of %s: %w", id, err)
	}
	return nil
}

// Expire turns claims whose lease ran out into unknown messages (their
// sender stopped between the claim and the answer) and returns how many.
func Expire(conn *sqlite.Conn, now time.Time) (int, error) {
	nowS := store.FormatTime(now)
	var ids, campaigns []string
	err := sqlitex.Execute(conn, `UPDATE outbox SET state = 'unknown', lease_until = '', updated_at = ?,
	error = 'The sender stopped while sending: checking with the provider before sending again.'
WHERE state = 'claimed' AND lease_until < ? RETURNING id, campaign_id`, &sqlitex.ExecOptions{Args: []any{nowS, nowS},
		ResultFunc: func(st *sqlite.Stmt) error {
			ids = append(ids, st.ColumnText(0))
			campaigns = append(campaigns, st.ColumnText(1))
			return nil
		}})
	if err != nil {
		return 0, fmt.Errorf("expire claims: %w", err)
	}
	moves := tally{}
	for _, c := range campaigns {
		moves.move(c, Claimed, Unknown)
	}
	if err := moves.store(conn); err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := showState(conn, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// ToReconcile returns up to n unknown messages claimed before claimedBefore
// (the provider's records lag; an absence is only trusted once they have
// caught up) that have not been checked since checkedBefore.
func ToReconcile(conn *sqlite.Conn, n int, claimedBefore, checkedBefore time.Time) ([]Message, error) {
	return list(conn, `WHERE state = 'unknown' AND claimed_at <= ? AND updated_at <= ? ORDER BY claimed_at`+limit(n),
		store.FormatTime(claimedBefore), store.FormatTime(checkedBefore))
}

// limit is a LIMIT clause for n, written into the statement: SQLite plans
// with a bound LIMIT's value, so binding one marks the statement expired
// and each run is prepared again (8-10 µs here, each of crm-sender's
// claims and reconcile looks). For callers whose n is a setting, not
// each call's own: every n is one more statement in the connection's
// cache.
func limit(n int) string { return " LIMIT " + strconv.Itoa(max(n, 0)) }

// Verdict is what a provider said of an unknown message.
type Verdict int

// The verdicts of a reconciliation.
const (
	// Undecided: the provider cannot say (SMTP keeps no record we can
	// read, the API failed); the message stays unknown.
	Undecided Verdict = iota
	// WasSent: the provider has it; the message is sent.
	WasSent
	// NeverSent: the provider's records, caught up, do not have it; the
	// message is queued again, safely.
	NeverSent
)

// Reconciled stores a verdict on unknown message id inside the caller's
// transaction. Undecided only notes the check (and the reason, once the
// message has waited long enough for the user to be asked).
func Reconciled(conn *sqlite.Conn, id string, v Verdict, ref, reason string, now time.Time) error {
	nowS := store.FormatTime(now)
	var q string
	var args []any
	to := Unknown
	switch v {
	case WasSent:
		to, q, args = Sent, `UPDATE outbox SET state = 'sent', provider_ref = ?, sent_at = ?, error = '', updated_at = ? WHERE id = ? AND state = 'unknown'`, []any{ref, nowS, nowS, id}
	case NeverSent:
		to, q, args = Queued, `UPDATE outbox SET state = 'queued', due_at = ?, error = '', updated_at = ? WHERE id = ? AND state = 'unknown'`, []any{nowS, nowS, id}
	default:
		q, args = `UPDATE outbox SET updated_at = ?, error = CASE WHEN ? = '' THEN error ELSE ? END WHERE id = ? AND state = 'unknown'`, []any{nowS, reason, reason, id}
	}
	if err := moved(conn, q, args, Unknown, to); err != nil {
		return fmt.Errorf("reconcile %s: %w", id, err)
	}
	return showState(conn, id)
}

// moved runs update q (one message, from state from) and counts the
// message, if it moved to state to, in its campaign's figures.
func moved(conn *sqlite.Conn, q string, args []any, from, to State) error {
	var campaigns []string
	if err := sqlitex.Execute(conn, q+` RETURNING campaign_id`, &sqlitex.ExecOptions{Args: args,
		ResultFunc: func(st *sqlite.Stmt) error { campaigns = append(campaigns, st.ColumnText(0)); return nil }}); err != nil {
		return err
	}
	for _, c := range campaigns {
		if err := count(conn, c, from, to); err != nil {
			return err
		}
	}
	return nil
}

// Flush stores the batch's campaign figures.
func (b *Batch) Flush(conn *sqlite.Conn) error {
	err := b.moves.store(conn)
	b.moves = nil
	return err
}

// tally is the change a batch of messages makes to their campaigns'
// figures, by campaign and state, stored in one statement per figure
// rather than two per message.
type tally map[[2]string]int

// move counts one of campaign c's messages gone from state from ("": a
// new one) to state to.
func (t tally) move(c string, from, to State) {
	if c == "" || from == to {
		return
	}
	if from != "" {
		t[[2]string{c, string(from)}]--
	}
	t[[2]string{c, string(to)}]++
}

// store adds the tally to campaign_states.
func (t tally) store(conn *sqlite.Conn) error {
	if len(t) == 0 {
		return nil
	}
	stmt := conn.Prep(`INSERT INTO campaign_states (campaign_id, state, messages) VALUES (?, ?, ?)
ON CONFLICT (campaign_id, state) DO UPDATE SET messages = messages + excluded.messages`)
	for k, n := range t {
		if n == 0 {
			continue
		}
		stmt.BindText(1, k[0])
		stmt.BindText(2, k[1])
		stmt.BindInt64(3, int64(n))
		if _, err := stmt.Step(); err != nil {
			return fmt.Errorf("campaign figures: %w", err)
		}
		if err := stmt.Reset(); err != nil {
			return fmt.Errorf("campaign figures: %w", err)
		}
	}
	return nil
}

// count moves one of campaign c's messages from state from ("": a new
// one) to state to in its figures (campaign_states), which its page reads
// rather than counting the outbox's long rows. Every change of a campaign
// message's state passes here.
func count(conn *sqlite.Conn, c string, from, to State) error {
	t := tally{}
	t.move(c, from, to)
	return t.store(conn)
}

// CampaignStates returns how many of campaign c's messages are in each
// state, inside the caller's transaction.
func CampaignStates(conn *sqlite.Conn, c string) (map[State]int, error) {
	out := map[State]int{}
	err := sqlitex.Execute(conn, `SELECT state, messages FROM campaign_states WHERE campaign_id = ?`, &sqlitex.ExecOptions{Args: []any{c},
		ResultFunc: func(st *sqlite.Stmt) error { out[State(st.ColumnText(0))] = st.ColumnInt(1); return nil }})
	if err != nil {
		return nil, fmt.Errorf("campaign figures: %w", err)
	}
	return out, nil
}

// Counts returns how many messages are in each state, for /metrics and
// the System page.
func Counts(conn *sqlite.Conn) (map[State]int, error) {
	out := map[State]int{}
	err := sqlitex.Execute(conn, `SELECT state, count(*) FROM outbox GROUP BY state`, &sqlitex.ExecOptions{
		ResultFunc: func(st *sqlite.Stmt) error { out[State(st.ColumnText(0))] = st.ColumnInt(1); return nil }})
	if err != nil {
		return nil, fmt.Errorf("count outbox: %w", err)
	}
	return out, nil
}

// SentSince returns how many messages workspace wsID sent since t, for a
// provider's daily cap.
func SentSince(conn *sqlite.Conn, wsID string, t time.Time) (int, error) {
	n := 0
	err := sqlitex.Execute(conn, `SELECT count(*) FROM outbox WHERE workspace_id = ? AND state = 'sent' AND sent_at >= ?`, &sqlitex.ExecOptions{
		Args: []any{wsID, store.FormatTime(t)}, ResultFunc: func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }})
	if err != nil {
		return 0, fmt.Errorf("count sent: %w", err)
	}
	return n, nil
}

// SetActivity ties message id to its log entry.
func SetActivity(conn *sqlite.Conn, id, activityID string) error {
	if err := sqlitex.Execute(conn, `UPDATE outbox SET activity_id = ? WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{activityID, id}}); err != nil {
		return fmt.Errorf("tie message to its log entry: %w", err)
	}
	return nil
}

// ListIn returns workspace wsID's newest messages (at most n), only those
// in state when it is set, inside the caller's transaction.
func ListIn(conn *sqlite.Conn, wsID string, state State, n int) ([]Message, error) {
	if state != "" {
		return list(conn, `WHERE workspace_id = ? AND state = ? ORDER BY created_at DESC, id DESC LIMIT ?`, wsID, string(state), n)
	}
	return list(conn, `WHERE workspace_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, wsID, n)
}

// Decide moves unknown message id to Queued (the user resends it) or
// Dropped, inside the caller's transaction.
func Decide(conn *sqlite.Conn, id string, to State, now time.Time) error {
	if to != Queued && to != Dropped {
		return fmt.Errorf("decide %s: %s is not a decision", id, to)
	}
	nowS := store.FormatTime(now)
	if err := moved(conn, `UPDATE outbox SET state = ?, due_at = ?, error = '', updated_at = ? WHERE id = ? AND state = 'unknown'`,
		[]any{string(to), nowS, nowS, id}, Unknown, to); err != nil {
		return fmt.Errorf("decide %s: %w", id, err)
	}
	return showState(conn, id)
}

// OldestDue returns the due time of the oldest message that is due now
// (queued, or retrying and due), or zero when none is.
func OldestDue(conn *sqlite.Conn, now time.Time) (time.Time, error) {
	var t time.Time
	err := sqlitex.Execute(conn, `SELECT min(due_at) FROM outbox WHERE state IN ('queued', 'retrying') AND due_at <= ?`, &sqlitex.ExecOptions{
		Args: []any{store.FormatTime(now)}, ResultFunc: func(st *sqlite.Stmt) error {
			if v := st.ColumnText(0); v != "" {
				t, _ = store.ParseTime(v)
			}
			return nil
		}})
	if err != nil {
		return time.Time{}, fmt.Errorf("oldest due message: %w", err)
	}
	return t, nil
}

// ByMessageID returns the message with our Message-ID id.
func ByMessageID(conn *sqlite.Conn, id string) (Message, bool, error) {
	l, err := list(conn, `WHERE message_id = ?`, id)
	if err != nil || len(l) == 0 {
		return Message{}, false, err
	}
	return l[0], true, nil
}

// SetDelivery notes what the provider last said of sent message id
// (delivered, bounced, ...) on it and its log entry.
func SetDelivery(conn *sqlite.Conn, id, delivery string) error {
	if err := sqlitex.Execute(conn, `UPDATE outbox SET delivery = ?, updated_at = ? WHERE id = ?`,
		&sqlitex.ExecOptions{Args: []any{delivery, store.FormatTime(time.Now()), id}}); err != nil {
		return fmt.Errorf("delivery of %s: %w", id, err)
	}
	err := sqlitex.Execute(conn, `UPDATE activities SET body = json_set(body, '$.delivery', ?) FROM outbox o WHERE o.id = ? AND activities.id = o.activity_id`,
		&sqlitex.ExecOptions{Args: []any{delivery, id}})
	if err != nil {
		return fmt.Errorf("delivery of %s: %w", id, err)
	}
	return nil
}
