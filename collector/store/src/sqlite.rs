//! The embedded default engine: SQLite in WAL mode. One writer connection (SQLite has one
//! writer at a time anyway; the ingest writer thread batches many reports per transaction)
//! and a small pool of reader connections for the API and metrics.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::Connection;

use crate::sql::{Conn, Db, Engine, Param, Row, ToParam, Value};

use crate::{Result, SqlStore, StoreError};

const SCHEMA_VERSION: i64 = 11;

// The tables, created on every open where missing (`CREATE ... IF NOT EXISTS`), kept as
// SQL files beside the crate: the hosts and reports (`hosts.sql`), the incidents, problems,
// tracks and outbox (version 3, `incidents.sql`), the SLA's gaps and snapshots (version 4,
// `sla.sql`), the collector's own runs, gaps and the hosts' unmonitored time (version 5,
// `absence.sql`), the health rollups (version 6, `rollups.sql`), the leader lease and
// the incident news of several collectors (version 7, `cluster.sql`), the feed of hosts
// whose compliance inputs changed (version 8, `changes.sql`), API tokens, the audit trail,
// change windows and host moves (version 9, `access.sql`), waivers made through the API
// (version 10, `waivers.sql`), the tables hosts are searched by (version 11, `search.sql`).
const SCHEMA: &[&str] = &[
    include_str!("../migrations/sqlite/hosts.sql"),
    include_str!("../migrations/sqlite/incidents.sql"),
    include_str!("../migrations/sqlite/sla.sql"),
    include_str!("../migrations/sqlite/absence.sql"),
    include_str!("../migrations/sqlite/rollups.sql"),
    include_str!("../migrations/sqlite/cluster.sql"),
    include_str!("../migrations/sqlite/changes.sql"),
    include_str!("../migrations/sqlite/access.sql"),
    include_str!("../migrations/sqlite/waivers.sql"),
    include_str!("../migrations/sqlite/search.sql"),
];

/// Version 9's index on the hosts' new column: made after the column exists (a new
/// database has it from `hosts.sql`, an older one from the migration).
const LIFECYCLE_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS hosts_by_lifecycle ON hosts (lifecycle_at_ms);";

/// Version 11's indexes on the hosts, made (as [`LIFECYCLE_INDEX`]) once `host_no` exists:
/// its number, unique; and the host list's order holding every column the search filters
/// on, so that a page or a count walks this index alone (the host rows, a few kilobytes
/// each with their sections, are read for the page only).
macro_rules! search_indexes {
    () => {
        "CREATE UNIQUE INDEX IF NOT EXISTS hosts_by_no ON hosts (host_no); \
         CREATE INDEX IF NOT EXISTS hosts_search ON hosts \
         (hostname, agent_id, host_no, state, department, class, os_family, pending_security);"
    };
}
const SEARCH_INDEXES: &str = search_indexes!();

/// Upgrades from each older schema version, applied in order after `SCHEMA` (which only
/// creates what is missing).
const MIGRATIONS: &[(i64, &str)] = &[
    (
        2,
        "ALTER TABLE hosts ADD COLUMN facts_hash TEXT; ALTER TABLE hosts ADD COLUMN facts_pb BLOB; \
     ALTER TABLE hosts ADD COLUMN facts_at_ms BIGINT;",
    ),
    // Version 3 only adds tables (incidents, problems, tracks, outbox): SCHEMA creates
    // them on every open.
    (3, ""),
    // Version 4 adds sla_snapshots (created on every open).
    (4, ""),
    // Version 5 adds the collector's runs and gaps and, per host, where its offline time
    // starts when a gap's grace ends without a report.
    (5, "ALTER TABLE hosts ADD COLUMN offline_from_ms BIGINT;"),
    // Version 6 adds the health rollups (created on every open).
    (6, ""),
    // Version 7 adds the leader lease and the incident news queue (created on every open).
    (7, ""),
    // Version 8 adds the section changes feed (created on every open).
    (8, ""),
    // Version 9 adds tokens, audit, change windows and host moves (created on every open)
    // and the hosts' lifecycle columns.
    (
        9,
        "ALTER TABLE hosts ADD COLUMN retired_at_ms BIGINT; ALTER TABLE hosts ADD COLUMN revoked_at_ms BIGINT; \
     ALTER TABLE hosts ADD COLUMN lifecycle_at_ms BIGINT; \
     CREATE INDEX IF NOT EXISTS hosts_by_lifecycle ON hosts (lifecycle_at_ms);",
    ),
    // Version 10 adds the API's waivers (created on every open).
    (10, ""),
    // Version 11 adds the search tables (created on every open) and numbers the hosts
    // for them; `FILLS` builds their rows from the stored sections.
    (
        11,
        concat!(
            "ALTER TABLE hosts ADD COLUMN host_no INTEGER; UPDATE hosts SET host_no = rowid; ",
            search_indexes!()
        ),
    ),
];

