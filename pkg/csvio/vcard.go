package csvio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-vcard"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/phone"
)

// VCardReader reads the cards of a .vcf file one at a time. It splits the
// stream at BEGIN/END lines itself and decodes each card on its own, so a
// damaged card is reported and the ones after it still import.
type VCardReader struct {
	sc   *bufio.Scanner
	row  int
	line int // lines read
	done bool
}

// maxCard bounds one card (a photo can make a card large).
const maxCard = 4 << 20

// NewVCardReader reads vCards (2.1 as Android exports them, 3.0 and 4.0 as
// iPhone and Google do) from r, in any encoding Decode knows.
func NewVCardReader(r io.Reader) *VCardReader {
	dec, _ := Decode(r)
	sc := bufio.NewScanner(dec)
	sc.Buffer(make([]byte, 64<<10), maxCard)
	return &VCardReader{sc: sc}
}

// IsVCard reports whether a file's start looks like a vCard.
func IsVCard(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte{0xEF, 0xBB, 0xBF})
	return bytes.HasPrefix(bytes.ToUpper(bytes.TrimSpace(head)), []byte("BEGIN:VCARD"))
}

// Next returns the next card mapped to an Entry, or io.EOF.
func (v *VCardReader) Next(region string) (Item, error) {
	if v.done {
		return Item{}, io.EOF
	}
	var buf bytes.Buffer
	in := false
	start := 0
	for v.sc.Scan() {
		v.line++
		line := v.sc.Text()
		upper := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case upper == "BEGIN:VCARD":
			buf.Reset()
			in, start = true, v.line
		case !in:
			continue
		}
		buf.WriteString(line)
		buf.WriteString("\r\n")
		if upper == "END:VCARD" {
			v.row++
			it := v.card(buf.Bytes(), region)
			it.Line = start
			if len(it.Errs)+len(it.Warns) > 0 {
				it.Data = []string{cardText(buf.Bytes())}
			}
			return it, nil
		}
	}
	if err := v.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			v.row++
			v.done = true // the scanner cannot go on past an over-long line
			return Item{Row: v.row, Errs: []CellError{{Reason: "a card has a line longer than 4 MB; it and the cards after it were not read"}}}, nil
		}
		return Item{}, err
	}
	if in {
		v.row++
		v.done = true
		return Item{Row: v.row, Errs: []CellError{{Reason: "the last card has no END:VCARD"}}}, nil
	}
	return Item{}, io.EOF
}

