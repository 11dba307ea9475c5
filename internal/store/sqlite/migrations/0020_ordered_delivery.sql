-- Ordered delivery (opt-in per endpoint). An event may carry an ordering
-- key; an ordered endpoint's deliveries carry their event's key, and a
-- claim hands one out only while no earlier delivery of its endpoint and
-- key is unfinished (see store/lifecycle.go). Deliveries without a key —
-- every delivery of an unordered endpoint — store NULL and enter no new
-- index, so publishing without keys writes what it wrote before.
ALTER TABLE endpoints ADD COLUMN ordered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN ordering_key TEXT;     -- NULL: none given
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT; -- NULL: none, or its endpoint is not ordered

-- The unfinished deliveries of each (endpoint, key) in event order: "is
-- one before this one unfinished" is one seek.
CREATE INDEX deliveries_ordered ON deliveries (endpoint_id, ordering_key, event_id, id, status)
    WHERE ordering_key IS NOT NULL AND (status = 'pending' OR status = 'retrying' OR status = 'delivering');

-- The claim index covers ordering_key and event_id, so that a claim
-- tells a keyed delivery from the others, and finds what is before it,
-- without reading the row.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id, endpoint_id, status, ordering_key, event_id)
    WHERE (status = 'pending' OR status = 'retrying');
DROP INDEX deliveries_waiting_by_endpoint;
CREATE INDEX deliveries_waiting_by_endpoint ON deliveries (endpoint_id, next_attempt_at, id, ordering_key)
    WHERE (status = 'pending' OR status = 'retrying');
