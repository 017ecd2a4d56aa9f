// Package numplan answers the questions about the telephone numbering plan
// that need no parsing of a typed number: which regions there are, the
// country calling code a region dials, and the time zones a number lies
// in by its prefix.
//
// Its tables are generated from libphonenumber's metadata (gen.go), which
// pkg/phone parses numbers with. That library decodes all of its metadata
// when a program starts, 1.7 MB of heap that every collection then marks;
// a process that only reads stored numbers (crm-sender) links this package
// instead and holds none of it.
package numplan

import (
	"sort"
	"strconv"
)

//go:generate go run gen.go

// Unknown is the zone libphonenumber gives a prefix it has no zone for.
const Unknown = "Etc/Unknown"

type region struct {
	code        string
	countryCode int
}

type zonePrefix struct {
	prefix uint32
	list   uint16
}

// CountryCode returns the country calling code of region (ISO 3166
// alpha-2, upper case: "US" is 1, "VN" 84), or 0 for a region
// libphonenumber does not know.
func CountryCode(regionCode string) int {
	i := sort.Search(len(regions), func(i int) bool { return regions[i].code >= regionCode })
	if i < len(regions) && regions[i].code == regionCode {
		return regions[i].countryCode
	}
	return 0
}

// Supported reports whether libphonenumber knows regionCode.
func Supported(regionCode string) bool { return CountryCode(regionCode) != 0 }

// Zones returns the IANA time zones a number in E.164 ("+18085550100",
// an extension after its digits is ignored) lies in, by its longest known
// prefix, as libphonenumber's GetTimezonesForPrefix does: []string{Unknown}
// when no prefix is known. The slice is shared: do not change it.
func Zones(e164 string) []string {
	digits := e164
	if len(digits) > 0 && digits[0] == '+' {
		digits = digits[1:]
	}
	n := 0
	for n < len(digits) && digits[n] >= '0' && digits[n] <= '9' {
		n++
	}
	for l := min(n, maxPrefix); l > 0; l-- {
		p, err := strconv.ParseUint(digits[:l], 10, 32)
		if err != nil {
			break
		}
		i := sort.Search(len(zones), func(i int) bool { return zones[i].prefix >= uint32(p) })
		if i < len(zones) && zones[i].prefix == uint32(p) {
			return zoneLists[zones[i].list]
		}
	}
	return unknown
}

var unknown = []string{Unknown}
