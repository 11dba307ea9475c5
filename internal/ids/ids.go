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
	Audit    = "aud"
	Portal   = "ps"
)

var (
	mu sync.Mutex
	// perMillisecond keeps a monotonic entropy source for each recently
	// used millisecond, so ids for the same millisecond sort in the order
	// they were made even when ids for other times are made in between
	// (injected clocks, backfills). Bounded: the oldest is dropped.
	perMillisecond = map[uint64]*ulid.MonotonicEntropy{}
	recent         []uint64
)

const rememberedMilliseconds = 4096

// New returns prefix + "_" + a ULID for time t. Ids sort by t at
// millisecond precision, and ids made by this process for the same
// millisecond sort in the order they were made.
func New(prefix string, t time.Time) string {
	ms := ulid.Timestamp(t)
	mu.Lock()
	entropy, ok := perMillisecond[ms]
	if !ok {
		entropy = ulid.Monotonic(rand.Reader, 0)
		perMillisecond[ms] = entropy
		recent = append(recent, ms)
		if len(recent) > rememberedMilliseconds {
			delete(perMillisecond, recent[0])
			recent = recent[1:]
		}
	}
	id, err := ulid.New(ms, entropy)
	mu.Unlock()
	if err != nil {
		// Monotonic entropy overflows only after 2^80 ids in one
		// millisecond; fall back to fresh entropy rather than fail.
		id = ulid.MustNew(ms, io.Reader(rand.Reader))
	}
	return prefix + "_" + id.String()
}

// Time is the millisecond an id of the given prefix was made for (the t
// given to New); ok is false when s is not such an id.
func Time(prefix, s string) (t time.Time, ok bool) {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok {
		return time.Time{}, false
	}
	id, err := ulid.ParseStrict(rest)
	if err != nil {
		return time.Time{}, false
	}
	return ulid.Time(id.Time()).UTC(), true
}

// Floor is the smallest id of the given prefix that New can make for a
// time at or after t's millisecond: every id made for an earlier
// millisecond sorts below it, every id for this one or a later one does
// not.
func Floor(prefix string, t time.Time) string {
	var id ulid.ULID
	if err := id.SetTime(ulid.Timestamp(t)); err != nil {
		// Only times past the year 10889 overflow a ULID; such a bound
		// is above every id.
		return prefix + "_" + strings.Repeat("Z", 26)
	}
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
