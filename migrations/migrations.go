// Package migrations holds the database schema as numbered SQL scripts,
// embedded into every binary so each knows the schema version it was built for.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
)

//go:embed *.sql
var files embed.FS

// ForeignKeysOff starts a script that rebuilds a table other tables refer
// to: it runs with foreign keys off (the old table's drop must not cascade),
// in its own transaction like every script.
const ForeignKeysOff = "-- foreign keys off\n"

var namePattern = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// Scripts returns the migration scripts in order. The script at index i moves
// the schema from version i to version i+1. It returns an error if a file is
// misnamed or the numbering has a gap, which a test catches before release.
func Scripts() ([]string, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if path.Ext(e.Name()) == ".sql" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	scripts := make([]string, 0, len(names))
	for i, name := range names {
		m := namePattern.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("migration %q: name must be NNNN_name.sql", name)
		}
		if n, _ := strconv.Atoi(m[1]); n != i+1 {
			return nil, fmt.Errorf("migration %q: want number %04d", name, i+1)
		}
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", name, err)
		}
		scripts = append(scripts, string(b))
	}
	return scripts, nil
}

// Version is the schema version this build expects: the number of scripts.
func Version() int {
	s, err := Scripts()
	if err != nil {
		return -1
	}
	return len(s)
}
