-- The breaker's window of recent attempts (health.Policy): it opens when
-- (nearly) all of them failed, not on a run of failures.
ALTER TABLE endpoints
	ADD COLUMN window_start timestamptz,  -- NULL: no window yet
	ADD COLUMN window_attempts integer NOT NULL DEFAULT 0,
	ADD COLUMN window_failures integer NOT NULL DEFAULT 0;
