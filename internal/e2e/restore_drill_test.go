package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/replicawatch"
	"github.com/pi-crm/pi-crm/internal/s3test"
	"github.com/pi-crm/pi-crm/internal/testrig"
	"github.com/pi-crm/pi-crm/pkg/backup"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// replicatedEnv is an appliance whose database Litestream streams to a local
// S3-compatible server, configured exactly as on the Pi: the shipped
// litestream.yml, keys and the SSE-C key as credentials, and litestream run
// through `crmctl litestream`.
func replicatedEnv(t *testing.T) (*env, *s3test.Server, *backup.Bucket) {
	t.Helper()
	srv := s3test.Start(t)
	e := newEnv(t)
	creds := srv.WriteCredentials(t, t.TempDir())
	e.vars = append(e.vars, srv.Env("drill")...)
	e.vars = append(e.vars,
		"CREDENTIALS_DIRECTORY="+creds,
		"PICRM_LITESTREAM_BIN="+s3test.Tool(t, "litestream"),
		"PICRM_LITESTREAM_CONFIG="+testrig.RepoFile("units/litestream.yml"),
		fmt.Sprintf("PICRM_LITESTREAM_METRICS_ADDR=127.0.0.1:%d", testrig.FreePort(t)),
	)
	bucket, err := backup.OpenBucket(backup.S3{Endpoint: srv.Endpoint, Region: "us-east-1", Bucket: srv.Bucket, Prefix: "drill/snapshots",
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, SSECKey: srv.SSECKey, CAFile: srv.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := bucket.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e, srv, bucket
}

// TestRestoreDrill is the dead-SD-card day, end to end: crm-web and a second
// writing process change the database while the real Litestream streams it
// to a real S3-compatible server with SSE-C; the database and Litestream's
// state are deleted; `crmctl restore --from replica` brings back every
// committed row, checked by a checksum over every table.
func TestRestoreDrill(t *testing.T) {
	e, _, bucket := replicatedEnv(t)
	dbPath := filepath.Join(e.dir, "pi-crm.db")
	e.ctl("", "migrate")
	e.ctl("s3cret-enough-pw\n", "user", "add", "--email", "andy@example.com", "--name", "Andy")
	key := strings.TrimSpace(e.ctl("", "apikey", "create", "--user", "andy@example.com", "--scope", "workspaces:read", "--scope", "workspaces:write"))
	db, err := store.Open(dbPath, store.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	ls := testrig.Start(t, e.cmd("crmctl", "litestream", "replicate", "-config", testrig.RepoFile("units/litestream.yml")))
	base := startWeb(t, e)
	writer := exec.Command(os.Args[0])
	writer.Env = append(os.Environ(), "PICRM_E2E_WRITER="+dbPath)
	wp := testrig.Start(t, writer)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := replicawatch.New(bucket, "drill/replica")
	go w.Run(ctx, 25*time.Millisecond)

	// crm-web changes the database through the API while the writer runs;
	// a marker every 200 ms measures the lag from commit to replica.
	stopAt := time.Now().Add(4 * time.Second)
	var midpoint time.Time // a moment to restore to, with workspacesAtMid made before it
	workspacesAtMid := 0
	for i := 0; time.Now().Before(stopAt); i++ {
		if i == 10 {
			midpoint, workspacesAtMid = time.Now(), i
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/workspaces", strings.NewReader(fmt.Sprintf(`{"name":"Drill %d"}`, i)))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("API create %d: %d", i, resp.StatusCode)
		}
		w.Add(replicawatch.CommitMarker(t, db))
		time.Sleep(200 * time.Millisecond)
	}
	if err := wp.Stop(5 * time.Second); err != nil {
		t.Fatalf("writer: %v\n%s", err, wp)
	}
	lastWrite, err := strconv.Atoi(strings.TrimSpace(wp.String()))
	if err != nil || lastWrite < 100 {
		t.Fatalf("writer printed %q", wp)
	}
	// A last marker after every other write: once it is in the replica,
	// everything committed before it is too.
	w.Add(replicawatch.CommitMarker(t, db))
	deadline := time.Now().Add(20 * time.Second)
	for w.Pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d markers never reached the replica (poll error: %v)\nlitestream:\n%s", w.Pending(), w.Err(), ls)
		}
		time.Sleep(50 * time.Millisecond)
	}
	lags := w.Lags()
	t.Logf("replica lag over %d commits: p50 %v, p99 %v, max %v", len(lags), testrig.Percentile(lags, 0.5), testrig.Percentile(lags, 0.99), lags[len(lags)-1])
	fmt.Printf("DRILL replica_lag_p50_ms %d replica_lag_p99_ms %d (n=%d)\n", testrig.Percentile(lags, 0.5).Milliseconds(), testrig.Percentile(lags, 0.99).Milliseconds(), len(lags))

	// crm-health sees the replica caught up: Litestream's local TXID from
	// its metrics against the newest LTX file in the bucket.
	if out, _ := healthCheck(t, e); !regexp.MustCompile(`(?m)^replica_lag\s+ok\s+0s \(local txid \d+, replica \d+\)`).MatchString(out) {
		t.Fatalf("crm-health check with the replica caught up:\n%s", out)
	}

	// While crm-web runs, restore refuses and says how to stop it.
	c := e.cmd("crmctl", "restore", "--from", "replica")
	if out, err := c.CombinedOutput(); err == nil || !strings.Contains(string(out), "in use") {
		t.Fatalf("restore while crm-web runs: %v\n%s", err, out)
	}

	db.Close()
	wantSum, wantCounts, err := replicawatch.Checksum(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*testrig.Process{ls} {
		if err := p.Stop(10 * time.Second); err != nil {
			t.Logf("litestream stop: %v", err)
		}
	}
	killWeb(t, dbPath)
	// The SD card dies.
	if err := replicawatch.RemoveDB(dbPath); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out := e.ctl("", "restore", "--from", "replica")
	t.Logf("crmctl restore (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	if !strings.Contains(out, "integrity ok") {
		t.Fatalf("restore said %q", out)
	}
	gotSum, gotCounts, err := replicawatch.Checksum(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if gotCounts["drill_writes"] != lastWrite || gotCounts["drill_writes"] != wantCounts["drill_writes"] {
		t.Fatalf("writer committed %d rows; restored %d", lastWrite, gotCounts["drill_writes"])
	}
	if gotSum != wantSum {
		t.Fatalf("restored checksum differs:\nbefore %v\nafter  %v", wantCounts, gotCounts)
	}
	t.Logf("restored %d tables, %d writer rows, %d workspaces; checksums equal", len(gotCounts), gotCounts["drill_writes"], gotCounts["workspaces"])

	// Point in time: the replica as it was two seconds into the run.
	out = e.ctl("", "restore", "--from", "replica", "--at", midpoint.UTC().Format(time.RFC3339Nano))
	if !strings.Contains(out, "as of") || !strings.Contains(out, "the old database is kept at") {
		t.Fatalf("point-in-time restore said %q", out)
	}
	_, pitCounts, err := replicawatch.Checksum(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := pitCounts["workspaces"]; n == 0 || n > workspacesAtMid || n >= gotCounts["workspaces"] {
		t.Fatalf("restored as of the midpoint: %d workspaces; %d were made before it, %d in all", n, workspacesAtMid, gotCounts["workspaces"])
	}
	if n := pitCounts["drill_writes"]; n == 0 || n >= lastWrite {
		t.Fatalf("restored as of the midpoint: %d writer rows of %d", n, lastWrite)
	}
	t.Logf("as of the midpoint: %d workspaces (%d made before it), %d writer rows", pitCounts["workspaces"], workspacesAtMid, pitCounts["drill_writes"])
}

// killWeb stops every crm-web started by this test: their Cleanup would, but
// the restore must see the database closed now.
func killWeb(t *testing.T, dbPath string) {
	t.Helper()
	users, err := backup.OpenBy(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if !strings.HasPrefix(u, "crm-web[") {
			t.Fatalf("%s still has the database open", u)
		}
		pid, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(u, "crm-web["), "]"))
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
	for range 100 {
		if users, _ := backup.OpenBy(dbPath); len(users) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("crm-web did not let go of the database")
}
