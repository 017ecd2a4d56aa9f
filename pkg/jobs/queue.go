package jobs

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// A job's states.
const (
	Queued  = "queued"
	Running = "running"
	Done    = "done"
	Failed  = "failed"
)

// ErrLost means the claim is no longer this runner's: its lease ran out and
// another runner took the job over. The work of the transaction that found
// out rolls back whole.
var ErrLost = errors.New("job claim lost: another runner holds the job")

// ErrHeld is RunOne's answer for a job that is not claimable now: another
// runner holds it within its lease, it is not due, or it has finished.
var ErrHeld = errors.New("job is held by another runner, not due or finished")

// Enqueue adds a job of kind for ref (the kind's own row), due at due,
// inside the caller's write transaction, so that the row and its job commit
// together. A job for (kind, ref) that exists already is left as it is; the
// result says whether one was added.
func Enqueue(conn *sqlite.Conn, kind, ref string, due time.Time) (bool, error) {
	now := store.FormatTime(time.Now())
	err := sqlitex.Execute(conn, `INSERT INTO jobs (id, kind, ref, state, due_at, created_at) VALUES (?, ?, ?, 'queued', ?, ?)
		ON CONFLICT (kind, ref) DO NOTHING`, &sqlitex.ExecOptions{Args: []any{store.NewID(), kind, ref, store.FormatTime(due), now}})
	if err != nil {
		return false, fmt.Errorf("enqueue %s job %s: %w", kind, ref, err)
	}
	return conn.Changes() == 1, nil
}

// Pending reports whether kind has a job that is queued, or running within
// its lease (a live runner holds it): "is one already on its way?".
func Pending(conn *sqlite.Conn, kind string) (bool, error) {
	found, err := store.Exists(conn, `SELECT 1 FROM jobs WHERE kind = ? AND (state = 'queued' OR (state = 'running' AND lease_until >= ?)) LIMIT 1`,
		kind, store.FormatTime(time.Now()))
	if err != nil {
		return false, fmt.Errorf("pending %s jobs: %w", kind, err)
	}
	return found, nil
}

// Claim is one runner's hold on one job, for as long as its lease is
// renewed.
type Claim struct {
	ID   string // the job's id
	Kind string
	Ref  string // the kind's own row
	// Attempt counts the runs of this job, this one included.
	Attempt int
	// Resumed says an earlier run's lease ran out mid-run: its runner died,
	// was killed or stopped answering. A kind whose work leaves the
	// appliance (a send) asks the outside world what happened before it
	// does anything again.
	Resumed bool
	runner  string
	lease   time.Duration
}

// Runner is the claim's fencing token: host, pid and a random part.
func (c *Claim) Runner() string { return c.runner }

// Fence renews the claim's lease inside the caller's write transaction and
// answers ErrLost when the job is no longer this claim's. A kind calls it in
// every transaction that records progress, so a stale runner's batch fails
// whole instead of mixing with the new runner's.
func (c *Claim) Fence(conn *sqlite.Conn) error {
	if err := sqlitex.Execute(conn, `UPDATE jobs SET lease_until = ? WHERE id = ? AND runner = ? AND state = 'running'`,
		&sqlitex.ExecOptions{Args: []any{store.FormatTime(time.Now().Add(c.lease)), c.ID, c.runner}}); err != nil {
		return fmt.Errorf("fence job %s: %w", c.ID, err)
	}
	if conn.Changes() == 0 {
		return ErrLost
	}
	return nil
}

// newRunner names one claim: host, pid and a random part, so two claims in
// one process are different runners too.
func newRunner() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%x", host, os.Getpid(), b)
}

// claimable is the one test of "a runner may take this job now", with the
// time twice as its arguments: queued and due, or running with a lease that
// ran out (its runner died or hung).
const claimable = `((state = 'queued' AND due_at <= ?) OR (state = 'running' AND lease_until < ?))`

// claim takes up to n jobs of kind k that are due, or running with a lease
// that ran out, inside one write transaction. A job whose lease ran out
// on its last allowed attempt fails instead (its runner died every time).
// With ref set, only that job is considered, due or not.
func claim(conn *sqlite.Conn, k *Kind, ref string, n int, now time.Time) ([]*Claim, error) {
	type cand struct {
		id, ref, state string
		attempts       int
	}
	var cands []cand
	nowS := store.FormatTime(now)
	q := `SELECT id, ref, state, attempts FROM jobs WHERE kind = ? AND ` + claimable
	args := []any{k.Name, nowS, nowS}
	if ref != "" { // asked for by name: a queued job runs now, even before its retry is due
		q = `SELECT id, ref, state, attempts FROM jobs WHERE kind = ? AND ref = ? AND (state = 'queued' OR (state = 'running' AND lease_until < ?))`
		args = []any{k.Name, ref, nowS}
	}
	q += ` ORDER BY due_at LIMIT ?`
	args = append(args, n)
	if err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args, ResultFunc: func(st *sqlite.Stmt) error {
		cands = append(cands, cand{st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnInt(3)})
		return nil
	}}); err != nil {
		return nil, fmt.Errorf("due %s jobs: %w", k.Name, err)
	}
	var out []*Claim
	for _, c := range cands {
		if c.state == Running && c.attempts >= k.maxAttempts() {
			reason := fmt.Sprintf("stopped %d times without finishing (its process died or hung each time)", c.attempts)
			if err := end(conn, k, c.id, "", Failed, reason, now); err != nil {
				return nil, err
			}
			if k.Failed != nil {
				if err := k.Failed(conn, c.ref, errors.New(reason)); err != nil {
					return nil, fmt.Errorf("record failed %s job %s: %w", k.Name, c.ref, err)
				}
			}
			continue
		}
		cl := &Claim{ID: c.id, Kind: k.Name, Ref: c.ref, Attempt: c.attempts + 1, Resumed: c.state == Running, runner: newRunner(), lease: k.lease()}
		if err := sqlitex.Execute(conn, `UPDATE jobs SET state = 'running', runner = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?`,
			&sqlitex.ExecOptions{Args: []any{cl.runner, store.FormatTime(now.Add(cl.lease)), c.id}}); err != nil {
			return nil, fmt.Errorf("claim %s job %s: %w", k.Name, c.id, err)
		}
		out = append(out, cl)
	}
	return out, nil
}

