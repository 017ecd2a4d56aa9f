package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/backup/ledger"
	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// Progress receives the current step and how far the whole run is, 0–100.
type Progress = ledger.Progress

// Result says what a snapshot run did.
type Result struct {
	Name     string        // file name, pi-crm-YYYYMMDD.db.zst[.age]
	Path     string        // where it is in the local folder
	Size     int64         // bytes on disk
	DBSize   int64         // bytes of the database copy inside
	SHA256   string        // of the file as stored
	Uploaded bool          // copied to the bucket
	CopiedTo string        // USB/NAS folder it was copied to, or ""
	Rotation Rotation      // what the local rotation kept and removed
	Warnings []string      // things that did not stop the run (USB not mounted)
	Took     time.Duration // wall time of the whole run
}

// ErrUnencrypted refuses to send a snapshot off the Pi without age: the
// bucket and the backup drive get only copies their holders cannot read.
var ErrUnencrypted = errors.New("snapshots leave the Pi (bucket or backup drive) only encrypted: set PICRM_BACKUP_AGE_RECIPIENTS to your age public key")

// Outcome is what the run ledger records of r.
func (r Result) Outcome() ledger.Outcome {
	return ledger.Outcome{File: r.Name, Size: r.Size, Warnings: r.Warnings}
}

// Snapshotter takes snapshots of one database.
type Snapshotter struct {
	cfg    Config
	db     *store.DB
	bucket *Bucket // nil without a bucket
	log    *slog.Logger
	now    func() time.Time
}

// NewSnapshotter returns a Snapshotter for db. bucket may be nil.
func NewSnapshotter(cfg Config, db *store.DB, bucket *Bucket, log *slog.Logger) *Snapshotter {
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	return &Snapshotter{cfg: cfg, db: db, bucket: bucket, log: log, now: time.Now}
}

// SnapshotName is the file name of the snapshot taken at t.
func SnapshotName(t time.Time, encrypted bool) string {
	ext := snapshotExtPlain
	if encrypted {
		ext = snapshotExtCrypt
	}
	return snapshotPrefix + t.UTC().Format("20060102") + ext
}

// Snapshot takes a consistent copy of the database with VACUUM INTO, checks
// its integrity, compresses and encrypts it into the backup folder, reads the
// file back to verify its checksum, rotates, uploads and copies. A failure
// before the file is verified leaves every earlier snapshot untouched: the
// new file is written under a temporary name and renamed only once whole.
func (s *Snapshotter) Snapshot(ctx context.Context, progress Progress) (Result, error) {
	start := s.now()
	if progress == nil {
		progress = func(string, int) {}
	}
	res := Result{Name: SnapshotName(start, len(s.cfg.Recipients) > 0)}
	if len(s.cfg.Recipients) == 0 && (s.bucket != nil || s.cfg.CopyDir != "") {
		return res, ErrUnencrypted
	}
	if err := os.MkdirAll(s.cfg.Dir, 0o700); err != nil {
		return res, fmt.Errorf("backup folder: %w", err)
	}
	copyPath := filepath.Join(s.cfg.Dir, fmt.Sprintf(".copy-%d.db", start.UnixNano()))
	defer removeDB(copyPath)

	progress("copying the database", 5)
	if err := s.vacuumInto(ctx, copyPath); err != nil {
		return res, err
	}
	progress("checking the copy", 25)
	if err := IntegrityCheck(copyPath); err != nil {
		return res, fmt.Errorf("the copy failed its check, the live database may be damaged: %w", err)
	}
	st, err := os.Stat(copyPath)
	if err != nil {
		return res, fmt.Errorf("copy database: %w", err)
	}
	res.DBSize = st.Size()

	progress("compressing and encrypting", 35)
	res.Path = filepath.Join(s.cfg.Dir, res.Name)
	sum, size, err := s.encode(ctx, copyPath, res.Path, func(done int64) {
		progress("compressing and encrypting", 35+int(40*done/max(res.DBSize, 1)))
	})
	if err != nil {
		return res, err
	}
	res.SHA256, res.Size = sum, size

	progress("verifying the file", 78)
	if err := VerifyFile(res.Path); err != nil {
		return res, fmt.Errorf("snapshot written but not verified, kept the earlier ones: %w", err)
	}
	progress("rotating", 82)
	if res.Rotation, err = Rotate(s.cfg.Dir, s.cfg.Keep); err != nil {
		return res, err
	}
	if s.bucket != nil {
		progress("uploading", 85)
		if err := s.upload(ctx, res.Path); err != nil {
			return res, err
		}
		res.Uploaded = true
	}
	if s.cfg.CopyDir != "" {
		progress("copying to the backup drive", 95)
		if err := s.copyOut(res.Path); err != nil {
			res.Warnings = append(res.Warnings, err.Error())
			s.log.Warn("backup drive copy skipped", logkey.Err, err)
		} else {
			res.CopiedTo = s.cfg.CopyDir
		}
	}
	res.Took = s.now().Sub(start)
	progress("done", 100)
	return res, nil
}

// vacuumInto writes a consistent, compacted copy of the database to p.
// VACUUM INTO reads inside one read transaction, so in WAL mode writers go
// on and the copy is exactly the database as of the moment it began.
func (s *Snapshotter) vacuumInto(ctx context.Context, p string) error {
	conn, err := s.db.Take(ctx)
	if err != nil {
		return fmt.Errorf("copy database: %w", err)
	}
	defer s.db.Put(conn)
	if err := sqlitex.ExecuteTransient(conn, "VACUUM INTO ?", &sqlitex.ExecOptions{Args: []any{p}}); err != nil {
		return fmt.Errorf("copy database: %w", err)
	}
	return nil
}

