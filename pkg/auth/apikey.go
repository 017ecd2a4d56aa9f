package auth

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// APIKeyPrefix starts every API key, so a leaked key is recognisable (and
// secret scanners can be taught it).
const APIKeyPrefix = "pcrm_"

// APIKey describes a key; the key itself is shown once, at creation.
type APIKey struct {
	ID         string
	Name       string
	Prefix     string // the key's first characters, to tell keys apart
	Scopes     []string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// Active reports whether the key works at now.
func (k APIKey) Active(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// NewAPIKey is the input to CreateAPIKey.
type NewAPIKey struct {
	Name      string
	Scopes    []string
	ExpiresAt *time.Time // nil: never
}

// CreateAPIKey makes a key for the actor and returns it in clear, once.
// It returns an Invalid error for a missing name, an unknown scope or an
// expiry in the past.
func (s *Store) CreateAPIKey(ctx context.Context, actor Actor, in NewAPIKey) (string, APIKey, error) {
	now := s.now()
	in.Name = strings.TrimSpace(in.Name)
	f := errs.Fields{}
	if in.Name == "" {
		f.Add("name", "Name the key after what will use it.")
	} else if utf8.RuneCountInString(in.Name) > 100 {
		f.Add("name", "Use at most 100 characters.")
	}
	if len(in.Scopes) == 0 {
		f.Add("scopes", "Choose at least one scope.")
	}
	seen := map[string]bool{}
	var scopes []string
	for _, sc := range in.Scopes {
		if !ValidScope(sc) {
			f.Add("scopes", fmt.Sprintf("Unknown scope %q; known: %s.", sc, strings.Join(Scopes, ", ")))
		} else if !seen[sc] {
			seen[sc] = true
			scopes = append(scopes, sc)
		}
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		f.Add("expires_at", "Choose an expiry in the future.")
	}
	if err := f.Err(); err != nil {
		return "", APIKey{}, err
	}
	key := APIKeyPrefix + NewToken()
	k := APIKey{ID: store.NewID(), Name: in.Name, Prefix: key[:len(APIKeyPrefix)+6], Scopes: scopes, CreatedAt: now, ExpiresAt: in.ExpiresAt}
	err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
		var exp any
		if k.ExpiresAt != nil {
			exp = store.FormatTime(*k.ExpiresAt)
		}
		err := sqlitex.Execute(conn, `INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			&sqlitex.ExecOptions{Args: []any{k.ID, actor.UserID, k.Name, k.Prefix, HashToken(key), strings.Join(scopes, " "), store.FormatTime(now), exp}})
		if err != nil {
			return fmt.Errorf("insert api key: %w", err)
		}
		return audit.Record(conn, actor.Audit("apikey.create", "api_key", k.ID, map[string]any{"name": k.Name, "scopes": scopes}))
	})
	if err != nil {
		return "", APIKey{}, fmt.Errorf("create api key: %w", err)
	}
	return key, k, nil
}

// APIKeys lists the actor's keys, newest first, revoked ones included.
func (s *Store) APIKeys(ctx context.Context, actor Actor) ([]APIKey, error) {
	var keys []APIKey
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at
FROM api_keys WHERE user_id = ? ORDER BY id DESC`, &sqlitex.ExecOptions{
			Args: []any{actor.UserID},
			ResultFunc: func(stmt *sqlite.Stmt) error {
				k := APIKey{ID: stmt.ColumnText(0), Name: stmt.ColumnText(1), Prefix: stmt.ColumnText(2), Scopes: strings.Fields(stmt.ColumnText(3))}
				var err error
				if k.CreatedAt, err = store.ParseTime(stmt.ColumnText(4)); err != nil {
					return err
				}
				for i, dst := range []**time.Time{&k.ExpiresAt, &k.LastUsedAt, &k.RevokedAt} {
					if stmt.ColumnType(5+i) == sqlite.TypeNull {
						continue
					}
					t, err := store.ParseTime(stmt.ColumnText(5 + i))
					if err != nil {
						return err
					}
					*dst = &t
				}
				keys = append(keys, k)
				return nil
			},
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes the actor's key id. It returns NotFound if the key is
// not the actor's; revoking a revoked key changes nothing.
func (s *Store) RevokeAPIKey(ctx context.Context, actor Actor, id string) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		err := sqlitex.Execute(conn, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND user_id = ?`,
			&sqlitex.ExecOptions{Args: []any{store.FormatTime(s.now()), id, actor.UserID}})
		if err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		if conn.Changes() == 0 {
			return errs.NotFoundf("No such API key.")
		}
		return audit.Record(conn, actor.Audit("apikey.revoke", "api_key", id, nil))
	})
}

// APIKeyActor returns the actor of a live API key, recording its use. It
// returns Unauthorized for an unknown, revoked or expired key.
func (s *Store) APIKeyActor(ctx context.Context, key, ip string) (Actor, error) {
	bad := errs.New(errs.Unauthorized, "The API key is missing, unknown, revoked or expired.")
	if !strings.HasPrefix(key, APIKeyPrefix) {
		return Actor{}, bad
	}
	now := s.now()
	h := HashToken(key)
	var (
		a        Actor
		ok       bool
		lastUsed string
	)
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT u.id, u.email, u.name, u.time_zone, k.id, k.scopes, k.expires_at, k.revoked_at, coalesce(k.last_used_at, '')
FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?`, &sqlitex.ExecOptions{
			Args: []any{h},
			ResultFunc: func(stmt *sqlite.Stmt) error {
				a = Actor{UserID: stmt.ColumnText(0), Email: stmt.ColumnText(1), Name: stmt.ColumnText(2), TimeZone: stmt.ColumnText(3),
					APIKeyID: stmt.ColumnText(4), Scopes: strings.Fields(stmt.ColumnText(5)), IP: ip}
				ok = stmt.ColumnType(7) == sqlite.TypeNull
				if ok && stmt.ColumnType(6) != sqlite.TypeNull {
					exp, err := store.ParseTime(stmt.ColumnText(6))
					if err != nil {
						return err
					}
					ok = now.Before(exp)
				}
				lastUsed = stmt.ColumnText(8)
				return nil
			},
		})
	})
	if err != nil {
		return Actor{}, fmt.Errorf("read api key: %w", err)
	}
	if !ok {
		return Actor{}, bad
	}
	// Like sessions, record use at most once a minute so reads stay reads.
	if lastUsed < store.FormatTime(now.Add(-touchEvery)) {
		err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{store.FormatTime(now), a.APIKeyID}})
		})
		if err != nil {
			return Actor{}, fmt.Errorf("touch api key: %w", err)
		}
	}
	return a, nil
}
