package csvio

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/phone"
)

func seeds(f *testing.F, pattern string) {
	files, _ := filepath.Glob("testdata/" + pattern)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// drain reads every item of src and checks the import contract: an item
// without errors is a contact the store accepts, so every row either lands
// or is in the error report. It returns how many items there were.
func drain(t *testing.T, src Source) int {
	n := 0
	for {
		it, err := src.Next()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			return n // an I/O error ends the import and fails the job
		}
		n++
		if it.Row != n {
			t.Fatalf("item %d has row %d", n, it.Row)
		}
		if len(it.Errs) == 0 {
			if err := contact.Validate(it.Entry.Fields, "US", phone.Normalize); err != nil {
				t.Fatalf("row %d has no reported error but the store refuses it: %v (%+v)", it.Row, err, it.Entry.Fields)
			}
		}
	}
}

func FuzzCSVReader(f *testing.F) {
	seeds(f, "*.csv")
	seeds(f, "*.txt")
	f.Add([]byte("a,b\n\"unterminated,1\n"))
	f.Add([]byte("Email\n=1+1\n'=2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return // no header: the upload says so
		}
		drain(t, &CSVSource{R: r, Mapping: Guess(r.Header, nil), Region: "US"})
	})
}

func FuzzVCardReader(f *testing.F) {
	seeds(f, "*.vcf")
	f.Add([]byte("BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		drain(t, &VCardSource{R: NewVCardReader(bytes.NewReader(data)), Region: "US"})
	})
}

// FuzzMapping maps arbitrary headers and a row of arbitrary cells.
func FuzzMapping(f *testing.F) {
	f.Add("First Name,E-mail 1 - Value,E-mail 1 - Label,Phone 7 - Value,Birthday,Labels", "Ann,ann@example.com,* Work,808-555-0100,--02-29,* myContacts ::: VIP")
	f.Add("Name,Secondary Emails,Secondary Phones", "Tran\\, Linh,a@x.com (Work); b@y.com,+1 808 555 0100 (Home)")
	f.Fuzz(func(t *testing.T, header, row string) {
		var h, cells []string
		for _, s := range bytes.Split([]byte(header), []byte(",")) {
			h = append(h, string(s))
		}
		for _, s := range bytes.Split([]byte(row), []byte(",")) {
			cells = append(cells, string(s))
		}
		h = uniqueHeader(h)
		m := Guess(h, []contact.FieldDef{{ID: "f1", Name: "Loan Amount", Type: "number"}})
		e, errs, _ := m.Apply(h, Record{Row: 1, Fields: cells}, "US", map[string]contact.FieldDef{"f1": {ID: "f1", Name: "Loan Amount", Type: "number"}})
		if len(errs) == 0 {
			if err := contact.Validate(e.Fields, "US", phone.Normalize); err != nil {
				t.Fatalf("no reported error but the store refuses it: %v", err)
			}
		}
	})
}
