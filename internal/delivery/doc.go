// Package delivery sends webhooks: it claims due deliveries from the store
// under a lease, signs each with the project's active secrets, POSTs it with
// a bounded worker pool (at most PerEndpoint requests in flight per endpoint,
// so one slow receiver cannot take every worker), records the attempt and
// schedules the retry. A node that dies loses nothing: its leases expire and
// another claim picks the deliveries up again (at-least-once).
//
// Tester sends one signed test event straight away and stores nothing.
package delivery
