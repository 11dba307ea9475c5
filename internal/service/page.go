package service

import (
	"strconv"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// Page bounds of every list.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 250
)

// Page asks for one page of a list, newest or oldest first as the list
// says.
type Page struct {
	// Cursor is the NextCursor of the previous page; "" for the first.
	Cursor string
	// Limit is how many items at most: 1 to MaxPageLimit, 0 for
	// DefaultPageLimit. Front ends that read a number they cannot parse
	// pass -1, so the user sees the one message about the rule.
	Limit int
}

// List is one page of a list.
type List[T any] struct {
	Items []T
	// NextCursor, when not empty, is the Page.Cursor of the next page.
	NextCursor string
}

// storePage checks p for a list whose ids start with idPrefix. The store
// page asks for one item more than the caller wants, to learn whether
// another page follows.
func (p Page) storePage(idPrefix string) (store.Page, int, error) {
	limit := p.Limit
	if limit == 0 {
		limit = DefaultPageLimit
	}
	if limit < 1 || limit > MaxPageLimit {
		return store.Page{}, 0, Invalid("limit", "must be an integer from 1 to "+strconv.Itoa(MaxPageLimit))
	}
	if p.Cursor != "" && !ids.Valid(idPrefix, p.Cursor) {
		return store.Page{}, 0, Invalid("cursor", "is not a cursor of this list")
	}
	return store.Page{After: p.Cursor, Limit: limit + 1}, limit, nil
}

// paginate turns the limit+1 rows fetched into a page and its cursor.
func paginate[T any](rows []T, limit int, id func(T) string) List[T] {
	if rows == nil {
		rows = []T{}
	}
	if len(rows) <= limit {
		return List[T]{Items: rows}
	}
	rows = rows[:limit]
	return List[T]{Items: rows, NextCursor: id(rows[limit-1])}
}

// list runs a store query for page p, translating its errors.
func list[T any](p Page, idPrefix string, id func(T) string, query func(store.Page) ([]T, error)) (List[T], error) {
	sp, limit, err := p.storePage(idPrefix)
	if err != nil {
		return List[T]{}, err
	}
	rows, err := query(sp)
	if err != nil {
		return List[T]{}, translate(err, "list")
	}
	return paginate(rows, limit, id), nil
}
