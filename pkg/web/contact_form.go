package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/pi-crm/pi-crm/pkg/contact"
)

// contactForm is the contact form as typed, kept for re-rendering.
type contactForm struct {
	FirstName, LastName, Company, StageID                   string
	MaritalStatus, Children, Pets, ReferredBy, FileNotes    string
	MiddleName, Nickname, JobTitle, Website, Address        string
	BirthMonth, BirthDay, BirthYear, SpouseID, ReferredByID string
	SpouseEmail, ReferredByEmail                            string
	DoNotContact                                            bool
	Emails                                                  []itemRow
	Phones                                                  []itemRow
}

type itemRow struct {
	Value, Label string
	Primary      bool
}

// rows pads items with empty rows so the form always offers a new one.
func rows(items []itemRow, min int) []itemRow {
	items = append(items, itemRow{})
	for len(items) < min {
		items = append(items, itemRow{})
	}
	return items
}

func formFromContact(c contact.Contact) contactForm {
	f := contactForm{FirstName: c.FirstName, LastName: c.LastName, Company: c.Company, StageID: c.StageID, MaritalStatus: c.MaritalStatus,
		Children: c.Children, Pets: c.Pets, ReferredBy: c.ReferredBy, FileNotes: c.FileNotes, DoNotContact: c.DoNotContact,
		MiddleName: c.MiddleName, Nickname: c.Nickname, JobTitle: c.JobTitle, Website: c.Website, Address: c.Address}
	if c.Birthday != nil {
		f.BirthMonth, f.BirthDay = strconv.Itoa(c.Birthday.Month), strconv.Itoa(c.Birthday.Day)
		if c.Birthday.Year != 0 {
			f.BirthYear = strconv.Itoa(c.Birthday.Year)
		}
	}
	if c.Spouse != nil {
		f.SpouseID = c.Spouse.ID
		f.SpouseEmail = c.Spouse.Email
	}
	if c.ReferredByRef != nil {
		f.ReferredByID = c.ReferredByRef.ID
		f.ReferredByEmail = c.ReferredByRef.Email
	}
	for _, e := range c.Emails {
		f.Emails = append(f.Emails, itemRow{e.Address, e.Label, e.Primary})
	}
	for _, p := range c.Phones {
		f.Phones = append(f.Phones, itemRow{p.Number, p.Label, p.Primary})
	}
	f.Emails, f.Phones = rows(f.Emails, 2), rows(f.Phones, 2)
	return f
}

// parseContactForm reads the contact form. Rows left empty are dropped;
// the primary radio names a row index. details says whether the detail
// fields were on the form (the quick-add form has only the basics).
func parseContactForm(r *http.Request) (contactForm, contact.Fields, map[string]string) {
	_ = r.ParseForm()
	v := r.PostForm
	f := contactForm{FirstName: v.Get("first_name"), LastName: v.Get("last_name"), Company: v.Get("company"), StageID: v.Get("stage_id"),
		MaritalStatus: v.Get("marital_status"), Children: v.Get("children"), Pets: v.Get("pets"), ReferredBy: v.Get("referred_by"),
		FileNotes: v.Get("file_notes"), BirthMonth: v.Get("birth_month"), BirthDay: v.Get("birth_day"), BirthYear: v.Get("birth_year"),
		SpouseEmail: v.Get("spouse_email"), ReferredByEmail: v.Get("referred_by_email"), DoNotContact: v.Get("do_not_contact") != "",
		MiddleName: v.Get("middle_name"), Nickname: v.Get("nickname"), JobTitle: v.Get("job_title"), Website: v.Get("website"), Address: v.Get("address")}
	errsOut := map[string]string{}
	in := contact.Fields{FirstName: &f.FirstName, LastName: &f.LastName, Company: &f.Company}
	emails, phones := []contact.EmailInput{}, []contact.PhoneInput{}
	addrs, elabels := v["email_address"], v["email_label"]
	for i, a := range addrs {
		row := itemRow{Value: a, Label: at(elabels, i), Primary: v.Get("email_primary") == strconv.Itoa(i)}
		f.Emails = append(f.Emails, row)
		if strings.TrimSpace(a) != "" {
			emails = append(emails, contact.EmailInput{Address: a, Label: row.Label, Primary: row.Primary})
		}
	}
	nums, plabels := v["phone_number"], v["phone_label"]
	for i, n := range nums {
		row := itemRow{Value: n, Label: at(plabels, i), Primary: v.Get("phone_primary") == strconv.Itoa(i)}
		f.Phones = append(f.Phones, row)
		if strings.TrimSpace(n) != "" {
			phones = append(phones, contact.PhoneInput{Number: n, Label: row.Label, Primary: row.Primary})
		}
	}
	in.Emails, in.Phones = &emails, &phones
	if v.Has("stage_id") {
		in.StageID = &f.StageID
	}
	if v.Has("details") {
		in.MaritalStatus, in.Children, in.Pets, in.ReferredBy, in.FileNotes = &f.MaritalStatus, &f.Children, &f.Pets, &f.ReferredBy, &f.FileNotes
		in.DoNotContact = &f.DoNotContact
		in.MiddleName, in.Nickname, in.JobTitle, in.Website, in.Address = &f.MiddleName, &f.Nickname, &f.JobTitle, &f.Website, &f.Address
		// Spouse and referrer are chosen by email; the handler resolves
		// them to contacts (SpouseID/ReferredByID) before saving.
		in.SpouseID, in.ReferredByID = &f.SpouseID, &f.ReferredByID
		var bd *contact.Birthday
		if f.BirthMonth != "" || f.BirthDay != "" || f.BirthYear != "" {
			m, err1 := strconv.Atoi(f.BirthMonth)
			d, err2 := strconv.Atoi(f.BirthDay)
			y := 0
			var err3 error
			if f.BirthYear != "" {
				y, err3 = strconv.Atoi(f.BirthYear)
			}
			if err1 != nil || err2 != nil || err3 != nil {
				errsOut["birthday"] = "Enter the month and day as numbers (the year is optional)."
			} else {
				bd = &contact.Birthday{Month: m, Day: d, Year: y}
			}
		}
		in.Birthday = &bd
	}
	f.Emails, f.Phones = rows(trimEmpty(f.Emails), 2), rows(trimEmpty(f.Phones), 2)
	return f, in, errsOut
}

func trimEmpty(rs []itemRow) []itemRow {
	var out []itemRow
	for _, r := range rs {
		if strings.TrimSpace(r.Value) != "" || strings.TrimSpace(r.Label) != "" {
			out = append(out, r)
		}
	}
	return out
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}
