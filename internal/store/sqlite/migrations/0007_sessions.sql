-- Web UI sessions. The browser holds a random token; hash is its SHA-256,
-- so reading this table signs nobody in. A session belongs to the API key
-- that signed in: revoking the key deletes its sessions (RevokeAPIKey).
CREATE TABLE sessions (
    hash       BLOB PRIMARY KEY,
    api_key_id TEXT NOT NULL REFERENCES api_keys (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_by_key ON sessions (api_key_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
