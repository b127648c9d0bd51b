-- The collector's own absence (version 5). Each run of a collector process beats here
-- every offline tick, so that the next start (even after kill -9) knows how long nobody
-- was listening.
CREATE TABLE IF NOT EXISTS collector_runs (
    run_id INTEGER PRIMARY KEY,
    started_ms BIGINT NOT NULL,
    beat_ms BIGINT NOT NULL,
    -- Set by a clean stop; NULL after a crash, kill -9 or power loss.
    stopped_ms BIGINT
);
-- Stretches in which the collector could not hear its hosts: the process was down, the
-- store unavailable, the machine suspended or ingest stalled behind a backlog. Hosts got
-- their full offline grace counted from `to_ms`; once that grace ended (`settle_at_ms`)
-- each host's part of the gap that its own (spooled) health does not cover was written
-- to host_unmonitored.
CREATE TABLE IF NOT EXISTS collector_gaps (
    gap_id INTEGER PRIMARY KEY,
    from_ms BIGINT NOT NULL,
    to_ms BIGINT NOT NULL,
    cause TEXT NOT NULL,
    graced_hosts BIGINT NOT NULL,
    settle_at_ms BIGINT NOT NULL,
    settled_at_ms BIGINT
);
-- A host's time inside a collector gap that nothing it reported covers: unmonitored, left
-- out of its services' availability (configs/sla.md).
CREATE TABLE IF NOT EXISTS host_unmonitored (
    agent_id TEXT NOT NULL,
    from_ms BIGINT NOT NULL,
    to_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS host_unmonitored_by_end ON host_unmonitored (to_ms);
