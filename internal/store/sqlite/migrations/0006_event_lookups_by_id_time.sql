-- Two indexes leave the path of every published event. Each index costs
-- about three WAL pages per commit (TestWALFramesPerCommit): SQLite splits
-- an index's rightmost leaf by rebalancing it with its neighbours.
--
-- events_by_created served retention. Event ids carry their creation
-- time (ULIDs), so "created before t" is a range of the id index.
--
-- deliveries_by_event found an event's deliveries. Each delivery's id
-- carries the millisecond of its event's id (Publish makes it so, and
-- always has), so they are a short range of the deliveries' primary key
-- (ofEvent in deliveries.go).
DROP INDEX events_by_created;
DROP INDEX deliveries_by_event;
