package health

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pi-crm/pi-crm/pkg/backup"
	"github.com/pi-crm/pi-crm/pkg/daemon"
	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// Scheduler is crm-health's work on the daemon loop: a round of checks and
// alerts every Interval, and the retention once a day. Each runs beside the
// loop (quick_check of a large database on an SD card can outlast the
// watchdog), and the loop's in-flight guard keeps rounds from overlapping.
type Scheduler struct {
	cfg     Config
	db      *store.DB
	log     *slog.Logger
	checker *Checker
	alerter *Alerter
	mu      sync.Mutex
	failing map[string]bool // what the last round found, to log changes only
}

// NewScheduler returns the scheduler of the checks over db; bucket (nil
// without one) is checked for replica lag.
func NewScheduler(cfg Config, db *store.DB, bucket *backup.Bucket, metrics *Metrics, log *slog.Logger) *Scheduler {
	return &Scheduler{cfg: cfg, db: db, log: log, checker: NewChecker(cfg, db, bucket, metrics),
		alerter: NewAlerter(cfg.Alert, db, log, metrics), failing: map[string]bool{}}
}

// FirstRound is how long after start the first round runs: the daemons
// started beside crm-health write their first heartbeat meanwhile, so a
// boot does not mail a "not running" alert.
const FirstRound = time.Second

// Add puts the rounds and the retention on l.
func (s *Scheduler) Add(l *daemon.Loop) {
	l.EveryAfter("checks", FirstRound, s.cfg.Interval, s.Round)
	l.EveryAfter("retention", FirstRound, 24*time.Hour, s.Prune)
}

// Round runs the checks, logs each one that starts or stops failing, and
// mails the alerts that are due.
func (s *Scheduler) Round(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(s.cfg.Interval, 30*time.Second))
	defer cancel()
	results := s.checker.Run(ctx)
	s.mu.Lock()
	for _, r := range results {
		switch {
		case !r.OK && !s.failing[r.Check]:
			s.log.Warn("check failed", logkey.Check, r.Check, logkey.Value, r.Value, logkey.Detail, r.Detail)
		case r.OK && s.failing[r.Check]:
			s.log.Info("check passes again", logkey.Check, r.Check, logkey.Value, r.Value)
		}
		s.failing[r.Check] = !r.OK
	}
	s.mu.Unlock()
	if _, err := s.alerter.Notify(ctx, results); err != nil {
		return err
	}
	return nil
}

// Prune deletes what is past its retention (audit rows, login failures).
func (s *Scheduler) Prune(ctx context.Context) error {
	p, err := Prune(ctx, s.db, time.Now())
	if err != nil {
		return err
	}
	if p.Audit+p.LoginFailures > 0 {
		s.log.Info("retention", "audit_rows", p.Audit, "login_failures", p.LoginFailures)
	}
	return nil
}
