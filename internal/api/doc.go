// Package api is hookd's JSON HTTP API (see DESIGN.md, "HTTP API"): projects,
// API keys, endpoints, the test button, publishing events, the event log,
// manual retries and signing secrets, served on the standard library mux.
//
// It is a thin adapter over internal/service, where every rule lives: a
// handler decodes the request, calls a service with the project id it
// authorized, and encodes the answer. Authorization is decided here.
//
// Every request but /healthz and /readyz carries "Authorization: Bearer
// <key>", which service.Keys.Authenticate looks up (cached for
// service.Config.KeyCacheTTL; a revocation reaches other nodes within it).
// An admin key (ProjectID "") sees every project; a project key sees only
// its own project and gets 404 — never 403 — for anything of another
// project, so it cannot learn what exists.
//
// Errors have one shape, {"error":{"code":…,"message":…}}, from
// service.Error: the code maps to one HTTP status, the message is safe to
// show a user and starts with the field it is about ("url: …"). Internal
// details are logged, never returned.
//
// Publishing answers 202 only after the Publisher reports the event and its
// deliveries committed, so an accepted event is never lost.
package api
