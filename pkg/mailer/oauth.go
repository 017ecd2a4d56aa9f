package mailer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/secrets"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// GoogleRedirect is the loopback redirect of a Google Desktop client. No
// server listens there: the user's browser shows an error page whose
// address holds the code, and the user pastes that address into pi-crm.
const GoogleRedirect = "http://127.0.0.1:8976/"

// Scopes each account is asked for: sending, and reading the inbox for
// replies.
var (
	googleScopes    = []string{"https://www.googleapis.com/auth/gmail.send", "https://www.googleapis.com/auth/gmail.readonly"}
	microsoftScopes = []string{"offline_access", "https://graph.microsoft.com/Mail.Send", "https://graph.microsoft.com/Mail.Read"}
)

// grant is what a Google or Microsoft workspace's sealed secret holds: the
// OAuth client's secret (Google's Desktop clients have one) and the tokens.
type grant struct {
	ClientSecret string    `json:"client_secret,omitempty"`
	Refresh      string    `json:"refresh,omitempty"`
	Access       string    `json:"access,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

func isOAuth(kind string) bool { return kind == KindGoogle || kind == KindMicrosoft }

func openGrant(ring *secrets.Ring, wsID, sealed string) (grant, error) {
	var g grant
	if sealed == "" {
		return g, nil
	}
	if ring == nil {
		return g, errors.New("no secret key to open the sign-in with")
	}
	plain, err := ring.Open(sealed, where(wsID))
	if err != nil {
		return g, fmt.Errorf("sign-in: %w", err)
	}
	if err := json.Unmarshal([]byte(plain), &g); err != nil {
		return g, fmt.Errorf("sign-in: %w", err)
	}
	return g, nil
}

func sealGrant(ring *secrets.Ring, wsID string, g grant) string {
	b, _ := json.Marshal(g)
	return ring.Seal(string(b), where(wsID))
}

// Connected reports whether cfg is a Google or Microsoft account that has
// been signed in (a refresh token is stored).
func (c *Configs) Connected(cfg Config) bool {
	if !isOAuth(cfg.Kind) || cfg.secret == "" || c.ring == nil {
		return false
	}
	g, err := openGrant(c.ring, cfg.WorkspaceID, cfg.secret)
	return err == nil && g.Refresh != ""
}

// oauthConfig is cfg's OAuth client.
func oauthConfig(cfg Config, clientSecret string) *oauth2.Config {
	s := cfg.Settings
	c := &oauth2.Config{ClientID: s.ClientID, ClientSecret: clientSecret}
	switch cfg.Kind {
	case KindGoogle:
		base := "https://accounts.google.com"
		token := "https://oauth2.googleapis.com/token"
		if s.AuthBase != "" {
			base, token = strings.TrimSuffix(s.AuthBase, "/"), strings.TrimSuffix(s.AuthBase, "/")+"/token"
		}
		c.Endpoint = oauth2.Endpoint{AuthURL: base + "/o/oauth2/v2/auth", TokenURL: token, AuthStyle: oauth2.AuthStyleInParams}
		c.RedirectURL, c.Scopes = GoogleRedirect, googleScopes
	case KindMicrosoft:
		base := "https://login.microsoftonline.com"
		if s.AuthBase != "" {
			base = strings.TrimSuffix(s.AuthBase, "/")
		}
		tenant := s.Tenant
		if tenant == "" {
			tenant = "common"
		}
		p := base + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/"
		c.Endpoint = oauth2.Endpoint{AuthURL: p + "authorize", TokenURL: p + "token", DeviceAuthURL: p + "devicecode", AuthStyle: oauth2.AuthStyleInParams}
		c.Scopes = microsoftScopes
	}
	return c
}

// Pending is a sign-in begun and not yet finished.
type Pending struct {
	Kind string
	// AuthURL is where a Google user signs in.
	AuthURL string
	// UserCode and VerificationURI are what a Microsoft user types where.
	UserCode        string
	VerificationURI string
	Interval        time.Duration
	ExpiresAt       time.Time
}

func randomState() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// oauthFor reads workspace wsID's provider for a sign-in: it must be a
// saved Google or Microsoft account with a client id.
func (c *Configs) oauthFor(ctx context.Context, actor auth.Actor, wsID string) (Config, grant, error) {
	cfg, ok, err := c.Get(ctx, actor, wsID)
	if err != nil {
		return cfg, grant{}, err
	}
	if !ok || !isOAuth(cfg.Kind) || cfg.Settings.ClientID == "" {
		return cfg, grant{}, errs.New(errs.Invalid, "Save the workspace's Google or Microsoft 365 settings, with the client id, before signing in.")
	}
	if c.ring == nil {
		return cfg, grant{}, errors.New("sign in: this appliance has no secret key (the secret-keys credential)")
	}
	g, err := openGrant(c.ring, wsID, cfg.secret)
	return cfg, g, err
}

// Begin starts signing workspace wsID's account in: for Google, the
// address of Google's consent page (PKCE, a loopback redirect); for
// Microsoft, a device code the user enters at Microsoft's page. What the
// finish needs is kept sealed; beginning again replaces it.
func (c *Configs) Begin(ctx context.Context, actor auth.Actor, wsID string) (Pending, error) {
	cfg, g, err := c.oauthFor(ctx, actor, wsID)
	if err != nil {
		return Pending{}, err
	}
	oc := oauthConfig(cfg, g.ClientSecret)
	p := Pending{Kind: cfg.Kind}
	var state, secret string
	switch cfg.Kind {
	case KindGoogle:
		secret, state = oauth2.GenerateVerifier(), randomState()
		p.AuthURL = oc.AuthCodeURL(state, oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(secret), oauth2.SetAuthURLParam("prompt", "consent"))
		p.ExpiresAt, p.Interval = time.Now().Add(30*time.Minute), 0
	case KindMicrosoft:
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		da, err := oc.DeviceAuth(dctx)
		if err != nil {
			return Pending{}, errs.New(errs.Invalid, "Microsoft did not start the sign-in: %s. Check the application (client) id and the tenant.", oauthReason(err))
		}
		secret, p.UserCode, p.VerificationURI = da.DeviceCode, da.UserCode, da.VerificationURI
		p.Interval, p.ExpiresAt = time.Duration(max(da.Interval, 1))*time.Second, da.Expiry
		if p.ExpiresAt.IsZero() {
			p.ExpiresAt = time.Now().Add(15 * time.Minute)
		}
	}
	err = workspace.Write(ctx, c.db, actor, wsID, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `INSERT INTO oauth_pending (workspace_id, kind, state, secret, user_code, verification_uri, interval_s, expires_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workspace_id) DO UPDATE SET kind = excluded.kind, state = excluded.state, secret = excluded.secret,
	user_code = excluded.user_code, verification_uri = excluded.verification_uri, interval_s = excluded.interval_s, expires_at = excluded.expires_at, created_at = excluded.created_at`,
			&sqlitex.ExecOptions{Args: []any{wsID, cfg.Kind, state, c.ring.Seal(secret, pendingWhere(wsID)), p.UserCode, p.VerificationURI + p.AuthURL, int(p.Interval / time.Second),
				store.FormatTime(p.ExpiresAt), store.FormatTime(time.Now())}}); err != nil {
			return fmt.Errorf("start sign-in: %w", err)
		}
		return audit.Record(conn, actor.Audit("provider.signin_started", "workspace", wsID, map[string]any{"kind": cfg.Kind}))
	})
	return p, err
}

func pendingWhere(wsID string) string { return "oauth_pending.secret:" + wsID }

type pendingRow struct {
	Pending
	state, secret string
}

// PendingIn returns workspace wsID's sign-in in progress, if any and not
// expired.
func (c *Configs) PendingIn(ctx context.Context, actor auth.Actor, wsID string) (Pending, bool, error) {
	p, ok, err := c.pending(ctx, actor, wsID)
	return p.Pending, ok, err
}

// pending reads the actor's workspace wsID's sign-in in progress, with
// what finishing it needs.
func (c *Configs) pending(ctx context.Context, actor auth.Actor, wsID string) (pendingRow, bool, error) {
	var p pendingRow
	var ok bool
	err := workspace.Read(ctx, c.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		p, ok, err = pendingIn(conn, wsID)
		return err
	})
	return p, ok, err
}

func pendingIn(conn *sqlite.Conn, wsID string) (pendingRow, bool, error) {
	var p pendingRow
	found := false
	err := sqlitex.Execute(conn, `SELECT kind, state, secret, user_code, verification_uri, interval_s, expires_at FROM oauth_pending WHERE workspace_id = ?`,
		&sqlitex.ExecOptions{Args: []any{wsID}, ResultFunc: func(st *sqlite.Stmt) error {
			found = true
			p.Kind, p.state, p.secret, p.UserCode, p.VerificationURI = st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnText(3), st.ColumnText(4)
			p.Interval = time.Duration(st.ColumnInt(5)) * time.Second
			p.ExpiresAt, _ = store.ParseTime(st.ColumnText(6))
			if p.Kind == KindGoogle {
				// Google's consent address is kept where Microsoft's page is:
				// it holds the state and the code challenge, neither secret.
				p.AuthURL, p.VerificationURI = p.VerificationURI, ""
			}
			return nil
		}})
	if err != nil {
		return p, false, fmt.Errorf("read sign-in: %w", err)
	}
	if found && time.Now().After(p.ExpiresAt) {
		return p, false, nil
	}
	return p, found, nil
}

var errNoPending = errs.New(errs.Invalid, "No sign-in is in progress, or it expired: start it again.")

// FinishGoogle takes the address the user's browser ended on after
// Google's consent page (or just its code), checks it belongs to the
// sign-in begun here, and trades the code for tokens.
func (c *Configs) FinishGoogle(ctx context.Context, actor auth.Actor, wsID, pasted string) error {
	cfg, g, err := c.oauthFor(ctx, actor, wsID)
	if err != nil {
		return err
	}
	p, ok, err := c.pending(ctx, actor, wsID)
	if err != nil {
		return err
	}
	if !ok || p.Kind != KindGoogle {
		return errNoPending
	}
	code, state, reason := pastedCode(pasted)
	switch {
	case reason != "":
		return errs.Fields{"pasted": reason}.Err()
	case state != "" && state != p.state:
		return errs.Fields{"pasted": "That address is from another sign-in: use the link on this page, then paste the address it ends on."}.Err()
	}
	verifier, err := c.ring.Open(p.secret, pendingWhere(wsID))
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	xctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	tok, err := oauthConfig(cfg, g.ClientSecret).Exchange(xctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return errs.Fields{"pasted": "Google refused the code: " + oauthReason(err) + ". Codes work once and for a few minutes: start again."}.Err()
	}
	return c.connected(ctx, actor, wsID, g, tok)
}

// pastedCode reads the code out of what the user pasted: the whole
// redirected address, its query, or the bare code.
func pastedCode(pasted string) (code, state, reason string) {
	pasted = strings.TrimSpace(pasted)
	if pasted == "" {
		return "", "", "Paste the address your browser ended on (it starts with " + GoogleRedirect + ")."
	}
	q := pasted
	if i := strings.IndexByte(q, '?'); i >= 0 {
		q = q[i+1:]
	}
	if !strings.Contains(q, "=") {
		return pasted, "", ""
	}
	v, err := url.ParseQuery(q)
	if err != nil {
		return "", "", "That is not the address Google sent you to: paste the whole address from the browser's address bar."
	}
	if e := v.Get("error"); e != "" {
		return "", "", "Google said " + e + ": the account did not allow pi-crm. Start again and allow it."
	}
	if v.Get("code") == "" {
		return "", "", "That address holds no code: paste the whole address from the browser's address bar."
	}
	return v.Get("code"), v.Get("state"), ""
}

// PollMicrosoft asks Microsoft once whether the user entered the device
// code: false while they have not; an error when the code expired or was
// declined (the sign-in is then over).
func (c *Configs) PollMicrosoft(ctx context.Context, actor auth.Actor, wsID string) (bool, error) {
	cfg, g, err := c.oauthFor(ctx, actor, wsID)
	if err != nil {
		return false, err
	}
	p, ok, err := c.pending(ctx, actor, wsID)
	if err != nil {
		return false, err
	}
	if !ok || p.Kind != KindMicrosoft {
		return false, errNoPending
	}
	code, err := c.ring.Open(p.secret, pendingWhere(wsID))
	if err != nil {
		return false, fmt.Errorf("sign-in: %w", err)
	}
	oc := oauthConfig(cfg, "")
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {oc.ClientID}, "device_code": {code}}
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, http.MethodPost, oc.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return false, fmt.Errorf("sign-in: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, errs.New(errs.Invalid, "Microsoft could not be asked: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
		Error        string `json:"error"`
		Description  string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return false, fmt.Errorf("sign-in: Microsoft's answer (%d): %w", resp.StatusCode, err)
	}
	switch out.Error {
	case "":
	case "authorization_pending", "slow_down":
		return false, nil
	default:
		_ = c.Cancel(ctx, actor, wsID)
		msg := map[string]string{"expired_token": "The code expired before it was entered: start again.",
			"authorization_declined": "The sign-in was declined at Microsoft: start again and accept.",
			"access_denied":          "The sign-in was declined at Microsoft: start again and accept."}[out.Error]
		if msg == "" {
			msg = "Microsoft refused the sign-in (" + out.Error + "): start again."
		}
		return false, errs.New(errs.Invalid, "%s", msg)
	}
	if out.RefreshToken == "" {
		return false, errs.New(errs.Invalid, "Microsoft gave no refresh token: the app registration must allow offline_access.")
	}
	tok := &oauth2.Token{AccessToken: out.AccessToken, RefreshToken: out.RefreshToken, Expiry: time.Now().Add(time.Duration(out.ExpiresIn) * time.Second)}
	return true, c.connected(ctx, actor, wsID, g, tok)
}

// Cancel drops workspace wsID's sign-in in progress, if any.
func (c *Configs) Cancel(ctx context.Context, actor auth.Actor, wsID string) error {
	return workspace.Write(ctx, c.db, actor, wsID, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `DELETE FROM oauth_pending WHERE workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{wsID}}); err != nil {
			return fmt.Errorf("cancel sign-in: %w", err)
		}
		if conn.Changes() == 0 {
			return nil
		}
		return audit.Record(conn, actor.Audit("provider.signin_cancelled", "workspace", wsID, nil))
	})
}

