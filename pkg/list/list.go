// Package list owns a workspace's lists: the ordered pipeline stages (a
// contact's primary list) and the tags (its secondary lists). Assigning them
// to contacts belongs to package contact; this package keeps the lists
// themselves.
package list

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Kind tells stages from tags.
type Kind string

// The kinds of list.
const (
	Stage Kind = "stage"
	Tag   Kind = "tag"
)

// DefaultStages are every new workspace's pipeline, all editable.
var DefaultStages = []string{"Leads", "Prospects", "Applications", "Closed", "Lost"}

// List is a stage or a tag.
type List struct {
	ID          string
	WorkspaceID string
	Kind        Kind
	Name        string
	Position    int
}

// Hooks wires lists into workspace creation (default stages) and the
// deletion warning (contact count).
func Hooks() workspace.Hooks {
	return workspace.Hooks{
		OnCreate: []func(*sqlite.Conn, string) error{SeedDefaults},
	}
}

// SeedDefaults gives workspace wsID the default stages, inside the caller's
// transaction.
func SeedDefaults(conn *sqlite.Conn, wsID string) error {
	now := store.FormatTime(time.Now())
	for i, name := range DefaultStages {
		if err := sqlitex.Execute(conn, `INSERT INTO lists (id, workspace_id, kind, name, position, created_at) VALUES (?, ?, 'stage', ?, ?, ?)`,
			&sqlitex.ExecOptions{Args: []any{store.NewID(), wsID, name, i, now}}); err != nil {
			return fmt.Errorf("seed stage %s: %w", name, err)
		}
	}
	return nil
}

// Get returns list id of workspace wsID inside the caller's transaction, or
// NotFound. The caller has checked the workspace is the actor's.
func Get(conn *sqlite.Conn, wsID, id string) (List, error) {
	var (
		l     List
		found bool
	)
	err := sqlitex.Execute(conn, `SELECT id, workspace_id, kind, name, position FROM lists WHERE id = ? AND workspace_id = ?`, &sqlitex.ExecOptions{
		Args: []any{id, wsID},
		ResultFunc: func(stmt *sqlite.Stmt) error {
			found = true
			l = List{ID: stmt.ColumnText(0), WorkspaceID: stmt.ColumnText(1), Kind: Kind(stmt.ColumnText(2)), Name: stmt.ColumnText(3), Position: stmt.ColumnInt(4)}
			return nil
		},
	})
	if err != nil {
		return List{}, fmt.Errorf("get list: %w", err)
	}
	if !found {
		return List{}, errs.NotFoundf("No such list.")
	}
	return l, nil
}

// Store reads and writes lists.
type Store struct{ db *store.DB }

// NewStore returns a Store over db.
func NewStore(db *store.DB) *Store { return &Store{db: db} }

// All returns the workspace's lists of kind (stages by position, tags by
// name). It returns NotFound if the workspace is not the actor's.
func (s *Store) All(ctx context.Context, actor auth.Actor, wsID string, kind Kind) ([]List, error) {
	var out []List
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT id, name, position FROM lists WHERE workspace_id = ? AND kind = ? ORDER BY position, name COLLATE NOCASE`, &sqlitex.ExecOptions{
			Args: []any{wsID, string(kind)},
			ResultFunc: func(stmt *sqlite.Stmt) error {
				out = append(out, List{ID: stmt.ColumnText(0), WorkspaceID: wsID, Kind: kind, Name: stmt.ColumnText(1), Position: stmt.ColumnInt(2)})
				return nil
			},
		})
	})
	return out, err
}

func validateName(name string) (string, error) {
	name = strings.Join(strings.Fields(name), " ")
	switch {
	case name == "":
		return name, errs.Fields{"name": "Enter a name."}.Err()
	case utf8.RuneCountInString(name) > 60:
		return name, errs.Fields{"name": "Use at most 60 characters."}.Err()
	}
	return name, nil
}

func nameFree(conn *sqlite.Conn, wsID string, kind Kind, name, exceptID string) error {
	var taken bool
	err := sqlitex.Execute(conn, `SELECT 1 FROM lists WHERE workspace_id = ? AND kind = ? AND name = ? COLLATE NOCASE AND id <> ?`, &sqlitex.ExecOptions{
		Args: []any{wsID, string(kind), name, exceptID}, ResultFunc: func(*sqlite.Stmt) error { taken = true; return nil }})
	if err != nil {
		return fmt.Errorf("check list name: %w", err)
	}
	if taken {
		msg := fmt.Sprintf("There is already a %s named %q.", kind, name)
		return &errs.Error{Kind: errs.Conflict, Code: "name_taken", Message: msg, Fields: map[string]string{"name": msg}}
	}
	return nil
}

// Create adds a stage (at the end of the pipeline) or a tag. It returns
// NotFound for another user's workspace, Invalid for a bad name and Conflict
// for a name in use.
func (s *Store) Create(ctx context.Context, actor auth.Actor, wsID string, kind Kind, name string) (List, error) {
	var l List
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		// Ownership first: another user's workspace is a 404 whatever the input.
		if kind != Stage && kind != Tag {
			return errs.Fields{"kind": "Choose stage or tag."}.Err()
		}
		n, err := validateName(name)
		if err != nil {
			return err
		}
		if err := nameFree(conn, wsID, kind, n, ""); err != nil {
			return err
		}
		l = List{ID: store.NewID(), WorkspaceID: wsID, Kind: kind, Name: n}
		if err := sqlitex.Execute(conn, `INSERT INTO lists (id, workspace_id, kind, name, position, created_at)
VALUES (?, ?, ?, ?, (SELECT coalesce(max(position) + 1, 0) FROM lists WHERE workspace_id = ? AND kind = ?), ?)`,
			&sqlitex.ExecOptions{Args: []any{l.ID, wsID, string(kind), n, wsID, string(kind), store.FormatTime(time.Now())}}); err != nil {
			return fmt.Errorf("insert list: %w", err)
		}
		return audit.Record(conn, actor.Audit("list.create", "list", l.ID, map[string]any{"workspace_id": wsID, "kind": string(kind), "name": n}))
	})
	return l, err
}

// Rename renames list id. Errors as for Create.
func (s *Store) Rename(ctx context.Context, actor auth.Actor, wsID, id, name string) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		l, err := Get(conn, wsID, id)
		if err != nil {
			return err
		}
		n, err := validateName(name)
		if err != nil {
			return err
		}
		if err := nameFree(conn, wsID, l.Kind, n, id); err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `UPDATE lists SET name = ? WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{n, id}}); err != nil {
			return fmt.Errorf("rename list: %w", err)
		}
		return audit.Record(conn, actor.Audit("list.rename", "list", id, map[string]any{"from": l.Name, "to": n}))
	})
}

