package workspace

import (
	"context"
	"fmt"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// Store reads and writes workspaces.
type Store struct {
	db    *store.DB
	hooks Hooks
}

// Hooks let capabilities that keep rows per workspace take part in its
// creation and in the deletion warning without this package knowing their
// tables.
type Hooks struct {
	// OnCreate runs inside the creating transaction (e.g. the default
	// pipeline stages).
	OnCreate []func(conn *sqlite.Conn, workspaceID string) error
	// Lost runs inside the read that builds the deletion warning and
	// returns lines such as "1,204 contacts".
	Lost []func(conn *sqlite.Conn, workspaceID string) ([]string, error)
}

// NewStore returns a Store over db.
func NewStore(db *store.DB, hooks ...Hooks) *Store {
	s := &Store{db: db}
	for _, h := range hooks {
		s.hooks.OnCreate = append(s.hooks.OnCreate, h.OnCreate...)
		s.hooks.Lost = append(s.hooks.Lost, h.Lost...)
	}
	return s
}

var errNotFound = errs.NotFoundf("No such workspace.")

const columns = `w.id, w.owner_id, w.name, w.created_at, w.updated_at,
	s.time_zone, s.campaigns_need_approval, coalesce(s.approver_user_id, ''), s.email_provider, s.phone_region, s.real_estate, s.quiet_start, s.quiet_end`

const from = ` FROM workspaces w JOIN workspace_settings s ON s.workspace_id = w.id `

func scan(stmt *sqlite.Stmt) (Workspace, error) {
	w := Workspace{ID: stmt.ColumnText(0), OwnerID: stmt.ColumnText(1), Name: stmt.ColumnText(2),
		Settings: Settings{TimeZone: stmt.ColumnText(5), CampaignsNeedApproval: stmt.ColumnBool(6), ApproverUserID: stmt.ColumnText(7), EmailProvider: stmt.ColumnText(8), PhoneRegion: stmt.ColumnText(9), RealEstate: stmt.ColumnBool(10),
			QuietStart: stmt.ColumnText(11), QuietEnd: stmt.ColumnText(12)}}
	var err error
	if w.CreatedAt, err = store.ParseTime(stmt.ColumnText(3)); err != nil {
		return w, err
	}
	w.UpdatedAt, err = store.ParseTime(stmt.ColumnText(4))
	return w, err
}

// List returns the actor's workspaces by name.
func (s *Store) List(ctx context.Context, actor auth.Actor) ([]Workspace, error) {
	var list []Workspace
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT `+columns+from+`WHERE w.owner_id = ? ORDER BY w.name COLLATE NOCASE`, &sqlitex.ExecOptions{
			Args: []any{actor.UserID},
			ResultFunc: func(stmt *sqlite.Stmt) error {
				w, err := scan(stmt)
				list = append(list, w)
				return err
			},
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	return list, nil
}

// Get returns the actor's workspace id, or NotFound.
func (s *Store) Get(ctx context.Context, actor auth.Actor, id string) (Workspace, error) {
	var w Workspace
	err := s.db.Read(ctx, func(conn *sqlite.Conn) (err error) {
		w, err = get(conn, actor, id)
		return err
	})
	return w, err
}

func get(conn *sqlite.Conn, actor auth.Actor, id string) (Workspace, error) {
	var (
		w     Workspace
		found bool
	)
	err := sqlitex.Execute(conn, `SELECT `+columns+from+`WHERE w.id = ? AND w.owner_id = ?`, &sqlitex.ExecOptions{
		Args: []any{id, actor.UserID},
		ResultFunc: func(stmt *sqlite.Stmt) (err error) {
			found = true
			w, err = scan(stmt)
			return err
		},
	})
	if err != nil {
		return Workspace{}, fmt.Errorf("get workspace: %w", err)
	}
	if !found {
		return Workspace{}, errNotFound
	}
	return w, nil
}

// Create makes a workspace for the actor from ch (Name is required; the
// settings default to the actor's time zone and the file email provider), in
// one transaction. It returns an Invalid error naming each bad field and a
// Conflict error if the actor has a workspace of that name.
func (s *Store) Create(ctx context.Context, actor auth.Actor, ch Change) (Workspace, error) {
	tz := actor.TimeZone
	if !auth.ValidTimeZone(tz) {
		tz = "UTC"
	}
	now := time.Now().UTC()
	w := Workspace{ID: store.NewID(), OwnerID: actor.UserID, CreatedAt: now, UpdatedAt: now,
		Settings: Settings{TimeZone: tz, EmailProvider: "file", PhoneRegion: "US", QuietStart: DefaultQuietStart, QuietEnd: DefaultQuietEnd}}
	if ch.Name == nil {
		ch.Name = new(string)
	}
	err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := apply(conn, actor, &w, ch); err != nil {
			return err
		}
		ts := store.FormatTime(now)
		if err := sqlitex.Execute(conn, `INSERT INTO workspaces (id, owner_id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			&sqlitex.ExecOptions{Args: []any{w.ID, w.OwnerID, w.Name, ts, ts}}); err != nil {
			return fmt.Errorf("insert workspace: %w", err)
		}
		if err := sqlitex.Execute(conn, `INSERT INTO workspace_settings (workspace_id, updated_at) VALUES (?, ?)`,
			&sqlitex.ExecOptions{Args: []any{w.ID, ts}}); err != nil {
			return fmt.Errorf("insert workspace settings: %w", err)
		}
		if err := saveSettings(conn, w.ID, w.Settings, ts); err != nil {
			return err
		}
		for _, h := range s.hooks.OnCreate {
			if err := h(conn, w.ID); err != nil {
				return err
			}
		}
		return audit.Record(conn, actor.Audit("workspace.create", "workspace", w.ID, map[string]any{"name": w.Name}))
	})
	if err != nil {
		return Workspace{}, err
	}
	return w, nil
}

