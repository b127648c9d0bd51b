-- Version 7: several collectors on one database (README, "Several collectors"). One
-- leader at a time holds the `leader` lease: its owner, an epoch that grows with every
-- change of owner (the fencing token), and an expiry judged on the database's clock. The
-- leader alone runs what must happen once (offline detection, the incident engine and its
-- outbox, the SLA snapshots, retention); the other collectors hand what their agents
-- report to it through incident_news.
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    acquired_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS incident_news (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id TEXT NOT NULL,
    body BLOB NOT NULL,
    created_ms BIGINT NOT NULL
);
