package service

import (
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

func checkDescription(d string) error {
	if utf8.RuneCountInString(d) > MaxDescriptionLen {
		return Invalid("description", "must be at most "+strconv.Itoa(MaxDescriptionLen)+" characters")
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
