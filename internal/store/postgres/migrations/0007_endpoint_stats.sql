-- Counters behind GET …/endpoints/{eid}/stats: per endpoint and hour,
-- attempts by outcome (bucket 0-5) and a latency histogram of those that
-- got a response (bucket 100 + k); see store/stats.go. Complete adds to
-- them in the transaction that records the attempts, in key order, so a
-- week of statistics is a few hundred rows to read however many attempts
-- there were.
CREATE TABLE endpoint_stats (
    endpoint_id text NOT NULL,
    hour        bigint NOT NULL, -- Unix hours of the attempts' start
    bucket      integer NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (endpoint_id, hour, bucket)
);
