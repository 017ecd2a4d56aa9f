// Package health is crm-health's job: it checks the database, the disks, the
// backups, the Litestream replica, the units, the TLS certificate and the
// daemons' heartbeats on a schedule; exports each as Prometheus metrics; and
// mails the owner when a check fails, at most once a day per problem, over
// SMTP directly so that an alert goes out while crm-sender is down.
package health

import (
	"errors"
	"net/mail"
	"path/filepath"
	"strings"
	"time"

	"github.com/pi-crm/pi-crm/pkg/backup"
	"github.com/pi-crm/pi-crm/pkg/config"
)

// CredAlertPassword is the SMTP password credential for alert mail.
const CredAlertPassword = "alert-smtp-password" // #nosec G101 -- a file name, not a secret

// Config is what the checks need. Zero thresholds take the defaults.
type Config struct {
	DB string
	// DataMarker says the appliance has data (PICRM_DATA_MARKER).
	DataMarker string
	DataDir    string
	BackupDir  string
	CopyDir    string // USB/NAS mount point, "" for none

	Interval     time.Duration // how often the checks run (60 s)
	MaxWAL       int64         // WAL size above which the check fails (256 MB)
	MinFreeRatio float64       // free space below which a volume fails (0.10)
	MaxBackupAge time.Duration // newest good snapshot older than this fails (48 h)
	MaxQueueWait time.Duration // a due outbox message waiting longer than this fails (30 min)
	MaxLag       time.Duration // replica lag above this fails (5 min)
	MaxBeatAge   time.Duration // a heartbeat older than this is dead (90 s)
	Daemons      []string      // heartbeats that must be alive
	Units        []string      // systemd units that must be active (D-Bus)
	TLSCert      string        // PEM certificate crm-web serves; "" for none
	MinCertLife  time.Duration // fails when the certificate expires sooner (21 days)

	// LitestreamMetrics is Litestream's loopback metrics address; with the
	// bucket it gives the replica lag. "" disables the lag check.
	LitestreamMetrics string
	S3                *backup.S3

	Alert Alert
}

// Alert says where alert mail goes. No Addr means no mail.
type Alert struct {
	Addr     string // SMTP host:port
	From     string
	To       []string
	User     string
	Password string // from the alert-smtp-password credential
	// Insecure allows plain SMTP (no STARTTLS), for a relay on loopback.
	Insecure bool
	Host     string // the appliance's name in subjects
}

// ReadConfig reads the PICRM_HEALTH_* and PICRM_ALERT_* variables.
func ReadConfig(e *config.Env, common config.Common) Config {
	bc := backup.ReadConfig(e, common)
	c := Config{
		DB:                common.DB,
		DataMarker:        common.DataMarker,
		DataDir:           common.DataDir,
		BackupDir:         bc.Dir,
		CopyDir:           bc.CopyDir,
		S3:                bc.S3,
		Interval:          e.Duration("PICRM_HEALTH_INTERVAL", time.Minute),
		MaxWAL:            int64(e.Int("PICRM_HEALTH_MAX_WAL_MB", 256, 1, 1<<20)) << 20,
		MinFreeRatio:      float64(e.Int("PICRM_HEALTH_MIN_FREE_PERCENT", 10, 1, 90)) / 100,
		MaxBackupAge:      e.Duration("PICRM_HEALTH_MAX_BACKUP_AGE", 48*time.Hour),
		MaxQueueWait:      e.Duration("PICRM_HEALTH_MAX_QUEUE_WAIT", 30*time.Minute),
		MaxLag:            e.Duration("PICRM_HEALTH_MAX_REPLICA_LAG", 5*time.Minute),
		MaxBeatAge:        e.Duration("PICRM_HEALTH_MAX_HEARTBEAT_AGE", 90*time.Second),
		Daemons:           fields(e.String("PICRM_HEALTH_DAEMONS", "crm-sender crm-insights")),
		Units:             fields(e.String("PICRM_HEALTH_UNITS", "crm-web.service crm-sender.service crm-insights.service litestream.service crm-snapshot.timer")),
		MinCertLife:       e.Duration("PICRM_HEALTH_MIN_CERT_LIFE", 21*24*time.Hour),
		LitestreamMetrics: e.String("PICRM_LITESTREAM_METRICS_ADDR", "127.0.0.1:9105"),
	}
	if v := e.String("PICRM_TLS_CERT", ""); v != "" {
		c.TLSCert = e.Path("PICRM_TLS_CERT", "")
	}
	if c.S3 == nil {
		c.LitestreamMetrics = ""
	}
	a := Alert{
		Addr:     e.String("PICRM_ALERT_SMTP_ADDR", ""),
		From:     e.String("PICRM_ALERT_FROM", ""),
		User:     e.String("PICRM_ALERT_SMTP_USER", ""),
		Insecure: e.Bool("PICRM_ALERT_SMTP_INSECURE", false),
		Host:     e.String("PICRM_HOSTNAME", "pi-crm"),
	}
	if a.Addr != "" {
		e.Addr("PICRM_ALERT_SMTP_ADDR", "")
		for _, to := range fields(e.String("PICRM_ALERT_TO", "")) {
			if _, err := mail.ParseAddress(to); err != nil {
				e.Fail("PICRM_ALERT_TO", "%q is not an email address", to)
			}
			a.To = append(a.To, to)
		}
		if len(a.To) == 0 {
			e.Fail("PICRM_ALERT_TO", "is required with PICRM_ALERT_SMTP_ADDR")
		}
		if _, err := mail.ParseAddress(a.From); err != nil {
			e.Fail("PICRM_ALERT_FROM", "%q is not an email address (required with PICRM_ALERT_SMTP_ADDR)", a.From)
		}
		if a.User != "" {
			pw, err := e.Credential(CredAlertPassword)
			if err != nil && !errors.Is(err, config.ErrNoCredential) {
				e.Fail("PICRM_ALERT_SMTP_USER", "%v", err)
			} else if err != nil {
				e.Fail("PICRM_ALERT_SMTP_USER", "needs the %s credential", CredAlertPassword)
			}
			a.Password = pw
		}
	}
	c.Alert = a
	if c.BackupDir == "" {
		c.BackupDir = filepath.Join(common.DataDir, "backups")
	}
	return c
}

func fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}
