package csvio

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pi-crm/pi-crm/pkg/contact"
	perrs "github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/phone"
)

// Kinds of Target.
const (
	Ignore        = ""
	FirstName     = "first_name"
	LastName      = "last_name"
	FullName      = "full_name"
	MiddleName    = "middle_name"
	Nickname      = "nickname"
	Company       = "company"
	JobTitle      = "job_title"
	Website       = "website"
	Address       = "address"       // one block; the parts of a Slot (street, city, ...) join into one address
	AddressLabel  = "address_label" // the label of the address with the same Slot
	Email         = "email"         // one or more addresses (":::"-separated, as Google writes them)
	EmailLabel    = "email_label"   // the label of the email column with the same Slot
	EmailList     = "email_list"    // "a@x.com (Work); b@y.com (Home)", as our export writes
	Phone         = "phone"
	PhoneLabel    = "phone_label"
	PhoneList     = "phone_list"
	Stage         = "stage"
	Tags          = "tags"
	Birthday      = "birthday"
	Notes         = "notes"
	FileNotes     = "file_notes"
	MaritalStatus = "marital_status"
	Children      = "children"
	Pets          = "pets"
	ReferredBy    = "referred_by"
	DoNotContact  = "do_not_contact"
	Custom        = "custom"
)

// Kinds lists the targets a column can be mapped to, in the order the
// mapping page offers them, with their names.
var Kinds = []struct{ Kind, Name string }{
	{Ignore, "Don't import"}, {FirstName, "First name"}, {MiddleName, "Middle name"}, {LastName, "Last name"}, {FullName, "Full name (split)"},
	{Nickname, "Nickname"}, {Company, "Company"}, {JobTitle, "Job title"}, {Website, "Website"}, {Address, "Address (parts join in order)"}, {Email, "Email"}, {EmailLabel, "Email label"}, {EmailList, "Email list"},
	{Phone, "Phone"}, {PhoneLabel, "Phone label"}, {PhoneList, "Phone list"}, {Stage, "Primary list (stage)"},
	{Tags, "Secondary tags"}, {Birthday, "Birthday"}, {Notes, "Note"}, {FileNotes, "Loan file notes"},
	{MaritalStatus, "Marital status"}, {Children, "Children"}, {Pets, "Pets"}, {ReferredBy, "Referred by"},
	{DoNotContact, "Do not contact"}, {Custom, "Custom field"},
}

// Target is what one column feeds.
type Target struct {
	Kind    string `json:"kind"`
	Slot    int    `json:"slot,omitempty"`     // pairs an email/phone column with its label column; 0 is the primary
	Label   string `json:"label,omitempty"`    // label for an email/phone/address column without a label column
	Part    string `json:"part,omitempty"`     // Address: street, city, region, postal, country, pobox, extended or formatted
	FieldID string `json:"field_id,omitempty"` // Custom
}

// Mapping has one Target per column.
type Mapping []Target

var (
	numbered = regexp.MustCompile(`^(e-?mail|phone|organization|website|address) (\d+) - (value|type|label|name|formatted|street|city|region|postal code|country|po box|extended address)$`)
	// Outlook writes each address in parts: "Business Street 2", "Home
	// City", "Other Country/Region".
	outlookAddr = regexp.MustCompile(`^(business|home|other) (street|street 2|street 3|city|state|postal code|country region|address po box)$`)
	nonWord     = regexp.MustCompile(`[^a-z0-9]+`)
	outlookEm   = regexp.MustCompile(`^e-?mail (\d) address$`)
	// Outlook writes each address with its "E-mail Type" (SMTP, EX) and
	// "E-mail Display Name" ("Ann Lee (ann@example.com)"): neither is an
	// address.
	outlookEmMeta = regexp.MustCompile(`^e-?mail( \d)? (type|display name)$`)
)

