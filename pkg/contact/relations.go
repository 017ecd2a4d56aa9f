package contact

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// insertEmail and insertPhone add one of contact id's emails or phones
// through the connection's cached statement (the import's fast path calls
// them once a row). The caller bumps the workspace's key version once for
// its transaction (bumpKeys).
func insertEmail(conn *sqlite.Conn, wsID, id string, e Email, norm string) error {
	st := conn.Prep(`INSERT INTO contact_emails (id, contact_id, workspace_id, address, address_norm, label, is_primary) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	for i, v := range []any{store.NewID(), id, wsID, e.Address, norm, e.Label, e.Primary} {
		bind(st, i+1, v)
	}
	if err := step(st); err != nil {
		return fmt.Errorf("insert email: %w", err)
	}
	return nil
}

func insertPhone(conn *sqlite.Conn, wsID, id string, p Phone) error {
	st := conn.Prep(`INSERT INTO contact_phones (id, contact_id, workspace_id, e164, label, is_primary) VALUES (?, ?, ?, ?, ?, ?)`)
	for i, v := range []any{store.NewID(), id, wsID, p.Number, p.Label, p.Primary} {
		bind(st, i+1, v)
	}
	if err := step(st); err != nil {
		return fmt.Errorf("insert phone: %w", err)
	}
	return nil
}

// optionalRef checks that ref ("" for none) is another contact of wsID.
func optionalRef(conn *sqlite.Conn, wsID, self, ref, field string) (any, error) {
	if ref == "" {
		return nil, nil
	}
	if ref == self {
		return nil, errs.Fields{field: "Choose another contact."}.Err()
	}
	ok, err := exists(conn, wsID, ref)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errs.Fields{field: "Choose a contact of this workspace."}.Err()
	}
	return ref, nil
}

// setSpouse links id and spouse both ways, unlinking their former spouses.
func setSpouse(conn *sqlite.Conn, wsID, id, spouse string) error {
	ref, err := optionalRef(conn, wsID, id, spouse, "spouse_id")
	if err != nil {
		return err
	}
	// Whoever pointed at id or at the new spouse lets go first.
	if err := sqlitex.Execute(conn, `UPDATE contacts SET spouse_id = NULL WHERE workspace_id = ? AND (spouse_id = ? OR id = ? OR (? <> '' AND (spouse_id = ? OR id = ?)))`,
		&sqlitex.ExecOptions{Args: []any{wsID, id, id, spouse, spouse, spouse}}); err != nil {
		return fmt.Errorf("unlink spouses: %w", err)
	}
	if ref == nil {
		return nil
	}
	if err := sqlitex.Execute(conn, `UPDATE contacts SET spouse_id = CASE id WHEN ? THEN ? ELSE ? END WHERE id IN (?, ?)`,
		&sqlitex.ExecOptions{Args: []any{id, spouse, id, id, spouse}}); err != nil {
		return fmt.Errorf("link spouses: %w", err)
	}
	return nil
}

// setStage moves id to stage (or none, "") and logs
// "Primary List changed: A → B".
func setStage(conn *sqlite.Conn, actor auth.Actor, wsID, id, stageID string) error {
	var from, fromName string
	err := sqlitex.Execute(conn, `SELECT coalesce(c.stage_id, ''), coalesce(l.name, '') FROM contacts c LEFT JOIN lists l ON l.id = c.stage_id WHERE c.id = ?`, &sqlitex.ExecOptions{
		Args: []any{id}, ResultFunc: func(stmt *sqlite.Stmt) error { from, fromName = stmt.ColumnText(0), stmt.ColumnText(1); return nil }})
	if err != nil {
		return fmt.Errorf("read stage: %w", err)
	}
	if from == stageID {
		return nil
	}
	toName := ""
	var to any
	if stageID != "" {
		l, err := list.Get(conn, wsID, stageID)
		if err != nil || l.Kind != list.Stage {
			return errs.Fields{"stage_id": "Choose a stage of this workspace."}.Err()
		}
		toName, to = l.Name, stageID
	}
	now := time.Now()
	if err := sqlitex.Execute(conn, `UPDATE contacts SET stage_id = ?, stage_changed_at = ? WHERE id = ?`,
		&sqlitex.ExecOptions{Args: []any{to, store.FormatTime(now), id}}); err != nil {
		return fmt.Errorf("set stage: %w", err)
	}
	return activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: activity.Stage, OccurredAt: now, ActorUserID: actor.UserID,
		Summary: fmt.Sprintf("Primary List changed: %s → %s", orNone(fromName), orNone(toName))}, activity.StageBody{From: fromName, To: toName})
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// setTag adds or removes tag on id and logs it; a no-op logs nothing.
func setTag(conn *sqlite.Conn, actor auth.Actor, wsID, id, tagID string, add bool) error {
	l, err := list.Get(conn, wsID, tagID)
	if err != nil || l.Kind != list.Tag {
		return errs.Fields{"tag_id": "Choose a tag of this workspace."}.Err()
	}
	q := `INSERT OR IGNORE INTO contact_tags (contact_id, list_id) VALUES (?, ?)`
	verb := "added"
	if !add {
		q, verb = `DELETE FROM contact_tags WHERE contact_id = ? AND list_id = ?`, "removed"
	}
	if err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: []any{id, tagID}}); err != nil {
		return fmt.Errorf("tag %s: %w", verb, err)
	}
	if conn.Changes() == 0 {
		return nil
	}
	return activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: activity.Tag, ActorUserID: actor.UserID,
		Summary: fmt.Sprintf("Tag %s: %s", verb, l.Name)}, activity.TagBody{Tag: l.Name, Added: add})
}

// Bulk applies one action to several contacts of wsID in one transaction:
// stageID moves them (when set), tagID is added or removed (when set). Any
// id not in the workspace makes the whole call NotFound, changing nothing.
func (s *Store) Bulk(ctx context.Context, actor auth.Actor, wsID string, ids []string, stageID *string, tagID string, addTag bool) error {
	if len(ids) == 0 {
		return errs.Fields{"ids": "Select at least one contact."}.Err()
	}
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if err := allIn(conn, wsID, ids); err != nil {
			return err
		}
		for _, id := range ids {
			if stageID != nil {
				if err := setStage(conn, actor, wsID, id, *stageID); err != nil {
					return err
				}
			}
			if tagID != "" {
				if err := setTag(conn, actor, wsID, id, tagID, addTag); err != nil {
					return err
				}
			}
		}
		return audit.Record(conn, actor.Audit("contact.bulk", "workspace", wsID, map[string]any{"contacts": len(ids), "stage_id": stageID, "tag_id": tagID, "add": addTag}))
	})
}

// SetTag adds or removes one tag on contact id.
func (s *Store) SetTag(ctx context.Context, actor auth.Actor, wsID, id, tagID string, add bool) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := ownContact(conn, actor, wsID, id); err != nil {
			return err
		}
		if err := setTag(conn, actor, wsID, id, tagID, add); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit("contact.tag", "contact", id, map[string]any{"tag_id": tagID, "add": add}))
	})
}

// AddTagNamed adds the tag named name to contact id, making the tag when
// the workspace has none of that name, in one transaction: a contact that
// is not the actor's (NotFound) or a bad name (Invalid) leaves no tag
// behind.
func (s *Store) AddTagNamed(ctx context.Context, actor auth.Actor, wsID, id, name string) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := ownContact(conn, actor, wsID, id); err != nil {
			return err
		}
		l, created, err := list.Ensure(conn, wsID, list.Tag, name)
		if err != nil {
			return errs.Fields{"new_tag": errs.As(err).Message}.Err()
		}
		if created {
			if err := audit.Record(conn, actor.Audit("list.create", "list", l.ID, map[string]any{"workspace_id": wsID, "kind": string(list.Tag), "name": l.Name})); err != nil {
				return err
			}
		}
		if err := setTag(conn, actor, wsID, id, l.ID, true); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit("contact.tag", "contact", id, map[string]any{"tag_id": l.ID, "add": true}))
	})
}

// Promote makes email or phone itemID the contact's primary one.
func (s *Store) Promote(ctx context.Context, actor auth.Actor, wsID, id, itemID string) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := ownContact(conn, actor, wsID, id); err != nil {
			return err
		}
		for _, table := range []string{"contact_emails", "contact_phones"} {
			found, err := store.Exists(conn, `SELECT 1 FROM `+table+` WHERE id = ? AND contact_id = ?`, itemID, id)
			if err != nil {
				return fmt.Errorf("promote: %w", err)
			}
			if !found {
				continue
			}
			// Clear first: the partial unique index allows one primary.
			if err := sqlitex.Execute(conn, `UPDATE `+table+` SET is_primary = 0 WHERE contact_id = ?`, &sqlitex.ExecOptions{Args: []any{id}}); err != nil {
				return fmt.Errorf("promote: %w", err)
			}
			if err := sqlitex.Execute(conn, `UPDATE `+table+` SET is_primary = 1 WHERE id = ?`, &sqlitex.ExecOptions{Args: []any{itemID}}); err != nil {
				return fmt.Errorf("promote: %w", err)
			}
			return audit.Record(conn, actor.Audit("contact.promote", "contact", id, map[string]any{"item_id": itemID}))
		}
		return errs.NotFoundf("No such email or phone on this contact.")
	})
}
