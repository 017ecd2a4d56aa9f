package contact

import (
	"fmt"
	"strings"

	"github.com/pi-crm/pi-crm/pkg/errs"
)

// PhoneParser reads a phone number as a person typed it ("(808) 555-0123",
// "+84 912 345 678"), one without a country code as region's (ISO 3166
// alpha-2), and returns it in E.164 with any extension as ";ext=42", or a
// message for the person when it is not a valid number. pkg/phone's
// Normalize is the one the binaries give. Contact links no phone-number
// library itself: crm-sender reads contacts and never parses a typed
// number, and so holds none of libphonenumber's metadata.
type PhoneParser func(raw, region string) (e164, msg string)

// normalized is a Fields value checked and put in stored form.
type normalized struct {
	emails []Email // Address as typed; norms beside
	norms  []string
	phones []Phone
}

// check validates f (phones reads its numbers, those without a country
// code as region's) and returns the stored forms of emails and phones, or
// an Invalid error naming each bad field ("emails[1].address").
func check(f *Fields, region string, phones PhoneParser) (normalized, error) {
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
	if f.Emails != nil {
		items := make([]listItem, len(*f.Emails))
		for i, in := range *f.Emails {
			items[i] = listItem{in.Address, in.Label, in.Primary}
		}
		kept, primaries := checkList(fe, "emails", "address", "email", MaxEmails, items, NormalizeEmail)
		for _, k := range kept {
			n.emails = append(n.emails, Email{Address: k.value, Label: k.label, Primary: k.primary})
			n.norms = append(n.norms, k.norm)
		}
		if primaries == 0 && len(n.emails) > 0 {
			n.emails[0].Primary = true
		}
	}
	if f.Phones != nil {
		items := make([]listItem, len(*f.Phones))
		for i, in := range *f.Phones {
			items[i] = listItem{in.Number, in.Label, in.Primary}
		}
		kept, primaries := checkList(fe, "phones", "number", "phone", MaxPhones, items, func(v string) (string, string, string) {
			e164, msg := phones(v, region)
			return e164, e164, msg
		})
		for _, k := range kept {
			n.phones = append(n.phones, Phone{Number: k.value, Label: k.label, Primary: k.primary})
		}
		if primaries == 0 {
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

// listItem is one email or phone of a form or API call, as given.
type listItem struct {
	value, label string
	primary      bool
}

// keptItem is one that passed: the value to store, its normalized form.
type keptItem struct {
	value, norm, label string
	primary            bool
}

// checkList checks the emails or phones (list) of a contact: at most max,
// each normalized (errors on list[i].part), none twice, labels of at most
// 40 characters, at most one marked primary. It returns the ones that
// passed and how many were marked primary.
func checkList(fe errs.Fields, list, part, what string, limit int, items []listItem, normalize func(string) (value, norm, msg string)) ([]keptItem, int) {
	if len(items) > limit {
		fe.Add(list, fmt.Sprintf("A contact has at most %d %ss.", limit, what))
		return nil, 0
	}
	var out []keptItem
	seen := map[string]bool{}
	primaries := 0
	for i, in := range items {
		value, norm, msg := normalize(in.value)
		key := fmt.Sprintf("%s[%d]", list, i)
		label := strings.TrimSpace(in.label)
		if msg != "" {
			fe.Add(key+"."+part, msg)
			continue
		}
		if seen[norm] {
			fe.Add(key+"."+part, "This "+part+" is listed twice.")
			continue
		}
		if len(label) > 40 {
			fe.Add(key+".label", "Use at most 40 characters.")
		}
		seen[norm] = true
		if in.primary {
			primaries++
		}
		out = append(out, keptItem{value: value, norm: norm, label: label, primary: in.primary})
	}
	if primaries > 1 {
		fe.Add(list, fmt.Sprintf("Mark only one %s as primary.", what))
	}
	return out, primaries
}
