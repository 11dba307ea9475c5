package service

import (
	"context"
	"errors"
	"time"

	"github.com/hookd/hookd/internal/publish"
	"github.com/hookd/hookd/internal/store"
)

// Code is the machine-readable kind of an Error. Front ends map each code
// to one answer (the API: one HTTP status each).
type Code string

// Codes of Error. The service returns the first eight; the others are for
// front ends, so that every error a user sees has one model.
const (
	CodeInvalidArgument Code = "invalid_argument" // bad input; Field names it
	CodeNotFound        Code = "not_found"        // unknown, or another project's
	CodeConflict        Code = "conflict"         // not possible in the current state
	CodeUnprocessable   Code = "unprocessable"    // well-formed but not acceptable
	CodeUnavailable     Code = "unavailable"      // database down or shutting down: try again
	CodeInternal        Code = "internal"         // details logged, never shown
	// CodeIdempotencyKeyReused: an Idempotency-Key came again with a
	// different request.
	CodeIdempotencyKeyReused Code = "idempotency_key_reused"
	// CodeEndpointNotEnabled: a delivery cannot be resent because its
	// endpoint is disabled or deleted (nothing was changed).
	CodeEndpointNotEnabled Code = "endpoint_not_enabled"

	CodeUnauthenticated  Code = "unauthenticated"   // missing, wrong or revoked key
	CodePermissionDenied Code = "permission_denied" // the key may not do this
	CodePayloadTooLarge  Code = "payload_too_large" // request body over the limit
	// CodeRateLimited: over a limit of the server; Error.RetryAfter says
	// when to come back.
	CodeRateLimited Code = "rate_limited"
	// CodeInsufficientScope: the key is valid but its scope does not
	// cover the request; the message names the scope needed.
	CodeInsufficientScope Code = "insufficient_scope"
)

// Error is an error whose Message is safe to show a user. Field, when set,
// is the input it is about, named as the API names it ("url",
// "event_types[2]", "grace_period_seconds"): the UI shows the message
// beside that field, the API as "field: message".
type Error struct {
	Code    Code
	Message string
	Field   string
	// RetryAfter, with CodeRateLimited, is how long the client should
	// wait before it tries again.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Invalid is a CodeInvalidArgument error about field.
func Invalid(field, msg string) *Error {
	return &Error{Code: CodeInvalidArgument, Field: field, Message: msg}
}

// NotFound says what was not found ("endpoint not found").
func NotFound(what string) *Error {
	return &Error{Code: CodeNotFound, Message: what + " not found"}
}

var (
	errUnavailable  = &Error{Code: CodeUnavailable, Message: "the database is unavailable; try again"}
	errShuttingDown = ErrShuttingDown
	// A publish past the publish timeout: the two answers say what the
	// publisher needs to know, whether the event can be stored already.
	errCommitTimeout = &Error{Code: CodeUnavailable, Message: "the database did not commit the event in time (it is slow or stalled); " +
		"the event may still be stored: retry with the same Idempotency-Key, which answers with the stored event if it was"}
	errQueueTimeout = &Error{Code: CodeUnavailable, Message: "the database did not take the event in time (it is slow or stalled); " +
		"the event was not stored: try again"}
	errConflict = &Error{Code: CodeConflict, Message: "conflicts with the current state"}
	errInternal = &Error{Code: CodeInternal, Message: "internal error"}
	errRefused  = &Error{Code: CodeInvalidArgument, Message: "the input holds a value that cannot be stored"}
)

// ErrShuttingDown is the error of a call the node refused or ended
// because it is shutting down.
var ErrShuttingDown = &Error{Code: CodeUnavailable, Message: "this node is shutting down; try again"}

// AsError is what a user may see of err. internal is true when err is not
// one the service understood: the caller logs it and shows only
// "internal error". Errors of the service are *Error already; AsError
// also translates the store's and the publisher's errors that reach it
// another way.
func AsError(err error) (e *Error, internal bool) {
	if errors.As(err, &e) {
		return e, false
	}
	if t, ok := translate(err, "resource").(*Error); ok {
		return t, false
	}
	return errInternal, true
}

// translate turns the errors of the layers below into an *Error, naming
// what a not-found was about, and returns anything else unchanged (an
// internal error for the front end to log).
func translate(err error, what string) error {
	var e *Error
	switch {
	case err == nil || errors.As(err, &e):
		return err
	case errors.Is(err, store.ErrNotFound):
		return NotFound(what)
	case errors.Is(err, store.ErrConflict):
		return errConflict
	case errors.Is(err, store.ErrRefused):
		return errRefused
	case errors.Is(err, publish.ErrClosed):
		return errShuttingDown
	case errors.Is(err, publish.ErrCommitTimeout):
		return errCommitTimeout
	case errors.Is(err, publish.ErrQueueTimeout):
		return errQueueTimeout
	case errors.Is(err, store.ErrUnavailable),
		errors.Is(err, context.DeadlineExceeded),
		// The caller went away; nobody reads the answer.
		errors.Is(err, context.Canceled):
		return errUnavailable
	}
	return err
}
