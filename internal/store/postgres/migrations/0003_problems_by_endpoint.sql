-- "Failed deliveries of endpoint X", the query support staff run most,
-- answered directly instead of by walking every failed delivery of the
-- project. Succeeded and in-flight deliveries stay out of it, so the usual
-- life of a delivery never writes to it. ListDeliveries repeats the WHERE
-- clause so that the planner can use it with a parameterised status.
CREATE INDEX deliveries_problems_by_endpoint_idx ON deliveries (project_id, endpoint_id, status, id DESC)
	WHERE status NOT IN ('succeeded', 'delivering');