// apply sets ch's fields on w and validates the result, checking the name
// is free among the actor's other workspaces and the approver exists.
func apply(conn *sqlite.Conn, actor auth.Actor, w *Workspace, ch Change) error {
	if ch.Name != nil {
		w.Name = NormalizeName(*ch.Name)
	}
	set := &w.Settings
	if ch.TimeZone != nil {
		set.TimeZone = *ch.TimeZone
	}
	if ch.CampaignsNeedApproval != nil {
		set.CampaignsNeedApproval = *ch.CampaignsNeedApproval
	}
	if ch.ApproverUserID != nil {
		set.ApproverUserID = strings.TrimSpace(*ch.ApproverUserID)
	}
	if ch.EmailProvider != nil {
		set.EmailProvider = strings.TrimSpace(*ch.EmailProvider)
	}
	if ch.PhoneRegion != nil {
		set.PhoneRegion = *ch.PhoneRegion
	}
	if ch.RealEstate != nil {
		set.RealEstate = *ch.RealEstate
	}
	if ch.QuietStart != nil {
		set.QuietStart = strings.TrimSpace(*ch.QuietStart)
	}
	if ch.QuietEnd != nil {
		set.QuietEnd = strings.TrimSpace(*ch.QuietEnd)
	}
	f := errs.Fields{}
	validateName(f, w.Name)
	set.validate(f)
	if set.ApproverUserID != "" {
		ok, err := userExists(conn, set.ApproverUserID)
		if err != nil {
			return err
		}
		if !ok {
			f.Add("approver_user_id", "Choose an approver from the list.")
		}
	}
	if err := f.Err(); err != nil {
		return err
	}
	if ch.Name != nil {
		return checkNameFree(conn, actor, w.Name, w.ID)
	}
	return nil
}