func (v *VCardReader) card(raw []byte, region string) Item {
	it := Item{Row: v.row}
	card, err := vcard.NewDecoder(bytes.NewReader(prepCard(raw))).Decode()
	if err != nil {
		it.Errs = []CellError{{Reason: fmt.Sprintf("unreadable card: %v", err)}}
		return it
	}
	labels := map[string]string{} // iPhone: item1.X-ABLabel:_$!<Other>!$_
	for _, f := range card["X-ABLABEL"] {
		if f.Group != "" {
			labels[f.Group] = strings.TrimSuffix(strings.TrimPrefix(f.Value, "_$!<"), ">!$_")
		}
	}
	e := &it.Entry
	set := func(p **string, v string) {
		if v = strings.TrimSpace(v); v != "" {
			*p = &v
		}
	}
	if n := card.Name(); n != nil {
		set(&e.Fields.FirstName, n.GivenName)
		set(&e.Fields.MiddleName, strings.ReplaceAll(n.AdditionalName, ",", " "))
		set(&e.Fields.LastName, n.FamilyName)
	}
	set(&e.Fields.Nickname, card.PreferredValue(vcard.FieldNickname))
	set(&e.Fields.JobTitle, firstNonEmpty(card.PreferredValue(vcard.FieldTitle), card.PreferredValue(vcard.FieldRole)))
	set(&e.Fields.Website, card.PreferredValue(vcard.FieldURL))
	set(&e.Fields.Address, vAddresses(card, labels))
	org := strings.Split(card.PreferredValue(vcard.FieldOrganization), ";")[0]
	// Apple marks a company's card X-ABShowAs:COMPANY: its FN is the
	// company, never a person's name.
	company := strings.EqualFold(strings.TrimSpace(card.Value("X-ABSHOWAS")), "COMPANY")
	if company && org == "" {
		org = card.PreferredValue(vcard.FieldFormattedName)
	}
	if e.Fields.FirstName == nil && e.Fields.LastName == nil && !company {
		// A card for a company names it in FN too: that is not a person.
		if fn := card.PreferredValue(vcard.FieldFormattedName); fn != "" && fn != org {
			first, last := splitName(fn)
			set(&e.Fields.FirstName, first)
			set(&e.Fields.LastName, last)
		}
	}
	if org != "" {
		set(&e.Fields.Company, org)
	}
	if bd := card.Value(vcard.FieldBirthday); bd != "" {
		if b, ok := ParseBirthday(strings.Split(bd, "T")[0]); ok {
			bp := &b
			e.Fields.Birthday = &bp
		} else {
			it.Warns = append(it.Warns, CellError{"BDAY", bd, "not a real date; the birthday was left out"})
		}
	}
	for _, n := range card.Values(vcard.FieldNote) {
		if e.Note != "" {
			e.Note += "\n"
		}
		e.Note += strings.ReplaceAll(n, `\;`, ";") // the decoder unescapes "\," and "\n", not "\;"
	}
	e.Tags = append(e.Tags, splitTags(strings.Join(card.Values(vcard.FieldCategories), ","))...)
	var ems []contact.EmailInput
	seen := map[string]bool{}
	for _, f := range ordered(card[vcard.FieldEmail]) {
		addr, norm, msg := contact.NormalizeEmail(f.Value)
		if msg != "" {
			it.Warns = append(it.Warns, CellError{"EMAIL", f.Value, msg + " The address was left out."})
			continue
		}
		if !seen[norm] {
			seen[norm] = true
			ems = append(ems, contact.EmailInput{Address: addr, Label: clip(vLabel(f, labels), maxLabel), Primary: len(ems) == 0})
		}
	}
	var phs []contact.PhoneInput
	for _, f := range ordered(card[vcard.FieldTelephone]) {
		num := strings.TrimPrefix(f.Value, "tel:")
		e164, msg := phone.Normalize(num, region)
		if msg != "" {
			it.Warns = append(it.Warns, CellError{"TEL", f.Value, msg + " The number was left out."})
			continue
		}
		if seen[e164] {
			continue
		}
		seen[e164] = true
		label := clip(vLabel(f, labels), maxLabel)
		// A fax is labeled so (faxesLast keeps it, last, never primary).
		if f.Params.HasType("fax") {
			switch l := vLabel(f, labels); {
			case l == "" || l == "Fax":
				label = "Fax"
			default:
				label = clip(l, maxLabel-len(" fax")) + " fax"
			}
		}
		phs = append(phs, contact.PhoneInput{Number: e164, Label: label})
	}
	phs = faxesLast(phs)
	if len(ems) > 0 {
		e.Fields.Emails = &ems
	}
	if len(phs) > 0 {
		e.Fields.Phones = &phs
	}
	it.Errs, it.Warns = settle(&e.Fields, region, it.Warns, "the card has no name, organization, email or phone", func(key string) string {
		switch {
		case strings.HasPrefix(key, "emails"):
			return "EMAIL"
		case strings.HasPrefix(key, "phones"):
			return "TEL"
		}
		if p, ok := vProperty[key]; ok {
			return p
		}
		return "N"
	})
	return it
}

// vAddresses writes a card's postal addresses as people do, one line per
// part ("12 Kapiolani Blvd\nHonolulu, HI 96813\nUSA"), the preferred first;
// when there are several, each starts with its label.
func vAddresses(card vcard.Card, labels map[string]string) string {
	addrs := map[int]*address{}
	for i, f := range ordered(card[vcard.FieldAddress]) {
		p := strings.Split(f.Value, ";")
		for len(p) < 7 {
			p = append(p, "")
		}
		for i := range p {
			p[i] = strings.TrimSpace(strings.ReplaceAll(p[i], `\,`, ","))
		}
		// pobox; extended; street; locality; region; postal code; country
		addrs[i] = &address{label: vLabel(f, labels), street: nonEmpty(p[0], p[1], p[2]), city: p[3], region: p[4], postal: p[5], country: p[6]}
	}
	return joinAddresses(addrs)
}

