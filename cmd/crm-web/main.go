// Command crm-web serves pi-crm's web UI, its JSON API and /healthz, and
// its /metrics on a loopback address of its own (PICRM_WEB_METRICS_ADDR),
// never on the LAN port. It migrates the database at start, accepts its sockets from
// systemd socket activation (falling back to PICRM_HTTPS_ADDR and
// PICRM_HTTP_ADDR), and talks to systemd with READY, WATCHDOG and STOPPING
// notifications.
//
// With a certificate (PICRM_TLS_CERT and the tls-key credential) it serves
// HTTPS with HSTS and answers plain HTTP with a redirect; without one it
// serves plain HTTP, as `make run` does. Either way only clients inside
// PICRM_ALLOWED_NETS get past a 403.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pi-crm/pi-crm/internal/services"
	"github.com/pi-crm/pi-crm/pkg/api"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/backup/ledger"
	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/daemon"
	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/netguard"
	"github.com/pi-crm/pi-crm/pkg/secrets"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/web"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Config is crm-web's configuration, read from PICRM_* variables.
type Config struct {
	config.Common
	HTTPAddr      string
	SessionIdle   time.Duration
	SessionMax    time.Duration
	SecureCookies bool
	BcryptCost    int
	APIRate       int
	APIBurst      int
	// PprofAddr, when set, serves net/http/pprof there; it must be a
	// loopback address. Off by default.
	PprofAddr string
	// MetricsAddr serves /metrics, on loopback unless the operator says
	// otherwise: the LAN port never serves it.
	MetricsAddr string
	// HTTPSAddr is where HTTPS listens without socket activation.
	HTTPSAddr string
	// TLS is the server certificate; nil serves plain HTTP.
	TLS *tls.Certificate
	// Replicated says a bucket is configured (PICRM_S3_BUCKET): crm-web
	// holds none of its keys, it only says so on the System page.
	Replicated bool
	// AllowedNets are the client networks served; others get 403.
	AllowedNets []netip.Prefix
	// BackupTrigger is the file crm-snapshot.path watches: "Backup now"
	// touches it and systemd runs the snapshot with the S3 keys crm-web
	// never holds. Empty runs `crmctl backup snapshot` beside crm-web
	// (make run), the same code the unit runs.
	BackupTrigger string
	// Ring seals the provider credentials users save (secret-keys).
	Ring *secrets.Ring
	// Twilio checks the texts Twilio posts to /hooks/twilio, for an owner
	// who exposes the Pi: PICRM_TWILIO_ACCOUNT_SID, the twilio-webhook-key
	// credential (the key Twilio signs with: the account's auth token;
	// "unset" turns the hook off) and PICRM_PUBLIC_URL (the address Twilio
	// was given, when a proxy or a tunnel stands between).
	Twilio web.TwilioHook
}

// CredTLSKey is the credential holding the server's private key (PEM).
const CredTLSKey = "tls-key"

