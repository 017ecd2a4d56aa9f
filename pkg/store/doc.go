// Package store owns the SQLite file every pi-crm process shares: opening a
// pool with the pragmas of the architecture, the transaction helpers, the
// migration runner and the schema-version check, and the formats of IDs and
// times in the database.
//
// Every connection runs with journal_mode=WAL, foreign_keys=ON, a 5 s busy
// timeout and synchronous=FULL. FULL is deliberate: a Raspberry Pi loses power
// without warning, and a change the user saw saved must survive it. Writes
// take the write lock up front (BEGIN IMMEDIATE) so that a busy database
// waits in the busy handler instead of failing a read-to-write upgrade with
// SQLITE_BUSY. Checkpointing is Litestream's job; nothing here truncates the
// WAL.
package store
