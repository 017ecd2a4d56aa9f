// Command crm-sender drains the outbox: it owns every outbound message.
// It claims due messages (the claim commits before a provider is called),
// sends them through each workspace's provider (the file provider, SMTP,
// Mailgun), records each outcome fenced on its attempt, and reconciles the
// messages a crash left unknown with their provider before anything is sent
// again. Like every worker it checks the schema, serves /metrics on
// PICRM_SENDER_METRICS_ADDR, writes its heartbeat row and pets the systemd
// watchdog from its loop.
//
// Provider secrets are opened with the systemd credential secret-keys (the
// file secret-keys in the data folder outside systemd). PICRM_SENDER_LEASE,
// PICRM_SENDER_SETTLE (how long a provider's records lag) and
// PICRM_SENDER_RECHECK tune the outbox. Texting: PICRM_TWILIO_ACCOUNT_SID,
// PICRM_TWILIO_FROM (the number, E.164) and the credential
// twilio-auth-token ("unset": none); PICRM_TWILIO_BASE_URL for tests.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/daemon"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/secrets"
	"github.com/pi-crm/pi-crm/pkg/sender"
	"github.com/pi-crm/pi-crm/pkg/sms"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	daemon.PrivateFiles()
	os.Exit(daemon.WorkerMainWith("crm-sender", version, "PICRM_SENDER_METRICS_ADDR", "127.0.0.1:9101", setup))
}

func setup(e *config.Env, cfg *daemon.WorkerConfig) {
	opt := sender.Options{
		Lease:   e.Duration("PICRM_SENDER_LEASE", 2*time.Minute),
		Settle:  e.Duration("PICRM_SENDER_SETTLE", 30*time.Minute),
		Recheck: e.Duration("PICRM_SENDER_RECHECK", time.Minute),
		Batch:   e.Int("PICRM_SENDER_BATCH", 200, 1, 5000),
		Workers: e.Int("PICRM_SENDER_WORKERS", 4, 1, 64),
	}
	pollEvery := e.Duration("PICRM_SENDER_POLL", time.Minute)
	tw := sms.Config{AccountSID: e.String("PICRM_TWILIO_ACCOUNT_SID", ""), From: e.String("PICRM_TWILIO_FROM", ""), BaseURL: e.String("PICRM_TWILIO_BASE_URL", "")}
	switch token, err := e.Credential("twilio-auth-token"); {
	case err == nil && token != "unset":
		tw.AuthToken = token
	case err == nil, errors.Is(err, config.ErrNoCredential):
	default:
		e.Fail("twilio-auth-token", "%v", err)
	}
	if tw.Configured() {
		opt.SMS = sms.New(tw)
	}
	ring, err := secrets.Load(e, cfg.Common.DataDir, false)
	if err != nil && !errors.Is(err, config.ErrNoCredential) {
		e.Fail(secrets.CredentialName, "%v", err)
	}
	dataDir := cfg.Common.DataDir
	// A sending batch is short-lived garbage (each message's MIME): a
	// tighter soft limit than the other daemons' bounds the heap should a
	// claim's bodies grow large. With GOGC=125 below it is not what sizes
	// the heap while sending.
	cfg.MemoryLimit = 20 << 20
	// Its live heap is 1-2 MB, so GOGC=300's floor (a 12 MB heap goal)
	// was most of what it held while sending. 125 holds 5 MB and
	// collects about 2.5 times as often: with the page cache below,
	// sender_rss_mb 35.1-35.4 -> 28.3-28.9, for sender_cpu_s_per_1000
	// about +0.003-0.005 s (see issue 15's note: 150 was 29.2-29.9 MB,
	// too close to the 30 MB target).
	cfg.GCPercent = 125
	// Its reads are a claim's rows and a few indexed lookups: 256 KiB of
	// page cache a connection instead of 2 MiB (sender_rss_mb -1 MB, no
	// CPU measured).
	cfg.CacheKiB = 256
	// Its work is waiting on providers: one thread runs its Go code. With
	// a second, each goroutine woken by an answer set an idle thread
	// spinning to look for more work (sender_cpu_s_per_1000 0.0658 ->
	// 0.0632 s, ten runs each; the same 12-13k messages a second).
	cfg.Procs = 1
	reg := daemon.NewRegistry(cfg.Name, cfg.Version)
	cfg.Registry = reg
	cfg.Setup = func(l *daemon.Loop, db *store.DB) error {
		log := daemon.NewLogger(cfg.Common.LogLevel).With("daemon", cfg.Name)
		if ring == nil {
			log.Warn("no secret keys: only providers without credentials (the file provider) can send", logkey.Detail, secrets.CredentialName)
		}
		from := ""
		if opt.SMS != nil {
			from = opt.SMS.From()
		}
		// crm-web, which never holds the token, learns whether texting works.
		if err := db.Write(context.Background(), func(conn *sqlite.Conn) error { return events.SetSMSConfig(conn, from) }); err != nil {
			return err
		}
		s := sender.New(db, log, ring, dataDir, opt)
		m, err := sender.NewMetrics(reg, db)
		if err != nil {
			return err
		}
		s.SetMetrics(m)
		l.Go("outbox", s.Run)
		l.Every("poll-events", pollEvery, s.Poll)
		return nil
	}
}
