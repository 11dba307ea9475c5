package service

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hookd/hookd/internal/ids"
)

// Limits of user input.
const (
	MaxNameLen           = 200
	MaxDescriptionLen    = 1000
	MaxEventTypeLen      = 128
	MaxEventTypes        = 100
	MaxIdempotencyKeyLen = 255
	// MaxOrderingKeyLen bounds an event's ordering key, in bytes.
	MaxOrderingKeyLen = 255
	// MaxRateLimit and MaxConcurrency bound an endpoint's limits; 0 is no
	// limit. Beyond them a limit would not limit anything hookd can send.
	MaxRateLimit   = 10000
	MaxConcurrency = 1000
)

// EventTypeRule is what an event type must look like, for messages and
// help text.
const EventTypeRule = "must be 1–128 characters of A-Z a-z 0-9 . _ : -"

const typeFilterRule = `must be 1–128 characters of A-Z a-z 0-9 . _ : - optionally ending in ".*", or "*"`

func isTypeChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == ':' || c == '-'
}

// ValidEventType reports whether t is an event type: 1–128 characters of
// [A-Za-z0-9._:-].
func ValidEventType(t string) bool {
	if t == "" || len(t) > MaxEventTypeLen {
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
	if len(f) > MaxEventTypeLen {
		return false
	}
	return ValidEventType(strings.TrimSuffix(f, ".*"))
}

// checkTypeFilter is for a filter on event types in a list: empty, one
// type, or a prefix ending in ".*" (or "*", everything).
func checkTypeFilter(field, f string) error {
	if f != "" && !validTypeFilter(f) {
		return Invalid(field, typeFilterRule)
	}
	return nil
}

// typeFilter is f as the store takes it: "*" filters nothing.
func typeFilter(f string) string {
	if f == "*" {
		return ""
	}
	return f
}

func checkEventType(field, t string) error {
	if !ValidEventType(t) {
		return Invalid(field, EventTypeRule)
	}
	return nil
}

func checkEventTypes(field string, types []string) error {
	if len(types) > MaxEventTypes {
		return Invalid(field, "at most "+strconv.Itoa(MaxEventTypes)+" entries")
	}
	for i, t := range types {
		if !validTypeFilter(t) {
			return Invalid(field+"["+strconv.Itoa(i)+"]", typeFilterRule)
		}
	}
	return nil
}

// checkLimit checks a per-endpoint limit: 0 (none) up to max.
func checkLimit(field string, v, max int) error {
	if v < 0 || v > max {
		return Invalid(field, "must be 0 (no limit) up to "+strconv.Itoa(max))
	}
	return nil
}

func checkDescription(d string) error {
	if utf8.RuneCountInString(d) > MaxDescriptionLen {
		return Invalid("description", "must be at most "+strconv.Itoa(MaxDescriptionLen)+" characters")
	}
	return checkText("description", d, true)
}

// checkText refuses text that one backend stores and another does not, or
// that breaks the readers it is shown to: invalid UTF-8 (PostgreSQL refuses
// it, SQLite keeps it and JSON clients then fail on the page holding it),
// NUL (PostgreSQL refuses it) and the other control characters, C0, DEL
// and C1 (they garble terminals and logs). multiline lets tab, line feed
// and carriage return through, for descriptions.
func checkText(field, s string, multiline bool) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return Invalid(field, "must be valid UTF-8")
			}
		}
		if isControl(r) && !(multiline && (r == '\t' || r == '\n' || r == '\r')) {
			return Invalid(field, "must not contain control characters such as NUL")
		}
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || 0x7f <= r && r <= 0x9f }

// IdempotencyKeyRule is what an Idempotency-Key must be, for messages and
// help text.
const IdempotencyKeyRule = "must be 1–255 printable ASCII characters"

// checkIdempotencyKey: printable ASCII (space to ~), at most
// MaxIdempotencyKeyLen; "" means none was given.
func checkIdempotencyKey(k string) error {
	if len(k) > MaxIdempotencyKeyLen {
		return Invalid("Idempotency-Key", IdempotencyKeyRule)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return Invalid("Idempotency-Key", IdempotencyKeyRule)
		}
	}
	return nil
}

// OrderingKeyRule is what an ordering key must be, for messages and help
// text.
const OrderingKeyRule = "must be 1–255 bytes of UTF-8 text without control characters"

// checkOrderingKey: valid UTF-8 without control characters, at most
// MaxOrderingKeyLen bytes; "" means none was given.
func checkOrderingKey(k string) error {
	if len(k) > MaxOrderingKeyLen {
		return Invalid("ordering_key", fmt.Sprintf("%s (got %d bytes)", OrderingKeyRule, len(k)))
	}
	if !utf8.ValidString(k) {
		return Invalid("ordering_key", OrderingKeyRule+" (not valid UTF-8)")
	}
	for _, r := range k {
		if isControl(r) {
			return Invalid("ordering_key", OrderingKeyRule+" (it holds a control character)")
		}
	}
	return nil
}

// checkID is for an optional id in a filter: empty, or an id of prefix.
func checkID(field, v, prefix string) error {
	if v != "" && !ids.Valid(prefix, v) {
		return Invalid(field, "must be an id starting with "+prefix+"_")
	}
	return nil
}
