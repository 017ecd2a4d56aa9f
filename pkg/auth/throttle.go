package auth

import (
	"fmt"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// Log-in throttling: after freeFailures failed attempts from one IP or for
// one account, each further attempt must wait a delay that doubles with every
// failure, up to maxDelay. Counts are forgotten after forgetAfter without a
// failure and cleared by a successful log-in. Counts live in the database, so
// a restart does not reset them.
const (
	freeFailures = 3
	maxDelay     = 15 * time.Minute
	forgetAfter  = 24 * time.Hour
)

// throttleDelay returns how long after the last failure the next attempt is
// allowed, given the number of failures so far.
func throttleDelay(failures int) time.Duration {
	if failures < freeFailures {
		return 0
	}
	n := failures - freeFailures
	if n > 20 {
		return maxDelay
	}
	d := time.Second << n
	if d > maxDelay {
		return maxDelay
	}
	return d
}

func throttleKeys(ip, email string) []string {
	keys := []string{"user:" + strings.ToLower(strings.TrimSpace(email))}
	if ip != "" {
		keys = append(keys, "ip:"+ip)
	}
	return keys
}

// throttleWait returns how long the caller must still wait before another
// attempt for any of keys, or 0.
func throttleWait(conn *sqlite.Conn, keys []string, now time.Time) (time.Duration, error) {
	var wait time.Duration
	for _, k := range keys {
		err := sqlitex.Execute(conn, `SELECT failures, last_failure_at FROM login_failures WHERE key = ?`, &sqlitex.ExecOptions{
			Args: []any{k},
			ResultFunc: func(stmt *sqlite.Stmt) error {
				last, err := store.ParseTime(stmt.ColumnText(1))
				if err != nil {
					return err
				}
				if now.Sub(last) > forgetAfter {
					return nil
				}
				if w := last.Add(throttleDelay(stmt.ColumnInt(0))).Sub(now); w > wait {
					wait = w
				}
				return nil
			},
		})
		if err != nil {
			return 0, fmt.Errorf("read throttle: %w", err)
		}
	}
	return wait, nil
}

func throttleFail(conn *sqlite.Conn, keys []string, now time.Time) error {
	ts := store.FormatTime(now)
	forget := store.FormatTime(now.Add(-forgetAfter))
	for _, k := range keys {
		err := sqlitex.Execute(conn, `INSERT INTO login_failures (key, failures, last_failure_at) VALUES (?, 1, ?)
ON CONFLICT (key) DO UPDATE SET
	failures = CASE WHEN last_failure_at < ? THEN 1 ELSE failures + 1 END,
	last_failure_at = excluded.last_failure_at`, &sqlitex.ExecOptions{Args: []any{k, ts, forget}})
		if err != nil {
			return fmt.Errorf("record failure: %w", err)
		}
	}
	return nil
}

func throttleClear(conn *sqlite.Conn, keys []string) error {
	for _, k := range keys {
		if err := sqlitex.Execute(conn, `DELETE FROM login_failures WHERE key = ?`, &sqlitex.ExecOptions{Args: []any{k}}); err != nil {
			return fmt.Errorf("clear throttle: %w", err)
		}
	}
	return nil
}
