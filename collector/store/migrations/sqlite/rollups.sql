-- Version 6: health rollups (collector/core/src/rollup.rs). Per host, resolution (300 s or
-- 3600 s) and bucket, the samples' count, minimum, sum and maximum per measure in the
-- core's compact binary form (Rollup::encode), kept for months; and how far received
-- samples have been folded in.
CREATE TABLE IF NOT EXISTS health_rollups (
    agent_id TEXT NOT NULL,
    resolution_s INTEGER NOT NULL,
    bucket_start_ms BIGINT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (agent_id, resolution_s, bucket_start_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rollups_by_bucket ON health_rollups (resolution_s, bucket_start_ms);
CREATE TABLE IF NOT EXISTS rollup_progress (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    received_through_ms BIGINT NOT NULL
);
