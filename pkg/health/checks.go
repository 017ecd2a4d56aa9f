package health

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/superfly/ltx"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/backup"
	"github.com/pi-crm/pi-crm/pkg/backup/ledger"
	"github.com/pi-crm/pi-crm/pkg/heartbeat"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// Result is one check's outcome.
type Result struct {
	Check   string // metric label, e.g. "backup_age"
	OK      bool
	Skipped bool   // not configured here; neither good nor bad
	Value   string // what was measured, for the table
	Detail  string // why it failed, or what was skipped
}

// Checker runs the checks.
type Checker struct {
	cfg     Config
	db      *store.DB
	runs    *ledger.Runs
	bucket  *backup.Bucket
	client  *http.Client
	metrics *Metrics
	now     func() time.Time
	// firstSeen maps a local Litestream TXID to when it was first seen, so
	// the lag is how long the oldest unreplicated transaction has waited.
	firstSeen map[uint64]time.Time
}

// NewChecker returns a Checker. bucket may be nil (no lag check); metrics
// may be nil (the `check` command).
func NewChecker(cfg Config, db *store.DB, bucket *backup.Bucket, metrics *Metrics) *Checker {
	return &Checker{cfg: cfg, db: db, runs: ledger.NewRuns(db), bucket: bucket, metrics: metrics,
		client: &http.Client{Timeout: 5 * time.Second}, now: time.Now, firstSeen: map[uint64]time.Time{}}
}

// Run runs every check and records the metrics.
func (c *Checker) Run(ctx context.Context) []Result {
	out := []Result{
		c.quickCheck(ctx),
		c.walSize(),
		c.disk("disk_data", c.cfg.DataDir),
		c.disk("disk_backup", c.cfg.BackupDir),
	}
	if c.cfg.CopyDir != "" {
		out = append(out, c.backupDrive())
	}
	out = append(out, c.backupAge(ctx), c.replicaLag(ctx), c.units(ctx), c.tlsCert(), c.outboxUnknown(ctx), c.outboxStuck(ctx))
	out = append(out, c.heartbeats(ctx)...)
	if c.metrics != nil {
		c.metrics.record(out)
	}
	return out
}

func ok(name, value string) Result { return Result{Check: name, OK: true, Value: value} }
func fail(name, value, format string, args ...any) Result {
	return Result{Check: name, Value: value, Detail: fmt.Sprintf(format, args...)}
}
func skip(name, why string) Result { return Result{Check: name, OK: true, Skipped: true, Detail: why} }

func (c *Checker) quickCheck(ctx context.Context) Result {
	const name = "db_quick_check"
	var problems []string
	err := c.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.ExecuteTransient(conn, "PRAGMA quick_check", &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
			if v := st.ColumnText(0); v != "ok" && len(problems) < 3 {
				problems = append(problems, v)
			}
			return nil
		}})
	})
	if err != nil {
		return fail(name, "error", "quick_check: %v", err)
	}
	if len(problems) > 0 {
		return fail(name, "damaged", "%s; restore from the replica (see the README's runbook)", strings.Join(problems, "; "))
	}
	return ok(name, "ok")
}

func (c *Checker) walSize() Result {
	const name = "wal_size"
	st, err := os.Stat(c.cfg.DB + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return ok(name, "0 B")
	}
	if err != nil {
		return fail(name, "error", "%v", err)
	}
	if c.metrics != nil {
		c.metrics.walBytes.Set(float64(st.Size()))
	}
	v := backup.HumanBytes(st.Size())
	if st.Size() > c.cfg.MaxWAL {
		return fail(name, v, "the WAL is over %s: Litestream is not checkpointing (is litestream.service running?) or a reader is stuck", backup.HumanBytes(c.cfg.MaxWAL))
	}
	return ok(name, v)
}

