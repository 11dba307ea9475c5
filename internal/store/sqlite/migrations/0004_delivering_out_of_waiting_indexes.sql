-- Deliveries being delivered leave the indexes that serve claims and the
-- status filter. Most deliveries are created delivering (claimed by the
-- publish that creates them) and end succeeded; every index they enter
-- and leave on the way costs B-tree work and pages in each commit. Now:
--
--   deliveries_due, deliveries_waiting_by_endpoint: pending and retrying
--     only (what a claim may take);
--   deliveries_leased: delivering only, by lease expiry, so that a claim
--     finds the deliveries of a node that died when their leases run out;
--   deliveries_by_project_status: every status but delivering (a listing
--     of delivering deliveries reads deliveries_leased: they are only the
--     ones in flight).
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id, endpoint_id, status)
    WHERE (status = 'pending' OR status = 'retrying');
DROP INDEX deliveries_unfinished_by_endpoint;
CREATE INDEX deliveries_waiting_by_endpoint ON deliveries (endpoint_id, next_attempt_at, id)
    WHERE (status = 'pending' OR status = 'retrying');
CREATE INDEX deliveries_leased ON deliveries (lease_expires_at, id)
    WHERE status = 'delivering';
DROP INDEX deliveries_by_project_status;
CREATE INDEX deliveries_by_project_status ON deliveries (project_id, status, id)
    WHERE status <> 'delivering';
