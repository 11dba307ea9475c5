-- The customer portal. A portal session starts as a one-time link (only
-- the hash of its token is kept); its first visit claims it and stores a
-- row in sessions for the browser (portal_id set, so it is no operator's
-- sign-in, but the UI's flashes hang on it). The row here outlives that
-- one by a week, to say "this link expired" with the way back.
CREATE TABLE portal_sessions (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id),
    api_key_id   TEXT NOT NULL REFERENCES api_keys (id),
    link_hash    BLOB NOT NULL UNIQUE,
    session_hash BLOB UNIQUE,
    access       TEXT NOT NULL,
    return_url   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    claimed_at   INTEGER,
    ended_at     INTEGER
);
CREATE INDEX portal_sessions_by_expiry ON portal_sessions (expires_at);

ALTER TABLE sessions ADD COLUMN portal_id TEXT;

-- The portal session that acted, made by actor_key_id.
ALTER TABLE audit ADD COLUMN actor_portal_id TEXT NOT NULL DEFAULT '';

-- How a project's portal looks.
CREATE TABLE portal_brands (
    project_id   TEXT PRIMARY KEY REFERENCES projects (id),
    name         TEXT NOT NULL,
    logo_url     TEXT NOT NULL,
    accent_color TEXT NOT NULL
) WITHOUT ROWID;
