// Package delivery sends webhooks. Fresh deliveries arrive claimed by the
// publish that created them (Direct, Deliver); due ones — retries, a
// backlog, work this node had no room for, a dead node's expired leases —
// it claims from the store under a lease. It signs each with the project's
// active secrets, POSTs it with
// a bounded worker pool (at most PerEndpoint requests in flight per endpoint,
// so one slow receiver cannot take every worker), records the attempt and
// schedules the retry. A node that dies loses nothing: its leases expire and
// another claim picks the deliveries up again (at-least-once).
//
// Tester sends one signed test event straight away and stores nothing.
package delivery
