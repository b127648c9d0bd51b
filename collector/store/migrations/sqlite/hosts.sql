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
    health_interval_s INTEGER NOT NULL,
    offline_after_ms BIGINT,
    -- Where the offline time starts if the host is marked offline at offline_after_ms
    -- without reporting again: set when a collector gap extended its deadline (its last
    -- report), NULL otherwise (the moment it is marked).
    offline_from_ms BIGINT,
    last_seq BIGINT NOT NULL DEFAULT 0,
    inventory_hash TEXT,
    inventory_pb BLOB,
    inventory_at_ms BIGINT,
    software_hash TEXT,
    software_pb BLOB,
    software_count INTEGER,
    software_at_ms BIGINT,
    patches_pb BLOB,
    patches_at_ms BIGINT,
    pending_updates INTEGER,
    pending_security INTEGER,
    oldest_security_since_ms BIGINT,
    reboot_required INTEGER,
    health_pb BLOB,
    health_at_ms BIGINT,
    probe_errors_json TEXT NOT NULL DEFAULT '{}',
    facts_hash TEXT,
    facts_pb BLOB,
    facts_at_ms BIGINT,
    -- Version 9: the host was retired (state 'retired'), its credential revoked, and when
    -- either or a move last happened (collectors drop cached credentials changed since).
    retired_at_ms BIGINT,
    revoked_at_ms BIGINT,
    lifecycle_at_ms BIGINT,
    -- Version 11: the host's number in the search tables (search.sql); its indexes are
    -- made in sqlite.rs once the column exists.
    host_no INTEGER
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
    body BLOB NOT NULL,
    PRIMARY KEY (agent_id, seq)
);
CREATE INDEX IF NOT EXISTS health_by_received ON health_samples (received_at_ms);
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
) WITHOUT ROWID;
