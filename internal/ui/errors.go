package ui

import (
	"errors"
	"net/http"

	"github.com/hookd/hookd/internal/store"
)

// pageError is an error page: a status and a message safe to show.
type pageError struct {
	Status  int
	Title   string
	Message string
}

func (e *pageError) Error() string { return e.Message }

var (
	errPageNotFound    = &pageError{http.StatusNotFound, "Page not found", "There is no page at this address."}
	errProjectNotFound = &pageError{http.StatusNotFound, "Project not found", "There is no such project, or your key cannot see it."}
	errForbidden       = &pageError{http.StatusForbidden, "Request refused",
		"This form was not sent from this page or its security token did not match. Go back, reload the page and try again."}
	errAdminOnly   = &pageError{http.StatusForbidden, "Admin only", "Only the admin key can do this."}
	errUnavailable = &pageError{http.StatusServiceUnavailable, "Try again", "The database is unavailable right now. Try again in a moment."}
	errInternal    = &pageError{http.StatusInternalServerError, "Something went wrong", "hookd could not show this page. The details are in its log."}
)

// notFoundAs turns the store's not-found into the page error given, and
// other errors into their pages.
func notFoundAs(err error, nf *pageError) error {
	if errors.Is(err, store.ErrNotFound) {
		return nf
	}
	return err
}

// asPageError is what the user sees of err; internal errors are logged by
// the caller and shown only as "something went wrong".
func asPageError(err error) (e *pageError, internal bool) {
	switch {
	case errors.As(err, &e):
		return e, false
	case errors.Is(err, store.ErrUnavailable):
		return errUnavailable, false
	case errors.Is(err, store.ErrNotFound):
		return errPageNotFound, false
	}
	return errInternal, true
}
