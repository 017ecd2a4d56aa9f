package web_test

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/internal/testfs"
	"github.com/pi-crm/pi-crm/pkg/web"
)

// fill writes a file into dir until the volume is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// TestFullDiskKeepsUsersSignedIn: with the database's disk full, a signed-in
// user stays signed in (a failed write is not "no such session"), can still
// download everything, and /healthz says the disk is full.
func TestFullDiskKeepsUsersSignedIn(t *testing.T) {
	dir := testfs.Tmpfs(t, "24m")
	app := apptest.New(t, apptest.Options{DBDir: dir})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Loan Factory")
	andy.Contact(ws.ID, "Ann", "ann@example.com")
	if resp, _ := app.Do(andy.Client, http.MethodGet, "/healthz", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz before: %d", resp.StatusCode)
	}
	fill(t, dir)
	app.Clock.Advance(2 * time.Minute) // the next request writes its session's last-seen time
	resp, body := app.Do(andy.Client, http.MethodGet, "/w/"+ws.ID+"/contacts", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Ann") {
		t.Fatalf("contacts on a full disk: status=%d: %s", resp.StatusCode, apptest.Trim(body))
	}
	for _, c := range resp.Cookies() {
		if c.Name == web.SessionCookie {
			t.Fatalf("a full disk cleared the session cookie: %+v", c)
		}
	}
	// A save fails, and the session survives it.
	save := app.PostForm(andy.Client, "/w/"+ws.ID+"/contacts", map[string][]string{"first_name": {"Bo"}})
	if save.StatusCode < 500 {
		t.Fatalf("a save on a full disk: status=%d, want a 5xx", save.StatusCode)
	}
	for _, c := range save.Cookies() {
		if c.Name == web.SessionCookie {
			t.Fatalf("a failed save cleared the session cookie: %+v", c)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, app.URL+"/export/all", nil)
	zr, err := andy.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	zip, _ := io.ReadAll(zr.Body)
	zr.Body.Close()
	if zr.StatusCode != http.StatusOK || !strings.HasPrefix(string(zip), "PK") || len(zip) < 200 {
		t.Fatalf("download everything on a full disk: status=%d, %d bytes", zr.StatusCode, len(zip))
	}
	resp, body = app.Do(andy.Client, http.MethodGet, "/healthz", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"disk":"full"`) {
		t.Fatalf("healthz on a full disk: status=%d %s, want 503 saying the disk is full", resp.StatusCode, body)
	}
}
