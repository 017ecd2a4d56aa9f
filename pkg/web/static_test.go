package web_test

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
)

// TestStaticAssets: pages name assets by content hash, the hashed URL is
// cached for good, and nothing is loaded from another host.
func TestStaticAssets(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	resp, page := app.Do(app.Client(), http.MethodGet, "/login", nil, nil)
	apptest.Expect(t, resp, page, http.StatusOK)
	if regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(page) {
		t.Fatal("the page loads something from another host")
	}
	if len(page) > 8<<10 {
		t.Fatalf("log-in page is %d bytes; pages should be a few KB", len(page))
	}
	urls := regexp.MustCompile(`/static/[a-z.]+\?v=[0-9a-f]{12}`).FindAllString(page, -1)
	if len(urls) < 3 {
		t.Fatalf("found %v, want the CSS, htmx and icon by hash", urls)
	}
	for _, u := range urls {
		resp, body := app.Do(app.Client(), http.MethodGet, u, nil, nil)
		apptest.Expect(t, resp, body, http.StatusOK)
		if !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || len(body) == 0 {
			t.Errorf("%s: Cache-Control=%q, %d bytes", u, resp.Header.Get("Cache-Control"), len(body))
		}
		// The hash is the served file's own: a changed file gets a new URL.
		sum := sha256.Sum256([]byte(body))
		if want := hex.EncodeToString(sum[:6]); !strings.HasSuffix(u, "?v="+want) {
			t.Errorf("%s: the file's hash is %s", u, want)
		}
		stale, _ := app.Do(app.Client(), http.MethodGet, strings.Split(u, "?")[0]+"?v=old", nil, nil)
		if stale.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s with a stale hash is cached for good", u)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("CSP %q", csp)
	}
	// Assets go gzipped to a browser that takes it, and whole to one that
	// does not; the bytes are the same once unpacked.
	_, plain := app.Do(app.Client(), http.MethodGet, "/static/editor.js", nil, http.Header{"Accept-Encoding": {"identity"}})
	zr, _ := app.Do(app.Client(), http.MethodGet, "/static/editor.js", nil, http.Header{"Accept-Encoding": {"gzip, deflate"}})
	if zr.Header.Get("Content-Encoding") != "gzip" || zr.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("editor.js: Content-Encoding=%q Vary=%q", zr.Header.Get("Content-Encoding"), zr.Header.Get("Vary"))
	}
	req, _ := http.NewRequest(http.MethodGet, app.URL+"/static/editor.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	raw, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Body.Close()
	gz, err := gzip.NewReader(raw.Body)
	if err != nil {
		t.Fatal(err)
	}
	unpacked, err := io.ReadAll(gz)
	if err != nil || string(unpacked) != plain || len(plain) < 100<<10 {
		t.Fatalf("gzipped editor.js unpacks to %d bytes, plain is %d (%v)", len(unpacked), len(plain), err)
	}
	if n, _ := strconv.Atoi(raw.Header.Get("Content-Length")); n > 160<<10 {
		t.Errorf("editor.js is %d KB gzipped", n>>10)
	}
}
