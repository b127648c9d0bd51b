-- Version 10: waivers granted through the API or the command line (approved deviations
-- from one rule until a date), beside the standards directory's waiver files.
-- `doc_json` is the waiver as a waiver file's entry; `ended_at_ms` when it was withdrawn.
CREATE TABLE IF NOT EXISTS api_waivers (
    id TEXT PRIMARY KEY,
    doc_json TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    ended_at_ms BIGINT
);
