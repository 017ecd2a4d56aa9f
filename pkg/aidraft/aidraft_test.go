package aidraft_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/internal/fakeai"
	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/ai"
	"github.com/pi-crm/pi-crm/pkg/aidraft"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/jobs"
)

// run starts crm-insights' job runner for the AI kind against srv.
func run(t *testing.T, app *apptest.App, srv *fakeai.Server, timeout time.Duration) {
	t.Helper()
	cfg := ai.Config{BaseURL: srv.URL(), Model: "test-model", Timeout: timeout}
	if err := aidraft.SetModel(context.Background(), app.DB, cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r := jobs.NewRunner(app.DB, slog.New(slog.NewTextHandler(io.Discard, nil)), aidraft.Kind(app.DB, ai.New(cfg), cfg.Endpoint()))
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func wait(t *testing.T, app *apptest.App, u *apptest.User, wsID, id string, d time.Duration) aidraft.Request {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		r, err := app.Drafts.Get(context.Background(), u.Actor, wsID, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Ended() || time.Now().After(deadline) {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDraftJobs(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	ctx := context.Background()
	andy, mona := app.NewUser("Andy"), app.NewUser("Mona")
	lf := andy.Workspace("Loan Factory")
	tom := andy.Contact(lf.ID, "Tom", "tom@example.com")
	srv := fakeai.New(fakeai.Answer{Content: fakeai.DraftJSON("Rates dropped", "Look again",
		`<p onclick="x()">Hi {{first_name}}</p><script>alert(1)</script><a href="javascript:alert(2)">go</a><img src="data:image/png;base64,AAAA">`)})
	defer srv.Close()

	// A busy server first (429 with Retry-After), then the answer: the job
	// waits what the server said and the page hears why.
	srv.Then(fakeai.Answer{Status: 429, Header: map[string]string{"Retry-After": "1"}, Body: `{"error":{"message":"Too many requests","type":"rate_limit"}}`})
	run(t, app, srv, 5*time.Second)
	req, err := app.Drafts.Ask(ctx, andy.Actor, lf.ID, tom.ID, "", ai.Brief{Goal: "Rate drop", Tone: "Friendly", Workspace: lf.Name, Placeholders: []string{"first_name"}})
	if err != nil {
		t.Fatal(err)
	}
	sawRetrying := false
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r, _ := app.Drafts.Get(ctx, andy.Actor, lf.ID, req.ID)
		if r.Status == aidraft.Retrying && strings.Contains(r.Detail, "busy (429)") && strings.Contains(r.Detail, "Trying again in 1s") {
			sawRetrying = true
		}
		if r.Ended() {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := wait(t, app, andy, lf.ID, req.ID, time.Second)
	if !sawRetrying || r.Status != aidraft.Done || r.Draft == nil || r.Draft.Subject != "Rates dropped" {
		t.Fatalf("saw retrying %v; ended %s %q %+v", sawRetrying, r.Status, r.Detail, r.Draft)
	}
	if reqs := srv.Requests(); len(reqs) != 2 || reqs[1].At.Sub(reqs[0].At) < 900*time.Millisecond {
		t.Fatalf("%d requests; the retry came %s after the 429", len(reqs), reqs[len(reqs)-1].At.Sub(reqs[0].At))
	}
	// The model's HTML is sanitized like a user's.
	low := strings.ToLower(r.Draft.Body)
	for _, bad := range []string{"onclick", "<script", "javascript:", "data:"} {
		if strings.Contains(low, bad) {
			t.Errorf("the stored draft keeps %q: %s", bad, r.Draft.Body)
		}
	}
	if !strings.Contains(r.Draft.Body, "Hi {{first_name}}") {
		t.Errorf("the draft lost its text: %s", r.Draft.Body)
	}
	// Both calls are recorded; the contact's log shows them.
	calls, err := app.Drafts.Calls(ctx, andy.Actor, lf.ID, req.ID)
	if err != nil || len(calls) != 2 || calls[0].HTTPStatus != 429 || calls[1].Outcome != "ok" || calls[1].PromptTokens != 321 || calls[1].Model != "test-model" ||
		!strings.Contains(calls[1].Prompt, "Goal: Rate drop") {
		t.Fatalf("calls %+v (%v)", calls, err)
	}
	lg, err := app.Contacts.Log(ctx, andy.Actor, lf.ID, tom.ID, activity.TabByKey("ai"), "")
	if err != nil || len(lg.Entries) != 2 {
		t.Fatalf("AI Interactions: %+v (%v)", lg.Entries, err)
	}

	// A request belongs to its workspace: not there under another of the
	// same user's.
	mai := andy.Workspace("MaiStory")
	if _, err := app.Drafts.Get(ctx, andy.Actor, mai.ID, req.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("andy's Loan Factory request under MaiStory: %v", err)
	}
	// Someone else's request is not there for them.
	if _, err := app.Drafts.Get(ctx, mona.Actor, lf.ID, req.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("mona reads andy's request: %v", err)
	}
	if _, err := app.Drafts.Ask(ctx, mona.Actor, lf.ID, "", "", ai.Brief{Goal: "x"}); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("mona asks in andy's workspace: %v", err)
	}
	if _, err := app.Drafts.Ask(ctx, andy.Actor, lf.ID, "", "", ai.Brief{}); errs.As(err) == nil || errs.As(err).Fields["goal"] == "" {
		t.Fatalf("an empty brief: %v", err)
	}

	// Answers another try cannot cure fail at once with the reason.
	for _, a := range []fakeai.Answer{
		{Content: `{"subject": "cut`, Finish: "length"},
		{Status: 401, Body: `{"error":{"message":"bad key","type":"auth"}}`},
	} {
		srv.Then(a)
		q, err := app.Drafts.Ask(ctx, andy.Actor, lf.ID, "", "", ai.Brief{Goal: "x"})
		if err != nil {
			t.Fatal(err)
		}
		r := wait(t, app, andy, lf.ID, q.ID, 5*time.Second)
		if r.Status != aidraft.Failed || (!strings.Contains(r.Detail, "cut off") && !strings.Contains(r.Detail, "refused the key")) {
			t.Errorf("%+v: ended %s %q", a, r.Status, r.Detail)
		}
	}
}

// TestHungModelTimesOut: a server that never answers ends as a readable
// failure after the retries, not a request that waits forever.
func TestHungModelTimesOut(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("AI Consulting")
	srv := fakeai.New(fakeai.Answer{Hang: time.Minute})
	defer srv.Close()
	run(t, app, srv, 200*time.Millisecond)
	// The kind backs off 2 s, 4 s, ... between its five attempts; this
	// test takes the first failure and checks what the page will say.
	q, err := app.Drafts.Ask(context.Background(), andy.Actor, ws.ID, "", "", ai.Brief{Goal: "x"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r, _ := app.Drafts.Get(context.Background(), andy.Actor, ws.ID, q.ID)
		if r.Status == aidraft.Retrying {
			if !strings.Contains(r.Detail, "did not answer within 200ms") {
				t.Fatalf("detail %q", r.Detail)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the hung call never turned into a retry with a reason")
}
