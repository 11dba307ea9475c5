// Package delivery sends webhooks. Fresh deliveries arrive claimed by the
// publish that created them (Direct, Deliver); due ones — retries, a
// backlog, work this node had no room for, a dead node's expired leases —
// it claims from the store under a lease. It signs each with the project's
// active secrets, POSTs it with a bounded worker pool (at most PerEndpoint
// requests in flight per endpoint, so one slow receiver cannot take every
// worker), and hands the outcome to the Recorder, which writes outcomes in
// batches on its own goroutine and retries on the injected clock. A node
// that dies loses nothing: its leases expire and another claim picks the
// deliveries up again (at-least-once). Engine's documentation says which
// goroutine does what.
//
// Tester sends one signed test event straight away and stores nothing.
package delivery
