package transfer

import (
	"context"
	"errors"
	"io"
	"strconv"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/csvio"
)

// rowError is a report line: a refused row's error or a kept row's
// warning.
type rowError struct {
	row, line             int
	warning               bool
	column, value, reason string
}

// batch is one transaction's worth of rows, read ahead.
type batch struct {
	rows     []contact.ImportRow
	bad      []rowError
	data     map[int][]string // row -> the row as the file has it, for the report
	lines    map[int]int      // row -> its line
	consumed int
	err      error
}

// counts returns how many rows of the batch failed (refused by the mapping
// or the store) and how many imported with warnings.
func (b batch) counts(r contact.ImportResult) (failed, warned int) {
	f, w := map[int]bool{}, map[int]bool{}
	for _, e := range b.bad {
		if e.warning {
			w[e.row] = true
		} else {
			f[e.row] = true
		}
	}
	for _, e := range r.Failed {
		f[e.Row] = true
	}
	for row := range f {
		delete(w, row)
	}
	return len(f), len(w)
}

// readBatches sends src's rows in batches, validated by imp for region, until the
// end of the file (then closes out), an error (sent as the last batch) or
// ctx's end.
func readBatches(ctx context.Context, src csvio.Source, o Options, imp *contact.Importer, region string, out chan<- batch) {
	defer close(out)
	for {
		b, eof := readBatch(src, o)
		imp.PrepareRows(b.rows, region)
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
		if eof || b.err != nil {
			return
		}
	}
}

// readBatch reads up to BatchRows rows into b: the ones to import, and
// the problems of each row for the report.
func readBatch(src csvio.Source, o Options) (b batch, eof bool) {
	b.data, b.lines = map[int][]string{}, map[int]int{}
	for b.consumed < BatchRows {
		it, err := src.Next()
		if errors.Is(err, io.EOF) {
			return b, true
		}
		if err != nil {
			b.err = err
			return b, false
		}
		b.consumed++
		b.data[it.Row], b.lines[it.Row] = it.Data, it.Line
		for _, e := range it.Errs {
			b.bad = append(b.bad, rowError{row: it.Row, line: it.Line, column: e.Column, value: e.Value, reason: e.Reason})
		}
		if len(it.Errs) > 0 {
			continue
		}
		for _, e := range it.Warns {
			b.bad = append(b.bad, rowError{row: it.Row, line: it.Line, warning: true, column: e.Column, value: e.Value, reason: e.Reason})
		}
		b.rows = append(b.rows, contact.ImportRow{Row: it.Row, Fields: it.Entry.Fields, Stage: it.Entry.Stage, Tags: it.Entry.Tags, Note: it.Entry.Note,
			Action: o.RowActions[strconv.Itoa(it.Row)]})
	}
	return b, false
}
