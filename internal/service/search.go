package service

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// What Search can find.
const (
	FoundEvent    = "event"
	FoundDelivery = "delivery"
	FoundEndpoint = "endpoint"
)

// Found is what Search found: its kind and id.
type Found struct {
	Kind string // FoundEvent, FoundDelivery or FoundEndpoint
	ID   string
}

// maxSearchEndpoints bounds the endpoints Search reads to match a URL.
const maxSearchEndpoints = 10 * MaxPageLimit

// Search finds in project projectID what a customer quoted: an event id,
// a delivery id, an endpoint id or URL, or the idempotency key an event
// was published with (the newest such event). Nothing found is
// CodeNotFound; each lookup is one indexed read (a URL reads the
// project's endpoints).
func (s *Service) Search(ctx context.Context, projectID, q string) (Found, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return Found{}, Invalid("q", "is required")
	}
	if len(q) > 2048 {
		return Found{}, Invalid("q", "must be at most 2048 bytes")
	}
	notFound := &Error{Code: CodeNotFound, Message: "nothing matches " + strconv.Quote(truncateRunes(q, 80)) +
		": not an event, delivery or endpoint id, an endpoint URL or an idempotency key of this project"}
	st := s.core.store
	switch {
	case ids.Valid(ids.Event, q):
		if _, err := st.GetEvent(ctx, projectID, q); err != nil {
			return Found{}, translateAs(err, notFound)
		}
		return Found{FoundEvent, q}, nil
	case ids.Valid(ids.Delivery, q):
		if _, err := st.GetDelivery(ctx, projectID, q); err != nil {
			return Found{}, translateAs(err, notFound)
		}
		return Found{FoundDelivery, q}, nil
	case ids.Valid(ids.Endpoint, q):
		if _, err := st.GetEndpoint(ctx, projectID, q); err != nil {
			return Found{}, translateAs(err, notFound)
		}
		return Found{FoundEndpoint, q}, nil
	case strings.HasPrefix(q, "https://") || strings.HasPrefix(q, "http://"):
		after := ""
		for read := 0; read < maxSearchEndpoints; read += MaxPageLimit {
			eps, err := st.ListEndpoints(ctx, projectID, store.Page{After: after, Limit: MaxPageLimit})
			if err != nil {
				return Found{}, translate(err, "endpoint")
			}
			for _, e := range eps {
				if e.URL == q || strings.TrimSuffix(e.URL, "/") == strings.TrimSuffix(q, "/") {
					return Found{FoundEndpoint, e.ID}, nil
				}
			}
			if len(eps) < MaxPageLimit {
				break
			}
			after = eps[len(eps)-1].ID
		}
		return Found{}, notFound
	}
	if checkIdempotencyKey(q) != nil {
		return Found{}, notFound
	}
	evs, err := st.ListEvents(ctx, projectID, store.EventFilter{IdempotencyKey: q}, store.Page{Limit: 1})
	if err != nil {
		return Found{}, translate(err, "event")
	}
	if len(evs) == 0 {
		return Found{}, notFound
	}
	return Found{FoundEvent, evs[0].ID}, nil
}

// translateAs is translate with the store's not-found as nf.
func translateAs(err error, nf *Error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nf
	}
	return translate(err, "")
}

func truncateRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