// ReadConfig reads crm-web's configuration; the error names every bad variable.
func ReadConfig(e *config.Env) (Config, error) {
	c := Config{Common: config.ReadCommon(e)}
	c.HTTPAddr = e.Addr("PICRM_HTTP_ADDR", "127.0.0.1:8080")
	c.SessionIdle = e.Duration("PICRM_SESSION_IDLE", 7*24*time.Hour)
	c.SessionMax = e.Duration("PICRM_SESSION_MAX", 30*24*time.Hour)
	c.SecureCookies = e.Bool("PICRM_COOKIE_SECURE", false)
	c.BcryptCost = e.Int("PICRM_BCRYPT_COST", 11, 4, 15)
	c.APIRate = e.Int("PICRM_API_RATE", 10, 1, 10000)
	c.APIBurst = e.Int("PICRM_API_BURST", 30, 1, 10000)
	c.PprofAddr = e.LoopbackAddr("PICRM_PPROF_ADDR", "")
	// 9104: 9100 is node_exporter's (the optional role), 9101-9103 the workers', 9105 Litestream's.
	c.MetricsAddr = e.Addr("PICRM_WEB_METRICS_ADDR", "127.0.0.1:9104")
	c.HTTPSAddr = e.Addr("PICRM_HTTPS_ADDR", "127.0.0.1:8443")
	c.BackupTrigger = e.String("PICRM_BACKUP_TRIGGER", "")
	c.Replicated = e.String("PICRM_S3_BUCKET", "") != ""
	ring, err := secrets.Load(e, c.DataDir, false)
	if err != nil && !errors.Is(err, config.ErrNoCredential) {
		e.Fail(secrets.CredentialName, "%v", err)
	}
	c.Ring = ring
	c.Twilio = web.TwilioHook{AccountSID: e.String("PICRM_TWILIO_ACCOUNT_SID", ""), PublicURL: e.String("PICRM_PUBLIC_URL", "")}
	switch token, err := e.Credential("twilio-webhook-key"); {
	case err == nil && token != "unset" && c.Twilio.AccountSID != "":
		c.Twilio.AuthToken = token
	case err == nil, errors.Is(err, config.ErrNoCredential):
	default:
		e.Fail("twilio-webhook-key", "%v", err)
	}
	nets, err := netguard.ParseNets(e.String("PICRM_ALLOWED_NETS", netguard.DefaultNets))
	if err != nil {
		e.Fail("PICRM_ALLOWED_NETS", "%v", err)
	}
	c.AllowedNets = nets
	if certFile := e.String("PICRM_TLS_CERT", ""); certFile != "" {
		c.TLS = readCert(e, certFile)
		c.SecureCookies = true
	}
	return c, e.Err()
}

// readCert loads the certificate at certFile with the key from the tls-key
// credential (or, outside systemd, the file PICRM_TLS_KEY names).
func readCert(e *config.Env, certFile string) *tls.Certificate {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		e.Fail("PICRM_TLS_CERT", "%v", err)
		return nil
	}
	key, err := e.Credential(CredTLSKey)
	if errors.Is(err, config.ErrNoCredential) {
		if p := e.String("PICRM_TLS_KEY", ""); p != "" {
			b, rerr := os.ReadFile(p)
			key, err = string(b), rerr
		}
	}
	if err != nil {
		e.Fail("PICRM_TLS_CERT", "needs its private key in the %s credential: %v", CredTLSKey, err)
		return nil
	}
	cert, err := tls.X509KeyPair(certPEM, []byte(key))
	if err != nil {
		e.Fail("PICRM_TLS_CERT", "certificate and key do not form a pair: %v", err)
		return nil
	}
	return &cert
}

func main() {
	daemon.PrivateFiles()
	cfg, err := ReadConfig(config.FromOS())
	if err != nil {
		fmt.Fprintln(os.Stderr, "crm-web:", err)
		os.Exit(2)
	}
	log := daemon.NewLogger(cfg.LogLevel).With("daemon", "crm-web")
	daemon.TuneMemory(0, 0)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if cfg.PprofAddr != "" {
		go servePprof(log, cfg.PprofAddr)
	}
	m, err := Open(log, cfg)
	if err != nil {
		log.Error("cannot start", logkey.Err, err)
		os.Exit(1)
	}
	if err := m.Run(ctx); err != nil {
		log.Error("stopped with error", logkey.Err, err)
		os.Exit(1)
	}
}

// Main is a running crm-web: a test can Open it on port 0 and Run it.
type Main struct {
	log      *slog.Logger
	db       *store.DB
	lns      daemon.Listeners
	srv      *http.Server
	redirSrv *http.Server // plain HTTP answered with a redirect; nil without TLS
	metrics  *daemon.MetricsServer
	loop     *daemon.Loop
}

