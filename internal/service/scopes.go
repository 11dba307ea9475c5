package service

import "strings"

// Scope is what an API key may do. Every request needs one scope; a key
// may make it when its scope covers that one (Scope.Covers).
type Scope string

// The scopes, widest first.
const (
	// ScopeAdmin: everything, in every project, and projects themselves.
	ScopeAdmin Scope = "admin"
	// ScopeProject: manage one project (endpoints, secrets, keys,
	// deliveries), and publish and read there.
	ScopeProject Scope = "project"
	// ScopePublish: publish events to one project, nothing else.
	ScopePublish Scope = "publish"
	// ScopeRead: read one project's event log and stats, nothing else.
	ScopeRead Scope = "read"
)

// Scopes lists every scope, widest first.
var Scopes = []Scope{ScopeAdmin, ScopeProject, ScopePublish, ScopeRead}

// ParseScope reads a scope by its name.
func ParseScope(v string) (Scope, error) {
	for _, s := range Scopes {
		if v == string(s) {
			return s, nil
		}
	}
	names := make([]string, len(Scopes))
	for i, s := range Scopes {
		names[i] = string(s)
	}
	return "", Invalid("scope", "must be one of "+strings.Join(names, ", "))
}

// Covers reports whether a key of scope s may do what needs scope need:
// admin covers every scope, project covers publish and read, publish and
// read cover only themselves. An unknown scope covers nothing.
func (s Scope) Covers(need Scope) bool {
	switch s {
	case ScopeAdmin:
		return true
	case ScopeProject:
		return need == ScopeProject || need == ScopePublish || need == ScopeRead
	case ScopePublish, ScopeRead:
		return s == need
	}
	return false
}

// InsufficientScope is the error of a key used beyond its scope; it names
// the scope needed.
func InsufficientScope(have, need Scope) *Error {
	what := "no scope"
	if have != "" {
		what = "scope " + string(have)
	}
	return &Error{Code: CodeInsufficientScope, Message: "this needs a key of scope " + string(need) +
		wider(need) + "; this key has " + what}
}

func wider(need Scope) string {
	switch need {
	case ScopeAdmin:
		return ""
	case ScopeProject:
		return " or admin"
	}
	return ", project or admin"
}

// Require returns nil when key k may do what needs scope need, or the
// insufficient-scope error naming need.
func Require(k APIKey, need Scope) error {
	if Scope(k.Scope).Covers(need) {
		return nil
	}
	return InsufficientScope(Scope(k.Scope), need)
}
