package backup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// Restore sources.
const (
	FromReplica = "replica" // the Litestream replica in the bucket
	FromBucket  = "bucket"  // a snapshot in the bucket
	FromFile    = "file"    // a snapshot or a plain SQLite file on disk
)

// RestoreOptions says what to restore.
type RestoreOptions struct {
	From string
	// Name is the local file (FromFile) or the snapshot's name in the bucket
	// (FromBucket; "" for the newest).
	Name string
	// At restores the replica as it was at this moment (zero for latest).
	At time.Time
	// Identities decrypt age-encrypted snapshots.
	Identities []age.Identity
	// Stop stops the appliance's units first instead of refusing.
	Stop bool
}

// RestoreReport says what a restore did.
type RestoreReport struct {
	Source     string // what was restored
	Bytes      int64  // size of the restored database
	MovedAside string // where the old database went, "" when there was none
	SchemaFrom int    // the restored file's schema version
	SchemaTo   int    // after migration
	Users      int64
	Contacts   int64
	Stopped    []string // units stopped first
	Took       time.Duration
}

// Restorer restores the database.
type Restorer struct {
	cfg    Config
	bucket *Bucket
	env    []string // environment for litestream: the S3 keys
	log    *slog.Logger
	// Units is how the restorer sees and stops the appliance's services.
	Units UnitControl
}

// UnitControl stops the appliance's services for a restore.
type UnitControl interface {
	Stop(ctx context.Context) ([]string, error)
}

// NewRestorer returns a Restorer. bucket may be nil; env is the environment
// litestream runs with (LitestreamEnv).
func NewRestorer(cfg Config, bucket *Bucket, env []string, log *slog.Logger) *Restorer {
	return &Restorer{cfg: cfg, bucket: bucket, env: env, log: log, Units: Systemctl{}}
}

// ErrInUse means a process has the database open.
var ErrInUse = errors.New("the database is in use")

// Restore brings back the database from opt's source. It refuses while any
// process has the database open (or stops the units with opt.Stop), checks
// the restored file's integrity before touching the live one, moves the old
// database and its WAL aside (never deletes them), puts the restored file in
// place and migrates it to this build's schema.
func (r *Restorer) Restore(ctx context.Context, opt RestoreOptions, migrate func(ctx context.Context, db *store.DB) (int, int, error)) (RestoreReport, error) {
	start := time.Now()
	var rep RestoreReport
	users, err := OpenBy(r.cfg.DB)
	if err != nil {
		return rep, err
	}
	if len(users) > 0 && opt.Stop {
		if rep.Stopped, err = r.Units.Stop(ctx); err != nil {
			return rep, fmt.Errorf("stop the appliance: %w", err)
		}
		users, err = OpenBy(r.cfg.DB)
		if err != nil {
			return rep, err
		}
	}
	if len(users) > 0 {
		return rep, fmt.Errorf("%w by %s; stop the appliance (sudo systemctl stop pi-crm.target litestream.service) or pass --stop", ErrInUse, strings.Join(users, ", "))
	}
	dir := filepath.Dir(r.cfg.DB)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return rep, fmt.Errorf("data folder: %w", err)
	}
	stamp := start.UTC().Format("20060102T150405Z")
	tmp := filepath.Join(dir, ".restore-"+stamp+".db")
	defer removeDB(tmp)
	if rep.Source, err = r.fetch(ctx, opt, tmp); err != nil {
		return rep, err
	}
	if err := IntegrityCheck(tmp); err != nil {
		return rep, fmt.Errorf("restored copy is damaged, live database left as it was: %w", err)
	}
	st, err := os.Stat(tmp)
	if err != nil {
		return rep, err
	}
	rep.Bytes = st.Size()
	if _, err := os.Stat(r.cfg.DB); err == nil {
		rep.MovedAside = r.cfg.DB + ".before-restore-" + stamp
		for _, s := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(r.cfg.DB+s, rep.MovedAside+s); err != nil && !errors.Is(err, os.ErrNotExist) {
				return rep, fmt.Errorf("move the old database aside: %w", err)
			}
		}
		// Litestream's local state describes the old file; a fresh one
		// starts a new generation for the restored database.
		meta := filepath.Join(dir, "."+filepath.Base(r.cfg.DB)+"-litestream")
		if err := os.Rename(meta, rep.MovedAside+"-litestream"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return rep, fmt.Errorf("move litestream's state aside: %w", err)
		}
	}
	if err := os.Rename(tmp, r.cfg.DB); err != nil {
		return rep, fmt.Errorf("put the restored database in place: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return rep, err
	}
	db, err := store.Open(r.cfg.DB, store.Options{PoolSize: 1})
	if err != nil {
		return rep, err
	}
	defer db.Close()
	if rep.SchemaFrom, rep.SchemaTo, err = migrate(ctx, db); err != nil {
		return rep, fmt.Errorf("migrate the restored database: %w", err)
	}
	rep.Users, rep.Contacts, err = countRows(ctx, db)
	rep.Took = time.Since(start)
	return rep, err
}

