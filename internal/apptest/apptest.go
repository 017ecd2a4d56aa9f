// Package apptest starts the real crm-web handler (router, stores, API) on a
// loopback HTTP server over a fresh migrated database, and gives tests users,
// logged-in clients and API keys.
package apptest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/services"
	"github.com/pi-crm/pi-crm/pkg/backup"
	"github.com/pi-crm/pi-crm/pkg/backup/ledger"
	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/secrets"

	"golang.org/x/crypto/bcrypt"

	"github.com/pi-crm/pi-crm/pkg/api"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/daemon"
	"github.com/pi-crm/pi-crm/pkg/demo"
	"github.com/pi-crm/pi-crm/pkg/insight"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
	"github.com/pi-crm/pi-crm/pkg/web"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Password is every test user's password.
const Password = "correct horse battery"

// Clock is a settable clock for the stores.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// App is a running in-process crm-web.
type App struct {
	// Services are the stores and capabilities, as crm-web builds them.
	*services.Services
	TB     testing.TB
	Web    *web.Server
	API    *api.Handler
	Server *httptest.Server
	Clock  *Clock
	URL    string
	// BackupDir is where "Backup now" snapshots.
	BackupDir string
	// Ring is the appliance's secret keys (one, made for the test).
	Ring *secrets.Ring
}

// Options tunes New.
type Options struct {
	SessionIdle, SessionMax time.Duration
	APIRate                 float64
	APIBurst                int
	// BcryptCost is the password hashing cost; zero is bcrypt's minimum,
	// fast for tests. A race test wants a real cost.
	BcryptCost int
	// DBDir is the database's folder (a small tmpfs for a full disk); empty
	// is a fresh temporary folder.
	DBDir string
	// NoJobs leaves out crm-web's job runner, for tests that run the jobs
	// themselves.
	NoJobs bool
	// FetchLoopback lets image fetches reach 127.0.0.1, where the test's
	// image server is.
	FetchLoopback bool
	// Twilio checks the Twilio webhook (unset: it answers 404).
	Twilio web.TwilioHook
}

// New starts an App; it stops when the test ends.
func New(tb testing.TB, opts Options) *App {
	tb.Helper()
	db := storetest.New(tb)
	if opts.DBDir != "" {
		db = storetest.In(tb, opts.DBDir)
	}
	clock := &Clock{t: time.Now()}
	// Warnings and errors show in the test's own output.
	log := slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if opts.BcryptCost == 0 {
		opts.BcryptCost = bcrypt.MinCost
	}
	var allow []netip.Prefix
	if opts.FetchLoopback {
		allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}
	ring, err := secrets.Parse(secrets.NewKey())
	if err != nil {
		tb.Fatal(err)
	}
	svc := services.New(db, log, services.Options{DataDir: tb.TempDir(), FetchAllow: allow, Ring: ring,
		Auth: auth.Options{BcryptCost: opts.BcryptCost, SessionIdle: opts.SessionIdle, SessionMax: opts.SessionMax, Now: clock.Now}})
	apiH := api.New(svc, api.Options{RatePerSecond: opts.APIRate, Burst: opts.APIBurst, Now: clock.Now})
	backupDir := filepath.Join(tb.TempDir(), "backups")
	// "Backup now" runs the queued snapshot job in-process, as crmctl
	// backup snapshot does on the Pi.
	snap := backup.NewSnapshotter(backup.Config{DB: db.Path(), Dir: backupDir, Keep: 7}, db, nil, log).Kind(svc.Backups, nil, nil)
	start := func() {
		go func() {
			if _, err := jobs.NewRunner(db, log, snap).Drain(context.Background(), ledger.KindSnapshot); err != nil {
				log.Warn("backup", "err", err)
			}
		}()
	}
	srv, err := web.New(web.Deps{Services: svc, Registry: daemon.NewRegistry("crm-web", "test"), API: apiH, Version: "test", StartBackup: start, Twilio: opts.Twilio})
	if err != nil {
		tb.Fatalf("web.New: %v", err)
	}
	if !opts.NoJobs {
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = svc.WebJobs().Run(ctx) }()
		tb.Cleanup(func() { stop(); <-done })
	}
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(ts.Close)
	return &App{Services: svc, TB: tb, Web: srv, API: apiH, Server: ts, Clock: clock, URL: ts.URL, BackupDir: backupDir, Ring: ring}
}

// User is a test user with a logged-in browser-like client.
type User struct {
	auth.User
	Actor  auth.Actor
	Client *http.Client // carries the session cookie; does not follow redirects
	app    *App
}

