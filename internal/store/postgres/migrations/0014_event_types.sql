-- The types of event each project has published, kept by Publish in the
-- same statement as the events: one row per distinct type of a batch, so
-- listing them never scans the events. As endpoint_stats, each process adds
-- to its own shard of a type's row (so two nodes publishing the same type
-- do not queue on one row lock); reads sum the shards. last_event_id is the
-- newest event of the type (ids sort by creation time, compared bytewise);
-- its body is the example. Retention does not lower count. The events
-- already stored are counted once here, into shard 0.
CREATE TABLE event_types (
    project_id    text NOT NULL,
    type          text COLLATE "C" NOT NULL,
    shard         smallint NOT NULL,
    count         bigint NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    last_event_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (project_id, type, shard)
);

INSERT INTO event_types (project_id, type, shard, count, last_seen_at, last_event_id)
SELECT project_id, type, 0, count(*), max(created_at), max(id COLLATE "C")
FROM events GROUP BY project_id, type;
