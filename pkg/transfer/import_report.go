package transfer

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/csvio"
)

// WriteReport writes job id's report as CSV, one line per row with a
// problem: its line in the file (the header is line 1), whether it was
// imported without some values or not at all, the problems with the values
// as typed, then the row as the file has it (a CSV's own columns, so the
// refused rows can be fixed in a spreadsheet and imported again; a card's
// text).
func (im *Imports) WriteReport(ctx context.Context, actor auth.Actor, wsID, id string, w io.Writer) error {
	return im.db.Read(ctx, func(conn *sqlite.Conn) error {
		j, err := getJob(conn, actor, wsID, id)
		if err != nil {
			return err
		}
		cw := csv.NewWriter(w)
		head := []string{"Line", "Result", "Problems"}
		if j.Format == "vcard" {
			head = append(head, "Card")
		} else {
			head = append(head, j.Header...)
		}
		if err := cw.Write(head); err != nil {
			return err
		}
		type line struct {
			row, line int
			failed    bool
			problems  []string
			data      []string
		}
		var cur *line
		flush := func() error {
			if cur == nil {
				return nil
			}
			result := "imported without these values"
			if cur.failed {
				result = "not imported"
			}
			rec := []string{strconv.Itoa(cur.line), result, csvio.Neutralize(strings.Join(cur.problems, "; "))}
			for _, d := range cur.data {
				rec = append(rec, csvio.Neutralize(d))
			}
			return cw.Write(rec)
		}
		err = sqlitex.Execute(conn, `SELECT row, line, severity, column_name, value, reason, data FROM import_errors WHERE job_id = ? ORDER BY row, rowid`, &sqlitex.ExecOptions{
			Args: []any{id}, ResultFunc: func(st *sqlite.Stmt) error {
				row := st.ColumnInt(0)
				if cur == nil || cur.row != row {
					if err := flush(); err != nil {
						return err
					}
					cur = &line{row: row, line: st.ColumnInt(1)}
				}
				if cur.line == 0 {
					cur.line = st.ColumnInt(1)
				}
				if d := st.ColumnText(6); d != "" && cur.data == nil {
					_ = json.Unmarshal([]byte(d), &cur.data) // a row without readable data still reports its problem
				}
				cur.failed = cur.failed || st.ColumnText(2) == "error"
				p := st.ColumnText(5)
				switch col, val := st.ColumnText(3), st.ColumnText(4); {
				case col != "" && val != "":
					p = fmt.Sprintf("%s %q: %s", col, val, p)
				case col != "":
					p = col + ": " + p
				}
				cur.problems = append(cur.problems, p)
				return nil
			}})
		if err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	})
}