// NewUser creates a user named name and logs it in.
func (a *App) NewUser(name string) *User {
	a.TB.Helper()
	email := strings.ToLower(name) + "@example.com"
	u, err := a.Auth.CreateUser(context.Background(), auth.NewUser{Email: email, Name: name, TimeZone: "America/Los_Angeles", Password: Password}, "test")
	if err != nil {
		a.TB.Fatalf("create user: %v", err)
	}
	usr := &User{User: u, Actor: u.Actor(""), Client: a.Client(), app: a}
	resp := a.PostForm(usr.Client, "/login", url.Values{"email": {email}, "password": {Password}})
	if resp.StatusCode != http.StatusSeeOther {
		a.TB.Fatalf("log in %s: status=%d, want 303", email, resp.StatusCode)
	}
	return usr
}

// Workspace creates a workspace for u.
func (u *User) Workspace(name string) workspace.Workspace {
	u.app.TB.Helper()
	w, err := u.app.Workspaces.Create(context.Background(), u.Actor, workspace.Change{Name: &name})
	if err != nil {
		u.app.TB.Fatalf("create workspace: %v", err)
	}
	return w
}

// APIKey creates a key for u with scopes.
func (u *User) APIKey(scopes ...string) string {
	u.app.TB.Helper()
	key, _, err := u.app.Auth.CreateAPIKey(context.Background(), u.Actor, auth.NewAPIKey{Name: "test", Scopes: scopes})
	if err != nil {
		u.app.TB.Fatalf("create api key: %v", err)
	}
	return key
}

// Client returns a client with a cookie jar that does not follow redirects.
func (a *App) Client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Do sends a request and reads the body; the body is returned as text.
func (a *App) Do(c *http.Client, method, path string, body io.Reader, header http.Header) (*http.Response, string) {
	a.TB.Helper()
	req, err := http.NewRequest(method, a.URL+path, body)
	if err != nil {
		a.TB.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		a.TB.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// PostForm posts a same-origin form, as a browser on the page would.
func (a *App) PostForm(c *http.Client, path string, v url.Values) *http.Response {
	a.TB.Helper()
	resp, _ := a.Do(c, http.MethodPost, path, strings.NewReader(v.Encode()), http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {a.URL}, "Sec-Fetch-Site": {"same-origin"}})
	return resp
}

// API sends an API request with key (empty: none) and returns the response and body.
func (a *App) APIDo(key, method, path, body string) (*http.Response, string) {
	a.TB.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	return a.Do(http.DefaultClient, method, "/api/v1"+path, r, h)
}

// Expect fails the test unless resp has status want.
func Expect(tb testing.TB, resp *http.Response, body string, want int) {
	tb.Helper()
	if resp.StatusCode != want {
		tb.Fatalf("%s %s: status=%d, want %d\n%s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, Trim(body))
	}
}

// Trim shortens a body for a failure message.
func Trim(s string) string {
	if len(s) > 600 {
		return s[:600] + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return s
}

// NewUserNoLogin creates a user without logging it in.
func (a *App) NewUserNoLogin(tb testing.TB, name string) auth.User {
	tb.Helper()
	u, err := a.Auth.CreateUser(context.Background(), auth.NewUser{Email: strings.ToLower(name) + "@example.com", Name: name, TimeZone: "UTC", Password: Password}, "test")
	if err != nil {
		tb.Fatalf("create user: %v", err)
	}
	return u
}

// Contact creates a contact in u's workspace wsID.
func (u *User) Contact(wsID, first, email string) contact.Contact {
	u.app.TB.Helper()
	c, err := u.app.Contacts.Create(context.Background(), u.Actor, wsID, contact.Fields{FirstName: &first, Emails: &[]contact.EmailInput{{Address: email}}}, true)
	if err != nil {
		u.app.TB.Fatalf("create contact: %v", err)
	}
	return c
}

type tbWriter struct{ tb testing.TB }

// Write logs p as one test log line.
func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// SeedDemo seeds the demo as `crmctl demo` does: both users and their
// workspaces, the hand-written contacts, and (when contacts > 0) that many
// generated contacts with about activities log entries in Andy's Loan
// Factory. It returns the logins.
func (a *App) SeedDemo(contacts, activities int) []demo.Login {
	a.TB.Helper()
	ctx := context.Background()
	logins, err := demo.Seed(ctx, a.Auth, a.Workspaces)
	if err != nil {
		a.TB.Fatal(err)
	}
	if err := demo.Showcase(ctx, a.Auth, a.Workspaces, a.Lists, a.Contacts); err != nil {
		a.TB.Fatal(err)
	}
	if err := demo.Templates(ctx, a.Auth, a.Workspaces, a.Templates); err != nil {
		a.TB.Fatal(err)
	}
	if err := demo.Todos(ctx, a.Auth, a.Workspaces, a.Todos); err != nil {
		a.TB.Fatal(err)
	}
	if contacts > 0 {
		if err := demo.Fill(ctx, a.Auth, a.Workspaces, a.Contacts, contacts, activities); err != nil {
			a.TB.Fatal(err)
		}
	}
	if _, err := insight.NewEngine(a.DB, nil, nil).Run(ctx); err != nil {
		a.TB.Fatal(err)
	}
	return logins
}
