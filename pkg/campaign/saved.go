package campaign

import (
	"context"
	"encoding/json"
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

// Saved is a workspace's saved segment: a named Segment that the campaigns
// naming it evaluate each time they send.
type Saved struct {
	ID          string
	WorkspaceID string
	Name        string
	Segment     Segment
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

var errNoSegment = errs.NotFoundf("No such segment.")

func scanSaved(st *sqlite.Stmt) (Saved, error) {
	t := func(i int) time.Time { v, _ := store.ParseTime(st.ColumnText(i)); return v }
	sg := Saved{ID: st.ColumnText(0), WorkspaceID: st.ColumnText(1), Name: st.ColumnText(2), CreatedAt: t(4), UpdatedAt: t(5)}
	if err := json.Unmarshal([]byte(st.ColumnText(3)), &sg.Segment); err != nil {
		return sg, fmt.Errorf("segment %s: %w", sg.ID, err)
	}
	return sg, nil
}

const savedColumns = `id, workspace_id, name, definition, created_at, updated_at`

// savedIn reads saved segment id of workspace wsID inside the caller's
// transaction.
func savedIn(conn *sqlite.Conn, wsID, id string) (Saved, error) {
	out, err := savedWhere(conn, `WHERE id = ? AND workspace_id = ?`, id, wsID)
	if err != nil {
		return Saved{}, err
	}
	if len(out) == 0 {
		return Saved{}, errNoSegment
	}
	return out[0], nil
}

func savedWhere(conn *sqlite.Conn, where string, args ...any) ([]Saved, error) {
	var out []Saved
	var serr error
	err := sqlitex.Execute(conn, `SELECT `+savedColumns+` FROM segments `+where, &sqlitex.ExecOptions{Args: args, ResultFunc: func(st *sqlite.Stmt) error {
		sg, err := scanSaved(st)
		if err != nil {
			serr = err
		}
		out = append(out, sg)
		return nil
	}})
	if err != nil {
		return nil, fmt.Errorf("read segments: %w", err)
	}
	return out, serr
}

// Segments returns the workspace's saved segments by name.
func (s *Store) Segments(ctx context.Context, actor auth.Actor, wsID string) ([]Saved, error) {
	var out []Saved
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		out, err = savedWhere(conn, `WHERE workspace_id = ? ORDER BY name COLLATE NOCASE, id`, wsID)
		return err
	})
	return out, err
}

// Segment returns saved segment id of the actor's workspace wsID.
func (s *Store) Segment(ctx context.Context, actor auth.Actor, wsID, id string) (Saved, error) {
	var sg Saved
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		sg, err = savedIn(conn, wsID, id)
		return err
	})
	return sg, err
}

// SegmentMembers evaluates saved segment id now: its contacts, the ones
// campaign mail leaves out with why.
func (s *Store) SegmentMembers(ctx context.Context, actor auth.Actor, wsID, id string) ([]Recipient, error) {
	var out []Recipient
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		sg, err := savedIn(conn, wsID, id)
		if err != nil {
			return err
		}
		out, err = Recipients(conn, wsID, "", sg.Segment, s.now())
		return err
	})
	return out, err
}

func checkSaved(conn *sqlite.Conn, wsID, id string, name *string, g *Segment) error {
	f := errs.Fields{}
	*name = strings.Join(strings.Fields(*name), " ")
	switch {
	case *name == "":
		f.Add("name", "Name the segment.")
	case utf8.RuneCountInString(*name) > 80:
		f.Add("name", "Use at most 80 characters.")
	default:
		taken, err := store.Exists(conn, `SELECT 1 FROM segments WHERE workspace_id = ? AND name = ? AND id <> ?`, wsID, *name, id)
		if err != nil {
			return fmt.Errorf("check segment name: %w", err)
		}
		if taken {
			f.Add("name", "This workspace has a segment of that name already.")
		}
	}
	if len(g.ContactIDs) > 0 {
		f.Add("contact_ids", "A saved segment is a set of filters; pick contacts by hand on the campaign itself.")
	}
	if err := g.check(conn, wsID, f); err != nil {
		return err
	}
	return f.Err()
}

// CreateSegment saves segment g under name.
func (s *Store) CreateSegment(ctx context.Context, actor auth.Actor, wsID, name string, g Segment) (Saved, error) {
	var sg Saved
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if err := checkSaved(conn, wsID, "", &name, &g); err != nil {
			return err
		}
		def, _ := json.Marshal(g)
		id, now := store.NewID(), store.FormatTime(s.now())
		if err := sqlitex.Execute(conn, `INSERT INTO segments (id, workspace_id, user_id, name, definition, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			&sqlitex.ExecOptions{Args: []any{id, wsID, actor.UserID, name, string(def), now, now}}); err != nil {
			return fmt.Errorf("create segment: %w", err)
		}
		if err := audit.Record(conn, actor.Audit("segment.create", "segment", id, map[string]any{"workspace_id": wsID, "name": name})); err != nil {
			return err
		}
		var err error
		sg, err = savedIn(conn, wsID, id)
		return err
	})
	return sg, err
}

// UpdateSegment changes saved segment id; the campaigns naming it go to
// who it names when they next send.
func (s *Store) UpdateSegment(ctx context.Context, actor auth.Actor, wsID, id, name string, g Segment) (Saved, error) {
	var sg Saved
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if _, err := savedIn(conn, wsID, id); err != nil {
			return err
		}
		if err := checkSaved(conn, wsID, id, &name, &g); err != nil {
			return err
		}
		def, _ := json.Marshal(g)
		if err := sqlitex.Execute(conn, `UPDATE segments SET name = ?, definition = ?, updated_at = ? WHERE id = ? AND workspace_id = ?`,
			&sqlitex.ExecOptions{Args: []any{name, string(def), store.FormatTime(s.now()), id, wsID}}); err != nil {
			return fmt.Errorf("update segment: %w", err)
		}
		if err := audit.Record(conn, actor.Audit("segment.update", "segment", id, map[string]any{"workspace_id": wsID, "name": name})); err != nil {
			return err
		}
		var err error
		sg, err = savedIn(conn, wsID, id)
		return err
	})
	return sg, err
}

// DeleteSegment deletes saved segment id, unless a campaign still to send
// (a draft, scheduled, a running drip) names it.
func (s *Store) DeleteSegment(ctx context.Context, actor auth.Actor, wsID, id string) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if _, err := savedIn(conn, wsID, id); err != nil {
			return err
		}
		var using string
		if err := sqlitex.Execute(conn, `SELECT name FROM campaigns WHERE workspace_id = ? AND segment_id = ? AND status NOT IN ('sent', 'cancelled') ORDER BY name LIMIT 1`,
			&sqlitex.ExecOptions{Args: []any{wsID, id}, ResultFunc: func(st *sqlite.Stmt) error { using = st.ColumnText(0); return nil }}); err != nil {
			return fmt.Errorf("segment in use: %w", err)
		}
		if using != "" {
			return errs.New(errs.Conflict, "The campaign “%s” goes to this segment: choose another segment for it first.", using)
		}
		if err := sqlitex.Execute(conn, `DELETE FROM segments WHERE id = ? AND workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{id, wsID}}); err != nil {
			return fmt.Errorf("delete segment: %w", err)
		}
		return audit.Record(conn, actor.Audit("segment.delete", "segment", id, map[string]any{"workspace_id": wsID}))
	})
}
