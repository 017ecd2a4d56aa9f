package contact

import (
	"fmt"
	"hash/maphash"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// keySet holds a workspace's duplicate keys, its normalized emails and
// E.164 phones, as 64-bit hashes: a key not in the set belongs to no
// contact of the workspace, so most rows of an import need no look-up. A
// key in it may still belong to none (a collision, or a contact deleted
// since), which the SQL look-up then settles. About 20 bytes a key: a
// workspace of 100,000 contacts costs a few MB.
type keySet struct {
	seed           maphash.Seed
	emails, phones map[uint64]struct{}
}

// loadKeys reads wsID's keys from the duplicate indexes (covering scans).
func loadKeys(conn *sqlite.Conn, wsID string) (*keySet, error) {
	k := &keySet{seed: maphash.MakeSeed(), emails: map[uint64]struct{}{}, phones: map[uint64]struct{}{}}
	for _, q := range []struct {
		sql string
		m   map[uint64]struct{}
	}{
		{`SELECT address_norm FROM contact_emails WHERE workspace_id = ?`, k.emails},
		{`SELECT e164 FROM contact_phones WHERE workspace_id = ?`, k.phones},
	} {
		if err := sqlitex.Execute(conn, q.sql, &sqlitex.ExecOptions{Args: []any{wsID}, ResultFunc: func(st *sqlite.Stmt) error {
			q.m[k.hash(st.ColumnText(0))] = struct{}{}
			return nil
		}}); err != nil {
			return nil, fmt.Errorf("read duplicate keys: %w", err)
		}
	}
	return k, nil
}

// bumpKeys records that emails or phones were added to workspace wsID and
// returns the new version. Every transaction that adds them calls it once:
// a running import reloads its set only when the version moved under it.
func bumpKeys(conn *sqlite.Conn, wsID string) (int64, error) {
	var v int64
	err := sqlitex.Execute(conn, `INSERT INTO key_versions (workspace_id, version) VALUES (?, 1)
ON CONFLICT (workspace_id) DO UPDATE SET version = version + 1 RETURNING version`, &sqlitex.ExecOptions{
		Args: []any{wsID}, ResultFunc: func(st *sqlite.Stmt) error { v = st.ColumnInt64(0); return nil }})
	if err != nil {
		return 0, fmt.Errorf("bump duplicate keys: %w", err)
	}
	return v, nil
}

// keyVersion returns workspace wsID's key version (0 before any bump).
func keyVersion(conn *sqlite.Conn, wsID string) (int64, error) {
	var v int64
	err := sqlitex.Execute(conn, `SELECT version FROM key_versions WHERE workspace_id = ?`, &sqlitex.ExecOptions{
		Args: []any{wsID}, ResultFunc: func(st *sqlite.Stmt) error { v = st.ColumnInt64(0); return nil }})
	if err != nil {
		return 0, fmt.Errorf("read duplicate keys version: %w", err)
	}
	return v, nil
}

func (k *keySet) hash(v string) uint64 { return maphash.String(k.seed, v) }

// add records the keys of a contact just written.
func (k *keySet) add(n normalized) {
	for _, e := range n.norms {
		k.emails[k.hash(e)] = struct{}{}
	}
	for _, p := range n.phones {
		k.phones[k.hash(p.Number)] = struct{}{}
	}
}

// mayHave reports whether any of n's keys may belong to a contact.
func (k *keySet) mayHave(n normalized) bool {
	for _, e := range n.norms {
		if _, ok := k.emails[k.hash(e)]; ok {
			return true
		}
	}
	for _, p := range n.phones {
		if _, ok := k.phones[k.hash(p.Number)]; ok {
			return true
		}
	}
	return false
}
