package api

import "github.com/hookd/hookd/internal/service"

// routeScopes is the scope each authenticated route needs: a key whose
// scope does not cover it gets 403 insufficient_scope, naming it
// (service.Scope.Covers: admin covers all, project covers publish and
// read). A route missing here makes New fail.
var routeScopes = map[string]service.Scope{
	"POST /v1/projects":        service.ScopeAdmin,
	"GET /v1/projects":         service.ScopeRead,
	"GET /v1/egress":           service.ScopeRead,
	"GET /v1/projects/{pid}":   service.ScopeRead,
	"PATCH /v1/projects/{pid}": service.ScopeProject,
	// A portal session acts for its key: scope project to make one (the
	// service also wants the project's own key, not the admin's).
	"POST /v1/projects/{pid}/portal-sessions": service.ScopeProject,
	"POST /v1/api-keys":                       service.ScopeAdmin,
	"GET /v1/api-keys":                        service.ScopeAdmin,
	"DELETE /v1/api-keys/{kid}":               service.ScopeAdmin,
	"POST /v1/api-keys/{kid}/rotate":          service.ScopeAdmin,

	"POST /v1/projects/{pid}/api-keys":         service.ScopeProject,
	"GET /v1/projects/{pid}/api-keys":          service.ScopeProject,
	"DELETE /v1/projects/{pid}/api-keys/{kid}": service.ScopeProject,

	"POST /v1/projects/{pid}/endpoints":               service.ScopeProject,
	"GET /v1/projects/{pid}/endpoints":                service.ScopeRead,
	"GET /v1/projects/{pid}/endpoints/{eid}":          service.ScopeRead,
	"PATCH /v1/projects/{pid}/endpoints/{eid}":        service.ScopeProject,
	"DELETE /v1/projects/{pid}/endpoints/{eid}":       service.ScopeProject,
	"POST /v1/projects/{pid}/endpoints/{eid}/test":    service.ScopeProject,
	"POST /v1/projects/{pid}/endpoints/{eid}/recover": service.ScopeProject,
	"POST /v1/projects/{pid}/endpoints/{eid}/probe":   service.ScopeProject,
	"GET /v1/projects/{pid}/endpoints/{eid}/stats":    service.ScopeRead,

	"POST /v1/projects/{pid}/events":       service.ScopePublish,
	"POST /v1/projects/{pid}/events/batch": service.ScopePublish,
	"GET /v1/projects/{pid}/events":        service.ScopeRead,
	"GET /v1/projects/{pid}/events/stream": service.ScopeRead,
	"GET /v1/projects/{pid}/events/{evid}": service.ScopeRead,
	"GET /v1/projects/{pid}/event-types":   service.ScopeRead,

	"GET /v1/projects/{pid}/deliveries":              service.ScopeRead,
	"GET /v1/projects/{pid}/deliveries/{did}":        service.ScopeRead,
	"POST /v1/projects/{pid}/deliveries/{did}/retry": service.ScopeProject,
	"POST /v1/projects/{pid}/deliveries/retry":       service.ScopeProject,

	"GET /v1/projects/{pid}/secret":         service.ScopeProject,
	"POST /v1/projects/{pid}/secret/rotate": service.ScopeProject,

	// The audit trail names keys and addresses: for who manages.
	"GET /v1/projects/{pid}/audit": service.ScopeProject,
	"GET /v1/audit":                service.ScopeAdmin,
}