// fetch writes the chosen source as a plain SQLite file at dst.
func (r *Restorer) fetch(ctx context.Context, opt RestoreOptions, dst string) (string, error) {
	switch opt.From {
	case FromFile:
		if opt.Name == "" {
			return "", errors.New("restore from a file needs the file's path")
		}
		return opt.Name, Decode(opt.Name, dst, opt.Identities)
	case FromBucket:
		if r.bucket == nil {
			return "", errors.New("no bucket configured (PICRM_S3_BUCKET and its credentials)")
		}
		return r.fetchSnapshot(ctx, opt, dst)
	case FromReplica:
		if r.bucket == nil {
			return "", errors.New("no bucket configured (PICRM_S3_BUCKET and its credentials)")
		}
		args := []string{"restore", "-config", r.cfg.LitestreamConfig, "-o", dst}
		src := "the Litestream replica, latest"
		if !opt.At.IsZero() {
			args = append(args, "-timestamp", opt.At.UTC().Format(time.RFC3339Nano))
			src = "the Litestream replica as of " + opt.At.UTC().Format(time.RFC3339Nano)
		}
		args = append(args, r.cfg.DB)
		cmd := exec.CommandContext(ctx, r.cfg.Litestream, args...)
		cmd.Env = r.env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("litestream restore: %w: %s", err, strings.TrimSpace(out.String()))
		}
		return src, nil
	}
	return "", fmt.Errorf("unknown restore source %q: want replica, bucket or file", opt.From)
}

func (r *Restorer) fetchSnapshot(ctx context.Context, opt RestoreOptions, dst string) (string, error) {
	name := opt.Name
	if name == "" {
		objs, err := r.bucket.List(ctx, r.bucket.cfg.Prefix)
		if err != nil {
			return "", err
		}
		for _, o := range objs {
			if n := filepath.Base(o.Key); isSnapshotName(n) && n > name {
				name = n
			}
		}
		if name == "" {
			return "", fmt.Errorf("no snapshot in bucket %s under %s/", r.bucket.cfg.Bucket, r.bucket.cfg.Prefix)
		}
	}
	dl := dst + ".download"
	defer os.Remove(dl)
	defer os.Remove(dl + checksumExtension)
	for _, n := range []string{name, name + checksumExtension} {
		f, err := os.OpenFile(dl+strings.TrimPrefix(n, name), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return "", err
		}
		err = r.bucket.Get(ctx, r.bucket.SnapshotKey(n), f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
	}
	// The sidecar names the original file; VerifyFile reads only the sum.
	if err := VerifyFile(dl); err != nil {
		return "", fmt.Errorf("snapshot %s from the bucket: %w", name, err)
	}
	return "snapshot " + name + " from bucket " + r.bucket.cfg.Bucket, Decode(dl, dst, opt.Identities)
}

// Decode writes the SQLite database inside src to dst. src may be a plain
// SQLite file, a zstd-compressed one, or an age-encrypted compressed one.
func Decode(src, dst string, ids []age.Identity) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<20)
	if head, _ := r.(*bufio.Reader).Peek(21); string(head) == "age-encryption.org/v1" {
		if len(ids) == 0 {
			return fmt.Errorf("%s is encrypted: give the age identity file (--identity, or the %s credential)", filepath.Base(src), CredAgeIdentity)
		}
		dr, err := age.Decrypt(r, ids...)
		if err != nil {
			return fmt.Errorf("decrypt %s: %w", filepath.Base(src), err)
		}
		r = bufio.NewReaderSize(dr, 1<<20)
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	if head, _ := br.Peek(4); bytes.Equal(head, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(2))
		if err != nil {
			return fmt.Errorf("decompress %s: %w", filepath.Base(src), err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	if head, _ := br.Peek(16); string(head) != "SQLite format 3\x00" {
		return fmt.Errorf("%s is not a pi-crm snapshot or SQLite database", filepath.Base(src))
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	if _, err := io.Copy(out, br); err != nil {
		out.Close()
		return fmt.Errorf("decode %s: %w", filepath.Base(src), err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("decode %s: %w", filepath.Base(src), err)
	}
	return out.Close()
}

// ReadIdentities reads age identities from the file at p.
func ReadIdentities(p string) ([]age.Identity, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("age identity: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("age identity %s: %w", p, err)
	}
	return ids, nil
}

func decodeSSECKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("credential %s must be the base64 of 32 random bytes (head -c32 /dev/urandom | base64)", CredS3SSECKey)
	}
	return key, nil
}

func countRows(ctx context.Context, db *store.DB) (users, contacts int64, err error) {
	conn, err := db.Take(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer db.Put(conn)
	for q, dst := range map[string]*int64{"SELECT count(*) FROM users": &users, "SELECT count(*) FROM contacts": &contacts} {
		st, _, err := conn.PrepareTransient(q)
		if err != nil {
			return 0, 0, fmt.Errorf("count: %w", err)
		}
		if ok, err := st.Step(); err == nil && ok {
			*dst = st.ColumnInt64(0)
		}
		st.Finalize()
	}
	return users, contacts, nil
}
