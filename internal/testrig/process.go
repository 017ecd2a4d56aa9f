package testrig

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a started helper process (a daemon, crmctl, Litestream) with
// its stdout and stderr kept, for the addresses it logs and for failures.
type Process struct {
	Cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

// Write keeps p's output.
func (p *Process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// String returns everything the process printed so far.
func (p *Process) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Start starts cmd with its output kept, and kills it when the test ends
// unless it has stopped.
func Start(tb testing.TB, cmd *exec.Cmd) *Process {
	tb.Helper()
	p := &Process{Cmd: cmd}
	cmd.Stdout, cmd.Stderr = p, p
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", cmd.Path, err)
	}
	tb.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return p
}

// Await waits up to timeout for a line of output that matches re and
// returns its submatches; it fails the test, with the output, when none
// comes or the process ends first.
func (p *Process) Await(tb testing.TB, re *regexp.Regexp, timeout time.Duration) []string {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range strings.Split(p.String(), "\n") {
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s logged no line like %s within %v:\n%s", p.Cmd.Path, re, timeout, p)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits up to d for the process to end, killing it
// after that.
func (p *Process) Stop(d time.Duration) error {
	if p.Cmd.ProcessState != nil {
		return nil
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.Cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		_ = p.Cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not stop within %v", p.Cmd.Path, d)
	}
}