// end records a job's last state; runner, when set, fences the update.
func end(conn *sqlite.Conn, k *Kind, id, runner, state, reason string, now time.Time) error {
	q := `UPDATE jobs SET state = ?, error = ?, finished_at = ?, lease_until = '' WHERE id = ?`
	args := []any{state, reason, store.FormatTime(now), id}
	if runner != "" {
		q += ` AND runner = ? AND state = 'running'`
		args = append(args, runner)
	}
	if err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args}); err != nil {
		return fmt.Errorf("end %s job %s: %w", k.Name, id, err)
	}
	if conn.Changes() == 0 {
		return ErrLost
	}
	return nil
}

// retry puts a claimed job back in the queue, due at due; undo also takes
// back the attempt (a runner stopping is not the job's fault).
func retry(conn *sqlite.Conn, c *Claim, due time.Time, reason string, undo bool) error {
	back := 0
	if undo {
		back = 1
	}
	if err := sqlitex.Execute(conn, `UPDATE jobs SET state = 'queued', runner = '', lease_until = '', due_at = ?, error = ?, attempts = attempts - ?
		WHERE id = ? AND runner = ? AND state = 'running'`, &sqlitex.ExecOptions{Args: []any{store.FormatTime(due), reason, back, c.ID, c.runner}}); err != nil {
		return fmt.Errorf("requeue %s job %s: %w", c.Kind, c.ID, err)
	}
	if conn.Changes() == 0 {
		return ErrLost
	}
	return nil
}

// dueKinds returns which of kinds have a job claimable at now.
func dueKinds(conn *sqlite.Conn, kinds []string, now time.Time) ([]string, error) {
	var out []string
	nowS := store.FormatTime(now)
	for _, k := range kinds {
		found, err := store.Exists(conn, `SELECT 1 FROM jobs WHERE kind = ? AND `+claimable+` LIMIT 1`, k, nowS, nowS)
		if err != nil {
			return nil, fmt.Errorf("due %s jobs: %w", k, err)
		}
		if found {
			out = append(out, k)
		}
	}
	return out, nil
}

// nextWake returns when the earliest of kinds' jobs becomes claimable
// (queued and due later, or running with a lease that runs out); zero when
// none will.
func nextWake(conn *sqlite.Conn, kinds []string) (time.Time, error) {
	var next time.Time
	for _, k := range kinds {
		for _, q := range []string{
			`SELECT min(due_at) FROM jobs WHERE kind = ? AND state = 'queued'`,
			`SELECT min(lease_until) FROM jobs WHERE kind = ? AND state = 'running'`,
		} {
			if err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: []any{k}, ResultFunc: func(st *sqlite.Stmt) error {
				if v := st.ColumnText(0); v != "" {
					if t, err := store.ParseTime(v); err == nil && (next.IsZero() || t.Before(next)) {
						next = t
					}
				}
				return nil
			}}); err != nil {
				return time.Time{}, fmt.Errorf("next %s job: %w", k, err)
			}
		}
	}
	return next, nil
}

// Status is a job as an admin or a test sees it.
type Status struct {
	ID, Kind, Ref, State, Runner, Error string
	Attempts                            int
	DueAt, LeaseUntil                   time.Time
}

// Get returns the job of kind for ref; ok is false when there is none.
func Get(conn *sqlite.Conn, kind, ref string) (s Status, ok bool, err error) {
	err = sqlitex.Execute(conn, `SELECT id, state, runner, error, attempts, due_at, lease_until FROM jobs WHERE kind = ? AND ref = ?`,
		&sqlitex.ExecOptions{Args: []any{kind, ref}, ResultFunc: func(st *sqlite.Stmt) error {
			ok = true
			s = Status{ID: st.ColumnText(0), Kind: kind, Ref: ref, State: st.ColumnText(1), Runner: st.ColumnText(2), Error: st.ColumnText(3), Attempts: st.ColumnInt(4)}
			s.DueAt, _ = store.ParseTime(st.ColumnText(5))
			if v := st.ColumnText(6); v != "" {
				s.LeaseUntil, _ = store.ParseTime(v)
			}
			return nil
		}})
	if err != nil {
		return s, false, fmt.Errorf("get %s job %s: %w", kind, ref, err)
	}
	return s, ok, nil
}

// Fail fails the queued job of kind for ref with reason, inside the
// caller's transaction: the process meant to run it could not start. A
// job already claimed is left to its runner.
func Fail(conn *sqlite.Conn, kind, ref, reason string) error {
	if err := sqlitex.Execute(conn, `UPDATE jobs SET state = 'failed', error = ?, finished_at = ? WHERE kind = ? AND ref = ? AND state = 'queued'`,
		&sqlitex.ExecOptions{Args: []any{reason, store.FormatTime(time.Now()), kind, ref}}); err != nil {
		return fmt.Errorf("fail %s job %s: %w", kind, ref, err)
	}
	return nil
}
