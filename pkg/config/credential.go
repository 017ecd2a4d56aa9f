package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoCredential means the credential is not configured: the unit has no
// LoadCredential= for it, or the process runs outside systemd without
// CREDENTIALS_DIRECTORY.
var ErrNoCredential = errors.New("credential not configured")

// Credential reads the systemd credential name from $CREDENTIALS_DIRECTORY,
// trimmed of surrounding white space. Secrets reach pi-crm only this way:
// never through the environment or the command line. A missing credential is
// ErrNoCredential; an unreadable or empty one is an error that names it.
func (e *Env) Credential(name string) (string, error) {
	dir, ok := e.lookup("CREDENTIALS_DIRECTORY")
	if !ok || dir == "" {
		return "", fmt.Errorf("%s: %w", name, ErrNoCredential)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", name, ErrNoCredential)
	}
	if err != nil {
		return "", fmt.Errorf("read credential %s: %w", name, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("credential %s is empty", name)
	}
	return v, nil
}

// CredentialPath returns where credential name would be, or "" outside
// systemd. Litestream reads its SSE-C key from such a path itself.
func (e *Env) CredentialPath(name string) string {
	dir, ok := e.lookup("CREDENTIALS_DIRECTORY")
	if !ok || dir == "" {
		return ""
	}
	return filepath.Join(dir, name)
}
