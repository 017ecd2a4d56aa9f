package web

import (
	"net/url"
	"strings"
	"testing"
)

// browserResolve resolves next against https://pi-crm.local/login the way a
// browser's URL parser reads it: leading and trailing control characters and
// spaces dropped, tabs and newlines removed anywhere, backslashes read as
// slashes (WHATWG URL, special schemes).
func browserResolve(t *testing.T, next string) *url.URL {
	t.Helper()
	n := strings.TrimFunc(next, func(r rune) bool { return r <= ' ' })
	n = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, n)
	base, _ := url.Parse("https://pi-crm.local/login")
	ref, err := url.Parse(n)
	if err != nil {
		return base
	}
	return base.ResolveReference(ref)
}

func TestSafeNext(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/w/abc/contacts?q=ann", "/w/abc/contacts?q=ann"},
		{"/", "/"},
		{"", "/"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"\t//evil.example", "/"},
		{"https://evil.example", "/"},
		{"/%2F%2Fevil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"/\x7f/evil.example", "/"},
		{"/ok path", "/ok path"},
	} {
		if got := safeNext(tt.in); got != tt.want {
			t.Errorf("safeNext(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzSafeNext: whatever safeNext lets through, a browser resolves on this
// site, and Go's parser agrees it is a path alone.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/w/1", "//x", "/\t/x", "/\\x", "/%2F/x", "/a?b#c", "\x00/x", "/ /x", "/\u0085/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got != "/" && got != next {
			t.Fatalf("safeNext(%q)=%q: it must keep the value or refuse it", next, got)
		}
		u := browserResolve(t, got)
		if u.Host != "pi-crm.local" || u.Scheme != "https" {
			t.Fatalf("safeNext(%q)=%q sends a browser to %s", next, got, u)
		}
		p, err := url.Parse(got)
		if err != nil || p.Scheme != "" || p.Host != "" {
			t.Fatalf("safeNext(%q)=%q parses to %+v, %v", next, got, p, err)
		}
	})
}
