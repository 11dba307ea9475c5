-- A claim that skips endpoints at their concurrency limit (a dead endpoint
-- with a large backlog) would otherwise step over that endpoint's whole
-- backlog in the due index on every claim. With this index the claim
-- looks endpoint by endpoint once a bounded walk of the due index ends
-- among skipped endpoints' deliveries.
CREATE INDEX deliveries_due_by_endpoint_idx ON deliveries (endpoint_id, next_attempt_at, id)
	WHERE status IN ('pending', 'retrying', 'delivering');