// encode streams src through zstd and, with recipients, age into dst via a
// temporary file, and writes dst's .sha256 beside it. It returns the file's
// SHA-256 and size.
func (s *Snapshotter) encode(ctx context.Context, src, dst string, done func(int64)) (string, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", 0, fmt.Errorf("open copy: %w", err)
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return "", 0, fmt.Errorf("create snapshot: %w", err)
	}
	defer os.Remove(tmp) // a no-op once renamed
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(out, h)}
	var sink io.WriteCloser = nopCloser{cw}
	if len(s.cfg.Recipients) > 0 {
		if sink, err = age.Encrypt(cw, s.cfg.Recipients...); err != nil {
			out.Close()
			return "", 0, fmt.Errorf("encrypt snapshot: %w", err)
		}
	}
	zw, err := zstd.NewWriter(sink, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2))
	if err != nil {
		out.Close()
		return "", 0, fmt.Errorf("compress snapshot: %w", err)
	}
	if _, err := io.Copy(zw, &progressReader{ctx: ctx, r: in, done: done}); err != nil {
		out.Close()
		return "", 0, fmt.Errorf("compress snapshot: %w", err)
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return "", 0, fmt.Errorf("compress snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		out.Close()
		return "", 0, fmt.Errorf("encrypt snapshot: %w", err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return "", 0, fmt.Errorf("write snapshot: %w", err)
	}
	if err := out.Close(); err != nil {
		return "", 0, fmt.Errorf("write snapshot: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := writeFileSync(dst+checksumExtension, []byte(sum+"  "+filepath.Base(dst)+"\n")); err != nil {
		return "", 0, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", 0, fmt.Errorf("write snapshot: %w", err)
	}
	return sum, cw.n, syncDir(filepath.Dir(dst))
}

// upload puts the snapshot and its checksum in the bucket, then rotates the
// bucket's snapshots like the local folder's.
func (s *Snapshotter) upload(ctx context.Context, p string) error {
	name := filepath.Base(p)
	if err := s.bucket.Put(ctx, s.bucket.SnapshotKey(name), p); err != nil {
		return err
	}
	if err := s.bucket.Put(ctx, s.bucket.SnapshotKey(name+checksumExtension), p+checksumExtension); err != nil {
		return err
	}
	objs, err := s.bucket.List(ctx, s.bucket.cfg.Prefix)
	if err != nil {
		return err
	}
	var names []string
	for _, o := range objs {
		if n := filepath.Base(o.Key); isSnapshotName(n) {
			names = append(names, n)
		}
	}
	for _, n := range overKeep(names, s.cfg.Keep) {
		for _, k := range []string{n, n + checksumExtension} {
			if err := s.bucket.Delete(ctx, s.bucket.SnapshotKey(k)); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyOut copies the snapshot to the USB/NAS folder when it is mounted,
// verifies the copy's checksum, and rotates the folder.
func (s *Snapshotter) copyOut(p string) error {
	dir := s.cfg.CopyDir
	mounted, err := IsMountPoint(dir)
	if err != nil {
		return fmt.Errorf("backup drive %s: %w", dir, err)
	}
	if !mounted {
		return fmt.Errorf("backup drive %s is not mounted; snapshot not copied", dir)
	}
	sub := filepath.Join(dir, "pi-crm")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		return fmt.Errorf("backup drive: %w", err)
	}
	name := filepath.Base(p)
	for _, n := range []string{name + checksumExtension, name} { // the file last: its presence means whole
		if err := copyFileSync(filepath.Join(s.cfg.Dir, n), filepath.Join(sub, n)); err != nil {
			return fmt.Errorf("backup drive: %w", err)
		}
	}
	if err := VerifyFile(filepath.Join(sub, name)); err != nil {
		return fmt.Errorf("backup drive copy is damaged: %w", err)
	}
	_, err = Rotate(sub, s.cfg.Keep)
	return err
}

// IntegrityCheck opens the SQLite file at p read-only and runs
// PRAGMA integrity_check.
func IntegrityCheck(p string) error {
	conn, err := sqlite.OpenConn(p, sqlite.OpenReadOnly)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer conn.Close()
	var problems []string
	err = sqlitex.ExecuteTransient(conn, "PRAGMA integrity_check", &sqlitex.ExecOptions{
		ResultFunc: func(st *sqlite.Stmt) error {
			if v := st.ColumnText(0); v != "ok" && len(problems) < 5 {
				problems = append(problems, v)
			}
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("integrity check of %s: %w", p, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity check of %s: %s", p, strings.Join(problems, "; "))
	}
	return nil
}

// ErrChecksum means a snapshot's bytes differ from its recorded checksum.
var ErrChecksum = errors.New("checksum mismatch")

// VerifyFile reads the snapshot at p and compares its SHA-256 with the one in
// p.sha256.
func VerifyFile(p string) error {
	want, err := os.ReadFile(p + checksumExtension)
	if err != nil {
		return fmt.Errorf("checksum of %s: %w", filepath.Base(p), err)
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("open %s: %w", filepath.Base(p), err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read %s: %w", filepath.Base(p), err)
	}
	fields := strings.Fields(string(want))
	if len(fields) == 0 || fields[0] != hex.EncodeToString(h.Sum(nil)) {
		return fmt.Errorf("%s: %w", filepath.Base(p), ErrChecksum)
	}
	return nil
}
