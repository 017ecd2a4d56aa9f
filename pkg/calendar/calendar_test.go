package calendar_test

import (
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/pkg/calendar"
)

// TestNextBirthday: today's birthday is today, a passed one is next year's,
// and 29 February falls on the 28th outside leap years.
func TestNextBirthday(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		today time.Time
		m     time.Month
		d     int
		want  time.Time
	}{
		{day(2026, 12, 3), 12, 3, day(2026, 12, 3)},
		{day(2026, 12, 3), 12, 2, day(2027, 12, 2)},
		{day(2026, 12, 3), 2, 29, day(2027, 2, 28)},
		{day(2027, 12, 3), 2, 29, day(2028, 2, 29)},
	} {
		if got := calendar.NextBirthday(c.today, c.m, c.d); !got.Equal(c.want) {
			t.Errorf("NextBirthday(%s, %d/%d) = %s, want %s", c.today.Format("2006-01-02"), c.m, c.d, got.Format("2006-01-02"), c.want.Format("2006-01-02"))
		}
	}
}
