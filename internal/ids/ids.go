// Package ids makes hookd's prefixed, time-sortable identifiers
// ("evt_01JD…"): a type prefix and a ULID, so that ids sort by creation time
// and a cursor can be an id.
package ids

import (
	"crypto/rand"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Prefixes of each kind of id.
const (
	Project  = "prj"
	Endpoint = "ep"
	Event    = "evt"
	Delivery = "dlv"
	APIKey   = "key"
	Secret   = "sec"
)

var (
	mu      sync.Mutex
	entropy = ulid.Monotonic(rand.Reader, 0)
)

// New returns prefix + "_" + a ULID for time t. Ids sort by t at
// millisecond precision; within one millisecond, consecutive calls for the
// same t sort in call order, but an id made for another t in between
// restarts the random part, so callers must not rely on order within a
// millisecond.
func New(prefix string, t time.Time) string {
	mu.Lock()
	id, err := ulid.New(ulid.Timestamp(t), entropy)
	if err != nil {
		// Monotonic entropy overflows only after 2^80 ids in one
		// millisecond; fall back to fresh entropy rather than fail.
		id = ulid.MustNew(ulid.Timestamp(t), io.Reader(rand.Reader))
	}
	mu.Unlock()
	return prefix + "_" + id.String()
}

// Valid reports whether s looks like an id of the given prefix.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok {
		return false
	}
	_, err := ulid.ParseStrict(rest)
	return err == nil
}
