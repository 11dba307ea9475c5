-- hookd schema, version 1.
--
-- Times are INTEGER unix microseconds (UTC): compact, sortable and exact at
-- the precision PostgreSQL keeps. NULL means "zero time" (never / none).
--
-- Tables whose rows are small use WITHOUT ROWID so the id is the one B-tree
-- key; events and attempts hold bodies of up to hundreds of KiB and stay
-- rowid tables, which store big rows better.

CREATE TABLE projects (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE secrets (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    value      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER -- NULL: never expires
) WITHOUT ROWID;

CREATE INDEX secrets_by_project ON secrets (project_id, created_at DESC, id DESC);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    project_id TEXT REFERENCES projects (id), -- NULL: admin key
    hash       BLOB NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;

CREATE TABLE endpoints (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects (id),
    url             TEXT NOT NULL,
    description     TEXT NOT NULL,
    event_types     TEXT NOT NULL, -- JSON array of strings; [] accepts every type
    enabled         INTEGER NOT NULL,
    disabled_reason TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX endpoints_by_project ON endpoints (project_id, id);

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects (id),
    type            TEXT NOT NULL,
    body            BLOB NOT NULL,
    idempotency_key TEXT, -- NULL when the publisher gave none
    created_at      INTEGER NOT NULL
);

CREATE INDEX events_by_project ON events (project_id, id);
CREATE INDEX events_by_project_type ON events (project_id, type, id);
CREATE INDEX events_by_created ON events (created_at);

-- The newest event of each (project, idempotency key). A key may be used
-- again once its event is older than the idempotency window, so uniqueness
-- cannot live on events itself without erasing the old event's key.
CREATE TABLE idempotency_keys (
    project_id TEXT NOT NULL,
    key        TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    created_at INTEGER NOT NULL, -- of the event
    PRIMARY KEY (project_id, key)
) WITHOUT ROWID;

-- endpoint_id has no foreign key: deliveries outlive their endpoint in the
-- event log.
--
-- next_attempt_at is when the row becomes claimable: the due time while
-- pending or retrying, and the lease expiry while delivering, so one partial
-- index answers Claim and NextDue for both.
CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    project_id       TEXT NOT NULL,
    event_id         TEXT NOT NULL REFERENCES events (id),
    endpoint_id      TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempt_count    INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    last_status_code INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    lease_expires_at INTEGER,
    lease_token      TEXT NOT NULL DEFAULT '',
    lease_owner      TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id)
    WHERE status IN ('pending', 'retrying', 'delivering');
CREATE INDEX deliveries_unfinished_by_endpoint ON deliveries (endpoint_id)
    WHERE status IN ('pending', 'retrying', 'delivering');
CREATE INDEX deliveries_by_project ON deliveries (project_id, id);
CREATE INDEX deliveries_by_project_status ON deliveries (project_id, status, id);
CREATE INDEX deliveries_by_project_endpoint ON deliveries (project_id, endpoint_id, id);
CREATE INDEX deliveries_by_project_type ON deliveries (project_id, event_type, id);
CREATE INDEX deliveries_by_event ON deliveries (event_id);

CREATE TABLE attempts (
    delivery_id      TEXT NOT NULL REFERENCES deliveries (id),
    number           INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    duration_ns      INTEGER NOT NULL,
    status_code      INTEGER NOT NULL,
    error            TEXT NOT NULL,
    response_headers TEXT NOT NULL, -- JSON object of string arrays
    response_body    TEXT NOT NULL,
    PRIMARY KEY (delivery_id, number)
);
