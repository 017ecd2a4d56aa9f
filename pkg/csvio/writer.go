package csvio

import (
	"encoding/csv"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/phone"
)

// Column is one column an export can write.
type Column struct {
	Key    string // "first_name", ..., "custom:<field id>"
	Header string
}

// DefaultColumns are what an export writes unless the user chooses.
var DefaultColumns = []string{"first_name", "last_name", "primary_email", "primary_phone", "company", "stage", "tags", "created", "last_contact"}

// columnHeaders names every built-in column.
var columnHeaders = map[string]string{
	"first_name": "First Name", "last_name": "Last Name", "primary_email": "Primary Email", "primary_phone": "Primary Phone",
	"company": "Company", "stage": "Primary List", "tags": "Secondary Tags", "created": "Created", "last_contact": "Last Contact",
	"primary_email_label": "Primary Email Label", "primary_phone_label": "Primary Phone Label",
	"secondary_emails": "Secondary Emails", "secondary_phones": "Secondary Phones", "birthday": "Birthday",
	"marital_status": "Marital Status", "children": "Children", "pets": "Pets", "referred_by": "Referred By",
	"file_notes": "Loan File Notes", "do_not_contact": "Do Not Contact",
	"id": "pi-crm ID", "spouse_id": "Spouse (pi-crm ID)", "referred_by_id": "Referred By (pi-crm ID)",
	"middle_name": "Middle Name", "nickname": "Nickname", "job_title": "Job Title", "website": "Website", "address": "Address",
}

// OptionalColumns are the built-in columns the chooser adds.
var OptionalColumns = []string{"middle_name", "nickname", "job_title", "website", "address", "primary_email_label", "primary_phone_label", "secondary_emails", "secondary_phones", "birthday",
	"marital_status", "children", "pets", "referred_by", "file_notes", "do_not_contact"}

// Columns resolves column keys (built-in or "custom:<id>") to headers,
// rejecting unknown ones.
func Columns(keys []string, fields []contact.FieldDef) ([]Column, error) {
	byID := map[string]string{}
	for _, f := range fields {
		byID[f.ID] = f.Name
	}
	out := make([]Column, 0, len(keys))
	for _, k := range keys {
		if id, ok := strings.CutPrefix(k, "custom:"); ok {
			name, found := byID[id]
			if !found {
				return nil, fmt.Errorf("no custom field %q in this workspace", id)
			}
			out = append(out, Column{Key: k, Header: name})
			continue
		}
		h, ok := columnHeaders[k]
		if !ok {
			return nil, fmt.Errorf("unknown column %q", k)
		}
		out = append(out, Column{Key: k, Header: h})
	}
	return out, nil
}

// HeaderOf names a built-in column key.
func HeaderOf(key string) string { return columnHeaders[key] }

// Writer writes contacts as CSV.
type Writer struct {
	w    *csv.Writer
	cols []Column
	rec  []string
	loc  *time.Location
}

// NewWriter writes the header row of cols to w, after a UTF-8 byte-order
// mark when bom (Excel on Windows needs it to read UTF-8). Times are
// written in loc.
func NewWriter(w io.Writer, cols []Column, bom bool, loc *time.Location) (*Writer, error) {
	if bom {
		if _, err := io.WriteString(w, "\ufeff"); err != nil {
			return nil, err
		}
	}
	cw := csv.NewWriter(w)
	head := make([]string, len(cols))
	for i, c := range cols {
		head[i] = Neutralize(c.Header)
	}
	if err := cw.Write(head); err != nil {
		return nil, err
	}
	return &Writer{w: cw, cols: cols, rec: make([]string, len(cols)), loc: loc}, nil
}

// Write writes one contact.
func (w *Writer) Write(r *contact.ExportRow) error {
	for i, c := range w.cols {
		w.rec[i] = Neutralize(w.cell(r, c.Key))
	}
	return w.w.Write(w.rec)
}

// Flush writes what is buffered and returns any write error.
func (w *Writer) Flush() error {
	w.w.Flush()
	return w.w.Error()
}

func (w *Writer) cell(r *contact.ExportRow, key string) string {
	switch key {
	case "first_name":
		return r.FirstName
	case "last_name":
		return r.LastName
	case "company":
		return r.Company
	case "primary_email", "primary_email_label":
		if len(r.Emails) == 0 {
			return ""
		}
		if key == "primary_email" {
			return r.Emails[0].Address
		}
		return r.Emails[0].Label
	case "primary_phone", "primary_phone_label":
		if len(r.Phones) == 0 {
			return ""
		}
		if key == "primary_phone" {
			return phone.FormatIntl(r.Phones[0].Number)
		}
		return r.Phones[0].Label
	case "secondary_emails":
		var b strings.Builder
		for i, e := range r.Emails {
			if i == 0 {
				continue
			}
			item(&b, e.Address, e.Label)
		}
		return b.String()
	case "secondary_phones":
		var b strings.Builder
		for i, p := range r.Phones {
			if i == 0 {
				continue
			}
			item(&b, phone.FormatIntl(p.Number), p.Label)
		}
		return b.String()
	case "stage":
		return r.Stage
	case "tags":
		return strings.Join(r.Tags, ", ")
	case "created":
		return r.CreatedAt.In(w.loc).Format("2006-01-02 15:04")
	case "last_contact":
		if r.LastContactAt == nil {
			return ""
		}
		return r.LastContactAt.In(w.loc).Format("2006-01-02 15:04")
	case "birthday":
		if r.Birthday == nil {
			return ""
		}
		if r.Birthday.Year == 0 {
			return fmt.Sprintf("--%02d-%02d", r.Birthday.Month, r.Birthday.Day)
		}
		return fmt.Sprintf("%04d-%02d-%02d", r.Birthday.Year, r.Birthday.Month, r.Birthday.Day)
	case "marital_status":
		return r.MaritalStatus
	case "children":
		return r.Children
	case "pets":
		return r.Pets
	case "id":
		return r.ID
	case "spouse_id":
		return r.SpouseID
	case "referred_by_id":
		return r.ReferredByID
	case "middle_name":
		return r.MiddleName
	case "nickname":
		return r.Nickname
	case "job_title":
		return r.JobTitle
	case "website":
		return r.Website
	case "address":
		return r.Address
	case "referred_by":
		return r.ReferredBy
	case "file_notes":
		return r.FileNotes
	case "do_not_contact":
		if r.DoNotContact {
			return "yes"
		}
		return ""
	}
	if id, ok := strings.CutPrefix(key, "custom:"); ok {
		return r.Custom[id]
	}
	return ""
}

func item(b *strings.Builder, v, label string) {
	if b.Len() > 0 {
		b.WriteString("; ")
	}
	b.WriteString(v)
	if label != "" {
		b.WriteString(" (" + label + ")")
	}
}

// plainNumber is a phone number or a number a spreadsheet shows as such:
// leaving its "+" or "-" alone cannot run anything.
var plainNumber = regexp.MustCompile(`^[+-]?[0-9][0-9 ().\-]*$`)

// Neutralize keeps a spreadsheet from running a cell as a formula: a cell
// starting with =, +, -, @, a tab or a carriage return gets a leading
// apostrophe, unless it is a plain number such as "+1 808-555-0100".
func Neutralize(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if (s[0] == '+' || s[0] == '-') && plainNumber.MatchString(s) {
			return s
		}
		return "'" + s
	}
	return s
}
