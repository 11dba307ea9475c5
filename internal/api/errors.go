package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/hookd/hookd/internal/store"
)

// Error codes of the API. Each maps to exactly one HTTP status in statusOf.
const (
	codeInvalidArgument  = "invalid_argument"
	codeUnauthenticated  = "unauthenticated"
	codePermissionDenied = "permission_denied"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeConflict         = "conflict"
	codePayloadTooLarge  = "payload_too_large"
	codeUnprocessable    = "unprocessable"
	codeRateLimited      = "rate_limited"
	codeUnavailable      = "unavailable"
	codeInternal         = "internal"
)

var statusOf = map[string]int{
	codeInvalidArgument:  http.StatusBadRequest,
	codeUnauthenticated:  http.StatusUnauthorized,
	codePermissionDenied: http.StatusForbidden,
	codeNotFound:         http.StatusNotFound,
	codeMethodNotAllowed: http.StatusMethodNotAllowed,
	codeConflict:         http.StatusConflict,
	codePayloadTooLarge:  http.StatusRequestEntityTooLarge,
	codeUnprocessable:    http.StatusUnprocessableEntity,
	codeRateLimited:      http.StatusTooManyRequests,
	codeUnavailable:      http.StatusServiceUnavailable,
	codeInternal:         http.StatusInternalServerError,
}

// apiError is an error whose message is safe to return to the caller.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func (e *apiError) status() int {
	if s, ok := statusOf[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// invalid reports a bad request naming the field it is about.
func invalid(field, msg string) *apiError {
	return &apiError{Code: codeInvalidArgument, Message: field + ": " + msg}
}

func notFound(what string) *apiError {
	return &apiError{Code: codeNotFound, Message: what + " not found"}
}

var (
	errUnauthenticated = &apiError{Code: codeUnauthenticated, Message: "missing, invalid or revoked API key"}
	errAdminOnly       = &apiError{Code: codePermissionDenied, Message: "this operation needs the admin key"}
	errUnavailable     = &apiError{Code: codeUnavailable, Message: "the database is unavailable; try again"}
	errInternal        = &apiError{Code: codeInternal, Message: "internal error"}
)

// notFoundAs turns store.ErrNotFound into a 404 naming what was looked for
// and leaves every other error alone.
func notFoundAs(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(what)
	}
	return err
}

// publicError decides what the caller sees for err. internal is true when
// the details must be logged because the caller only sees "internal error".
func publicError(err error) (e *apiError, internal bool) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae, false
	case errors.Is(err, store.ErrNotFound):
		return notFound("resource"), false
	case errors.Is(err, store.ErrConflict):
		return &apiError{Code: codeConflict, Message: "conflicts with the current state"}, false
	case errors.Is(err, store.ErrUnavailable),
		errors.Is(err, context.DeadlineExceeded):
		return errUnavailable, false
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		return errUnavailable, false
	}
	return errInternal, true
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }
