-- Endpoint health, circuit breaker and limits. The health columns change
-- only when an endpoint's state does (a failure, the first success after
-- failures, last_success_at at most once a minute), so the common delivery
-- path — a healthy endpoint answering 2xx — never writes the endpoint row.
ALTER TABLE endpoints ADD COLUMN rate_limit_per_second INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN max_concurrency INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN failing_since INTEGER;   -- NULL: not failing
ALTER TABLE endpoints ADD COLUMN last_success_at INTEGER; -- NULL: never
ALTER TABLE endpoints ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN probe_at INTEGER;        -- NULL: breaker closed
-- Claims look for open breakers every time; while none is open this index
-- is empty and the look costs one page.
CREATE INDEX endpoints_open_breakers ON endpoints (probe_at) WHERE probe_at IS NOT NULL;
