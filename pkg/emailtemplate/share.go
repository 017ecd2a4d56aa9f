package emailtemplate

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Shared is a template another user shared with the actor: read-only.
type Shared struct {
	Template  Template
	OwnerName string
	SharedAt  time.Time
}

// Favorite is a template kept in a user's Favorites, outside any
// workspace.
type Favorite struct {
	ID              string
	Name            string
	Subject         string
	Preheader       string
	BodyHTML        string
	Signature       string
	FromTemplateID  string
	FromWorkspaceID string
	CreatedAt       time.Time
}

var errNoFavorite = errs.NotFoundf("No such favorite.")

// ShareWith shares template id of the actor's workspace wsID with user
// viewerID, read-only. Sharing again changes nothing.
func (s *Store) ShareWith(ctx context.Context, actor auth.Actor, wsID, id, viewerID string) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		t, err := get(conn, wsID, id)
		if err != nil {
			return err
		}
		if viewerID == actor.UserID {
			return errs.Fields{"viewer_id": "Choose someone else: the template is yours."}.Err()
		}
		exists := false
		if err := sqlitex.Execute(conn, `SELECT 1 FROM users WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{viewerID},
			ResultFunc: func(*sqlite.Stmt) error { exists = true; return nil }}); err != nil {
			return fmt.Errorf("share template: %w", err)
		}
		if !exists {
			return errs.Fields{"viewer_id": "Choose who to share with from the list."}.Err()
		}
		if err := sqlitex.Execute(conn, `INSERT INTO template_shares (template_id, viewer_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			&sqlitex.ExecOptions{Args: []any{id, viewerID, store.FormatTime(s.now())}}); err != nil {
			return fmt.Errorf("share template: %w", err)
		}
		if conn.Changes() == 0 {
			return nil
		}
		return audit.Record(conn, actor.Audit("template.share", "email_template", id, map[string]any{"workspace_id": wsID, "viewer_id": viewerID, "name": t.Name}))
	})
}

// Unshare revokes viewerID's access to template id.
func (s *Store) Unshare(ctx context.Context, actor auth.Actor, wsID, id, viewerID string) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if _, err := get(conn, wsID, id); err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `DELETE FROM template_shares WHERE template_id = ? AND viewer_id = ?`, &sqlitex.ExecOptions{Args: []any{id, viewerID}}); err != nil {
			return fmt.Errorf("unshare template: %w", err)
		}
		if conn.Changes() == 0 {
			return nil
		}
		return audit.Record(conn, actor.Audit("template.unshare", "email_template", id, map[string]any{"workspace_id": wsID, "viewer_id": viewerID}))
	})
}

// SharedWith returns the ids of the users template id is shared with.
func (s *Store) SharedWith(ctx context.Context, actor auth.Actor, wsID, id string) ([]string, error) {
	var out []string
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if _, err := get(conn, wsID, id); err != nil {
			return err
		}
		return sqlitex.Execute(conn, `SELECT viewer_id FROM template_shares WHERE template_id = ? ORDER BY created_at`, &sqlitex.ExecOptions{
			Args: []any{id}, ResultFunc: func(st *sqlite.Stmt) error { out = append(out, st.ColumnText(0)); return nil }})
	})
	return out, err
}

const sharedQuery = `SELECT ` + sharedColumns + `, u.name, sh.created_at FROM template_shares sh
JOIN email_templates t ON t.id = sh.template_id JOIN workspaces w ON w.id = t.workspace_id JOIN users u ON u.id = w.owner_id
WHERE sh.viewer_id = ?`

const sharedColumns = `t.id, t.workspace_id, t.name, t.subject, t.preheader, t.body_html, t.signature_html, t.copied_from, t.created_at, t.updated_at`

func scanShared(st *sqlite.Stmt) Shared {
	sh := Shared{Template: scan(st), OwnerName: st.ColumnText(10)}
	sh.SharedAt, _ = store.ParseTime(st.ColumnText(11))
	return sh
}

