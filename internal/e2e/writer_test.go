package e2e

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// runWriter is the drill's second writing process: the test binary re-run
// with PICRM_E2E_WRITER set. It commits a numbered row every few
// milliseconds until SIGTERM and then prints the last committed number.
func runWriter(path string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	db, err := store.Open(path, store.Options{PoolSize: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	if err := db.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.ExecuteTransient(conn, "CREATE TABLE IF NOT EXISTS drill_writes (n INTEGER PRIMARY KEY, pad BLOB NOT NULL)", nil)
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	last := 0
	for n := 1; ctx.Err() == nil; n++ {
		err := db.Write(context.Background(), func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, "INSERT INTO drill_writes (n, pad) VALUES (?, randomblob(300))", &sqlitex.ExecOptions{Args: []any{n}})
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		last = n
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
	fmt.Println(last)
	return 0
}
