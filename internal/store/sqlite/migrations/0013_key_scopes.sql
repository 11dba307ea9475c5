-- API keys get a name, a scope, the key that created them (revoking a key
-- revokes the keys it created) and when they were last used. Keys made
-- before scopes existed keep the power they had: admin keys are scope
-- admin, project keys scope project. bootstrap marks the admin keys hookd
-- made itself (--admin-key, generated at first start, hookd keys
-- rotate-admin): starting with another --admin-key replaces them.
ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'project';
ALTER TABLE api_keys ADD COLUMN created_by TEXT;
ALTER TABLE api_keys ADD COLUMN bootstrap INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
UPDATE api_keys SET scope = 'admin', bootstrap = 1 WHERE project_id IS NULL;
-- The keys a key created, for revoking them with it.
CREATE INDEX api_keys_by_creator ON api_keys (created_by) WHERE created_by IS NOT NULL;
-- A project's keys, for listing them and counting its valid manager keys.
CREATE INDEX api_keys_by_project ON api_keys (project_id, id);
