package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// BusyTimeout is how long a connection waits for another process's write
// lock before SQLITE_BUSY reaches the caller. It must stay well above the
// longest write transaction: an import batch holds the lock about 0.13 s
// on the 2-core test machine and about four times that on a Raspberry Pi 4,
// and the write gate (gate.go) lets a waiting write in after one batch.
const BusyTimeout = 5 * time.Second

// beginTries is how often BEGIN IMMEDIATE is tried when it still meets
// SQLITE_BUSY after a whole BusyTimeout (a writer of another program that
// does not use the gate, such as the sqlite3 shell).
const beginTries = 3

// Options tunes Open.
type Options struct {
	// PoolSize is the number of connections; each holds its own page cache,
	// so daemons keep this small. Zero means 4.
	PoolSize int
	// CacheKiB, when set, bounds each connection's page cache (SQLite's
	// default is 2 MiB): a daemon whose reads are a few indexed rows
	// gives the memory back.
	CacheKiB int
	// Marker, when set, is a file outside the data folder (Ansible writes
	// it once the appliance has data) whose presence means the database
	// must already exist: Open then refuses to create an empty one
	// (ErrDataMissing), as it would on the SD card when the encrypted data
	// volume did not mount, for Litestream to replicate over the backup.
	Marker string
}

// ErrDataMissing means the marker says this appliance has data and the
// database file is not there.
var ErrDataMissing = errors.New("the database is missing although this appliance has data")

// CheckData returns ErrDataMissing (with the paths and what to do) when
// marker exists and path does not; an empty marker checks nothing.
func CheckData(path, marker string) error {
	if marker == "" {
		return nil
	}
	if _, err := os.Stat(marker); err != nil {
		return nil // a new appliance: no data yet
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s does not exist but %s says it should: is the encrypted data volume mounted (is the key stick in, is the tang server up)? Nothing was created; see the README, Data at rest", ErrDataMissing, path, marker)
	}
	return nil
}

// DB is a pool of connections to one database file.
type DB struct {
	pool      *sqlitex.Pool
	path      string
	gate      *gate // nil when the lock files cannot be made
	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the database file at path, with its parent
// directory, and prepares every connection with the pi-crm pragmas.
func Open(path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("open database: empty path")
	}
	if err := CheckData(path, opts.Marker); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create database folder: %w", err)
	}
	size := opts.PoolSize
	if size <= 0 {
		size = 4
	}
	pool, err := sqlitex.NewPool(path, sqlitex.PoolOptions{
		PoolSize:    size,
		Flags:       sqlite.OpenReadWrite | sqlite.OpenCreate | sqlite.OpenWAL,
		PrepareConn: func(conn *sqlite.Conn) error { return prepareConn(conn, opts.CacheKiB) },
	})
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db := &DB{pool: pool, path: path, gate: openGate(path)}
	// Run the pragmas once now, so a bad path fails here and not on the
	// first request.
	if err := db.Ping(context.Background()); err != nil {
		pool.Close()
		db.gate.close()
		return nil, err
	}
	return db, nil
}

func prepareConn(conn *sqlite.Conn, cacheKiB int) error {
	conn.SetBusyTimeout(BusyTimeout)
	// One statement at a time: ExecuteScript would wrap them in a
	// savepoint, and synchronous cannot change inside a transaction.
	pragmas := []string{"PRAGMA journal_mode = WAL", "PRAGMA foreign_keys = ON", "PRAGMA synchronous = FULL"}
	if cacheKiB > 0 {
		pragmas = append(pragmas, fmt.Sprintf("PRAGMA cache_size = -%d", cacheKiB))
	}
	for _, p := range pragmas {
		if err := sqlitex.ExecuteTransient(conn, p, nil); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close closes every connection of the pool. Closing twice is harmless.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		if err := db.pool.Close(); err != nil {
			db.closeErr = fmt.Errorf("close database: %w", err)
		}
		db.gate.close()
	})
	return db.closeErr
}

// Take borrows a connection; the caller must give it back with Put.
func (db *DB) Take(ctx context.Context) (*sqlite.Conn, error) {
	conn, err := db.pool.Take(ctx)
	if err != nil {
		return nil, fmt.Errorf("take connection: %w", err)
	}
	return conn, nil
}

// Put returns a connection taken with Take.
func (db *DB) Put(conn *sqlite.Conn) { db.pool.Put(conn) }

// Write runs fn in one BEGIN IMMEDIATE transaction, committed when fn returns
// nil and rolled back otherwise (a panic rolls back too). fn must not make
// network calls, render templates or sleep: other processes wait on the lock.
// A running import lets the write in after its current batch (the write
// gate).
func (db *DB) Write(ctx context.Context, fn func(*sqlite.Conn) error) (err error) {
	conn, err := db.Take(ctx)
	if err != nil {
		return err
	}
	defer db.Put(conn)
	done := db.gate.enter()
	defer done()
	return write(ctx, conn, fn)
}

