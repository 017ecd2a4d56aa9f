package secrets_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/pkg/secrets"
)

func TestSealOpenRotate(t *testing.T) {
	old, err := secrets.Parse(secrets.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	sealed := old.Seal("key-abc", "email_providers.secret:ws1")
	if strings.Contains(sealed, "key-abc") || secrets.KeyID(sealed) != old.CurrentID() {
		t.Fatalf("sealed %q", sealed)
	}
	if v, err := old.Open(sealed, "email_providers.secret:ws1"); err != nil || v != "key-abc" {
		t.Fatalf("open: %q %v", v, err)
	}
	if _, err := old.Open(sealed, "email_providers.secret:ws2"); err == nil {
		t.Fatal("opened for another row")
	}
	mid := len(sealed) - 10 // inside the ciphertext, clear of the final character's spare bits
	flipped := "A"
	if sealed[mid] == 'A' {
		flipped = "B"
	}
	if _, err := old.Open(sealed[:mid]+flipped+sealed[mid+1:], "email_providers.secret:ws1"); err == nil {
		t.Fatal("a damaged value opened")
	}
}

func TestRotation(t *testing.T) {
	k1, k2 := secrets.NewKey(), secrets.NewKey()
	r1, _ := secrets.Parse(k1)
	sealed := r1.Seal("pw", "w")
	r2, err := secrets.Parse(k2 + "\n\n# older\n" + k1)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r2.Open(sealed, "w"); err != nil || v != "pw" {
		t.Fatalf("the old key no longer opens: %v", err)
	}
	again, moved, err := r2.Reseal(sealed, "w")
	if err != nil || !moved || secrets.KeyID(again) != r2.CurrentID() {
		t.Fatalf("reseal: %v %v", moved, err)
	}
	r3, _ := secrets.Parse(k2)
	if v, err := r3.Open(again, "w"); err != nil || v != "pw" {
		t.Fatalf("after dropping the old key: %v", err)
	}
	if _, err := r3.Open(sealed, "w"); !errors.Is(err, secrets.ErrNoKey) {
		t.Fatalf("a value under a dropped key: %v", err)
	}
}

func TestLoadFileCreatesPrivateKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), secrets.FileName)
	if _, err := secrets.LoadFile(p, false); err == nil {
		t.Fatal("a missing file loaded")
	}
	r, err := secrets.LoadFile(p, true)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	again, _ := secrets.LoadFile(p, true)
	if again.CurrentID() != r.CurrentID() {
		t.Fatal("a second load made a new key")
	}
	if _, err := secrets.Parse("not base64"); err == nil {
		t.Fatal("a bad key parsed")
	}
}