func (c *Checker) disk(name, dir string) Result {
	// A folder made on first use (the backup folder before the first
	// snapshot) lives on its nearest existing parent's volume.
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fail(name, "error", "%s: %v", dir, err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	total := int64(st.Blocks) * int64(st.Bsize)
	ratio := 0.0
	if total > 0 {
		ratio = float64(free) / float64(total)
	}
	if c.metrics != nil {
		c.metrics.diskFree.WithLabelValues(name).Set(float64(free))
		c.metrics.diskFreeRatio.WithLabelValues(name).Set(ratio)
	}
	v := fmt.Sprintf("%s free (%.0f%%)", backup.HumanBytes(free), ratio*100)
	if ratio < c.cfg.MinFreeRatio {
		return fail(name, v, "%s has less than %.0f%% free", dir, c.cfg.MinFreeRatio*100)
	}
	return ok(name, v)
}

func (c *Checker) backupDrive() Result {
	const name = "backup_drive"
	mounted, err := backup.IsMountPoint(c.cfg.CopyDir)
	if err != nil {
		return fail(name, "missing", "%s: %v", c.cfg.CopyDir, err)
	}
	if !mounted {
		return fail(name, "not mounted", "%s is configured but no drive is mounted there", c.cfg.CopyDir)
	}
	return c.disk(name, c.cfg.CopyDir)
}

func (c *Checker) backupAge(ctx context.Context) Result {
	const name = "backup_age"
	last, err := c.runs.LastSuccess(ctx)
	if err != nil {
		return fail(name, "error", "%v", err)
	}
	if last.IsZero() {
		// Snapshots restored from elsewhere, or taken before the ledger.
		if names, _ := backup.Snapshots(c.cfg.BackupDir); len(names) > 0 {
			if st, err := os.Stat(filepath.Join(c.cfg.BackupDir, names[0])); err == nil {
				last = st.ModTime()
			}
		}
	}
	if last.IsZero() {
		return fail(name, "never", "no snapshot has been taken: run `crmctl backup snapshot` or check crm-snapshot.timer")
	}
	if c.metrics != nil {
		c.metrics.lastBackup.Set(float64(last.Unix()))
	}
	age := c.now().Sub(last)
	v := age.Round(time.Minute).String() + " ago"
	if age > c.cfg.MaxBackupAge {
		return fail(name, v, "the newest good snapshot is older than %s: check crm-snapshot.service's log", c.cfg.MaxBackupAge)
	}
	return ok(name, v)
}

// outboxUnknown fails while messages wait for the user to say whether they
// went out (a crash left them unknown and the provider could not tell).
func (c *Checker) outboxUnknown(ctx context.Context) Result {
	const name = "outbox_unknown"
	var counts map[outbox.State]int
	err := c.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		counts, err = outbox.Counts(conn)
		return err
	})
	if err != nil {
		return fail(name, "error", "%v", err)
	}
	if n := counts[outbox.Unknown]; n > 0 {
		return fail(name, strconv.Itoa(n), "%d messages may or may not have gone out: open each workspace's Sending page, check, then resend or drop them", n)
	}
	return ok(name, "0")
}

// outboxStuck fails when a due message has waited longer than the limit:
// crm-sender is down, or a provider refuses everything.
func (c *Checker) outboxStuck(ctx context.Context) Result {
	const name = "outbox_stuck"
	var oldest time.Time
	err := c.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		oldest, err = outbox.OldestDue(conn, c.now())
		return err
	})
	if err != nil {
		return fail(name, "error", "%v", err)
	}
	if oldest.IsZero() {
		return ok(name, "empty")
	}
	age, limit := c.now().Sub(oldest), c.cfg.MaxQueueWait
	if limit <= 0 {
		limit = 30 * time.Minute
	}
	v := age.Round(time.Second).String()
	if age > limit {
		return fail(name, v, "a message has been due for %s: check crm-sender's log and the workspaces' email settings", v)
	}
	return ok(name, v)
}

// replicaLag compares Litestream's local TXID (its metrics) with the newest
// TXID in the bucket's replica (the LTX file names).
func (c *Checker) replicaLag(ctx context.Context) Result {
	const name = "replica_lag"
	if c.cfg.LitestreamMetrics == "" || c.bucket == nil {
		return skip(name, "no bucket configured")
	}
	local, err := c.localTXID(ctx)
	if err != nil {
		return fail(name, "unknown", "Litestream's metrics at %s: %v (is litestream.service running?)", c.cfg.LitestreamMetrics, err)
	}
	remote, err := c.remoteTXID(ctx)
	if err != nil {
		return fail(name, "unknown", "replica listing: %v", err)
	}
	now := c.now()
	if _, seen := c.firstSeen[local]; !seen {
		c.firstSeen[local] = now
	}
	lag := time.Duration(0)
	for txid, at := range c.firstSeen {
		switch {
		case txid <= remote:
			delete(c.firstSeen, txid)
		case now.Sub(at) > lag:
			lag = now.Sub(at)
		}
	}
	if c.metrics != nil {
		c.metrics.replicaLag.Set(lag.Seconds())
	}
	v := fmt.Sprintf("%s (local txid %d, replica %d)", lag.Round(time.Second), local, remote)
	if lag > c.cfg.MaxLag {
		return fail(name, v, "changes have waited over %s to reach the bucket: check litestream.service's log and the network", c.cfg.MaxLag)
	}
	return ok(name, v)
}

