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
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Share is one contact shared with the actor.
type Share struct {
	Contact   SharedContact    `json:"contact"`
	OwnerName string           `json:"owner"`
	SharedAt  time.Time        `json:"shared_at"`
	Notes     []activity.Entry `json:"notes,omitempty"` // the owner's notes; the rest of the log stays private
}

// SharedContact is all the viewer of a shared contact gets, in the page and
// the API alike: the person's own details. Never the owner's workspace, its
// stage, tags or custom fields, nor anything of the contacts it points to
// (a spouse, a referrer), which are not shared.
type SharedContact struct {
	ID           string        `json:"id"`
	FirstName    string        `json:"first_name"`
	LastName     string        `json:"last_name"`
	Company      string        `json:"company"`
	JobTitle     string        `json:"job_title,omitempty"`
	Website      string        `json:"website,omitempty"`
	Address      string        `json:"address,omitempty"`
	Emails       []SharedEmail `json:"emails"`
	Phones       []SharedPhone `json:"phones"`
	Birthday     *Birthday     `json:"birthday,omitempty"`
	Children     string        `json:"children,omitempty"`
	Pets         string        `json:"pets,omitempty"`
	FileNotes    string        `json:"file_notes,omitempty"`
	DoNotContact bool          `json:"do_not_contact"`
}

// SharedEmail is an address of a shared contact.
type SharedEmail struct {
	Address string `json:"address"`
	Label   string `json:"label"`
	Primary bool   `json:"primary"`
}

// SharedPhone is a number of a shared contact, in E.164.
type SharedPhone struct {
	Number  string `json:"number"`
	Label   string `json:"label"`
	Primary bool   `json:"primary"`
}

// Name is the display name, as Contact.Name.
func (c SharedContact) Name() string {
	email := ""
	if len(c.Emails) > 0 {
		email = c.Emails[0].Address
	}
	return DisplayName(c.FirstName, c.LastName, c.Company, email)
}

// sharedView is the one place that decides what a viewer sees of c.
func sharedView(c Contact) SharedContact {
	v := SharedContact{ID: c.ID, FirstName: c.FirstName, LastName: c.LastName, Company: c.Company, Birthday: c.Birthday,
		JobTitle: c.JobTitle, Website: c.Website, Address: c.Address,
		Children: c.Children, Pets: c.Pets, FileNotes: c.FileNotes, DoNotContact: c.DoNotContact,
		Emails: make([]SharedEmail, len(c.Emails)), Phones: make([]SharedPhone, len(c.Phones))}
	for i, e := range c.Emails {
		v.Emails[i] = SharedEmail{Address: e.Address, Label: e.Label, Primary: e.Primary}
	}
	for i, p := range c.Phones {
		v.Phones[i] = SharedPhone{Number: p.Number, Label: p.Label, Primary: p.Primary}
	}
	return v
}

// ShareWith shares contact id with the user viewerEmail, read-only. Both
// users' audit trails record it. It returns NotFound for a contact not in
// the actor's workspace, Invalid for an unknown user or the actor.
func (s *Store) ShareWith(ctx context.Context, actor auth.Actor, wsID, id, viewerID string) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := ownContact(conn, actor, wsID, id); err != nil {
			return err
		}
		found, err := store.Exists(conn, `SELECT 1 FROM users WHERE id = ?`, viewerID)
		if err != nil {
			return fmt.Errorf("check viewer: %w", err)
		}
		if !found || viewerID == actor.UserID {
			return errs.Fields{"viewer_id": "Choose the other user."}.Err()
		}
		if err := sqlitex.Execute(conn, `INSERT OR IGNORE INTO contact_shares (contact_id, viewer_user_id, created_at) VALUES (?, ?, ?)`,
			&sqlitex.ExecOptions{Args: []any{id, viewerID, store.FormatTime(time.Now())}}); err != nil {
			return fmt.Errorf("share: %w", err)
		}
		if conn.Changes() == 0 {
			return nil
		}
		if err := activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: activity.System, ActorUserID: actor.UserID, Summary: "Shared with another user"},
			activity.SystemBody{Event: "shared", Details: map[string]any{"viewer_id": viewerID}}); err != nil {
			return err
		}
		if err := audit.Record(conn, actor.Audit("contact.share", "contact", id, map[string]any{"viewer_id": viewerID})); err != nil {
			return err
		}
		return audit.Record(conn, audit.Entry{UserID: viewerID, Action: "contact.shared_with_me", EntityType: "contact", EntityID: id, Details: map[string]any{"owner_id": actor.UserID}, IP: actor.IP})
	})
}

