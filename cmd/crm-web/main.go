// Command crm-web serves pi-crm's web UI, its JSON API, /healthz and
// /metrics. It migrates the database at start, accepts a socket from systemd
// socket activation (falling back to PICRM_HTTP_ADDR), and talks to systemd
// with READY, WATCHDOG and STOPPING notifications.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"

	"github.com/pi-crm/pi-crm/pkg/api"
	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/daemon"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/web"
	"github.com/pi-crm/pi-crm/pkg/workspace"
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
	// PprofAddr, when set, serves net/http/pprof there (keep it on
	// loopback); off by default.
	PprofAddr string
}

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
	c.PprofAddr = e.Addr("PICRM_PPROF_ADDR", "")
	return c, e.Err()
}

func main() {
	cfg, err := ReadConfig(config.FromOS())
	if err != nil {
		fmt.Fprintln(os.Stderr, "crm-web:", err)
		os.Exit(2)
	}
	log := daemon.NewLogger(cfg.LogLevel).With("daemon", "crm-web")
	daemon.TuneMemory()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if cfg.PprofAddr != "" {
		go servePprof(log, cfg.PprofAddr)
	}
	m, err := Open(log, cfg)
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	if err := m.Run(ctx); err != nil {
		log.Error("stopped with error", "err", err)
		os.Exit(1)
	}
}

// Main is a running crm-web: a test can Open it on port 0 and Run it.
type Main struct {
	log *slog.Logger
	db  *store.DB
	ln  net.Listener
	srv *http.Server
}

// Open migrates the database, builds the server and binds the listener.
func Open(log *slog.Logger, cfg Config) (*Main, error) {
	db, err := store.Open(cfg.DB, store.Options{PoolSize: 4})
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
	authStore := auth.NewStore(db, auth.Options{BcryptCost: cfg.BcryptCost, SessionIdle: cfg.SessionIdle, SessionMax: cfg.SessionMax})
	wsStore := workspace.NewStore(db, list.Hooks(), contact.Hooks())
	contacts, lists := contact.NewStore(db), list.NewStore(db)
	reg := daemon.NewRegistry("crm-web", version)
	srv, err := web.New(web.Deps{
		Log: log, DB: db, Auth: authStore, Workspaces: wsStore, Contacts: contacts, Lists: lists, Audit: audit.NewStore(db), Registry: reg,
		API:     api.New(log, authStore, wsStore, contacts, lists, api.Options{RatePerSecond: float64(cfg.APIRate), Burst: cfg.APIBurst}),
		Version: version, SecureCookies: cfg.SecureCookies,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	ln, err := listener(cfg.HTTPAddr)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Main{log: log, db: db, ln: ln, srv: &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}}, nil
}

// listener takes the socket systemd passed (crm-web.socket), else listens
// on addr.
func listener(addr string) (net.Listener, error) {
	lns, err := activation.Listeners()
	if err != nil {
		return nil, fmt.Errorf("socket activation: %w", err)
	}
	for _, ln := range lns {
		if ln != nil {
			return ln, nil
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (PICRM_HTTP_ADDR): %w", addr, err)
	}
	return ln, nil
}

// Addr returns the address the server listens on.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Run serves until ctx ends, then shuts down within 4 s (systemd's stop
// timeout is longer) and closes the database.
func (m *Main) Run(ctx context.Context) error {
	defer m.db.Close()
	errc := make(chan error, 1)
	go func() { errc <- m.srv.Serve(m.ln) }()
	daemon.Notify(m.log, "READY=1\nSTATUS=serving on "+m.Addr())
	m.log.Info("serving", "addr", "http://"+m.Addr(), "version", version)
	var wdC <-chan time.Time
	if wd := daemon.WatchdogInterval(); wd > 0 {
		t := time.NewTicker(wd)
		defer t.Stop()
		wdC = t.C
	}
	for {
		select {
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("serve: %w", err)
		case <-wdC:
			// Pet the watchdog only while the database answers: a wedged
			// store gets the unit restarted.
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := m.db.Ping(pctx)
			cancel()
			if err != nil {
				m.log.Error("watchdog: database does not answer", "err", err)
				continue
			}
			daemon.Notify(m.log, "WATCHDOG=1")
		case <-ctx.Done():
			daemon.Notify(m.log, "STOPPING=1")
			m.log.Info("stopping")
			sctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
			defer cancel()
			if err := m.srv.Shutdown(sctx); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			return nil
		}
	}
}

// servePprof serves the Go profiler for a developer chasing a slow page.
func servePprof(log *slog.Logger, addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info("pprof serving", "addr", addr)
	if err := srv.ListenAndServe(); err != nil {
		log.Warn("pprof stopped", "err", err)
	}
}
