package api

import (
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// Limits of user input.
const (
	maxNameLen        = 200
	maxDescriptionLen = 1000
	maxEventTypeLen   = 128
	maxEventTypes     = 100
	maxIdempotencyKey = 255
	defaultPageLimit  = 50
	maxPageLimit      = 250
)

func isTypeChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == ':' || c == '-'
}

// validEventType: 1–128 characters of [A-Za-z0-9._:-].
func validEventType(t string) bool {
	if t == "" || len(t) > maxEventTypeLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		if !isTypeChar(t[i]) {
			return false
		}
	}
	return true
}

// validTypeFilter: an event type, a prefix ending in ".*", or "*".
func validTypeFilter(f string) bool {
	if f == "*" {
		return true
	}
	if len(f) > maxEventTypeLen {
		return false
	}
	return validEventType(strings.TrimSuffix(f, ".*"))
}

func checkEventTypes(field string, types []string) error {
	if len(types) > maxEventTypes {
		return invalid(field, "at most "+strconv.Itoa(maxEventTypes)+" entries")
	}
	for i, t := range types {
		if !validTypeFilter(t) {
			return invalid(field+"["+strconv.Itoa(i)+"]",
				`must be 1–128 characters of A-Z a-z 0-9 . _ : - optionally ending in ".*", or "*"`)
		}
	}
	return nil
}

func checkDescription(d string) error {
	if utf8.RuneCountInString(d) > maxDescriptionLen {
		return invalid("description", "must be at most "+strconv.Itoa(maxDescriptionLen)+" characters")
	}
	return nil
}

// pageQuery reads ?limit= and ?cursor=. The returned Page asks for one item
// more than the caller wants, to learn whether another page follows.
func pageQuery(q url.Values, cursorPrefix string) (store.Page, int, error) {
	limit := defaultPageLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageLimit {
			return store.Page{}, 0, invalid("limit", "must be an integer from 1 to "+strconv.Itoa(maxPageLimit))
		}
		limit = n
	}
	cursor := q.Get("cursor")
	if cursor != "" && !ids.Valid(cursorPrefix, cursor) {
		return store.Page{}, 0, invalid("cursor", "is not a cursor of this list")
	}
	return store.Page{After: cursor, Limit: limit + 1}, limit, nil
}

// listPage is the shape of every list answer.
type listPage[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// paginate turns the limit+1 rows fetched into a page and its cursor.
func paginate[S any, T any](rows []S, limit int, id func(S) string, render func(S) T) listPage[T] {
	var p listPage[T]
	if len(rows) > limit {
		rows = rows[:limit]
		p.NextCursor = id(rows[limit-1])
	}
	p.Items = make([]T, 0, len(rows))
	for _, r := range rows {
		p.Items = append(p.Items, render(r))
	}
	return p
}

func timeQuery(q url.Values, field string) (time.Time, error) {
	v := q.Get(field)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, invalid(field, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	return t.UTC(), nil
}

func idQuery(q url.Values, field, prefix string) (string, error) {
	v := q.Get(field)
	if v != "" && !ids.Valid(prefix, v) {
		return "", invalid(field, "must be an id starting with "+prefix+"_")
	}
	return v, nil
}

// now is the clock's time at the precision every driver keeps, so what
// the API answers equals what it later reads back.
func (s *server) now() time.Time {
	return s.clock.Now().UTC().Truncate(time.Microsecond)
}
