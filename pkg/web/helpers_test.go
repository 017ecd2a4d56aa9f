package web_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/audit"
)

// auditActions returns the user's audit actions, newest first, one a line.
func auditActions(t *testing.T, app *apptest.App, userID string) string {
	t.Helper()
	p, err := audit.NewStore(app.DB).List(context.Background(), userID, "", 200)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, e := range p.Entries {
		sb.WriteString(e.Action + "\n")
	}
	return sb.String()
}

// dbHas reports whether any text column of any table holds s.
func dbHas(t *testing.T, app *apptest.App, s string) bool {
	t.Helper()
	found := false
	err := app.DB.Read(context.Background(), func(conn *sqlite.Conn) error {
		var tables []string
		if err := sqlitex.Execute(conn, `SELECT name FROM sqlite_schema WHERE type = 'table'`, &sqlitex.ExecOptions{
			ResultFunc: func(stmt *sqlite.Stmt) error { tables = append(tables, stmt.ColumnText(0)); return nil }}); err != nil {
			return err
		}
		for _, tb := range tables {
			err := sqlitex.Execute(conn, `SELECT * FROM "`+tb+`"`, &sqlitex.ExecOptions{ResultFunc: func(stmt *sqlite.Stmt) error {
				for i := range stmt.ColumnCount() {
					if strings.Contains(stmt.ColumnText(i), s) {
						found = true
					}
				}
				return nil
			}})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// tinyPNG is a 4×4 PNG.
func tinyPNG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
