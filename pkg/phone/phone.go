// Package phone reads phone numbers as people type them and shows stored
// ones, with libphonenumber (github.com/nyaruka/phonenumbers): Normalize
// turns "(808) 555-0123" into E.164 ("+18085550123"), Format and
// FormatIntl show one back.
//
// libphonenumber decodes all of its metadata when a program starts (1.7
// MB of heap, marked by every collection after), so only the binaries that
// parse what people type link this package: crm-web and crmctl. The
// contact capability takes Normalize as its PhoneParser; the questions that
// need no parsing (country codes, regions, time zones by prefix) are
// pkg/numplan's.
package phone

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// Normalize parses a phone number typed in any common way, with region
// (ISO 3166 alpha-2, e.g. "US") for numbers without a country code, and
// returns it in E.164. The message is for the user when it is not a valid
// number.
func Normalize(raw, region string) (e164, msg string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "Enter a phone number."
	}
	if len(raw) > 40 || !utf8.ValidString(raw) {
		return "", "That phone number is too long."
	}
	if e164, ok := nanpFast(raw, region); ok {
		return e164, ""
	}
	return normalizeSlow(raw, region)
}

func normalizeSlow(raw, region string) (string, string) {
	n, err := phonenumbers.Parse(raw, region)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", "Enter a phone number such as (808) 555-0123 or +1 808 555 0123."
	}
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	if ext := n.GetExtension(); ext != "" {
		// "ext. 42", "x42", ";ext=42": kept in RFC 3966's form, which a
		// tel: link and a vCard read as they are.
		e164 += extSep + ext
	}
	return e164, ""
}

// extSep joins a number and its extension in the stored form.
const extSep = ";ext="

// splitExt returns a stored number without its extension, and the
// extension ("" when none).
func splitExt(stored string) (string, string) {
	num, ext, _ := strings.Cut(stored, extSep)
	return num, ext
}

// nanpPrefixes memoizes, per area code and exchange (the first six digits
// of a North American number), whether libphonenumber calls such numbers
// valid: its rules for the region go no deeper. It holds facts of the
// library's fixed metadata, never user data, so it is safe to share.
var nanpPrefixes sync.Map // string -> bool

// nanpFast normalizes a North American number written with digits, spaces,
// dots, dashes, parentheses and an optional +1 or 1, without a full parse:
// an import of 100,000 rows would otherwise spend most of its time in
// libphonenumber. Anything else takes the slow path.
func nanpFast(raw, region string) (string, bool) {
	var d [11]byte
	n := 0
	plus := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(d) {
				return "", false
			}
			d[n] = c
			n++
		case c == '+' && i == 0:
			plus = true
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false
		}
	}
	digits := string(d[:n])
	switch {
	case n == 11 && d[0] == '1':
		digits = digits[1:]
	case n == 10 && !plus && nanp[region]:
	default:
		return "", false
	}
	if digits[0] < '2' || digits[3] < '2' {
		return "", false
	}
	prefix := digits[:6]
	valid, ok := nanpPrefixes.Load(prefix)
	if !ok {
		_, msg := normalizeSlow("+1"+digits, "US")
		valid = msg == ""
		nanpPrefixes.Store(prefix, valid)
	}
	if !valid.(bool) {
		return "", false
	}
	return "+1" + digits, true
}

// Format shows an E.164 number in national format when it belongs to
// region, and in international format otherwise, with its extension
// ("(808) 555-0100 ext. 42").
func Format(e164, region string) string {
	if num, ext := splitExt(e164); ext != "" {
		return Format(num, region) + " ext. " + ext
	}
	// Fast path for the common case, a North American number shown in a
	// NANP region: the library's Parse and Format cost ~0.1 ms a number,
	// which a page of contacts pays dozens of times.
	if len(e164) == 12 && strings.HasPrefix(e164, "+1") && nanp[region] && allDigits(e164[2:]) {
		return "(" + e164[2:5] + ") " + e164[5:8] + "-" + e164[8:]
	}
	n, err := phonenumbers.Parse(e164, region)
	if err != nil {
		return e164
	}
	if phonenumbers.GetRegionCodeForNumber(n) == region {
		return phonenumbers.Format(n, phonenumbers.NATIONAL)
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

// nanp lists the regions that share country code 1 and format national
// numbers as (NPA) NXX-XXXX.
var nanp = map[string]bool{"US": true, "CA": true}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// FormatIntl shows an E.164 number in international format
// ("+1 808-555-0100"), which every region reads back the same: exports use
// it. North American numbers take a fast path.
func FormatIntl(e164 string) string {
	if num, ext := splitExt(e164); ext != "" {
		return FormatIntl(num) + " ext. " + ext
	}
	if len(e164) == 12 && strings.HasPrefix(e164, "+1") && allDigits(e164[2:]) {
		return "+1 " + e164[2:5] + "-" + e164[5:8] + "-" + e164[8:]
	}
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return e164
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}
