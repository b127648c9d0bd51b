-- Version 9: who may see and do what (README, "Access, lifecycle and audit").
-- API tokens created with `tilsyn-collector token create` or POST /api/v1/tokens: the
-- secret is stored only as its SHA-256 (it is 256 random bits: nothing to brute-force).
-- `departments` is a comma-separated list for the `department` role, empty otherwise.
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    departments TEXT NOT NULL DEFAULT '',
    secret_hash TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at_ms BIGINT,
    revoked_at_ms BIGINT,
    last_used_ms BIGINT
);
-- Every action and every change made with a token: who, when, from where, what,
-- before and after (JSON). Pruned by the leader after `audit.retention`.
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at_ms);
-- Maintenance windows made through the API or CLI (ITIL changes): one occurrence each,
-- with the change's reference and reason; `scope_json` as a window file's `scope:`.
CREATE TABLE IF NOT EXISTS change_windows (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    change_ref TEXT NOT NULL,
    reason TEXT NOT NULL,
    scope_json TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS change_windows_by_end ON change_windows (end_ms);
-- A host moved to another department or class: the SLA of past periods counts it where
-- it was then.
CREATE TABLE IF NOT EXISTS host_moves (
    agent_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    from_department TEXT NOT NULL,
    to_department TEXT NOT NULL,
    from_class TEXT NOT NULL,
    to_class TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS host_moves_by_host ON host_moves (agent_id, at_ms);
