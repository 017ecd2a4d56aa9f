// Package replicawatch measures how long a committed change takes to reach
// the Litestream replica in the bucket: it polls the replica's LTX files,
// decodes each new one and looks for marker bytes a test committed.
package replicawatch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/superfly/ltx"

	"github.com/pi-crm/pi-crm/pkg/backup"
)

// Watcher polls a replica path.
type Watcher struct {
	bucket *backup.Bucket
	path   string

	mu      sync.Mutex
	seen    map[string]bool
	pending map[string]time.Time // marker -> commit time
	lags    []time.Duration
	err     error
}

// New returns a Watcher over the replica at path in bucket.
func New(bucket *backup.Bucket, path string) *Watcher {
	return &Watcher{bucket: bucket, path: path, seen: map[string]bool{}, pending: map[string]time.Time{}}
}

// Add registers a marker committed at t.
func (w *Watcher) Add(marker []byte, t time.Time) {
	w.mu.Lock()
	w.pending[string(marker)] = t
	w.mu.Unlock()
}

// Pending returns how many markers have not reached the replica yet.
func (w *Watcher) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// Lags returns the measured commit-to-replica times, sorted.
func (w *Watcher) Lags() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := append([]time.Duration(nil), w.lags...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Err returns the last polling error.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Run polls every interval until ctx ends.
func (w *Watcher) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := w.poll(ctx); err != nil && ctx.Err() == nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Watcher) poll(ctx context.Context) error {
	objs, err := w.bucket.List(ctx, w.path)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".ltx") || w.seen[o.Key] {
			continue
		}
		var buf bytes.Buffer
		if err := w.bucket.Get(ctx, o.Key, &buf); err != nil {
			return err
		}
		now := time.Now()
		pages, err := decodePages(&buf)
		if err != nil {
			return fmt.Errorf("decode %s: %w", o.Key, err)
		}
		w.seen[o.Key] = true
		w.mu.Lock()
		for m, at := range w.pending {
			if bytes.Contains(pages, []byte(m)) {
				w.lags = append(w.lags, now.Sub(at))
				delete(w.pending, m)
			}
		}
		w.mu.Unlock()
	}
	return nil
}

// decodePages returns the concatenated page images of one LTX file.
func decodePages(r io.Reader) ([]byte, error) {
	dec := ltx.NewDecoder(r)
	if err := dec.DecodeHeader(); err != nil {
		return nil, err
	}
	data := make([]byte, dec.Header().PageSize)
	var out []byte
	for {
		var hdr ltx.PageHeader
		if err := dec.DecodePage(&hdr, data); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		out = append(out, data...)
	}
	return out, nil
}