func saveSettings(conn *sqlite.Conn, id string, set Settings, ts string) error {
	var approver any
	if set.ApproverUserID != "" {
		approver = set.ApproverUserID
	}
	if err := sqlitex.Execute(conn, `UPDATE workspace_settings SET time_zone = ?, campaigns_need_approval = ?, approver_user_id = ?, email_provider = ?, phone_region = ?, real_estate = ?,
	quiet_start = ?, quiet_end = ?, updated_at = ?
WHERE workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{set.TimeZone, set.CampaignsNeedApproval, approver, set.EmailProvider, set.PhoneRegion, set.RealEstate,
		set.QuietStart, set.QuietEnd, ts, id}}); err != nil {
		return fmt.Errorf("update workspace settings: %w", err)
	}
	return nil
}

func checkNameFree(conn *sqlite.Conn, actor auth.Actor, name, exceptID string) error {
	var taken bool
	err := sqlitex.Execute(conn, `SELECT 1 FROM workspaces WHERE owner_id = ? AND name = ? COLLATE NOCASE AND id <> ?`, &sqlitex.ExecOptions{
		Args:       []any{actor.UserID, name, exceptID},
		ResultFunc: func(*sqlite.Stmt) error { taken = true; return nil },
	})
	if err != nil {
		return fmt.Errorf("check workspace name: %w", err)
	}
	if taken {
		msg := fmt.Sprintf("You already have a workspace named %q.", name)
		return &errs.Error{Kind: errs.Conflict, Code: "name_taken", Message: msg, Fields: map[string]string{"name": msg}}
	}
	return nil
}

// Change lists the fields to change; nil fields stay as they are.
type Change struct {
	Name                  *string
	TimeZone              *string
	CampaignsNeedApproval *bool
	ApproverUserID        *string
	EmailProvider         *string
	PhoneRegion           *string
	RealEstate            *bool
	// QuietStart and QuietEnd are "HH:MM"; both "" turn quiet hours off.
	QuietStart, QuietEnd *string
}

// Update applies ch to the actor's workspace id in one transaction and
// audits what changed. It returns NotFound if the workspace is not the
// actor's, an Invalid error naming each bad field, and a Conflict error for a
// name the actor already uses.
func (s *Store) Update(ctx context.Context, actor auth.Actor, id string, ch Change) (Workspace, error) {
	var w Workspace
	err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
		old, err := get(conn, actor, id)
		if err != nil {
			return err
		}
		w = old
		if err := apply(conn, actor, &w, ch); err != nil {
			return err
		}
		changed := diff(old, w)
		if len(changed) == 0 {
			return nil
		}
		w.UpdatedAt = time.Now().UTC()
		ts := store.FormatTime(w.UpdatedAt)
		if err := sqlitex.Execute(conn, `UPDATE workspaces SET name = ?, updated_at = ? WHERE id = ? AND owner_id = ?`,
			&sqlitex.ExecOptions{Args: []any{w.Name, ts, id, actor.UserID}}); err != nil {
			return fmt.Errorf("update workspace: %w", err)
		}
		if err := saveSettings(conn, id, w.Settings, ts); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit("workspace.update", "workspace", id, changed))
	})
	return w, err
}

// diff returns the changed fields as name -> {"from": old, "to": new}.
func diff(a, b Workspace) map[string]any {
	d := map[string]any{}
	add := func(name string, x, y any) {
		if x != y {
			d[name] = map[string]any{"from": x, "to": y}
		}
	}
	add("name", a.Name, b.Name)
	add("time_zone", a.Settings.TimeZone, b.Settings.TimeZone)
	add("campaigns_need_approval", a.Settings.CampaignsNeedApproval, b.Settings.CampaignsNeedApproval)
	add("approver_user_id", a.Settings.ApproverUserID, b.Settings.ApproverUserID)
	add("email_provider", a.Settings.EmailProvider, b.Settings.EmailProvider)
	add("phone_region", a.Settings.PhoneRegion, b.Settings.PhoneRegion)
	add("real_estate", a.Settings.RealEstate, b.Settings.RealEstate)
	add("quiet_start", a.Settings.QuietStart, b.Settings.QuietStart)
	add("quiet_end", a.Settings.QuietEnd, b.Settings.QuietEnd)
	return d
}

func userExists(conn *sqlite.Conn, id string) (bool, error) {
	found, err := store.Exists(conn, `SELECT 1 FROM users WHERE id = ?`, id)
	if err != nil {
		return false, fmt.Errorf("check user: %w", err)
	}
	return found, nil
}

// Impact returns what deleting the actor's workspace id would destroy, or
// NotFound.
func (s *Store) Impact(ctx context.Context, actor auth.Actor, id string) (Impact, error) {
	var im Impact
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		w, err := get(conn, actor, id)
		if err != nil {
			return err
		}
		im.Workspace = w
		for _, h := range s.hooks.Lost {
			lines, err := h(conn, id)
			if err != nil {
				return err
			}
			im.Lost = append(im.Lost, lines...)
		}
		im.Lost = append(im.Lost, "the workspace's settings (time zone, approvals, email provider)")
		return nil
	})
	return im, err
}

// Delete deletes the actor's workspace id and everything in it. confirmName
// must equal the workspace's name, so nothing is lost by a stray click or
// request. It returns NotFound if the workspace is not the actor's and an
// Invalid error if the confirmation does not match.
func (s *Store) Delete(ctx context.Context, actor auth.Actor, id, confirmName string) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		w, err := get(conn, actor, id)
		if err != nil {
			return err
		}
		if NormalizeName(confirmName) != w.Name {
			return errs.Fields{"confirm_name": fmt.Sprintf("Type the workspace's name, %q, to confirm.", w.Name)}.Err()
		}
		if err := sqlitex.Execute(conn, `DELETE FROM workspaces WHERE id = ? AND owner_id = ?`, &sqlitex.ExecOptions{Args: []any{id, actor.UserID}}); err != nil {
			return fmt.Errorf("delete workspace: %w", err)
		}
		return audit.Record(conn, actor.Audit("workspace.delete", "workspace", id, map[string]any{"name": w.Name}))
	})
}

// Read runs fn in a read transaction of db once the actor is known to own
// workspace wsID, and answers NotFound otherwise: the one way a capability
// opens a read of a workspace's rows, so none can forget the check.
func Read(ctx context.Context, db *store.DB, actor auth.Actor, wsID string, fn func(*sqlite.Conn) error) error {
	return db.Read(ctx, func(conn *sqlite.Conn) error {
		if err := Owned(conn, actor, wsID); err != nil {
			return err
		}
		return fn(conn)
	})
}

// Write runs fn in a write transaction of db once the actor is known to own
// workspace wsID, and answers NotFound otherwise (nothing is written).
func Write(ctx context.Context, db *store.DB, actor auth.Actor, wsID string, fn func(*sqlite.Conn) error) error {
	return db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := Owned(conn, actor, wsID); err != nil {
			return err
		}
		return fn(conn)
	})
}

// Owned returns NotFound unless the actor owns workspace id. Other
// capabilities call it inside their transactions before touching the
// workspace's rows.
func Owned(conn *sqlite.Conn, actor auth.Actor, id string) error {
	found, err := store.Exists(conn, `SELECT 1 FROM workspaces WHERE id = ? AND owner_id = ?`, id, actor.UserID)
	if err != nil {
		return fmt.Errorf("check workspace: %w", err)
	}
	if !found {
		return errNotFound
	}
	return nil
}

// PhoneRegion returns workspace id's phone region inside the caller's
// transaction; the caller has checked ownership.
func PhoneRegion(conn *sqlite.Conn, id string) (string, error) {
	region := "US"
	err := sqlitex.Execute(conn, `SELECT phone_region FROM workspace_settings WHERE workspace_id = ?`, &sqlitex.ExecOptions{
		Args: []any{id}, ResultFunc: func(stmt *sqlite.Stmt) error { region = stmt.ColumnText(0); return nil }})
	if err != nil {
		return "", fmt.Errorf("read phone region: %w", err)
	}
	return region, nil
}

// TimeZoneIn returns workspace id's time zone inside the caller's
// transaction (UTC when it has none).
func TimeZoneIn(conn *sqlite.Conn, id string) (string, error) {
	tz := "UTC"
	err := sqlitex.Execute(conn, `SELECT time_zone FROM workspace_settings WHERE workspace_id = ?`, &sqlitex.ExecOptions{
		Args: []any{id}, ResultFunc: func(stmt *sqlite.Stmt) error {
			if v := stmt.ColumnText(0); v != "" {
				tz = v
			}
			return nil
		}})
	if err != nil {
		return "", fmt.Errorf("read time zone: %w", err)
	}
	return tz, nil
}

// SettingsIn returns workspace id's settings inside the caller's
// transaction, for a daemon that acts for no user (crm-sender).
func SettingsIn(conn *sqlite.Conn, id string) (Settings, error) {
	var w Workspace
	var serr error
	err := sqlitex.Execute(conn, `SELECT `+columns+from+`WHERE w.id = ?`, &sqlitex.ExecOptions{
		Args: []any{id}, ResultFunc: func(st *sqlite.Stmt) error { w, serr = scan(st); return nil }})
	if err != nil {
		return Settings{}, fmt.Errorf("read workspace settings: %w", err)
	}
	return w.Settings, serr
}
