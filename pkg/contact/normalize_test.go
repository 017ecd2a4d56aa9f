package contact

import (
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	for _, tt := range []struct{ in, norm string }{
		{" Andy@Example.COM ", "andy@example.com"},
		{"a.b+tag@sub.example.org", "a.b+tag@sub.example.org"},
		{"not-an-email", ""},
		{"Andy <a@example.com>", ""},
		{"a@localhost", ""},
		{"", ""},
		{"a@example.", ""},
	} {
		_, norm, msg := NormalizeEmail(tt.in)
		if norm != tt.norm || (norm == "") != (msg != "") {
			t.Errorf("NormalizeEmail(%q) = %q, %q; want %q", tt.in, norm, msg, tt.norm)
		}
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"a@example.com", "<a@b.c>", "\"x y\"@example.com", "@", "a@b@c.d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, norm, msg := NormalizeEmail(raw)
		if (norm == "") == (msg == "") {
			t.Fatalf("NormalizeEmail(%q) = %q, %q: want exactly one", raw, norm, msg)
		}
		if norm != "" && norm != strings.ToLower(norm) {
			t.Fatalf("norm %q not lower case", norm)
		}
	})
}
