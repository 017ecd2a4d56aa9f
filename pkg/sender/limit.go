package sender

import (
	"context"
	"sync"
	"time"
)

// limiter spaces a provider's sends to at most perMinute a minute (0: no
// limit), in a steady rhythm rather than bursts.
type limiter struct {
	mu    sync.Mutex
	every time.Duration
	next  time.Time
}

func newLimiter(perMinute int) *limiter {
	l := &limiter{}
	if perMinute > 0 {
		l.every = time.Minute / time.Duration(perMinute)
	}
	return l
}

// wait returns when the next send may go, or ctx's error.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil || l.every == 0 {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.every)
	l.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
