package web

import (
	"sync"
	"time"
)

// memo keeps a value per key for ttl: the dashboard's figures that scan
// a whole workspace (its contact counts, the re-engagement count) are
// worked out once per ttl however many phones reload, at the cost of
// being up to ttl old.
type memo[T any] struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]memoEntry[T]
}

type memoEntry[T any] struct {
	v  T
	at time.Time
}

func newMemo[T any](ttl time.Duration) *memo[T] {
	return &memo[T]{ttl: ttl, m: map[string]memoEntry[T]{}}
}

// get returns key's value, from fn when it is missing or older than ttl.
// Errors are not kept.
func (c *memo[T]) get(key string, fn func() (T, error)) (T, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.v, nil
	}
	v, err := fn()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if len(c.m) > 1000 { // a bound, not a policy: workspaces are few
		clear(c.m)
	}
	c.m[key] = memoEntry[T]{v, now}
	c.mu.Unlock()
	return v, nil
}
