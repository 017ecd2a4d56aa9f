package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"
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

// NewToken returns a fresh random secret (32 bytes, base64url): a
// session's, an API key's, a calendar feed's.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken returns the hex SHA-256 of token: what is stored in its place,
// so a copy of the database hands out no live secret.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// The longest email and password a log-in reads: anything longer is
// refused before it is hashed, counted or stored.
const (
	MaxEmailLen    = 254
	MaxPasswordLen = 1024
)

// errTooLong answers an email or password over its limit.
var errTooLong = &errs.Error{Kind: errs.Unauthorized, Code: "bad_login", Message: fmt.Sprintf("Wrong email or password. (An email has at most %d characters.)", MaxEmailLen)}

// Login checks email and password and starts a session. Every attempt is
// audited; throttled ones are coalesced into one audit row per throttle
// window, with a count. An email of no account is kept only as a keyed
// hash, never as the text typed. It returns a TooMany error (with
// RetryAfter) while the IP or the account is throttled, and an Unauthorized
// error (IsBadLogin) for a wrong email or password, the same for both.
func (s *Store) Login(ctx context.Context, email, password, ip, userAgent string) (Session, error) {
	email = strings.TrimSpace(email)
	if len(email) > MaxEmailLen || len(password) > MaxPasswordLen {
		return Session{}, errTooLong
	}
	now := s.now()
	var (
		user    User
		hash    []byte
		known   bool
		keys    []string
		failed  audit.Entry // the audit row of a wrong password
		tooMany error
	)
	err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
		var err error
		user, hash, err = userByEmail(conn, email)
		known = err == nil
		if err != nil && errs.KindOf(err) != errs.NotFound {
			return err
		}
		failed = audit.Entry{UserID: user.ID, Action: "auth.login_failed", EntityType: "user", EntityID: user.ID, IP: ip,
			Details: map[string]any{"reason": "bad_password"}}
		if known {
			keys = []string{"user:" + user.ID}
		} else {
			key, err := loginKey(conn)
			if err != nil {
				return err
			}
			h := emailHash(key, email)
			keys = []string{"email:" + h}
			failed.Details = map[string]any{"reason": "unknown_email", "email_hash": h}
			if d := emailDomain(email); d != "" {
				failed.Details["email_domain"] = d
			}
		}
		if ip != "" {
			keys = append(keys, "ip:"+ip)
		}
		// A throttled attempt still lands in the account's own trail.
		throttledEntry := failed
		throttledEntry.Details = maps.Clone(failed.Details)
		delete(throttledEntry.Details, "reason")
		tooMany, err = reserve(conn, keys, throttledEntry, now)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("log in: %w", err)
	}
	if tooMany != nil {
		return Session{}, tooMany
	}
	// bcrypt runs outside any transaction: it is slow on purpose, and
	// bounded: parallel log-ins must not take every core of a Pi.
	if err := s.hashing(ctx); err != nil {
		return Session{}, fmt.Errorf("log in: %w", err)
	}
	if !known {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash(), []byte(password))
	}
	ok := known && bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	s.hashed()
	sess := Session{Token: NewToken(), User: user, ExpiresAt: now.Add(s.opts.SessionMax)}
	err = s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if !ok {
			return audit.Record(conn, failed) // counted by reserve
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
			&sqlitex.ExecOptions{Args: []any{HashToken(sess.Token), user.ID, ts, ts, store.FormatTime(sess.ExpiresAt), ip, userAgent}})
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

// emailDomain returns the domain of a typed email when the whole text is an
// email address, else "": a password typed into the email box leaves no
// part of itself.
func emailDomain(email string) string {
	f := errs.Fields{}
	validateEmail(f, "email", email)
	if len(f) > 0 {
		return ""
	}
	return strings.ToLower(email[strings.LastIndexByte(email, '@')+1:])
}

// Logout ends the session of token, if any, and audits it.
func (s *Store) Logout(ctx context.Context, actor Actor, token string) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, `DELETE FROM sessions WHERE token_hash = ? AND user_id = ?`, &sqlitex.ExecOptions{Args: []any{HashToken(token), actor.UserID}}); err != nil {
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
	h := HashToken(token)
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
		// A touch that fails (a full disk, a lock held too long) loses only
		// a minute of idle time: the session is valid, and the user may be
		// on their way to rescue their data.
		_ = s.db.Write(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?`, &sqlitex.ExecOptions{Args: []any{store.FormatTime(now), h}})
		})
	}
	return a, nil
}

// SessionInfo is one signed-in browser of the actor, as the settings page
// lists them. ID is a short prefix of the token's hash: enough to name the
// session, useless to take it over.
type SessionInfo struct {
	ID         string
	CreatedAt  time.Time
	LastSeenAt time.Time
	IP         string
	UserAgent  string
	Current    bool
}

// sessionIDLen is how many hex digits of a token hash name a session.
const sessionIDLen = 16

// Sessions lists the actor's live sessions, the most recently used first;
// currentToken's is marked Current.
func (s *Store) Sessions(ctx context.Context, actor Actor, currentToken string) ([]SessionInfo, error) {
	now := s.now()
	cur := ""
	if currentToken != "" {
		cur = HashToken(currentToken)[:sessionIDLen]
	}
	var out []SessionInfo
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT substr(token_hash, 1, ?), created_at, last_seen_at, ip, user_agent FROM sessions
WHERE user_id = ? AND expires_at > ? AND last_seen_at > ? ORDER BY last_seen_at DESC`, &sqlitex.ExecOptions{
			Args: []any{sessionIDLen, actor.UserID, store.FormatTime(now), store.FormatTime(now.Add(-s.opts.SessionIdle))},
			ResultFunc: func(st *sqlite.Stmt) error {
				si := SessionInfo{ID: st.ColumnText(0), IP: st.ColumnText(3), UserAgent: st.ColumnText(4)}
				var err error
				if si.CreatedAt, err = store.ParseTime(st.ColumnText(1)); err != nil {
					return err
				}
				if si.LastSeenAt, err = store.ParseTime(st.ColumnText(2)); err != nil {
					return err
				}
				si.Current = si.ID == cur
				out = append(out, si)
				return nil
			}})
	})
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// EndSession ends the actor's session id (a SessionInfo.ID), or, with id
// "others", every session of the actor but currentToken's. It returns
// NotFound for a session that is not the actor's.
func (s *Store) EndSession(ctx context.Context, actor Actor, id, currentToken string) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		var err error
		if id == "others" {
			err = sqlitex.Execute(conn, `DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?`, &sqlitex.ExecOptions{Args: []any{actor.UserID, HashToken(currentToken)}})
		} else {
			if len(id) != sessionIDLen {
				return errs.NotFoundf("No such session.")
			}
			err = sqlitex.Execute(conn, `DELETE FROM sessions WHERE user_id = ? AND substr(token_hash, 1, ?) = ?`, &sqlitex.ExecOptions{Args: []any{actor.UserID, sessionIDLen, id}})
		}
		if err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		n := conn.Changes()
		if n == 0 && id != "others" {
			return errs.NotFoundf("No such session.")
		}
		return audit.Record(conn, actor.Audit("auth.session_end", "user", actor.UserID, map[string]any{"session": id, "ended": n}))
	})
}
