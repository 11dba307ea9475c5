package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/hookd/hookd/internal/service"
)

// authenticate finds the caller's key from "Authorization: Bearer <key>",
// or fails with 401 (a missing or malformed header is an empty key).
func (s *server) authenticate(ctx context.Context, r *http.Request) (service.APIKey, error) {
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		key = ""
	}
	return s.svc.Keys.Authenticate(ctx, strings.TrimSpace(key))
}
