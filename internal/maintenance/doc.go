// Package maintenance runs the work that must happen once per cluster rather
// than once per node: today, retention (removing events older than the
// retention period whose deliveries are all finished, with those deliveries
// and their attempts).
//
// Every node runs a Runner; each round it asks Config.Leader whether it
// leads, and only the leader does the work. On PostgreSQL the leader holds a
// session-level advisory lock ((*postgres.DB).TryLeader), so leadership
// passes to another node within one Interval when the leader stops or dies.
// On SQLite one process owns the file, so it always leads.
//
// Rescuing the deliveries of a node that died needs no job here: Claim
// itself takes deliveries whose lease expired, on whichever node claims
// next.
package maintenance