// exact maps a normalized header (lower case, words joined by one space) to
// its target: Google Contacts, Outlook, our own export and common names.
var exact = map[string]Target{
	"first name": {Kind: FirstName}, "given name": {Kind: FirstName}, "firstname": {Kind: FirstName}, "first": {Kind: FirstName},
	"last name": {Kind: LastName}, "family name": {Kind: LastName}, "surname": {Kind: LastName}, "lastname": {Kind: LastName}, "last": {Kind: LastName},
	"name": {Kind: FullName}, "full name": {Kind: FullName}, "display name": {Kind: FullName}, "contact name": {Kind: FullName},
	"middle name": {Kind: MiddleName}, "additional name": {Kind: MiddleName}, "middlename": {Kind: MiddleName},
	"nickname": {Kind: Nickname}, "nick name": {Kind: Nickname},
	"job title": {Kind: JobTitle}, "organization title": {Kind: JobTitle}, "organization 1 title": {Kind: JobTitle}, "position": {Kind: JobTitle}, "role": {Kind: JobTitle},
	"website": {Kind: Website}, "web page": {Kind: Website}, "web site": {Kind: Website}, "url": {Kind: Website}, "personal web page": {Kind: Website}, "business web page": {Kind: Website},
	"address": {Kind: Address}, "mailing address": {Kind: Address}, "street address": {Kind: Address}, "home address": {Kind: Address}, "business address": {Kind: Address},
	"company": {Kind: Company}, "organization": {Kind: Company}, "organization name": {Kind: Company}, "organisation": {Kind: Company}, "employer": {Kind: Company}, "business": {Kind: Company},
	"email": {Kind: Email}, "e mail": {Kind: Email}, "email address": {Kind: Email}, "e mail address": {Kind: Email}, "primary email": {Kind: Email},
	"phone": {Kind: Phone}, "phone number": {Kind: Phone}, "primary phone": {Kind: Phone}, "telephone": {Kind: Phone},
	"mobile": {Kind: Phone, Label: "Mobile"}, "mobile phone": {Kind: Phone, Label: "Mobile"}, "cell": {Kind: Phone, Label: "Mobile"}, "cell phone": {Kind: Phone, Label: "Mobile"},
	"home phone": {Kind: Phone, Label: "Home"}, "home phone 2": {Kind: Phone, Label: "Home"},
	"business phone": {Kind: Phone, Label: "Work"}, "business phone 2": {Kind: Phone, Label: "Work"}, "work phone": {Kind: Phone, Label: "Work"},
	"company main phone": {Kind: Phone, Label: "Work"}, "other phone": {Kind: Phone, Label: "Other"}, "car phone": {Kind: Phone, Label: "Car"},
	"secondary emails": {Kind: EmailList}, "secondary phones": {Kind: PhoneList},
	"primary email label": {Kind: EmailLabel, Slot: 0}, "primary phone label": {Kind: PhoneLabel, Slot: 0},
	"primary list": {Kind: Stage}, "stage": {Kind: Stage}, "pipeline stage": {Kind: Stage}, "status": {Kind: Stage},
	"secondary tags": {Kind: Tags}, "tags": {Kind: Tags}, "labels": {Kind: Tags}, "group membership": {Kind: Tags}, "categories": {Kind: Tags}, "groups": {Kind: Tags},
	"birthday": {Kind: Birthday}, "birth date": {Kind: Birthday}, "date of birth": {Kind: Birthday}, "dob": {Kind: Birthday},
	"notes": {Kind: Notes}, "note": {Kind: Notes}, "comments": {Kind: Notes},
	"loan file notes": {Kind: FileNotes}, "file notes": {Kind: FileNotes},
	"marital status": {Kind: MaritalStatus}, "children": {Kind: Children}, "pets": {Kind: Pets},
	"referred by": {Kind: ReferredBy}, "referral": {Kind: ReferredBy}, "referred by name": {Kind: ReferredBy},
	"do not contact": {Kind: DoNotContact}, "dnc": {Kind: DoNotContact},
}

// normHeader lower-cases a header and joins its words with one space.
func normHeader(h string) string {
	return strings.TrimSpace(nonWord.ReplaceAllString(strings.ToLower(h), " "))
}

