package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// Options tunes a Store. Zero values take the defaults.
type Options struct {
	// BcryptCost is the password hashing cost (default 11: about 0.2 s on a
	// Raspberry Pi 4, slow for guessing and still quick to log in).
	BcryptCost int
	// SessionIdle ends a session not used for this long (default 7 days).
	SessionIdle time.Duration
	// SessionMax ends a session this long after log-in, used or not
	// (default 30 days).
	SessionMax time.Duration
	// Now is the clock; tests move it.
	Now func() time.Time
	// MaxHashing bounds the password hashes computed at once (default 2):
	// each takes a core for about 0.2 s on a Pi, so a burst of parallel
	// log-ins queues instead of starving every other request.
	MaxHashing int
}

// Store holds users, sessions and API keys.
type Store struct {
	db   *store.DB
	opts Options
	// dummyHash is compared against when the email is unknown, so that a
	// log-in takes as long whether or not the account exists. It is made on
	// first use: hashing at start would cost crm-web ~0.1 s (more on a Pi)
	// before READY.
	dummyHash func() []byte
	// hashSem holds a slot per password hash in progress.
	hashSem chan struct{}
}

// NewStore returns a Store over db.
func NewStore(db *store.DB, opts Options) *Store {
	if opts.BcryptCost == 0 {
		opts.BcryptCost = 11
	}
	if opts.SessionIdle == 0 {
		opts.SessionIdle = 7 * 24 * time.Hour
	}
	if opts.SessionMax == 0 {
		opts.SessionMax = 30 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxHashing <= 0 {
		opts.MaxHashing = 2
	}
	cost := opts.BcryptCost
	return &Store{db: db, opts: opts, hashSem: make(chan struct{}, opts.MaxHashing), dummyHash: sync.OnceValue(func() []byte {
		h, _ := bcrypt.GenerateFromPassword([]byte("not a password of anyone"), cost)
		return h
	})}
}

func (s *Store) now() time.Time { return s.opts.Now().UTC() }

// hashing waits for a hashing slot; hashed gives it back.
func (s *Store) hashing(ctx context.Context) error {
	select {
	case s.hashSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait to hash: %w", ctx.Err())
	}
}

func (s *Store) hashed() { <-s.hashSem }

// CreateUser adds a user. It returns an Invalid error for bad fields and a
// Conflict error if the email is taken. via names the channel for the audit
// row ("crmctl", "demo").
func (s *Store) CreateUser(ctx context.Context, u NewUser, via string) (User, error) {
	u.normalize()
	if err := u.Validate(); err != nil {
		return User{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), s.opts.BcryptCost)
	if err != nil {
		return User{}, fmt.Errorf("hash password: %w", err)
	}
	now := s.now()
	user := User{ID: store.NewID(), Email: u.Email, Name: u.Name, TimeZone: u.TimeZone, CreatedAt: now}
	err = s.db.Write(ctx, func(conn *sqlite.Conn) error {
		taken, err := exists(conn, `SELECT 1 FROM users WHERE email = ?`, u.Email)
		if err != nil {
			return err
		}
		if taken {
			return &errs.Error{Kind: errs.Conflict, Code: "email_taken", Message: "That email already has an account.", Fields: map[string]string{"email": "That email already has an account."}}
		}
		ts := store.FormatTime(now)
		err = sqlitex.Execute(conn, `INSERT INTO users (id, email, name, time_zone, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			&sqlitex.ExecOptions{Args: []any{user.ID, user.Email, user.Name, user.TimeZone, string(hash), ts, ts}})
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		return audit.Record(conn, audit.Entry{UserID: user.ID, Action: "user.create", EntityType: "user", EntityID: user.ID, Details: map[string]any{"via": via}})
	})
	if err != nil {
		return User{}, err
	}
	return user, nil
}

// SetPassword replaces the password of the user with email, as an
// administrator does (no old password). It ends the user's sessions.
// It returns NotFound if there is no such user.
func (s *Store) SetPassword(ctx context.Context, email, password, via string) error {
	f := errs.Fields{}
	validatePassword(f, "password", password)
	if err := f.Err(); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.opts.BcryptCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		u, _, err := userByEmail(conn, email)
		if err != nil {
			return err
		}
		if err := setPassword(conn, u.ID, hash, s.now(), ""); err != nil {
			return err
		}
		return audit.Record(conn, audit.Entry{UserID: u.ID, Action: "user.password_set", EntityType: "user", EntityID: u.ID, Details: map[string]any{"via": via}})
	})
}

// ChangePassword changes the actor's own password after checking the old
// one. Other sessions of the actor end; keepToken's session stays. With
// revokeKeys the actor's API keys are revoked too (whoever knew the old
// password may have made one). Wrong
// current passwords are throttled as log-ins are (a stolen session must not
// make a fast guessing oracle). It returns an Invalid error naming the
// wrong or weak field, or TooMany while throttled.
func (s *Store) ChangePassword(ctx context.Context, actor Actor, old, password, keepToken string, revokeKeys bool) error {
	f := errs.Fields{}
	validatePassword(f, "new_password", password)
	if len(old) > MaxPasswordLen {
		f.Add("current_password", "That is not your current password.")
		return f.Err()
	}
	now := s.now()
	keys := []string{"password:" + actor.UserID}
	var (
		hash    []byte
		tooMany error
	)
	err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
		_, h, err := userByID(conn, actor.UserID)
		if err != nil {
			return err
		}
		hash = h
		tooMany, err = reserve(conn, keys, actor.Audit("user.password_change_failed", "user", actor.UserID, nil), now)
		return err
	})
	if err != nil {
		return err
	}
	if tooMany != nil {
		return tooMany
	}
	if err := s.hashing(ctx); err != nil {
		return err
	}
	wrong := bcrypt.CompareHashAndPassword(hash, []byte(old)) != nil
	s.hashed()
	if wrong {
		f.Add("current_password", "That is not your current password.")
		if err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
			return audit.Record(conn, actor.Audit("user.password_change_failed", "user", actor.UserID, map[string]any{"reason": "bad_password"}))
		}); err != nil {
			return err
		}
	}
	if err := f.Err(); err != nil {
		if !wrong {
			// The right password with a weak new one: not a failure.
			if err := s.db.Write(ctx, func(conn *sqlite.Conn) error { return throttleClear(conn, keys) }); err != nil {
				return err
			}
		}
		return err
	}
	newHash, err := bcrypt.GenerateFromPassword([]byte(password), s.opts.BcryptCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		keep := ""
		if keepToken != "" {
			keep = HashToken(keepToken)
		}
		if err := throttleClear(conn, keys); err != nil {
			return err
		}
		if err := setPassword(conn, actor.UserID, newHash, s.now(), keep); err != nil {
			return err
		}
		revoked := 0
		if revokeKeys {
			if err := sqlitex.Execute(conn, `UPDATE api_keys SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`,
				&sqlitex.ExecOptions{Args: []any{store.FormatTime(s.now()), actor.UserID}}); err != nil {
				return fmt.Errorf("revoke api keys: %w", err)
			}
			revoked = conn.Changes()
		}
		return audit.Record(conn, actor.Audit("user.password_change", "user", actor.UserID, map[string]any{"api_keys_revoked": revoked}))
	})
}

// setPassword stores a new password hash and ends every session of the user
// but the one whose token hash is keep (none when empty): whoever knew the
// old password is logged out.
func setPassword(conn *sqlite.Conn, userID string, hash []byte, now time.Time, keep string) error {
	err := sqlitex.Execute(conn, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`,
		&sqlitex.ExecOptions{Args: []any{string(hash), store.FormatTime(now), userID}})
	if err != nil {
		return fmt.Errorf("update password: %w", err)
	}
	if err := sqlitex.Execute(conn, `DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?`, &sqlitex.ExecOptions{Args: []any{userID, keep}}); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}

// Users lists every user, by email.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	var users []User
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT id, email, name, time_zone, created_at FROM users ORDER BY email`, &sqlitex.ExecOptions{
			ResultFunc: func(stmt *sqlite.Stmt) error {
				u, err := scanUser(stmt)
				users = append(users, u)
				return err
			},
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// UserByEmail returns the user with email, or NotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	var u User
	err := s.db.Read(ctx, func(conn *sqlite.Conn) (err error) {
		u, _, err = userByEmail(conn, email)
		return err
	})
	return u, err
}

// CountUsers returns how many users exist.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*) FROM users`, &sqlitex.ExecOptions{
			ResultFunc: func(stmt *sqlite.Stmt) error { n = stmt.ColumnInt(0); return nil },
		})
	})
	if err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

