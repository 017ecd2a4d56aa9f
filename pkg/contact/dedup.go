package contact

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// DuplicateGroup is contacts that share an email or a phone, directly or
// through each other.
type DuplicateGroup struct {
	Contacts []Contact
	shared   map[string]bool // "e:" normalized email, "p:" E.164 number
}

// Shares reports whether an email address or a phone number (E.164) of a
// contact of the group is also another's: what the duplicates page
// highlights.
func (g DuplicateGroup) Shares(value string) bool {
	if strings.HasPrefix(value, "+") && g.shared["p:"+value] {
		return true
	}
	_, norm, msg := NormalizeEmail(value)
	return msg == "" && g.shared["e:"+norm]
}

// IDs are the group's contact ids.
func (g DuplicateGroup) IDs() []string {
	ids := make([]string, len(g.Contacts))
	for i, c := range g.Contacts {
		ids[i] = c.ID
	}
	return ids
}

// DuplicateGroups returns the groups of contacts in the actor's workspace
// wsID that share an email or a phone (directly or through each other),
// largest first. A pair the user marked as different people
// (KeepSeparate) does not join a group.
func (s *Store) DuplicateGroups(ctx context.Context, actor auth.Actor, wsID string) ([]DuplicateGroup, error) {
	var groups []DuplicateGroup
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		parent := map[string]string{}
		var find func(string) string
		find = func(x string) string {
			if parent[x] == "" || parent[x] == x {
				parent[x] = x
				return x
			}
			r := find(parent[x])
			parent[x] = r
			return r
		}
		shared := map[string]bool{}
		err := sqlitex.Execute(conn, `SELECT a.contact_id, b.contact_id, 'e:' || a.address_norm FROM contact_emails a JOIN contact_emails b
	ON b.workspace_id = a.workspace_id AND b.address_norm = a.address_norm AND b.contact_id > a.contact_id WHERE a.workspace_id = ?1
	AND NOT EXISTS (SELECT 1 FROM kept_separate k WHERE k.contact_a = a.contact_id AND k.contact_b = b.contact_id)
UNION SELECT a.contact_id, b.contact_id, 'p:' || a.e164 FROM contact_phones a JOIN contact_phones b
	ON b.workspace_id = a.workspace_id AND b.e164 = a.e164 AND b.contact_id > a.contact_id WHERE a.workspace_id = ?1
	AND NOT EXISTS (SELECT 1 FROM kept_separate k WHERE k.contact_a = a.contact_id AND k.contact_b = b.contact_id)`, &sqlitex.ExecOptions{
			Args: []any{wsID},
			ResultFunc: func(stmt *sqlite.Stmt) error {
				shared[stmt.ColumnText(2)] = true
				ra, rb := find(stmt.ColumnText(0)), find(stmt.ColumnText(1))
				if ra != rb {
					parent[rb] = ra
				}
				return nil
			},
		})
		if err != nil {
			return fmt.Errorf("find duplicate groups: %w", err)
		}
		byRoot := map[string][]string{}
		for id := range parent {
			r := find(id)
			byRoot[r] = append(byRoot[r], id)
		}
		for _, ids := range byRoot {
			sort.Strings(ids)
			g := DuplicateGroup{shared: shared}
			for _, id := range ids {
				c, err := load(conn, wsID, id)
				if err != nil {
					return err
				}
				g.Contacts = append(g.Contacts, c)
			}
			groups = append(groups, g)
		}
		sort.Slice(groups, func(i, j int) bool {
			if len(groups[i].Contacts) != len(groups[j].Contacts) {
				return len(groups[i].Contacts) > len(groups[j].Contacts)
			}
			return groups[i].Contacts[0].ID < groups[j].Contacts[0].ID
		})
		return nil
	})
	return groups, err
}

// KeepSeparate records that the contacts ids of the actor's workspace wsID
// are different people, although they share an email or a phone: no pair
// of them is listed as a duplicate again. It returns NotFound when one of
// them is not in the workspace.
func (s *Store) KeepSeparate(ctx context.Context, actor auth.Actor, wsID string, ids []string) error {
	if len(ids) < 2 {
		return errs.Fields{"ids": "Choose at least two contacts."}.Err()
	}
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if err := allIn(conn, wsID, ids); err != nil {
			return err
		}
		if err := markSeparate(conn, wsID, ids); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit("contact.keep_separate", "workspace", wsID, map[string]any{"contact_ids": ids}))
	})
}

// markSeparate marks every pair of ids as different people.
func markSeparate(conn *sqlite.Conn, wsID string, ids []string) error {
	now := store.FormatTime(time.Now())
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			if a == b {
				continue
			}
			lo, hi := min(a, b), max(a, b)
			if err := sqlitex.Execute(conn, `INSERT OR IGNORE INTO kept_separate (workspace_id, contact_a, contact_b, created_at) VALUES (?, ?, ?, ?)`,
				&sqlitex.ExecOptions{Args: []any{wsID, lo, hi, now}}); err != nil {
				return fmt.Errorf("keep separate: %w", err)
			}
		}
	}
	return nil
}

// DuplicateError reports contacts that share an email or phone with the one
// being saved; the API answers it 409 with code "duplicate".
func duplicateError(ids []string) error {
	return &errs.Error{Kind: errs.Conflict, Code: "duplicate",
		Message: "A contact with the same email or phone already exists.",
		Details: map[string]any{"matches": ids}}
}

// Matches returns the ids of contacts in a duplicate error, or nil.
func Matches(err error) []string {
	e := errs.As(err)
	if e.Code != "duplicate" {
		return nil
	}
	ids, _ := e.Details["matches"].([]string)
	return ids
}

// duplicates returns the other contacts of wsID (not except) that have one
// of the emails or phones.
func duplicates(conn *sqlite.Conn, wsID, except string, norms []string, phones []Phone) ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	add := func(stmt *sqlite.Stmt) error {
		if id := stmt.ColumnText(0); !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
		return nil
	}
	for _, n := range norms {
		if err := sqlitex.Execute(conn, `SELECT contact_id FROM contact_emails WHERE workspace_id = ? AND address_norm = ? AND contact_id <> ?`,
			&sqlitex.ExecOptions{Args: []any{wsID, n, except}, ResultFunc: add}); err != nil {
			return nil, fmt.Errorf("find duplicates: %w", err)
		}
	}
	for _, p := range phones {
		if err := sqlitex.Execute(conn, `SELECT contact_id FROM contact_phones WHERE workspace_id = ? AND e164 = ? AND contact_id <> ?`,
			&sqlitex.ExecOptions{Args: []any{wsID, p.Number, except}, ResultFunc: add}); err != nil {
			return nil, fmt.Errorf("find duplicates: %w", err)
		}
	}
	return ids, nil
}

// Duplicates returns the ids of contacts in wsID that share an email or
// phone with the given ones (a form can warn before saving).
func (s *Store) Duplicates(ctx context.Context, actor auth.Actor, wsID, except string, emails []string, phones []string) ([]string, error) {
	var ids []string
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		region, err := workspace.PhoneRegion(conn, wsID)
		if err != nil {
			return err
		}
		var norms []string
		for _, e := range emails {
			if _, n, msg := NormalizeEmail(e); msg == "" {
				norms = append(norms, n)
			}
		}
		var ps []Phone
		for _, p := range phones {
			if e, msg := s.phones(p, region); msg == "" {
				ps = append(ps, Phone{Number: e})
			}
		}
		ids, err = duplicates(conn, wsID, except, norms, ps)
		return err
	})
	return ids, err
}