// Guess maps each column from its header: custom field names first, then the
// numbered columns of Google ("E-mail 2 - Value", "Phone 1 - Label") and
// Outlook ("E-mail 2 Address"), then known names, then any header that
// mentions an email or a phone. Email and phone columns get slots in order,
// the first being the primary.
func Guess(header []string, fields []contact.FieldDef) Mapping {
	m := make(Mapping, len(header))
	custom := map[string]string{}
	for _, f := range fields {
		custom[normHeader(f.Name)] = f.ID
	}
	nextSlot := map[string]int{Email: 0, Phone: 0}
	wholeAddrs := 0
	slotOf := map[string]int{} // "email 2" -> slot
	slot := func(kind string, key string) int {
		if key != "" {
			if s, ok := slotOf[kind+key]; ok {
				return s
			}
		}
		s := nextSlot[kind]
		nextSlot[kind]++
		if key != "" {
			slotOf[kind+key] = s
		}
		return s
	}
	for i, h := range header {
		raw := strings.ToLower(strings.TrimSpace(h))
		n := normHeader(h)
		if id, ok := custom[n]; ok {
			m[i] = Target{Kind: Custom, FieldID: id}
			continue
		}
		if g := numbered.FindStringSubmatch(raw); g != nil {
			kind := Email
			switch g[1] {
			case "phone":
				kind = Phone
			case "email", "e-mail":
			case "organization":
				if g[3] == "name" {
					m[i] = Target{Kind: Company}
				}
				continue
			case "website":
				if g[3] == "value" {
					m[i] = Target{Kind: Website}
				}
				continue
			case "address":
				s, _ := strconv.Atoi(g[2])
				if g[3] == "label" || g[3] == "type" {
					m[i] = Target{Kind: AddressLabel, Slot: s}
				} else {
					m[i] = Target{Kind: Address, Slot: s, Part: addrPart(g[3])}
				}
				continue
			default:
				continue
			}
			s := slot(kind, g[2])
			if g[3] == "value" {
				m[i] = Target{Kind: kind, Slot: s}
			} else {
				m[i] = Target{Kind: kind + "_label", Slot: s}
			}
			continue
		}
		if outlookEmMeta.MatchString(raw) {
			continue
		}
		if g := outlookAddr.FindStringSubmatch(n); g != nil {
			slot := map[string]int{"business": 1, "home": 2, "other": 3}[g[1]]
			m[i] = Target{Kind: Address, Slot: slot, Label: labelWord(g[1]), Part: addrPart(g[2])}
			continue
		}
		if g := outlookEm.FindStringSubmatch(raw); g != nil {
			m[i] = Target{Kind: Email, Slot: slot(Email, g[1])}
			continue
		}
		if t, ok := exact[n]; ok {
			switch t.Kind {
			case Email, Phone:
				t.Slot = slot(t.Kind, "")
			case Address: // each whole-address column is an address of its own
				t.Slot, t.Label = 10+wholeAddrs, labelWord(n)
				wholeAddrs = min(wholeAddrs+1, 10)
			}
			m[i] = t
			continue
		}
		words := map[string]bool{}
		for _, w := range strings.Fields(n) {
			words[w] = true
		}
		switch {
		case words["email"] || strings.Contains(" "+n+" ", " e mail "):
			m[i] = Target{Kind: Email, Slot: slot(Email, ""), Label: labelWord(n)}
		case words["fax"]:
			// Outlook's "Business Fax": kept, labeled, never the primary.
			label := "Fax"
			if l := labelWord(n); l == "Business" {
				label = "Work fax"
			} else if l != "" {
				label = l + " fax"
			}
			m[i] = Target{Kind: Phone, Slot: slot(Phone, ""), Label: label}
		case words["phone"] || words["mobile"] || words["cell"] || words["tel"]:
			m[i] = Target{Kind: Phone, Slot: slot(Phone, ""), Label: labelWord(n)}
		}
	}
	preferMobile(m)
	return m
}

// preferMobile makes a Mobile column the primary phone (slot 0) when the
// file puts another phone first, as Outlook does with "Assistant's Phone"
// and "Business Phone": the number a CRM user calls and texts is the
// mobile. A file with label columns (Google's "Phone 1 - Label") keeps its
// own order.
func preferMobile(m Mapping) {
	first, mobile := -1, -1
	for i, t := range m {
		switch {
		case t.Kind == PhoneLabel:
			return
		case t.Kind != Phone:
		case t.Slot == 0:
			first = i
			if t.Label == "Mobile" {
				return
			}
		case t.Label == "Mobile" && mobile < 0:
			mobile = i
		}
	}
	if first >= 0 && mobile >= 0 {
		m[first].Slot, m[mobile].Slot = m[mobile].Slot, 0
	}
}

// addrPart names an address column's part: Google's "Postal Code",
// Outlook's "State" and "Country/Region" among them.
func addrPart(p string) string {
	switch p {
	case "formatted", "city", "country":
		return p
	case "street", "street 2", "street 3", "po box", "address po box", "extended address":
		return "street"
	case "region", "state":
		return "region"
	case "postal code":
		return "postal"
	case "country region":
		return "country"
	}
	return "street"
}

