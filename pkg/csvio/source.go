package csvio

import (
	"io"

	"github.com/pi-crm/pi-crm/pkg/contact"
)

// Item is one row of a file, mapped: Errs lists why it cannot be
// imported, Warns the values left out of a row that imports without them.
type Item struct {
	Row   int
	Line  int      // where the row starts in the file, counting the header as line 1
	Data  []string // the row as the file has it, for the report: a CSV's cells, a card's text
	Entry Entry
	Errs  []CellError
	Warns []CellError
}

// Source yields a file's rows as Items until io.EOF.
type Source interface {
	Next() (Item, error)
}

// CSVSource maps a Reader's records.
type CSVSource struct {
	R       *Reader
	Mapping Mapping
	Region  string
	Fields  map[string]contact.FieldDef
}

// Next maps the next record.
func (s *CSVSource) Next() (Item, error) {
	rec, err := s.R.Next()
	if err != nil {
		return Item{}, err
	}
	e, errs, warns := s.Mapping.Apply(s.R.Header, rec, s.Region, s.Fields)
	return Item{Row: rec.Row, Line: rec.Line, Data: rec.Fields, Entry: e, Errs: errs, Warns: warns}, nil
}

// VCardSource yields a VCardReader's cards.
type VCardSource struct {
	R      *VCardReader
	Region string
}

// Next reads the next card.
func (s *VCardSource) Next() (Item, error) { return s.R.Next(s.Region) }

// Count reads src to the end and returns how many rows it has.
func Count(src Source) (int, error) {
	n := 0
	for {
		if _, err := src.Next(); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, err
		}
		n++
	}
}
