package mailer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/secrets"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Kinds of provider a workspace can send through.
const (
	KindFile      = "file"
	KindSMTP      = "smtp"
	KindMailgun   = "mailgun"
	KindGoogle    = "google"
	KindMicrosoft = "microsoft"
)

// Config is a workspace's email provider as it is stored: the kind, who
// mail comes from, the non-secret settings, and whether a secret is set
// (the secret itself is never read back out of this package but to send).
type Config struct {
	WorkspaceID string
	Kind        string
	FromName    string
	FromEmail   string
	Settings    Settings
	HasSecret   bool
	PerMinute   int
	DailyCap    int
	Problem     string // a refused key, a revoked token: shown on the workspace
	UpdatedAt   time.Time
	// HasWebhookKey says a Mailgun webhook signing key is stored.
	HasWebhookKey bool
	// HasDKIMKey says an SMTP account's DKIM signing key is stored.
	HasDKIMKey bool
	secret     string // sealed
	hook       string // the webhook key, sealed
	dkim       string // the DKIM key, sealed
}

// Settings are a provider's non-secret settings.
type Settings struct {
	Host     string `json:"host,omitempty"`
	Port     int    `json:"port,omitempty"`
	TLS      string `json:"tls,omitempty"`
	Username string `json:"username,omitempty"`
	Auth     string `json:"auth,omitempty"` // password or xoauth2 (smtp)
	Domain   string `json:"domain,omitempty"`
	Region   string `json:"region,omitempty"`
	BaseURL  string `json:"base_url,omitempty"` // a provider's API at another address (tests)
	// ClientID is the OAuth client of a Google Desktop app or a Microsoft
	// app registration; Tenant is Microsoft's (default common).
	ClientID string `json:"client_id,omitempty"`
	Tenant   string `json:"tenant,omitempty"`
	AuthBase string `json:"auth_base,omitempty"` // the OAuth server at another address (tests)
	// IMAPHost, when set, is an SMTP account's IMAP server, read with the
	// same sign-in for replies and unsubscribes; IMAPTLS is tls (port
	// 993), starttls or none.
	// Conns is how many connections an SMTP account sends on at once
	// (default 4; servers limit it, Gmail's to about ten).
	Conns    int    `json:"conns,omitempty"`
	IMAPHost string `json:"imap_host,omitempty"`
	// DKIMSelector, with a DKIM key stored, has an SMTP account's mail
	// signed for the From address's domain (the key's public half in DNS
	// at selector._domainkey.domain).
	DKIMSelector string `json:"dkim_selector,omitempty"`
	IMAPPort     int    `json:"imap_port,omitempty"`
	IMAPTLS      string `json:"imap_tls,omitempty"`
}

// Configs reads and writes workspaces' provider settings, sealing the
// secret with the appliance's keys.
type Configs struct {
	db   *store.DB
	ring *secrets.Ring
}

// NewConfigs returns the provider settings store; ring may be nil for a
// reader that never opens or seals a secret.
func NewConfigs(db *store.DB, ring *secrets.Ring) *Configs { return &Configs{db: db, ring: ring} }

func where(wsID string) string { return "email_providers.secret:" + wsID }

func dkimWhere(wsID string) string { return "email_providers.dkim_key:" + wsID }

// Change is a settings form: Secret empty keeps the stored one.
type Change struct {
	Kind      string
	FromName  string
	FromEmail string
	Settings  Settings
	Secret    string
	// WebhookKey is Mailgun's webhook signing key (empty keeps the stored one).
	WebhookKey string
	// DKIMKey is an SMTP account's DKIM private key, PEM (empty keeps the
	// stored one).
	DKIMKey   string
	PerMinute int
	DailyCap  int
}

// Get returns workspace wsID's provider, or ok false when it has none.
func (c *Configs) Get(ctx context.Context, actor auth.Actor, wsID string) (cfg Config, ok bool, err error) {
	err = workspace.Read(ctx, c.db, actor, wsID, func(conn *sqlite.Conn) error {
		cfg, ok, err = ConfigIn(conn, wsID)
		return err
	})
	return cfg, ok, err
}

// ConfigIn reads workspace wsID's provider inside the caller's transaction.
func ConfigIn(conn *sqlite.Conn, wsID string) (Config, bool, error) {
	var cfg Config
	found := false
	err := sqlitex.Execute(conn, `SELECT kind, from_name, from_email, settings, secret, per_minute, daily_cap, problem, updated_at, webhook_secret, dkim_key FROM email_providers WHERE workspace_id = ?`,
		&sqlitex.ExecOptions{Args: []any{wsID}, ResultFunc: func(st *sqlite.Stmt) error {
			found = true
			cfg = Config{WorkspaceID: wsID, Kind: st.ColumnText(0), FromName: st.ColumnText(1), FromEmail: st.ColumnText(2), secret: st.ColumnText(4),
				PerMinute: st.ColumnInt(5), DailyCap: st.ColumnInt(6), Problem: st.ColumnText(7)}
			cfg.HasSecret = cfg.secret != ""
			cfg.hook = st.ColumnText(9)
			cfg.HasWebhookKey = cfg.hook != ""
			cfg.dkim = st.ColumnText(10)
			cfg.HasDKIMKey = cfg.dkim != ""
			cfg.UpdatedAt, _ = store.ParseTime(st.ColumnText(8))
			return json.Unmarshal([]byte(st.ColumnText(3)), &cfg.Settings)
		}})
	if err != nil {
		return Config{}, false, fmt.Errorf("read email provider: %w", err)
	}
	return cfg, found, nil
}

