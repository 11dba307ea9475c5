-- The breaker's window of recent attempts (health.Policy): it opens when
-- (nearly) all of them failed, not on a run of failures.
ALTER TABLE endpoints ADD COLUMN window_start INTEGER;  -- NULL: no window yet
ALTER TABLE endpoints ADD COLUMN window_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN window_failures INTEGER NOT NULL DEFAULT 0;
