// Package sqlite is hookd's default store: one SQLite file, nothing to
// install, via the pure-Go modernc.org/sqlite driver.
//
// SQLite has one writer at a time. Rather than let several connections race
// for the write lock and busy-wait, DB keeps two pools on the same file: a
// write pool of exactly one connection, so writers queue in Go, and a pool of
// read-only connections that WAL lets read while a write is in progress.
// Write transactions start with BEGIN IMMEDIATE so a transaction never has to
// upgrade a read lock (which can fail with SQLITE_BUSY instead of waiting).
//
// Durability: journal_mode=WAL with synchronous=FULL, so a commit is on disk
// when it returns. hookd answers 202 only after Publish commits, and
// synchronous=NORMAL could lose the last commits on power loss.
//
// Times are stored as INTEGER unix microseconds in UTC; a zero time.Time is
// stored as NULL. Times therefore round-trip at microsecond precision, the
// same as PostgreSQL's timestamptz.
package sqlite
