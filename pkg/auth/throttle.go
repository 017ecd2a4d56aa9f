package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// Log-in throttling: after freeFailures failed attempts from one IP or for
// one account, each further attempt must wait a delay that doubles with every
// failure, up to maxDelay. Counts are forgotten after forgetAfter without a
// failure and cleared by a successful log-in. Counts live in the database, so
// a restart does not reset them.
//
// An attempt is counted as a failure before its password is hashed, in the
// same write transaction that checks the throttle (reserve), and the count
// is cleared when the password was right: parallel guesses are serialized by
// the write lock, so no more than freeFailures+1 of them are ever evaluated,
// however many arrive at once.
const (
	freeFailures = 3
	maxDelay     = 15 * time.Minute
	forgetAfter  = 24 * time.Hour
)

// FailureRetention is how long a log-in failure count is kept: past
// forgetAfter it no longer throttles anything.
const FailureRetention = forgetAfter

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

// loginKey returns the appliance's key for hashing unknown emails, made on
// first use.
func loginKey(conn *sqlite.Conn) ([]byte, error) {
	if err := sqlitex.Execute(conn, `INSERT OR IGNORE INTO app_keys (name, key) VALUES ('login', randomblob(32))`, nil); err != nil {
		return nil, fmt.Errorf("make login key: %w", err)
	}
	var key []byte
	err := sqlitex.Execute(conn, `SELECT key FROM app_keys WHERE name = 'login'`, &sqlitex.ExecOptions{
		ResultFunc: func(st *sqlite.Stmt) error {
			key = make([]byte, st.ColumnLen(0))
			st.ColumnBytes(0, key)
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("read login key: %w", err)
	}
	return key, nil
}

// emailHash is a keyed hash of a typed email, normalized: what the throttle
// and the audit trail keep of an email that is no account's.
func emailHash(key []byte, email string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// throttleState is what reserve found.
type throttleState struct {
	wait time.Duration // > 0: throttled, try again after this
	key  string        // the key that throttles
}

// throttleWait returns how long the caller must still wait before another
// attempt for any of keys, and which key makes it wait.
func throttleWait(conn *sqlite.Conn, keys []string, now time.Time) (throttleState, error) {
	var st throttleState
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
				if w := last.Add(throttleDelay(stmt.ColumnInt(0))).Sub(now); w > st.wait {
					st = throttleState{wait: w, key: k}
				}
				return nil
			},
		})
		if err != nil {
			return throttleState{}, fmt.Errorf("read throttle: %w", err)
		}
	}
	return st, nil
}

// throttled records one more throttled attempt against key: the first of a
// throttle window (the time since key's last failure) writes an audit row,
// the rest only count in it, so a flood of throttled attempts costs the
// database nothing but the counter. It returns the TooMany error to answer.
func throttled(conn *sqlite.Conn, st throttleState, e audit.Entry, now time.Time) (tooMany, err error) {
	var (
		count   int
		auditID string
	)
	err = sqlitex.Execute(conn, `UPDATE login_failures SET throttled = throttled + 1 WHERE key = ? RETURNING throttled, coalesce(throttled_audit_id, '')`, &sqlitex.ExecOptions{
		Args: []any{st.key}, ResultFunc: func(stmt *sqlite.Stmt) error {
			count, auditID = stmt.ColumnInt(0), stmt.ColumnText(1)
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("count throttled: %w", err)
	}
	if auditID != "" {
		err = sqlitex.Execute(conn, `UPDATE audit_log SET details = json_set(details, '$.count', ?, '$.last_at', ?) WHERE id = ?`,
			&sqlitex.ExecOptions{Args: []any{count, store.FormatTime(now), auditID}})
		if err != nil {
			return nil, fmt.Errorf("count throttled: %w", err)
		}
	} else {
		e.ID = store.NewID()
		if e.Details == nil {
			e.Details = map[string]any{}
		}
		e.Details["reason"], e.Details["count"], e.Details["throttled_by"] = "throttled", count, strings.SplitN(st.key, ":", 2)[0]
		if err := audit.Record(conn, e); err != nil {
			return nil, err
		}
		if err := sqlitex.Execute(conn, `UPDATE login_failures SET throttled_audit_id = ? WHERE key = ?`, &sqlitex.ExecOptions{Args: []any{e.ID, st.key}}); err != nil {
			return nil, fmt.Errorf("count throttled: %w", err)
		}
	}
	secs := int(math.Ceil(st.wait.Seconds()))
	return &errs.Error{Kind: errs.TooMany, Code: "throttled", RetryAfter: time.Duration(secs) * time.Second,
		Message: fmt.Sprintf("Too many failed attempts. Try again in %d seconds.", secs)}, nil
}

// throttleFail counts a failure for every key; a new failure opens a new
// throttle window.
func throttleFail(conn *sqlite.Conn, keys []string, now time.Time) error {
	ts := store.FormatTime(now)
	forget := store.FormatTime(now.Add(-forgetAfter))
	for _, k := range keys {
		err := sqlitex.Execute(conn, `INSERT INTO login_failures (key, failures, last_failure_at) VALUES (?, 1, ?)
ON CONFLICT (key) DO UPDATE SET
	failures = CASE WHEN last_failure_at < ? THEN 1 ELSE failures + 1 END,
	last_failure_at = excluded.last_failure_at,
	throttled = 0,
	throttled_audit_id = NULL`, &sqlitex.ExecOptions{Args: []any{k, ts, forget}})
		if err != nil {
			return fmt.Errorf("record failure: %w", err)
		}
	}
	return nil
}

// throttleClear forgets the failures of keys after a right password: the
// one counted by reserve among them.
func throttleClear(conn *sqlite.Conn, keys []string) error {
	for _, k := range keys {
		if err := sqlitex.Execute(conn, `DELETE FROM login_failures WHERE key = ?`, &sqlitex.ExecOptions{Args: []any{k}}); err != nil {
			return fmt.Errorf("clear throttle: %w", err)
		}
	}
	return nil
}

// reserve checks keys' throttle and, when none throttles, counts this
// attempt as a failure of each before anything is hashed: parallel guesses
// cannot all see a clean slate. It runs inside the caller's write
// transaction, which must commit either way: a throttled attempt comes back
// as tooMany after being coalesced into its window's audit row e.
func reserve(conn *sqlite.Conn, keys []string, e audit.Entry, now time.Time) (tooMany, err error) {
	st, err := throttleWait(conn, keys, now)
	if err != nil {
		return nil, err
	}
	if st.wait > 0 {
		return throttled(conn, st, e, now)
	}
	return nil, throttleFail(conn, keys, now)
}

// PruneFailures deletes log-in failure counts older than FailureRetention.
// It returns how many went.
func PruneFailures(conn *sqlite.Conn, now time.Time) (int, error) {
	err := sqlitex.Execute(conn, `DELETE FROM login_failures WHERE last_failure_at < ?`, &sqlitex.ExecOptions{
		Args: []any{store.FormatTime(now.Add(-FailureRetention))}})
	if err != nil {
		return 0, fmt.Errorf("prune log-in failures: %w", err)
	}
	return conn.Changes(), nil
}
