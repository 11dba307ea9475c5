-- Web UI sessions. The browser holds a random token; hash is its SHA-256,
-- so reading this table signs nobody in. A session belongs to the API key
-- that signed in: revoking the key deletes its sessions (RevokeAPIKey).
CREATE TABLE sessions (
	hash       bytea PRIMARY KEY,
	api_key_id text NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_key_idx ON sessions (api_key_id);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);
