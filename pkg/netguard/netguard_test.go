package netguard

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAllowed(t *testing.T) {
	nets, err := ParseNets(DefaultNets)
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"127.0.0.1:5000":         true,
		"[::1]:5000":             true,
		"192.168.1.20:5000":      true,
		"10.1.2.3:1":             true,
		"172.31.255.255:1":       true,
		"172.32.0.1:1":           false,
		"100.101.102.103:1":      true, // Tailscale
		"100.128.0.1:1":          false,
		"8.8.8.8:53":             false,
		"[::ffff:192.168.1.5]:1": true,
		"[::ffff:8.8.8.8]:1":     false,
		"[2001:db8::1]:1":        false,
		"[fd7a:115c:a1e0::1]:1":  true, // Tailscale IPv6 (ULA)
		"garbage":                false,
	} {
		if got := Allowed(nets, addr); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", addr, got, want)
		}
	}
	if _, err := ParseNets("192.168.1.0/24, 300.1.1.1/8"); err == nil {
		t.Error("bad network accepted")
	}
}

func TestGuardAnswers403BeforeTheHandler(t *testing.T) {
	nets, _ := ParseNets("192.168.1.0/24")
	ran := false
	h := Guard(nets, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
	r := httptest.NewRequest("GET", "/login", nil)
	r.RemoteAddr = "203.0.113.9:4444"
	r.Header.Set("X-Forwarded-For", "192.168.1.5") // never trusted
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || ran {
		t.Fatalf("outsider: %d, handler ran %v", w.Code, ran)
	}
	r.RemoteAddr = "192.168.1.5:4444"
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || !ran {
		t.Fatalf("LAN client: %d, handler ran %v", w.Code, ran)
	}
}

func TestRedirect(t *testing.T) {
	for _, tc := range []struct{ host, port, want string }{
		{"pi-crm.lan", "443", "https://pi-crm.lan/contacts?q=a"},
		{"pi-crm.lan:80", "443", "https://pi-crm.lan/contacts?q=a"},
		{"127.0.0.1:8080", "8443", "https://127.0.0.1:8443/contacts?q=a"},
		{"[fe80::1]:80", "443", "https://[fe80::1]/contacts?q=a"},
	} {
		r := httptest.NewRequest("GET", "http://"+tc.host+"/contacts?q=a", nil)
		w := httptest.NewRecorder()
		RedirectHTTPS(tc.port).ServeHTTP(w, r)
		if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != tc.want {
			t.Errorf("%s: %d %s, want %s", tc.host, w.Code, w.Header().Get("Location"), tc.want)
		}
	}
}
