-- The first schema of hookd on PostgreSQL. Times are timestamptz
-- (microseconds); a NULL time is Go's zero time.

CREATE TABLE projects (
	id         text PRIMARY KEY,
	name       text NOT NULL,
	created_at timestamptz NOT NULL
);

CREATE TABLE secrets (
	id         text PRIMARY KEY,
	project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	value      text NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz -- NULL: never
);
CREATE INDEX secrets_project_idx ON secrets (project_id, created_at DESC);

CREATE TABLE api_keys (
	id         text PRIMARY KEY,
	project_id text REFERENCES projects (id) ON DELETE CASCADE, -- NULL: admin key
	hash       bytea NOT NULL,
	prefix     text NOT NULL,
	created_at timestamptz NOT NULL,
	revoked_at timestamptz
);
CREATE UNIQUE INDEX api_keys_hash_idx ON api_keys (hash);
CREATE INDEX api_keys_admin_idx ON api_keys (id) WHERE project_id IS NULL;

CREATE TABLE endpoints (
	id              text PRIMARY KEY,
	project_id      text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	url             text NOT NULL,
	description     text NOT NULL,
	event_types     text[] NOT NULL, -- empty: every type
	enabled         boolean NOT NULL,
	disabled_reason text NOT NULL,
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL
);
CREATE INDEX endpoints_project_idx ON endpoints (project_id, id);

CREATE TABLE events (
	id              text PRIMARY KEY,
	project_id      text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	type            text NOT NULL,
	body            bytea NOT NULL,
	idempotency_key text NOT NULL, -- as published ('' for none)
	-- The key while it still deduplicates: NULL when there is none, and
	-- once a later event reused it after the idempotency window.
	live_idempotency_key text,
	created_at      timestamptz NOT NULL
);
CREATE INDEX events_project_idx ON events (project_id, id DESC);
CREATE INDEX events_project_type_idx ON events (project_id, type, id DESC);
CREATE UNIQUE INDEX events_idempotency_idx ON events (project_id, live_idempotency_key)
	WHERE live_idempotency_key IS NOT NULL;
CREATE INDEX events_created_idx ON events (created_at);

-- Deliveries keep endpoint_id without a foreign key: a deleted endpoint's
-- deliveries stay in the log.
CREATE TABLE deliveries (
	id               text PRIMARY KEY,
	project_id       text NOT NULL,
	event_id         text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
	endpoint_id      text NOT NULL,
	event_type       text NOT NULL,
	status           text NOT NULL CHECK (status IN
		('pending', 'delivering', 'succeeded', 'retrying', 'failed', 'cancelled')),
	attempt_count    integer NOT NULL DEFAULT 0,
	next_attempt_at  timestamptz,
	last_status_code integer NOT NULL DEFAULT 0,
	last_error       text NOT NULL DEFAULT '',
	created_at       timestamptz NOT NULL,
	updated_at       timestamptz NOT NULL,
	lease_expires_at timestamptz,
	lease_token      text NOT NULL DEFAULT '',
	lease_owner      text NOT NULL DEFAULT ''
);
-- Claim walks this index in due order. While a delivery is delivering its
-- next_attempt_at is its lease expiry, so one index serves both fresh work
-- and expired leases; it stays small, holding only live work.
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at, id)
	WHERE status IN ('pending', 'retrying', 'delivering');
-- The event log, newest first, per project and per filter.
CREATE INDEX deliveries_project_idx ON deliveries (project_id, id DESC);
CREATE INDEX deliveries_project_status_idx ON deliveries (project_id, status, id DESC);
CREATE INDEX deliveries_project_endpoint_idx ON deliveries (project_id, endpoint_id, id DESC);
CREATE INDEX deliveries_project_type_idx ON deliveries (project_id, event_type, id DESC);
CREATE INDEX deliveries_event_idx ON deliveries (event_id);

-- Attempts have no unique number: a claimant whose lease expired still
-- records the attempt it made, beside the one of the new claimant.
CREATE TABLE attempts (
	seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	delivery_id      text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
	number           integer NOT NULL,
	started_at       timestamptz NOT NULL,
	duration_ns      bigint NOT NULL,
	status_code      integer NOT NULL,
	error            text NOT NULL,
	response_headers jsonb,
	response_body    bytea NOT NULL
);
CREATE INDEX attempts_delivery_idx ON attempts (delivery_id, number);
