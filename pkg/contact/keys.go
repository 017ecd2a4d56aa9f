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
