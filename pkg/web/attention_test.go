package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/mailer"
)

// TestDashboardAttention: replies and other emails in, a provider that
// needs signing in again, and texts from unknown numbers show on the
// workspace's dashboard, newest first; marking one done removes it (and
// is audited); another user sees none of them and cannot mark them.
func TestDashboardAttention(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	andy, mona := app.NewUser("Andy"), app.NewUser("Mona")
	ws, monaWS := andy.Workspace("Loan Factory"), mona.Workspace("Coldwell")
	tom := andy.Contact(ws.ID, "Tom", "tom@example.com")
	ctx := context.Background()
	if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		for _, e := range []events.Email{
			{Provider: "google", ID: "m1", WorkspaceID: ws.ID, From: "tom@example.com", Subject: "Question about rates", Snippet: "Can we talk", At: time.Now().Add(-time.Hour)},
			{Provider: "google", ID: "m2", WorkspaceID: ws.ID, From: "stranger@example.net", Subject: "Hello there", Snippet: "Who are you", At: time.Now()},
		} {
			if _, err := events.Incoming(conn, e); err != nil {
				return err
			}
		}
		_, err := events.Inbound(conn, "SM9", "+14155550999", "+14155550100", "Is this the realtor?", "poll", time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Providers.Set(ctx, andy.Actor, ws.ID, mailer.Change{Kind: mailer.KindFile, FromEmail: "andy@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		return mailer.SetProblem(conn, ws.ID, "Google no longer accepts this workspace's sign-in.")
	}); err != nil {
		t.Fatal(err)
	}
	body := dashboard(t, app, andy.Client, "/w/"+ws.ID)
	for _, want := range []string{`id="attention"`, "no longer accepts", "Question about rates", "/contacts/" + tom.ID, "stranger@example.net (no contact has this address)", "Is this the realtor?"} {
		if !strings.Contains(body, want) {
			t.Errorf("the dashboard lacks %q", want)
		}
	}
	if i, j := strings.Index(body, "Hello there"), strings.Index(body, "Question about rates"); i < 0 || j < 0 || i > j {
		t.Errorf("not newest first: %d %d", i, j)
	}
	_, monaBody := app.Do(mona.Client, http.MethodGet, "/w/"+monaWS.ID, nil, nil)
	if strings.Contains(monaBody, "Question about rates") || strings.Contains(monaBody, "Hello there") || strings.Contains(monaBody, "no longer accepts") {
		t.Fatal("another user's dashboard shows Andy's emails")
	}
	for _, path := range []string{"/w/" + monaWS.ID, "/w/" + ws.ID} {
		resp := app.PostForm(mona.Client, path+"/attention/email/google/done", url.Values{"id": {"m1"}})
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("Mona marking Andy's email done under %s: %d", path, resp.StatusCode)
		}
	}
	if resp := app.PostForm(andy.Client, "/w/"+ws.ID+"/attention/email/google/done", url.Values{"id": {"m1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("mark done: %d", resp.StatusCode)
	}
	if resp := app.PostForm(andy.Client, "/w/"+ws.ID+"/attention/email/google/done", url.Values{"id": {"m1"}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("mark done twice: %d", resp.StatusCode)
	}
	if resp := app.PostForm(andy.Client, "/w/"+ws.ID+"/attention/text/done", url.Values{"sid": {"SM9"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("mark the text done: %d", resp.StatusCode)
	}
	body = dashboard(t, app, andy.Client, "/w/"+ws.ID)
	if strings.Contains(body, "Question about rates") || strings.Contains(body, "Is this the realtor?") || !strings.Contains(body, "Hello there") {
		t.Fatalf("after marking done: %s", apptest.Trim(body))
	}
	n := 0
	if err := app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*) FROM audit_log WHERE action = 'attention.done'`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }})
	}); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d audit rows, want 2", n)
	}
}
