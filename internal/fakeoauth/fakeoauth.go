// Package fakeoauth is the token side of an OAuth 2.0 server, for the fake
// Google and Microsoft servers in tests: it issues access and refresh
// tokens, trades refresh tokens (turning them over when asked, as
// Microsoft does), checks bearer tokens, and can revoke every grant or
// let every access token run out.
package fakeoauth

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Tokens is one server's grants.
type Tokens struct {
	// ClientID and ClientSecret are the one client the server knows; an
	// empty ClientSecret means a public client (Microsoft's device flow).
	ClientID, ClientSecret string
	// Rotate turns a refresh token over on each use: the old one stops
	// working.
	Rotate bool
	// TTL is an access token's life (default an hour).
	TTL time.Duration

	mu       sync.Mutex
	refresh  map[string]bool      // refresh token -> still good
	access   map[string]time.Time // access token -> expiry
	issued   []string             // every token issued, for tests that grep logs
	refreshN int
}

// Token returns a new random token with prefix p.
func Token(p string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return p + hex.EncodeToString(b)
}

func (t *Tokens) init() {
	if t.refresh == nil {
		t.refresh, t.access = map[string]bool{}, map[string]time.Time{}
	}
}

// Issue makes a new grant and writes the token answer.
func (t *Tokens) Issue(w http.ResponseWriter) {
	t.mu.Lock()
	t.init()
	ttl := t.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	a, r := Token("ya29."), Token("1//")
	t.access[a], t.refresh[r] = time.Now().Add(ttl), true
	t.issued = append(t.issued, a, r)
	t.mu.Unlock()
	WriteJSON(w, http.StatusOK, map[string]any{"access_token": a, "refresh_token": r, "expires_in": int(ttl / time.Second), "token_type": "Bearer"})
}

// Refresh answers a refresh_token grant.
func (t *Tokens) Refresh(w http.ResponseWriter, r *http.Request) {
	rt := r.PostFormValue("refresh_token")
	t.mu.Lock()
	t.init()
	good := t.refresh[rt]
	if good {
		t.refreshN++
	}
	if good && t.Rotate {
		delete(t.refresh, rt)
	}
	t.mu.Unlock()
	if !good {
		Fail(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
		return
	}
	ttl := t.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	a := Token("ya29.")
	out := map[string]any{"access_token": a, "expires_in": int(ttl / time.Second), "token_type": "Bearer"}
	t.mu.Lock()
	t.access[a] = time.Now().Add(ttl)
	t.issued = append(t.issued, a)
	if t.Rotate {
		nr := Token("1//")
		t.refresh[nr] = true
		t.issued = append(t.issued, nr)
		out["refresh_token"] = nr
	}
	t.mu.Unlock()
	WriteJSON(w, http.StatusOK, out)
}

// CheckClient checks a token request's client: the id, and the secret where
// the client has one.
func (t *Tokens) CheckClient(w http.ResponseWriter, r *http.Request) bool {
	if r.PostFormValue("client_id") != t.ClientID || t.ClientSecret != "" && r.PostFormValue("client_secret") != t.ClientSecret {
		Fail(w, http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		return false
	}
	return true
}

// Bearer checks a request's access token, answering 401 when it is not
// good.
func (t *Tokens) Bearer(w http.ResponseWriter, r *http.Request) bool {
	a := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	t.mu.Lock()
	t.init()
	exp, ok := t.access[a]
	t.mu.Unlock()
	if !ok || time.Now().After(exp) {
		WriteJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"code": 401, "message": "Request had invalid authentication credentials."}})
		return false
	}
	return true
}

// API serves h only to requests with a good access token.
func (t *Tokens) API(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if t.Bearer(w, r) {
			h(w, r)
		}
	}
}

// Revoke ends every grant: refresh tokens are refused and access tokens
// answer 401.
func (t *Tokens) Revoke() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh, t.access = map[string]bool{}, map[string]time.Time{}
}

// ExpireAccess makes every access token run out now (refresh tokens stay
// good).
func (t *Tokens) ExpireAccess() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for a := range t.access {
		t.access[a] = time.Now().Add(-time.Second)
	}
}

// Refreshes counts the refresh grants honoured.
func (t *Tokens) Refreshes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refreshN
}

// Issued returns every token handed out.
func (t *Tokens) Issued() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.issued...)
}

// Fail writes an OAuth error answer.
func Fail(w http.ResponseWriter, status int, code, desc string) {
	WriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// WriteJSON writes v as a JSON answer with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
