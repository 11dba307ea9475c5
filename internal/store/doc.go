// Package store defines what hookd keeps — projects, keys, secrets,
// endpoints, events, deliveries and attempts — and the one Store interface
// that every database driver implements (sqlite, postgres). Drivers translate
// their errors into ErrNotFound, ErrConflict and ErrUnavailable, and all of
// them pass the shared conformance suite in storetest.
package store
