-- Every hookd process heartbeats here while it runs (a few writes a
-- minute). When a process falls silent, the deliveries it had claimed
-- (lease_owner) go back to the waiting at once instead of when their
-- leases expire; deliveries_leased already holds every claimed delivery,
-- so finding a silent node's ones needs no index of its own.
CREATE TABLE nodes (
    id           TEXT PRIMARY KEY,
    heartbeat_at INTEGER NOT NULL
) WITHOUT ROWID;
