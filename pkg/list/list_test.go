package list_test

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

func TestListsDefaultsRenameMove(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	as := auth.NewStore(db, auth.Options{BcryptCost: bcrypt.MinCost})
	u, _ := as.CreateUser(ctx, auth.NewUser{Email: "andy@example.com", Name: "Andy", Password: "long enough pw"}, "test")
	m, _ := as.CreateUser(ctx, auth.NewUser{Email: "mona@example.com", Name: "Mona", Password: "long enough pw"}, "test")
	andy, mona := auth.Actor{UserID: u.ID, TimeZone: "UTC"}, auth.Actor{UserID: m.ID}
	name := "Loan Factory"
	w, err := workspace.NewStore(db, list.Hooks()).Create(ctx, andy, workspace.Change{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	s := list.NewStore(db)
	names := func() []string {
		all, _ := s.All(ctx, andy, w.ID, list.Stage)
		var out []string
		for _, l := range all {
			out = append(out, l.Name)
		}
		return out
	}
	if got := names(); len(got) != 5 || got[0] != "Leads" || got[4] != "Lost" {
		t.Fatalf("default stages %v", got)
	}
	all, _ := s.All(ctx, andy, w.ID, list.Stage)
	if err := s.Move(ctx, andy, w.ID, all[2].ID, -1); err != nil {
		t.Fatal(err)
	}
	if got := names(); got[1] != "Applications" || got[2] != "Prospects" {
		t.Fatalf("after moving Applications up: %v", got)
	}
	if err := s.Move(ctx, andy, w.ID, all[0].ID, -1); err != nil {
		t.Fatalf("moving the first up is a no-op, not an error: %v", err)
	}
	if err := s.Rename(ctx, andy, w.ID, all[0].ID, "prospects"); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("rename onto an existing name: %v", err)
	}
	if err := s.Move(ctx, mona, w.ID, all[0].ID, 1); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("another user's move: %v", err)
	}
	if _, err := s.Create(ctx, mona, w.ID, list.Tag, "x"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("another user's create: %v", err)
	}
}
