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
