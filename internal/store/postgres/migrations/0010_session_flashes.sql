-- One-time results of web UI forms (Post/Redirect/Get): the POST stores
-- one here and answers 303; the page it leads to takes it (and deletes it)
-- once. data is sealed with a key only the browser's session token gives,
-- so reading this table shows no secret or key. They go with their
-- session.
CREATE TABLE session_flashes (
	session_hash bytea NOT NULL REFERENCES sessions (hash) ON DELETE CASCADE,
	id           text NOT NULL,
	data         bytea NOT NULL,
	expires_at   timestamptz NOT NULL,
	PRIMARY KEY (session_hash, id)
);
