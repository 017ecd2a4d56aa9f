package workspace

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/numplan"
)

// MaxNameLen is the longest workspace name, in characters.
const MaxNameLen = 80

// EmailProviders are the kinds a workspace may plan to send through. The
// plan is a label until the provider is set up on the workspace's Email
// page (pkg/mailer keeps what is set up, its secrets sealed).
var EmailProviders = []string{"file", "mailgun", "smtp", "google", "microsoft"}

// Workspace is one business line of a user.
type Workspace struct {
	ID        string
	OwnerID   string
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Settings  Settings
}

// Settings are a workspace's own preferences.
type Settings struct {
	TimeZone              string
	CampaignsNeedApproval bool
	ApproverUserID        string // required when CampaignsNeedApproval
	EmailProvider         string
	// PhoneRegion reads phone numbers typed without a country code (ISO
	// 3166 alpha-2, e.g. "US").
	PhoneRegion string
	// RealEstate marks a real-estate business line: the AI template
	// wizard offers real-estate starters there.
	RealEstate bool
	// QuietStart and QuietEnd ("HH:MM", the recipient's clock) bound the
	// night in which bulk mail and texts wait; both "" for none.
	QuietStart, QuietEnd string
}

// Quiet hours a new workspace starts with.
const (
	DefaultQuietStart = "21:00"
	DefaultQuietEnd   = "08:00"
)

// QuietUntil reports whether t, on the clock of loc, falls in quiet hours
// and, if so, when they end.
func (s Settings) QuietUntil(t time.Time, loc *time.Location) (time.Time, bool) {
	start, ok1 := clockMinutes(s.QuietStart)
	end, ok2 := clockMinutes(s.QuietEnd)
	if !ok1 || !ok2 || start == end {
		return time.Time{}, false
	}
	lt := t.In(loc)
	now := lt.Hour()*60 + lt.Minute()
	in := start < end && now >= start && now < end || start > end && (now >= start || now < end)
	if !in {
		return time.Time{}, false
	}
	until := time.Date(lt.Year(), lt.Month(), lt.Day(), end/60, end%60, 0, 0, loc)
	if !until.After(lt) {
		until = time.Date(lt.Year(), lt.Month(), lt.Day()+1, end/60, end%60, 0, 0, loc)
	}
	return until, true
}

// clockMinutes reads "HH:MM" as minutes after midnight.
func clockMinutes(v string) (int, bool) {
	t, err := time.Parse("15:04", v)
	if err != nil {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

// NormalizeName trims a name and folds inner runs of white space to one space.
func NormalizeName(name string) string { return strings.Join(strings.Fields(name), " ") }

func validateName(f errs.Fields, name string) {
	switch {
	case name == "":
		f.Add("name", "Enter a name.")
	case utf8.RuneCountInString(name) > MaxNameLen:
		f.Add("name", "Use at most 80 characters.")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		f.Add("name", "Remove the control characters.")
	}
}

// validate checks the settings' own fields; the approver's existence is
// checked against the database by the store.
func (s *Settings) validate(f errs.Fields) {
	s.TimeZone = strings.TrimSpace(s.TimeZone)
	if !auth.ValidTimeZone(s.TimeZone) {
		f.Add("time_zone", "Choose a time zone such as America/Los_Angeles.")
	}
	if s.EmailProvider == "" {
		s.EmailProvider = "file"
	}
	valid := false
	for _, p := range EmailProviders {
		valid = valid || p == s.EmailProvider
	}
	if !valid {
		f.Add("email_provider", "Choose one of: "+strings.Join(EmailProviders, ", ")+".")
	}
	s.PhoneRegion = strings.ToUpper(strings.TrimSpace(s.PhoneRegion))
	if s.PhoneRegion == "" {
		s.PhoneRegion = "US"
	}
	if !numplan.Supported(s.PhoneRegion) {
		f.Add("phone_region", "Choose a two-letter country code such as US or VN.")
	}
	switch _, okStart := clockMinutes(s.QuietStart); {
	case s.QuietStart == "" && s.QuietEnd == "":
	case !okStart:
		f.Add("quiet_start", "Enter a time such as 21:00, or leave both quiet-hour times empty for none.")
	}
	if _, ok := clockMinutes(s.QuietEnd); !ok && (s.QuietStart != "" || s.QuietEnd != "") {
		f.Add("quiet_end", "Enter a time such as 08:00, or leave both quiet-hour times empty for none.")
	}
	if s.CampaignsNeedApproval && s.ApproverUserID == "" {
		f.Add("approver_user_id", "Choose who approves campaigns.")
	}
}

// Impact says what deleting a workspace destroys, for the confirmation.
type Impact struct {
	Workspace Workspace
	// Lost lists what goes, one line each ("3 API keys", "all settings").
	Lost []string
}
