package contact

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pi-crm/pi-crm/pkg/errs"
)

// Email is one of a contact's addresses.
type Email struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Label   string `json:"label"`
	Primary bool   `json:"primary"`
}

// Phone is one of a contact's numbers, in E.164.
type Phone struct {
	ID      string `json:"id"`
	Number  string `json:"number"`
	Label   string `json:"label"`
	Primary bool   `json:"primary"`
}

// Birthday is a month and day, with the year when known (0 otherwise).
type Birthday struct {
	Month int `json:"month"`
	Day   int `json:"day"`
	Year  int `json:"year,omitempty"`
}

// String shows b as 1985-03-14, or 03-14 without a year; "" for none.
func (b *Birthday) String() string {
	switch {
	case b == nil:
		return ""
	case b.Year == 0:
		return fmt.Sprintf("%02d-%02d", b.Month, b.Day)
	}
	return fmt.Sprintf("%04d-%02d-%02d", b.Year, b.Month, b.Day)
}

// Ref names another contact of the same workspace.
type Ref struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Tag is a tag a contact is in.
type Tag struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Contact is a person in a workspace.
type Contact struct {
	ID             string     `json:"id"`
	WorkspaceID    string     `json:"workspace_id"`
	FirstName      string     `json:"first_name"`
	LastName       string     `json:"last_name"`
	MiddleName     string     `json:"middle_name"`
	Nickname       string     `json:"nickname"`
	Company        string     `json:"company"`
	JobTitle       string     `json:"job_title"`
	Website        string     `json:"website"`
	Address        string     `json:"address"`
	Emails         []Email    `json:"emails"`
	Phones         []Phone    `json:"phones"`
	StageID        string     `json:"stage_id"`
	StageName      string     `json:"stage"`
	StageChangedAt *time.Time `json:"stage_changed_at"`
	Tags           []Tag      `json:"tags"`
	Birthday       *Birthday  `json:"birthday"`
	MaritalStatus  string     `json:"marital_status"`
	Spouse         *Ref       `json:"spouse"`
	Children       string     `json:"children"`
	Pets           string     `json:"pets"`
	ReferredBy     string     `json:"referred_by"`
	ReferredByRef  *Ref       `json:"referred_by_contact"`
	FileNotes      string     `json:"file_notes"`
	DoNotContact   bool       `json:"do_not_contact"`
	CopiedFrom     string     `json:"copied_from,omitempty"`
	// Custom holds custom field values by field id.
	Custom        map[string]string `json:"custom"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
	LastContactAt *time.Time        `json:"last_contact_at"`
}

// Name is the display name: first and last, or the company, or the
// primary email.
func (c Contact) Name() string {
	email := ""
	if len(c.Emails) > 0 {
		email = c.Emails[0].Address
	}
	return DisplayName(c.FirstName, c.LastName, c.Company, email)
}

// DisplayName is how every page names a contact: first and last name, or
// the company, or the email, or "(no name)".
func DisplayName(first, last, company, email string) string {
	n := strings.TrimSpace(first + " " + last)
	switch {
	case n != "":
		return n
	case company != "":
		return company
	case email != "":
		return email
	}
	return "(no name)"
}

// PrimaryEmail returns the primary address or "".
func (c Contact) PrimaryEmail() string {
	for _, e := range c.Emails {
		if e.Primary {
			return e.Address
		}
	}
	return ""
}

// PrimaryPhone returns the primary number (E.164) or "".
func (c Contact) PrimaryPhone() string {
	for _, p := range c.Phones {
		if p.Primary {
			return p.Number
		}
	}
	return ""
}

// EmailInput is an email as submitted.
type EmailInput struct {
	Address string `json:"address"`
	Label   string `json:"label"`
	Primary bool   `json:"primary"`
}

// PhoneInput is a phone as submitted, in any common format.
type PhoneInput struct {
	Number  string `json:"number"`
	Label   string `json:"label"`
	Primary bool   `json:"primary"`
}

// Fields are the editable fields; nil leaves a field as it is (on create:
// empty). Emails and Phones, when set, replace the whole set.
type Fields struct {
	FirstName     *string       `json:"first_name"`
	LastName      *string       `json:"last_name"`
	MiddleName    *string       `json:"middle_name"`
	Nickname      *string       `json:"nickname"`
	Company       *string       `json:"company"`
	JobTitle      *string       `json:"job_title"`
	Website       *string       `json:"website"`
	Address       *string       `json:"address"`
	Emails        *[]EmailInput `json:"emails"`
	Phones        *[]PhoneInput `json:"phones"`
	StageID       *string       `json:"stage_id"`
	Birthday      **Birthday    `json:"birthday"`
	MaritalStatus *string       `json:"marital_status"`
	SpouseID      *string       `json:"spouse_id"`
	Children      *string       `json:"children"`
	Pets          *string       `json:"pets"`
	ReferredBy    *string       `json:"referred_by"`
	ReferredByID  *string       `json:"referred_by_id"`
	FileNotes     *string       `json:"file_notes"`
	DoNotContact  *bool         `json:"do_not_contact"`
	// Custom sets custom field values by field id ("" clears one).
	Custom map[string]string `json:"custom"`
}

// MaxText bounds free-text fields; MaxNotes the loan-file notes;
// MaxEmails and MaxPhones how many of each a contact may have (real
// address books stop at a handful; a file with 20,000 would make every
// page of that contact crawl).
const (
	MaxText   = 200
	MaxNotes  = 20000
	MaxEmails = 50
	MaxPhones = 50
)

// checkName is checkText for a name: besides the text rules it refuses
// line breaks, tabs, any other control character and the bidirectional
// overrides and isolates (U+202A-U+202E, U+2066-U+2069), which can make a
// name display as something else ("Trojan Source").
func checkName(f errs.Fields, field string, v *string) {
	checkText(f, field, v, MaxText)
	if v == nil || f[field] != "" {
		return
	}
	if strings.ContainsFunc(*v, func(r rune) bool {
		return r < 0x20 || (r >= 0x7f && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
	}) {
		f.Add(field, "Remove the control or text-direction characters.")
	}
}

func checkText(f errs.Fields, field string, v *string, max int) {
	if v == nil {
		return
	}
	*v = strings.TrimSpace(*v)
	switch {
	case !utf8.ValidString(*v):
		f.Add(field, "Use plain text.")
	case utf8.RuneCountInString(*v) > max:
		f.Add(field, fmt.Sprintf("Use at most %d characters.", max))
	case strings.ContainsFunc(*v, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' && r != '\r' }):
		f.Add(field, "Remove the control characters.")
	}
}

// MaxAddress bounds a postal address (a few lines, as people write one).
const MaxAddress = 1000

// checkWebsite checks a website and puts it in stored form: an address
// without a scheme ("www.example.com", as Outlook and phones write it)
// gets https://; only http and https addresses with a host are kept.
func checkWebsite(f errs.Fields, field string, v *string) {
	checkText(f, field, v, MaxText)
	if v == nil || *v == "" || f[field] != "" {
		return
	}
	w := *v
	if !strings.Contains(w, "://") {
		w = "https://" + w
	}
	u, err := url.Parse(w)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.Contains(u.Host, ".") || strings.ContainsAny(w, " \t\n") {
		f.Add(field, "Enter a web address such as example.com or https://example.com/about.")
		return
	}
	*v = w
}

func validBirthday(b *Birthday) string {
	if b == nil {
		return ""
	}
	if b.Month < 1 || b.Month > 12 {
		return "Choose a month from 1 to 12."
	}
	year := b.Year
	if year == 0 {
		year = 2000 // a leap year: 29 February is a real birthday
	} else if year < 1900 || year > time.Now().Year() {
		return "Enter a year from 1900 to this year, or leave it empty."
	}
	d := time.Date(year, time.Month(b.Month), b.Day, 0, 0, 0, 0, time.UTC)
	if b.Day < 1 || d.Month() != time.Month(b.Month) {
		return "That day is not in that month."
	}
	return ""
}

// BirthdayProblem says what is wrong with b, or "" when it is a real date.
func BirthdayProblem(b *Birthday) string { return validBirthday(b) }
