-- The partial indexes' WHERE clause becomes three equalities joined by OR.
-- SQLite evaluates an index's WHERE on every insert and update of a
-- delivery, and it evaluated "status IN (three values)" by building a
-- temporary B-tree of the three values each time: four of them per
-- recorded outcome, which made that UPDATE cost several times the work of
-- the index changes themselves. The ORs are plain comparisons. Queries that
-- use these indexes repeat the same expression (the unfinished constant),
-- which is what lets SQLite prove the index usable.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id, endpoint_id, status)
    WHERE (status = 'pending' OR status = 'retrying' OR status = 'delivering');
DROP INDEX deliveries_unfinished_by_endpoint;
CREATE INDEX deliveries_unfinished_by_endpoint ON deliveries (endpoint_id, next_attempt_at, id)
    WHERE (status = 'pending' OR status = 'retrying' OR status = 'delivering');
