package insight

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"sort"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/calendar"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/richtext"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// Defaults when a list sets no threshold of its own.
const (
	DefaultCadenceDays = 60
	DefaultStallDays   = 30
	// BirthdayDays is how far ahead a birthday is worth a card.
	BirthdayDays = 14
	// MinSends is how many sends a template needs before its rates say
	// anything.
	MinSends = 10
	// SimilarAt is the word-shingle overlap (Jaccard) from which two
	// templates count as near-duplicates.
	SimilarAt = 0.8
)

// Found is one insight a finder produced, before it is stored.
type Found struct {
	Kind       string
	Key        string // what it is about; unique in the workspace
	Subject    string
	Evidence   string
	Confidence float64
	// Facts are what it stands on, hashed: a dismissed insight comes back
	// only when they change. Keep them coarse (ids, rounded rates), not
	// exact counts that move every day.
	Facts  string
	Action string
	Ref    Ref
	Weight float64 // how much the kind matters, for the rank without a model
}

// finder finds one kind of insight in a workspace.
type finder func(conn *sqlite.Conn, wsID string, now time.Time, loc *time.Location) ([]Found, error)

// finders run in this order; Find's result keeps it.
var finders = []finder{findBirthdays, findInactive, findStalled, findDuplicateContacts, findTemplatePerformance, findSimilarTemplates, findReplyDays}

