-- The audit trail: every change of state, who made it, when and from
-- where. project_id is NULL for what concerns no one project (failed
-- sign-ins, admin actions). Ids carry their creation millisecond, so id
-- order is time order; retention removes by at.
CREATE TABLE audit (
    id           text PRIMARY KEY,
    project_id   text,
    at           timestamptz NOT NULL,
    actor_key_id text NOT NULL,
    source       text NOT NULL,
    action       text NOT NULL,
    target_id    text NOT NULL,
    detail       text NOT NULL
);

CREATE INDEX audit_by_project ON audit (project_id, id);
CREATE INDEX audit_by_time ON audit (at);
