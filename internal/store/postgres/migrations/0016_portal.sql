-- The customer portal. A portal session starts as a one-time link (only
-- the hash of its token is kept); its first visit claims it and stores a
-- row in sessions for the browser (portal_id set, so it is no operator's
-- sign-in, but the UI's flashes hang on it). The row here outlives that
-- one by a week, to say "this link expired" with the way back.
CREATE TABLE portal_sessions (
	id           text PRIMARY KEY,
	project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	api_key_id   text NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
	link_hash    bytea NOT NULL UNIQUE,
	session_hash bytea UNIQUE,
	access       text NOT NULL,
	return_url   text NOT NULL DEFAULT '',
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL,
	claimed_at   timestamptz,
	ended_at     timestamptz
);
CREATE INDEX portal_sessions_expiry_idx ON portal_sessions (expires_at);

ALTER TABLE sessions ADD COLUMN portal_id text;

-- The portal session that acted, made by actor_key_id.
ALTER TABLE audit ADD COLUMN actor_portal_id text NOT NULL DEFAULT '';

-- How a project's portal looks.
CREATE TABLE portal_brands (
	project_id   text PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
	name         text NOT NULL,
	logo_url     text NOT NULL,
	accent_color text NOT NULL
);
