package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// TimeFormat is how times are stored: UTC, RFC 3339 with a fixed six-digit
// fraction, so that comparing the text compares the times.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// FormatTime formats t for the database.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// ParseTime parses a time stored with FormatTime (or any RFC 3339 time).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// NewID returns a new random UUIDv7 (RFC 9562) as text: random enough to be
// unguessable (62 random bits) and sortable by creation time. The 12 bits
// after the millisecond hold the fraction of the millisecond (RFC 9562
// section 6.2, method 3), so IDs made one after another in the same
// millisecond still sort in order: the audit trail pages by ID.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux.
	now := time.Now()
	ms := uint64(now.UnixMilli())
	frac := uint64(now.Nanosecond()%1e6) * 4096 / 1e6
	b[0], b[1], b[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	b[3], b[4], b[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = 0x70 | byte(frac>>8)
	b[7] = byte(frac)
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
