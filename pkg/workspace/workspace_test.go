package workspace_test

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

func setup(t *testing.T) (*store.DB, *workspace.Store, auth.Actor, auth.Actor) {
	t.Helper()
	db := storetest.New(t)
	as := auth.NewStore(db, auth.Options{BcryptCost: bcrypt.MinCost})
	mk := func(email string) auth.Actor {
		u, err := as.CreateUser(context.Background(), auth.NewUser{Email: email, Name: email, TimeZone: "America/Los_Angeles", Password: "long enough password"}, "test")
		if err != nil {
			t.Fatal(err)
		}
		return auth.Actor{UserID: u.ID, Email: u.Email, TimeZone: u.TimeZone}
	}
	return db, workspace.NewStore(db), mk("andy@example.com"), mk("monalisa@example.com")
}

func str(s string) *string { return &s }

func auditCount(t *testing.T, db *store.DB, action string) int {
	t.Helper()
	var n int
	err := db.Read(context.Background(), func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*) FROM audit_log WHERE action = ?`, &sqlitex.ExecOptions{
			Args: []any{action}, ResultFunc: func(stmt *sqlite.Stmt) error { n = stmt.ColumnInt(0); return nil }})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreate(t *testing.T) {
	ctx := context.Background()
	db, s, andy, mona := setup(t)
	t.Run("OK", func(t *testing.T) {
		w, err := s.Create(ctx, andy, workspace.Change{Name: str("  Loan   Factory ")})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := w.Name, "Loan Factory"; got != want {
			t.Fatalf("name=%q, want %q", got, want)
		}
		if got, want := w.Settings.TimeZone, "America/Los_Angeles"; got != want {
			t.Fatalf("time zone=%q, want the owner's %q", got, want)
		}
		if got := auditCount(t, db, "workspace.create"); got != 1 {
			t.Fatalf("audit rows=%d, want 1", got)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		_, err := s.Create(ctx, andy, workspace.Change{Name: str("loan factory")})
		if !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("err=%v, want Conflict", err)
		}
		// Names are unique per user, not across users.
		if _, err := s.Create(ctx, mona, workspace.Change{Name: str("Loan Factory")}); err != nil {
			t.Fatalf("another user's same name: %v", err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, ch := range []workspace.Change{
			{Name: str("   ")},
			{Name: str(string(make([]rune, 81)))},
			{Name: str("ok"), TimeZone: str("Mars/Olympus")},
			{Name: str("ok"), EmailProvider: str("pigeon")},
			{Name: str("ok"), CampaignsNeedApproval: new(bool(true))},
			{Name: str("ok"), ApproverUserID: str("no-such-user")},
		} {
			if _, err := s.Create(ctx, andy, ch); !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("create %+v: err=%v, want Invalid", ch, err)
			}
		}
		list, _ := s.List(ctx, andy)
		if len(list) != 1 {
			t.Fatalf("invalid creates left %d workspaces, want 1", len(list))
		}
	})
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	db, s, andy, mona := setup(t)
	w, _ := s.Create(ctx, andy, workspace.Change{Name: str("MaiStory")})
	other, _ := s.Create(ctx, andy, workspace.Change{Name: str("AI Consulting")})
	t.Run("OK", func(t *testing.T) {
		got, err := s.Update(ctx, andy, w.ID, workspace.Change{Name: str("Mai Story"), CampaignsNeedApproval: new(bool(true)), ApproverUserID: &mona.UserID})
		if err != nil {
			t.Fatal(err)
		}
		again, _ := s.Get(ctx, andy, w.ID)
		if again.Name != "Mai Story" || !again.Settings.CampaignsNeedApproval || again.Settings.ApproverUserID != mona.UserID || got.Name != again.Name {
			t.Fatalf("after update: %+v", again)
		}
		if n := auditCount(t, db, "workspace.update"); n != 1 {
			t.Fatalf("audit rows=%d, want 1", n)
		}
		if o, _ := s.Get(ctx, andy, other.ID); o.Name != "AI Consulting" {
			t.Fatalf("renaming one workspace renamed another to %q", o.Name)
		}
	})
	t.Run("NoChangeNoAudit", func(t *testing.T) {
		if _, err := s.Update(ctx, andy, w.ID, workspace.Change{Name: str("Mai Story")}); err != nil {
			t.Fatal(err)
		}
		if n := auditCount(t, db, "workspace.update"); n != 1 {
			t.Fatalf("audit rows=%d after a no-op, want 1", n)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		if _, err := s.Update(ctx, andy, w.ID, workspace.Change{Name: str("ai consulting")}); !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("err=%v, want Conflict", err)
		}
	})
	t.Run("ErrInvalidChangesNothing", func(t *testing.T) {
		_, err := s.Update(ctx, andy, w.ID, workspace.Change{Name: str("Renamed"), TimeZone: str("nowhere")})
		var e *errs.Error
		if !errors.As(err, &e) || e.Fields["time_zone"] == "" {
			t.Fatalf("err=%v, want a time_zone field error", err)
		}
		if got, _ := s.Get(ctx, andy, w.ID); got.Name != "Mai Story" {
			t.Fatalf("a rejected update renamed the workspace to %q", got.Name)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := s.Update(ctx, mona, w.ID, workspace.Change{Name: str("Mine now")}); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("err=%v, want NotFound", err)
		}
		if _, err := s.Get(ctx, mona, w.ID); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("get: err=%v, want NotFound", err)
		}
	})
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	db, s, andy, mona := setup(t)
	w, _ := s.Create(ctx, andy, workspace.Change{Name: str("Family & Friends")})
	if err := s.Delete(ctx, mona, w.ID, w.Name); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("another user's delete: err=%v, want NotFound", err)
	}
	if err := s.Delete(ctx, andy, w.ID, "Family"); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("wrong confirmation: err=%v, want Invalid", err)
	}
	im, err := s.Impact(ctx, andy, w.ID)
	if err != nil || len(im.Lost) == 0 {
		t.Fatalf("impact: %+v, %v", im, err)
	}
	if err := s.Delete(ctx, andy, w.ID, "Family & Friends"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, andy, w.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("after delete: err=%v, want NotFound", err)
	}
	if n := auditCount(t, db, "workspace.delete"); n != 1 {
		t.Fatalf("audit rows=%d, want 1", n)
	}
}
