package store_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
)

func batchCount(conn *sqlite.Conn) (int, error) {
	var n int
	err := sqlitex.Execute(conn, `SELECT n FROM gate_batches`, &sqlitex.ExecOptions{
		ResultFunc: func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }})
	return n, err
}

// note makes n interactive writes, 30 ms apart, and returns the most bulk
// batches that committed between asking for the write lock and getting it.
func note(path string, n int) (int, error) {
	db, err := store.Open(path, store.Options{PoolSize: 2})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	ctx := context.Background()
	maxGap := 0
	for i := range n {
		time.Sleep(30 * time.Millisecond)
		var before int
		if err := db.Read(ctx, func(conn *sqlite.Conn) (err error) { before, err = batchCount(conn); return err }); err != nil {
			return maxGap, err
		}
		err := db.Write(ctx, func(conn *sqlite.Conn) error {
			now, err := batchCount(conn)
			if err != nil {
				return err
			}
			maxGap = max(maxGap, now-before)
			return sqlitex.Execute(conn, `INSERT INTO gate_notes (i) VALUES (?)`, &sqlitex.ExecOptions{Args: []any{i}})
		})
		if err != nil {
			return maxGap, fmt.Errorf("write %d: %w", i, err)
		}
	}
	return maxGap, nil
}

// TestGateLetsWritesInBetweenBatches: a bulk writer commits batches back to
// back, each holding the write lock 80 ms; interactive writes, from another
// process and from this one, each get in right after the batch in
// progress: never more than one batch commits while a write waits. Without
// the gate SQLite's busy handler sleeps past the gaps between batches, and
// writes wait many batches or fail with "database is locked".
func TestGateLetsWritesInBetweenBatches(t *testing.T) {
	db := storetest.New(t)
	path := db.Path()
	ctx := context.Background()
	if err := db.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.ExecuteScript(conn, `CREATE TABLE gate_batches (n INTEGER); INSERT INTO gate_batches VALUES (0); CREATE TABLE gate_notes (i INTEGER);`, nil)
	}); err != nil {
		t.Fatal(err)
	}
	held, err := db.Hold(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	var stop atomic.Bool
	bulkDone := make(chan error, 1)
	go func() {
		for !stop.Load() {
			err := held.Write(func(conn *sqlite.Conn) error {
				time.Sleep(80 * time.Millisecond) // the batch's work
				return sqlitex.Execute(conn, `UPDATE gate_batches SET n = n + 1`, nil)
			})
			if err != nil {
				bulkDone <- err
				return
			}
		}
		bulkDone <- nil
	}()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "PICRM_STORE_NOTER="+path)
	var (
		wg     sync.WaitGroup
		out    []byte
		cmdErr error
	)
	wg.Add(2)
	go func() { defer wg.Done(); out, cmdErr = cmd.CombinedOutput() }()
	var localGap int
	var localErr error
	go func() { defer wg.Done(); localGap, localErr = note(path, 15) }()
	wg.Wait()
	stop.Store(true)
	if err := <-bulkDone; err != nil {
		t.Fatalf("bulk writer: %v", err)
	}
	if cmdErr != nil {
		t.Fatalf("the other process's writes failed: %v\n%s", cmdErr, out)
	}
	if localErr != nil {
		t.Fatalf("this process's writes failed: %v", localErr)
	}
	var otherGap = -1
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "MAXGAP "); ok {
			otherGap, _ = strconv.Atoi(v)
		}
	}
	var batches int
	_ = db.Read(ctx, func(conn *sqlite.Conn) (err error) { batches, err = batchCount(conn); return err })
	t.Logf("%d batches; most batches a write waited: other process %d, this one %d", batches, otherGap, localGap)
	if otherGap < 0 || otherGap > 1 || localGap > 1 {
		t.Fatalf("a write waited for %d (other process) / %d (this one) batches, want at most 1", otherGap, localGap)
	}
	if batches < 5 {
		t.Fatalf("only %d batches ran: the bulk writer was starved", batches)
	}
}
