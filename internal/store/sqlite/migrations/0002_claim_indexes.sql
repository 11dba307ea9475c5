-- Claim reads candidates from the due index alone (covering: the skip test
-- needs endpoint_id; status lets SQLite skip the table), and finds due work of one endpoint without scanning
-- other endpoints' backlog.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id, endpoint_id, status)
    WHERE status IN ('pending', 'retrying', 'delivering');
DROP INDEX deliveries_unfinished_by_endpoint;
CREATE INDEX deliveries_unfinished_by_endpoint ON deliveries (endpoint_id, next_attempt_at, id)
    WHERE status IN ('pending', 'retrying', 'delivering');
