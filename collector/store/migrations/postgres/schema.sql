-- The whole schema for PostgreSQL at version 6: the same tables and indexes as the SQLite
-- files beside this one (migrations/sqlite/*.sql, whose comments say what each holds), with
-- every integer BIGINT, blobs BYTEA and generated ids as identity columns. Later versions
-- add their own upgrade to both engines (sqlite.rs and postgres.rs, MIGRATIONS).

-- hosts.sql
CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS hosts (
    agent_id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    department TEXT NOT NULL,
    class TEXT NOT NULL,
    class_source TEXT NOT NULL,
    labels_json TEXT NOT NULL,
    hostname TEXT NOT NULL,
    fqdn TEXT NOT NULL DEFAULT '',
    machine_id TEXT NOT NULL DEFAULT '',
    os_family TEXT NOT NULL DEFAULT '',
    os_name TEXT NOT NULL DEFAULT '',
    os_version TEXT NOT NULL DEFAULT '',
    agent_version TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'new',
    enrolled_at_ms BIGINT NOT NULL,
    last_seen_ms BIGINT,
    health_interval_s BIGINT NOT NULL,
    offline_after_ms BIGINT,
    -- Where the offline time starts if the host is marked offline at offline_after_ms
    -- without reporting again: set when a collector gap extended its deadline (its last
    -- report), NULL otherwise (the moment it is marked).
    offline_from_ms BIGINT,
    last_seq BIGINT NOT NULL DEFAULT 0,
    inventory_hash TEXT,
    inventory_pb BYTEA,
    inventory_at_ms BIGINT,
    software_hash TEXT,
    software_pb BYTEA,
    software_count BIGINT,
    software_at_ms BIGINT,
    patches_pb BYTEA,
    patches_at_ms BIGINT,
    pending_updates BIGINT,
    pending_security BIGINT,
    oldest_security_since_ms BIGINT,
    reboot_required BIGINT,
    health_pb BYTEA,
    health_at_ms BIGINT,
    probe_errors_json TEXT NOT NULL DEFAULT '{}',
    facts_hash TEXT,
    facts_pb BYTEA,
    facts_at_ms BIGINT
);
CREATE INDEX IF NOT EXISTS hosts_by_group ON hosts (department, class, state);
CREATE INDEX IF NOT EXISTS hosts_by_state_deadline ON hosts (state, offline_after_ms);
-- Sections (*_pb) are stored as the protobuf messages the agent sent: several times
-- smaller and cheaper to write than JSON; the API decodes them on read.
CREATE TABLE IF NOT EXISTS health_samples (
    agent_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    collected_at_ms BIGINT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    -- protobuf-encoded tilsyn.v1.Health: a quarter of the JSON size, and cheaper to write
    body BYTEA NOT NULL,
    -- On PostgreSQL partitioned by the day received (postgres.rs, Partitioned), created as
    -- samples arrive and dropped whole after health_retention; the key holds the partition
    -- key, so resent samples are refused by the host's last_seq, not by this key.
    PRIMARY KEY (agent_id, seq, received_at_ms)
) PARTITION BY RANGE (received_at_ms);
CREATE TABLE IF NOT EXISTS host_events (
    agent_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS host_events_by_host ON host_events (agent_id, at_ms);
-- The compliance of one host with one standard: its status and every rule's result
-- (JSON: state, observed value, since when, waiver), rewritten only when something changed.
CREATE TABLE IF NOT EXISTS compliance (
    agent_id TEXT NOT NULL,
    standard_id TEXT NOT NULL,
    status TEXT NOT NULL,
    results_json TEXT NOT NULL,
    evaluated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (agent_id, standard_id)
);

-- incidents.sql
CREATE TABLE IF NOT EXISTS incident_tracks (
    key TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    check_id TEXT NOT NULL,
    track_json TEXT NOT NULL,
    incident_id BIGINT
);
CREATE TABLE IF NOT EXISTS incidents (
    id BIGINT PRIMARY KEY,
    key TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    hostname TEXT NOT NULL,
    department TEXT NOT NULL,
    class TEXT NOT NULL,
    check_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    impact TEXT NOT NULL,
    priority TEXT NOT NULL,
    title TEXT NOT NULL,
    detail TEXT NOT NULL,
    state TEXT NOT NULL,
    flapping BIGINT NOT NULL DEFAULT 0,
    reopened BIGINT NOT NULL DEFAULT 0,
    opened_at_ms BIGINT NOT NULL,
    resolved_at_ms BIGINT,
    suppressed_by TEXT,
    problem_id BIGINT,
    desk TEXT NOT NULL,
    ticket_json TEXT,
    first_response_at_ms BIGINT,
    desk_resolved_at_ms BIGINT,
    desk_state TEXT,
    desk_checked_at_ms BIGINT,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_by_state ON incidents (state, department, priority);
CREATE INDEX IF NOT EXISTS incidents_by_agent ON incidents (agent_id, opened_at_ms);
CREATE INDEX IF NOT EXISTS incidents_by_opened ON incidents (opened_at_ms);
CREATE TABLE IF NOT EXISTS problems (
    id BIGINT PRIMARY KEY,
    key TEXT NOT NULL,
    check_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    state TEXT NOT NULL,
    priority TEXT NOT NULL,
    title TEXT NOT NULL,
    opened_at_ms BIGINT NOT NULL,
    resolved_at_ms BIGINT,
    hosts BIGINT NOT NULL,
    desk TEXT NOT NULL,
    ticket_json TEXT,
    first_response_at_ms BIGINT,
    desk_resolved_at_ms BIGINT,
    desk_state TEXT,
    desk_checked_at_ms BIGINT,
    updated_at_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    desk TEXT NOT NULL,
    subject TEXT NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at_ms BIGINT NOT NULL,
    last_error TEXT,
    created_at_ms BIGINT NOT NULL,
    done_at_ms BIGINT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at_ms);
CREATE INDEX IF NOT EXISTS outbox_by_subject ON outbox (subject, id);

-- sla.sql
CREATE TABLE IF NOT EXISTS incident_gaps (
    incident_id BIGINT NOT NULL,
    from_ms BIGINT NOT NULL,
    to_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_gaps_by_incident ON incident_gaps (incident_id);
CREATE TABLE IF NOT EXISTS sla_snapshots (
    month TEXT NOT NULL,
    department TEXT NOT NULL,
    figures_json TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (month, department)
);

-- absence.sql
-- The collector's own absence (version 5). Each run of a collector process beats here
-- every offline tick, so that the next start (even after kill -9) knows how long nobody
-- was listening.
CREATE TABLE IF NOT EXISTS collector_runs (
    run_id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
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
    gap_id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
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

-- rollups.sql
-- Version 6: health rollups (collector/core/src/rollup.rs). Per host, resolution (300 s or
-- 3600 s) and bucket, the samples' count, minimum, sum and maximum per measure in the
-- core's compact binary form (Rollup::encode), kept for months; and how far received
-- samples have been folded in.
-- On PostgreSQL the rollups are partitioned by resolution and time (a day of 5-minute
-- buckets, 30 days of hourly ones per partition, created as buckets arrive:
-- postgres.rs, ensure_rollup_partition) and pruned by dropping whole partitions, so no
-- index on the bucket time is needed and nothing is deleted row by row.
CREATE TABLE IF NOT EXISTS health_rollups (
    agent_id TEXT NOT NULL,
    resolution_s BIGINT NOT NULL,
    bucket_start_ms BIGINT NOT NULL,
    body BYTEA NOT NULL,
    PRIMARY KEY (agent_id, resolution_s, bucket_start_ms)
) PARTITION BY RANGE (resolution_s, bucket_start_ms);
CREATE TABLE IF NOT EXISTS rollup_progress (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    received_through_ms BIGINT NOT NULL
);
