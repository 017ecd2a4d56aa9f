package csvio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// got is a mapped row in a form easy to compare.
type got struct {
	first, last, company, birthday, note string
	emails, phones, tags                 []string
	errs, warns                          []string
	details                              []string // middle name, nickname, job title, website, address
	line                                 int
}

func summarize(it Item) got {
	g := got{note: it.Entry.Note, tags: it.Entry.Tags}
	f := it.Entry.Fields
	if f.FirstName != nil {
		g.first = *f.FirstName
	}
	if f.LastName != nil {
		g.last = *f.LastName
	}
	if f.Company != nil {
		g.company = *f.Company
	}
	if f.Birthday != nil && *f.Birthday != nil {
		b := *f.Birthday
		g.birthday = fmt.Sprintf("%d-%02d-%02d", b.Year, b.Month, b.Day)
	}
	if f.Emails != nil {
		for _, e := range *f.Emails {
			g.emails = append(g.emails, fmt.Sprintf("%s/%s/%v", e.Address, e.Label, e.Primary))
		}
	}
	if f.Phones != nil {
		for _, p := range *f.Phones {
			g.phones = append(g.phones, fmt.Sprintf("%s/%s/%v", p.Number, p.Label, p.Primary))
		}
	}
	for _, e := range it.Errs {
		g.errs = append(g.errs, e.Error())
	}
	for _, e := range it.Warns {
		g.warns = append(g.warns, e.Column+"="+e.Value)
	}
	g.line = it.Line
	for _, v := range []*string{f.MiddleName, f.Nickname, f.JobTitle, f.Website, f.Address} {
		s := ""
		if v != nil {
			s = *v
		}
		g.details = append(g.details, s)
	}
	return g
}

func readAll(t *testing.T, src Source) []got {
	t.Helper()
	var out []got
	for {
		it, err := src.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, summarize(it))
	}
}

func openCSV(t *testing.T, name string) (*CSVSource, *Reader) {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return &CSVSource{R: r, Mapping: Guess(r.Header, nil), Region: "US"}, r
}

func join(s []string) string { return strings.Join(s, " | ") }

func check(t *testing.T, rows []got, i int, field, gotV, want string) {
	t.Helper()
	if gotV != want {
		t.Errorf("row %d %s = %q, want %q", i+1, field, gotV, want)
	}
}

func TestGoogleContactsCSV(t *testing.T) {
	src, r := openCSV(t, "google.csv")
	if r.Encoding != UTF8 || r.Delimiter != ',' {
		t.Fatalf("detected %s %q", r.Encoding, r.Delimiter)
	}
	for i, h := range r.Header {
		if strings.HasPrefix(h, "Phonetic") && src.Mapping[i].Kind != Ignore {
			t.Errorf("%q is mapped to %+v", h, src.Mapping[i])
		}
	}
	if m := src.Mapping[indexOf(r.Header, "Phone 1 - Value")]; m.Kind != Phone || m.Slot != 0 {
		t.Errorf("Phone 1 - Value is %+v, want the primary phone", m)
	}
	rows := readAll(t, src)
	if len(rows) != 4 {
		t.Fatalf("%d rows", len(rows))
	}
	check(t, rows, 0, "name", rows[0].first+" "+rows[0].last, "Linh Tran")
	check(t, rows, 0, "company", rows[0].company, "Loan Factory")
	// Middle name, job title and address are kept, the address from its
	// parts (Google's Formatted column may leave out the postal code).
	check(t, rows, 0, "details", join(rows[0].details), "Thi |  | Loan Officer |  | 1 Aloha St\nHonolulu, HI 96813\nUS")
	check(t, rows, 0, "emails", join(rows[0].emails), "linh@loanfactory.example/Work/true | linh.tran@example.com/Home/false")
	check(t, rows, 0, "phones", join(rows[0].phones), "+18085550100/Mobile/true | +14155550199/Work/false | +14155550198/Work/false")
	check(t, rows, 0, "birthday", rows[0].birthday, "1985-03-14")
	check(t, rows, 0, "tags", join(rows[0].tags), "VIP")
	check(t, rows, 0, "note", rows[0].note, "Met at the open house.\nPrefers text.")
	check(t, rows, 1, "birthday", rows[1].birthday, "0-12-01")
	check(t, rows, 2, "company", rows[2].company, "Aloha Homes")
	check(t, rows, 2, "tags", join(rows[2].tags), "Brokers")
	// A bad address costs the address, not the contact: the row imports
	// by its name, with a warning holding what was typed and the line
	// (the header is line 1; row 1's note spans two lines).
	check(t, rows, 3, "name", rows[3].first+" "+rows[3].last, "Bad Email")
	check(t, rows, 3, "errors", join(rows[3].errs), "")
	check(t, rows, 3, "warnings", join(rows[3].warns), "E-mail 1 - Value=not-an-email")
	check(t, rows, 3, "line", fmt.Sprint(rows[3].line), "7")
}

