package service

import (
	"cmp"
	"context"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/internal/store"
)

// EventType is one type of event a project has published.
type EventType struct {
	Type string
	// Count is how many events of the type the project has published;
	// retention does not lower it.
	Count int64
	// LastSeenAt is when the newest event of the type was published.
	LastSeenAt time.Time
	// LastEventID is the newest event of the type.
	LastEventID string
	// Example is the data of that event, nil when retention has removed
	// it.
	Example json.RawMessage
}

// Types lists the types of event project projectID has published
// (hookd's operational ones included), by type ascending (bytewise, so
// upper case first). The cursor is the last type of the previous page.
// It costs no scan of the events: Publish keeps the counts.
func (s *Events) Types(ctx context.Context, projectID string, p Page) (List[EventType], error) {
	limit := cmp.Or(p.Limit, DefaultPageLimit)
	if limit < 1 || limit > MaxPageLimit {
		return List[EventType]{}, Invalid("limit", "must be an integer from 1 to "+strconv.Itoa(MaxPageLimit))
	}
	if len(p.Cursor) > MaxEventTypeLen || !utf8.ValidString(p.Cursor) {
		return List[EventType]{}, Invalid("cursor", "is not a cursor of this list")
	}
	rows, err := s.c.store.ListEventTypes(ctx, projectID, store.Page{After: p.Cursor, Limit: limit + 1})
	if err != nil {
		return List[EventType]{}, translate(err, "list")
	}
	out := make([]EventType, 0, len(rows))
	for _, r := range rows {
		t := EventType{Type: r.Type, Count: r.Count, LastSeenAt: r.LastSeenAt, LastEventID: r.LastEventID}
		if r.LastBody != nil {
			t.Example = EventData(Event{Body: r.LastBody})
		}
		out = append(out, t)
	}
	return paginate(out, limit, func(t EventType) string { return t.Type }), nil
}
