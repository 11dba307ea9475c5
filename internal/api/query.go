package api

import (
	"net/url"
	"strconv"
	"time"

	"github.com/hookd/hookd/internal/service"
)

// pageQuery reads ?limit= and ?cursor=; the service checks them.
func pageQuery(q url.Values) service.Page {
	p := service.Page{Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			n = -1 // out of range: the service says what is allowed
		}
		p.Limit = n
	}
	return p
}

// listPage is the shape of every list answer.
type listPage[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func renderList[S any, T any](l service.List[S], render func(S) T) listPage[T] {
	p := listPage[T]{Items: make([]T, 0, len(l.Items)), NextCursor: l.NextCursor}
	for _, it := range l.Items {
		p.Items = append(p.Items, render(it))
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
		return time.Time{}, service.Invalid(field, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	return t.UTC(), nil
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
