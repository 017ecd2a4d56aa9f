// Package testfs mounts small tmpfs volumes for tests that need a real
// mount point: a backup drive that is (or is not) plugged in, a full disk.
package testfs

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Tmpfs mounts a tmpfs of size (e.g. "4m") on a new folder and unmounts it
// when the test ends. It needs root, as CI runs; elsewhere the test skips
// and says why.
func Tmpfs(tb testing.TB, size string) string {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	dir := tb.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%s,mode=0700", size), "tmpfs", dir).CombinedOutput(); err != nil {
		tb.Fatalf("mount tmpfs on %s: %v: %s", dir, err, out)
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			tb.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}
