package csvio

import (
	"fmt"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/phone"
)

// Apply maps one record. A value that fails its check (an impossible
// birthday, an email without a domain, "not a phone", a custom value of the
// wrong type) costs only itself: it is left out and returned as a warning
// with the value, so the report keeps what was typed. The row is refused
// (errs) only when it cannot be read or nothing identifying is left: no
// name, company, email or phone.
func (m Mapping) Apply(header []string, rec Record, region string, fields map[string]contact.FieldDef) (e Entry, errs, warns []CellError) {
	if rec.Err != nil {
		return e, []CellError{{Reason: rec.Err.Error()}}, nil
	}
	r := &row{header: header, fields: fields, emails: map[int][]cellItem{}, phones: map[int][]cellItem{},
		emailLabels: map[int]string{}, phoneLabels: map[int]string{}, addrs: map[int]*address{}, cols: map[string]string{}}
	for i, v := range rec.Fields {
		if i < len(m) && v != "" {
			r.cell(i, m[i], v)
		}
	}
	set(&r.e.Fields.Address, joinAddresses(r.addrs))
	r.contactPoints(region)
	errs, warns = settle(&r.e.Fields, region, r.warns, "the row has no name, company, email or phone", r.column)
	return r.e, errs, warns
}

// cellItem is one email or phone as a cell gave it.
type cellItem struct {
	value, label, column string
}

// row is one record being mapped: the entry so far, the emails, phones and
// addresses gathered by slot, and the column each value came from.
type row struct {
	header                  []string
	fields                  map[string]contact.FieldDef
	e                       Entry
	warns                   []CellError
	emails, phones          map[int][]cellItem
	emailLabels             map[int]string
	phoneLabels             map[int]string
	extraEmails, extraPhone []cellItem
	addrs                   map[int]*address
	cols                    map[string]string // store field key -> the column it came from
	emailCols, phoneCols    []string          // the column of each kept email and phone
}

func (r *row) col(i int) string {
	if i < len(r.header) {
		return r.header[i]
	}
	return fmt.Sprintf("Column %d", i+1)
}

func (r *row) warn(column, value, reason string) {
	r.warns = append(r.warns, CellError{Column: column, Value: value, Reason: reason})
}

func (r *row) addr(slot int) *address {
	if r.addrs[slot] == nil {
		r.addrs[slot] = &address{}
	}
	return r.addrs[slot]
}

func set(p **string, v string) {
	if v != "" {
		*p = &v
	}
}

// cell maps value v of column i, whose target is t.
func (r *row) cell(i int, t Target, v string) {
	f := &r.e.Fields
	if key, ok := fieldKey[t.Kind]; ok {
		r.cols[key] = r.col(i)
	}
	switch t.Kind {
	case FirstName:
		set(&f.FirstName, v)
	case LastName:
		set(&f.LastName, v)
	case MiddleName:
		set(&f.MiddleName, v)
	case Nickname:
		set(&f.Nickname, v)
	case FullName:
		if f.FirstName == nil && f.LastName == nil {
			first, last := splitName(v)
			set(&f.FirstName, first)
			set(&f.LastName, last)
		}
	case Company:
		set(&f.Company, v)
	case JobTitle:
		set(&f.JobTitle, v)
	case Website:
		if f.Website != nil {
			r.warn(r.col(i), v, "a contact keeps one website; this one was left out")
			return
		}
		set(&f.Website, v)
	case Address:
		a := r.addr(t.Slot)
		a.add(t.Part, v)
		if a.label == "" {
			a.label = t.Label
		}
		r.cols["address"] = r.col(i)
	case AddressLabel:
		r.addr(t.Slot).label = cleanLabel(v)
	case Email:
		for _, a := range splitMulti(v) {
			r.emails[t.Slot] = append(r.emails[t.Slot], cellItem{a, t.Label, r.col(i)})
		}
	case EmailLabel:
		r.emailLabels[t.Slot] = cleanLabel(v)
	case EmailList:
		for _, it := range splitList(v) {
			r.extraEmails = append(r.extraEmails, cellItem{it[0], it[1], r.col(i)})
		}
	case Phone:
		for _, a := range splitMulti(v) {
			r.phones[t.Slot] = append(r.phones[t.Slot], cellItem{a, t.Label, r.col(i)})
		}
	case PhoneLabel:
		r.phoneLabels[t.Slot] = cleanLabel(v)
	case PhoneList:
		for _, it := range splitList(v) {
			r.extraPhone = append(r.extraPhone, cellItem{it[0], it[1], r.col(i)})
		}
	case Stage:
		r.e.Stage = v
	case Tags:
		r.e.Tags = append(r.e.Tags, splitTags(v)...)
	case Birthday:
		if noDate(v) {
			return
		}
		b, ok := ParseBirthday(v)
		if !ok {
			r.warn(r.col(i), v, "not a real date (such as 1985-03-14, 03/14/1985 or --03-14); the birthday was left out")
			return
		}
		bp := &b
		f.Birthday = &bp
	case Notes:
		if r.e.Note != "" {
			r.e.Note += "\n"
		}
		r.e.Note += v
	case FileNotes:
		set(&f.FileNotes, v)
	case MaritalStatus:
		set(&f.MaritalStatus, v)
	case Children:
		set(&f.Children, v)
	case Pets:
		set(&f.Pets, v)
	case ReferredBy:
		set(&f.ReferredBy, v)
	case DoNotContact:
		b, ok := parseBool(v)
		if !ok {
			r.warn(r.col(i), v, "not yes or no; do-not-contact was left unset")
			return
		}
		f.DoNotContact = &b
	case Custom:
		r.custom(i, t, v)
	}
}