// connected stores tok for workspace wsID, ends the sign-in in progress
// and clears the provider's problem (a revoked token, say).
func (c *Configs) connected(ctx context.Context, actor auth.Actor, wsID string, g grant, tok *oauth2.Token) error {
	g.Access, g.Expiry = tok.AccessToken, tok.Expiry
	if tok.RefreshToken != "" {
		g.Refresh = tok.RefreshToken
	}
	if g.Refresh == "" {
		return errs.New(errs.Invalid, "The provider gave no refresh token: start again (pi-crm asks for offline access).")
	}
	return workspace.Write(ctx, c.db, actor, wsID, func(conn *sqlite.Conn) error {
		// A new updated_at makes crm-sender open the provider again, on
		// the new tokens.
		if err := sqlitex.Execute(conn, `UPDATE email_providers SET secret = ?, problem = '', updated_at = ? WHERE workspace_id = ?`,
			&sqlitex.ExecOptions{Args: []any{sealGrant(c.ring, wsID, g), store.FormatTime(time.Now()), wsID}}); err != nil {
			return fmt.Errorf("store sign-in: %w", err)
		}
		if err := sqlitex.Execute(conn, `DELETE FROM oauth_pending WHERE workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{wsID}}); err != nil {
			return fmt.Errorf("store sign-in: %w", err)
		}
		return audit.Record(conn, actor.Audit("provider.signed_in", "workspace", wsID, nil))
	})
}

// oauthReason is what a token endpoint said, without the tokens.
func oauthReason(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return strings.TrimSpace(re.ErrorCode + " " + re.ErrorDescription)
		}
		return fmt.Sprintf("HTTP %d", re.Response.StatusCode)
	}
	return err.Error()
}

// tokens keeps one Google or Microsoft account's access token, refreshing
// it when it runs out. A new token is stored (sealed) at once: Microsoft
// turns its refresh tokens over. A refused refresh (revoked, or Google's
// 7-day expiry for a project left in Testing) is noted on the workspace.
type tokens struct {
	mu   sync.Mutex
	kind string
	ws   string
	oc   *oauth2.Config
	g    grant
	env  Env
}

// errSignedOut is a refresh the provider refused: nothing can be sent
// until the user signs in again.
var errSignedOut = errors.New("signed out")

// token returns a valid access token, refreshing it when fresh is set or
// it is about to run out.
func (t *tokens) token(ctx context.Context, fresh bool) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !fresh && t.g.Access != "" && time.Until(t.g.Expiry) > time.Minute {
		return t.g.Access, nil
	}
	if t.g.Refresh == "" {
		return "", retrying(fmt.Errorf("%s: %w: sign this workspace in again in its email settings", Label(t.kind), errSignedOut))
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	tok, err := t.oc.TokenSource(rctx, &oauth2.Token{RefreshToken: t.g.Refresh}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.ErrorCode == "unauthorized_client" || re.Response.StatusCode == http.StatusUnauthorized) {
			who := map[string]string{KindGoogle: "Google", KindMicrosoft: "Microsoft"}[t.kind]
			problem := who + " no longer accepts this workspace's sign-in (" + oauthReason(err) + "): it was revoked, or it expired"
			if t.kind == KindGoogle {
				problem += " (a Cloud project left in Testing expires sign-ins after 7 days)"
			}
			problem += ". Sign in again in the email settings; messages wait until then."
			t.g.Refresh, t.g.Access = "", ""
			t.note(problem)
			return "", retrying(fmt.Errorf("%s: %w", strings.ToLower(who), errSignedOut))
		}
		return "", retrying(fmt.Errorf("refresh the %s sign-in: %s", Label(t.kind), oauthReason(err)))
	}
	t.g.Access, t.g.Expiry = tok.AccessToken, tok.Expiry
	if tok.RefreshToken != "" {
		t.g.Refresh = tok.RefreshToken
	}
	if t.env.DB != nil && t.env.Ring != nil {
		sealed := sealGrant(t.env.Ring, t.ws, t.g)
		// A token kept only in memory is lost on a restart and, where the
		// provider turned the refresh token over, the sign-in with it.
		if err := t.env.DB.Write(context.WithoutCancel(ctx), func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `UPDATE email_providers SET secret = ?, problem = '' WHERE workspace_id = ? AND kind = ?`,
				&sqlitex.ExecOptions{Args: []any{sealed, t.ws, t.kind}})
		}); err != nil {
			return "", retrying(fmt.Errorf("store the refreshed sign-in: %w", err))
		}
	}
	return t.g.Access, nil
}

// note records problem on the workspace's provider.
func (t *tokens) note(problem string) {
	if t.env.DB == nil || t.env.Ring == nil {
		return
	}
	// The sealed secret is emptied too: a refused refresh token is of no
	// more use, and the settings page then offers to sign in.
	_ = t.env.DB.Write(context.Background(), func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `UPDATE email_providers SET secret = ? WHERE workspace_id = ? AND kind = ?`,
			&sqlitex.ExecOptions{Args: []any{sealGrant(t.env.Ring, t.ws, t.g), t.ws, t.kind}}); err != nil {
			return err
		}
		return SetProblem(conn, t.ws, problem)
	})
}
