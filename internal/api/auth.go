package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/hookd/hookd/internal/service"
)

var errUnauthenticated = &service.Error{Code: service.CodeUnauthenticated, Message: "missing, invalid or revoked API key"}

// authenticate finds the caller's key from "Authorization: Bearer <key>",
// or fails with 401.
func (s *server) authenticate(ctx context.Context, r *http.Request) (service.APIKey, error) {
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return service.APIKey{}, errUnauthenticated
	}
	return s.svc.Keys.Authenticate(ctx, strings.TrimSpace(key))
}