func TestGoogleLegacyCSV(t *testing.T) {
	src, _ := openCSV(t, "google-legacy.csv")
	rows := readAll(t, src)
	if len(rows) != 1 {
		t.Fatalf("%d rows", len(rows))
	}
	check(t, rows, 0, "name", rows[0].first+" "+rows[0].last, "Mai Nguyen")
	check(t, rows, 0, "company", rows[0].company, "RateReady")
	check(t, rows, 0, "emails", join(rows[0].emails), "mai@example.com/Home/true")
	check(t, rows, 0, "phones", join(rows[0].phones), "+18085550111/Mobile/true | +18085550112/Work/false")
	check(t, rows, 0, "tags", join(rows[0].tags), "Past Client")
}

func TestOutlookCSVInWindows1252(t *testing.T) {
	src, r := openCSV(t, "outlook-1252.csv")
	if r.Encoding != Windows1252 {
		t.Fatalf("encoding %s", r.Encoding)
	}
	rows := readAll(t, src)
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	check(t, rows, 0, "name", rows[0].first+" "+rows[0].last, "José Müller")
	check(t, rows, 0, "company", rows[0].company, "Café Pacífico")
	check(t, rows, 0, "emails", join(rows[0].emails), "jose@example.com//true | jose.m@example.com//false")
	check(t, rows, 0, "phones", join(rows[0].phones), "+18085550123/Mobile/true | +18085550124/Work/false") // the mobile is the primary
	check(t, rows, 0, "birthday", rows[0].birthday, "1980-03-14")
	check(t, rows, 0, "tags", join(rows[0].tags), "VIP | Coldwell Banker")
	check(t, rows, 0, "note", rows[0].note, "Señor — prefers email")
	if len(rows[1].errs) != 0 || rows[1].birthday != "" {
		t.Errorf("Outlook's empty birthday 0/0/00: %v %q", rows[1].errs, rows[1].birthday)
	}
}

