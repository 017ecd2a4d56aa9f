package numplan

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// The tables answer as libphonenumber does, for every region and every
// prefix it knows: gen.go read them right, and they are not stale (a test
// against a newer module version fails until go generate runs).
func TestRegionsAreLibphonenumbers(t *testing.T) {
	var want []string
	for r := range phonenumbers.GetSupportedRegions() {
		want = append(want, r)
	}
	slices.Sort(want)
	var got []string
	for _, r := range regions {
		got = append(got, r.code)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the table has %d regions, libphonenumber %d", len(got), len(want))
	}
	for _, r := range append(want, "ZZ", "", "us", "U", "USA", "XK") {
		if got, want := CountryCode(r), phonenumbers.GetCountryCodeForRegion(r); got != want {
			t.Errorf("CountryCode(%q) = %d, libphonenumber %d", r, got, want)
		}
		if got, want := Supported(r), phonenumbers.GetSupportedRegions()[r]; got != want {
			t.Errorf("Supported(%q) = %v, want %v", r, got, want)
		}
	}
	if CountryCode("US") != 1 || CountryCode("VN") != 84 || CountryCode("GB") != 44 {
		t.Errorf("US %d, VN %d, GB %d", CountryCode("US"), CountryCode("VN"), CountryCode("GB"))
	}
}

func TestZonesAreLibphonenumbers(t *testing.T) {
	check := func(number string) {
		t.Helper()
		want, err := phonenumbers.GetTimezonesForPrefix(number)
		if err != nil {
			t.Fatalf("libphonenumber on %s: %v", number, err)
		}
		if got := Zones(number); !slices.Equal(got, want) {
			t.Errorf("Zones(%s) = %v, libphonenumber %v", number, got, want)
		}
	}
	// Every known prefix, alone, as the start of a longer number, and
	// with each next digit.
	for _, z := range zones {
		p := fmt.Sprint(z.prefix)
		check("+" + p)
		check("+" + p + "5550100")
		for d := range 10 {
			check(fmt.Sprintf("+%s%d", p, d))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20_000 {
		check(fmt.Sprintf("+%d", r.Int64N(1e12)))
	}
	check("+")
	check("+999")
	// What the stored forms hold beside the digits.
	if got, want := Zones("+18085550100;ext=42"), Zones("+18085550100"); !slices.Equal(got, want) || want[0] != "Pacific/Honolulu" {
		t.Errorf("with an extension %v, without %v, want Pacific/Honolulu", got, want)
	}
	if got := Zones("+14155550100"); !slices.Equal(got, []string{"America/Los_Angeles"}) {
		t.Errorf("+1 415: %v", got)
	}
	if got := Zones(""); !slices.Equal(got, []string{Unknown}) {
		t.Errorf("empty: %v", got)
	}
}