const userColumns = `id, email, name, time_zone, created_at`

func scanUser(stmt *sqlite.Stmt) (User, error) {
	t, err := store.ParseTime(stmt.ColumnText(4))
	return User{ID: stmt.ColumnText(0), Email: stmt.ColumnText(1), Name: stmt.ColumnText(2), TimeZone: stmt.ColumnText(3), CreatedAt: t}, err
}

func userByEmail(conn *sqlite.Conn, email string) (User, []byte, error) {
	return userWhere(conn, `email = ?`, strings.TrimSpace(email))
}

func userByID(conn *sqlite.Conn, id string) (User, []byte, error) {
	return userWhere(conn, `id = ?`, id)
}

func userWhere(conn *sqlite.Conn, where string, arg any) (User, []byte, error) {
	var (
		u     User
		hash  []byte
		found bool
	)
	err := sqlitex.Execute(conn, `SELECT `+userColumns+`, password_hash FROM users WHERE `+where, &sqlitex.ExecOptions{
		Args: []any{arg},
		ResultFunc: func(stmt *sqlite.Stmt) (err error) {
			found = true
			u, err = scanUser(stmt)
			hash = []byte(stmt.ColumnText(5))
			return err
		},
	})
	if err != nil {
		return User{}, nil, fmt.Errorf("read user: %w", err)
	}
	if !found {
		return User{}, nil, errs.NotFoundf("No such user.")
	}
	return u, hash, nil
}

func exists(conn *sqlite.Conn, query string, args ...any) (bool, error) {
	var found bool
	err := sqlitex.Execute(conn, query, &sqlitex.ExecOptions{
		Args:       args,
		ResultFunc: func(*sqlite.Stmt) error { found = true; return nil },
	})
	if err != nil {
		return false, fmt.Errorf("query: %w", err)
	}
	return found, nil
}

// errBadLogin is the one answer to a wrong email or a wrong password.
var errBadLogin = &errs.Error{Kind: errs.Unauthorized, Code: "bad_login", Message: "Wrong email or password."}

// IsBadLogin reports whether err is the answer to a wrong email or password.
func IsBadLogin(err error) bool { return errors.Is(err, errBadLogin) }
