package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/web"
)

func TestCrossOriginPostRefused(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	for name, h := range map[string]http.Header{
		"SecFetchSite": {"Sec-Fetch-Site": {"cross-site"}, "Content-Type": {"application/x-www-form-urlencoded"}},
		"Origin":       {"Origin": {"http://evil.example"}, "Content-Type": {"application/x-www-form-urlencoded"}},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := app.Do(andy.Client, http.MethodPost, "/workspaces", strings.NewReader("name=Evil"), h)
			apptest.Expect(t, resp, body, http.StatusForbidden)
		})
	}
	list, _ := app.Workspaces.List(context.Background(), andy.Actor)
	if len(list) != 0 {
		t.Fatalf("a cross-origin POST created %d workspaces", len(list))
	}
	// The same request from the page itself works.
	resp := app.PostForm(andy.Client, "/workspaces", url.Values{"name": {"Loan Factory"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin create: status=%d, want 303", resp.StatusCode)
	}
}

func TestLoginThrottling(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	app.NewUser("Andy")
	c := app.Client()
	login := func(pw string) *http.Response {
		return app.PostForm(c, "/login", url.Values{"email": {"andy@example.com"}, "password": {pw}})
	}
	for i := range 3 {
		if resp := login("wrong password " + string(rune('a'+i))); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad log-in %d: status=%d, want 401", i+1, resp.StatusCode)
		}
	}
	// Now even the right password waits: the account is throttled.
	resp := login(apptest.Password)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("log-in while throttled: status=%d Retry-After=%q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// The delay grows with each failure.
	app.Clock.Advance(2 * time.Second)
	login("wrong again")
	wait1 := resp.Header.Get("Retry-After")
	resp = login(apptest.Password)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") <= wait1 {
		t.Fatalf("after another failure: status=%d Retry-After=%q (was %q), want a longer 429", resp.StatusCode, resp.Header.Get("Retry-After"), wait1)
	}
	// The same IP is throttled for other accounts too.
	app.NewUserNoLogin(t, "Monalisa")
	resp = app.PostForm(c, "/login", url.Values{"email": {"monalisa@example.com"}, "password": {apptest.Password}})
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("other account from a throttled IP: status=%d, want 429", resp.StatusCode)
	}
	app.Clock.Advance(time.Minute)
	if resp := login(apptest.Password); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("log-in after the delay: status=%d, want 303", resp.StatusCode)
	}
	// Every attempt is in the audit trail.
	u, _ := app.Auth.UserByEmail(context.Background(), "andy@example.com")
	entries := auditActions(t, app, u.ID)
	if got := strings.Count(entries, "auth.login_failed"); got < 6 {
		t.Fatalf("audit has %d failed log-ins, want >= 6: %s", got, entries)
	}
}

func TestSessionEnds(t *testing.T) {
	t.Run("Logout", func(t *testing.T) {
		app := apptest.New(t, apptest.Options{})
		andy := app.NewUser("Andy")
		cookie := sessionCookie(t, app, andy.Client)
		resp := app.PostForm(andy.Client, "/logout", nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout: status=%d", resp.StatusCode)
		}
		expectLoggedOut(t, app, cookie)
	})
	t.Run("IdleExpiry", func(t *testing.T) {
		app := apptest.New(t, apptest.Options{SessionIdle: time.Hour, SessionMax: 24 * time.Hour})
		andy := app.NewUser("Andy")
		cookie := sessionCookie(t, app, andy.Client)
		app.Clock.Advance(59 * time.Minute)
		expectLoggedIn(t, app, cookie) // use moves the idle clock
		app.Clock.Advance(59 * time.Minute)
		expectLoggedIn(t, app, cookie)
		app.Clock.Advance(61 * time.Minute)
		expectLoggedOut(t, app, cookie)
	})
	t.Run("AbsoluteExpiry", func(t *testing.T) {
		app := apptest.New(t, apptest.Options{SessionIdle: time.Hour, SessionMax: 3 * time.Hour})
		andy := app.NewUser("Andy")
		cookie := sessionCookie(t, app, andy.Client)
		// Used every 50 minutes, never idle, it still ends at 3 h.
		for elapsed := 50 * time.Minute; elapsed < 3*time.Hour; elapsed += 50 * time.Minute {
			app.Clock.Advance(50 * time.Minute)
			expectLoggedIn(t, app, cookie)
		}
		app.Clock.Advance(50 * time.Minute)
		expectLoggedOut(t, app, cookie)
	})
}

func TestSessionCookieFlags(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	app.NewUserNoLogin(t, "Andy")
	resp := app.PostForm(app.Client(), "/login", url.Values{"email": {"andy@example.com"}, "password": {apptest.Password}})
	var c *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == web.SessionCookie {
			c = ck
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v, want HttpOnly SameSite=Lax", c)
	}
	if c.Secure {
		t.Fatalf("Secure on plain HTTP would break log-in on the LAN without TLS")
	}
}

