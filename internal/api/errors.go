package api

import (
	"net/http"

	"github.com/hookd/hookd/internal/service"
)

// Codes only the API answers with; the others are service.Code's.
const (
	codeMethodNotAllowed service.Code = "method_not_allowed"
)

// statuses maps each error code to its one HTTP status.
var statuses = map[service.Code]int{
	service.CodeInvalidArgument:      http.StatusBadRequest,
	service.CodeUnauthenticated:      http.StatusUnauthorized,
	service.CodePermissionDenied:     http.StatusForbidden,
	service.CodeInsufficientScope:    http.StatusForbidden,
	service.CodeNotFound:             http.StatusNotFound,
	codeMethodNotAllowed:             http.StatusMethodNotAllowed,
	service.CodeConflict:             http.StatusConflict,
	service.CodeEndpointNotEnabled:   http.StatusConflict,
	service.CodePayloadTooLarge:      http.StatusRequestEntityTooLarge,
	service.CodeUnprocessable:        http.StatusUnprocessableEntity,
	service.CodeIdempotencyKeyReused: http.StatusUnprocessableEntity,
	service.CodeRateLimited:          http.StatusTooManyRequests,
	service.CodeUnavailable:          http.StatusServiceUnavailable,
	service.CodeInternal:             http.StatusInternalServerError,
	codeHeadersTooLarge:              http.StatusRequestHeaderFieldsTooLarge,
	codeNotImplemented:               http.StatusNotImplemented,
}

func statusOf(c service.Code) int {
	if s, ok := statuses[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// errorBody is the one shape of every error answer; the message names the
// field it is about as "field: message".
type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

var (
	errAdminOnly   = &service.Error{Code: service.CodePermissionDenied, Message: "this operation needs the admin key"}
	errUnavailable = &service.Error{Code: service.CodeUnavailable, Message: "the database is unavailable; try again"}
	errInternal    = &service.Error{Code: service.CodeInternal, Message: "internal error"}
)
