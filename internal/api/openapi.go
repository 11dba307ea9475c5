package api

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes every route of this package (OpenAPI 3.1).
// TestOpenAPI holds it to the router: each route, path parameter and
// status code, and every answer against its schema.
//
//go:embed openapi.json
var openAPIDocument []byte

func (s *server) openAPI(w http.ResponseWriter, r *http.Request, _ call) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument)
	return nil
}
