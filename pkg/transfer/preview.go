package transfer

import (
	"context"
	"errors"
	"io"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/csvio"
)

// Preview limits: rows shown as they will be stored, rows scanned for
// duplicates, duplicate rows listed for a choice each.
const (
	PreviewRows   = 5
	scanRows      = 2000
	listDuplicate = 200
	listProblems  = 100
)

// PreviewRow is a row as it will be stored, with its problems and the
// contacts it duplicates.
type PreviewRow struct {
	Row     int
	Line    int // in the file; the header is line 1
	Entry   csvio.Entry
	Errs    []csvio.CellError // why the row will not be imported
	Warns   []csvio.CellError // values it will be imported without
	Matches []contact.Match
	InFile  int // an earlier row of the file with the same email or phone
}

// Preview is what the mapping page shows.
type Preview struct {
	Rows       []PreviewRow
	Duplicates []PreviewRow // rows that match a contact or an earlier row
	Problems   []PreviewRow // rows with errors or warnings, the first listProblems
	Scanned    int          // rows the duplicate scan read
	Invalid    int          // rows among them that will not be imported
	Warned     int          // rows among them that will be imported without some values
	// Filled says which columns of a CSV hold a value in a scanned row
	// (Outlook writes 90 columns, most of them empty).
	Filled []bool
}

// Preview maps the job's first rows with its current mapping and scans the
// first rows for duplicates.
func (im *Imports) Preview(ctx context.Context, actor auth.Actor, wsID, id string) (Preview, error) {
	var p Preview
	j, err := im.Get(ctx, actor, wsID, id)
	if err != nil {
		return p, err
	}
	fields, err := im.contacts.Fields(ctx, actor, wsID)
	if err != nil {
		return p, err
	}
	byID := map[string]contact.FieldDef{}
	for _, f := range fields {
		byID[f.ID] = f
	}
	region, err := im.region(ctx, wsID)
	if err != nil {
		return p, err
	}
	src, closeSrc, err := im.open(&j, region, byID, false)
	if err != nil {
		return p, err
	}
	defer closeSrc()
	var scanned []PreviewRow
	if j.Format == "csv" {
		p.Filled = make([]bool, len(j.Header))
	}
	seen := map[string]int{} // email or phone -> first row
	for len(scanned) < scanRows {
		it, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return p, err
		}
		for i, v := range it.Data {
			if i < len(p.Filled) && v != "" {
				p.Filled[i] = true
			}
		}
		r := PreviewRow{Row: it.Row, Line: it.Line, Entry: it.Entry, Errs: it.Errs, Warns: it.Warns}
		switch {
		case len(r.Errs) > 0:
			p.Invalid++
		case len(r.Warns) > 0:
			p.Warned++
		}
		if len(r.Errs)+len(r.Warns) > 0 && len(p.Problems) < listProblems {
			p.Problems = append(p.Problems, r)
		}
		if len(r.Errs) == 0 {
			for _, k := range keys(it.Entry.Fields) {
				if first, ok := seen[k]; ok && r.InFile == 0 {
					r.InFile = first
				} else if !ok {
					seen[k] = it.Row
				}
			}
		}
		if len(p.Rows) < PreviewRows {
			p.Rows = append(p.Rows, r)
		}
		scanned = append(scanned, r)
	}
	p.Scanned = len(scanned)
	fs := make([]contact.Fields, len(scanned))
	for i, r := range scanned {
		if len(r.Errs) == 0 {
			fs[i] = r.Entry.Fields
		}
	}
	matches, err := im.contacts.DuplicatesOf(ctx, actor, wsID, fs)
	if err != nil {
		return p, err
	}
	for i := range scanned {
		scanned[i].Matches = matches[i]
		if i < len(p.Rows) {
			p.Rows[i].Matches = matches[i]
		}
		if (len(matches[i]) > 0 || scanned[i].InFile > 0) && len(p.Duplicates) < listDuplicate {
			p.Duplicates = append(p.Duplicates, scanned[i])
		}
	}
	return p, nil
}

// keys are a row's emails and phones as duplicates are found by.
func keys(f contact.Fields) []string {
	var out []string
	if f.Emails != nil {
		for _, e := range *f.Emails {
			_, norm, _ := contact.NormalizeEmail(e.Address)
			out = append(out, "e:"+norm)
		}
	}
	if f.Phones != nil {
		for _, p := range *f.Phones {
			out = append(out, "p:"+p.Number)
		}
	}
	return out
}

// Samples returns the first n raw rows of a CSV job, for the mapping page.
func (im *Imports) Samples(ctx context.Context, actor auth.Actor, wsID, id string, n int) ([][]string, error) {
	j, err := im.Get(ctx, actor, wsID, id)
	if err != nil || j.Format != "csv" {
		return nil, err
	}
	src, closeSrc, err := im.open(&j, "", nil, false)
	if err != nil {
		return nil, err
	}
	defer closeSrc()
	cs := src.(*csvio.CSVSource)
	var out [][]string
	for len(out) < n {
		rec, err := cs.R.Next()
		if err != nil {
			break
		}
		out = append(out, rec.Fields)
	}
	return out, nil
}
