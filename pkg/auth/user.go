package auth

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pi-crm/pi-crm/pkg/errs"
)

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 10

// User is an account.
type User struct {
	ID        string
	Email     string
	Name      string
	TimeZone  string
	CreatedAt time.Time
}

// Actor is u acting on their own behalf from ip (an address, or "local" and
// "crmctl" for the command line): the one way code outside a request makes
// an actor.
func (u User) Actor(ip string) Actor {
	return Actor{UserID: u.ID, Email: u.Email, Name: u.Name, TimeZone: u.TimeZone, IP: ip}
}

// NewUser is the input to Store.CreateUser.
type NewUser struct {
	Email    string
	Name     string
	TimeZone string // IANA name; empty means UTC
	Password string
}

// normalize trims the fields and fills defaults.
func (u *NewUser) normalize() {
	u.Email = strings.TrimSpace(u.Email)
	u.Name = strings.TrimSpace(u.Name)
	u.TimeZone = strings.TrimSpace(u.TimeZone)
	if u.TimeZone == "" {
		u.TimeZone = "UTC"
	}
}

// Validate returns an Invalid error naming each bad field.
func (u NewUser) Validate() error {
	f := errs.Fields{}
	validateEmail(f, "email", u.Email)
	if u.Name == "" {
		f.Add("name", "Enter a name.")
	} else if utf8.RuneCountInString(u.Name) > 100 {
		f.Add("name", "Use at most 100 characters.")
	}
	validateTimeZone(f, "time_zone", u.TimeZone)
	validatePassword(f, "password", u.Password)
	return f.Err()
}

func validateEmail(f errs.Fields, field, email string) {
	if email == "" {
		f.Add(field, "Enter an email address.")
		return
	}
	// A bare address (no display name) whose domain has a dot.
	a, err := mail.ParseAddress(email)
	at := strings.LastIndexByte(email, '@')
	if err != nil || a.Address != email || at < 1 || !strings.Contains(email[at+1:], ".") {
		f.Add(field, "Enter an email address like name@example.com.")
	}
}

// ValidTimeZone reports whether tz is an IANA time zone name this system knows.
func ValidTimeZone(tz string) bool {
	if tz == "" || tz == "Local" {
		return false
	}
	_, err := time.LoadLocation(tz)
	return err == nil
}

func validateTimeZone(f errs.Fields, field, tz string) {
	if !ValidTimeZone(tz) {
		f.Add(field, "Choose a time zone such as America/Los_Angeles.")
	}
}

func validatePassword(f errs.Fields, field, pw string) {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		f.Add(field, "Use at least 10 characters.")
	case len(pw) > 72:
		// bcrypt reads only the first 72 bytes; a longer password would
		// silently be truncated.
		f.Add(field, "Use at most 72 bytes.")
	}
}
