// Package secrets seals what pi-crm must keep but never show: provider API
// keys, SMTP passwords and OAuth tokens. Each is encrypted with AES-256-GCM
// under the current key of a keyring, bound to where it is stored (the
// additional data names the row and field, so a sealed value copied to
// another workspace does not open), and tagged with its key's id so keys
// can be rotated: the ring keeps older keys for opening, and Reseal moves a
// value to the current one.
//
// The ring comes from the systemd credential secret-keys (crm-web and
// crm-sender load it; Ansible writes it) or, outside systemd, from the file
// secret-keys in the data folder, which `crmctl migrate` creates for a
// development machine. One key a line, base64 of 32 random bytes; the first
// is current.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// prefix marks a sealed value and its format's version.
const prefix = "pcs1."

// ErrNoKey is Open's answer for a value sealed under a key the ring no
// longer has.
var ErrNoKey = errors.New("sealed under a key this appliance does not have")

// Ring is the appliance's keys: the first seals, all open.
type Ring struct {
	ids  []string
	aead []cipher.AEAD
}

// Parse reads a ring from text: one base64 key of 32 bytes a line, the
// current first; blank lines and lines starting with # are skipped.
func Parse(text string) (*Ring, error) {
	r := &Ring{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("secret key on line %d: want base64 of 32 bytes", n+1)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("secret key on line %d: %w", n+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secret key on line %d: %w", n+1, err)
		}
		sum := sha256.Sum256(key)
		r.ids = append(r.ids, hex.EncodeToString(sum[:4]))
		r.aead = append(r.aead, aead)
	}
	if len(r.aead) == 0 {
		return nil, errors.New("no secret key")
	}
	return r, nil
}

// NewKey returns a fresh key line for a ring.
func NewKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return base64.StdEncoding.EncodeToString(b)
}

// LoadFile reads a ring from path, creating it with one new key (mode
// 0600) when create is set and it does not exist.
func LoadFile(path string, create bool) (*Ring, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		f, cerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if cerr == nil {
			_, cerr = f.WriteString(NewKey() + "\n")
			if err := f.Close(); cerr == nil {
				cerr = err
			}
		}
		if cerr != nil && !errors.Is(cerr, os.ErrExist) {
			return nil, fmt.Errorf("create secret keys %s: %w", path, cerr)
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read secret keys: %w", err)
	}
	r, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("secret keys %s: %w", path, err)
	}
	return r, nil
}

// CurrentID is the id of the key that seals.
func (r *Ring) CurrentID() string { return r.ids[0] }

// Seal encrypts plain under the current key, bound to where (the table,
// row and field it is stored in).
func (r *Ring) Seal(plain, where string) string {
	aead := r.aead[0]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce)
	out := aead.Seal(nonce, nonce, []byte(plain), []byte(where))
	return prefix + r.ids[0] + "." + base64.RawURLEncoding.EncodeToString(out)
}

// Open decrypts a value Seal made for the same where. It never says what
// the value was in its errors.
func (r *Ring) Open(sealed, where string) (string, error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	id, body, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return "", errors.New("not a sealed value")
	}
	for i, kid := range r.ids {
		if kid != id {
			continue
		}
		raw, err := base64.RawURLEncoding.DecodeString(body)
		aead := r.aead[i]
		if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
			return "", errors.New("a sealed value is damaged")
		}
		plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(where))
		if err != nil {
			return "", errors.New("a sealed value does not open here (damaged, or moved from another row)")
		}
		return string(plain), nil
	}
	return "", fmt.Errorf("key %s: %w", id, ErrNoKey)
}

// KeyID returns the id of the key sealed names, or "".
func KeyID(sealed string) string {
	rest, _ := strings.CutPrefix(sealed, prefix)
	id, _, _ := strings.Cut(rest, ".")
	return id
}

// Reseal opens sealed and seals it again under the current key; a value
// already under it comes back as it was.
func (r *Ring) Reseal(sealed, where string) (string, bool, error) {
	if KeyID(sealed) == r.ids[0] {
		return sealed, false, nil
	}
	plain, err := r.Open(sealed, where)
	if err != nil {
		return "", false, err
	}
	return r.Seal(plain, where), true, nil
}

// FileName is the ring's file in the data folder outside systemd.
const FileName = "secret-keys"

// CredentialName is the ring's systemd credential.
const CredentialName = "secret-keys"
