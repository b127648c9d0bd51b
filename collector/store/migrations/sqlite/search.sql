-- Version 11: finding hosts by what they run and who they are (HostFilter's software,
-- update and text filters, Store::count_hosts, Store::software_versions; search.rs).
--
-- Derived data: the sections stay protobuf blobs in hosts (software_pb, patches_pb,
-- inventory_pb), and these tables hold what a search needs from them, so that no query
-- decodes a blob. Ingest rewrites a host's rows in the transaction that stores the section,
-- only when its content changed (a new content hash; patches when their updates differ).
-- An upgrade to version 11 builds them from the stored blobs in the upgrade's transaction
-- (search::rebuild, decoded in Rust), and `store migrate --to postgres` rebuilds them in
-- the copy the same way rather than copying them.
--
-- Rows name a host by hosts.host_no, an integer given at enrolment (here the largest + 1,
-- SQLite having one writer; existing hosts got their rowid), never changed: these tables
-- hold a row per host and installed package (15 million at 100,000 hosts), and an agent id
-- would be most of each row. A retired host keeps its rows: every search joins hosts and
-- leaves retired hosts out unless the filter asks for state 'retired', as the host list
-- always has; a new host number starts without rows (search::forget).

-- Every package name seen installed or pending, once, as reported and lowercased (Rust's
-- to_lowercase). The software and update filters match names *containing* the text: this
-- table (thousands of rows, not millions) is what such a match scans.
CREATE TABLE IF NOT EXISTS package_names (
    name_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    name_lc TEXT NOT NULL
);
-- Every (name, version) installed somewhere, once. Never pruned: a version no host has
-- any more joins no host_software row and counts nowhere.
CREATE TABLE IF NOT EXISTS software_variants (
    variant_id INTEGER PRIMARY KEY,
    name_id BIGINT NOT NULL,
    version TEXT NOT NULL,
    UNIQUE (name_id, version)
);
-- Which host has which (name, version) installed: the hosts of a version are a range of
-- the key, a host's rows (replaced when its software changes) a range of the index.
CREATE TABLE IF NOT EXISTS host_software (
    variant_id BIGINT NOT NULL,
    host_no BIGINT NOT NULL,
    PRIMARY KEY (variant_id, host_no)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS host_software_by_host ON host_software (host_no);
-- A host's pending updates by package name; `security` 1 when any pending update of that
-- name is a security update. (Hosts with any pending security update: hosts.pending_security.)
CREATE TABLE IF NOT EXISTS host_updates (
    name_id BIGINT NOT NULL,
    host_no BIGINT NOT NULL,
    security INTEGER NOT NULL,
    PRIMARY KEY (name_id, host_no)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS host_updates_by_host ON host_updates (host_no);
-- What free text finds a host by, lowercased: kind 'name' by prefix (the hostname and the
-- fully qualified name), kind 'id' only exactly (the hardware serial, each interface's IP
-- addresses without prefix length, its MAC address). Agent ids are hosts' own key.
CREATE TABLE IF NOT EXISTS host_idents (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    host_no BIGINT NOT NULL,
    PRIMARY KEY (kind, value, host_no)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS host_idents_by_host ON host_idents (host_no);
