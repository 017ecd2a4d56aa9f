package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/replicawatch"
	"github.com/pi-crm/pi-crm/internal/s3test"
	"github.com/pi-crm/pi-crm/internal/testrig"
	"github.com/pi-crm/pi-crm/pkg/backup"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// backupRig is one appliance data folder replicated to a local S3 server.
type backupRig struct {
	t      *testing.T
	bin    string
	dir    string
	db     string
	vars   []string
	bucket *backup.Bucket
	srv    *s3test.Server
}

func newBackupRig(t *testing.T, srv *s3test.Server, name string) *backupRig {
	dir := filepath.Join(t.TempDir(), name)
	os.MkdirAll(dir, 0o700)
	creds := srv.WriteCredentials(t, t.TempDir())
	id, _ := age.GenerateX25519Identity()
	idFile := filepath.Join(creds, "backup-age-identity")
	os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600)
	r := &backupRig{t: t, bin: os.Getenv("PICRM_BIN_DIR"), dir: dir, db: filepath.Join(dir, "pi-crm.db"), srv: srv}
	r.vars = append(srv.Env(name), "PICRM_DATA_DIR="+dir, "CREDENTIALS_DIRECTORY="+creds, "PICRM_LOG_LEVEL=warn",
		"PICRM_LITESTREAM_BIN="+s3test.Tool(t, "litestream"), "PICRM_LITESTREAM_CONFIG="+testrig.RepoFile("units/litestream.yml"),
		fmt.Sprintf("PICRM_LITESTREAM_METRICS_ADDR=127.0.0.1:%d", testrig.FreePort(t)),
		"PICRM_BACKUP_AGE_RECIPIENTS="+id.Recipient().String(), "PATH="+os.Getenv("PATH"), "HOME="+dir)
	var err error
	r.bucket, err = backup.OpenBucket(backup.S3{Endpoint: srv.Endpoint, Region: "us-east-1", Bucket: srv.Bucket, Prefix: name + "/snapshots",
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, SSECKey: srv.SSECKey, CAFile: srv.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.bucket.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *backupRig) ctl(args ...string) string {
	r.t.Helper()
	c := exec.Command(filepath.Join(r.bin, "crmctl"), args...)
	c.Env = r.vars
	out, err := c.CombinedOutput()
	if err != nil {
		r.t.Fatalf("crmctl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (r *backupRig) litestream() *testrig.Process {
	c := exec.Command(filepath.Join(r.bin, "crmctl"), "litestream", "replicate", "-config", testrig.RepoFile("units/litestream.yml"))
	c.Env = r.vars
	return testrig.Start(r.t, c)
}

func TestBenchBackup(t *testing.T) {
	want := benchOnly(t)
	lag, big := want("replica_lag_p99_ms"), want("restore_1gb_s") || want("snapshot_1gb_s") || want("restore_snapshot_1gb_s")
	if !lag && !big {
		return
	}
	srv := s3test.Start(t)
	if lag {
		benchReplicaLag(t, newBackupRig(t, srv, "lag"))
	}
	if big {
		benchBigBackup(t, newBackupRig(t, srv, "big"), want)
	}
}

// benchReplicaLag: 30 s of a steady write load (a write every 20 ms from two
// writers) with a marker every 100 ms; the lag is commit to visible in a
// decoded LTX file in the bucket.
func benchReplicaLag(t *testing.T, r *backupRig) {
	r.ctl("demo", "--bare")
	db, err := store.Open(r.db, store.Options{PoolSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Write(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.ExecuteScript(conn, "CREATE TABLE bench_load (n INTEGER PRIMARY KEY, pad BLOB);", nil)
	})
	ls := r.litestream()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := replicawatch.New(r.bucket, "lag/replica")
	go w.Run(ctx, 20*time.Millisecond)
	var wg sync.WaitGroup
	var writes atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				db.Write(ctx, func(conn *sqlite.Conn) error {
					return sqlitex.Execute(conn, "INSERT INTO bench_load (pad) VALUES (randomblob(500))", nil)
				})
				writes.Add(1)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(3 * time.Second) // Litestream's first sync of the whole file
	end := time.Now().Add(30 * time.Second)
	for time.Now().Before(end) {
		w.Add(replicawatch.CommitMarker(t, db))
		time.Sleep(100 * time.Millisecond)
	}
	deadline := time.Now().Add(30 * time.Second)
	for w.Pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if w.Pending() > 0 {
		t.Fatalf("%d markers never reached the replica (%v)\n%s", w.Pending(), w.Err(), ls)
	}
	ls.Stop(10 * time.Second)
	lags := w.Lags()
	t.Logf("replica lag over %d markers (%d load writes): p50 %v p99 %v max %v", len(lags), writes.Load(),
		testrig.Percentile(lags, 0.5), testrig.Percentile(lags, 0.99), lags[len(lags)-1])
	fmt.Printf("BENCH replica_lag_p99_ms %.1f ms\n", float64(testrig.Percentile(lags, 0.99).Microseconds())/1000)
	fmt.Printf("BENCH replica_lag_p50_ms %.1f ms\n", float64(testrig.Percentile(lags, 0.5).Microseconds())/1000)
}

// benchBigBackup grows the database to 1 GiB (the demo data plus text-like
// rows that compress about 2:1, like a CRM's), then times a snapshot with
// upload, a restore from the Litestream replica and a restore from the
// bucket's snapshot, all against the local S3 server.
func benchBigBackup(t *testing.T, r *backupRig, want func(string) bool) {
	r.ctl("demo", "--bare")
	const target = 1 << 30
	db, err := store.Open(r.db, store.Options{PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := db.Write(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.ExecuteScript(conn, `CREATE TABLE bench_notes (n INTEGER PRIMARY KEY, body TEXT NOT NULL);
			WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < 520000)
			INSERT INTO bench_notes (body) SELECT hex(randomblob(500)) || printf('%0500d', i) || ' called about the refinance, rate lock expires Friday' FROM s;`, nil)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st, _ := os.Stat(r.db)
	scale := float64(target) / float64(st.Size())
	t.Logf("database %.2f GiB, made in %v", float64(st.Size())/(1<<30), time.Since(start).Round(time.Second))

	if want("snapshot_1gb_s") || want("restore_snapshot_1gb_s") {
		t0 := time.Now()
		out := r.ctl("backup", "snapshot")
		took := time.Since(t0)
		t.Logf("crmctl backup snapshot: %v\n%s", took.Round(time.Millisecond), out)
		fmt.Printf("BENCH snapshot_1gb_s %.1f s\n", took.Seconds()*scale)
	}
	if want("restore_1gb_s") {
		ls := r.litestream()
		db, err := store.Open(r.db, store.Options{PoolSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		w := replicawatch.New(r.bucket, "big/replica")
		w.Add(replicawatch.CommitMarker(t, db))
		db.Close()
		ctx, cancel := context.WithCancel(context.Background())
		go w.Run(ctx, 200*time.Millisecond)
		t0 := time.Now()
		for w.Pending() > 0 {
			if time.Since(t0) > 5*time.Minute {
				t.Fatalf("the 1 GiB database never reached the replica (%v)\n%s", w.Err(), ls)
			}
			time.Sleep(200 * time.Millisecond)
		}
		cancel()
		t.Logf("initial replication of the 1 GiB database: %v", time.Since(t0).Round(time.Second))
		ls.Stop(30 * time.Second)
		replicawatch.RemoveDB(r.db)
		t0 = time.Now()
		out := r.ctl("restore", "--from", "replica")
		took := time.Since(t0)
		t.Logf("crmctl restore --from replica: %v\n%s", took.Round(time.Millisecond), out)
		fmt.Printf("BENCH restore_1gb_s %.1f s\n", took.Seconds()*scale)
	}
	if want("restore_snapshot_1gb_s") {
		t0 := time.Now()
		out := r.ctl("restore", "--from", "bucket")
		took := time.Since(t0)
		t.Logf("crmctl restore --from bucket: %v\n%s", took.Round(time.Millisecond), out)
		fmt.Printf("BENCH restore_snapshot_1gb_s %.1f s\n", took.Seconds()*scale)
	}
}
