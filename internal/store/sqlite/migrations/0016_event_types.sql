-- The types of event each project has published, kept by Publish in the
-- same transaction as the events: one upsert per distinct type of a batch,
-- so listing them never scans the events. last_event_id is the newest
-- event of the type (ids sort by creation time); its body is the example.
-- Retention does not lower count. The events already stored are counted
-- once here, reading the events_by_project_type index in order.
CREATE TABLE event_types (
    project_id    TEXT NOT NULL,
    type          TEXT NOT NULL,
    count         INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    last_event_id TEXT NOT NULL,
    PRIMARY KEY (project_id, type)
) WITHOUT ROWID;

INSERT INTO event_types (project_id, type, count, last_seen_at, last_event_id)
SELECT project_id, type, count(*), max(created_at), max(id)
FROM events GROUP BY project_id, type;
