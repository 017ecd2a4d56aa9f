package web

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	webfs "github.com/pi-crm/pi-crm/web"
)

// staticFiles serves the embedded assets under content-hash URLs
// (/static/app.css?v=HASH): a page names the exact bytes it was built with,
// so the browser may cache them for a year and a new build is fetched at
// once (the miniflux approach).
type staticFiles struct {
	files map[string][]byte
	hash  map[string]string
}

func loadStatic() (*staticFiles, error) {
	sf := &staticFiles{files: map[string][]byte{}, hash: map[string]string{}}
	err := fs.WalkDir(webfs.Static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := webfs.Static.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(b)
		sf.files[name] = b
		sf.hash[name] = hex.EncodeToString(sum[:6])
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
	_, _ = w.Write(b)
}