func write(ctx context.Context, conn *sqlite.Conn, fn func(*sqlite.Conn) error) (err error) {
	var end func(*error)
	for try := 1; ; try++ {
		end, err = sqlitex.ImmediateTransaction(conn)
		if err == nil {
			break
		}
		if sqlite.ErrCode(err).ToPrimary() != sqlite.ResultBusy || try == beginTries || ctx.Err() != nil {
			return fmt.Errorf("begin immediate: %w", err)
		}
	}
	defer end(&err)
	return fn(conn)
}

// Held is one connection kept for a series of write transactions, such as
// the batches of an import: what the job learns between them stays
// comparable on one connection (PRAGMA data_version counts the commits of
// other connections only).
//
// A Held is a bulk writer: before each of its transactions it lets every
// waiting interactive write (DB.Write, in any process) go first.
type Held struct {
	db   *DB
	conn *sqlite.Conn
	bulk *bulk
}

// Hold takes a connection for a series of Writes; Release gives it back.
func (db *DB) Hold(ctx context.Context) (*Held, error) {
	conn, err := db.Take(ctx)
	if err != nil {
		return nil, err
	}
	return &Held{db: db, conn: conn, bulk: db.gate.bulk()}, nil
}

// Write runs fn in one BEGIN IMMEDIATE transaction on the held connection,
// as DB.Write does, after the interactive writes that are waiting.
func (h *Held) Write(fn func(*sqlite.Conn) error) error {
	done := h.bulk.begin()
	defer done()
	return write(context.Background(), h.conn, fn)
}

// Release gives the connection back to the pool. Releasing twice is
// harmless.
func (h *Held) Release() {
	if h.conn != nil {
		h.db.Put(h.conn)
		h.conn = nil
		h.bulk.close()
		h.bulk = nil
	}
}

// DataVersion returns conn's PRAGMA data_version: it changes when another
// connection commits, and not for conn's own commits.
func DataVersion(conn *sqlite.Conn) (int64, error) {
	var v int64
	err := sqlitex.ExecuteTransient(conn, "PRAGMA data_version", &sqlitex.ExecOptions{
		ResultFunc: func(st *sqlite.Stmt) error { v = st.ColumnInt64(0); return nil }})
	if err != nil {
		return 0, fmt.Errorf("data version: %w", err)
	}
	return v, nil
}

// Read runs fn in one read transaction, so that everything it reads comes
// from the same snapshot.
func (db *DB) Read(ctx context.Context, fn func(*sqlite.Conn) error) (err error) {
	conn, err := db.Take(ctx)
	if err != nil {
		return err
	}
	defer db.Put(conn)
	defer sqlitex.Transaction(conn)(&err)
	return fn(conn)
}

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	return db.Read(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.ExecuteTransient(conn, "SELECT 1", nil); err != nil {
			return fmt.Errorf("ping database: %w", err)
		}
		return nil
	})
}

// DiskFree returns the bytes free to unprivileged writers, and the size, of
// the volume that holds the database.
func (db *DB) DiskFree() (free, total int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(db.path), &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", filepath.Dir(db.path), err)
	}
	return int64(st.Bavail) * int64(st.Bsize), int64(st.Blocks) * int64(st.Bsize), nil
}

// Watch is one connection of its own that tells whether any other
// connection, in this process or another, committed since the last look:
// the cheap wake-up of a job runner (PRAGMA data_version costs a few
// microseconds and touches no page).
type Watch struct {
	conn *sqlite.Conn
	last int64
}

// Watch opens a Watch on the database file; Close it when done. It holds
// no pool connection.
func (db *DB) Watch() (*Watch, error) {
	conn, err := sqlite.OpenConn(db.path, sqlite.OpenReadOnly|sqlite.OpenWAL)
	if err != nil {
		return nil, fmt.Errorf("open watch connection: %w", err)
	}
	conn.SetBusyTimeout(BusyTimeout)
	w := &Watch{conn: conn}
	if w.last, err = DataVersion(conn); err != nil {
		conn.Close()
		return nil, err
	}
	return w, nil
}

// Changed reports whether another connection committed since the last
// call (or since Watch opened).
func (w *Watch) Changed() (bool, error) {
	v, err := DataVersion(w.conn)
	if err != nil {
		return false, err
	}
	changed := v != w.last
	w.last = v
	return changed, nil
}

// Close closes the watch connection.
func (w *Watch) Close() error { return w.conn.Close() }
