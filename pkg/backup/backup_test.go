package backup

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/s3test"
	"github.com/pi-crm/pi-crm/internal/testfs"
	"github.com/pi-crm/pi-crm/migrations"
	"github.com/pi-crm/pi-crm/pkg/backup/ledger"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// pairsDB returns a migrated store with a table whose every transaction
// inserts two rows, so a torn copy shows as a batch with one row.
func pairsDB(t *testing.T) *store.DB {
	t.Helper()
	db := storetest.New(t)
	if err := db.Write(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.ExecuteTransient(conn, "CREATE TABLE pairs (batch INTEGER NOT NULL, half INTEGER NOT NULL, pad BLOB)", nil)
	}); err != nil {
		t.Fatal(err)
	}
	return db
}

func writePairs(ctx context.Context, db *store.DB, next *atomic.Int64) error {
	n := next.Add(1)
	return db.Write(ctx, func(conn *sqlite.Conn) error {
		for half := range 2 {
			if err := sqlitex.Execute(conn, "INSERT INTO pairs (batch, half, pad) VALUES (?, ?, randomblob(200))", &sqlitex.ExecOptions{Args: []any{n, half}}); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkPairs opens a restored file and checks every batch is whole.
func checkPairs(t *testing.T, p string) int {
	t.Helper()
	conn, err := sqlite.OpenConn(p, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var torn, rows int
	if err := sqlitex.ExecuteTransient(conn, "SELECT (SELECT count(*) FROM (SELECT batch FROM pairs GROUP BY batch HAVING count(*) != 2)), (SELECT count(*) FROM pairs)", &sqlitex.ExecOptions{
		ResultFunc: func(st *sqlite.Stmt) error { torn, rows = st.ColumnInt(0), st.ColumnInt(1); return nil },
	}); err != nil {
		t.Fatal(err)
	}
	if torn != 0 {
		t.Fatalf("%d torn batches in the snapshot", torn)
	}
	return rows
}

func testConfig(t *testing.T, db *store.DB, keep int) Config {
	return Config{DB: db.Path(), Dir: filepath.Join(t.TempDir(), "backups"), Keep: keep}
}

// withAge adds a fresh age recipient to cfg and returns its identity.
func withAge(t *testing.T, cfg *Config) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Recipients = []age.Recipient{id.Recipient()}
	return id
}

func TestSnapshotIsConsistentUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	db := pairsDB(t)
	var next atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr atomic.Value
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := writePairs(ctx, db, &next); err != nil {
					writeErr.Store(err)
					return
				}
			}
		}()
	}
	cfg := testConfig(t, db, 7)
	s := NewSnapshotter(cfg, db, nil, quiet())
	day := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	var lastRows int
	for i := range 3 {
		time.Sleep(150 * time.Millisecond)
		s.now = func() time.Time { return day.AddDate(0, 0, i) }
		res, err := s.Snapshot(ctx, nil)
		if err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
		out := filepath.Join(t.TempDir(), "restored.db")
		if err := Decode(res.Path, out, nil); err != nil {
			t.Fatal(err)
		}
		if err := IntegrityCheck(out); err != nil {
			t.Fatal(err)
		}
		rows := checkPairs(t, out)
		if rows <= lastRows {
			t.Fatalf("snapshot %d has %d rows, the one before %d: writes did not land", i, rows, lastRows)
		}
		lastRows = rows
	}
	close(stop)
	wg.Wait()
	if err, _ := writeErr.Load().(error); err != nil {
		t.Fatalf("a writer failed during the snapshots: %v", err)
	}
	t.Logf("3 snapshots under 2 writers; last held %d rows", lastRows)
}

