// Package postgres is the PostgreSQL driver of store.Store, for running
// several hookd nodes on one database.
//
// Nodes share work through the database alone: Claim takes due deliveries
// with FOR UPDATE SKIP LOCKED, so two nodes never hold live leases on the
// same delivery; Publish and RetryDelivery send NOTIFY hookd_work on commit
// so idle nodes wake at once (Listen); TryLeader elects one node for
// maintenance with a session-level advisory lock. The schema migrates
// itself on Open under an advisory lock, so nodes may start together.
//
// Errors are translated at this boundary: no row, or a missing parent row
// (foreign key violation), is store.ErrNotFound; a unique violation is
// store.ErrConflict; a lost or refused connection wraps
// store.ErrUnavailable. After a
// connection error the pool drops all its connections, since a server
// restart leaves every one of them dead; read-only calls are retried once
// on a fresh connection.
package postgres
