package store

import "time"

// EventType is one type of event a project has published, as
// Store.ListEventTypes reports it.
type EventType struct {
	// Type as published (types differing in case are different types).
	Type string
	// Count is how many events of the type the project has published.
	// Retention does not lower it (removing old events is no un-publishing),
	// so it may be more than the events the log still holds.
	Count int64
	// LastSeenAt is when the newest event of the type was created.
	LastSeenAt time.Time
	// LastEventID is the newest event of the type.
	LastEventID string
	// LastBody is the stored body of that event, nil when retention has
	// removed it.
	LastBody []byte
}
