package ui

import (
	"errors"
	"net/http"

	"github.com/hookd/hookd/internal/service"
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

// notFoundAs turns the service's not-found into the page error given.
func notFoundAs(err error, nf *pageError) error {
	if e, _ := service.AsError(err); e.Code == service.CodeNotFound {
		return nf
	}
	return err
}

// asPageError is what the user sees of err; internal is true for errors
// the caller logs and shows only as "something went wrong".
func asPageError(err error) (e *pageError, internal bool) {
	if errors.As(err, &e) {
		return e, false
	}
	se, internal := service.AsError(err)
	if internal {
		return errInternal, true
	}
	switch se.Code {
	case service.CodeNotFound:
		return &pageError{http.StatusNotFound, "Not found", capitalize(se.Message) + "."}, false
	case service.CodeUnavailable:
		return &pageError{http.StatusServiceUnavailable, "Try again", capitalize(se.Message) + "."}, false
	case service.CodeConflict:
		return &pageError{http.StatusConflict, "Not possible right now", capitalize(se.Error()) + "."}, false
	case service.CodeRateLimited:
		return &pageError{http.StatusTooManyRequests, "Slow down", capitalize(se.Message) + "."}, false
	case service.CodeInsufficientScope:
		return &pageError{http.StatusForbidden, "Not allowed with this key", capitalize(se.Message) + "."}, false
	case service.CodeInvalidArgument, service.CodeUnprocessable:
		return &pageError{http.StatusBadRequest, "Check the input", capitalize(se.Error()) + "."}, false
	}
	return errInternal, true
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
