package backup

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// holdOpen starts a child process that keeps p open until stopped.
func holdOpen(t *testing.T, p string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", "exec 3<\"$0\"; exec sleep 60", p)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 50 {
		if users, _ := OpenBy(p); len(users) > 0 {
			return cmd
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("child never opened the file")
	return nil
}

// stopper stands in for systemctl: it stops the holding process.
type stopper struct{ cmd *exec.Cmd }

func (s stopper) Stop(context.Context) ([]string, error) {
	s.cmd.Process.Kill()
	s.cmd.Wait()
	return []string{"holder"}, nil
}