func TestRotationKeepsExactlyN(t *testing.T) {
	ctx := context.Background()
	db := pairsDB(t)
	cfg := testConfig(t, db, 7)
	s := NewSnapshotter(cfg, db, nil, quiet())
	day := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	var next atomic.Int64
	for i := range 10 {
		if err := writePairs(ctx, db, &next); err != nil {
			t.Fatal(err)
		}
		s.now = func() time.Time { return day.AddDate(0, 0, i) }
		if _, err := s.Snapshot(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	names, err := Snapshots(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 7 || names[0] != "pi-crm-20261110.db.zst" || names[6] != "pi-crm-20261104.db.zst" {
		t.Fatalf("kept %v, want the 7 newest (04..10)", names)
	}
	ents, _ := os.ReadDir(cfg.Dir)
	if len(ents) != 14 { // each with its .sha256, nothing else left behind
		t.Fatalf("%d files in the backup folder, want 14", len(ents))
	}
}

func corrupt(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptSnapshotIsDetectedAndNeverRotatedOverTheLastGoodOne(t *testing.T) {
	ctx := context.Background()
	db := pairsDB(t)
	cfg := testConfig(t, db, 7)
	s := NewSnapshotter(cfg, db, nil, quiet())
	day := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	for i := range 7 {
		s.now = func() time.Time { return day.AddDate(0, 0, i) }
		if _, err := s.Snapshot(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Bit rot on the SD card hits the two newest.
	corrupt(t, filepath.Join(cfg.Dir, "pi-crm-20261107.db.zst"))
	corrupt(t, filepath.Join(cfg.Dir, "pi-crm-20261106.db.zst"))
	if err := VerifyFile(filepath.Join(cfg.Dir, "pi-crm-20261107.db.zst")); !errors.Is(err, ErrChecksum) {
		t.Fatalf("verify a corrupted snapshot: %v, want ErrChecksum", err)
	}
	s.now = func() time.Time { return day.AddDate(0, 0, 7) }
	res, err := s.Snapshot(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Rotation.Corrupt) != "[pi-crm-20261107.db.zst pi-crm-20261106.db.zst]" {
		t.Fatalf("corrupt = %v", res.Rotation.Corrupt)
	}
	if len(res.Rotation.Removed) != 0 || len(res.Rotation.Kept) != 6 {
		t.Fatalf("with two damaged files, rotation kept %v and removed %v; it must keep every good one", res.Rotation.Kept, res.Rotation.Removed)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, "pi-crm-20261107.db.zst.corrupt")); err != nil {
		t.Fatalf("the damaged file is set aside, not deleted: %v", err)
	}
	// Only a good file counts: two more days make 8 good files (01-05,
	// 08-10); the oldest good one goes and 7 good remain.
	for i := 8; i < 10; i++ {
		s.now = func() time.Time { return day.AddDate(0, 0, i) }
		if _, err := s.Snapshot(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	names, _ := Snapshots(cfg.Dir)
	if len(names) != 7 || names[len(names)-1] != "pi-crm-20261102.db.zst" {
		t.Fatalf("kept %v", names)
	}
	// The newest good one restores.
	out := filepath.Join(t.TempDir(), "r.db")
	if err := Decode(filepath.Join(cfg.Dir, names[0]), out, nil); err != nil {
		t.Fatal(err)
	}
	if err := IntegrityCheck(out); err != nil {
		t.Fatal(err)
	}
}

func TestEncryptedSnapshotNeedsTheIdentity(t *testing.T) {
	ctx := context.Background()
	db := pairsDB(t)
	var next atomic.Int64
	for range 50 {
		if err := writePairs(ctx, db, &next); err != nil {
			t.Fatal(err)
		}
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, db, 7)
	if cfg.Recipients, err = ParseRecipients(id.Recipient().String()); err != nil {
		t.Fatal(err)
	}
	res, err := NewSnapshotter(cfg, db, nil, quiet()).Snapshot(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(res.Name, ".db.zst.age") {
		t.Fatalf("name %s", res.Name)
	}
	raw, _ := os.ReadFile(res.Path)
	if strings.Contains(string(raw), "SQLite format 3") || !strings.HasPrefix(string(raw), "age-encryption.org/v1") {
		t.Fatal("the snapshot is not age-encrypted")
	}
	out := filepath.Join(t.TempDir(), "r.db")
	if err := Decode(res.Path, out, nil); err == nil || !strings.Contains(err.Error(), "age identity") {
		t.Fatalf("decode without identity: %v", err)
	}
	other, _ := age.GenerateX25519Identity()
	if err := Decode(res.Path, out, []age.Identity{other}); err == nil {
		t.Fatal("decoded with the wrong identity")
	}
	if err := Decode(res.Path, out, []age.Identity{id}); err != nil {
		t.Fatal(err)
	}
	if rows := checkPairs(t, out); rows != 100 {
		t.Fatalf("%d rows, want 100", rows)
	}
	if _, err := ParseRecipients("age1notakey"); err == nil {
		t.Fatal("a bad recipient was accepted")
	}
}

func TestCopyToBackupDrive(t *testing.T) {
	ctx := context.Background()
	db := pairsDB(t)
	cfg := testConfig(t, db, 7)
	// Not mounted: an empty folder on the SD card is never written to.
	cfg.CopyDir = t.TempDir()
	if _, err := NewSnapshotter(cfg, db, nil, quiet()).Snapshot(ctx, nil); !errors.Is(err, ErrUnencrypted) {
		t.Fatalf("an unencrypted snapshot for the drive: %v", err)
	}
	withAge(t, &cfg)
	res, err := NewSnapshotter(cfg, db, nil, quiet()).Snapshot(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.CopiedTo != "" || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "not mounted") {
		t.Fatalf("unmounted drive: copied %q, warnings %v", res.CopiedTo, res.Warnings)
	}
	cfg.CopyDir = testfs.Tmpfs(t, "8m")
	res, err = NewSnapshotter(cfg, db, nil, quiet()).Snapshot(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.CopiedTo != cfg.CopyDir {
		t.Fatalf("mounted drive not used: %v", res.Warnings)
	}
	if err := VerifyFile(filepath.Join(cfg.CopyDir, "pi-crm", res.Name)); err != nil {
		t.Fatal(err)
	}
}

func caTransport(t *testing.T, ca string) *http.Transport {
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
}

func fileSum(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestBucketUploadRotationAndRestoreWithSSEC(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	db := pairsDB(t)
	var next atomic.Int64
	for range 100 {
		if err := writePairs(ctx, db, &next); err != nil {
			t.Fatal(err)
		}
	}
	s3cfg := S3{Endpoint: srv.Endpoint, Region: "us-east-1", Bucket: srv.Bucket, Prefix: "house/snapshots", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, SSECKey: srv.SSECKey, CAFile: srv.CAFile}
	bucket, err := OpenBucket(s3cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := bucket.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, db, 7)
	cfg.S3 = &s3cfg
	if _, err := NewSnapshotter(cfg, db, bucket, quiet()).Snapshot(ctx, nil); !errors.Is(err, ErrUnencrypted) {
		t.Fatalf("an unencrypted snapshot for the bucket: %v", err)
	}
	id := withAge(t, &cfg)
	s := NewSnapshotter(cfg, db, bucket, quiet())
	day := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	for i := range 9 {
		s.now = func() time.Time { return day.AddDate(0, 0, i) }
		res, err := s.Snapshot(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Uploaded {
			t.Fatal("not uploaded")
		}
	}
	objs, err := bucket.List(ctx, "house/snapshots")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 14 || !strings.HasSuffix(objs[0].Key, "pi-crm-20261103.db.zst.age") {
		t.Fatalf("bucket holds %v, want the 7 newest with their checksums", objs)
	}
	// SSE-C: without the customer key the server refuses the object.
	plain, err := minio.New(strings.TrimPrefix(srv.Endpoint, "https://"), &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Secure: true, Transport: caTransport(t, srv.CAFile)})
	if err == nil {
		obj, gerr := plain.GetObject(ctx, srv.Bucket, objs[0].Key, minio.GetObjectOptions{})
		if gerr == nil {
			_, gerr = obj.Stat()
		}
		if gerr == nil {
			t.Fatal("an SSE-C object was readable without the customer key")
		}
	}
	// Restore the newest from the bucket into a database that does not exist.
	want := checkPairs(t, db.Path())
	rcfg := cfg
	rcfg.DB = filepath.Join(t.TempDir(), "new-card", "pi-crm.db")
	r := NewRestorer(rcfg, bucket, nil, quiet())
	if _, err := r.Restore(ctx, RestoreOptions{From: FromBucket}, func(ctx context.Context, db *store.DB) (int, int, error) { return db.Migrate(ctx) }); err == nil || !strings.Contains(err.Error(), "age identity") {
		t.Fatalf("restore without the identity: %v", err)
	}
	rep, err := r.Restore(ctx, RestoreOptions{From: FromBucket, Identities: []age.Identity{id}}, func(ctx context.Context, db *store.DB) (int, int, error) { return db.Migrate(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.Source, "pi-crm-20261109.db.zst.age") || rep.MovedAside != "" {
		t.Fatalf("report %+v", rep)
	}
	if got := checkPairs(t, rcfg.DB); got != want {
		t.Fatalf("restored %d rows, want %d", got, want)
	}
	// Restore again over it: the old file is moved aside, not deleted.
	before := fileSum(t, rcfg.DB)
	rep, err = r.Restore(ctx, RestoreOptions{From: FromBucket, Name: "pi-crm-20261105.db.zst.age", Identities: []age.Identity{id}}, func(ctx context.Context, db *store.DB) (int, int, error) { return db.Migrate(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	if rep.MovedAside == "" || fileSum(t, rep.MovedAside) != before {
		t.Fatalf("old database not kept aside: %+v", rep)
	}
}

func TestRestoreRefusesWhileTheDatabaseIsOpen(t *testing.T) {
	ctx := context.Background()
	db := pairsDB(t) // this test process holds it open, like crm-web would
	cfg := testConfig(t, db, 7)
	res, err := NewSnapshotter(cfg, db, nil, quiet()).Snapshot(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// OpenBy skips its own process; a child holding the file stands in for
	// a daemon.
	hold := holdOpen(t, db.Path())
	r := NewRestorer(cfg, nil, nil, quiet())
	r.Units = stopper{hold}
	_, err = r.Restore(ctx, RestoreOptions{From: FromFile, Name: res.Path}, nil)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "--stop") {
		t.Fatalf("restore while in use: %v", err)
	}
	db.Close()
	rep, err := r.Restore(ctx, RestoreOptions{From: FromFile, Name: res.Path, Stop: true}, func(ctx context.Context, db *store.DB) (int, int, error) { return db.Migrate(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Stopped) == 0 || rep.MovedAside == "" {
		t.Fatalf("report %+v", rep)
	}
	if _, err := os.Stat(rep.MovedAside); err != nil {
		t.Fatal(err)
	}
	// A damaged file never replaces the live database.
	bad := filepath.Join(t.TempDir(), "bad.db")
	os.WriteFile(bad, []byte("SQLite format 3\x00 and then garbage"), 0o600)
	before := fileSum(t, cfg.DB)
	if _, err := r.Restore(ctx, RestoreOptions{From: FromFile, Name: bad}, nil); err == nil {
		t.Fatal("restored a damaged file")
	}
	if fileSum(t, cfg.DB) != before {
		t.Fatal("a failed restore changed the live database")
	}
}

// TestRestoreMigratesAnOlderSnapshot restores a file taken before the
// backup and import tables existed (schema 3): the restore migrates it to
// this build's schema and says so.
func TestRestoreMigratesAnOlderSnapshot(t *testing.T) {
	ctx := context.Background()
	db := storetest.AtVersion(t, 3)
	old := filepath.Join(t.TempDir(), "old.db")
	conn, err := db.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = sqlitex.ExecuteTransient(conn, "VACUUM INTO ?", &sqlitex.ExecOptions{Args: []any{old}})
	db.Put(conn)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{DB: filepath.Join(t.TempDir(), "pi-crm.db")}
	rep, err := NewRestorer(cfg, nil, nil, quiet()).Restore(ctx, RestoreOptions{From: FromFile, Name: old}, func(ctx context.Context, db *store.DB) (int, int, error) { return db.Migrate(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	if rep.SchemaFrom != 3 || rep.SchemaTo != migrations.Version() {
		t.Fatalf("schema %d -> %d, want 3 -> %d", rep.SchemaFrom, rep.SchemaTo, migrations.Version())
	}
	restored, err := store.Open(cfg.DB, store.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if _, err := ledger.NewRuns(restored).Latest(ctx, 1); err != nil {
		t.Fatalf("the migrated database lacks the backup tables: %v", err)
	}
}
