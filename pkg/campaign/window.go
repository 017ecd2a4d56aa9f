package campaign

import (
	"fmt"
	"time"
)

// Window is when a drip step may go, in the workspace's time zone: from
// Start to End (HH:MM, Start before End), on weekdays only when Weekdays.
// The zero Window is any time.
type Window struct {
	Start    string `json:"start,omitempty"`
	End      string `json:"end,omitempty"`
	Weekdays bool   `json:"weekdays,omitempty"`
}

// IsZero reports whether the window is any time.
func (w Window) IsZero() bool { return w.Start == "" && w.End == "" && !w.Weekdays }

func clock(s string) (int, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

// check says what is wrong with the window, or "".
func (w Window) check() string {
	if w.Start == "" && w.End == "" {
		return ""
	}
	a, ok1 := clock(w.Start)
	b, ok2 := clock(w.End)
	switch {
	case !ok1 || !ok2:
		return "give the window's start and end as times (09:00 to 17:00), or neither."
	case a >= b:
		return "the window's start comes before its end, on the same day."
	}
	return ""
}

// Next returns t if the window is open at t in loc, else the moment it
// next opens. Windows are read in loc's wall clock, so 09:00 stays 09:00
// across a daylight-saving change.
func (w Window) Next(t time.Time, loc *time.Location) time.Time {
	if w.IsZero() {
		return t
	}
	from, to := 0, 24*60
	if w.Start != "" {
		from, _ = clock(w.Start)
		to, _ = clock(w.End)
	}
	lt := t.In(loc)
	for d := 0; d < 8; d++ {
		day := time.Date(lt.Year(), lt.Month(), lt.Day()+d, 0, 0, 0, 0, loc)
		if wd := day.Weekday(); w.Weekdays && (wd == time.Saturday || wd == time.Sunday) {
			continue
		}
		open := time.Date(day.Year(), day.Month(), day.Day(), from/60, from%60, 0, 0, loc)
		shut := time.Date(day.Year(), day.Month(), day.Day(), to/60, to%60, 0, 0, loc)
		if to == 24*60 {
			shut = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)
		}
		if !t.Before(open) && t.Before(shut) {
			return t
		}
		if open.After(t) {
			return open
		}
	}
	return t // not reached: a week always has a weekday
}

// String is the window as the campaign page says it.
func (w Window) String() string {
	s := ""
	if w.Start != "" {
		s = fmt.Sprintf("%s–%s", w.Start, w.End)
	}
	if w.Weekdays {
		if s != "" {
			s += ", "
		}
		s += "weekdays"
	}
	return s
}
