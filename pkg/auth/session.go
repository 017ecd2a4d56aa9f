package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"golang.org/x/crypto/bcrypt"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// touchEvery limits how often a session's last-seen time is written: a page
// view is then a read, not a write, and idle expiry is exact to a minute.
const touchEvery = time.Minute

// Session is a signed-in browser.
type Session struct {
	Token     string // the cookie value; only its hash is stored
	User      User
	ExpiresAt time.Time
}

func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Login checks email and password and starts a session. Every attempt is
// audited. It returns a TooMany error (with RetryAfter) while the IP or the
// account is throttled, and an Unauthorized error (IsBadLogin) for a wrong
// email or password, the same for both.
func (s *Store) Login(ctx context.Context, email, password, ip, userAgent string) (Session, error) {
	now := s.now()
	keys := throttleKeys(ip, email)
	var (
		user  User
		hash  []byte
		known bool
		wait  time.Duration
	)
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		user, hash, err = userByEmail(conn, email)
		known = err == nil
		if err != nil && errs.KindOf(err) != errs.NotFound {
			return err
		}
		// The user is looked up first so that a throttled attempt still
		// lands in the account's own audit trail.
		wait, err = throttleWait(conn, keys, now)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("log in: %w", err)
	}
	if wait > 0 {
		err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
			return audit.Record(conn, audit.Entry{UserID: user.ID, Action: "auth.login_failed", EntityType: "user", EntityID: user.ID,
				Details: map[string]any{"email": email, "reason": "throttled"}, IP: ip})
		})
		if err != nil {
			return Session{}, fmt.Errorf("log in: %w", err)
		}
		secs := int(math.Ceil(wait.Seconds()))
		return Session{}, &errs.Error{Kind: errs.TooMany, Code: "throttled", RetryAfter: time.Duration(secs) * time.Second,
			Message: fmt.Sprintf("Too many failed log-ins. Try again in %d seconds.", secs)}
	}
	// bcrypt runs outside any transaction: it is slow on purpose.
	if !known {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash(), []byte(password))
	}
	ok := known && bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	sess := Session{Token: newToken(), User: user, ExpiresAt: now.Add(s.opts.SessionMax)}
	err = s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if !ok {
			if err := throttleFail(conn, keys, now); err != nil {
				return err
			}
			details := map[string]any{"email": email, "reason": "bad_password"}
			if !known {
				details["reason"] = "unknown_email"
			}
			return audit.Record(conn, audit.Entry{UserID: user.ID, Action: "auth.login_failed", EntityType: "user", EntityID: user.ID, Details: details, IP: ip})
		}
		if err := throttleClear(conn, keys); err != nil {
			return err
		}
		ts := store.FormatTime(now)
		// Sweep ended sessions while holding the lock anyway.
		if err := sqlitex.Execute(conn, `DELETE FROM sessions WHERE expires_at < ? OR last_seen_at < ?`, &sqlitex.ExecOptions{
			Args: []any{ts, store.FormatTime(now.Add(-s.opts.SessionIdle))}}); err != nil {
			return fmt.Errorf("sweep sessions: %w", err)
		}
		if len(userAgent) > 200 {
			userAgent = userAgent[:200]
		}
		err := sqlitex.Execute(conn, `INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			&sqlitex.ExecOptions{Args: []any{hashToken(sess.Token), user.ID, ts, ts, store.FormatTime(sess.ExpiresAt), ip, userAgent}})
		if err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return audit.Record(conn, audit.Entry{UserID: user.ID, Action: "auth.login", EntityType: "user", EntityID: user.ID, IP: ip})
	})
	if err != nil {
		return Session{}, fmt.Errorf("log in: %w", err)
	}
	if !ok {
		return Session{}, errBadLogin
	}
	return sess, nil
}

// Logout ends the session of token, if any, and audits it.
func (s *Store) Logout(ctx context.Context, actor Actor, token string) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `DELETE FROM sessions WHERE token_hash = ? AND user_id = ?`, &sqlitex.ExecOptions{Args: []any{hashToken(token), actor.UserID}}); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		return audit.Record(conn, actor.Audit("auth.logout", "user", actor.UserID, nil))
	})
}

// SessionActor returns the actor of a live session token. It returns
// Unauthorized if the token is unknown, idle too long or past its absolute
// expiry.
func (s *Store) SessionActor(ctx context.Context, token, ip string) (Actor, error) {
	if token == "" {
		return Actor{}, errs.New(errs.Unauthorized, "Please log in.")
	}
	now := s.now()
	h := hashToken(token)
	var (
		a        Actor
		found    bool
		lastSeen time.Time
	)
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT u.id, u.email, u.name, u.time_zone, s.last_seen_at, s.expires_at
FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, &sqlitex.ExecOptions{
			Args: []any{h},
			ResultFunc: func(stmt *sqlite.Stmt) error {
				a = Actor{UserID: stmt.ColumnText(0), Email: stmt.ColumnText(1), Name: stmt.ColumnText(2), TimeZone: stmt.ColumnText(3), IP: ip}
				var err error
				if lastSeen, err = store.ParseTime(stmt.ColumnText(4)); err != nil {
					return err
				}
				exp, err := store.ParseTime(stmt.ColumnText(5))
				if err != nil {
					return err
				}
				found = now.Before(exp) && now.Sub(lastSeen) < s.opts.SessionIdle
				return nil
			},
		})
	})
	if err != nil {
		return Actor{}, fmt.Errorf("read session: %w", err)
	}
	if !found {
		return Actor{}, errs.New(errs.Unauthorized, "Your session has ended. Please log in again.")
	}
	if now.Sub(lastSeen) >= touchEvery {
		err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?`, &sqlitex.ExecOptions{Args: []any{store.FormatTime(now), h}})
		})
		if err != nil {
			return Actor{}, fmt.Errorf("touch session: %w", err)
		}
	}
	return a, nil
}
