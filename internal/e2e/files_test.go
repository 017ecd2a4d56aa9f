package e2e

import (
	"io/fs"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFilesArePrivate: what the binaries make outside systemd (the
// database, its WAL and locks, snapshots, folders) is readable by their
// user only, whatever the caller's umask.
func TestFilesArePrivate(t *testing.T) {
	// The children inherit a permissive umask, as from a login shell.
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	e := newEnv(t)
	e.ctl("", "demo")
	e.ctl("", "backup", "snapshot")
	base := startWeb(t, e)
	if resp, err := http.Get(base + "/login"); err == nil {
		resp.Body.Close()
	}
	n := 0
	err := filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == e.dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n++
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v, want no access for group or others", p, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Fatalf("found only %d files under the data folder", n)
	}
}
