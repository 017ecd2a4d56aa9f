package csvio

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Record is one data row of a file.
type Record struct {
	Row    int      // 1-based data row: the header is row 0
	Line   int      // line in the file where the row starts
	Fields []string // cells, as many as the row has (ragged rows are kept)
	Err    error    // the row could not be read; Fields may be partial
}

// Reader reads a CSV file as a header and records.
type Reader struct {
	Encoding  string
	Delimiter rune
	Header    []string // unique, trimmed names; blank ones are "Column N"
	cr        *csv.Reader
	row       int
}

// Limits of a file's shape, checked as it is read: a small file can still
// have a million columns, and a mapping page or a row of them would take a
// Pi's memory. Real exports stay far below (Outlook writes 92 columns,
// Google's widest about 80). MaxColumns keeps the mapping page, a select
// of every target per column, under 1 MB (about 2.5 KB a column).
const (
	MaxColumns     = 300
	MaxCellBytes   = 128 << 10 // a 20,000-character note in 4-byte UTF-8 fits
	MaxRecordBytes = 1 << 20
)

// LimitError is a file over one of the limits; its message says which, in
// words for the user.
type LimitError struct{ Msg string }

// Error returns the message.
func (e *LimitError) Error() string { return e.Msg }

// checkShape returns a LimitError when fields (row 0 is the header) break
// a limit.
func checkShape(row int, fields []string) error {
	where := fmt.Sprintf("Row %d", row)
	if row == 0 {
		where = "The header row"
	}
	if len(fields) > MaxColumns {
		return &LimitError{fmt.Sprintf("%s has %d columns; an import reads at most %d. Remove the columns you do not need and upload it again.", where, len(fields), MaxColumns)}
	}
	total := 0
	for i, f := range fields {
		if len(f) > MaxCellBytes {
			return &LimitError{fmt.Sprintf("%s, column %d holds %d KB; a cell may hold at most %d KB.", where, i+1, len(f)>>10, MaxCellBytes>>10)}
		}
		total += len(f)
	}
	if total > MaxRecordBytes {
		return &LimitError{fmt.Sprintf("%s holds %d KB; a row may hold at most %d KB.", where, total>>10, MaxRecordBytes>>10)}
	}
	return nil
}

// ErrEmpty means the file has no header row.
var ErrEmpty = errors.New("the file is empty: it needs a header row naming its columns")

// NewReader detects r's encoding and delimiter and reads the header row.
func NewReader(r io.Reader) (*Reader, error) {
	dec, enc := Decode(r)
	br := bufio.NewReaderSize(dec, sniffSize)
	sample, _ := br.Peek(sniffSize)
	d := DetectDelimiter(sample)
	cr := csv.NewReader(br)
	cr.Comma = d
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	out := &Reader{Encoding: enc, Delimiter: d, cr: cr}
	for {
		head, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil, ErrEmpty
		}
		if err != nil {
			return nil, fmt.Errorf("header row: %w", err)
		}
		if err := checkShape(0, head); err != nil {
			return nil, err
		}
		if blankRow(head) {
			continue
		}
		out.Header = uniqueHeader(head)
		return out, nil
	}
}

// Next returns the next non-blank row, or io.EOF.
func (r *Reader) Next() (Record, error) {
	for {
		fields, err := r.cr.Read()
		if errors.Is(err, io.EOF) {
			return Record{}, io.EOF
		}
		line, _ := r.cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return Record{}, err
			}
			r.row++
			return Record{Row: r.row, Line: pe.StartLine, Fields: fields, Err: fmt.Errorf("unreadable row: %v", pe.Err)}, nil
		}
		if blankRow(fields) {
			continue
		}
		r.row++
		if err := checkShape(r.row, fields); err != nil {
			return Record{}, err
		}
		for i, f := range fields {
			fields[i] = unneutralize(strings.TrimSpace(f))
		}
		return Record{Row: r.row, Line: line, Fields: fields}, nil
	}
}

func blankRow(fields []string) bool {
	for _, f := range fields {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// uniqueHeader trims the names, names blank columns "Column N" and numbers
// repeated names: "Email", "Email (2)".
func uniqueHeader(head []string) []string {
	out := make([]string, len(head))
	seen := map[string]int{}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if h == "" {
			h = fmt.Sprintf("Column %d", i+1)
		}
		key := strings.ToLower(h)
		seen[key]++
		if n := seen[key]; n > 1 {
			h = fmt.Sprintf("%s (%d)", h, n)
		}
		out[i] = h
	}
	return out
}

// unneutralize drops the apostrophe an export puts before a cell that a
// spreadsheet would run as a formula, so an export imports back as it was.
func unneutralize(s string) string {
	if len(s) > 1 && s[0] == '\'' {
		switch s[1] {
		case '=', '+', '-', '@', '\t', '\r':
			return s[1:]
		}
	}
	return s
}
