package store

import (
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// Exists reports whether query, run with args inside the caller's
// transaction, returns any row. The query says what it looks for
// (`SELECT 1 FROM users WHERE id = ?`); the caller wraps the error with
// what it was checking.
func Exists(conn *sqlite.Conn, query string, args ...any) (bool, error) {
	found := false
	err := sqlitex.Execute(conn, query, &sqlitex.ExecOptions{
		Args: args, ResultFunc: func(*sqlite.Stmt) error { found = true; return nil }})
	return found, err
}
