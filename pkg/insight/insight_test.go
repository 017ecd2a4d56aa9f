package insight_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/internal/fakeai"
	"github.com/pi-crm/pi-crm/pkg/ai"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/insight"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/todo"
)

var now = time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)

type seeded struct {
	app        *apptest.App
	ann, bob   *apptest.User
	ws, other  string
	maria, ned string
	prospects  string
	vip        string // a tag with a 3-day cadence, Ned in it
}

func exec(t *testing.T, app *apptest.App, q string, args ...any) {
	t.Helper()
	if err := app.DB.Write(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args})
	}); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// stage is the workspace's Prospects stage (a default one).
func stage(t *testing.T, app *apptest.App, wsID string) string {
	t.Helper()
	var id string
	_ = app.DB.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT id FROM lists WHERE workspace_id = ? AND kind = 'stage' AND name = 'Prospects'`, &sqlitex.ExecOptions{Args: []any{wsID},
			ResultFunc: func(st *sqlite.Stmt) error { id = st.ColumnText(0); return nil }})
	})
	if id == "" {
		t.Fatal("no Prospects stage")
	}
	return id
}

func ago(days int) string { return store.FormatTime(now.AddDate(0, 0, -days)) }

// seed makes Ann's workspace: Maria, a prospect quiet for 90 days (inactive
// and stalled); Ned, a prospect heard from last week (neither); Bea,
// whose birthday is in three days; Carl and Carla, sharing an address;
// two nearly identical templates and a different one. Bob's workspace
// has a quiet prospect too, which never shows in Ann's.
func seed(t *testing.T) seeded {
	app := apptest.New(t, apptest.Options{})
	s := seeded{app: app, ann: app.NewUser("Ann"), bob: app.NewUser("Bob")}
	s.ws, s.other = s.ann.Workspace("Loans").ID, s.bob.Workspace("Homes").ID
	s.prospects = stage(t, app, s.ws)
	m := s.ann.Contact(s.ws, "Maria", "maria@example.com")
	n := s.ann.Contact(s.ws, "Ned", "ned@example.com")
	s.maria, s.ned = m.ID, n.ID
	exec(t, app, `UPDATE contacts SET stage_id = ?, created_at = ?, stage_changed_at = ?, last_contact_at = ? WHERE id = ?`, s.prospects, ago(120), ago(100), ago(90), m.ID)
	exec(t, app, `UPDATE contacts SET stage_id = ?, created_at = ?, stage_changed_at = ?, last_contact_at = ? WHERE id = ?`, s.prospects, ago(120), ago(5), ago(5), n.ID)
	// Cleo, quiet as long, but a campaign reached her five days ago: not
	// quiet for the suggestion, though campaign mail is no personal contact.
	cleo := s.ann.Contact(s.ws, "Cleo", "cleo@example.com")
	exec(t, app, `UPDATE contacts SET stage_id = ?, created_at = ?, stage_changed_at = ?, last_contact_at = ? WHERE id = ?`, s.prospects, ago(120), ago(5), ago(90), cleo.ID)
	exec(t, app, `INSERT INTO outbox (id, workspace_id, user_id, contact_id, channel, dedupe_key, message_id, provider, to_addr, from_addr, state, due_at, sent_at, created_at, updated_at, bulk)
VALUES (?, ?, ?, ?, 'email', 'campaign:x:0:cleo', 'cleo-1@example.com', 'file', 'cleo@example.com', 'ann@example.com', 'sent', ?5, ?5, ?5, ?5, 1)`, store.NewID(), s.ws, s.ann.ID, cleo.ID, ago(5))
	s.vip = store.NewID()
	exec(t, app, `INSERT INTO lists (id, workspace_id, kind, name, position, created_at, cadence_days) VALUES (?, ?, 'tag', 'VIP', 1, ?, 3)`, s.vip, s.ws, ago(200))
	exec(t, app, `INSERT INTO contact_tags (contact_id, list_id) VALUES (?, ?)`, n.ID, s.vip)
	bea := s.ann.Contact(s.ws, "Bea", "bea@example.com")
	exec(t, app, `UPDATE contacts SET birthday_month = 12, birthday_day = 10 WHERE id = ?`, bea.ID)
	s.ann.Contact(s.ws, "Carl", "carl@example.com")
	s.ann.Contact(s.ws, "Carla", "carl@example.com")
	body := "<p>Hi {{first_name}}, rates moved this week and your home may qualify for a lower payment. Reply and I will run the numbers for you today.</p>"
	exec(t, app, `INSERT INTO email_templates (id, workspace_id, name, subject, body_html, created_at, updated_at) VALUES
(?1, ?2, 'Rate drop', 'Rates dropped', ?3, ?4, ?4), (?5, ?2, 'Rate drop (copy)', 'Rates dropped', ?6, ?4, ?4), (?7, ?2, 'Open house', 'Come see it', '<p>Saturday at noon, 12 Elm St.</p>', ?4, ?4)`,
		store.NewID(), s.ws, body, ago(30), store.NewID(), strings.Replace(body, "today.", "today!", 1), store.NewID())
	bobStage := stage(t, app, s.other)
	z := s.bob.Contact(s.other, "Zed", "zed@example.com")
	exec(t, app, `UPDATE contacts SET stage_id = ?, created_at = ?, stage_changed_at = ?, last_contact_at = ? WHERE id = ?`, bobStage, ago(120), ago(100), ago(90), z.ID)
	return s
}

func keys(ins []insight.Insight) []string {
	var out []string
	for _, i := range ins {
		out = append(out, i.Key)
	}
	return out
}

func run(t *testing.T, e *insight.Engine) insight.Stats {
	t.Helper()
	st, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestFindersOnSeededData: with no model the run finds exactly the
// expected insights, ranked the same on every run; another user's data
// never shows; Bob cannot read, dismiss or act on Ann's.
func TestFindersOnSeededData(t *testing.T) {
	s := seed(t)
	ctx := context.Background()
	e := insight.NewEngine(s.app.DB, nil, nil)
	e.SetClock(func() time.Time { return now })
	run(t, e)
	got, err := s.app.Insights.Open(ctx, s.ann.Actor, s.ws, 20)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"inactive:" + s.prospects: true, "stalled:" + s.prospects: true, "duplicates": true, "inactive:" + s.vip: true}
	var birthday, similar bool
	for _, in := range got {
		switch {
		case want[in.Key]:
			delete(want, in.Key)
		case in.Kind == insight.KindBirthday && strings.HasSuffix(in.Key, ":2026-12-10"):
			birthday = true
			if in.Subject != "Bea's birthday is on Thursday, December 10" || in.Ref.DueOn != "2026-12-10" {
				t.Errorf("birthday %+v", in)
			}
		case in.Kind == insight.KindSimilar:
			similar = true
			if !strings.Contains(in.Subject, "Rate drop") || strings.Contains(in.Subject, "Open house") {
				t.Errorf("similar templates %+v", in)
			}
		default:
			t.Errorf("unexpected insight %s: %s", in.Key, in.Subject)
		}
		if in.WorkspaceID != s.ws {
			t.Errorf("insight of another workspace: %+v", in)
		}
	}
	if len(want) > 0 || !birthday || !similar {
		t.Fatalf("missing %v (birthday %v, similar %v) in %v", want, birthday, similar, keys(got))
	}
	for _, in := range got {
		if in.Key == "inactive:"+s.prospects && (!strings.Contains(in.Subject, "1 contact in Prospects not contacted in 60 days") || !strings.Contains(in.Evidence, "Maria") || strings.Contains(in.Evidence, "Ned") || strings.Contains(in.Evidence, "Cleo")) {
			t.Errorf("inactive %+v", in)
		}
		if in.Key == "inactive:"+s.vip && (in.Subject != "1 contact in VIP not contacted in 3 days" || in.Ref.Query["tag_id"] != s.vip || !strings.Contains(in.Evidence, "Ned")) {
			t.Errorf("quiet VIP %+v", in)
		}
		if strings.HasPrefix(in.Key, "stalled:") && in.Ref.ContactID != s.maria {
			t.Errorf("stalled %+v", in)
		}
		if in.Key == "inactive:"+s.prospects && (!strings.Contains(in.URL(), "stage_id="+s.prospects) || !strings.Contains(in.URL(), "stale_days=60") || !strings.Contains(in.URL(), "not_within_days=60")) {
			t.Errorf("re-engagement campaign link %q", in.URL())
		}
	}
	// the same every run
	st := run(t, e)
	again, _ := s.app.Insights.Open(ctx, s.ann.Actor, s.ws, 20)
	if fmt.Sprint(keys(again)) != fmt.Sprint(keys(got)) || st.New != 0 || st.Gone != 0 {
		t.Fatalf("second run differs: %v vs %v (%+v)", keys(again), keys(got), st)
	}
	// Bob's quiet prospect is his own.
	if theirs, _ := s.app.Insights.Open(ctx, s.bob.Actor, s.other, 20); len(theirs) != 2 {
		t.Fatalf("Bob's insights %v", keys(theirs))
	}
	if _, err := s.app.Insights.Open(ctx, s.bob.Actor, s.ws, 20); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("Bob reads Ann's: %v", err)
	}
	if err := s.app.Insights.Dismiss(ctx, s.bob.Actor, s.other, got[0].ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("Bob dismisses Ann's through his workspace: %v", err)
	}
	if _, err := s.app.Insights.Act(ctx, s.bob.Actor, s.other, got[0].ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("Bob acts on Ann's: %v", err)
	}
}

// TestDismissSticksUntilFactsChange: a dismissed insight stays dismissed
// over runs while its facts are the same, comes back when they change,
// and goes when its cause is gone; acting on a to-do insight makes one
// to-do however often it is pressed; feedback is kept.
func TestDismissSticksUntilFactsChange(t *testing.T) {
	s := seed(t)
	ctx := context.Background()
	e := insight.NewEngine(s.app.DB, nil, nil)
	e.SetClock(func() time.Time { return now })
	run(t, e)
	find := func(key string) (insight.Insight, bool) {
		got, _ := s.app.Insights.Open(ctx, s.ann.Actor, s.ws, 50)
		for _, in := range got {
			if in.Key == key {
				return in, true
			}
		}
		return insight.Insight{}, false
	}
	key := "inactive:" + s.prospects
	in, ok := find(key)
	if !ok {
		t.Fatal("no inactive insight")
	}
	if err := s.app.Insights.Dismiss(ctx, s.ann.Actor, s.ws, in.ID); err != nil {
		t.Fatal(err)
	}
	run(t, e)
	run(t, e)
	if _, ok := find(key); ok {
		t.Fatal("a dismissed insight came back with the same facts")
	}
	// Ned goes quiet too: the facts changed, the insight returns.
	exec(t, s.app, `UPDATE contacts SET last_contact_at = ? WHERE id = ?`, ago(70), s.ned)
	if st := run(t, e); st.Back == 0 {
		t.Fatalf("run stats %+v", st)
	}
	back, ok := find(key)
	if !ok || !strings.Contains(back.Subject, "2 contacts") || back.ID != in.ID {
		t.Fatalf("changed facts did not bring it back: %+v %v", back, ok)
	}
	// Both heard from: the insight is gone.
	exec(t, s.app, `UPDATE contacts SET last_contact_at = ? WHERE stage_id = ?`, ago(1), s.prospects)
	if st := run(t, e); st.Gone == 0 {
		t.Fatalf("run stats %+v", st)
	}
	if _, ok := find(key); ok {
		t.Fatal("an insight whose cause is gone still shows")
	}

	// Acting on the birthday makes its to-do, once.
	var bday insight.Insight
	got, _ := s.app.Insights.Open(ctx, s.ann.Actor, s.ws, 50, insight.KindBirthday)
	if len(got) != 1 {
		t.Fatalf("birthdays %v", keys(got))
	}
	bday = got[0]
	for range 2 {
		if to, err := s.app.Insights.Act(ctx, s.ann.Actor, s.ws, bday.ID); err != nil || !strings.HasSuffix(to, "/todos") {
			t.Fatalf("act: %q %v", to, err)
		}
	}
	todos, _ := s.app.Todos.List(ctx, s.ann.Actor, s.ws, false, 10)
	if len(todos) != 1 || todos[0].Title != "Wish Bea a happy birthday" || todos[0].DueOn != "2026-12-10" || todos[0].Source != todo.ByInsight {
		t.Fatalf("to-dos %+v", todos)
	}
	run(t, e)
	if got, _ := s.app.Insights.Open(ctx, s.ann.Actor, s.ws, 50, insight.KindBirthday); len(got) != 0 {
		t.Fatal("an acted-on insight shows again")
	}
	dup, _ := find("duplicates")
	if err := s.app.Insights.Feedback(ctx, s.ann.Actor, s.ws, dup.ID, false); err != nil {
		t.Fatal(err)
	}
	var fb string
	_ = s.app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT feedback FROM insights WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{dup.ID},
			ResultFunc: func(st *sqlite.Stmt) error { fb = st.ColumnText(0); return nil }})
	})
	if fb != "not_useful" {
		t.Fatalf("feedback %q", fb)
	}
	rows, _ := s.app.Audit.List(ctx, s.ann.ID, "", 200)
	seen := map[string]bool{}
	for _, r := range rows.Entries {
		seen[r.Action] = true
	}
	if !seen["insight.dismiss"] || !seen["insight.act"] || !seen["insight.feedback"] {
		t.Fatalf("audit rows %v", seen)
	}
}

// TestModelPhrasesAndRanks: with the local model server the open
// insights are worded and ranked by it (only keys it was given), and its
// income idea is kept once a week, marked as the model's.
func TestModelPhrasesAndRanks(t *testing.T) {
	s := seed(t)
	ctx := context.Background()
	answer := func(text string) string {
		b, _ := json.Marshal(map[string]any{
			"items": []map[string]any{{"key": "duplicates", "text": text, "rank": 0.99}, {"key": "not-given", "text": "x", "rank": 1}},
			"idea":  map[string]any{"title": "Host a first-time buyer night", "why": "Three prospects", "estimate": "$6,000 from one closing", "steps": []string{"Book a room", "Invite the prospects"}},
		})
		return string(b)
	}
	srv := fakeai.New(fakeai.Answer{Content: answer("Merge Carl and Carla so no one gets two emails.")})
	defer srv.Close()
	c := ai.New(ai.Config{BaseURL: srv.URL(), Model: "local", Timeout: 10 * time.Second, MaxTokens: 1000})
	model := func(ctx context.Context, system, user, name string, schema json.RawMessage, out any) error {
		_, err := c.JSON(ctx, system, user, name, schema, out)
		return err
	}
	e := insight.NewEngine(s.app.DB, model, nil)
	e.SetClock(func() time.Time { return now })
	if st := run(t, e); st.Phrased != 1 {
		t.Fatalf("stats %+v", st)
	}
	got, _ := s.app.Insights.Open(ctx, s.ann.Actor, s.ws, 50)
	if len(got) < 2 || got[0].Key != "duplicates" || got[0].Text() != "Merge Carl and Carla so no one gets two emails." {
		t.Fatalf("first insight %+v", got[0])
	}
	var idea *insight.Insight
	for i := range got {
		if got[i].Kind == insight.KindIdea {
			idea = &got[i]
		}
	}
	if idea == nil || !idea.ByModel || idea.Ref.Estimate != "$6,000 from one closing" || len(idea.Ref.Steps) != 2 {
		t.Fatalf("income idea %+v", idea)
	}
	reqs := srv.Requests()
	if len(reqs) == 0 || !strings.Contains(reqs[0].User, "Maria") && !strings.Contains(reqs[0].User, "inactive:") {
		t.Fatalf("the model was not given the insights: %+v", reqs)
	}
	// A second run asks nothing: all phrased, the week's idea kept.
	n := len(srv.Requests())
	run(t, e)
	if len(srv.Requests()) != n {
		t.Fatalf("requests %d then %d", n, len(srv.Requests()))
	}
	ideas := 0
	all, _ := s.app.Insights.Open(ctx, s.ann.Actor, s.ws, 50, insight.KindIdea)
	ideas = len(all)
	if ideas != 1 {
		t.Fatalf("ideas after two runs: %d", ideas)
	}
}

// TestTemplatePerformance: from the outbox, the providers' events and the
// replies, a template bouncing 15% shows with its figures, one replied to
// far more than the rest shows as the one to start from, and a template
// with too few sends says nothing.
func TestTemplatePerformance(t *testing.T) {
	s := seed(t)
	ctx := context.Background()
	tpl := func(name string) string {
		id := store.NewID()
		exec(t, s.app, `INSERT INTO email_templates (id, workspace_id, name, subject, body_html, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id, s.ws, name, name, "<p>"+name+" "+id+"</p>", ago(50), ago(50))
		return id
	}
	bouncy, liked, few := tpl("Spring list"), tpl("Coffee chat"), tpl("Rare")
	send := func(tplID string, n, bounced, replied int) {
		for i := range n {
			id := store.NewID()
			exec(t, s.app, `INSERT INTO outbox (id, workspace_id, user_id, channel, dedupe_key, message_id, provider, to_addr, from_addr, template_id, state, due_at, sent_at, created_at, updated_at)
VALUES (?1, ?2, ?3, 'email', ?1, ?1, 'file', 'x@example.com', 'ann@example.com', ?4, 'sent', ?5, ?5, ?5, ?5)`, id, s.ws, s.ann.ID, tplID, ago(10))
			exec(t, s.app, `INSERT INTO provider_events (provider, event_id, workspace_id, kind, outbox_id, occurred_at, via, recorded_at) VALUES ('file', ?1, ?2, ?3, ?4, ?5, 'poll', ?5)`,
				store.NewID(), s.ws, map[bool]string{true: "bounced", false: "delivered"}[i < bounced], id, ago(9))
			if i >= bounced && i < bounced+replied {
				exec(t, s.app, `INSERT INTO inbound_emails (provider, provider_id, workspace_id, from_email, outbox_id, received_at, recorded_at) VALUES ('file', ?1, ?2, 'x@example.com', ?3, ?4, ?4)`,
					store.NewID(), s.ws, id, ago(8))
			}
		}
	}
	send(bouncy, 20, 3, 0)
	send(liked, 20, 0, 6)
	send(few, 5, 5, 0)
	e := insight.NewEngine(s.app.DB, nil, nil)
	e.SetClock(func() time.Time { return now })
	run(t, e)
	got, _ := s.app.Insights.Open(ctx, s.ann.Actor, s.ws, 50, insight.KindTemplate)
	found := map[string]insight.Insight{}
	for _, in := range got {
		found[in.Key] = in
	}
	b, ok := found["bounces:"+bouncy]
	if !ok || b.Subject != `"Spring list" bounces 15% of the time` || !strings.Contains(b.Evidence, "20 sent, 17 delivered, 3 bounced") || !strings.HasSuffix(b.URL(), "/templates/"+bouncy) {
		t.Fatalf("bounce insight %+v in %v", b, keys(got))
	}
	r, ok := found["replies:"+liked]
	if !ok || r.Subject != `"Coffee chat" gets 30% replies, your other templates 0%` {
		t.Fatalf("replies insight %+v in %v", r, keys(got))
	}
	if len(found) != 2 {
		t.Fatalf("template insights %v: a template with 5 sends says nothing", keys(got))
	}
}

