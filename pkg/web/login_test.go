package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
)

// TestLoginFloodDoesNotFillTheDatabase: 1,000 oversized and 1,000
// throttled log-ins grow the database by less than 1 MB, and neither the
// oversized text nor an unknown email (maybe a password typed into the
// wrong box) is stored anywhere.
func TestLoginFloodDoesNotFillTheDatabase(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	app.NewUser("Andy")
	c := app.Client()
	before := storetest.Bytes(t, app.DB)
	huge := strings.Repeat("x", 5000) + "@example.com"
	for i := range 1000 {
		resp := app.PostForm(c, "/login", url.Values{"email": {huge}, "password": {strings.Repeat("p", 2000)}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("oversized attempt %d: status=%d, want 401", i, resp.StatusCode)
		}
	}
	typed := "MySecretPassw0rd!"
	for i := range 3 {
		if resp := app.PostForm(c, "/login", url.Values{"email": {typed}, "password": {"x" + string(rune('a'+i))}}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong log-in %d: status=%d, want 401", i, resp.StatusCode)
		}
	}
	for i := range 1000 {
		resp := app.PostForm(c, "/login", url.Values{"email": {typed}, "password": {"guess"}})
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("throttled attempt %d: status=%d, want 429", i, resp.StatusCode)
		}
	}
	grown := storetest.Bytes(t, app.DB) - before
	t.Logf("2,003 hostile log-ins grew the database by %d KB", grown>>10)
	if grown >= 1<<20 {
		t.Fatalf("the database grew by %d KB, want < 1024", grown>>10)
	}
	for _, s := range []string{huge[:300], typed} {
		if dbHas(t, app, s) {
			t.Fatalf("the database holds the typed text %.40q", s)
		}
	}
	// The throttled attempts are in the trail, coalesced, with their count.
	var rows, count int
	err := app.DB.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*), max(details ->> '$.count') FROM audit_log WHERE action = 'auth.login_failed' AND details ->> '$.reason' = 'throttled'`,
			&sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { rows, count = st.ColumnInt(0), st.ColumnInt(1); return nil }})
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows != 1 || count != 1000 {
		t.Fatalf("throttled attempts in the audit: %d rows counting %d, want 1 row counting 1000", rows, count)
	}
}

// TestLoginThrottleCannotBeRaced: 30 wrong passwords at once for one
// account evaluate at most 4 (the rest wait, 429), and the right password
// right after is refused too until the delay has passed.
func TestLoginThrottleCannotBeRaced(t *testing.T) {
	// A real cost (about 50 ms a hash here): with the minimum, guesses
	// finish too fast to overlap and the race would go unseen.
	app := apptest.New(t, apptest.Options{BcryptCost: 10})
	app.NewUser("Andy")
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := app.PostForm(app.Client(), "/login", url.Values{"email": {"andy@example.com"}, "password": {"wrong guess " + string(rune('a'+i))}})
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[http.StatusUnauthorized] > 4 || statuses[http.StatusUnauthorized]+statuses[http.StatusTooManyRequests] != 30 {
		t.Fatalf("30 parallel wrong passwords answered %v, want at most 4 × 401 and the rest 429", statuses)
	}
	login := func() *http.Response {
		return app.PostForm(app.Client(), "/login", url.Values{"email": {"andy@example.com"}, "password": {apptest.Password}})
	}
	resp := login()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the right password on the 31st try: status=%d, want 429", resp.StatusCode)
	}
	app.Clock.Advance(16 * time.Minute) // past the longest delay
	if resp := login(); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the right password after the delay: status=%d, want 303", resp.StatusCode)
	}
}

// TestPasswordChangeIsThrottled: the current-password check of the
// change-password form is throttled as a log-in is.
func TestPasswordChangeIsThrottled(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	change := func(current string) (*http.Response, string) {
		return app.Do(andy.Client, http.MethodPost, "/settings/password", strings.NewReader(url.Values{"current_password": {current}, "new_password": {"a brand new password"}}.Encode()),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {app.URL}, "Sec-Fetch-Site": {"same-origin"}})
	}
	for i := range 3 {
		if resp, body := change("wrong current " + string(rune('a'+i))); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "not your current password") {
			t.Fatalf("wrong current password %d: status=%d", i, resp.StatusCode)
		}
	}
	resp, body := change(apptest.Password)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Try again in") {
		t.Fatalf("the right current password while throttled: status=%d, want 429 saying when", resp.StatusCode)
	}
	app.Clock.Advance(2 * time.Second)
	if resp, _ := change(apptest.Password); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the right current password after the delay: status=%d, want 303", resp.StatusCode)
	}
}
