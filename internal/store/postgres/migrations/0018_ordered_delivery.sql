-- Ordered delivery (opt-in per endpoint). An event may carry an ordering
-- key; an ordered endpoint's deliveries carry their event's key, and a
-- claim hands one out only while no earlier delivery of its endpoint and
-- key is unfinished (see store/lifecycle.go). Deliveries without a key —
-- every delivery of an unordered endpoint — store NULL and enter no new
-- index.
ALTER TABLE endpoints ADD COLUMN ordered boolean NOT NULL DEFAULT false;
ALTER TABLE events ADD COLUMN ordering_key text;     -- NULL: none given
ALTER TABLE deliveries ADD COLUMN ordering_key text; -- NULL: none, or its endpoint is not ordered

-- The unfinished deliveries of each (endpoint, key) in event order: "is
-- one before this one unfinished" is one probe.
CREATE INDEX deliveries_ordered_idx ON deliveries (endpoint_id, ordering_key, event_id, id)
	WHERE ordering_key IS NOT NULL AND status IN ('pending', 'retrying', 'delivering');
