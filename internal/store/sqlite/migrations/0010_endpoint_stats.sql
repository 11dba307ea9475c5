-- Counters behind GET …/endpoints/{eid}/stats: per endpoint and hour,
-- attempts by outcome (bucket 0-5) and a latency histogram of those that
-- got a response (bucket 100 + k); see store/stats.go. Complete adds to
-- them in the transaction that records the attempts, one upsert per
-- counter touched (an endpoint's steady traffic touches a handful, all in
-- one leaf page), so a week of statistics is a few hundred rows to read
-- however many attempts there were.
CREATE TABLE endpoint_stats (
    endpoint_id TEXT NOT NULL,
    hour        INTEGER NOT NULL, -- Unix hours of the attempts' start
    bucket      INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, hour, bucket)
) WITHOUT ROWID;
