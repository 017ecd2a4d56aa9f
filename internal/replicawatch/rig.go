package replicawatch

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// Checksum hashes every row of every ordinary table in the SQLite file at
// p, independent of row order and page layout, and counts each table's rows.
func Checksum(p string) (string, map[string]int, error) {
	conn, err := sqlite.OpenConn(p, sqlite.OpenReadOnly)
	if err != nil {
		return "", nil, fmt.Errorf("open %s: %w", p, err)
	}
	defer conn.Close()
	var tables []string
	if err := sqlitex.ExecuteTransient(conn, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name`,
		&sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error { tables = append(tables, st.ColumnText(0)); return nil }}); err != nil {
		return "", nil, err
	}
	counts := map[string]int{}
	all := sha256.New()
	for _, t := range tables {
		var rows []string
		err := sqlitex.ExecuteTransient(conn, `SELECT * FROM "`+strings.ReplaceAll(t, `"`, `""`)+`"`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
			h := sha256.New()
			for i := range st.ColumnCount() {
				fmt.Fprintf(h, "%d:", st.ColumnType(i))
				buf := make([]byte, st.ColumnLen(i))
				st.ColumnBytes(i, buf)
				h.Write(buf)
				h.Write([]byte{0})
			}
			rows = append(rows, hex.EncodeToString(h.Sum(nil)))
			return nil
		}})
		if err != nil {
			return "", nil, fmt.Errorf("read %s: %w", t, err)
		}
		sort.Strings(rows)
		fmt.Fprintf(all, "%s\n%s\n", t, strings.Join(rows, ","))
		counts[t] = len(rows)
	}
	return hex.EncodeToString(all.Sum(nil)), counts, nil
}

// RemoveDB deletes a database as a dead SD card would: the file, its WAL and
// shared memory, and Litestream's local state.
func RemoveDB(p string) error {
	for _, s := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(p + s); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	i := strings.LastIndex(p, "/")
	return os.RemoveAll(p[:i+1] + "." + p[i+1:] + "-litestream")
}

// CommitMarker commits 16 random bytes to the table replica_markers (made on
// first use) in a transaction of their own, and returns them with the moment
// the commit returned: Watcher.Add takes both.
func CommitMarker(tb testing.TB, db *store.DB) ([]byte, time.Time) {
	tb.Helper()
	m := make([]byte, 16)
	rand.Read(m)
	if err := db.Write(context.Background(), func(conn *sqlite.Conn) error {
		if err := sqlitex.ExecuteTransient(conn, "CREATE TABLE IF NOT EXISTS replica_markers (marker BLOB NOT NULL)", nil); err != nil {
			return err
		}
		return sqlitex.Execute(conn, "INSERT INTO replica_markers (marker) VALUES (?)", &sqlitex.ExecOptions{Args: []any{m}})
	}); err != nil {
		tb.Fatalf("commit a marker: %v", err)
	}
	return m, time.Now()
}
