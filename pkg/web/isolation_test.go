package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/internal/fakeai"
	"github.com/pi-crm/pi-crm/pkg/ai"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/compose"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/todo"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

type route struct{ method, pattern string }

func walk(t *testing.T, h chi.Routes) []route {
	t.Helper()
	var routes []route
	err := chi.Walk(h, func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, route{method, strings.TrimSuffix(pattern, "/*")})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return routes
}

// TestIsolationEveryRoute asks every route that names an object for another
// user's object, in the page UI and the API alike, and wants 404: not 403,
// not 200, nothing that tells the object exists.
func TestIsolationEveryRoute(t *testing.T) {
	app := apptest.New(t, apptest.Options{APIBurst: 10000, APIRate: 10000})
	ctx := context.Background()
	andy := app.NewUser("Andy")
	mona := app.NewUser("Monalisa")
	monaWS := mona.Workspace("Coldwell Banker Contacts")
	andyWS := andy.Workspace("Loan Factory")
	_, monaKey, err := app.Auth.CreateAPIKey(ctx, mona.Actor, auth.NewAPIKey{Name: "k", Scopes: auth.Scopes})
	if err != nil {
		t.Fatal(err)
	}
	monaContact := mona.Contact(monaWS.ID, "Secret", "secret@example.com")
	monaStages, _ := app.Lists.All(ctx, mona.Actor, monaWS.ID, list.Stage)
	monaField, err := app.Contacts.CreateField(ctx, mona.Actor, monaWS.ID, contact.FieldDef{Name: "Secret", Type: "text"}, true)
	if err != nil {
		t.Fatal(err)
	}
	monaTpl, err := app.Templates.Create(ctx, mona.Actor, monaWS.ID, emailtemplate.Change{Name: "Secret", Subject: "s", BodyHTML: "<p>secret</p>"})
	if err != nil {
		t.Fatal(err)
	}
	monaImg, err := app.Images.Upload(ctx, mona.Actor, monaWS.ID, "secret.png", tinyPNG(t))
	if err != nil {
		t.Fatal(err)
	}
	monaReq, err := app.Drafts.Ask(ctx, mona.Actor, monaWS.ID, "", "", ai.Brief{Goal: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	monaFav, err := app.Templates.AddFavorite(ctx, mona.Actor, monaWS.ID, monaTpl.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Providers.Set(ctx, mona.Actor, monaWS.ID, mailer.Change{Kind: mailer.KindFile, FromEmail: "mona@example.com"}); err != nil {
		t.Fatal(err)
	}
	monaMsg, err := app.Compose.Email(ctx, mona.Actor, monaWS.ID, compose.Draft{RequestID: "secret", ContactID: monaContact.ID, Subject: "Secret", BodyHTML: "<p>secret</p>"})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := app.Workspaces.Update(ctx, mona.Actor, monaWS.ID, workspace.Change{CampaignsNeedApproval: &yes, ApproverUserID: &mona.Actor.UserID}); err != nil {
		t.Fatal(err)
	}
	monaSegment, err := app.Campaigns.CreateSegment(ctx, mona.Actor, monaWS.ID, "Secret", campaign.Segment{})
	if err != nil {
		t.Fatal(err)
	}
	monaCampaign, err := app.Campaigns.Create(ctx, mona.Actor, monaWS.ID, campaign.Change{Name: "Secret", TemplateID: monaTpl.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Campaigns.Submit(ctx, mona.Actor, monaWS.ID, monaCampaign.ID); err != nil {
		t.Fatal(err)
	}
	monaTodo, err := app.Todos.Create(ctx, mona.Actor, monaWS.ID, todo.Change{Title: "Secret", ContactID: monaContact.ID})
	if err != nil {
		t.Fatal(err)
	}
	monaInsight := store.NewID()
	if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `INSERT INTO insights (id, workspace_id, kind, dedupe_key, subject, confidence, facts_hash, action, action_ref, created_at, updated_at)
VALUES (?, ?, 'birthday', 'birthday:x', 'Secret birthday', 1, 'h', 'todo', '{"title":"Secret"}', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')`, &sqlitex.ExecOptions{Args: []any{monaInsight, monaWS.ID}})
	}); err != nil {
		t.Fatal(err)
	}
	// Monalisa's objects, under her workspace and under Andy's own.
	params := map[string]string{"{ws}": monaWS.ID, "{id}": monaKey.ID, "{contact}": monaContact.ID, "{list}": monaStages[0].ID, "{user}": andy.ID, "{item}": monaContact.Emails[0].ID, "{field}": monaField.ID, "{tpl}": monaTpl.ID, "{img}": monaImg.ID, "{req}": monaReq.ID, "{fav}": monaFav.ID, "{msg}": monaMsg.Message.ID, "{provider}": "google", "{campaign}": monaCampaign.ID, "{segment}": monaSegment.ID, "{todo}": monaTodo.ID, "{insight}": monaInsight, "{widget}": "todos", "{file}": "not-a-secret.ics"}
	mixed := map[string]string{"{ws}": andyWS.ID, "{id}": monaKey.ID, "{contact}": monaContact.ID, "{list}": monaStages[0].ID, "{user}": andy.ID, "{item}": monaContact.Emails[0].ID, "{field}": monaField.ID, "{tpl}": monaTpl.ID, "{img}": monaImg.ID, "{req}": monaReq.ID, "{fav}": monaFav.ID, "{msg}": monaMsg.Message.ID, "{provider}": "google", "{campaign}": monaCampaign.ID, "{segment}": monaSegment.ID, "{todo}": monaTodo.ID, "{insight}": monaInsight, "{widget}": "todos", "{file}": "not-a-secret.ics"}
	fillWith := func(p string, params map[string]string) (string, bool) {
		named := false
		for k, v := range params {
			if strings.Contains(p, k) {
				p, named = strings.ReplaceAll(p, k, v), true
			}
		}
		if strings.Contains(p, "{") {
			t.Fatalf("route %s has a parameter this test does not know: add it", p)
		}
		return p, named
	}
	fill := func(p string) (string, bool) { return fillWith(p, params) }
	paths := func(pattern string) []string {
		p, named := fill(pattern)
		if !named {
			return nil
		}
		out := []string{p}
		// {widget} names no object: /w/<Andy's>/widgets/x is Andy's own
		if strings.Contains(pattern, "{ws}") && strings.Count(pattern, "{")-strings.Count(pattern, "{widget}") > 1 {
			m, _ := fillWith(pattern, mixed)
			out = append(out, m)
		}
		return out
	}

	t.Run("Pages", func(t *testing.T) {
		n := 0
		for _, r := range walk(t, app.Web.Handler().(chi.Routes)) {
			if strings.HasPrefix(r.pattern, "/api/") {
				continue
			}
			for _, path := range paths(r.pattern) {
				n++
				var resp *http.Response
				var body string
				if r.method == http.MethodPost {
					resp = app.PostForm(andy.Client, path, url.Values{"name": {"x"}, "confirm_name": {monaWS.Name}, "workspace_id": {andyWS.ID}, "viewer_id": {andy.ID}})
				} else {
					resp, body = app.Do(andy.Client, r.method, path, nil, nil)
				}
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s %s as another user: status=%d, want 404 %s", r.method, path, resp.StatusCode, apptest.Trim(body))
				}
			}
		}
		if n < 7 {
			t.Fatalf("only %d page routes name an object; the walk is broken", n)
		}
		// Nothing changed hands.
		if c, err := app.Contacts.Get(ctx, mona.Actor, monaWS.ID, monaContact.ID); err != nil || c.FirstName != "Secret" {
			t.Fatalf("Monalisa's contact after the attempts: %+v, %v", c, err)
		}
		if w, err := app.Workspaces.Get(ctx, mona.Actor, monaWS.ID); err != nil || w.Name != monaWS.Name {
			t.Fatalf("Monalisa's workspace after the attempts: %+v, %v", w, err)
		}
		keys, _ := app.Auth.APIKeys(context.Background(), mona.Actor)
		if len(keys) != 1 || keys[0].RevokedAt != nil {
			t.Fatalf("Monalisa's API key was touched: %+v", keys)
		}
		// The switcher too.
		resp, _ := app.Do(andy.Client, http.MethodGet, "/switch?ws="+monaWS.ID, nil, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /switch to another user's workspace: status=%d, want 404", resp.StatusCode)
		}
	})

	t.Run("API", func(t *testing.T) {
		key := andy.APIKey(auth.Scopes...)
		n := 0
		for _, r := range walk(t, app.API.Routes()) {
			for _, path := range paths(r.pattern) {
				n++
				body := `{"name":"x"}`
				switch {
				case strings.HasPrefix(r.pattern, "/approvals/"):
					body = `{"version":1,"notes":"x"}`
				case strings.HasSuffix(r.pattern, "/merge"):
					body = `{"source_id":"` + monaContact.ID + `"}`
				case strings.HasSuffix(r.pattern, "/save-as"), strings.HasSuffix(r.pattern, "/copy"):
					body = `{"workspace_id":"` + andyWS.ID + `"}`
				case strings.HasSuffix(r.pattern, "/shares"):
					body = `{"viewer_id":"` + andy.ID + `"}`
				case strings.HasSuffix(r.pattern, "/notes"):
					body = `{"html":"x"}`
				case strings.HasSuffix(r.pattern, "/calls"):
					body = `{"duration_seconds":60}`
				case strings.HasSuffix(r.pattern, "/enrollments"):
					body = `{"contact_id":"` + monaContact.ID + `"}`
				case strings.Contains(r.pattern, "/fields"):
					body = `{"name":"x","type":"text"}`
				case strings.Contains(r.pattern, "/contacts"):
					body = `{"first_name":"x"}`
				}
				resp, rb := app.APIDo(key, r.method, path, body)
				if resp.StatusCode != http.StatusNotFound || !strings.Contains(rb, `"code":"not_found"`) {
					t.Errorf("%s %s as another user: status=%d, want 404 in the envelope: %s", r.method, path, resp.StatusCode, apptest.Trim(rb))
				}
			}
		}
		if n < 3 {
			t.Fatalf("only %d API routes name an object; the walk is broken", n)
		}
		resp, body := app.APIDo(mona.APIKey(auth.ScopeWorkspacesRead), http.MethodGet, "/workspaces/"+monaWS.ID, "")
		apptest.Expect(t, resp, body, http.StatusOK)
	})

	t.Run("APIScopes", func(t *testing.T) {
		own := andy.Workspace("Scope Test")
		ownContact := andy.Contact(own.ID, "Own", "own@example.com")
		ownStages, _ := app.Lists.All(ctx, andy.Actor, own.ID, list.Stage)
		ownField, _ := app.Contacts.CreateField(ctx, andy.Actor, own.ID, contact.FieldDef{Name: "Own", Type: "text"}, false)
		ownTpl, err := app.Templates.Create(ctx, andy.Actor, own.ID, emailtemplate.Change{Name: "Own", Subject: "s", BodyHTML: "<p>own</p>"})
		if err != nil {
			t.Fatal(err)
		}
		ownCampaign, err := app.Campaigns.Create(ctx, andy.Actor, own.ID, campaign.Change{Name: "Own", TemplateID: ownTpl.ID})
		if err != nil {
			t.Fatal(err)
		}
		ownSegment, err := app.Campaigns.CreateSegment(ctx, andy.Actor, own.ID, "Own", campaign.Segment{})
		if err != nil {
			t.Fatal(err)
		}
		ownParams := map[string]string{"{ws}": own.ID, "{contact}": ownContact.ID, "{list}": ownStages[0].ID, "{user}": mona.ID, "{field}": ownField.ID, "{tpl}": ownTpl.ID, "{campaign}": ownCampaign.ID, "{segment}": ownSegment.ID}
		keys := map[string]string{}
		for _, s := range auth.Scopes {
			keys[s] = andy.APIKey(s)
		}
		for _, r := range walk(t, app.API.Routes()) {
			if r.pattern == "/me" {
				continue
			}
			path, _ := fillWith(r.pattern, ownParams)
			refused := 0
			for _, s := range auth.Scopes {
				resp, body := app.APIDo(keys[s], r.method, path, `{"name":"Scope Test 2"}`)
				if resp.StatusCode == http.StatusForbidden {
					if !strings.Contains(body, `"code":"missing_scope"`) {
						t.Errorf("%s %s: 403 without the missing_scope code: %s", r.method, r.pattern, body)
					}
					refused++
				}
			}
			if refused == 0 {
				t.Errorf("%s %s: no single-scope key was refused with 403: the route checks no scope", r.method, r.pattern)
			}
		}
	})
}

// TestSignedOutRedirects checks every page route sends a visitor without a
// session to the log-in page and changes nothing.
func TestSignedOutRedirects(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	mona := app.NewUser("Monalisa")
	ws := mona.Workspace("Coldwell Banker Contacts")
	anon := app.Client()
	for _, r := range walk(t, app.Web.Handler().(chi.Routes)) {
		switch {
		case strings.HasPrefix(r.pattern, "/api/"), strings.HasPrefix(r.pattern, "/static"),
			r.pattern == "/login", r.pattern == "/healthz",
			strings.HasPrefix(r.pattern, "/hooks/"), // signed by the provider, not a session (TestMailgunWebhook)
			r.pattern == "/calendar/{file}":         // its secret is the credential (TestCalendarFeed)
			continue
		}
		path := strings.NewReplacer("{ws}", ws.ID, "{id}", "x", "{contact}", "x", "{list}", "x", "{user}", "x", "{item}", "x", "{field}", "x", "{tpl}", "x", "{img}", "x", "{req}", "x", "{fav}", "x", "{msg}", "x").Replace(r.pattern)
		var resp *http.Response
		if r.method == http.MethodPost {
			resp = app.PostForm(anon, path, url.Values{"name": {"x"}, "confirm_name": {ws.Name}})
		} else {
			resp, _ = app.Do(anon, r.method, path, nil, nil)
		}
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Errorf("%s %s signed out: status=%d location=%q, want 303 to /login", r.method, r.pattern, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if _, err := app.Workspaces.Get(context.Background(), mona.Actor, ws.ID); err != nil {
		t.Fatalf("workspace gone after signed-out requests: %v", err)
	}
}

// TestEveryPageRenders asks every page route, with the actor's own objects,
// and wants no server error: a template that fails to render fails here.
func TestEveryPageRenders(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	andy := app.NewUser("Andy")
	mona := app.NewUser("Monalisa")
	ws := andy.Workspace("Loan Factory")
	c := andy.Contact(ws.ID, "Linh", "linh@example.com")
	other := andy.Contact(ws.ID, "Linh 2", "linh@example.com")
	if err := app.Contacts.AddNote(ctx, andy.Actor, ws.ID, c.ID, "<p>hi</p>"); err != nil {
		t.Fatal(err)
	}
	monaWS := mona.Workspace("CB")
	mc := mona.Contact(monaWS.ID, "Shared", "s@example.com")
	if err := app.Contacts.ShareWith(ctx, mona.Actor, monaWS.ID, mc.ID, andy.ID); err != nil {
		t.Fatal(err)
	}
	stages, _ := app.Lists.All(ctx, andy.Actor, ws.ID, list.Stage)
	for _, ty := range contact.FieldTypes {
		if _, err := app.Contacts.CreateField(ctx, andy.Actor, ws.ID, contact.FieldDef{Name: "F " + ty, Type: ty, Options: []string{"a", "b"}}, false); err != nil {
			t.Fatal(err)
		}
	}
	tpl, err := app.Templates.Create(ctx, andy.Actor, ws.ID, emailtemplate.Change{Name: "T", Subject: "Hi {{first_name}}", BodyHTML: "<p>Hello</p>"})
	if err != nil {
		t.Fatal(err)
	}
	img, err := app.Images.Upload(ctx, andy.Actor, ws.ID, "a.png", tinyPNG(t))
	if err != nil {
		t.Fatal(err)
	}
	monaShared, err := app.Templates.Create(ctx, mona.Actor, monaWS.ID, emailtemplate.Change{Name: "Shared", Subject: "s", BodyHTML: "<p>hi</p>"})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Templates.ShareWith(ctx, mona.Actor, monaWS.ID, monaShared.ID, andy.ID); err != nil {
		t.Fatal(err)
	}
	req, err := app.Drafts.Ask(ctx, andy.Actor, ws.ID, "", "", ai.Brief{Goal: "Say hello"})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `UPDATE ai_requests SET status = 'done', result = ? WHERE id = ?`,
			&sqlitex.ExecOptions{Args: []any{fakeai.DraftJSON("Hello", "Hi", "<p>Hi {{first_name}}</p>"), req.ID}})
	}); err != nil {
		t.Fatal(err)
	}
	// Andy's campaign, and one of Mona's waiting for Andy's approval.
	seg, err := app.Campaigns.CreateSegment(ctx, andy.Actor, ws.ID, "S", campaign.Segment{})
	if err != nil {
		t.Fatal(err)
	}
	camp, err := app.Campaigns.Create(ctx, andy.Actor, ws.ID, campaign.Change{Name: "C", TemplateID: tpl.ID})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := app.Workspaces.Update(ctx, mona.Actor, monaWS.ID, workspace.Change{CampaignsNeedApproval: &yes, ApproverUserID: &andy.Actor.UserID}); err != nil {
		t.Fatal(err)
	}
	mt, err := app.Templates.Create(ctx, mona.Actor, monaWS.ID, emailtemplate.Change{Name: "M", Subject: "Hi", BodyHTML: "<p>Hi</p>"})
	if err != nil {
		t.Fatal(err)
	}
	toApprove, err := app.Campaigns.Create(ctx, mona.Actor, monaWS.ID, campaign.Change{Name: "For Andy", TemplateID: mt.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Campaigns.Submit(ctx, mona.Actor, monaWS.ID, toApprove.ID); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range walk(t, app.Web.Handler().(chi.Routes)) {
		if r.method != http.MethodGet || strings.HasPrefix(r.pattern, "/api/") || strings.HasPrefix(r.pattern, "/static") {
			continue
		}
		path := strings.NewReplacer("{ws}", ws.ID, "{contact}", c.ID, "{list}", stages[0].ID, "{id}", "x", "{user}", mona.ID, "{item}", "x", "{field}", "x", "{tpl}", tpl.ID, "{img}", img.ID, "{req}", req.ID, "{msg}", "x", "{campaign}", camp.ID, "{segment}", seg.ID, "{todo}", "x", "{insight}", "x", "{widget}", "stats").Replace(r.pattern)
		if strings.HasPrefix(r.pattern, "/approvals/{campaign}") {
			path = "/approvals/" + toApprove.ID
		}
		if strings.HasPrefix(r.pattern, "/shared/{contact}") {
			path = "/shared/" + mc.ID
		}
		if strings.HasPrefix(r.pattern, "/shared/templates/") {
			path = strings.Replace(r.pattern, "{tpl}", monaShared.ID, 1)
		}
		if strings.HasSuffix(r.pattern, "/merge") {
			path += "?with=" + other.ID
		}
		if strings.HasPrefix(r.pattern, "/w/{ws}/import/{id}") {
			job, err := app.Imports.Upload(ctx, andy.Actor, ws.ID, "people.csv", strings.NewReader("Name,Email\nAnn Lee,ann@example.com\nBad,not-an-email\n"))
			if err != nil {
				t.Fatal(err)
			}
			path = strings.Replace(path, "/import/x", "/import/"+job.ID, 1)
		}
		if r.pattern == "/calendar/{file}" {
			token, _, err := app.Calendars.Rotate(ctx, andy.Actor)
			if err != nil {
				t.Fatal(err)
			}
			path = "/calendar/" + token + ".ics"
		}
		if r.pattern == "/system/backup/{id}" {
			id, err := app.Backups.Request(ctx, andy.ID, "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			path = "/system/backup/" + id
		}
		for _, hx := range []string{"", "true"} {
			h := http.Header{}
			if hx != "" {
				h.Set("HX-Request", hx)
				h.Set("HX-Target", "x")
			}
			resp, body := app.Do(andy.Client, http.MethodGet, path, nil, h)
			n++
			if resp.StatusCode >= 500 || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther && r.pattern != "/switch") {
				t.Errorf("GET %s (htmx=%q): status=%d %s", path, hx, resp.StatusCode, apptest.Trim(body))
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d page views", n)
	}
}