func nonEmpty(vs ...string) []string {
	var out []string
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// vProperty names the vCard property of a store field, for the report.
var vProperty = map[string]string{"company": "ORG", "birthday": "BDAY", "nickname": "NICKNAME", "job_title": "TITLE", "website": "URL", "address": "ADR"}

// cardText is a card as the report shows it: its lines without the photo,
// at most 8 KB.
func cardText(raw []byte) string {
	var b strings.Builder
	photo := false
	for _, l := range strings.Split(strings.TrimRight(string(raw), "\r\n"), "\r\n") {
		if photo && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
			continue // a folded line of the photo
		}
		photo = strings.HasPrefix(strings.ToUpper(l), "PHOTO")
		if photo || b.Len()+len(l) > 8<<10 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	return b.String()
}

// ordered puts the preferred field first, keeping the file's order.
func ordered(fs []*vcard.Field) []*vcard.Field {
	out := make([]*vcard.Field, 0, len(fs))
	for _, f := range fs {
		if f.Params.HasType("pref") || f.Params.Get("PREF") == "1" {
			out = append([]*vcard.Field{f}, out...)
		} else {
			out = append(out, f)
		}
	}
	return out
}

// vLabel names a field from its iPhone group label or its TYPE.
func vLabel(f *vcard.Field, labels map[string]string) string {
	if l, ok := labels[f.Group]; ok && f.Group != "" {
		return l
	}
	for _, t := range f.Params.Types() {
		switch t {
		case "", "internet", "pref", "voice", "x400", "fax":
		case "cell":
			return "Mobile"
		case "iphone":
			return "iPhone"
		default:
			return strings.ToUpper(t[:1]) + t[1:]
		}
	}
	return ""
}

// VCardWriter writes contacts as vCard 4.0.
type VCardWriter struct{ enc *vcard.Encoder }

// NewVCardWriter writes to w.
func NewVCardWriter(w io.Writer) *VCardWriter { return &VCardWriter{enc: vcard.NewEncoder(w)} }

// Write writes one contact: name, organization, emails and phones with
// their labels (the primary marked PREF=1), birthday, tags as categories.
func (v *VCardWriter) Write(r *contact.ExportRow) error {
	c := vcard.Card{}
	c.SetValue(vcard.FieldVersion, "4.0")
	fn := strings.TrimSpace(r.FirstName + " " + r.LastName)
	if fn == "" {
		fn = r.Company
	}
	c.SetValue(vcard.FieldFormattedName, fn)
	c.SetName(&vcard.Name{GivenName: r.FirstName, AdditionalName: r.MiddleName, FamilyName: r.LastName})
	if r.Company != "" {
		c.SetValue(vcard.FieldOrganization, r.Company)
	}
	for key, v := range map[string]string{vcard.FieldNickname: r.Nickname, vcard.FieldTitle: r.JobTitle, vcard.FieldURL: r.Website} {
		if v != "" {
			c.SetValue(key, v)
		}
	}
	if r.Address != "" {
		// The address is one block of text: it goes in the street part,
		// which every reader shows whole.
		c.SetValue(vcard.FieldAddress, ";;"+strings.ReplaceAll(r.Address, ";", ",")+";;;;")
	}
	item := 0
	add := func(key, value, label string, primary bool) {
		f := &vcard.Field{Value: value, Params: vcard.Params{}}
		if t, ok := standardTypes[strings.ToLower(label)]; ok {
			f.Params.Add(vcard.ParamType, t)
		} else if label != "" {
			// A label of the user's own goes in an Apple-style group, as
			// iPhone and macOS write and read it.
			item++
			f.Group = fmt.Sprintf("item%d", item)
			c.Add("X-ABLABEL", &vcard.Field{Value: label, Group: f.Group})
		}
		if primary {
			f.Params.Add("PREF", "1")
		}
		c.Add(key, f)
	}
	for _, e := range r.Emails {
		add(vcard.FieldEmail, e.Address, e.Label, e.Primary)
	}
	for _, p := range r.Phones {
		add(vcard.FieldTelephone, p.Number, p.Label, p.Primary)
	}
	if b := r.Birthday; b != nil {
		if b.Year != 0 {
			c.SetValue(vcard.FieldBirthday, fmt.Sprintf("%04d%02d%02d", b.Year, b.Month, b.Day))
		} else {
			c.SetValue(vcard.FieldBirthday, fmt.Sprintf("--%02d%02d", b.Month, b.Day))
		}
	}
	if len(r.Tags) > 0 {
		c.SetValue(vcard.FieldCategories, strings.Join(r.Tags, ","))
	}
	if r.FileNotes != "" {
		c.SetValue(vcard.FieldNote, r.FileNotes)
	}
	c.SetValue(vcard.FieldUID, "urn:uuid:"+r.ID)
	return v.enc.Encode(c)
}

// standardTypes are the labels vCard names itself, written as TYPE.
var standardTypes = map[string]string{"home": "home", "work": "work", "mobile": "cell", "other": "other", "iphone": "iphone", "main": "main"}