// TestReplyDay: the weekday whose sends get replies stands out (in the
// workspace's zone), and with replies spread evenly nothing does.
func TestReplyDay(t *testing.T) {
	s := seed(t)
	ctx := context.Background()
	exec(t, s.app, `UPDATE workspace_settings SET time_zone = 'America/Los_Angeles' WHERE workspace_id = ?`, s.ws)
	// 2026-11-03 is a Tuesday; 03:00 UTC on Wednesday is Tuesday evening in Los Angeles
	send := func(day time.Time, n, replied int) {
		for i := range n {
			id := store.NewID()
			at := store.FormatTime(day)
			exec(t, s.app, `INSERT INTO outbox (id, workspace_id, user_id, channel, dedupe_key, message_id, provider, to_addr, from_addr, state, due_at, sent_at, created_at, updated_at)
VALUES (?1, ?2, ?3, 'email', ?1, ?1, 'file', 'x@example.com', 'ann@example.com', 'sent', ?4, ?4, ?4, ?4)`, id, s.ws, s.ann.ID, at)
			if i < replied {
				exec(t, s.app, `INSERT INTO inbound_emails (provider, provider_id, workspace_id, from_email, outbox_id, received_at, recorded_at) VALUES ('file', ?1, ?2, 'x@example.com', ?3, ?4, ?4)`,
					store.NewID(), s.ws, id, at)
			}
		}
	}
	tuesdayEvening := time.Date(2026, 11, 4, 3, 0, 0, 0, time.UTC)
	send(tuesdayEvening, 20, 8)
	send(tuesdayEvening.AddDate(0, 0, 2), 20, 1) // Thursday
	send(tuesdayEvening.AddDate(0, 0, 3), 20, 1) // Friday
	e := insight.NewEngine(s.app.DB, nil, nil)
	e.SetClock(func() time.Time { return now })
	run(t, e)
	got, _ := s.app.Insights.Open(ctx, s.ann.Actor, s.ws, 10, insight.KindUsage)
	if len(got) != 1 || got[0].Subject != "Emails you send on Tuesdays get 2.4× the replies" || !strings.Contains(got[0].Evidence, "8 of 20 sent on Tuesdays") {
		t.Fatalf("reply day: %+v", got)
	}
	// replies on the other days too: no day stands out, the card goes
	send(tuesdayEvening.AddDate(0, 0, 2), 10, 10)
	send(tuesdayEvening.AddDate(0, 0, 3), 10, 10)
	run(t, e)
	if got, _ := s.app.Insights.Open(ctx, s.ann.Actor, s.ws, 10, insight.KindUsage); len(got) != 0 {
		t.Fatalf("reply day with even replies: %+v", got)
	}
}
