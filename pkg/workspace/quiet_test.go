package workspace

import (
	"testing"
	"time"
)

func TestQuietUntil(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	s := Settings{QuietStart: "21:00", QuietEnd: "08:00"}
	for _, c := range []struct {
		at    string // New York time
		quiet bool
		until string
	}{
		{"2026-12-03 20:59", false, ""},
		{"2026-12-03 21:00", true, "2026-12-04 08:00"},
		{"2026-12-03 23:30", true, "2026-12-04 08:00"},
		{"2026-12-04 02:00", true, "2026-12-04 08:00"},
		{"2026-12-04 07:59", true, "2026-12-04 08:00"},
		{"2026-12-04 08:00", false, ""},
		{"2026-12-04 12:00", false, ""},
		// The night clocks go back (1 November 2026): 08:00 is still 08:00.
		{"2026-10-31 22:00", true, "2026-11-01 08:00"},
	} {
		at, _ := time.ParseInLocation("2006-01-02 15:04", c.at, ny)
		until, quiet := s.QuietUntil(at.UTC(), ny)
		if quiet != c.quiet || quiet && until.In(ny).Format("2006-01-02 15:04") != c.until {
			t.Errorf("%s: quiet %v until %s, want %v %s", c.at, quiet, until.In(ny).Format("2006-01-02 15:04"), c.quiet, c.until)
		}
	}
	// A daytime window, and none.
	day := Settings{QuietStart: "12:00", QuietEnd: "13:00"}
	at, _ := time.ParseInLocation("2006-01-02 15:04", "2026-12-03 12:30", ny)
	if until, quiet := day.QuietUntil(at, ny); !quiet || until.In(ny).Format("15:04") != "13:00" {
		t.Errorf("a lunch window: %v %v", quiet, until)
	}
	if _, quiet := (Settings{}).QuietUntil(at, ny); quiet {
		t.Error("no quiet hours, yet quiet")
	}
}
