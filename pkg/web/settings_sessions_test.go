package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/auth"
)

// TestSessionsCanBeListedAndEnded: the Sessions page lists where the user
// is signed in; ending one signs that browser out, another user's session
// answers 404 and stays, and "End all other sessions" keeps only this one.
func TestSessionsCanBeListedAndEnded(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	mona := app.NewUser("Monalisa")
	second, third := app.Client(), app.Client()
	for _, c := range []*http.Client{second, third} {
		if resp := app.PostForm(c, "/login", url.Values{"email": {"andy@example.com"}, "password": {apptest.Password}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("log-in: %d", resp.StatusCode)
		}
	}
	resp, page := app.Do(andy.Client, http.MethodGet, "/settings/sessions", nil, nil)
	ids := regexp.MustCompile(`/settings/sessions/([0-9a-f]{16})/end`).FindAllStringSubmatch(page, -1)
	if resp.StatusCode != http.StatusOK || len(ids) != 2 || !strings.Contains(page, "this browser") {
		t.Fatalf("sessions page: status=%d, %d others listed, want 2 and this browser marked", resp.StatusCode, len(ids))
	}
	monaSessions, err := app.Auth.Sessions(context.Background(), mona.Actor, "")
	if err != nil || len(monaSessions) != 1 {
		t.Fatalf("Monalisa's sessions: %v %v", monaSessions, err)
	}
	if resp := app.PostForm(andy.Client, "/settings/sessions/"+monaSessions[0].ID+"/end", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("ending another user's session: status=%d, want 404", resp.StatusCode)
	}
	if resp, _ := app.Do(mona.Client, http.MethodGet, "/settings/sessions", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("Monalisa after Andy's attempt: status=%d, want still signed in", resp.StatusCode)
	}
	if resp := app.PostForm(andy.Client, "/settings/sessions/"+ids[0][1]+"/end", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("end a session: status=%d", resp.StatusCode)
	}
	signedIn := func(c *http.Client) bool {
		resp, _ := app.Do(c, http.MethodGet, "/settings/sessions", nil, nil)
		return resp.StatusCode == http.StatusOK
	}
	if n := btoi(signedIn(second)) + btoi(signedIn(third)); n != 1 {
		t.Fatalf("after ending one of two other sessions, %d are still signed in, want 1", n)
	}
	if resp := app.PostForm(andy.Client, "/settings/sessions/others/end", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("end others: status=%d", resp.StatusCode)
	}
	if signedIn(second) || signedIn(third) || !signedIn(andy.Client) {
		t.Fatal("after ending all others: another browser is still in, or this one is out")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestPasswordChangeCanRevokeAPIKeys: changing the password with "also
// revoke my API keys" stops the keys working; without it they go on.
func TestPasswordChangeCanRevokeAPIKeys(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	keep := andy.APIKey(auth.Scopes...)
	change := func(from, to string, revoke bool) {
		v := url.Values{"current_password": {from}, "new_password": {to}}
		if revoke {
			v.Set("revoke_keys", "1")
		}
		if resp := app.PostForm(andy.Client, "/settings/password", v); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("change password: status=%d", resp.StatusCode)
		}
	}
	change(apptest.Password, "second password here", false)
	if resp, _ := app.APIDo(keep, http.MethodGet, "/workspaces", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("API key after a plain password change: status=%d, want 200", resp.StatusCode)
	}
	change("second password here", "third password here", true)
	if resp, _ := app.APIDo(keep, http.MethodGet, "/workspaces", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API key after a change that revokes keys: status=%d, want 401", resp.StatusCode)
	}
}