/// What upgrading to a version does beyond its SQL.
const FILLS: &[(i64, crate::sql::Fill)] = &[(11, fill_search)];

fn fill_search(c: &dyn Conn) -> Result<()> {
    // Millions of rows land all over the new tables' indexes: a page cache to match for
    // the while (a quarter of a gigabyte at most; at 100,000 hosts the upgrade took 120 s
    // with it, 190 s without), then the writer's usual again.
    c.batch("PRAGMA cache_size = -262144")?;
    let built = crate::search::rebuild(c).map(|_| ());
    c.batch("PRAGMA cache_size = -65536")?;
    built
}

pub struct Sqlite {
    path: String,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

fn open_conn(path: &str) -> Result<Connection> {
    let c = Connection::open(path).map_err(|e| StoreError::Open {
        path: path.into(),
        message: e.to_string(),
    })?;
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db)?;
    // The store's statements stay prepared: ingest, the API and the host search (a few
    // per filter combination) use more than rusqlite's default cache of 16.
    c.set_prepared_statement_cache_capacity(256);
    c.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
        .map_err(|e| StoreError::Open {
            path: path.into(),
            message: format!("{e} (is this a SQLite database, and is the disk writable?)"),
        })?;
    Ok(c)
}

/// Opens (creating and migrating) the SQLite database at `path`.
pub fn open(path: &Path) -> Result<SqlStore> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
    }
    let p = path.display().to_string();
    let writer = open_conn(&p)?;
    // The one writer keeps up to 64 MiB of pages (SQLite's default is 2 MiB): a software
    // list lands as a hundred or more rows all over the search tables' indexes, and
    // ingest of a fleet's first reports ran 30 % faster with it (taken as used, so a small
    // site's database costs no more).
    writer
        .execute_batch("PRAGMA cache_size = -65536")
        .map_err(db)?;
    SqlStore::new(Box::new(Sqlite {
        path: p,
        writer: Mutex::new(writer),
        readers: Mutex::new(Vec::new()),
    }))
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Param::Null => ValueRef::Null,
            Param::Int(v) => ValueRef::Integer(v),
            Param::Real(v) => ValueRef::Real(v),
            Param::Text(v) => ValueRef::Text(v.as_bytes()),
            Param::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

fn value(v: ValueRef<'_>) -> Result<Value> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|e| StoreError::Db(format!("text column is not UTF-8: {e}")))?
                .to_string(),
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

/// A connection (inside a transaction for writes).
struct SqliteConn<'a>(&'a Connection);

impl Conn for SqliteConn<'_> {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn execute(&self, sql: &str, params: &[&dyn ToParam]) -> Result<u64> {
        let mut st = self.0.prepare_cached(sql).map_err(db)?;
        let n = st
            .execute(rusqlite::params_from_iter(params.iter().map(|p| p.param())))
            .map_err(db)?;
        Ok(n as u64)
    }

    fn query_each(
        &self,
        sql: &str,
        params: &[&dyn ToParam],
        each: &mut dyn FnMut(&Row) -> Result<()>,
    ) -> Result<()> {
        let mut st = self.0.prepare_cached(sql).map_err(db)?;
        let n = st.column_count();
        let mut rows = st
            .query(rusqlite::params_from_iter(params.iter().map(|p| p.param())))
            .map_err(db)?;
        let mut row = Row::default();
        while let Some(r) = rows.next().map_err(db)? {
            row.values.clear();
            for i in 0..n {
                row.values.push(value(r.get_ref(i).map_err(db)?)?);
            }
            each(&row)?;
        }
        Ok(())
    }

    fn batch(&self, sql: &str) -> Result<()> {
        self.0.execute_batch(sql).map_err(db)
    }
}

