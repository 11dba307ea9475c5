-- Every hookd node heartbeats here while it runs (a few writes a minute
-- per node). When a node falls silent, the deliveries it had claimed
-- (lease_owner) go back to the others at once instead of when their leases
-- expire. The index holds only claimed deliveries, so finding a silent
-- node's ones never walks the backlog.
CREATE TABLE nodes (
	id           text PRIMARY KEY,
	heartbeat_at timestamptz NOT NULL
);
CREATE INDEX deliveries_leased_by_owner_idx ON deliveries (lease_owner)
	WHERE status = 'delivering';
