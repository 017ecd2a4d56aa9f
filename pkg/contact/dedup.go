package contact

import (
	"context"
	"fmt"
	"sort"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// DuplicateGroups returns the groups of contacts in the actor's workspace
// wsID that share an email or a phone (directly or through each other),
// largest first. Contacts kept separate on purpose still show here; the
// user decides again.
func (s *Store) DuplicateGroups(ctx context.Context, actor auth.Actor, wsID string) ([][]Contact, error) {
	var groups [][]Contact
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		if err := workspace.Owned(conn, actor, wsID); err != nil {
			return err
		}
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
		err := sqlitex.Execute(conn, `SELECT a.contact_id, b.contact_id FROM contact_emails a JOIN contact_emails b
	ON b.workspace_id = a.workspace_id AND b.address_norm = a.address_norm AND b.contact_id > a.contact_id WHERE a.workspace_id = ?
UNION SELECT a.contact_id, b.contact_id FROM contact_phones a JOIN contact_phones b
	ON b.workspace_id = a.workspace_id AND b.e164 = a.e164 AND b.contact_id > a.contact_id WHERE a.workspace_id = ?`, &sqlitex.ExecOptions{
			Args: []any{wsID, wsID},
			ResultFunc: func(stmt *sqlite.Stmt) error {
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
			var g []Contact
			for _, id := range ids {
				c, err := load(conn, wsID, id)
				if err != nil {
					return err
				}
				g = append(g, c)
			}
			groups = append(groups, g)
		}
		sort.Slice(groups, func(i, j int) bool {
			if len(groups[i]) != len(groups[j]) {
				return len(groups[i]) > len(groups[j])
			}
			return groups[i][0].ID < groups[j][0].ID
		})
		return nil
	})
	return groups, err
}