// custom maps a custom field's value, checked against its type.
func (r *row) custom(i int, t Target, v string) {
	def, ok := r.fields[t.FieldID]
	if !ok {
		return
	}
	sv, msg := contact.CheckCustom(def, v)
	if msg != "" {
		r.warn(r.col(i), v, msg+" The value was left out.")
		return
	}
	if r.e.Fields.Custom == nil {
		r.e.Fields.Custom = map[string]string{}
	}
	r.e.Fields.Custom[t.FieldID] = sv
}

// kept is one email or phone that passed: its normalized value, the value
// to store, its label and the column it came from.
type kept struct {
	norm, value, label, column string
}

// gather normalizes the items of one kind, in slot order (each slot's own
// label column first) and then the list columns, dropping repeats and the
// ones normalize refuses (with a warning naming what was left out).
func (r *row) gather(slots map[int][]cellItem, labels map[int]string, extra []cellItem, what string, normalize func(string) (value, norm, msg string)) []kept {
	var out []kept
	seen := map[string]bool{}
	add := func(it cellItem, label string) {
		value, norm, msg := normalize(it.value)
		if msg != "" {
			r.warn(it.column, it.value, msg+" The "+what+" was left out.")
			return
		}
		if !seen[norm] {
			seen[norm] = true
			out = append(out, kept{norm: norm, value: value, label: clip(label, maxLabel), column: it.column})
		}
	}
	for _, s := range sortedSlots(slots) {
		for _, it := range slots[s] {
			add(it, firstNonEmpty(labels[s], it.label))
		}
	}
	for _, it := range extra {
		add(it, it.label)
	}
	return out
}

// contactPoints normalizes the gathered emails and phones, makes the first
// of each primary and puts faxes last.
func (r *row) contactPoints(region string) {
	var ems []contact.EmailInput
	for _, k := range r.gather(r.emails, r.emailLabels, r.extraEmails, "address", contact.NormalizeEmail) {
		ems = append(ems, contact.EmailInput{Address: k.value, Label: k.label, Primary: len(ems) == 0})
		r.emailCols = append(r.emailCols, k.column)
	}
	var phs []contact.PhoneInput
	phone := func(v string) (string, string, string) {
		e164, msg := phone.Normalize(v, region)
		return e164, e164, msg
	}
	for _, k := range r.gather(r.phones, r.phoneLabels, r.extraPhone, "number", phone) {
		phs = append(phs, contact.PhoneInput{Number: k.value, Label: k.label, Primary: len(phs) == 0})
		r.phoneCols = append(r.phoneCols, k.column)
	}
	if len(ems) > 0 {
		r.e.Fields.Emails = &ems
	}
	if len(phs) > 0 {
		phs = faxesLast(phs)
		r.e.Fields.Phones = &phs
	}
}

// column names the column a store field key (or emails[i], phones[i])
// came from, for a warning.
func (r *row) column(key string) string {
	if c, ok := r.cols[key]; ok {
		return c
	}
	if i, ok := itemIndex(key, "emails["); ok && i < len(r.emailCols) {
		return r.emailCols[i]
	}
	if i, ok := itemIndex(key, "phones["); ok && i < len(r.phoneCols) {
		return r.phoneCols[i]
	}
	return key
}