impl Db for Sqlite {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path)
    }

    fn write_dyn(&self, f: &mut dyn FnMut(&dyn Conn) -> Result<()>) -> Result<()> {
        let mut c = self.writer.lock().expect("writer");
        let tx = c.transaction().map_err(db)?;
        f(&SqliteConn(&tx))?;
        tx.commit().map_err(db)
    }

    fn read_dyn(&self, f: &mut dyn FnMut(&dyn Conn) -> Result<()>) -> Result<()> {
        let conn = self.readers.lock().expect("reader pool").pop();
        let conn = match conn {
            Some(c) => c,
            None => open_conn(&self.path)?,
        };
        let r = f(&SqliteConn(&conn));
        let mut pool = self.readers.lock().expect("reader pool");
        if pool.len() < 4 {
            pool.push(conn);
        }
        r
    }

    fn migrate(&self) -> Result<()> {
        let mut c = self.writer.lock().expect("writer");
        let tx = c.transaction().map_err(db)?;
        let conn: &dyn Conn = &SqliteConn(&tx);
        // Read the version before SCHEMA runs: `CREATE TABLE IF NOT EXISTS` leaves an old
        // hosts table as it was, and the migrations below add what it lacks.
        let has_versions: i64 = conn.query_value(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_version'",
            &[],
        )?;
        let v: Option<i64> = if has_versions > 0 {
            conn.query_value("SELECT MAX(version) FROM schema_version", &[])?
        } else {
            None
        };
        for sql in SCHEMA {
            conn.batch(sql)?;
        }
        // SCHEMA above created what a new database needs.
        crate::sql::upgrade(
            conn,
            &self.path,
            v,
            SCHEMA_VERSION,
            &[LIFECYCLE_INDEX, SEARCH_INDEXES],
            MIGRATIONS,
            FILLS,
        )?;
        tx.commit().map_err(db)?;
        Ok(())
    }

    fn vacuum(&self) -> Result<()> {
        let c = self.writer.lock().expect("writer");
        c.execute_batch("VACUUM").map_err(db)
    }

    fn size_bytes(&self) -> Result<u64> {
        let db: &dyn Db = self;
        db.read(|c| {
            c.query_value::<i64>(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                &[],
            )
            .map(|n| n.max(0) as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::{agent, batch, rep};
    use crate::Store;
    use tilsyn_proto::v1::report::Body;

    #[test]
    fn a_version_1_database_is_upgraded_in_place() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.db");
        {
            let s = super::open(&p).unwrap();
            agent(&s, "a");
            s.raw(
                "ALTER TABLE hosts DROP COLUMN facts_hash; ALTER TABLE hosts DROP COLUMN facts_pb; \
                 ALTER TABLE hosts DROP COLUMN facts_at_ms; ALTER TABLE hosts DROP COLUMN offline_from_ms; \
                 DROP INDEX hosts_by_lifecycle; ALTER TABLE hosts DROP COLUMN retired_at_ms; \
                 ALTER TABLE hosts DROP COLUMN revoked_at_ms; ALTER TABLE hosts DROP COLUMN lifecycle_at_ms; \
                 DROP INDEX hosts_by_no; DROP INDEX hosts_search; ALTER TABLE hosts DROP COLUMN host_no; \
                 DROP TABLE host_software; DROP TABLE host_updates; DROP TABLE host_idents; \
                 DROP TABLE software_variants; DROP TABLE package_names; \
                 DELETE FROM schema_version; \
                 INSERT INTO schema_version (version) VALUES (1);",
            )
            .unwrap();
        }
        let s = super::open(&p).unwrap();
        let f = tilsyn_proto::v1::Facts {
            content_hash: "f1".into(),
            firewall_enabled: Some(true),
            ..Default::default()
        };
        s.ingest(&[batch("a", vec![rep(1, Body::Facts(f))])], 10)
            .unwrap();
        let mut got = None;
        s.compliance_inputs(Some("a"), &mut |i| got = i.facts)
            .unwrap();
        assert_eq!(got.unwrap().firewall_enabled, Some(true));
        assert_eq!(s.schema_version().unwrap(), super::SCHEMA_VERSION);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_clear_error() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.db");
        std::fs::write(
            &p,
            b"this is not sqlite at all, not even close, definitely not",
        )
        .unwrap();
        let e = super::open(&p).err().unwrap().to_string();
        assert!(e.contains("x.db"), "{e}");
    }
}
