package sender

import (
	"context"
	"time"

	"zombiezen.com/go/sqlite"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// Metrics are crm-sender's figures on /metrics; a nil *Metrics records
// nothing.
type Metrics struct {
	sends      *prometheus.CounterVec
	sendTime   *prometheus.HistogramVec
	outcome    *prometheus.CounterVec
	reconciles *prometheus.CounterVec
}

// NewMetrics registers the sender's metrics with reg; the queue's depth
// by state and its oldest due message's age are read from db at each
// scrape.
func NewMetrics(reg prometheus.Registerer, db *store.DB) (*Metrics, error) {
	m := &Metrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "picrm_sender_sends_total",
			Help: "Messages handed to a provider, by provider and result (ok or error)."}, []string{"provider", "result"}),
		sendTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "picrm_sender_send_seconds",
			Help: "How long a provider took to take a message.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}, []string{"provider"}),
		outcome: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "picrm_sender_outcomes_total",
			Help: "Recorded outcomes of send attempts, by state."}, []string{"state"}),
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "picrm_sender_reconciled_total",
			Help: "Unknown messages asked about at their provider, by verdict."}, []string{"verdict"}),
	}
	for _, c := range []prometheus.Collector{m.sends, m.sendTime, m.outcome, m.reconciles, queue{db}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// SetMetrics makes s record into m.
func (s *Sender) SetMetrics(m *Metrics) { s.metrics = m }

func (m *Metrics) observe(provider string, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.sends.WithLabelValues(provider, result).Inc()
	m.sendTime.WithLabelValues(provider).Observe(d.Seconds())
}

func (m *Metrics) outcomes(outs []outbox.Outcome) {
	if m == nil {
		return
	}
	for _, o := range outs {
		m.outcome.WithLabelValues(string(o.State)).Inc()
	}
}

func (m *Metrics) reconciled(v outbox.Verdict) {
	if m == nil {
		return
	}
	m.reconciles.WithLabelValues(map[outbox.Verdict]string{outbox.WasSent: "sent", outbox.NeverSent: "never_sent", outbox.Undecided: "undecided"}[v]).Inc()
}

// queue reports the outbox as it stands when scraped.
type queue struct{ db *store.DB }

var (
	depthDesc  = prometheus.NewDesc("picrm_outbox_messages", "Messages in the outbox, by state.", []string{"state"}, nil)
	oldestDesc = prometheus.NewDesc("picrm_outbox_oldest_due_seconds",
		"How long the oldest due message (queued or retrying) has been due: a stuck queue grows it.", nil, nil)
)

func (queue) Describe(ch chan<- *prometheus.Desc) { ch <- depthDesc; ch <- oldestDesc }

func (q queue) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var counts map[outbox.State]int
	var oldest time.Time
	err := q.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		if counts, err = outbox.Counts(conn); err != nil {
			return err
		}
		oldest, err = outbox.OldestDue(conn, time.Now())
		return err
	})
	if err != nil {
		return
	}
	for _, st := range []outbox.State{outbox.Queued, outbox.Claimed, outbox.Sent, outbox.Retrying, outbox.Failed, outbox.Unknown, outbox.Dropped} {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
	age := 0.0
	if !oldest.IsZero() {
		age = time.Since(oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
}
