package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/pi-crm/pi-crm/web/static"
)

// staticFiles serves the embedded assets under content-hash URLs
// (/static/app.css?v=HASH): a page names the exact bytes it was built with,
// so the browser may cache them for a year and a new build is fetched at
// once (the miniflux approach).
type staticFiles struct {
	files map[string][]byte
	gz    map[string]*gzAsset // gzipped on the first request that takes gzip
	hash  map[string]string
}

// gzAsset is an asset's gzipped bytes, made once when first asked for (at
// start it cost crm-web 30 ms and its idle memory); nil when gzip does not
// save a tenth of it.
type gzAsset struct {
	once sync.Once
	src  []byte
	z    []byte
}

func (g *gzAsset) bytes() []byte {
	g.once.Do(func() {
		if z, err := gzipped(g.src); err == nil && len(z) < len(g.src)*9/10 {
			g.z = z
		}
		g.src = nil
	})
	return g.z
}

func loadStatic() (*staticFiles, error) {
	sf := &staticFiles{files: map[string][]byte{}, gz: map[string]*gzAsset{}, hash: map[string]string{}}
	err := fs.WalkDir(static.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.FS.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		name := p
		sum := sha256.Sum256(b)
		sf.files[name] = b
		sf.hash[name] = hex.EncodeToString(sum[:6])
		sf.gz[name] = &gzAsset{src: b}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static files: %w", err)
	}
	return sf, nil
}

// URL returns the versioned URL of the asset name.
func (sf *staticFiles) URL(name string) string {
	return "/static/" + name + "?v=" + sf.hash[name]
}

// ServeHTTP serves one embedded asset with its ETag and cache policy.
func (sf *staticFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	b, ok := sf.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	etag := `"` + sf.hash[name] + `"`
	w.Header().Set("ETag", etag)
	if r.URL.Query().Get("v") == sf.hash[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Vary", "Accept-Encoding")
	if g, ok := sf.gz[name]; ok && acceptsGzip(r) {
		if z := g.bytes(); z != nil {
			w.Header().Set("Content-Encoding", "gzip")
			b = z
		}
	}
	_, _ = w.Write(b)
}

// gzipped compresses b at the best level: it is done once per asset.
func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip
// (and does not refuse it with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}
