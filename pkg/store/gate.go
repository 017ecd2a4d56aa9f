package store

import (
	"fmt"
	"os"
	"sync"
	"syscall"
)

// The write gate lets interactive writes go ahead of a bulk writer (an
// import's batches), across every process that opens the database.
//
// SQLite's write lock is not fair: a writer waiting in busy_timeout polls
// with sleeps of up to 100 ms, and an import that commits a batch and begins
// the next at once takes the lock again before the sleeper wakes, batch
// after batch, until busy_timeout runs out and a note save fails with
// "database is locked". The gate is two flock(2) locks on files beside the
// database, which every process of the appliance shares:
//
//   - "intent": an interactive writer (DB.Write) holds it shared from before
//     BEGIN IMMEDIATE until its COMMIT. Before each batch a bulk writer tests
//     it exclusive; if anyone holds it, the bulk writer blocks until they
//     are done. So a waiting writer goes first, every time.
//   - "batch": a bulk writer holds it exclusive during its transaction; an
//     interactive writer waits on it (shared, released at once) before it
//     begins, so the kernel wakes it the moment the batch commits instead
//     of a sleep of up to 100 ms later.
//
// An interactive write therefore waits at most the rest of one batch. flock
// locks belong to an open file description: the interactive side of a
// process shares one descriptor, counted, and each bulk writer opens its
// own. Where the files cannot be made (a read-only folder) the gate is off
// and SQLite's busy handling alone applies.
type gate struct {
	path string // the database path; the locks are path+"-intent" and path+"-batch"

	mu      sync.Mutex
	writers int // interactive writes in progress in this process
	*lockPair
}

// lockPair is one open descriptor of each lock file.
type lockPair struct {
	intent, batch *os.File
}

func openLockPair(dbPath string) (*lockPair, error) {
	intent, err := openLock(dbPath + "-intent")
	if err != nil {
		return nil, err
	}
	batch, err := openLock(dbPath + "-batch")
	if err != nil {
		intent.Close()
		return nil, err
	}
	return &lockPair{intent: intent, batch: batch}, nil
}

func (p *lockPair) close() {
	p.intent.Close()
	p.batch.Close()
}

func openGate(dbPath string) *gate {
	p, err := openLockPair(dbPath)
	if err != nil {
		return nil
	}
	return &gate{path: dbPath, lockPair: p}
}

// openLock opens (creating) a lock file. It is opened read-only, which
// flock allows; it holds no data. A process that cannot open it (a file
// another user made) runs without the gate.
func openLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	return f, nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// enter marks an interactive write as waiting and waits for a batch in
// progress to commit. The returned function ends the write.
func (g *gate) enter() func() {
	if g == nil {
		return func() {}
	}
	g.mu.Lock()
	g.writers++
	if g.writers == 1 {
		_ = flock(g.intent, syscall.LOCK_SH)
	}
	g.mu.Unlock()
	// A barrier, not a hold: it returns when no batch runs.
	if flock(g.batch, syscall.LOCK_SH) == nil {
		_ = flock(g.batch, syscall.LOCK_UN)
	}
	return func() {
		g.mu.Lock()
		g.writers--
		if g.writers == 0 {
			_ = flock(g.intent, syscall.LOCK_UN)
		}
		g.mu.Unlock()
	}
}

// bulk is one bulk writer's side of the gate, with descriptors of its own.
type bulk struct{ *lockPair }

func (g *gate) bulk() *bulk {
	if g == nil {
		return nil
	}
	p, err := openLockPair(g.path)
	if err != nil {
		return nil
	}
	return &bulk{p}
}

// begin lets every waiting interactive writer go first, then holds the
// batch lock until the returned function is called after the commit.
func (b *bulk) begin() func() {
	if b == nil {
		return func() {}
	}
	if flock(b.intent, syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		// Someone wants to write: wait until they are done.
		_ = flock(b.intent, syscall.LOCK_EX)
	}
	_ = flock(b.intent, syscall.LOCK_UN)
	_ = flock(b.batch, syscall.LOCK_EX)
	return func() { _ = flock(b.batch, syscall.LOCK_UN) }
}

func (b *bulk) close() {
	if b != nil {
		b.lockPair.close()
	}
}

func (g *gate) close() {
	if g != nil {
		g.lockPair.close()
	}
}
