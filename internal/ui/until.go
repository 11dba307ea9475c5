package ui

import (
	"fmt"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// One now per render: every "in N s" of a page is computed from the
// render's Now (view.Now) by until, and the page's script recomputes it
// the same way from the page's data-now and each element's datetime,
// both to the millisecond, so the breaker's text, its tile and the held
// deliveries' reason never disagree.

func init() {
	funcs["until"] = until
	funcs["heldUntil"] = heldUntil
}

// until says when t comes, seen at now: "now" once it is due, "in N s"
// (rounded up, so never "in 0 s") within a minute, then as ago does.
func until(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("in %d s", int((d+time.Second-1)/time.Second))
	}
	return ago(now, t)
}

// heldUntil is when a held delivery goes, for the script to keep its
// reason current: the next probe of an open breaker; zero otherwise.
func heldUntil(h store.Hold) time.Time {
	if h.Reason == store.HeldBreakerOpen {
		return h.Until
	}
	return time.Time{}
}

// isoMillis is t in RFC 3339 with milliseconds, UTC: the page's script
// computes relative times from it exactly as the server did.
func isoMillis(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