// Delete deletes list id; contacts in a deleted stage have no stage, and a
// deleted tag leaves its contacts. It returns NotFound for another user's list.
func (s *Store) Delete(ctx context.Context, actor auth.Actor, wsID, id string) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		l, err := Get(conn, wsID, id)
		if err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `DELETE FROM lists WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{id}}); err != nil {
			return fmt.Errorf("delete list: %w", err)
		}
		return audit.Record(conn, actor.Audit("list.delete", "list", id, map[string]any{"kind": string(l.Kind), "name": l.Name}))
	})
}

// Move moves stage id one place up (delta -1) or down (+1) in the
// pipeline, swapping it with its neighbour.
func (s *Store) Move(ctx context.Context, actor auth.Actor, wsID, id string, delta int) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		l, err := Get(conn, wsID, id)
		if err != nil {
			return err
		}
		if delta != -1 && delta != 1 {
			return errs.Fields{"delta": "Move by one place up or down."}.Err()
		}
		cmp, order := "<", "DESC"
		if delta > 0 {
			cmp, order = ">", "ASC"
		}
		var other string
		var otherPos int
		if err := sqlitex.Execute(conn, `SELECT id, position FROM lists WHERE workspace_id = ? AND kind = ? AND position `+cmp+` ? ORDER BY position `+order+` LIMIT 1`, &sqlitex.ExecOptions{
			Args: []any{wsID, string(l.Kind), l.Position}, ResultFunc: func(stmt *sqlite.Stmt) error { other, otherPos = stmt.ColumnText(0), stmt.ColumnInt(1); return nil }}); err != nil {
			return fmt.Errorf("find neighbour: %w", err)
		}
		if other == "" {
			return nil // already first or last
		}
		for _, u := range [][2]any{{otherPos, id}, {l.Position, other}} {
			if err := sqlitex.Execute(conn, `UPDATE lists SET position = ? WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{u[0], u[1]}}); err != nil {
				return fmt.Errorf("move list: %w", err)
			}
		}
		return audit.Record(conn, actor.Audit("list.move", "list", id, map[string]any{"delta": delta}))
	})
}

// Ensure returns the list of kind named name in wsID (ignoring case),
// creating it when missing, inside the caller's transaction; created says
// which. The caller audits: an import records the lists it made in its own
// audit row.
func Ensure(conn *sqlite.Conn, wsID string, kind Kind, name string) (List, bool, error) {
	n, err := validateName(name)
	if err != nil {
		return List{}, false, err
	}
	var l List
	err = sqlitex.Execute(conn, `SELECT id, name FROM lists WHERE workspace_id = ? AND kind = ? AND name = ? COLLATE NOCASE`, &sqlitex.ExecOptions{
		Args: []any{wsID, string(kind), n}, ResultFunc: func(st *sqlite.Stmt) error {
			l = List{ID: st.ColumnText(0), WorkspaceID: wsID, Kind: kind, Name: st.ColumnText(1)}
			return nil
		}})
	if err != nil {
		return l, false, fmt.Errorf("find list: %w", err)
	}
	if l.ID != "" {
		return l, false, nil
	}
	l = List{ID: store.NewID(), WorkspaceID: wsID, Kind: kind, Name: n}
	if err := sqlitex.Execute(conn, `INSERT INTO lists (id, workspace_id, kind, name, position, created_at)
VALUES (?, ?, ?, ?, (SELECT coalesce(max(position) + 1, 0) FROM lists WHERE workspace_id = ? AND kind = ?), ?)`,
		&sqlitex.ExecOptions{Args: []any{l.ID, wsID, string(kind), n, wsID, string(kind), store.FormatTime(time.Now())}}); err != nil {
		return l, false, fmt.Errorf("insert list: %w", err)
	}
	return l, true, nil
}

// Find returns the id of the actor's list of kind named name in wsID
// (case does not matter). A missing one is made when create (tags on an
// import), else the error names the lists there are.
func (s *Store) Find(ctx context.Context, actor auth.Actor, wsID string, kind Kind, name string, create bool) (string, error) {
	all, err := s.All(ctx, actor, wsID, kind)
	if err != nil {
		return "", err
	}
	var names []string
	for _, l := range all {
		if strings.EqualFold(l.Name, name) {
			return l.ID, nil
		}
		names = append(names, l.Name)
	}
	if create {
		l, err := s.Create(ctx, actor, wsID, kind, name)
		return l.ID, err
	}
	return "", errs.NotFoundf("no %s %q in this workspace; it has: %s", kind, name, strings.Join(names, ", "))
}
