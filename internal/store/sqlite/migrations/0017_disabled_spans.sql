-- The times each endpoint was disabled, so that enabling it again can
-- deliver what was published meanwhile ("replay missing"). Triggers keep
-- it, whichever statement disables or enables an endpoint (an update, a
-- 410, the failure threshold): each such statement sets updated_at to its
-- own now, which is when the span starts or ends.
CREATE TABLE endpoint_disabled_spans (
    endpoint_id TEXT NOT NULL,
    disabled_at INTEGER NOT NULL,
    enabled_at  INTEGER, -- NULL: still disabled
    PRIMARY KEY (endpoint_id, disabled_at)
) WITHOUT ROWID;

-- Endpoints disabled before this version: their span starts at their last
-- change, the best time known.
INSERT INTO endpoint_disabled_spans (endpoint_id, disabled_at)
    SELECT id, updated_at FROM endpoints WHERE enabled = 0;

-- A disable at the instant an earlier span began (enabled and disabled
-- again within one tick of the clock) opens that span again: a disabled
-- endpoint always has one open span.
CREATE TRIGGER endpoint_created_disabled AFTER INSERT ON endpoints WHEN NEW.enabled = 0
BEGIN
    INSERT INTO endpoint_disabled_spans (endpoint_id, disabled_at) VALUES (NEW.id, NEW.created_at)
        ON CONFLICT (endpoint_id, disabled_at) DO UPDATE SET enabled_at = NULL;
END;

CREATE TRIGGER endpoint_disabled AFTER UPDATE OF enabled ON endpoints WHEN OLD.enabled = 1 AND NEW.enabled = 0
BEGIN
    INSERT INTO endpoint_disabled_spans (endpoint_id, disabled_at) VALUES (NEW.id, NEW.updated_at)
        ON CONFLICT (endpoint_id, disabled_at) DO UPDATE SET enabled_at = NULL;
END;

CREATE TRIGGER endpoint_enabled AFTER UPDATE OF enabled ON endpoints WHEN OLD.enabled = 0 AND NEW.enabled = 1
BEGIN
    UPDATE endpoint_disabled_spans SET enabled_at = NEW.updated_at
        WHERE endpoint_id = NEW.id AND enabled_at IS NULL;
END;

CREATE TRIGGER endpoint_deleted_spans AFTER DELETE ON endpoints
BEGIN
    DELETE FROM endpoint_disabled_spans WHERE endpoint_id = OLD.id;
END;