// Find runs every finder on the workspace wsID (the caller has checked
// it) and returns what they found, the same every time on the same data.
func Find(conn *sqlite.Conn, wsID string, now time.Time, loc *time.Location) ([]Found, error) {
	var all []Found
	for _, f := range finders {
		got, err := f(conn, wsID, now, loc)
		if err != nil {
			return nil, err
		}
		all = append(all, got...)
	}
	return all, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// members are the contacts an insight is about, kept small however many
// there are: a count, the first three ids (named for the card once the
// scan is done) and a running hash of every id (in id order) for the
// facts.
type members struct {
	n     int
	ids   []string // the first three
	first []string // their names, after named
	h     hash.Hash
}

// add counts contact id.
func (m *members) add(id string) {
	if m.h == nil {
		m.h = sha256.New()
	}
	m.n++
	if len(m.ids) < 3 {
		m.ids = append(m.ids, id)
	}
	m.h.Write([]byte(id))
	m.h.Write([]byte{0})
}

// named names the first three as every page does.
func (m *members) named(conn *sqlite.Conn) error {
	ids, _ := json.Marshal(m.ids)
	byID := map[string]string{}
	err := sqlitex.Execute(conn, `SELECT c.id, `+contact.NameColumns+` FROM contacts c WHERE c.id IN (SELECT value FROM json_each(?))`, &sqlitex.ExecOptions{Args: []any{string(ids)},
		ResultFunc: func(st *sqlite.Stmt) error { byID[st.ColumnText(0)] = contact.NameAt(st, 1); return nil }})
	if err != nil {
		return fmt.Errorf("name contacts: %w", err)
	}
	m.first = m.first[:0]
	for _, id := range m.ids {
		m.first = append(m.first, byID[id])
	}
	return nil
}

// names lists up to three names and how many more.
func (m *members) names() string {
	s := strings.Join(m.first, ", ")
	if m.n > len(m.first) {
		s += fmt.Sprintf(" and %d more", m.n-len(m.first))
	}
	return s
}

func (m *members) facts() string { return hex.EncodeToString(m.h.Sum(nil)) }

// findBirthdays finds contacts whose birthday falls in the next
// BirthdayDays days, in the workspace's time zone: one card each, which
// makes a to-do on the day.
func findBirthdays(conn *sqlite.Conn, wsID string, now time.Time, loc *time.Location) ([]Found, error) {
	l := now.In(loc)
	today := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC) // the local date, as calendar.NextBirthday wants it
	var out []Found
	err := sqlitex.Execute(conn, `SELECT c.id, c.birthday_month, c.birthday_day, `+contact.NameColumns+` FROM contacts c
WHERE c.workspace_id = ? AND c.birthday_month IS NOT NULL AND c.birthday_month > 0 AND c.birthday_day > 0 ORDER BY c.id`, &sqlitex.ExecOptions{Args: []any{wsID},
		ResultFunc: func(st *sqlite.Stmt) error {
			next := calendar.NextBirthday(today, time.Month(st.ColumnInt(1)), st.ColumnInt(2))
			days := int(next.Sub(today).Hours() / 24)
			if days > BirthdayDays {
				return nil
			}
			when := "today"
			switch {
			case days == 1:
				when = "tomorrow"
			case days > 1:
				when = "on " + next.Format("Monday, January 2")
			}
			id, name, day := st.ColumnText(0), contact.NameAt(st, 3), next.Format("2006-01-02")
			out = append(out, Found{Kind: KindBirthday, Key: "birthday:" + id + ":" + day,
				Subject:  name + "'s birthday is " + when,
				Evidence: "Their birthday is on " + next.Format("January 2") + ".", Confidence: 1, Facts: day,
				Action: ActTodo, Ref: Ref{Title: "Wish " + name + " a happy birthday", DueOn: day, ContactID: id},
				Weight: 1 - float64(days)/float64(BirthdayDays+1)*0.5})
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("birthdays: %w", err)
	}
	return out, nil
}

// listRow is a stage or a tag with its thresholds.
type listRow struct {
	id, kind, name      string
	cadence, stall, pos int
}

func listsOf(conn *sqlite.Conn, wsID string) ([]listRow, error) {
	var ls []listRow
	err := sqlitex.Execute(conn, `SELECT id, kind, name, cadence_days, stall_days, position FROM lists WHERE workspace_id = ? ORDER BY kind, position, name`, &sqlitex.ExecOptions{Args: []any{wsID},
		ResultFunc: func(st *sqlite.Stmt) error {
			ls = append(ls, listRow{st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnInt(3), st.ColumnInt(4), st.ColumnInt(5)})
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("lists: %w", err)
	}
	return ls, nil
}

// closed says whether a stage's name says the deal is over: nobody is
// stalled in "Closed" or "Lost".
func closed(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"closed", "lost", "funded", "won", "archive", "dead"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// findInactive finds, per stage and per tag, the contacts not contacted
// within the list's cadence (DefaultCadenceDays when it sets none):
// do-not-contact ones aside, and those a campaign reached in that time
// (campaign mail leaves last_contact_at alone, yet after the suggested
// campaign went they are not quiet). The action is a re-engagement
// campaign to them, pre-filled to leave out who got one in that time.
func findInactive(conn *sqlite.Conn, wsID string, now time.Time, _ *time.Location) ([]Found, error) {
	ls, err := listsOf(conn, wsID)
	if err != nil {
		return nil, err
	}
	var out []Found
	for _, l := range ls {
		if l.kind == "stage" && closed(l.name) {
			continue
		}
		days := l.cadence
		if days == 0 {
			days = DefaultCadenceDays
		}
		cut := store.FormatTime(now.AddDate(0, 0, -days))
		member := `c.stage_id = ?`
		if l.kind == "tag" {
			member = `EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.list_id = ?)`
		}
		var m members
		err := sqlitex.Execute(conn, `SELECT c.id FROM contacts c WHERE c.workspace_id = ? AND `+member+`
AND NOT c.do_not_contact AND coalesce(c.last_contact_at, c.created_at) < ?
AND NOT `+outbox.CampaignMailSince+` ORDER BY c.id`, &sqlitex.ExecOptions{Args: []any{wsID, l.id, cut, cut},
			ResultFunc: func(st *sqlite.Stmt) error {
				m.add(st.ColumnText(0))
				return nil
			}})
		if err != nil {
			return nil, fmt.Errorf("inactive in %s: %w", l.name, err)
		}
		if m.n == 0 {
			continue
		}
		if err := m.named(conn); err != nil {
			return nil, err
		}
		param := "stage_id"
		if l.kind == "tag" {
			param = "tag_id"
		}
		out = append(out, Found{Kind: KindInactive, Key: "inactive:" + l.id,
			Subject:    fmt.Sprintf("%s in %s not contacted in %d days", plural(m.n, "contact", "contacts"), l.name, days),
			Evidence:   m.names() + fmt.Sprintf(": no email, text or logged contact since %s or earlier.", now.AddDate(0, 0, -days).Format("January 2")),
			Confidence: min(1, 0.6+0.1*float64(m.n)), Facts: m.facts(),
			Action: ActCampaign, Ref: Ref{Query: map[string]string{"name": "Re-engagement: " + l.name, param: l.id, "stale_days": fmt.Sprint(days), "not_within_days": fmt.Sprint(min(days, 365))}},
			Weight: 0.8})
	}
	return out, nil
}

// findStalled finds, per stage, the contacts that have sat in it longer
// than its threshold (DefaultStallDays) with nothing logged since they
// entered: the action is a to-do to follow up.
func findStalled(conn *sqlite.Conn, wsID string, now time.Time, _ *time.Location) ([]Found, error) {
	ls, err := listsOf(conn, wsID)
	if err != nil {
		return nil, err
	}
	var out []Found
	for _, l := range ls {
		if l.kind != "stage" || closed(l.name) {
			continue
		}
		days := l.stall
		if days == 0 {
			days = DefaultStallDays
		}
		cut := store.FormatTime(now.AddDate(0, 0, -days))
		var m members
		err := sqlitex.Execute(conn, `SELECT c.id FROM contacts c WHERE c.workspace_id = ? AND c.stage_id = ?
AND NOT c.do_not_contact AND max(coalesce(c.stage_changed_at, c.created_at), coalesce(c.last_contact_at, '')) < ? ORDER BY c.id`, &sqlitex.ExecOptions{Args: []any{wsID, l.id, cut},
			ResultFunc: func(st *sqlite.Stmt) error {
				m.add(st.ColumnText(0))
				return nil
			}})
		if err != nil {
			return nil, fmt.Errorf("stalled in %s: %w", l.name, err)
		}
		if m.n == 0 {
			continue
		}
		if err := m.named(conn); err != nil {
			return nil, err
		}
		ref := Ref{Title: fmt.Sprintf("Follow up with the %s stalled in %s", plural(m.n, "contact", "contacts"), l.name), ListID: l.id}
		if m.n == 1 {
			ref = Ref{Title: "Follow up with " + m.first[0] + " (stalled in " + l.name + ")", ContactID: m.ids[0], ListID: l.id}
		}
		out = append(out, Found{Kind: KindStalled, Key: "stalled:" + l.id,
			Subject:    fmt.Sprintf("%s stalled in %s for over %d days", plural(m.n, "contact", "contacts"), l.name, days),
			Evidence:   m.names() + fmt.Sprintf(": in %s with no activity for more than %d days (the stage's threshold).", l.name, days),
			Confidence: min(1, 0.7+0.1*float64(m.n)), Facts: m.facts(),
			Action: ActTodo, Ref: ref, Weight: 0.9})
	}
	return out, nil
}

// findDuplicateContacts finds contacts sharing an email address or a
// phone number (pairs marked as different people aside): one card, whose
// action is the duplicates page.
func findDuplicateContacts(conn *sqlite.Conn, wsID string, _ time.Time, _ *time.Location) ([]Found, error) {
	var pairs []string
	err := sqlitex.Execute(conn, `
SELECT a.contact_id, b.contact_id FROM contact_emails a JOIN contact_emails b
  ON b.workspace_id = a.workspace_id AND b.address_norm = a.address_norm AND a.contact_id < b.contact_id
WHERE a.workspace_id = ?1
UNION
SELECT a.contact_id, b.contact_id FROM contact_phones a JOIN contact_phones b
  ON b.workspace_id = a.workspace_id AND b.e164 = a.e164 AND a.contact_id < b.contact_id
WHERE a.workspace_id = ?1 AND a.e164 <> ''
EXCEPT SELECT contact_a, contact_b FROM kept_separate WHERE workspace_id = ?1
ORDER BY 1, 2`, &sqlitex.ExecOptions{Args: []any{wsID},
		ResultFunc: func(st *sqlite.Stmt) error {
			pairs = append(pairs, st.ColumnText(0)+"+"+st.ColumnText(1))
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("duplicate contacts: %w", err)
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	return []Found{{Kind: KindDuplicates, Key: "duplicates",
		Subject:    plural(len(pairs), "pair of contacts looks", "pairs of contacts look") + " like the same person",
		Evidence:   "They share an email address or a phone number. Merging keeps every email, phone, tag and log entry.",
		Confidence: 0.9, Facts: strings.Join(pairs, ","), Action: ActMerge, Weight: 0.7}}, nil
}

// findTemplatePerformance finds, for templates sent at least MinSends
// times in the last 90 days, a high bounce or unsubscribe rate, and the
// template whose replies stand out: from the outbox, the providers'
// events and the replies matched to our messages.
func findTemplatePerformance(conn *sqlite.Conn, wsID string, now time.Time, _ *time.Location) ([]Found, error) {
	type perf struct {
		id, name                                 string
		sent, delivered, bounced, unsub, replied int
	}
	var ps []perf
	since := store.FormatTime(now.AddDate(0, 0, -90))
	err := sqlitex.Execute(conn, `
SELECT t.id, t.name, count(*) AS sent,
  sum(EXISTS (SELECT 1 FROM provider_events e WHERE e.outbox_id <> '' AND e.outbox_id = o.id AND e.kind = 'delivered')),
  sum(EXISTS (SELECT 1 FROM provider_events e WHERE e.outbox_id <> '' AND e.outbox_id = o.id AND e.kind = 'bounced')),
  sum(EXISTS (SELECT 1 FROM provider_events e WHERE e.outbox_id <> '' AND e.outbox_id = o.id AND e.kind IN ('unsubscribed', 'complained'))),
  sum(o.id IN (SELECT i.outbox_id FROM inbound_emails i WHERE i.workspace_id = o.workspace_id AND i.outbox_id <> ''))
FROM outbox o JOIN email_templates t ON t.id = o.template_id
WHERE o.workspace_id = ? AND o.channel = 'email' AND o.state = 'sent' AND o.created_at >= ?
GROUP BY t.id ORDER BY t.id`, &sqlitex.ExecOptions{Args: []any{wsID, since},
		ResultFunc: func(st *sqlite.Stmt) error {
			ps = append(ps, perf{st.ColumnText(0), st.ColumnText(1), st.ColumnInt(2), st.ColumnInt(3), st.ColumnInt(4), st.ColumnInt(5), st.ColumnInt(6)})
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("template performance: %w", err)
	}
	var out []Found
	var totalSent, totalReplied int
	for _, p := range ps {
		totalSent += p.sent
		totalReplied += p.replied
	}
	pct := func(n, of int) int { return int(float64(n)*100/float64(of) + 0.5) }
	// rounded to 5 points, so a dismissed card stays dismissed while the
	// rate stays about the same
	bucket := func(n, of int) int { return pct(n, of) / 5 * 5 }
	conf := func(sent int) float64 { return min(1, 0.5+float64(sent)/100) }
	for _, p := range ps {
		if p.sent < MinSends {
			continue
		}
		stats := fmt.Sprintf("%d sent, %d delivered, %d bounced, %d unsubscribed or complained, %d replied (last 90 days).", p.sent, p.delivered, p.bounced, p.unsub, p.replied)
		if b := pct(p.bounced, p.sent); b >= 5 {
			out = append(out, Found{Kind: KindTemplate, Key: "bounces:" + p.id,
				Subject: fmt.Sprintf("%q bounces %d%% of the time", p.name, b), Evidence: stats + " Check the list it goes to for old addresses.",
				Confidence: conf(p.sent), Facts: fmt.Sprint(bucket(p.bounced, p.sent)), Action: ActTemplate, Ref: Ref{TemplateID: p.id}, Weight: 0.75})
		}
		if u := pct(p.unsub, p.sent); u >= 2 {
			out = append(out, Found{Kind: KindTemplate, Key: "unsubscribes:" + p.id,
				Subject: fmt.Sprintf("%q loses %d%% of its readers to unsubscribes", p.name, u), Evidence: stats,
				Confidence: conf(p.sent), Facts: fmt.Sprint(bucket(p.unsub, p.sent)), Action: ActTemplate, Ref: Ref{TemplateID: p.id}, Weight: 0.7})
		}
		// a template replied to twice as often as the rest
		restSent, restReplied := totalSent-p.sent, totalReplied-p.replied
		if p.replied >= 3 && restSent >= MinSends {
			mine, rest := float64(p.replied)/float64(p.sent), float64(restReplied)/float64(restSent)
			if mine >= 2*rest {
				out = append(out, Found{Kind: KindTemplate, Key: "replies:" + p.id,
					Subject:    fmt.Sprintf("%q gets %d%% replies, your other templates %d%%", p.name, pct(p.replied, p.sent), pct(restReplied, restSent)),
					Evidence:   stats + " Start your next template from it.",
					Confidence: conf(p.sent), Facts: fmt.Sprint(bucket(p.replied, p.sent)), Action: ActTemplate, Ref: Ref{TemplateID: p.id}, Weight: 0.6})
			}
		}
	}
	return out, nil
}

// shingles are a text's overlapping three-word runs.
func shingles(text string) map[string]bool {
	ws := strings.Fields(strings.ToLower(text))
	out := map[string]bool{}
	for i := 0; i+3 <= len(ws); i++ {
		out[strings.Join(ws[i:i+3], " ")] = true
	}
	if len(ws) > 0 && len(ws) < 3 {
		out[strings.Join(ws, " ")] = true
	}
	return out
}

func jaccard(a, b map[string]bool) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	in := 0
	for k := range a {
		if b[k] {
			in++
		}
	}
	return float64(in) / float64(len(a)+len(b)-in)
}

// findSimilarTemplates finds pairs of the workspace's templates whose
// subject and body overlap by SimilarAt or more: one to keep, one to
// delete or tell apart.
func findSimilarTemplates(conn *sqlite.Conn, wsID string, _ time.Time, _ *time.Location) ([]Found, error) {
	type tpl struct {
		id, name string
		sh       map[string]bool
	}
	var ts []tpl
	err := sqlitex.Execute(conn, `SELECT id, name, subject, body_html FROM email_templates WHERE workspace_id = ? ORDER BY id`, &sqlitex.ExecOptions{Args: []any{wsID},
		ResultFunc: func(st *sqlite.Stmt) error {
			ts = append(ts, tpl{st.ColumnText(0), st.ColumnText(1), shingles(st.ColumnText(2) + " " + richtext.Text(st.ColumnText(3)))})
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("similar templates: %w", err)
	}
	var out []Found
	for i := range ts {
		for j := i + 1; j < len(ts); j++ {
			sim := jaccard(ts[i].sh, ts[j].sh)
			if sim < SimilarAt {
				continue
			}
			a, b := ts[i], ts[j]
			pair := []string{a.id, b.id}
			sort.Strings(pair)
			out = append(out, Found{Kind: KindSimilar, Key: "similar:" + pair[0] + ":" + pair[1],
				Subject:    fmt.Sprintf("%q and %q are nearly the same", a.name, b.name),
				Evidence:   fmt.Sprintf("%d%% of their wording is shared. Keep one, or make the difference clear in the names.", int(sim*100)),
				Confidence: sim, Facts: fmt.Sprint(int(sim * 10)), Action: ActTemplate, Ref: Ref{TemplateID: a.id, OtherID: b.id}, Weight: 0.5})
		}
	}
	return out, nil
}

// findReplyDays finds the weekday whose emails get replies: of the last
// 90 days' sends (at least 30, with 5 replies), the local weekday with 10
// or more sends whose reply rate is at least 1.5 times the overall one.
func findReplyDays(conn *sqlite.Conn, wsID string, now time.Time, loc *time.Location) ([]Found, error) {
	var sent, replied [7]int
	err := sqlitex.Execute(conn, `SELECT o.sent_at, o.id IN (SELECT i.outbox_id FROM inbound_emails i WHERE i.workspace_id = o.workspace_id AND i.outbox_id <> '')
FROM outbox o WHERE o.workspace_id = ? AND o.state = 'sent' AND o.channel = 'email' AND o.sent_at >= ?`, &sqlitex.ExecOptions{Args: []any{wsID, store.FormatTime(now.AddDate(0, 0, -90))},
		ResultFunc: func(st *sqlite.Stmt) error {
			at, err := store.ParseTime(st.ColumnText(0))
			if err != nil {
				return nil
			}
			d := at.In(loc).Weekday()
			sent[d]++
			if st.ColumnBool(1) {
				replied[d]++
			}
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("reply days: %w", err)
	}
	var totalSent, totalReplied int
	for d := range 7 {
		totalSent += sent[d]
		totalReplied += replied[d]
	}
	if totalSent < 30 || totalReplied < 5 {
		return nil, nil
	}
	overall := float64(totalReplied) / float64(totalSent)
	best, bestRate := -1, 0.0
	for d := range 7 {
		if sent[d] < 10 {
			continue
		}
		if r := float64(replied[d]) / float64(sent[d]); r >= 1.5*overall && r > bestRate {
			best, bestRate = d, r
		}
	}
	if best < 0 {
		return nil, nil
	}
	day := time.Weekday(best).String()
	times := bestRate / overall
	return []Found{{Kind: KindUsage, Key: "reply-day",
		Subject:    fmt.Sprintf("Emails you send on %ss get %.1f× the replies", day, times),
		Evidence:   fmt.Sprintf("Last 90 days: %d of %d sent on %ss were answered (%d%%), against %d of %d overall (%d%%).", replied[best], sent[best], day, int(bestRate*100+0.5), totalReplied, totalSent, int(overall*100+0.5)),
		Confidence: min(1, 0.4+float64(sent[best])/50), Facts: fmt.Sprintf("%d|%d", best, int(times*2)),
		Action: ActCampaign, Ref: Ref{Query: map[string]string{"name": day + " send"}}, Weight: 0.55}}, nil
}