// Set validates ch and stores it as workspace wsID's provider, sealing a
// new secret. Errors name each bad field; nothing is stored then.
func (c *Configs) Set(ctx context.Context, actor auth.Actor, wsID string, ch Change) (Config, error) {
	f := errs.Fields{}
	ch.FromName, ch.FromEmail = strings.TrimSpace(ch.FromName), strings.TrimSpace(ch.FromEmail)
	if a, err := mail.ParseAddress(ch.FromEmail); err != nil || a.Address != ch.FromEmail {
		f.Add("from_email", "Enter the address mail comes from, like andy@loanfactory.com.")
	}
	s := &ch.Settings
	s.Host, s.Domain, s.Username, s.BaseURL = strings.TrimSpace(s.Host), strings.ToLower(strings.TrimSpace(s.Domain)), strings.TrimSpace(s.Username), strings.TrimSpace(s.BaseURL)
	switch ch.Kind {
	case KindFile:
	case KindSMTP:
		if s.Host == "" {
			f.Add("host", "Enter the SMTP server, like smtp.gmail.com.")
		}
		if s.Port <= 0 || s.Port > 65535 {
			f.Add("port", "Enter the port: 587 for STARTTLS, 465 for TLS.")
		}
		if s.TLS == "" {
			s.TLS = "starttls"
		}
		if s.TLS != "starttls" && s.TLS != "tls" && s.TLS != "none" {
			f.Add("tls", "Choose STARTTLS, TLS or none.")
		}
		if s.Auth == "" {
			s.Auth = "password"
		}
		if s.Auth != "password" && s.Auth != "xoauth2" {
			f.Add("auth", "Choose an app password or XOAUTH2.")
		}
		if s.Conns < 0 || s.Conns > MaxSMTPConns {
			f.Add("conns", fmt.Sprintf("Send on 1 to %d connections at once (empty: %d).", MaxSMTPConns, DefaultSMTPConns))
		}
		s.DKIMSelector = strings.TrimSpace(s.DKIMSelector)
		if ch.DKIMKey != "" {
			if _, err := gomail.PrivKeyFromPEM([]byte(ch.DKIMKey)); err != nil {
				f.Add("dkim_key", "Paste the DKIM private key as PEM (an RSA or Ed25519 key, -----BEGIN ... PRIVATE KEY-----).")
			}
			if s.DKIMSelector == "" {
				f.Add("dkim_selector", "Enter the DKIM selector the key is published under (selector._domainkey.your-domain).")
			}
		}
		s.IMAPHost = strings.TrimSpace(s.IMAPHost)
		switch {
		case s.IMAPHost == "":
			s.IMAPPort, s.IMAPTLS = 0, ""
		case s.IMAPPort < 0 || s.IMAPPort > 65535:
			f.Add("imap_port", "Enter the IMAP port: 993 for TLS, 143 for STARTTLS.")
		case s.IMAPTLS != "" && s.IMAPTLS != "tls" && s.IMAPTLS != "starttls" && s.IMAPTLS != "none":
			f.Add("imap_tls", "Choose TLS, STARTTLS or none.")
		}
		if s.IMAPHost != "" && s.Username == "" {
			f.Add("username", "Enter the user name: the IMAP server is signed in to with it.")
		}
	case KindMailgun:
		if s.Domain == "" || !strings.Contains(s.Domain, ".") {
			f.Add("domain", "Enter the Mailgun sending domain, like mg.rateready.com.")
		}
		if s.Region == "" {
			s.Region = "us"
		}
		if s.Region != "us" && s.Region != "eu" {
			f.Add("region", "Choose the US or EU region.")
		}
	case KindGoogle, KindMicrosoft:
		s.ClientID, s.Tenant = strings.TrimSpace(s.ClientID), strings.TrimSpace(s.Tenant)
		if s.ClientID == "" {
			f.Add("client_id", map[string]string{KindGoogle: "Enter the OAuth client id of the Desktop app made in Google Cloud.",
				KindMicrosoft: "Enter the application (client) id of the app registered in Microsoft Entra."}[ch.Kind])
		}
	default:
		f.Add("kind", "Choose how this workspace sends email.")
	}
	if ch.PerMinute < 0 || ch.PerMinute > 10000 {
		f.Add("per_minute", "Enter 0 (no limit) to 10,000 messages a minute.")
	}
	if ch.DailyCap < 0 || ch.DailyCap > 1000000 {
		f.Add("daily_cap", "Enter 0 (no cap) or a daily limit.")
	}
	if err := f.Err(); err != nil {
		return Config{}, err
	}
	var out Config
	err := workspace.Write(ctx, c.db, actor, wsID, func(conn *sqlite.Conn) error {
		old, had, err := ConfigIn(conn, wsID)
		if err != nil {
			return err
		}
		sealed := ""
		switch {
		case isOAuth(ch.Kind):
			if sealed, err = c.sealOAuth(wsID, ch, old, had); err != nil {
				return err
			}
		case ch.Secret != "":
			if c.ring == nil {
				return errNoRing
			}
			sealed = c.ring.Seal(ch.Secret, where(wsID))
		case had && old.Kind == ch.Kind:
			sealed = old.secret
		}
		if (ch.Kind == KindSMTP && s.Username != "" || ch.Kind == KindMailgun || ch.Kind == KindGoogle) && sealed == "" {
			if ch.Kind == KindGoogle {
				return errs.Fields{"secret": "Enter the OAuth client secret of the Desktop app."}.Err()
			}
			return errs.Fields{"secret": "Enter the password or API key."}.Err()
		}
		hook := ""
		switch {
		case ch.WebhookKey != "" && c.ring != nil:
			hook = c.ring.Seal(ch.WebhookKey, hookWhere(wsID))
		case ch.WebhookKey == "" && had && old.Kind == ch.Kind:
			hook = old.hook
		}
		dkim := ""
		switch {
		case ch.Kind != KindSMTP:
		case ch.DKIMKey != "":
			if c.ring == nil {
				return errNoRing
			}
			dkim = c.ring.Seal(ch.DKIMKey, dkimWhere(wsID))
		case had && old.Kind == ch.Kind:
			dkim = old.dkim
		}
		if ch.Kind == KindSMTP && ch.Settings.DKIMSelector != "" && dkim == "" {
			return errs.Fields{"dkim_key": "Paste the DKIM private key for this selector, or leave the selector empty."}.Err()
		}
		b, _ := json.Marshal(ch.Settings)
		now := store.FormatTime(time.Now())
		if err := sqlitex.Execute(conn, `INSERT INTO email_providers (workspace_id, kind, from_name, from_email, settings, secret, per_minute, daily_cap, problem, updated_at, webhook_secret, dkim_key)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?) ON CONFLICT (workspace_id) DO UPDATE SET kind = excluded.kind, from_name = excluded.from_name,
	from_email = excluded.from_email, settings = excluded.settings, secret = excluded.secret, per_minute = excluded.per_minute,
	daily_cap = excluded.daily_cap, problem = '', updated_at = excluded.updated_at, webhook_secret = excluded.webhook_secret, dkim_key = excluded.dkim_key`,
			&sqlitex.ExecOptions{Args: []any{wsID, ch.Kind, ch.FromName, ch.FromEmail, string(b), sealed, ch.PerMinute, ch.DailyCap, now, hook, dkim}}); err != nil {
			return fmt.Errorf("save email provider: %w", err)
		}
		if err := sqlitex.Execute(conn, `UPDATE workspace_settings SET email_provider = ? WHERE workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{ch.Kind, wsID}}); err != nil {
			return fmt.Errorf("save email provider: %w", err)
		}
		// The audit row says what changed, never the secret.
		if err := audit.Record(conn, actor.Audit("provider.set", "workspace", wsID, map[string]any{"kind": ch.Kind, "from": ch.FromEmail,
			"secret_changed": ch.Secret != "", "webhook_key_changed": ch.WebhookKey != "", "dkim_key_changed": ch.DKIMKey != ""})); err != nil {
			return err
		}
		out, _, err = ConfigIn(conn, wsID)
		return err
	})
	return out, err
}

var errNoRing = errors.New("store credentials: this appliance has no secret key (the secret-keys credential; crmctl migrate makes one for a development machine)")

// sealOAuth seals a Google or Microsoft account's grant: the client secret
// given (or the one stored) and the stored tokens, kept while the client,
// tenant and address stay the same; "" when there is nothing to keep.
func (c *Configs) sealOAuth(wsID string, ch Change, old Config, had bool) (string, error) {
	var g grant
	if had && old.Kind == ch.Kind && old.secret != "" {
		if c.ring == nil {
			return "", errNoRing
		}
		var err error
		if g, err = openGrant(c.ring, wsID, old.secret); err != nil {
			return "", err
		}
		if old.Settings.ClientID != ch.Settings.ClientID || old.Settings.Tenant != ch.Settings.Tenant || !strings.EqualFold(old.FromEmail, ch.FromEmail) {
			g.Refresh, g.Access, g.Expiry = "", "", time.Time{} // another client or account: sign in again
		}
	}
	if ch.Secret != "" {
		g.ClientSecret = ch.Secret
	}
	if g == (grant{}) {
		return "", nil
	}
	if c.ring == nil {
		return "", errNoRing
	}
	return sealGrant(c.ring, wsID, g), nil
}

// SetProblem records (or, with "", clears) what is wrong with workspace
// wsID's provider: crm-sender's note after a refused key.
func SetProblem(conn *sqlite.Conn, wsID, problem string) error {
	if err := sqlitex.Execute(conn, `UPDATE email_providers SET problem = ? WHERE workspace_id = ? AND problem <> ?`,
		&sqlitex.ExecOptions{Args: []any{problem, wsID, problem}}); err != nil {
		return fmt.Errorf("note provider problem: %w", err)
	}
	return nil
}

// Env is what opening a provider needs beyond its settings: the keys that
// open its secret, the data folder (the file provider writes under
// mail/), and the database a Google or Microsoft account's refreshed
// tokens and problems are stored in.
type Env struct {
	Ring    *secrets.Ring
	DataDir string
	DB      *store.DB
}

// Open builds cfg's provider.
func Open(cfg Config, env Env) (Provider, error) {
	ring, dataDir := env.Ring, env.DataDir
	if isOAuth(cfg.Kind) {
		return openOAuth(cfg, env)
	}
	secret := ""
	if cfg.secret != "" {
		if ring == nil {
			return nil, fmt.Errorf("no secret key to open the %s credentials with", cfg.Kind)
		}
		var err error
		if secret, err = ring.Open(cfg.secret, where(cfg.WorkspaceID)); err != nil {
			return nil, fmt.Errorf("%s credentials: %w", cfg.Kind, err)
		}
	}
	s := cfg.Settings
	switch cfg.Kind {
	case KindFile:
		return File{Dir: filepath.Join(dataDir, "mail")}, nil
	case KindSMTP:
		sc := SMTPConfig{Host: s.Host, Port: s.Port, TLS: s.TLS, Username: s.Username, Password: secret, Conns: cmp.Or(s.Conns, DefaultSMTPConns)}
		if cfg.dkim != "" && s.DKIMSelector != "" {
			pemKey, err := ring.Open(cfg.dkim, dkimWhere(cfg.WorkspaceID))
			if err != nil {
				return nil, fmt.Errorf("dkim key: %w", err)
			}
			key, err := gomail.PrivKeyFromPEM([]byte(pemKey))
			if err != nil {
				return nil, fmt.Errorf("dkim key: %w", err)
			}
			sc.DKIM = gomail.NewDKIMSigner(outbox.DomainOf(cfg.FromEmail), s.DKIMSelector, key)
		}
		if s.Auth == "xoauth2" {
			sc.Password, sc.Token = "", secret
		}
		p, err := NewSMTP(sc)
		switch {
		case err != nil:
			return nil, err
		case s.IMAPHost == "":
			return p, nil
		}
		return smtpWithInbox{SMTP: p, in: NewIMAP(IMAPConfig{Host: s.IMAPHost, Port: s.IMAPPort, TLS: s.IMAPTLS, Username: s.Username,
			Password: sc.Password, Token: sc.Token})}, nil
	case KindMailgun:
		return NewMailgun(MailgunConfig{APIKey: secret, Domain: s.Domain, Region: s.Region, BaseURL: s.BaseURL})
	default:
		return nil, fmt.Errorf("sending through %q is not built: choose another provider", cfg.Kind)
	}
}

// SMTP connections an account sends on at once: the default, and the most
// the settings take.
const (
	DefaultSMTPConns = 4
	MaxSMTPConns     = 16
)

// ErrNotSignedIn is opening a Google or Microsoft account that has not
// been signed in (or whose sign-in was refused since).
var ErrNotSignedIn = errors.New("not signed in yet: sign in on the workspace's email settings")

// openOAuth builds a Google (Gmail API) or Microsoft (Graph) provider on
// the account's stored sign-in.
func openOAuth(cfg Config, env Env) (Provider, error) {
	g, err := openGrant(env.Ring, cfg.WorkspaceID, cfg.secret)
	if err != nil {
		return nil, err
	}
	if g.Refresh == "" {
		return nil, fmt.Errorf("%s: %w", Label(cfg.Kind), ErrNotSignedIn)
	}
	t := &tokens{kind: cfg.Kind, ws: cfg.WorkspaceID, oc: oauthConfig(cfg, g.ClientSecret), g: g, env: env}
	base := cfg.Settings.BaseURL
	if cfg.Kind == KindGoogle {
		if base == "" {
			base = DefaultGmailBase
		}
		return &Gmail{api: newREST("Gmail", base, t)}, nil
	}
	if base == "" {
		base = DefaultGraphBase
	}
	return &Graph{api: newREST("Microsoft Graph", base, t)}, nil
}

// Label names a kind for people.
func Label(kind string) string {
	return map[string]string{KindFile: "File (no mail leaves the appliance)", KindSMTP: "SMTP", KindMailgun: "Mailgun",
		KindGoogle: "Google Workspace (Gmail API)", KindMicrosoft: "Microsoft 365 (Graph)"}[kind]
}

// Port parses a port field.
func Port(v string) int { n, _ := strconv.Atoi(strings.TrimSpace(v)); return n }

// Reseal seals every stored provider secret (API keys, passwords, tokens,
// webhook keys) again under ring's current key, in one transaction, and
// says how many moved and how many already were under it. A secret no key
// of the ring opens fails the whole run.
func Reseal(ctx context.Context, db *store.DB, ring *secrets.Ring) (moved, kept int, err error) {
	err = db.Write(ctx, func(conn *sqlite.Conn) error {
		for _, col := range []struct {
			name  string
			where func(string) string
		}{{"secret", where}, {"webhook_secret", hookWhere}, {"dkim_key", dkimWhere}} {
			type row struct{ ws, sealed string }
			var rows []row
			if err := sqlitex.Execute(conn, `SELECT workspace_id, `+col.name+` FROM email_providers WHERE `+col.name+` <> ''`, &sqlitex.ExecOptions{
				ResultFunc: func(st *sqlite.Stmt) error { rows = append(rows, row{st.ColumnText(0), st.ColumnText(1)}); return nil }}); err != nil {
				return fmt.Errorf("read provider secrets: %w", err)
			}
			for _, r := range rows {
				again, changed, err := ring.Reseal(r.sealed, col.where(r.ws))
				if err != nil {
					return fmt.Errorf("workspace %s: %w", r.ws, err)
				}
				if !changed {
					kept++
					continue
				}
				if err := sqlitex.Execute(conn, `UPDATE email_providers SET `+col.name+` = ? WHERE workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{again, r.ws}}); err != nil {
					return fmt.Errorf("reseal: %w", err)
				}
				moved++
			}
		}
		return nil
	})
	return moved, kept, err
}
