-- A key's backlog leaves the claim indexes (issue: hostile tenants). An
-- ordered endpoint whose key's first delivery waits for a retry holds the
-- key's later deliveries back; they stayed due in deliveries_due, so every
-- claim of every project walked them, one ordering check each, before the
-- work behind them: 100,000 of them made each claim take 187 ms in the
-- single writer. A claim now parks each such delivery it meets (parked =
-- 1), which takes it out of both claim indexes, and the delivery whose end
-- lets a key go on unparks the key's next (the trigger below). Parked is
-- bookkeeping only: store.Held and WaitsFor still decide what is held, and
-- Claim still checks the order of everything it hands out.
ALTER TABLE deliveries ADD COLUMN parked INTEGER NOT NULL DEFAULT 0;

DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id, endpoint_id, status, ordering_key, event_id)
    WHERE (status = 'pending' OR status = 'retrying') AND parked = 0;
DROP INDEX deliveries_waiting_by_endpoint;
CREATE INDEX deliveries_waiting_by_endpoint ON deliveries (endpoint_id, next_attempt_at, id, ordering_key)
    WHERE (status = 'pending' OR status = 'retrying') AND parked = 0;

-- When an unfinished delivery with a key ends (or is removed), the key's
-- first unfinished delivery, if parked, is claimable again. Only the first:
-- the others are still behind it.
CREATE TRIGGER deliveries_unpark_next_on_end AFTER UPDATE OF status ON deliveries
    WHEN OLD.ordering_key IS NOT NULL
     AND (OLD.status = 'pending' OR OLD.status = 'retrying' OR OLD.status = 'delivering')
     AND NOT (NEW.status = 'pending' OR NEW.status = 'retrying' OR NEW.status = 'delivering')
BEGIN
    UPDATE deliveries SET parked = 0 WHERE parked = 1 AND id = (SELECT o.id FROM deliveries o
        WHERE o.endpoint_id = OLD.endpoint_id AND o.ordering_key = OLD.ordering_key
          AND o.ordering_key IS NOT NULL AND (o.status = 'pending' OR o.status = 'retrying' OR o.status = 'delivering')
        ORDER BY o.event_id, o.id LIMIT 1);
END;
CREATE TRIGGER deliveries_unpark_next_on_delete AFTER DELETE ON deliveries
    WHEN OLD.ordering_key IS NOT NULL
     AND (OLD.status = 'pending' OR OLD.status = 'retrying' OR OLD.status = 'delivering')
BEGIN
    UPDATE deliveries SET parked = 0 WHERE parked = 1 AND id = (SELECT o.id FROM deliveries o
        WHERE o.endpoint_id = OLD.endpoint_id AND o.ordering_key = OLD.ordering_key
          AND o.ordering_key IS NOT NULL AND (o.status = 'pending' OR o.status = 'retrying' OR o.status = 'delivering')
        ORDER BY o.event_id, o.id LIMIT 1);
END;
