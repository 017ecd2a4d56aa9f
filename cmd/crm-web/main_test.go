package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// TestMainServes runs the real crm-web (ReadConfig, Open, Run) on port 0
// over a fresh data folder: it migrates, serves /healthz, logs a user in
// and shows their workspace, then stops cleanly when its context ends.
func TestMainServes(t *testing.T) {
	dir := t.TempDir()
	cfg, err := ReadConfig(config.FromMap(map[string]string{"PICRM_DATA_DIR": dir, "PICRM_HTTP_ADDR": "127.0.0.1:0",
		"PICRM_WEB_METRICS_ADDR": "127.0.0.1:0", "PICRM_BCRYPT_COST": "4"}))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(slog.New(slog.DiscardHandler), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("crm-web did not stop within 10 s")
		}
	}()

	// A second process's view: the same database file, another connection.
	db, err := store.Open(cfg.DB, store.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	users := auth.NewStore(db, auth.Options{BcryptCost: bcrypt.MinCost})
	u, err := users.CreateUser(context.Background(), auth.NewUser{Email: "andy@example.com", Name: "Andy", TimeZone: "UTC", Password: "long enough password"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	name := "Loan Factory"
	ws, err := contact.NewWorkspaces(db).Create(context.Background(), u.Actor("test"), workspace.Change{Name: &name})
	if err != nil {
		t.Fatal(err)
	}

	base := "http://" + m.Addr()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != http.StatusOK || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{"email": {"andy@example.com"}, "password": {"long enough password"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code, body := get("/"); code != http.StatusOK || !strings.Contains(body, "Loan Factory") || !strings.Contains(resp.Request.URL.Path+body, ws.ID) {
		t.Fatalf("after logging in, / answers %d without the workspace", code)
	}
}