// Unshare revokes the viewer's access; copies they saved remain theirs.
func (s *Store) Unshare(ctx context.Context, actor auth.Actor, wsID, id, viewerID string) error {
	return s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := ownContact(conn, actor, wsID, id); err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `DELETE FROM contact_shares WHERE contact_id = ? AND viewer_user_id = ?`, &sqlitex.ExecOptions{Args: []any{id, viewerID}}); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		if conn.Changes() == 0 {
			return errs.NotFoundf("This contact is not shared with that user.")
		}
		if err := audit.Record(conn, actor.Audit("contact.unshare", "contact", id, map[string]any{"viewer_id": viewerID})); err != nil {
			return err
		}
		return audit.Record(conn, audit.Entry{UserID: viewerID, Action: "contact.unshared_with_me", EntityType: "contact", EntityID: id, Details: map[string]any{"owner_id": actor.UserID}, IP: actor.IP})
	})
}

// SharedWith returns the ids of users contact id is shared with.
func (s *Store) SharedWith(ctx context.Context, actor auth.Actor, wsID, id string) ([]string, error) {
	var ids []string
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT s.viewer_user_id FROM contact_shares s JOIN contacts c ON c.id = s.contact_id WHERE s.contact_id = ? AND c.workspace_id = ?`, &sqlitex.ExecOptions{
			Args: []any{id, wsID}, ResultFunc: func(stmt *sqlite.Stmt) error { ids = append(ids, stmt.ColumnText(0)); return nil }})
	})
	return ids, err
}

// SharedWithMe lists the contacts shared with the actor.
func (s *Store) SharedWithMe(ctx context.Context, actor auth.Actor) ([]Share, error) {
	var out []Share
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		type ref struct{ ws, id, owner string }
		var refs []ref
		var times []time.Time
		if err := sqlitex.Execute(conn, `SELECT c.workspace_id, c.id, u.name, s.created_at FROM contact_shares s JOIN contacts c ON c.id = s.contact_id
JOIN workspaces w ON w.id = c.workspace_id JOIN users u ON u.id = w.owner_id WHERE s.viewer_user_id = ? ORDER BY s.created_at DESC`, &sqlitex.ExecOptions{
			Args: []any{actor.UserID}, ResultFunc: func(stmt *sqlite.Stmt) error {
				t, err := store.ParseTime(stmt.ColumnText(3))
				refs = append(refs, ref{stmt.ColumnText(0), stmt.ColumnText(1), stmt.ColumnText(2)})
				times = append(times, t)
				return err
			}}); err != nil {
			return fmt.Errorf("list shared: %w", err)
		}
		for i, r := range refs {
			c, err := load(conn, r.ws, r.id)
			if err != nil {
				return err
			}
			out = append(out, Share{Contact: sharedView(c), OwnerName: r.owner, SharedAt: times[i]})
		}
		return nil
	})
	return out, err
}

// GetShared returns contact id as shared with the actor: its details and
// the owner's notes, never the rest of the log. It returns NotFound when the
// contact is not (or no longer) shared with the actor.
func (s *Store) GetShared(ctx context.Context, actor auth.Actor, id string) (Share, error) {
	var sh Share
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		sh, err = getShared(conn, actor, id)
		return err
	})
	return sh, err
}

func getShared(conn *sqlite.Conn, actor auth.Actor, id string) (Share, error) {
	var (
		sh    Share
		wsID  string
		found bool
	)
	err := sqlitex.Execute(conn, `SELECT c.workspace_id, u.name, s.created_at FROM contact_shares s JOIN contacts c ON c.id = s.contact_id
JOIN workspaces w ON w.id = c.workspace_id JOIN users u ON u.id = w.owner_id WHERE s.contact_id = ? AND s.viewer_user_id = ?`, &sqlitex.ExecOptions{
		Args: []any{id, actor.UserID}, ResultFunc: func(stmt *sqlite.Stmt) (err error) {
			found = true
			wsID, sh.OwnerName = stmt.ColumnText(0), stmt.ColumnText(1)
			sh.SharedAt, err = store.ParseTime(stmt.ColumnText(2))
			return err
		}})
	if err != nil {
		return Share{}, fmt.Errorf("get shared: %w", err)
	}
	if !found {
		return Share{}, errNotFound
	}
	c, err := load(conn, wsID, id)
	if err != nil {
		return Share{}, err
	}
	sh.Contact = sharedView(c)
	notes, err := activity.List(conn, wsID, id, activity.Tab{Kinds: []activity.Kind{activity.Note}}, "", 200)
	sh.Notes = notes.Entries
	return sh, err
}

// SaveAs copies a contact shared with the actor into the actor's workspace
// wsID as an independent contact: what the viewer sees of it (SharedContact)
// and its notes; not the owner's log, stage, tags or links. The copy's log says where it came from.
func (s *Store) SaveAs(ctx context.Context, actor auth.Actor, sharedID, wsID string) (Contact, error) {
	var c Contact
	err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
		sh, err := getShared(conn, actor, sharedID)
		if err != nil {
			return err
		}
		if err := workspace.Owned(conn, actor, wsID); err != nil {
			return err
		}
		// The copy holds what the viewer was shown, and nothing more.
		src := sh.Contact
		emails := make([]EmailInput, len(src.Emails))
		for i, e := range src.Emails {
			emails[i] = EmailInput(e)
		}
		phones := make([]PhoneInput, len(src.Phones))
		for i, p := range src.Phones {
			phones[i] = PhoneInput(p)
		}
		bd := src.Birthday
		f := Fields{FirstName: &src.FirstName, LastName: &src.LastName, Company: &src.Company, Emails: &emails, Phones: &phones,
			Birthday: &bd, Children: &src.Children, Pets: &src.Pets, FileNotes: &src.FileNotes, DoNotContact: &src.DoNotContact,
			JobTitle: &src.JobTitle, Website: &src.Website, Address: &src.Address}
		// A copy is the viewer's deliberate choice: keep it even if they
		// already have someone with the same email.
		id, err := s.create(conn, actor, wsID, f, true, sharedID)
		if err != nil {
			return err
		}
		for _, n := range sh.Notes {
			if err := activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: activity.Note, OccurredAt: n.OccurredAt, Summary: n.Summary, ActorUserID: actor.UserID}, n.Body); err != nil {
				return err
			}
		}
		if err := activity.Record(conn, activity.Entry{WorkspaceID: wsID, ContactID: id, Kind: activity.System, ActorUserID: actor.UserID,
			Summary: "Saved as a copy of a contact shared by " + sh.OwnerName}, activity.SystemBody{Event: "copied", Details: map[string]any{"source_contact_id": sharedID, "owner": sh.OwnerName}}); err != nil {
			return err
		}
		if err := reindex(conn, id); err != nil {
			return err
		}
		if err := audit.Record(conn, actor.Audit("contact.save_as", "contact", id, map[string]any{"source_contact_id": sharedID, "workspace_id": wsID})); err != nil {
			return err
		}
		c, err = load(conn, wsID, id)
		return err
	})
	return c, err
}
