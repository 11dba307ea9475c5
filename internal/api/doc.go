// Package api is hookd's JSON HTTP API (see DESIGN.md, "HTTP API"): projects,
// API keys, endpoints, the test button, publishing events, the event log,
// manual retries and signing secrets, served on the standard library mux.
//
// Every request but /healthz and /readyz carries "Authorization: Bearer
// <key>". Keys are stored as their SHA-256 (HashKey) and compared in
// constant time. An admin key (ProjectID "") sees every project; a project
// key sees only its own project and gets 404 — never 403 — for anything of
// another project, so it cannot learn what exists.
//
// Key lookups are cached for Config.KeyCacheTTL (default 5 s). Revoking a key
// drops it from the cache of the node that served the revocation at once;
// other nodes sharing the database keep accepting it until their cached
// entry expires, so a revocation takes up to KeyCacheTTL to reach every node.
//
// Errors have one shape, {"error":{"code":…,"message":…}}; the message is
// safe to show a user and names the offending field. Internal details are
// logged, never returned.
//
// Publishing answers 202 only after the Publisher reports the event and its
// deliveries committed, so an accepted event is never lost.
package api
