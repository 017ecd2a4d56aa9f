// Package testrig holds what the end-to-end tests and the benchmarks share
// to run the appliance's processes: free ports, repository files, a
// test-owned systemd notify socket, and percentiles.
package testrig

import (
	"cmp"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// FreePort returns a TCP port on loopback that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RepoFile returns the path of rel in the repository.
func RepoFile(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", rel)
}

// Percentile returns the q-th (0 to 1) value of v by nearest rank: the
// smallest value with at least q of them at or below it. v is not changed.
func Percentile[T cmp.Ordered](v []T, q float64) T {
	var zero T
	if len(v) == 0 {
		return zero
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// NotifySocket is where a test-owned "systemd" receives a daemon's
// sd_notify datagrams; give the daemon NOTIFY_SOCKET=Path.
type NotifySocket struct {
	Path string
	conn *net.UnixConn
}

// NewNotifySocket listens on a fresh socket, closed when the test ends.
func NewNotifySocket(tb testing.TB) *NotifySocket {
	tb.Helper()
	// Unix socket paths are short (108 bytes): keep it out of TempDir.
	path := filepath.Join(os.TempDir(), fmt.Sprintf("picrm-notify-%d-%d.sock", os.Getpid(), time.Now().UnixNano()))
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(); os.Remove(path) })
	return &NotifySocket{Path: path, conn: conn}
}

// Next returns the next datagram, or "" after timeout.
func (n *NotifySocket) Next(timeout time.Duration) string {
	buf := make([]byte, 4096)
	_ = n.conn.SetReadDeadline(time.Now().Add(timeout))
	k, _, err := n.conn.ReadFromUnix(buf)
	if err != nil {
		return ""
	}
	return string(buf[:k])
}

// Await reads datagrams until one has the line want and returns when it
// arrived, or false after timeout.
func (n *NotifySocket) Await(want string, timeout time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(n.Next(time.Until(deadline)), "\n") {
			if line == want {
				return time.Now(), true
			}
		}
	}
	return time.Time{}, false
}

// WaitFor is Await that fails the test after timeout.
func (n *NotifySocket) WaitFor(tb testing.TB, want string, timeout time.Duration) time.Time {
	tb.Helper()
	at, ok := n.Await(want, timeout)
	if !ok {
		tb.Fatalf("no %q within %v", want, timeout)
	}
	return at
}