// labelWord turns "work email" into "Work".
func labelWord(n string) string {
	for _, w := range []string{"work", "home", "personal", "business", "mobile", "other", "school"} {
		if strings.Contains(n, w) {
			return strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return ""
}

// Entry is one mapped row, ready to import.
type Entry struct {
	Fields contact.Fields
	Stage  string   // stage name from the file; "" means the job's choice
	Tags   []string // tag names from the file
	Note   string   // plain text, logged as a note
}

// CellError is a problem with one row: why it cannot be imported, or (a
// warning) a value left out of a row that imports without it.
type CellError struct {
	Column string `json:"column"`
	Value  string `json:"value,omitempty"` // the value as the file has it
	Reason string `json:"reason"`
}

// Error returns "column: reason".
func (e CellError) Error() string {
	if e.Column == "" {
		return e.Reason
	}
	return e.Column + ": " + e.Reason
}

// faxesLast puts fax numbers after the others and makes the first number
// one can call or text the primary: a fax is kept, never the primary.
func faxesLast(phs []contact.PhoneInput) []contact.PhoneInput {
	out := make([]contact.PhoneInput, 0, len(phs))
	var faxes []contact.PhoneInput
	for _, p := range phs {
		p.Primary = false
		if contact.IsFax(p.Label) {
			faxes = append(faxes, p)
		} else {
			out = append(out, p)
		}
	}
	if len(out) > 0 {
		out[0].Primary = true
	}
	return append(out, faxes...)
}

// address gathers one address's parts from its columns.
type address struct {
	label, formatted, city, region, postal, country string
	street                                          []string
}

func (a *address) add(part, v string) {
	v = strings.TrimSpace(v)
	switch part {
	case "", "formatted":
		a.formatted = strings.TrimSpace(a.formatted + "\n" + v)
	case "city":
		a.city = v
	case "region":
		a.region = v
	case "postal":
		a.postal = v
	case "country":
		a.country = v
	default:
		a.street = append(a.street, v)
	}
}

// text is the address as people write it: the street lines, "City, Region
// Postal" and the country, or the formatted one (Google's "Address 1 -
// Formatted") when the file has no parts: Google's formatted address may
// leave out what its parts hold.
func (a *address) text() string {
	if len(a.street) == 0 && a.city == "" && a.region == "" && a.postal == "" && a.country == "" {
		return a.formatted
	}
	city := strings.Join(nonEmpty(a.city, strings.TrimSpace(a.region+" "+a.postal)), ", ")
	return strings.Join(nonEmpty(append(a.street, city, a.country)...), "\n")
}

// joinAddresses writes a row's addresses as one block, in slot order; when
// there are several, each starts with its label.
func joinAddresses(addrs map[int]*address) string {
	var out []string
	slots := sortedSlots(addrs)
	for _, s := range slots {
		a := addrs[s]
		t := a.text()
		if t == "" {
			continue
		}
		if len(slots) > 1 && a.label != "" {
			t = a.label + ":\n" + t
		}
		out = append(out, t)
	}
	return strings.Join(out, "\n\n")
}

// settle runs the store's own checks on f, so that every row either lands
// or is in the report: a value the store refuses is left out and becomes a
// warning with its value, and the row is refused (errs, which then carry
// the warnings too) only when nothing identifying is left. noIdentity is
// the reason given then; column names the column of a store field.
func settle(f *contact.Fields, region string, warns []CellError, noIdentity string, column func(string) string) (errs, _ []CellError) {
	for range 3 {
		err := contact.Validate(*f, region, phone.Normalize)
		if err == nil {
			break
		}
		fields := perrs.As(err).Fields
		if len(fields) == 0 {
			return append(warns, CellError{Reason: perrs.As(err).Message}), nil
		}
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			warns = append(warns, CellError{Column: column(k), Value: dropField(f, k), Reason: strings.TrimSuffix(fields[k], ".") + "; the value was left out."})
		}
		compact(f)
	}
	if err := contact.Validate(*f, region, phone.Normalize); err != nil {
		return append(warns, CellError{Reason: perrs.As(err).Message}), nil
	}
	if !identifies(*f) {
		return append(warns, CellError{Reason: noIdentity}), nil
	}
	return nil, warns
}

// identifies reports whether f names anyone: a name, a company, an email
// or a phone.
func identifies(f contact.Fields) bool {
	for _, v := range []*string{f.FirstName, f.LastName, f.Company} {
		if v != nil && strings.TrimSpace(*v) != "" {
			return true
		}
	}
	return (f.Emails != nil && len(*f.Emails) > 0) || (f.Phones != nil && len(*f.Phones) > 0)
}

// dropField clears the value the store's error key names and returns it.
// Emails and phones are only marked (compact removes them), so the indexes
// of the other keys stay right.
func dropField(f *contact.Fields, key string) string {
	take := func(p **string) string {
		if *p == nil {
			return ""
		}
		v := **p
		*p = nil
		return v
	}
	switch key {
	case "first_name":
		return take(&f.FirstName)
	case "last_name":
		return take(&f.LastName)
	case "middle_name":
		return take(&f.MiddleName)
	case "nickname":
		return take(&f.Nickname)
	case "company":
		return take(&f.Company)
	case "job_title":
		return take(&f.JobTitle)
	case "website":
		return take(&f.Website)
	case "address":
		return take(&f.Address)
	case "marital_status":
		return take(&f.MaritalStatus)
	case "children":
		return take(&f.Children)
	case "pets":
		return take(&f.Pets)
	case "referred_by":
		return take(&f.ReferredBy)
	case "file_notes":
		return take(&f.FileNotes)
	case "birthday":
		f.Birthday = nil
		return ""
	case "emails":
		if f.Emails != nil && len(*f.Emails) > contact.MaxEmails {
			n := len(*f.Emails)
			*f.Emails = (*f.Emails)[:contact.MaxEmails]
			return fmt.Sprintf("%d more addresses", n-contact.MaxEmails)
		}
		for i := range *f.Emails {
			(*f.Emails)[i].Primary = i == 0
		}
		return ""
	case "phones":
		if f.Phones != nil && len(*f.Phones) > contact.MaxPhones {
			n := len(*f.Phones)
			*f.Phones = (*f.Phones)[:contact.MaxPhones]
			return fmt.Sprintf("%d more numbers", n-contact.MaxPhones)
		}
		for i := range *f.Phones {
			(*f.Phones)[i].Primary = i == 0
		}
		return ""
	}
	if i, ok := itemIndex(key, "emails["); ok && f.Emails != nil && i < len(*f.Emails) {
		e := &(*f.Emails)[i]
		if strings.HasSuffix(key, ".label") {
			v := e.Label
			e.Label = clip(e.Label, maxLabel)
			return v
		}
		v := e.Address
		e.Address = ""
		return v
	}
	if i, ok := itemIndex(key, "phones["); ok && f.Phones != nil && i < len(*f.Phones) {
		p := &(*f.Phones)[i]
		if strings.HasSuffix(key, ".label") {
			v := p.Label
			p.Label = clip(p.Label, maxLabel)
			return v
		}
		v := p.Number
		p.Number = ""
		return v
	}
	return ""
}

// compact removes the emails and phones dropField emptied, keeping one
// primary of each.
func compact(f *contact.Fields) {
	if f.Emails != nil {
		out := (*f.Emails)[:0]
		for _, e := range *f.Emails {
			if e.Address != "" {
				out = append(out, e)
			}
		}
		*f.Emails = out
		if len(out) > 0 && !slices.ContainsFunc(out, func(e contact.EmailInput) bool { return e.Primary }) {
			out[0].Primary = true
		}
	}
	if f.Phones != nil {
		out := (*f.Phones)[:0]
		for _, p := range *f.Phones {
			if p.Number != "" {
				out = append(out, p)
			}
		}
		*f.Phones = out
		if len(out) > 0 && !slices.ContainsFunc(out, func(p contact.PhoneInput) bool { return p.Primary }) {
			out[0].Primary = true
		}
	}
}

// fieldKey maps a target kind to the store's field name in its errors.
var fieldKey = map[string]string{
	FirstName: "first_name", LastName: "last_name", FullName: "first_name", Company: "company", Birthday: "birthday",
	MiddleName: "middle_name", Nickname: "nickname", JobTitle: "job_title", Website: "website",
	FileNotes: "file_notes", MaritalStatus: "marital_status", Children: "children", Pets: "pets", ReferredBy: "referred_by",
}

// maxLabel is the store's limit on an email or phone label; longer labels
// (a long iPhone custom label) are cut rather than failing the row.
const maxLabel = 40

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n]))
}

