package contact

import (
	"fmt"
	"strings"

	"github.com/pi-crm/pi-crm/pkg/errs"
)

// normalized is a Fields value checked and put in stored form.
type normalized struct {
	emails []Email // Address as typed; norms beside
	norms  []string
	phones []Phone
}

// check validates f (region reads phones without a country code) and
// returns the stored forms of emails and phones, or an Invalid error naming
// each bad field ("emails[1].address").
func check(f *Fields, region string) (normalized, error) {
	var n normalized
	fe := errs.Fields{}
	checkName(fe, "first_name", f.FirstName)
	checkName(fe, "last_name", f.LastName)
	checkName(fe, "company", f.Company)
	checkName(fe, "middle_name", f.MiddleName)
	checkName(fe, "nickname", f.Nickname)
	checkText(fe, "job_title", f.JobTitle, MaxText)
	checkWebsite(fe, "website", f.Website)
	checkText(fe, "address", f.Address, MaxAddress)
	checkText(fe, "marital_status", f.MaritalStatus, 40)
	checkText(fe, "children", f.Children, MaxText)
	checkText(fe, "pets", f.Pets, MaxText)
	checkText(fe, "referred_by", f.ReferredBy, MaxText)
	checkText(fe, "file_notes", f.FileNotes, MaxNotes)
	if f.Birthday != nil {
		if msg := validBirthday(*f.Birthday); msg != "" {
			fe.Add("birthday", msg)
		}
	}
	if f.Emails != nil && len(*f.Emails) > MaxEmails {
		fe.Add("emails", fmt.Sprintf("A contact has at most %d emails.", MaxEmails))
	} else if f.Emails != nil {
		seen := map[string]bool{}
		primaries := 0
		for i, in := range *f.Emails {
			addr, norm, msg := NormalizeEmail(in.Address)
			key := fmt.Sprintf("emails[%d]", i)
			label := strings.TrimSpace(in.Label)
			if msg != "" {
				fe.Add(key+".address", msg)
				continue
			}
			if seen[norm] {
				fe.Add(key+".address", "This address is listed twice.")
				continue
			}
			if len(label) > 40 {
				fe.Add(key+".label", "Use at most 40 characters.")
			}
			seen[norm] = true
			if in.Primary {
				primaries++
			}
			n.emails = append(n.emails, Email{Address: addr, Label: label, Primary: in.Primary})
			n.norms = append(n.norms, norm)
		}
		if primaries > 1 {
			fe.Add("emails", "Mark only one email as primary.")
		} else if primaries == 0 && len(n.emails) > 0 {
			n.emails[0].Primary = true
		}
	}
	if f.Phones != nil && len(*f.Phones) > MaxPhones {
		fe.Add("phones", fmt.Sprintf("A contact has at most %d phones.", MaxPhones))
	} else if f.Phones != nil {
		seen := map[string]bool{}
		primaries := 0
		for i, in := range *f.Phones {
			e164, msg := NormalizePhone(in.Number, region)
			key := fmt.Sprintf("phones[%d]", i)
			label := strings.TrimSpace(in.Label)
			if msg != "" {
				fe.Add(key+".number", msg)
				continue
			}
			if seen[e164] {
				fe.Add(key+".number", "This number is listed twice.")
				continue
			}
			if len(label) > 40 {
				fe.Add(key+".label", "Use at most 40 characters.")
			}
			seen[e164] = true
			if in.Primary {
				primaries++
			}
			n.phones = append(n.phones, Phone{Number: e164, Label: label, Primary: in.Primary})
		}
		if primaries > 1 {
			fe.Add("phones", "Mark only one phone as primary.")
		} else if primaries == 0 {
			// The first number one can call or text; a fax never.
			for i := range n.phones {
				if !IsFax(n.phones[i].Label) {
					n.phones[i].Primary = true
					break
				}
			}
		}
	}
	return n, fe.Err()
}

// errNoIdentity refuses a contact nobody could tell apart: no name, no
// company, no email and no phone (an empty form, POST {}).
var errNoIdentity = &errs.Error{Kind: errs.Invalid, Code: "no_identity", Message: "Enter at least a name, a company, an email or a phone.",
	Fields: map[string]string{"first_name": "Enter at least a name, a company, an email or a phone."}}

// identifiable reports whether a checked f names anyone.
func identifiable(f Fields, n normalized) bool {
	for _, v := range []*string{f.FirstName, f.LastName, f.Company} {
		if v != nil && *v != "" {
			return true
		}
	}
	return len(n.emails) > 0 || len(n.phones) > 0
}

// IsFax reports whether a phone's label says it is a fax ("Fax", "Work
// fax"): kept, shown, never the primary number.
func IsFax(label string) bool {
	l := strings.ToLower(strings.TrimSpace(label))
	return l == "fax" || strings.HasSuffix(l, " fax")
}
