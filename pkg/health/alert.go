package health

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// AlertEvery is the least time between two mails about one problem.
const AlertEvery = 24 * time.Hour

// Alerter mails failing checks, at most once per AlertEvery per check,
// remembering what it sent in the database so a restart does not resend.
type Alerter struct {
	cfg     Alert
	db      *store.DB
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
	// sent remembers mails when there is no database to (the data volume
	// is missing): once per problem per process and AlertEvery.
	sent map[string]time.Time
}

// NewAlerter returns an Alerter; with no SMTP address it only logs. With a
// nil db it remembers what it sent in memory only.
func NewAlerter(cfg Alert, db *store.DB, log *slog.Logger, metrics *Metrics) *Alerter {
	return &Alerter{cfg: cfg, db: db, log: log, metrics: metrics, now: time.Now, sent: map[string]time.Time{}}
}

// Notify mails each failing check not mailed within AlertEvery and returns
// the checks it mailed. A mail that fails is retried on the next run.
func (a *Alerter) Notify(ctx context.Context, results []Result) ([]string, error) {
	var sent []string
	for _, r := range results {
		if r.OK {
			continue
		}
		due, err := a.due(ctx, r.Check)
		if err != nil {
			return sent, err
		}
		if !due {
			continue
		}
		if a.cfg.Addr == "" {
			continue // no alert mail configured (PICRM_ALERT_SMTP_ADDR); the daemon logs the failure
		}
		if err := a.send(r, results); err != nil {
			a.count("error")
			a.log.Error("alert mail failed; retrying on the next run", logkey.Check, r.Check, logkey.Err, err)
			continue
		}
		a.count("sent")
		if err := a.markSent(ctx, r.Check); err != nil {
			return sent, err
		}
		a.log.Info("alert mailed", logkey.Check, r.Check)
		sent = append(sent, r.Check)
	}
	return sent, nil
}

func (a *Alerter) count(result string) {
	if a.metrics != nil {
		a.metrics.alerts.WithLabelValues(result).Inc()
	}
}

func (a *Alerter) due(ctx context.Context, problem string) (bool, error) {
	if a.db == nil {
		t, ok := a.sent[problem]
		return !ok || a.now().Sub(t) >= AlertEvery, nil
	}
	due := true
	err := a.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, "SELECT last_sent_at FROM health_alerts WHERE problem = ?", &sqlitex.ExecOptions{Args: []any{problem}, ResultFunc: func(st *sqlite.Stmt) error {
			if t, err := store.ParseTime(st.ColumnText(0)); err == nil && a.now().Sub(t) < AlertEvery {
				due = false
			}
			return nil
		}})
	})
	if err != nil {
		return false, fmt.Errorf("alert ledger: %w", err)
	}
	return due, nil
}

func (a *Alerter) markSent(ctx context.Context, problem string) error {
	if a.db == nil {
		a.sent[problem] = a.now()
		return nil
	}
	now := store.FormatTime(a.now())
	err := a.db.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `INSERT INTO health_alerts (problem, first_seen_at, last_sent_at) VALUES (?, ?, ?)
			ON CONFLICT (problem) DO UPDATE SET last_sent_at = excluded.last_sent_at`, &sqlitex.ExecOptions{Args: []any{problem, now, now}})
	})
	if err != nil {
		return fmt.Errorf("alert ledger: %w", err)
	}
	return nil
}

// send delivers one alert over SMTP: implicit TLS on port 465, otherwise
// STARTTLS, which is required unless Insecure (a relay on loopback).
func (a *Alerter) send(r Result, all []Result) error {
	host, port, err := net.SplitHostPort(a.cfg.Addr)
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	var conn net.Conn
	if port == "465" {
		conn, err = tls.DialWithDialer(&d, "tcp", a.cfg.Addr, &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12})
	} else {
		conn, err = d.Dial("tcp", a.cfg.Addr)
	}
	if err != nil {
		return fmt.Errorf("connect %s: %w", a.cfg.Addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp %s: %w", a.cfg.Addr, err)
	}
	defer c.Close()
	if port != "465" {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
		} else if !a.cfg.Insecure {
			return fmt.Errorf("%s offers no STARTTLS; set PICRM_ALERT_SMTP_INSECURE=true only for a relay on this machine", a.cfg.Addr)
		}
	}
	if a.cfg.User != "" {
		if err := c.Auth(smtp.PlainAuth("", a.cfg.User, a.cfg.Password, host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(a.cfg.From); err != nil {
		return fmt.Errorf("smtp from: %w", err)
	}
	for _, to := range a.cfg.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp to %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if _, err := w.Write([]byte(a.message(r, all))); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	return c.Quit()
}

func (a *Alerter) message(r Result, all []Result) string {
	id := make([]byte, 12)
	rand.Read(id)
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: [pi-crm] %s failing on %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		a.cfg.From, strings.Join(a.cfg.To, ", "), r.Check, a.cfg.Host, a.now().Format(time.RFC1123Z), hex.EncodeToString(id), a.cfg.Host)
	fmt.Fprintf(&b, "%s: %s\r\n%s\r\n\r\nAll checks:\r\n", r.Check, r.Value, r.Detail)
	for _, x := range all {
		fmt.Fprintf(&b, "  %-20s %-6s %s\r\n", x.Check, status(x), x.Value)
	}
	fmt.Fprintf(&b, "\r\nYou get at most one mail a day per problem. `crm-health check` on the Pi prints the same table.\r\n")
	return b.String()
}

func status(r Result) string {
	switch {
	case r.Skipped:
		return "skip"
	case r.OK:
		return "ok"
	}
	return "FAIL"
}
