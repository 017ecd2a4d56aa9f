package mailer

import (
	"math/rand/v2"
	"net/mail"
	"strings"
	"testing"
)

// TestDotAtomsIsWhatNetMailParsesToItself: every address dotAtoms lets
// past net/mail is one net/mail parses to exactly itself with no name, and
// the usual ones do get past. Random strings over the characters that
// matter (dots, "@", specials, spaces, UTF-8) look for the one it gets
// wrong.
func TestDotAtomsIsWhatNetMailParsesToItself(t *testing.T) {
	for _, s := range []string{"ann@example.com", "ann.lee+crm@mail.example.co.uk", "o'brien@example.ie", "x_y-z=w!#$%&*/?^`{|}~@a-b.c"} {
		if !dotAtoms(s) {
			t.Errorf("%q goes the slow way", s)
		}
	}
	for _, s := range []string{"", "@", "ann", "ann@", "@example.com", ".ann@example.com", "ann.@example.com", "an..n@example.com",
		"ann@example..com", "ann@.example.com", "ann@example.com.", "ann@b@example.com", "Ann <ann@example.com>", "\"ann lee\"@example.com",
		"ann@[192.0.2.1]", " ann@example.com", "ann@example.com ", "ann@exämple.com", "ann(x)@example.com", "ann\\@example.com", "ann,bob@example.com"} {
		if dotAtoms(s) {
			t.Errorf("%q passes", s)
		}
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyz.@-+_'\"()<>[]:;\\, \t\x7f~äZ9"
	r := rand.New(rand.NewPCG(1, 2))
	passed := 0
	word := func() string {
		b := make([]byte, r.IntN(8))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 300_000 {
		s := word()
		if r.IntN(4) > 0 {
			s += "@" + word() // most with an @ between
		}
		a, err := mail.ParseAddress(s)
		itself := err == nil && a.Name == "" && a.Address == s
		if !dotAtoms(s) {
			// The slow way only for what needs it: a quoted local part, a
			// domain literal, UTF-8.
			if itself && !strings.ContainsAny(s, "\"[") && !strings.ContainsFunc(s, func(r rune) bool { return r > 0x7f }) {
				t.Errorf("%q, an address as it is, goes the slow way", s)
			}
			continue
		}
		passed++
		if !itself {
			t.Fatalf("dotAtoms(%q) but net/mail reads %+v, %v", s, a, err)
		}
	}
	if passed < 1000 {
		t.Fatalf("only %d random strings passed: the test tries too little", passed)
	}
}