func (c *Checker) localTXID(ctx context.Context) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.cfg.LitestreamMetrics+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var txid uint64
	found := false
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "litestream_txid{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("parse %q: %w", line, err)
		}
		txid, found = max(txid, uint64(v)), true
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, errors.New("no litestream_txid metric yet")
	}
	return txid, nil
}

func (c *Checker) remoteTXID(ctx context.Context) (uint64, error) {
	objs, err := c.bucket.List(ctx, path.Join(c.cfg.S3.Replica, "ltx"))
	if err != nil {
		return 0, err
	}
	var top uint64
	for _, o := range objs {
		if _, hi, err := ltx.ParseFilename(path.Base(o.Key)); err == nil {
			top = max(top, uint64(hi))
		}
	}
	return top, nil
}

// units asks systemd over D-Bus whether the appliance's units are active.
func (c *Checker) units(ctx context.Context) Result {
	const name = "units"
	if _, err := os.Stat("/run/systemd/system"); err != nil || len(c.cfg.Units) == 0 {
		return skip(name, "not running under systemd")
	}
	conn, err := sddbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return skip(name, "systemd's D-Bus is not reachable: "+err.Error())
	}
	defer conn.Close()
	sts, err := conn.ListUnitsByNamesContext(ctx, c.cfg.Units)
	if err != nil {
		return fail(name, "error", "%v", err)
	}
	var down []string
	for _, st := range sts {
		up := st.ActiveState == "active"
		if c.metrics != nil {
			c.metrics.unitActive.WithLabelValues(st.Name).Set(b2f(up))
		}
		if !up {
			down = append(down, st.Name+" "+st.ActiveState)
		}
	}
	if len(down) > 0 {
		return fail(name, fmt.Sprintf("%d/%d active", len(sts)-len(down), len(sts)), "%s", strings.Join(down, ", "))
	}
	return ok(name, fmt.Sprintf("%d/%d active", len(sts), len(sts)))
}

func (c *Checker) tlsCert() Result {
	const name = "tls_cert"
	if c.cfg.TLSCert == "" {
		return skip(name, "no certificate configured (PICRM_TLS_CERT)")
	}
	b, err := os.ReadFile(c.cfg.TLSCert)
	if err != nil {
		return fail(name, "missing", "%v", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return fail(name, "unreadable", "%s holds no PEM certificate", c.cfg.TLSCert)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return fail(name, "unreadable", "%v", err)
	}
	if c.metrics != nil {
		c.metrics.certExpiry.Set(float64(cert.NotAfter.Unix()))
	}
	left := cert.NotAfter.Sub(c.now())
	v := fmt.Sprintf("expires %s (%d days)", cert.NotAfter.UTC().Format("2006-01-02"), int(left.Hours()/24))
	if left < c.cfg.MinCertLife {
		return fail(name, v, "renew it: run the Ansible playbook (the tls role reissues it)")
	}
	return ok(name, v)
}

func (c *Checker) heartbeats(ctx context.Context) []Result {
	beats, err := heartbeat.List(ctx, c.db)
	if err != nil {
		return []Result{fail("heartbeat", "error", "%v", err)}
	}
	byName := map[string]heartbeat.Beat{}
	for _, b := range beats {
		byName[b.Name] = b
	}
	var out []Result
	for _, d := range c.cfg.Daemons {
		name := "heartbeat_" + strings.TrimPrefix(d, "crm-")
		b, found := byName[d]
		if !found {
			out = append(out, fail(name, "never", "%s has never written a heartbeat", d))
			continue
		}
		age := c.now().Sub(b.BeatAt)
		if c.metrics != nil {
			c.metrics.beatAge.WithLabelValues(d).Set(age.Seconds())
		}
		v := age.Round(time.Second).String() + " ago"
		if b.Stale(c.now(), c.cfg.MaxBeatAge) {
			out = append(out, fail(name, v, "%s's heartbeat is older than %s: the daemon is down or stuck", d, c.cfg.MaxBeatAge))
			continue
		}
		out = append(out, ok(name, v))
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
