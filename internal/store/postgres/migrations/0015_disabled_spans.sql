-- The times each endpoint was disabled, so that enabling it again can
-- deliver what was published meanwhile ("replay missing"). A trigger keeps
-- it, whichever statement disables or enables an endpoint (an update, a
-- 410, the failure threshold): each such statement sets updated_at to its
-- own now, which is when the span starts or ends.
CREATE TABLE endpoint_disabled_spans (
    endpoint_id text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    disabled_at timestamptz NOT NULL,
    enabled_at  timestamptz, -- NULL: still disabled
    PRIMARY KEY (endpoint_id, disabled_at)
);

-- Endpoints disabled before this version: their span starts at their last
-- change, the best time known.
INSERT INTO endpoint_disabled_spans (endpoint_id, disabled_at)
    SELECT id, updated_at FROM endpoints WHERE NOT enabled;

-- A disable at the instant an earlier span began (enabled and disabled
-- again within one tick of the clock) opens that span again: a disabled
-- endpoint always has one open span.
CREATE FUNCTION endpoint_disabled_spans_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NOT NEW.enabled THEN
            INSERT INTO endpoint_disabled_spans (endpoint_id, disabled_at) VALUES (NEW.id, NEW.created_at)
                ON CONFLICT (endpoint_id, disabled_at) DO UPDATE SET enabled_at = NULL;
        END IF;
    ELSIF OLD.enabled AND NOT NEW.enabled THEN
        INSERT INTO endpoint_disabled_spans (endpoint_id, disabled_at) VALUES (NEW.id, NEW.updated_at)
            ON CONFLICT (endpoint_id, disabled_at) DO UPDATE SET enabled_at = NULL;
    ELSIF NOT OLD.enabled AND NEW.enabled THEN
        UPDATE endpoint_disabled_spans SET enabled_at = NEW.updated_at
            WHERE endpoint_id = NEW.id AND enabled_at IS NULL;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER endpoint_disabled_spans_keep AFTER INSERT OR UPDATE OF enabled ON endpoints
    FOR EACH ROW EXECUTE FUNCTION endpoint_disabled_spans_keep();
