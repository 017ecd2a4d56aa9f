package contact_test

import (
	"context"
	"errors"
	"testing"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/errs"
)

func TestCustomFields(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := f.create(t, "Cust", "cust@example.com", "")
	loan, err := f.contacts.CreateField(ctx, f.andy, f.ws, contact.FieldDef{Name: "Loan amount", Type: "text"}, false)
	if err != nil {
		t.Fatal(err)
	}
	src, err := f.contacts.CreateField(ctx, f.andy, f.ws, contact.FieldDef{Name: "Source", Type: "dropdown", Options: []string{"Zillow", "Referral"}, Default: "Referral"}, true)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := f.contacts.Get(ctx, f.andy, f.ws, c.ID)
	if got.Custom[src.ID] != "Referral" {
		t.Fatalf("existing contact did not get the default: %v", got.Custom)
	}
	t.Run("ValidatedByType", func(t *testing.T) {
		num, _ := f.contacts.CreateField(ctx, f.andy, f.ws, contact.FieldDef{Name: "Rate", Type: "number"}, false)
		for fid, bad := range map[string]string{num.ID: "four", src.ID: "Craigslist"} {
			err := f.contacts.SetCustom(ctx, f.andy, f.ws, c.ID, map[string]string{fid: bad})
			if e := errs.As(err); e.Fields["custom."+fid] == "" {
				t.Errorf("value %q accepted: %v", bad, err)
			}
		}
		if err := f.contacts.SetCustom(ctx, f.andy, f.ws, c.ID, map[string]string{num.ID: "6,500.50"}); err != nil {
			t.Fatal(err)
		}
		got, _ := f.contacts.Get(ctx, f.andy, f.ws, c.ID)
		if got.Custom[num.ID] != "6500.5" {
			t.Fatalf("number stored as %q", got.Custom[num.ID])
		}
	})
	t.Run("TypeChangeNeverCorrupts", func(t *testing.T) {
		if err := f.contacts.SetCustom(ctx, f.andy, f.ws, c.ID, map[string]string{loan.ID: "about 300k"}); err != nil {
			t.Fatal(err)
		}
		_, err := f.contacts.UpdateField(ctx, f.andy, f.ws, loan.ID, contact.FieldDef{Name: "Loan amount", Type: "number"})
		if !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("type change over a bad value: %v", err)
		}
		got, _ := f.contacts.Get(ctx, f.andy, f.ws, c.ID)
		if got.Custom[loan.ID] != "about 300k" {
			t.Fatal("value changed by a refused type change")
		}
		f.contacts.SetCustom(ctx, f.andy, f.ws, c.ID, map[string]string{loan.ID: "300000"})
		if _, err := f.contacts.UpdateField(ctx, f.andy, f.ws, loan.ID, contact.FieldDef{Name: "Loan amount", Type: "number"}); err != nil {
			t.Fatalf("type change once values fit: %v", err)
		}
	})
	t.Run("Filter", func(t *testing.T) {
		p, err := f.contacts.List(ctx, f.andy, f.ws, contact.Query{Custom: map[string]string{loan.ID: "300000"}})
		if err != nil || len(p.Rows) != 1 {
			t.Fatalf("filter by custom field: %v %v", p.Rows, err)
		}
	})
	t.Run("DeleteNeedsConfirm", func(t *testing.T) {
		if _, err := f.contacts.DeleteField(ctx, f.andy, f.ws, loan.ID, false); !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("delete without confirm: %v", err)
		}
		n, err := f.contacts.DeleteField(ctx, f.andy, f.ws, loan.ID, true)
		if err != nil || n != 1 {
			t.Fatalf("delete: %d %v", n, err)
		}
	})
	t.Run("Isolation", func(t *testing.T) {
		if _, err := f.contacts.Fields(ctx, f.mona, f.ws); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("another user's fields: %v", err)
		}
		defs, _ := f.contacts.Fields(ctx, f.mona, f.monaWS)
		if len(defs) != 0 {
			t.Fatalf("Monalisa sees Andy's global field: %v", defs)
		}
		if _, err := f.contacts.UpdateField(ctx, f.mona, f.monaWS, src.ID, contact.FieldDef{Name: "x", Type: "text"}); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("another user's field update: %v", err)
		}
		mc, _ := f.contacts.Create(ctx, f.mona, f.monaWS, contact.Fields{FirstName: s("M")}, false)
		if err := f.contacts.SetCustom(ctx, f.mona, f.monaWS, mc.ID, map[string]string{src.ID: "Zillow"}); !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("setting another user's field: %v", err)
		}
	})
}

func TestMergeCustomByChoice(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.create(t, "A", "a@example.com", "")
	b := f.create(t, "B", "b@example.com", "")
	x, _ := f.contacts.CreateField(ctx, f.andy, f.ws, contact.FieldDef{Name: "X", Type: "text"}, false)
	y, _ := f.contacts.CreateField(ctx, f.andy, f.ws, contact.FieldDef{Name: "Y", Type: "text"}, false)
	z, _ := f.contacts.CreateField(ctx, f.andy, f.ws, contact.FieldDef{Name: "Z", Type: "text"}, false)
	f.contacts.SetCustom(ctx, f.andy, f.ws, a.ID, map[string]string{x.ID: "ax", y.ID: "ay"})
	f.contacts.SetCustom(ctx, f.andy, f.ws, b.ID, map[string]string{x.ID: "bx", y.ID: "by", z.ID: "bz"})
	m, err := f.contacts.Merge(ctx, f.andy, f.ws, a.ID, b.ID, contact.MergeChoice{TakeCustom: []string{y.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Custom[x.ID] != "ax" || m.Custom[y.ID] != "by" || m.Custom[z.ID] != "bz" {
		t.Fatalf("custom after merge: %v (want target's X, chosen source Y, union Z)", m.Custom)
	}
}

// TestCustomValuesInManyContacts: the custom values of many contacts at
// once are each one's own (LoadIn's); a contact without any has none, and
// another workspace's contact is left out even when asked for.
func TestCustomValuesInManyContacts(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	rate, err := f.contacts.CreateField(ctx, f.andy, f.ws, contact.FieldDef{Name: "Rate", Type: "text"}, false)
	if err != nil {
		t.Fatal(err)
	}
	ann, bob := f.create(t, "Ann", "ann@example.com", ""), f.create(t, "Bob", "", "")
	if err := f.contacts.SetCustom(ctx, f.andy, f.ws, ann.ID, map[string]string{rate.ID: "6.1"}); err != nil {
		t.Fatal(err)
	}
	theirField, err := f.contacts.CreateField(ctx, f.mona, f.monaWS, contact.FieldDef{Name: "Secret", Type: "text"}, false)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := f.contacts.Create(ctx, f.mona, f.monaWS, contact.Fields{FirstName: s("Zed")}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.contacts.SetCustom(ctx, f.mona, f.monaWS, theirs.ID, map[string]string{theirField.ID: "hidden"}); err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]string
	if err := f.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		got, err = contact.CustomValuesIn(conn, f.ws, []string{bob.ID, theirs.ID, ann.ID})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	full, _ := f.contacts.Get(ctx, f.andy, f.ws, ann.ID)
	if len(got) != 1 || got[ann.ID][rate.ID] != "6.1" || full.Custom[rate.ID] != "6.1" || got[bob.ID] != nil || got[theirs.ID] != nil {
		t.Fatalf("custom values %v (Ann's as LoadIn reads them: %v)", got, full.Custom)
	}
}