func TestMessyCSV(t *testing.T) {
	src, r := openCSV(t, "messy.csv")
	if r.Encoding != UTF8BOM || r.Delimiter != ';' {
		t.Fatalf("detected %s %q", r.Encoding, r.Delimiter)
	}
	if join(r.Header) != "Name | Email | Email (2) | Phone | Notes" {
		t.Fatalf("header %v", r.Header)
	}
	rows := readAll(t, src)
	if len(rows) != 3 { // blank lines and the all-empty row are skipped
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	check(t, rows, 0, "name", rows[0].first+"/"+rows[0].last, "Linh/Tran")
	check(t, rows, 0, "emails", join(rows[0].emails), "linh@example.com//true") // the same address twice, once
	check(t, rows, 0, "note", rows[0].note, "line one\nline two; with semicolon")
	check(t, rows, 1, "name", rows[1].first+"/"+rows[1].last, "Kai/Kealoha") // a ragged row
	check(t, rows, 2, "emails", join(rows[2].emails), "pele@example.com//true | pele.work@example.com//false")
}

func TestExcelUTF16TabText(t *testing.T) {
	src, r := openCSV(t, "excel-utf16.txt")
	if r.Encoding != UTF16LE || r.Delimiter != '\t' {
		t.Fatalf("detected %s %q", r.Encoding, r.Delimiter)
	}
	rows := readAll(t, src)
	if len(rows) != 1 || rows[0].first+" "+rows[0].last != "Zoë Đặng" || join(rows[0].phones) != "+18085550131/Mobile/true" {
		t.Fatalf("%+v", rows)
	}
}

func openVCard(t *testing.T, name string) Source {
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &VCardSource{R: NewVCardReader(f), Region: "US"}
}

func TestIPhoneVCard(t *testing.T) {
	rows := readAll(t, openVCard(t, "iphone.vcf"))
	if len(rows) != 3 {
		t.Fatalf("%d cards", len(rows))
	}
	check(t, rows, 0, "name", rows[0].first+" "+rows[0].last, "Pele Akana")
	check(t, rows, 0, "company", rows[0].company, "Coldwell Banker")
	check(t, rows, 0, "emails", join(rows[0].emails), "pele@example.com/Other/true | pele@cb.example/Work/false")
	check(t, rows, 0, "phones", join(rows[0].phones), "+18085550150/Mobile/true | +18085550151/Open house line/false")
	check(t, rows, 0, "birthday", rows[0].birthday, "1979-10-02")
	check(t, rows, 0, "note", rows[0].note, "Listing agent for 12 Kahala Ave.\nCall after 3pm.")
	check(t, rows, 1, "birthday", rows[1].birthday, "0-12-01")
	check(t, rows, 2, "name", rows[2].first+" "+rows[2].last, "Broken Card")
	check(t, rows, 2, "errors", join(rows[2].errs), "")
	check(t, rows, 2, "warnings", join(rows[2].warns), "EMAIL=not an email")
	check(t, rows, 2, "line", fmt.Sprint(rows[2].line), "29")
	check(t, rows, 0, "details", join(rows[0].details), "K. | Pele | Realtor Associate | https://cb.example/pele | 12 Kahala Ave\nSuite 200\nHonolulu, HI 96816\nUnited States")
}

func TestGoogleVCard(t *testing.T) {
	rows := readAll(t, openVCard(t, "google.vcf"))
	if len(rows) != 2 {
		t.Fatalf("%d cards", len(rows))
	}
	check(t, rows, 0, "emails", join(rows[0].emails), "mai@example.com/Home/true | mai@rateready.example/Work/false")
	check(t, rows, 0, "tags", join(rows[0].tags), "Past Client")
	check(t, rows, 1, "phones", join(rows[1].phones), "+18085550160/Mobile/true")
	check(t, rows, 1, "birthday", rows[1].birthday, "1992-02-29")
}

func TestNeutralize(t *testing.T) {
	for in, want := range map[string]string{
		"=SUM(A1)": "'=SUM(A1)", "+1 808 555 0100": "+1 808 555 0100", "+1 808-555-0100": "+1 808-555-0100", "-42": "-42",
		"@cmd": "'@cmd", "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0", "-2+3": "'-2+3", "\tx": "'\tx", "plain": "plain", "": "",
	} {
		if got := Neutralize(in); got != want {
			t.Errorf("Neutralize(%q) = %q, want %q", in, got, want)
		}
		if got := unneutralize(Neutralize(in)); got != in {
			t.Errorf("unneutralize(Neutralize(%q)) = %q", in, got)
		}
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestOutlookClassicCSV: the classic Outlook export (every field quoted,
// CRLF, Windows-1252, 92 columns) with its "E-mail Type" (SMTP) and
// "E-mail Display Name" beside each address: both are ignored, every row
// imports, and the mobile is the primary phone though Business Phone comes
// first; faxes are not phones.
func TestOutlookClassicCSV(t *testing.T) {
	src, r := openCSV(t, "outlook-classic-1252.csv")
	if r.Encoding != Windows1252 || len(r.Header) != 92 {
		t.Fatalf("encoding %s, %d columns", r.Encoding, len(r.Header))
	}
	for i, h := range r.Header {
		if tg := src.Mapping[i]; strings.Contains(h, "Type") || strings.Contains(h, "Display Name") {
			if tg.Kind != "" {
				t.Errorf("column %q is mapped to %+v, want ignored", h, tg)
			}
		}
	}
	rows := readAll(t, src)
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	for i, r := range rows {
		if len(r.errs) != 0 {
			t.Errorf("row %d refused: %v", i+1, r.errs)
		}
	}
	check(t, rows, 0, "emails", join(rows[0].emails), "keoni@aloharealty.example//true | keoni.home@example.com//false")
	check(t, rows, 0, "phones", join(rows[0].phones), "+18085550132/Mobile/true | +18085550131/Work/false | +18085550139/Work fax/false")
	check(t, rows, 0, "company", rows[0].company, "Aloha Realty")
	check(t, rows, 0, "birthday", rows[0].birthday, "1979-07-04")
	check(t, rows, 0, "tags", join(rows[0].tags), "Realtor | Past Client")
	check(t, rows, 1, "phones", join(rows[1].phones), "+18085550141/Work/true") // no mobile: the business phone is the primary
	check(t, rows, 2, "name", rows[2].first+" "+rows[2].last, "Renée Côté")
	check(t, rows, 2, "phones", join(rows[2].phones), "+18085550151/Mobile/true")
}

// TestAndroidVCard21: cards as Android's Contacts app exports them (vCard
// 2.1: quoted-printable UTF-8 with soft line breaks, bare TEL;CELL;PREF
// parameters, a base64 PHOTO running over lines), and a loose 3.0 card
// with bare parameters and an escaped semicolon, all import whole.
func TestAndroidVCard21(t *testing.T) {
	rows := readAll(t, openVCard(t, "android-21.vcf"))
	if len(rows) != 4 {
		t.Fatalf("%d cards", len(rows))
	}
	for i, r := range rows {
		if len(r.errs) != 0 {
			t.Errorf("card %d refused: %v", i+1, r.errs)
		}
	}
	check(t, rows, 0, "name", rows[0].first+" "+rows[0].last, "Leilani Kō")
	check(t, rows, 0, "phones", join(rows[0].phones), "+18085550161/Mobile/true | +18085550162/Home/false")
	check(t, rows, 0, "emails", join(rows[0].emails), "leilani@example.com/Home/true | leilani@work.example/Work/false")
	check(t, rows, 0, "company", rows[0].company, "Mahalo Mortgage")
	check(t, rows, 0, "note", rows[0].note, "Pre-approved for $850k.\nLikes Kailua; wants a yard.")
	check(t, rows, 0, "birthday", rows[0].birthday, "1988-06-21")
	check(t, rows, 1, "phones", join(rows[1].phones), "+18085550171/Work/true | +18085550172/Mobile/false")
	check(t, rows, 2, "emails", join(rows[2].emails), "noe@example.com/Home/true")
	// A card with a number that is no number, an address without a
	// domain and 29 February of a common year imports by its name and
	// mobile, each bad value a warning.
	check(t, rows, 3, "name", rows[3].first+" "+rows[3].last, "Mele Kahale")
	check(t, rows, 3, "phones", join(rows[3].phones), "+18085550177/Mobile/true")
	check(t, rows, 3, "warnings", join(rows[3].warns), "BDAY=1985-02-29 | EMAIL=mele@kahale | TEL=call the office")
	check(t, rows, 2, "phones", join(rows[2].phones), "+18085550181/Mobile/true")
	check(t, rows, 2, "note", rows[2].note, "Closing on 12/15; sends docs by fax, not email.\nCall first.")
}

// TestIPhoneSpecifics: Apple's conventions. X-ABShowAs:COMPANY makes a
// company's card (its name is the company, not a person); BDAY:1604-MM-DD
// is a birthday without a year; a FAX is kept with a Fax label, after the
// numbers one calls, and never as the primary.
func TestIPhoneSpecifics(t *testing.T) {
	rows := readAll(t, openVCard(t, "iphone-specifics.vcf"))
	if len(rows) != 3 {
		t.Fatalf("%d cards", len(rows))
	}
	for i, r := range rows {
		if len(r.errs) != 0 {
			t.Errorf("card %d refused: %v", i+1, r.errs)
		}
	}
	check(t, rows, 0, "name", rows[0].first+"|"+rows[0].last, "|")
	check(t, rows, 0, "company", rows[0].company, "Aloha Title & Escrow")
	check(t, rows, 0, "phones", join(rows[0].phones), "+18085550191/Work/true | +18085550199/Work fax/false")
	check(t, rows, 1, "phones", join(rows[1].phones), "+18085550192/Mobile/true | +18085550198/Home fax/false")
	check(t, rows, 1, "birthday", rows[1].birthday, "0-02-29")
	check(t, rows, 2, "phones", join(rows[2].phones), "+18085550197/Work fax/false")
}

// TestBadFieldsCostOnlyTheField: an impossible birthday (29 February of a
// common year, 30 February, 1813), an email without a domain, "not a
// phone", a do-not-contact that is neither yes nor no and a website that
// is none leave out that value, with a warning holding it, and the row
// imports; a row left with nothing identifying is refused, its warnings
// saying why.
func TestBadFieldsCostOnlyTheField(t *testing.T) {
	src, _ := openCSV(t, "bad-fields.csv")
	rows := readAll(t, src)
	if len(rows) != 7 {
		t.Fatalf("%d rows", len(rows))
	}
	want := []struct{ name, warns, line string }{
		{"Ana Leap", "Birthday=1985-02-29", "2"},
		{"Ben Thirty", "Birthday=2/30/1990", "3"},
		{"Cal Old", "Birthday=5/5/1813", "4"},
		{"Dee NoTLD", "E-mail Address=dee@example", "5"},
		{"Eve NotPhone", "Mobile Phone=not a phone", "6"},
		{"", "", "7"},
		{"Fay Web", "Do Not Contact=maybe | Web Page=not a website!!", "8"},
	}
	for i, w := range want {
		r := rows[i]
		check(t, rows, i, "line", fmt.Sprint(r.line), w.line)
		if w.name == "" {
			continue
		}
		check(t, rows, i, "name", r.first+" "+r.last, w.name)
		check(t, rows, i, "errors", join(r.errs), "")
		check(t, rows, i, "warnings", join(r.warns), w.warns)
	}
	check(t, rows, 0, "emails", join(rows[0].emails), "ana@example.com//true")
	check(t, rows, 0, "birthday", rows[0].birthday, "")
	check(t, rows, 3, "phones", join(rows[3].phones), "+18085550104/Mobile/true")
	check(t, rows, 3, "emails", join(rows[3].emails), "")
	// Nothing left: refused, and the report says what was wrong with each
	// value as well as why the row could not be kept.
	r := rows[5]
	if len(r.errs) != 3 || !strings.Contains(r.errs[0], "E-mail Address") || !strings.Contains(r.errs[1], "Mobile Phone") ||
		!strings.Contains(r.errs[2], "no name, company, email or phone") {
		t.Errorf("row 6 errors %q", r.errs)
	}
}

// TestOutlookDetails: Outlook's address parts (Business and Home, streets
// 1-3, state, postal code, Country/Region), Middle Name, Job Title and Web
// Page land in the contact's fields, each address labeled; its "0/0/00"
// dates are no dates; Title and Suffix are not the job title.
func TestOutlookDetails(t *testing.T) {
	src, r := openCSV(t, "outlook-details-1252.csv")
	if r.Encoding != Windows1252 {
		t.Fatalf("encoding %s", r.Encoding)
	}
	rows := readAll(t, src)
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	check(t, rows, 0, "errors", join(rows[0].errs), "")
	check(t, rows, 0, "warnings", join(rows[0].warns), "")
	check(t, rows, 0, "details", join(rows[0].details), "Kenji |  | Escrow Officer | https://www.pte.example | "+
		"Business:\n1001 Bishop St\nSuite 900\nHonolulu, HI 96813\nUnited States of America\n\nHome:\n45 Kailua Rd\nKailua, HI 96734")
	check(t, rows, 0, "phones", join(rows[0].phones), "+18085550161/Mobile/true | +18085550160/Work/false")
	check(t, rows, 1, "name", rows[1].first+" "+rows[1].last, "Malia Café")
	check(t, rows, 1, "errors", join(rows[1].errs), "")
	check(t, rows, 1, "warnings", join(rows[1].warns), "Birthday=2/30/1990 | E-mail Address=malia@example | Web Page=http://")
}
