package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/internal/fakegoogle"
	"github.com/pi-crm/pi-crm/internal/fakemicrosoft"
	"github.com/pi-crm/pi-crm/pkg/mailer"
)

func postForm(app *apptest.App, c *http.Client, path string, v url.Values, hx bool) (*http.Response, string) {
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {app.URL}, "Sec-Fetch-Site": {"same-origin"}}
	if hx {
		h.Set("HX-Request", "true")
	}
	return app.Do(c, http.MethodPost, path, strings.NewReader(v.Encode()), h)
}

// TestGoogleSignInPages: the Email page of a Google workspace walks the
// user through the paste-back sign-in: a consent link, a paste box that
// keeps what was pasted when it is wrong, and "Signed in" at the end; the
// client secret is never rendered back; another user's workspace answers
// 404 on every sign-in route.
func TestGoogleSignInPages(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	andy, mona := app.NewUser("Andy"), app.NewUser("Mona")
	ws := andy.Workspace("Loan Factory")
	base := "/w/" + ws.ID
	g := fakegoogle.New("cid.apps.googleusercontent.com", "GOCSPX-web-secret", mailer.GoogleRedirect)
	defer g.Close()

	settings := url.Values{"kind": {"google"}, "from_name": {"Andy"}, "from_email": {"andy@loanfactory.example"}, "per_minute": {"0"}, "daily_cap": {"2000"},
		"client_id": {"cid.apps.googleusercontent.com"}, "auth_base": {g.URL}, "base_url": {g.URL}}
	resp, body := postForm(app, andy.Client, base+"/email", settings, false)
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "client secret") || !strings.Contains(body, `value="cid.apps.googleusercontent.com"`) {
		t.Fatalf("no client secret: %s", apptest.Trim(body))
	}
	settings.Set("secret", "GOCSPX-web-secret")
	if resp, body := postForm(app, andy.Client, base+"/email", settings, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d %s", resp.StatusCode, apptest.Trim(body))
	}
	_, body = app.Do(andy.Client, http.MethodGet, base+"/email", nil, nil)
	if !strings.Contains(body, `id="signed-out"`) || !strings.Contains(body, "Sign in with Google") || strings.Contains(body, "GOCSPX-web-secret") ||
		!strings.Contains(body, "reads the inbox every minute and unsubscribes whoever sends it") {
		t.Fatalf("before signing in: %s", apptest.Trim(body))
	}
	for _, p := range []string{"/email/signin", "/email/signin/google", "/email/signin/microsoft", "/email/signin/cancel"} {
		if resp, _ := postForm(app, mona.Client, base+p, url.Values{"pasted": {"x"}}, false); resp.StatusCode != http.StatusNotFound {
			t.Errorf("another user's POST %s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := postForm(app, andy.Client, base+"/email/signin", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("begin: %d", resp.StatusCode)
	}
	_, body = app.Do(andy.Client, http.MethodGet, base+"/email", nil, nil)
	m := regexp.MustCompile(`href="([^"]+)"[^>]*id="google-consent"`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, mailer.GoogleRedirect) || !strings.Contains(body, "7 days") {
		t.Fatalf("the walk-through: %s", body)
	}
	landed, err := g.Consent(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	// Pasted wrong: the error, and what was pasted kept.
	resp, body = postForm(app, andy.Client, base+"/email/signin/google", url.Values{"pasted": {"http://127.0.0.1:8976/?state=abc"}}, false)
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "holds no code") || !strings.Contains(body, "http://127.0.0.1:8976/?state=abc</textarea>") {
		t.Fatalf("a wrong paste: %s", body)
	}
	if resp, body := postForm(app, andy.Client, base+"/email/signin/google", url.Values{"pasted": {landed}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("finish: %d %s", resp.StatusCode, apptest.Trim(body))
	}
	_, body = app.Do(andy.Client, http.MethodGet, base+"/email", nil, nil)
	if !strings.Contains(body, `id="signed-in"`) || !strings.Contains(body, "Signed in to Google") {
		t.Fatalf("after signing in: %s", apptest.Trim(body))
	}
	for _, tok := range append(g.Issued(), "GOCSPX-web-secret") {
		if strings.Contains(body, tok) {
			t.Fatal("a token or the client secret is on the page")
		}
	}
}

// TestMicrosoftSignInPages: the code and Microsoft's page are shown; the
// page's check answers 204 while waiting and sends the browser on when
// the code was entered.
func TestMicrosoftSignInPages(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Friends")
	base := "/w/" + ws.ID
	ms := fakemicrosoft.New("app-id-1")
	defer ms.Close()
	settings := url.Values{"kind": {"microsoft"}, "from_name": {"Andy"}, "from_email": {"andy@friends.example"}, "per_minute": {"0"}, "daily_cap": {"0"},
		"client_id": {"app-id-1"}, "tenant": {"contoso.onmicrosoft.com"}, "auth_base": {ms.URL}, "base_url": {ms.URL}}
	if resp, body := postForm(app, andy.Client, base+"/email", settings, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d %s", resp.StatusCode, apptest.Trim(body))
	}
	if resp, _ := postForm(app, andy.Client, base+"/email/signin", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("begin: %d", resp.StatusCode)
	}
	_, body := app.Do(andy.Client, http.MethodGet, base+"/email", nil, nil)
	m := regexp.MustCompile(`id="user-code">([A-Z0-9]+)<`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "https://microsoft.com/devicelogin") || !strings.Contains(body, `hx-trigger="every 1s"`) {
		t.Fatalf("the code: %s", body)
	}
	resp, _ := postForm(app, andy.Client, base+"/email/signin/microsoft", nil, true)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("waiting: %d", resp.StatusCode)
	}
	ms.Enter(m[1], true)
	resp, _ = postForm(app, andy.Client, base+"/email/signin/microsoft", nil, true)
	if resp.Header.Get("HX-Redirect") != base+"/email" {
		t.Fatalf("done: %d %v", resp.StatusCode, resp.Header)
	}
	_, body = app.Do(andy.Client, http.MethodGet, base+"/email", nil, nil)
	if !strings.Contains(body, `id="signed-in"`) || strings.Contains(body, `id="user-code"`) || !strings.Contains(body, `value="contoso.onmicrosoft.com"`) {
		t.Fatalf("after signing in: %s", apptest.Trim(body))
	}
}