// Open migrates the database, builds the services, the server and the
// loop (the job runner, the upload sweep, the watchdog), and binds the
// listeners.
func Open(log *slog.Logger, cfg Config) (*Main, error) {
	db, err := store.Open(cfg.DB, store.Options{PoolSize: 4, Marker: cfg.DataMarker})
	if err != nil {
		return nil, err
	}
	from, to, err := db.Migrate(context.Background())
	if err != nil {
		db.Close()
		return nil, err
	}
	if from != to {
		log.Info("migrated database", "from", from, "to", to)
	}
	svc := services.New(db, log, services.Options{DataDir: cfg.DataDir, ImportLease: cfg.ImportLease, Ring: cfg.Ring,
		Auth: auth.Options{BcryptCost: cfg.BcryptCost, SessionIdle: cfg.SessionIdle, SessionMax: cfg.SessionMax}})
	reg := daemon.NewRegistry("crm-web", version)
	srv, err := web.New(web.Deps{Services: svc, Registry: reg, StartBackup: ledger.Starter(log, cfg.BackupTrigger, svc.Backups),
		API:     api.New(svc, api.Options{RatePerSecond: float64(cfg.APIRate), Burst: cfg.APIBurst}),
		Version: version, SecureCookies: cfg.SecureCookies, Replicated: cfg.Replicated, Twilio: cfg.Twilio,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	m := &Main{log: log, db: db, srv: &http.Server{
		Handler:           netguard.Guard(cfg.AllowedNets, netguard.HSTS(srv.Handler())),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       web.ReadTimeout, // the upload and downloads move their own (pkg/web/deadline.go)
		WriteTimeout:      web.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug), // TLS handshake noise from LAN scanners
	}}
	if m.lns, err = daemon.Listen(cfg.HTTPAddr, cfg.HTTPSAddr, cfg.TLS); err != nil {
		db.Close()
		return nil, err
	}
	if m.lns.Redirect != nil {
		_, httpsPort, _ := net.SplitHostPort(m.lns.App.Addr().String())
		m.redirSrv = &http.Server{
			Handler:           netguard.Guard(cfg.AllowedNets, netguard.RedirectHTTPS(httpsPort)),
			ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second,
		}
	}
	if m.metrics, err = daemon.ListenMetrics(log, cfg.MetricsAddr, reg); err != nil {
		m.lns.Close()
		db.Close()
		return nil, fmt.Errorf("%w (PICRM_WEB_METRICS_ADDR)", err)
	}
	// The loop: imports (new, and those a restart or a dead crmctl
	// interrupted) run on the job runner; stale uploads go hourly; the
	// watchdog is petted while the database answers.
	m.loop = daemon.NewLoop(log, reg)
	m.loop.Alive = db.Ping
	m.loop.Go("jobs", svc.WebJobs().Run)
	m.loop.Every("sweep-uploads", time.Hour, func(ctx context.Context) error {
		n, err := svc.Imports.Sweep(ctx, time.Now())
		if n > 0 {
			log.Info("swept import uploads", "files", n)
		}
		return err
	})
	m.loop.Go("http", func(ctx context.Context) error { return serve(ctx, m.srv, m.lns.App) })
	if m.redirSrv != nil {
		m.loop.Go("http-redirect", func(ctx context.Context) error { return serve(ctx, m.redirSrv, m.lns.Redirect) })
	}
	return m, nil
}

// serve serves ln until ctx ends, then shuts srv down within 4 s
// (systemd's stop timeout is longer).
func serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Addr returns the address the app listens on.
func (m *Main) Addr() string { return m.lns.App.Addr().String() }

// Run serves until ctx ends, then stops the loop and closes the database.
func (m *Main) Run(ctx context.Context) error {
	defer m.db.Close()
	if m.lns.Redirect != nil {
		m.log.Info("redirecting plain HTTP to HTTPS", "redirect", "http://"+m.lns.Redirect.Addr().String())
	}
	daemon.Settle()
	daemon.Notify(m.log, "READY=1\nSTATUS=serving on "+m.Addr())
	m.log.Info("serving", logkey.Addr, m.lns.Scheme+"://"+m.Addr(), "metrics", m.metrics.Addr(), "version", version)
	err := m.loop.Run(ctx)
	daemon.Notify(m.log, "STOPPING=1")
	m.log.Info("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = m.metrics.Shutdown(sctx)
	return err
}

// servePprof serves the Go profiler for a developer chasing a slow page.
func servePprof(log *slog.Logger, addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info("pprof serving", logkey.Addr, addr)
	if err := srv.ListenAndServe(); err != nil {
		log.Warn("pprof stopped", logkey.Err, err)
	}
}
