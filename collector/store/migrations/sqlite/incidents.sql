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
    flapping INTEGER NOT NULL DEFAULT 0,
    reopened INTEGER NOT NULL DEFAULT 0,
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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    desk TEXT NOT NULL,
    subject TEXT NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at_ms BIGINT NOT NULL,
    last_error TEXT,
    created_at_ms BIGINT NOT NULL,
    done_at_ms BIGINT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at_ms);
CREATE INDEX IF NOT EXISTS outbox_by_subject ON outbox (subject, id);
