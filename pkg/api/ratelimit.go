package api

import (
	"sync"
	"time"
)

// limiter is a token bucket per API key: rate tokens a second, up to burst.
// It lives in crm-web's memory: a restart refills every bucket, which is
// harmless for a limit meant to stop a runaway script.
type limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perSecond float64, burst int, now func() time.Time) *limiter {
	return &limiter{rate: perSecond, burst: float64(burst), buckets: map[string]*bucket{}, now: now}
}

// allow takes a token for key, or returns how long until one is free.
func (l *limiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
		// Forget idle keys now and then, so the map cannot grow without end.
		if len(l.buckets) > 1000 {
			for k, o := range l.buckets {
				if now.Sub(o.last) > time.Hour {
					delete(l.buckets, k)
				}
			}
		}
	}
	b.tokens += now.Sub(b.last).Seconds() * l.rate
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}
