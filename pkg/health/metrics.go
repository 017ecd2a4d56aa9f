package health

import "github.com/prometheus/client_golang/prometheus"

// Metrics are crm-health's gauges.
type Metrics struct {
	checkOK       *prometheus.GaugeVec
	lastBackup    prometheus.Gauge
	replicaLag    prometheus.Gauge
	walBytes      prometheus.Gauge
	diskFree      *prometheus.GaugeVec
	diskFreeRatio *prometheus.GaugeVec
	certExpiry    prometheus.Gauge
	beatAge       *prometheus.GaugeVec
	unitActive    *prometheus.GaugeVec
	alerts        *prometheus.CounterVec
}

// NewMetrics registers the gauges on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		checkOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "picrm_check_ok", Help: "1 when the check passed on its last run, 0 when it failed."}, []string{"check"}),
		lastBackup: prometheus.NewGauge(prometheus.GaugeOpts{Name: "picrm_backup_last_success_timestamp_seconds",
			Help: "Unix time the newest good snapshot finished."}),
		replicaLag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "picrm_replica_lag_seconds",
			Help: "How long the oldest change not yet in the bucket's replica has waited."}),
		walBytes:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "picrm_wal_size_bytes", Help: "Size of the database's WAL file."}),
		diskFree:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "picrm_disk_free_bytes", Help: "Free bytes on a volume."}, []string{"volume"}),
		diskFreeRatio: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "picrm_disk_free_ratio", Help: "Free share of a volume, 0-1."}, []string{"volume"}),
		certExpiry: prometheus.NewGauge(prometheus.GaugeOpts{Name: "picrm_tls_cert_expiry_timestamp_seconds",
			Help: "Unix time crm-web's certificate expires."}),
		beatAge:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "picrm_heartbeat_age_seconds", Help: "Age of a daemon's heartbeat."}, []string{"daemon"}),
		unitActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "picrm_unit_active", Help: "1 when the systemd unit is active."}, []string{"unit"}),
		alerts:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "picrm_alerts_total", Help: "Alert mails, by result."}, []string{"result"}),
	}
	reg.MustRegister(m.checkOK, m.lastBackup, m.replicaLag, m.walBytes, m.diskFree, m.diskFreeRatio, m.certExpiry, m.beatAge, m.unitActive, m.alerts)
	return m
}

func (m *Metrics) record(rs []Result) {
	for _, r := range rs {
		if !r.Skipped {
			m.checkOK.WithLabelValues(r.Check).Set(b2f(r.OK))
		}
	}
}
