package sms_test

import (
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/pkg/sms"
)

func TestSegments(t *testing.T) {
	for _, c := range []struct {
		body string
		n    int
		uni  bool
	}{
		{"Hi Tom, rates moved.", 1, false},
		{strings.Repeat("a", 160), 1, false},
		{strings.Repeat("a", 161), 2, false},
		{strings.Repeat("a", 306), 2, false},
		{strings.Repeat("a", 307), 3, false},
		{strings.Repeat("€", 80), 1, false}, // each counts twice: 160
		{strings.Repeat("€", 81), 2, false},
		{"Chào anh Tuấn", 1, true},
		{strings.Repeat("ấ", 70), 1, true},
		{strings.Repeat("ấ", 71), 2, true},
		{strings.Repeat("😀", 35), 1, true}, // 70 UTF-16 units
		{strings.Repeat("😀", 36), 2, true},
	} {
		if n, uni := sms.Segments(c.body); n != c.n || uni != c.uni {
			t.Errorf("%.20q…: %d segments (unicode %v), want %d (%v)", c.body, n, uni, c.n, c.uni)
		}
	}
}

func TestKeywords(t *testing.T) {
	for body, want := range map[string]sms.Keyword{"STOP": sms.Stop, " stop ": sms.Stop, "Stop.": sms.Stop, "unsubscribe": sms.Stop, "START": sms.Start,
		"yes": sms.Start, "please stop texting me": sms.NoKeyword, "Thanks!": sms.NoKeyword} {
		if got := sms.KeywordOf(body); got != want {
			t.Errorf("%q: %v, want %v", body, got, want)
		}
	}
}
