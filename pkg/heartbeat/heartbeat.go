// Package heartbeat owns the heartbeats table: each daemon's main loop
// rewrites its row, and the System page reads them to tell which daemons are
// alive. Heartbeats are the appliance's own bookkeeping, not user data, so
// they are neither scoped by workspace nor audited.
package heartbeat

import (
	"context"
	"fmt"
	"os"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// Beat is one daemon's last sign of life.
type Beat struct {
	Name      string
	PID       int
	Version   string
	StartedAt time.Time
	BeatAt    time.Time
}

// Stale reports whether the beat is older than maxAge at now.
func (b Beat) Stale(now time.Time, maxAge time.Duration) bool { return now.Sub(b.BeatAt) > maxAge }

// Writer writes one daemon's heartbeat.
type Writer struct {
	db      *store.DB
	name    string
	version string
	started time.Time
}

// NewWriter returns a Writer for the daemon called name.
func NewWriter(db *store.DB, name, version string) *Writer {
	return &Writer{db: db, name: name, version: version, started: time.Now()}
}

// Beat records that the daemon is alive now.
func (w *Writer) Beat(ctx context.Context) error {
	err := w.db.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `INSERT INTO heartbeats (name, pid, version, started_at, beat_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET pid = excluded.pid, version = excluded.version, started_at = excluded.started_at, beat_at = excluded.beat_at`,
			&sqlitex.ExecOptions{Args: []any{w.name, os.Getpid(), w.version, store.FormatTime(w.started), store.FormatTime(time.Now())}})
	})
	if err != nil {
		return fmt.Errorf("heartbeat %s: %w", w.name, err)
	}
	return nil
}

// List returns every daemon's last beat, by name.
func List(ctx context.Context, db *store.DB) ([]Beat, error) {
	var beats []Beat
	err := db.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT name, pid, version, started_at, beat_at FROM heartbeats ORDER BY name`, &sqlitex.ExecOptions{
			ResultFunc: func(stmt *sqlite.Stmt) error {
				b := Beat{Name: stmt.ColumnText(0), PID: stmt.ColumnInt(1), Version: stmt.ColumnText(2)}
				var err error
				if b.StartedAt, err = store.ParseTime(stmt.ColumnText(3)); err != nil {
					return err
				}
				b.BeatAt, err = store.ParseTime(stmt.ColumnText(4))
				beats = append(beats, b)
				return err
			},
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list heartbeats: %w", err)
	}
	return beats, nil
}
