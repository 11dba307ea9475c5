-- Endpoint health, circuit breaker and limits. The health columns change
-- only when an endpoint's state does (a failure, the first success after
-- failures, last_success_at at most once a minute), so the common delivery
-- path — a healthy endpoint answering 2xx — never writes the endpoint row.
ALTER TABLE endpoints
	ADD COLUMN rate_limit_per_second integer NOT NULL DEFAULT 0,
	ADD COLUMN max_concurrency integer NOT NULL DEFAULT 0,
	ADD COLUMN failing_since timestamptz,   -- NULL: not failing
	ADD COLUMN last_success_at timestamptz, -- NULL: never
	ADD COLUMN failures integer NOT NULL DEFAULT 0,
	ADD COLUMN probe_at timestamptz;        -- NULL: breaker closed
-- Claims exclude open breakers every time; while none is open this index
-- is empty.
CREATE INDEX endpoints_open_breakers_idx ON endpoints (probe_at) WHERE probe_at IS NOT NULL;

-- Send slots of limited endpoints, shared by every node: a request takes
-- one rate slot (held until a second after its answer) and one
-- concurrency slot (held until its answer). held_until bounds a slot whose
-- node died.
CREATE TABLE send_slots (
	endpoint_id text NOT NULL,
	kind        smallint NOT NULL, -- 0 rate, 1 concurrency
	n           integer NOT NULL,
	held_until  timestamptz NOT NULL,
	token       text NOT NULL DEFAULT '',
	PRIMARY KEY (endpoint_id, kind, n)
);
