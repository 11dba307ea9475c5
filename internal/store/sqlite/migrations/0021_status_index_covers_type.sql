-- deliveries_by_project_status carries each delivery's event type and
-- endpoint, so that a listing or bulk resend filtered by status and event
-- type (a prefix in any case: a LIKE, which no index can range over here)
-- and checking the endpoint is enabled reads only the index: the preview
-- of "resend the failed customer.* deliveries", counting to 10,001, read a
-- table row for each failed delivery of the project (361 ms at 10,000,000
-- attempts in BENCHMARKS.md; 74 → 15 ms at 400,000 deliveries here). No
-- B-tree is added to the write path; its entries grow by those two
-- columns.
DROP INDEX deliveries_by_project_status;
CREATE INDEX deliveries_by_project_status ON deliveries (project_id, status, id, event_type, endpoint_id)
    WHERE status <> 'delivering';
