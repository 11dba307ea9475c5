-- A stuck key's backlog leaves the claim indexes (the SQLite driver's
-- migration 0022 does the same). An ordered endpoint whose key's first
-- delivery waits for a retry holds the key's later deliveries back; they
-- stayed in deliveries_due_idx as due work, so each claim of every project
-- stepped over all of them: 100,000 made each claim of 100 take 624 ms.
-- A claim now parks those it finds (hookd_park_blocked), which takes them
-- out of the claim indexes, and the delivery whose end lets a key go on
-- unparks the key's next (deliveries_unpark_next). Parked is bookkeeping
-- only: what is held is still worked out from WaitsFor, and a claim still
-- checks the order of everything it hands out.
ALTER TABLE deliveries ADD COLUMN parked boolean NOT NULL DEFAULT false;

DROP INDEX deliveries_due_idx;
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at, id)
	WHERE status IN ('pending', 'retrying', 'delivering') AND NOT parked;
DROP INDEX deliveries_due_by_endpoint_idx;
CREATE INDEX deliveries_due_by_endpoint_idx ON deliveries (endpoint_id, next_attempt_at, id)
	WHERE status IN ('pending', 'retrying', 'delivering') AND NOT parked;
-- What a claim looks at to park: the waiting deliveries with a key not
-- parked yet, the keys' firsts and any found behind one since. Empty
-- without ordered endpoints.
CREATE INDEX deliveries_keyed_due_idx ON deliveries (next_attempt_at, id)
	WHERE ordering_key IS NOT NULL AND status IN ('pending', 'retrying') AND NOT parked;

-- hookd_park_blocked parks up to budget of the oldest due keyed deliveries
-- that an unfinished delivery of their key is before, and says how many.
-- Claims run concurrently with the transactions whose deliveries end, so
-- it decides in two statements: the first locks the candidates it can
-- (SKIP LOCKED: one that a transaction ending a delivery of its key has
-- locked is left alone), the second, with a snapshot taken after those
-- locks, parks those still behind one. A delivery that ends later finds
-- them locked until this commits, then unparks its key's next (below).
CREATE FUNCTION hookd_park_blocked(due timestamptz, budget int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	candidates text[];
	n int;
BEGIN
	SELECT array_agg(c.id) INTO candidates FROM (
		SELECT d.id FROM deliveries d
		WHERE d.id IN (SELECT w.id FROM deliveries w
				WHERE w.ordering_key IS NOT NULL AND w.status IN ('pending', 'retrying') AND NOT w.parked
					AND w.next_attempt_at <= due
				ORDER BY w.next_attempt_at, w.id LIMIT budget)
			AND d.ordering_key IS NOT NULL AND d.status IN ('pending', 'retrying') AND NOT d.parked
			AND EXISTS (SELECT 1 FROM deliveries o WHERE o.endpoint_id = d.endpoint_id AND o.ordering_key = d.ordering_key
				AND o.ordering_key IS NOT NULL AND o.status IN ('pending', 'retrying', 'delivering')
				AND (o.event_id, o.id) < (d.event_id, d.id))
		FOR UPDATE OF d SKIP LOCKED) c;
	IF candidates IS NULL THEN
		RETURN 0;
	END IF;
	UPDATE deliveries d SET parked = true
	WHERE d.id = ANY(candidates) AND d.status IN ('pending', 'retrying') AND NOT d.parked
		AND EXISTS (SELECT 1 FROM deliveries o WHERE o.endpoint_id = d.endpoint_id AND o.ordering_key = d.ordering_key
			AND o.ordering_key IS NOT NULL AND o.status IN ('pending', 'retrying', 'delivering')
			AND (o.event_id, o.id) < (d.event_id, d.id));
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

-- When an unfinished delivery with a key ends or is removed, the key's
-- first unfinished delivery, if it is waiting and parked, is claimable
-- again. It is locked before parked is read: a claim parking it holds
-- that lock until it commits, and this then reads what it wrote. One in
-- flight is never parked, so it is not locked (a transaction cancelling an
-- endpoint's waiting deliveries must not wait for the one in flight).
CREATE FUNCTION deliveries_unpark_next() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	head text;
	head_status text;
BEGIN
	SELECT o.id, o.status INTO head, head_status FROM deliveries o
	WHERE o.endpoint_id = OLD.endpoint_id AND o.ordering_key = OLD.ordering_key
		AND o.ordering_key IS NOT NULL AND o.status IN ('pending', 'retrying', 'delivering')
	ORDER BY o.event_id, o.id LIMIT 1;
	IF head IS NOT NULL AND head_status <> 'delivering' THEN
		PERFORM 1 FROM deliveries WHERE id = head FOR UPDATE;
		UPDATE deliveries SET parked = false WHERE id = head AND parked;
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER deliveries_unpark_next_on_end AFTER UPDATE OF status ON deliveries
	FOR EACH ROW
	WHEN (OLD.ordering_key IS NOT NULL AND OLD.status IN ('pending', 'retrying', 'delivering')
		AND NEW.status NOT IN ('pending', 'retrying', 'delivering'))
	EXECUTE FUNCTION deliveries_unpark_next();
CREATE TRIGGER deliveries_unpark_next_on_delete AFTER DELETE ON deliveries
	FOR EACH ROW
	WHEN (OLD.ordering_key IS NOT NULL AND OLD.status IN ('pending', 'retrying', 'delivering'))
	EXECUTE FUNCTION deliveries_unpark_next();
