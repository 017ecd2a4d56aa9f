package mailer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pi-crm/pi-crm/pkg/outbox"
)

// File is the provider of a machine that must not send mail: each message
// is written to Dir as <Message-ID>.eml, whole or not at all (a temporary
// file, synced, renamed), so a file that exists is a message that was
// sent, and Lookup is a certain answer.
type File struct{ Dir string }

// Kind is "file".
func (File) Kind() string { return "file" }

func (f File) path(m *Mail) string {
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r < ' ' {
			return '_'
		}
		return r
	}, m.MessageID)
	return filepath.Join(f.Dir, name+".eml")
}

// Send writes m. A message already written (the same Message-ID) is not
// written again.
func (f File) Send(_ context.Context, m *Mail) (string, error) {
	b, err := m.MIME()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return "", retrying(fmt.Errorf("mail folder: %w", err))
	}
	p := f.path(m)
	if _, err := os.Stat(p); err == nil {
		return filepath.Base(p), nil
	}
	tmp, err := os.CreateTemp(f.Dir, ".sending-*")
	if err != nil {
		return "", retrying(fmt.Errorf("write message: %w", err))
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return "", retrying(fmt.Errorf("write message: %w", err))
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", retrying(fmt.Errorf("write message: %w", err))
	}
	if err := tmp.Close(); err != nil {
		return "", retrying(fmt.Errorf("write message: %w", err))
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", retrying(fmt.Errorf("write message: %w", err))
	}
	// The rename is the send: make it durable before saying so.
	if d, err := os.Open(f.Dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return filepath.Base(p), nil
}

// Lookup reports whether m's file exists.
func (f File) Lookup(_ context.Context, m *Mail, _ time.Time) (outbox.Verdict, string, error) {
	_, err := os.Stat(f.path(m))
	switch {
	case err == nil:
		return outbox.WasSent, filepath.Base(f.path(m)), nil
	case errors.Is(err, os.ErrNotExist):
		return outbox.NeverSent, "", nil
	default:
		return outbox.Undecided, "", fmt.Errorf("look for the message: %w", err)
	}
}