func TestAPIKeys(t *testing.T) {
	app := apptest.New(t, apptest.Options{APIRate: 1, APIBurst: 3})
	andy := app.NewUser("Andy")
	ctx := context.Background()

	t.Run("MissingOrBad", func(t *testing.T) {
		for _, key := range []string{"", "nonsense", auth.APIKeyPrefix + "unknown"} {
			resp, body := app.APIDo(key, http.MethodGet, "/workspaces", "")
			apptest.Expect(t, resp, body, http.StatusUnauthorized)
			var env struct {
				Data  any
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal([]byte(body), &env); err != nil || env.Error.Code != "unauthorized" || env.Data != nil {
				t.Fatalf("401 body %s, want the error envelope", body)
			}
		}
	})
	t.Run("Revoked", func(t *testing.T) {
		key, k, err := app.Auth.CreateAPIKey(ctx, andy.Actor, auth.NewAPIKey{Name: "r", Scopes: []string{auth.ScopeWorkspacesRead}})
		if err != nil {
			t.Fatal(err)
		}
		resp, body := app.APIDo(key, http.MethodGet, "/workspaces", "")
		apptest.Expect(t, resp, body, http.StatusOK)
		resp = app.PostForm(andy.Client, "/settings/api-keys/"+k.ID+"/revoke", nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: status=%d", resp.StatusCode)
		}
		resp, body = app.APIDo(key, http.MethodGet, "/workspaces", "")
		apptest.Expect(t, resp, body, http.StatusUnauthorized)
	})
	t.Run("Expired", func(t *testing.T) {
		exp := app.Clock.Now().Add(time.Hour)
		key, _, err := app.Auth.CreateAPIKey(ctx, andy.Actor, auth.NewAPIKey{Name: "e", Scopes: []string{auth.ScopeWorkspacesRead}, ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		resp, body := app.APIDo(key, http.MethodGet, "/workspaces", "")
		apptest.Expect(t, resp, body, http.StatusOK)
		app.Clock.Advance(61 * time.Minute)
		resp, body = app.APIDo(key, http.MethodGet, "/workspaces", "")
		apptest.Expect(t, resp, body, http.StatusUnauthorized)
	})
	t.Run("RateLimit", func(t *testing.T) {
		key := andy.APIKey(auth.ScopeWorkspacesRead)
		var last *http.Response
		for range 4 {
			last, _ = app.APIDo(key, http.MethodGet, "/workspaces", "")
		}
		if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
			t.Fatalf("4th request in a burst of 3: status=%d Retry-After=%q, want 429 with Retry-After", last.StatusCode, last.Header.Get("Retry-After"))
		}
		app.Clock.Advance(2 * time.Second)
		resp, body := app.APIDo(key, http.MethodGet, "/workspaces", "")
		apptest.Expect(t, resp, body, http.StatusOK)
	})
	t.Run("ShownOnceStoredHashed", func(t *testing.T) {
		resp, body := app.Do(andy.Client, http.MethodPost, "/settings/api-keys",
			strings.NewReader(url.Values{"name": {"zapier"}, "scope": {auth.ScopeWorkspacesRead}}.Encode()),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
		apptest.Expect(t, resp, body, http.StatusCreated)
		i := strings.Index(body, auth.APIKeyPrefix)
		if i < 0 {
			t.Fatal("new key not shown")
		}
		key := body[i : i+len(auth.APIKeyPrefix)+43]
		resp, body = app.APIDo(key, http.MethodGet, "/workspaces", "")
		apptest.Expect(t, resp, body, http.StatusOK)
		_, page := app.Do(andy.Client, http.MethodGet, "/settings/api-keys", nil, nil)
		if strings.Contains(page, key) {
			t.Fatal("the key is shown again on the list page")
		}
		if dbHas(t, app, key) {
			t.Fatal("the key is stored in clear")
		}
	})
}

func sessionCookie(t *testing.T, app *apptest.App, c *http.Client) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(app.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == web.SessionCookie {
			return ck
		}
	}
	t.Fatal("no session cookie")
	return nil
}

func withCookie(app *apptest.App, ck *http.Cookie) *http.Client {
	c := app.Client()
	u, _ := url.Parse(app.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value}})
	return c
}

func expectLoggedIn(t *testing.T, app *apptest.App, ck *http.Cookie) {
	t.Helper()
	resp, body := app.Do(withCookie(app, ck), http.MethodGet, "/settings/password", nil, nil)
	apptest.Expect(t, resp, body, http.StatusOK)
}

func expectLoggedOut(t *testing.T, app *apptest.App, ck *http.Cookie) {
	t.Helper()
	resp, _ := app.Do(withCookie(app, ck), http.MethodGet, "/settings/password", nil, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("old session cookie: status=%d location=%q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestAuditDetailsReadAsText: the audit page shows an entry's details as
// "key: value", not raw JSON.
func TestAuditDetailsReadAsText(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	andy.Workspace("Loan Factory")
	_, body := app.Do(andy.Client, http.MethodGet, "/settings/audit", nil, nil)
	rows := body[strings.Index(body, `id="audit-rows"`):]
	if strings.Contains(rows, `{&#34;`) || strings.Contains(rows, `{"`) || !strings.Contains(rows, `name:</span> Loan Factory`) {
		t.Fatalf("audit details: %s", apptest.Trim(rows))
	}
}
