-- Version 8: the hosts whose compliance inputs changed (a full inventory, software,
-- patches or facts section, or other probe errors), appended by ingest on any collector,
-- so that every collector's compliance views follow hosts that report to the others
-- (README, "Several collectors"); `origin` is the ingesting collector (its lease owner
-- name), which has evaluated the change itself. The leader prunes it after an hour.
CREATE TABLE IF NOT EXISTS section_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS section_changes_by_time ON section_changes (at_ms);
