package workspace

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
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
	if !phonenumbers.GetSupportedRegions()[s.PhoneRegion] {
		f.Add("phone_region", "Choose a two-letter country code such as US or VN.")
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
