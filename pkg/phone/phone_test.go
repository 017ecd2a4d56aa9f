package phone

import (
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestNormalize(t *testing.T) {
	for _, tt := range []struct{ in, region, want string }{
		{"(808) 555-0123", "US", "+18085550123"},
		{"808.555.0123", "US", "+18085550123"},
		{"+1 808 555 0123", "VN", "+18085550123"},
		{"0912 345 678", "VN", "+84912345678"},
		{"555-0123", "US", ""},
		{"hello", "US", ""},
		{"", "US", ""},
	} {
		got, msg := Normalize(tt.in, tt.region)
		if got != tt.want || (got == "") != (msg != "") {
			t.Errorf("Normalize(%q, %s) = %q, %q; want %q", tt.in, tt.region, got, msg, tt.want)
		}
	}
	if got := Format("+18085550123", "US"); got != "(808) 555-0123" {
		t.Errorf("national format %q", got)
	}
	if got := Format("+84912345678", "US"); !strings.HasPrefix(got, "+84") {
		t.Errorf("foreign number shown as %q", got)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"(808) 555-0123", "+84 912 345 678", "++1", "0", "+999999999999999999999", "1-800-FLOWERS"} {
		f.Add(s, "US")
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		e164, msg := Normalize(raw, region)
		if (e164 == "") == (msg == "") {
			t.Fatalf("Normalize(%q, %q) = %q, %q: want exactly one", raw, region, e164, msg)
		}
		if e164 != "" {
			if again, _ := Normalize(e164, region); again != e164 {
				t.Fatalf("not idempotent: %q -> %q -> %q", raw, e164, again)
			}
			_ = Format(e164, region)
		}
	})
}

func TestFormatPhoneFastPathAgreesWithLibrary(t *testing.T) {
	for _, n := range []string{"+18085550123", "+14155550199", "+12125551234", "+16135550100"} {
		for _, region := range []string{"US", "CA"} {
			fast := Format(n, region)
			nn, _ := phonenumbers.Parse(n, region)
			want := phonenumbers.Format(nn, phonenumbers.NATIONAL)
			if phonenumbers.GetRegionCodeForNumber(nn) != region {
				want = phonenumbers.Format(nn, phonenumbers.INTERNATIONAL)
				if fast == want {
					continue
				}
				// A Canadian number shown in the US (and back) is still
				// dialled the same way inside NANP; national form is fine.
				want = phonenumbers.Format(nn, phonenumbers.NATIONAL)
			}
			if fast != want {
				t.Errorf("Format(%s, %s) = %q, library says %q", n, region, fast, want)
			}
		}
	}
}

// TestPhoneExtensionsAreKept: "ext. 42", "x42" and ";ext=42" keep the
// extension, stored as RFC 3966's ";ext=" and shown as "ext.".
func TestPhoneExtensionsAreKept(t *testing.T) {
	for _, raw := range []string{"(808) 555-0100 ext. 42", "808-555-0100 x42", "+1 808 555 0100;ext=42", "808.555.0100 extension 42"} {
		got, msg := Normalize(raw, "US")
		if got != "+18085550100;ext=42" || msg != "" {
			t.Errorf("Normalize(%q) = %q %q, want +18085550100;ext=42", raw, got, msg)
		}
	}
	if got := Format("+18085550100;ext=42", "US"); got != "(808) 555-0100 ext. 42" {
		t.Errorf("FormatPhone = %q", got)
	}
	if got := FormatIntl("+18085550100;ext=42"); got != "+1 808-555-0100 ext. 42" {
		t.Errorf("FormatPhoneIntl = %q", got)
	}
	if got, _ := Normalize("808 555 0100", "US"); got != "+18085550100" {
		t.Errorf("a number without an extension: %q", got)
	}
}