// itemIndex reads i from "emails[i]...".
func itemIndex(key, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return 0, false
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return 0, false
	}
	i, err := strconv.Atoi(rest[:end])
	return i, err == nil
}

func sortedSlots[T any](m map[int]T) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// splitName splits "Linh Tran" into "Linh", "Tran" and "Tran, Linh" into
// "Linh", "Tran".
func splitName(v string) (string, string) {
	if last, first, ok := strings.Cut(v, ","); ok {
		return strings.TrimSpace(first), strings.TrimSpace(last)
	}
	f := strings.Fields(v)
	if len(f) < 2 {
		return v, ""
	}
	return strings.Join(f[:len(f)-1], " "), f[len(f)-1]
}

// splitMulti splits Google's multi-value cells ("a@x ::: b@y").
func splitMulti(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ":::") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// splitList reads "a@x.com (Work); b@y.com" into value and label pairs.
func splitList(v string) [][2]string {
	var out [][2]string
	for _, p := range strings.Split(v, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		label := ""
		if i := strings.LastIndex(p, " ("); i > 0 && strings.HasSuffix(p, ")") {
			p, label = strings.TrimSpace(p[:i]), p[i+2:len(p)-1]
		}
		out = append(out, [2]string{p, label})
	}
	return out
}

// splitTags reads "VIP, Past client" or Google's "* myContacts ::: Friends",
// dropping Google's system groups.
func splitTags(v string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
		for _, q := range splitMulti(p) {
			q = strings.TrimSpace(strings.TrimPrefix(q, "* "))
			switch strings.ToLower(q) {
			case "", "mycontacts", "starred", "my contacts":
				continue
			}
			out = append(out, q)
		}
	}
	return out
}

