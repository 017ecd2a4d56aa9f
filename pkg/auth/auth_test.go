package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store/storetest"
)

func newStore(t *testing.T) (*Store, *time.Time) {
	t.Helper()
	now := time.Now()
	return NewStore(storetest.New(t), Options{BcryptCost: bcrypt.MinCost, Now: func() time.Time { return now }}), &now
}

func TestThrottleDelay(t *testing.T) {
	for _, tt := range []struct {
		failures int
		want     time.Duration
	}{{0, 0}, {2, 0}, {3, time.Second}, {4, 2 * time.Second}, {6, 8 * time.Second}, {13, maxDelay}, {1000, maxDelay}} {
		if got := throttleDelay(tt.failures); got != tt.want {
			t.Errorf("throttleDelay(%d)=%v, want %v", tt.failures, got, tt.want)
		}
	}
}

func TestCreateUser(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		if _, err := s.CreateUser(ctx, NewUser{Email: "andy@example.com", Name: "Andy", Password: "long enough pw"}, "test"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		_, err := s.CreateUser(ctx, NewUser{Email: "ANDY@example.com", Name: "Andy 2", Password: "long enough pw"}, "test")
		if !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("err=%v, want Conflict (emails compare case-insensitively)", err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, u := range []NewUser{
			{Email: "not-an-email", Name: "X", Password: "long enough pw"},
			{Email: "Andy <a@example.com>", Name: "X", Password: "long enough pw"},
			{Email: "x@example.com", Name: "", Password: "long enough pw"},
			{Email: "x@example.com", Name: "X", Password: "short"},
			{Email: "x@example.com", Name: "X", TimeZone: "Local", Password: "long enough pw"},
		} {
			if _, err := s.CreateUser(ctx, u, "test"); !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("%+v: err=%v, want Invalid", u, err)
			}
		}
	})
}

func TestLoginAndPassword(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, NewUser{Email: "andy@example.com", Name: "Andy", Password: "first password"}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "nobody@example.com", "first password", "10.0.0.9", ""); !IsBadLogin(err) {
		t.Fatalf("unknown email: err=%v, want the bad-login answer", err)
	}
	a, err := s.Login(ctx, "andy@example.com", "first password", "10.0.0.1", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Login(ctx, "andy@example.com", "first password", "10.0.0.2", "")
	if err != nil {
		t.Fatal(err)
	}
	actor, err := s.SessionActor(ctx, a.Token, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	err = s.ChangePassword(ctx, actor, "wrong", "second password", a.Token, false)
	var e *errs.Error
	if !errors.As(err, &e) || e.Fields["current_password"] == "" {
		t.Fatalf("wrong current password: err=%v, want a current_password field error", err)
	}
	if err := s.ChangePassword(ctx, actor, "first password", "second password", a.Token, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionActor(ctx, a.Token, ""); err != nil {
		t.Fatalf("the session that changed the password ended: %v", err)
	}
	if _, err := s.SessionActor(ctx, b.Token, ""); !errors.Is(err, errs.ErrUnauthorized) {
		t.Fatalf("other session after a password change: err=%v, want Unauthorized", err)
	}
	*now = now.Add(time.Hour) // past any throttle from the failures above
	if _, err := s.Login(ctx, "andy@example.com", "second password", "10.0.0.3", ""); err != nil {
		t.Fatalf("log-in with the new password: %v", err)
	}
	if err := s.SetPassword(ctx, "andy@example.com", "third password", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionActor(ctx, a.Token, ""); !errors.Is(err, errs.ErrUnauthorized) {
		t.Fatalf("after an admin password reset the session lives: %v", err)
	}
}

func TestCreateAPIKeyValidation(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, NewUser{Email: "andy@example.com", Name: "Andy", Password: "long enough pw"}, "test")
	actor := Actor{UserID: u.ID}
	past := now.Add(-time.Minute)
	for _, in := range []NewAPIKey{
		{Name: "", Scopes: []string{ScopeWorkspacesRead}},
		{Name: "x", Scopes: nil},
		{Name: "x", Scopes: []string{"everything"}},
		{Name: "x", Scopes: []string{ScopeWorkspacesRead}, ExpiresAt: &past},
	} {
		if _, _, err := s.CreateAPIKey(ctx, actor, in); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("%+v: err=%v, want Invalid", in, err)
		}
	}
	if err := s.RevokeAPIKey(ctx, Actor{UserID: "someone-else"}, "nope"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("revoke unknown: err=%v, want NotFound", err)
	}
}
