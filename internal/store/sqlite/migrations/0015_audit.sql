-- The audit trail: every change of state, who made it, when and from
-- where. project_id is NULL for what concerns no one project (failed
-- sign-ins, admin actions). Ids carry their creation millisecond, so id
-- order is time order; retention removes by at.
CREATE TABLE audit (
    id           TEXT PRIMARY KEY,
    project_id   TEXT,
    at           INTEGER NOT NULL,
    actor_key_id TEXT NOT NULL,
    source       TEXT NOT NULL,
    action       TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    detail       TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX audit_by_project ON audit (project_id, id);
CREATE INDEX audit_by_time ON audit (at);
