package contact

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

var (
	demoFirst = []string{"Linh", "Bao", "Chi", "Duc", "Mai", "Minh", "Anh", "Huy", "Lan", "Tuan", "Emily", "James", "Olivia", "Noah", "Ava", "Liam", "Sophia", "Mason", "Kai", "Leilani"}
	demoLast  = []string{"Nguyen", "Tran", "Le", "Pham", "Hoang", "Vo", "Smith", "Johnson", "Williams", "Brown", "Garcia", "Kealoha", "Kim", "Lee", "Martinez", "Davis"}
	demoCo    = []string{"", "", "Coldwell Banker", "RateReady", "Loan Factory", "Pacific Realty", "Aloha Homes", "Bay Mortgage"}
)

// GenerateDemo fills the actor's workspace wsID with n made-up contacts and
// about activities log entries, for demos and benchmarks. The contacts go
// through the importer, the write path of every bulk load, in batches of
// one transaction each; the log entries are written straight, as typed
// bodies. The first contact gets 500 log entries. One audit row records the
// whole load. seed makes the data repeatable.
func (s *Store) GenerateDemo(ctx context.Context, actor auth.Actor, wsID string, n, activities int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var stages []string
	var region string
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		if region, err = workspace.PhoneRegion(conn, wsID); err != nil {
			return err
		}
		return sqlitex.Execute(conn, `SELECT name FROM lists WHERE workspace_id = ? AND kind = 'stage' ORDER BY position`, &sqlitex.ExecOptions{
			Args: []any{wsID}, ResultFunc: func(stmt *sqlite.Stmt) error { stages = append(stages, stmt.ColumnText(0)); return nil }})
	})
	if err != nil {
		return err
	}
	imp, err := s.BeginImport(ctx, actor, wsID, ImportOptions{Source: "demo", OnDuplicate: DupCreate, Restore: true})
	if err != nil {
		return err
	}
	defer imp.Close()
	const batch = 5000
	now := time.Now()
	start := now.Add(-3 * 365 * 24 * time.Hour)
	ids := make([]string, 0, n)
	for done := 0; done < n; done += batch {
		rows := make([]ImportRow, 0, min(batch, n-done))
		for i := range cap(rows) {
			k := done + i
			first, last := demoFirst[r.IntN(len(demoFirst))], demoLast[r.IntN(len(demoLast))]
			co := demoCo[r.IntN(len(demoCo))]
			row := ImportRow{Row: k + 1, ID: store.NewID(), CreatedAt: start.Add(time.Duration(r.Int64N(int64(3 * 365 * 24 * time.Hour))))}
			if len(stages) > 0 && r.IntN(10) > 0 {
				row.Stage = stages[r.IntN(len(stages))]
			}
			if r.IntN(3) > 0 {
				row.LastContactAt = now.Add(-time.Duration(r.Int64N(int64(400 * 24 * time.Hour))))
			}
			email := fmt.Sprintf("%s.%s%d@example.com", lower(first), lower(last), k)
			emails := []EmailInput{{Address: email, Label: "Business", Primary: true}}
			phones := []PhoneInput{{Number: demoPhone(k), Label: "Mobile", Primary: true}}
			row.Fields = Fields{FirstName: &first, LastName: &last, Company: &co, Emails: &emails, Phones: &phones}
			rows = append(rows, row)
			ids = append(ids, row.ID)
		}
		imp.PrepareRows(rows, region)
		res, err := imp.Batch(ctx, rows, func(*sqlite.Conn, ImportResult) error { return nil })
		if err != nil {
			return fmt.Errorf("demo contacts %d-%d: %w", done+1, done+len(rows), err)
		}
		if len(res.Failed) > 0 {
			return fmt.Errorf("demo contact row %d: %s", res.Failed[0].Row, res.Failed[0].Reason)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	const abatch = 20000
	for done := 0; done < activities; done += abatch {
		m := min(abatch, activities-done)
		err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
			ins := conn.Prep(`INSERT INTO activities (id, workspace_id, contact_id, kind, occurred_at, summary, body) VALUES (?, ?, ?, ?, ?, ?, ?)`)
			for i := range m {
				k := done + i
				cid := ids[0]
				if k >= 500 {
					cid = ids[r.IntN(len(ids))]
				}
				kind, summary, body := demoEntry(r)
				at := store.FormatTime(time.Now().Add(-time.Duration(r.Int64N(int64(3 * 365 * 24 * time.Hour)))))
				for j, v := range []any{store.NewID(), wsID, cid, string(kind), at, summary, body} {
					bind(ins, j+1, v)
				}
				if err := step(ins); err != nil {
					return fmt.Errorf("demo activity %d: %w", k, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		return audit.Record(conn, actor.Audit("contact.demo_generate", "workspace", wsID, map[string]any{"contacts": n, "activities": activities}))
	})
}

// demoTexts are what the generated log entries say, by kind.
var demoTexts = map[activity.Kind][]string{
	activity.Email: {"Rate update for this week", "Your document checklist", "Appraisal scheduled", "Closing disclosure attached", "Happy home anniversary!"},
	activity.SMS:   {"Checking in: any questions about your loan?", "The appraiser will be there at 10 am.", "Thanks, got the pay stubs!", "Can we move our call to 4 pm?"},
	activity.Call:  {"Discussed the appraisal results", "Went over rate lock options", "Left a voicemail", "Reviewed the closing costs", "Annual check-in"},
	activity.Note:  {"Sent the disclosures for e-signature.", "Prefers texts after 5 pm.", "Referred by a past client.", "Waiting on the HOA documents."},
}

// demoEntry makes one generated log entry: its kind, summary and typed
// body, as the app itself writes them.
func demoEntry(r *rand.Rand) (activity.Kind, string, string) {
	kinds := []activity.Kind{activity.Email, activity.SMS, activity.Call, activity.Note, activity.Stage, activity.System}
	kind := kinds[r.IntN(len(kinds))]
	pick := func() string { t := demoTexts[kind]; return t[r.IntN(len(t))] }
	dir := activity.Out
	if r.IntN(3) == 0 {
		dir = activity.In
	}
	var summary string
	var body any
	switch kind {
	case activity.Email:
		subj := pick()
		summary, body = Message{Kind: kind, Direction: dir, Subject: subj}.summary(), activity.EmailBody{Subject: subj, Direction: dir}
	case activity.SMS:
		text := pick()
		summary, body = Message{Kind: kind, Direction: dir, Text: text}.summary(), activity.SMSBody{Text: text, Direction: dir}
	case activity.Call:
		text, min := pick(), 1+r.IntN(40)
		summary, body = callSummary(time.Duration(min)*time.Minute, text), activity.CallBody{DurationSeconds: min * 60, Notes: text}
	case activity.Note:
		text := pick()
		summary, body = text, activity.NoteBody{HTML: noteHTML(text)}
	case activity.Stage:
		from, to := list.DefaultStages[r.IntN(3)], list.DefaultStages[1+r.IntN(3)]
		summary, body = "Primary List changed: "+from+" → "+to, activity.StageBody{From: from, To: to}
	default:
		summary, body = "Contact created", activity.SystemBody{Event: "created"}
	}
	b, _ := json.Marshal(body) // plain structs of strings and ints
	return kind, summary, string(b)
}

// demoAreaCodes spread the demo's numbers over real area codes. Hawaii's
// comes last: the demo's hand-written contacts (pkg/demo) use its
// 555-01xx numbers, and a generated one must not duplicate them.
var demoAreaCodes = [...]string{"415", "310", "212", "702", "503", "206", "312", "617", "305", "512", "303", "404", "602", "619", "213", "646", "801", "916", "971", "808"}

// demoPhone is the k-th demo contact's number: valid, so the contact can be
// edited and merged, and made up. The first 2,000 are in the 555-0100 to
// 555-0199 range set aside for fiction in every area code; after that the
// 555 exchange, which holds no ordinary subscriber lines, serves up to
// about 200,000 contacts without a repeat.
func demoPhone(k int) string {
	n := len(demoAreaCodes)
	if k < 100*n {
		return fmt.Sprintf("+1%s555%04d", demoAreaCodes[k/100], 100+k%100)
	}
	j := k - 100*n
	return fmt.Sprintf("+1%s555%04d", demoAreaCodes[j%n], 200+(j/n)%9800)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// bind binds v (nil, string, int, int64 or bool) to parameter i; any other
// type is a programming error and panics rather than binding NULL.
func bind(stmt *sqlite.Stmt, i int, v any) {
	switch x := v.(type) {
	case nil:
		stmt.BindNull(i)
	case string:
		stmt.BindText(i, x)
	case int:
		stmt.BindInt64(i, int64(x))
	case int64:
		stmt.BindInt64(i, x)
	case bool:
		stmt.BindBool(i, x)
	default:
		panic(fmt.Sprintf("bind: unsupported type %T", v))
	}
}

func step(stmt *sqlite.Stmt) error {
	_, err := stmt.Step()
	if rerr := stmt.Reset(); err == nil {
		err = rerr
	}
	return err
}
