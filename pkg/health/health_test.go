package health

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pi-crm/pi-crm/internal/smtptest"
	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
)

func TestAlertAtMostOnceADayPerProblem(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t)
	db := storetest.New(t)
	m := NewMetrics(prometheus.NewRegistry())
	a := NewAlerter(Alert{Addr: srv.Addr, From: "pi@example.com", To: []string{"andy@example.com"}, Insecure: true, Host: "pi-crm"}, db, slog.New(slog.DiscardHandler), m)
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	bad := []Result{{Check: "backup_age", Value: "3 days ago", Detail: "old"}, {Check: "disk_data", OK: true}}
	for range 3 {
		if _, err := a.Notify(ctx, bad); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d mails for one problem in one morning", n)
	}
	// A second problem mails on its own.
	bad = append(bad, Result{Check: "heartbeat_sender", Value: "5m ago"})
	if _, err := a.Notify(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 2 {
		t.Fatalf("%d mails, want 2", n)
	}
	// A new alerter (a restart) remembers; a day later it mails again.
	b := NewAlerter(a.cfg, db, a.log, m)
	b.now = func() time.Time { return now.Add(23 * time.Hour) }
	if _, err := b.Notify(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 2 {
		t.Fatalf("after a restart: %d mails, want still 2", n)
	}
	b.now = func() time.Time { return now.Add(25 * time.Hour) }
	if _, err := b.Notify(ctx, bad); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 4 {
		t.Fatalf("a day later: %d mails, want 4", len(msgs))
	}
	if !strings.Contains(msgs[0].Subject, "backup_age failing on pi-crm") || !strings.Contains(msgs[0].Body, "3 days ago") {
		t.Fatalf("mail: %+v", msgs[0])
	}
	// Without STARTTLS and without Insecure, nothing is sent in the clear.
	c := NewAlerter(Alert{Addr: srv.Addr, From: "pi@example.com", To: []string{"andy@example.com"}, Host: "pi-crm"}, storetest.New(t), a.log, m)
	// The refusal is logged, counted and retried on the next run, never
	// marked sent.
	var errors dto.Metric
	sent, err := c.Notify(ctx, bad)
	if werr := m.alerts.WithLabelValues("error").Write(&errors); err != nil || werr != nil || len(sent) != 0 || errors.GetCounter().GetValue() != 2 {
		t.Errorf("a relay without STARTTLS: sent %v, %v, %v errors counted", sent, err, errors.GetCounter().GetValue())
	}
	if n := len(srv.Messages()); n != 4 {
		t.Fatalf("sent %d, a plain-text relay must be refused", n)
	}
}

func TestReadConfigNamesBadVariables(t *testing.T) {
	e := config.FromMap(map[string]string{
		"PICRM_ALERT_SMTP_ADDR": "smtp.example.com:587",
		"PICRM_ALERT_TO":        "not-an-address",
		"PICRM_ALERT_SMTP_USER": "pi@example.com",
	})
	ReadConfig(e, config.Common{DataDir: t.TempDir(), DB: "x.db"})
	err := e.Err()
	if err == nil {
		t.Fatal("bad alert settings accepted")
	}
	for _, want := range []string{"PICRM_ALERT_TO", "PICRM_ALERT_FROM", "alert-smtp-password"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