// cleanLabel turns Google's "* Work" into "Work".
func cleanLabel(v string) string {
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), "*"))
}

func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "y", "true", "1", "x", "dnc":
		return true, true
	case "no", "n", "false", "0", "":
		return false, true
	}
	return false, false
}

// noDate is how Outlook writes an empty date.
func noDate(v string) bool {
	switch v {
	case "0/0/00", "0/0/0000", "00/00/0000", "00/00/00", "0000-00-00":
		return true
	}
	return false
}

// appleNoYear is the year Apple's Contacts writes for a birthday without
// one (BDAY:1604-03-14): 1604 is a leap year before any real birthday.
const appleNoYear = 1604

var birthdayLayouts = []string{"2006-01-02", "01/02/2006", "1/2/2006", "2006/01/02", "January 2, 2006", "Jan 2, 2006", "2 January 2006", "02.01.2006", "20060102"}

// ParseBirthday reads a birthday with or without the year: 1985-03-14,
// 03/14/1985, --03-14 (vCard and Google without a year), 03/14, March 14.
func ParseBirthday(v string) (contact.Birthday, bool) {
	v = strings.TrimSpace(v)
	if md, ok := strings.CutPrefix(v, "--"); ok { // --MM-DD or --MMDD
		md = strings.ReplaceAll(md, "-", "")
		if len(md) == 4 {
			mo, err1 := strconv.Atoi(md[:2])
			d, err2 := strconv.Atoi(md[2:])
			if err1 == nil && err2 == nil {
				return valid(contact.Birthday{Month: mo, Day: d})
			}
		}
		return contact.Birthday{}, false
	}
	for _, l := range birthdayLayouts {
		if t, err := time.Parse(l, v); err == nil {
			b := contact.Birthday{Month: int(t.Month()), Day: t.Day(), Year: t.Year()}
			if b.Year == appleNoYear {
				b.Year = 0
			}
			return valid(b)
		}
	}
	for _, l := range []string{"01/02", "1/2", "January 2", "Jan 2", "01-02"} {
		if t, err := time.Parse(l, v); err == nil {
			return valid(contact.Birthday{Month: int(t.Month()), Day: t.Day()})
		}
	}
	return contact.Birthday{}, false
}

func valid(b contact.Birthday) (contact.Birthday, bool) {
	if contact.BirthdayProblem(&b) != "" {
		return contact.Birthday{}, false
	}
	return b, true
}