// SharedWithMe returns the templates shared with the actor, newest first.
func (s *Store) SharedWithMe(ctx context.Context, actor auth.Actor) ([]Shared, error) {
	var out []Shared
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, sharedQuery+` ORDER BY sh.created_at DESC`, &sqlitex.ExecOptions{Args: []any{actor.UserID},
			ResultFunc: func(st *sqlite.Stmt) error { out = append(out, scanShared(st)); return nil }})
	})
	if err != nil {
		return nil, fmt.Errorf("templates shared with me: %w", err)
	}
	return out, nil
}

// GetShared returns template id if it is shared with the actor, else
// NotFound (as for a template that does not exist).
func (s *Store) GetShared(ctx context.Context, actor auth.Actor, id string) (Shared, error) {
	var sh Shared
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		sh, err = getShared(conn, actor, id)
		return err
	})
	return sh, err
}

func getShared(conn *sqlite.Conn, actor auth.Actor, id string) (Shared, error) {
	var sh Shared
	found := false
	err := sqlitex.Execute(conn, sharedQuery+` AND t.id = ?`, &sqlitex.ExecOptions{Args: []any{actor.UserID, id},
		ResultFunc: func(st *sqlite.Stmt) error { sh, found = scanShared(st), true; return nil }})
	if err != nil {
		return sh, fmt.Errorf("shared template: %w", err)
	}
	if !found {
		return sh, errNotFound
	}
	return sh, nil
}

// place inserts c as a new template of the actor's workspace toWS under a
// free name, its images copied from fromWS, and audits it as action.
func (s *Store) place(conn *sqlite.Conn, actor auth.Actor, fromWS, toWS string, c Change, copiedFrom, action string, details map[string]any) (Template, error) {
	if err := workspace.Owned(conn, actor, toWS); err != nil {
		return Template{}, err
	}
	var err error
	if c.Name, err = freeName(conn, toWS, c.Name); err != nil {
		return Template{}, err
	}
	clean, err := s.check(conn, toWS, c)
	if err != nil {
		return Template{}, fmt.Errorf("save into the workspace: %w", err)
	}
	if clean, err = withImages(conn, fromWS, toWS, clean); err != nil {
		return Template{}, err
	}
	id, err := insert(conn, toWS, clean, copiedFrom, s.now())
	if err != nil {
		return Template{}, err
	}
	t, err := get(conn, toWS, id)
	if err != nil {
		return t, err
	}
	details["workspace_id"], details["name"] = toWS, t.Name
	return t, audit.Record(conn, actor.Audit(action, "email_template", id, details))
}

// SaveAs copies template id, shared with the actor, into the actor's
// workspace toWS, images included.
func (s *Store) SaveAs(ctx context.Context, actor auth.Actor, id, toWS string) (Template, error) {
	var t Template
	err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
		sh, err := getShared(conn, actor, id)
		if err != nil {
			return err
		}
		src := sh.Template
		t, err = s.place(conn, actor, src.WorkspaceID, toWS, Change{Name: src.Name, Subject: src.Subject, Preheader: src.Preheader, BodyHTML: src.BodyHTML, Signature: src.Signature},
			src.ID, "template.save_as", map[string]any{"from": src.ID})
		return err
	})
	return t, err
}

