package sender

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pi-crm/pi-crm/pkg/outbox"
)

// Metrics are crm-sender's figures on /metrics; a nil *Metrics records
// nothing.
type Metrics struct {
	sends      *prometheus.CounterVec
	sendTime   *prometheus.HistogramVec
	outcome    *prometheus.CounterVec
	reconciles *prometheus.CounterVec
}

// NewMetrics registers the sender's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
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
	for _, c := range []prometheus.Collector{m.sends, m.sendTime, m.outcome, m.reconciles} {
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