// AddFavorite keeps a copy of template id of the actor's workspace wsID
// in the actor's Favorites.
func (s *Store) AddFavorite(ctx context.Context, actor auth.Actor, wsID, id string) (Favorite, error) {
	var f Favorite
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		t, err := get(conn, wsID, id)
		if err != nil {
			return err
		}
		f = Favorite{ID: store.NewID(), Name: t.Name, Subject: t.Subject, Preheader: t.Preheader, BodyHTML: t.BodyHTML, Signature: t.Signature,
			FromTemplateID: t.ID, FromWorkspaceID: wsID, CreatedAt: s.now().UTC()}
		if err := sqlitex.Execute(conn, `INSERT INTO template_favorites (id, user_id, name, subject, preheader, body_html, signature_html, from_template_id, from_workspace_id, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, &sqlitex.ExecOptions{Args: []any{f.ID, actor.UserID, f.Name, f.Subject, f.Preheader, f.BodyHTML, f.Signature, t.ID, wsID, store.FormatTime(f.CreatedAt)}}); err != nil {
			return fmt.Errorf("add favorite: %w", err)
		}
		return audit.Record(conn, actor.Audit("template.favorite", "template_favorite", f.ID, map[string]any{"workspace_id": wsID, "from": id, "name": t.Name}))
	})
	return f, err
}

const favoriteColumns = `id, name, subject, preheader, body_html, signature_html, from_template_id, from_workspace_id, created_at`

func scanFavorite(st *sqlite.Stmt) Favorite {
	f := Favorite{ID: st.ColumnText(0), Name: st.ColumnText(1), Subject: st.ColumnText(2), Preheader: st.ColumnText(3), BodyHTML: st.ColumnText(4),
		Signature: st.ColumnText(5), FromTemplateID: st.ColumnText(6), FromWorkspaceID: st.ColumnText(7)}
	f.CreatedAt, _ = store.ParseTime(st.ColumnText(8))
	return f
}

// Favorites returns the actor's Favorites, newest first.
func (s *Store) Favorites(ctx context.Context, actor auth.Actor) ([]Favorite, error) {
	var out []Favorite
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT `+favoriteColumns+` FROM template_favorites WHERE user_id = ? ORDER BY created_at DESC, id DESC`, &sqlitex.ExecOptions{
			Args: []any{actor.UserID}, ResultFunc: func(st *sqlite.Stmt) error { out = append(out, scanFavorite(st)); return nil }})
	})
	if err != nil {
		return nil, fmt.Errorf("favorites: %w", err)
	}
	return out, nil
}

func getFavorite(conn *sqlite.Conn, actor auth.Actor, id string) (Favorite, error) {
	var f Favorite
	found := false
	err := sqlitex.Execute(conn, `SELECT `+favoriteColumns+` FROM template_favorites WHERE id = ? AND user_id = ?`, &sqlitex.ExecOptions{
		Args: []any{id, actor.UserID}, ResultFunc: func(st *sqlite.Stmt) error { f, found = scanFavorite(st), true; return nil }})
	if err != nil {
		return f, fmt.Errorf("favorite: %w", err)
	}
	if !found {
		return f, errNoFavorite
	}
	return f, nil
}

// PushFavorite copies favorite id into the actor's workspace toWS, with
// the images of the workspace it came from while that still exists.
func (s *Store) PushFavorite(ctx context.Context, actor auth.Actor, id, toWS string) (Template, error) {
	var t Template
	err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
		f, err := getFavorite(conn, actor, id)
		if err != nil {
			return err
		}
		from := f.FromWorkspaceID
		if workspace.Owned(conn, actor, from) != nil {
			from = toWS // gone, or no longer the actor's: nothing to copy
		}
		t, err = s.place(conn, actor, from, toWS, Change{Name: f.Name, Subject: f.Subject, Preheader: f.Preheader, BodyHTML: f.BodyHTML, Signature: f.Signature},
			f.FromTemplateID, "template.push", map[string]any{"favorite": f.ID})
		return err
	})
	return t, err
}

// RemoveFavorite deletes favorite id of the actor.
func (s *Store) RemoveFavorite(ctx context.Context, actor auth.Actor, id string) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if _, err := getFavorite(conn, actor, id); err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `DELETE FROM template_favorites WHERE id = ? AND user_id = ?`, &sqlitex.ExecOptions{Args: []any{id, actor.UserID}}); err != nil {
			return fmt.Errorf("remove favorite: %w", err)
		}
		return audit.Record(conn, actor.Audit("template.unfavorite", "template_favorite", id, nil))
	})
}
