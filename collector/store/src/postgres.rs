//! The PostgreSQL engine, for several collectors on one database and fleets beyond what one
//! SQLite file serves. The client is the synchronous `postgres` crate (tokio-postgres
//! underneath): the store is synchronous and called from blocking threads, and it is the
//! smallest mature client to build (no macros, no query checking at compile time against a
//! live database). A bounded pool of connections, each with its prepared statements; TLS
//! by rustls (ring), as the rest of the collector; the connection string as libpq users
//! write it (`postgres://user@host:port/db?sslmode=verify-full&sslrootcert=/ca.pem`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use postgres::types::{IsNull, ToSql, Type};
use serde::Deserialize;
use tilsyn_proto::duration::HumanDuration;

use crate::sql::{numbered_to_dollar, Conn, Db, Engine, Param, Row, ToParam, Value};
use crate::{Result, SqlStore, StoreError};

const SCHEMA_VERSION: i64 = 11;
/// The schema at version 6, where PostgreSQL support starts.
const SCHEMA: &str = include_str!("../migrations/postgres/schema.sql");
/// Version 7: the leader lease and the incident news of several collectors.
const CLUSTER: &str = include_str!("../migrations/postgres/cluster.sql");
/// Version 8: the feed of hosts whose compliance inputs changed.
const CHANGES: &str = include_str!("../migrations/postgres/changes.sql");
/// Version 9: API tokens, the audit trail, change windows, host moves, lifecycle columns.
const ACCESS: &str = include_str!("../migrations/postgres/access.sql");
/// Version 10: waivers made through the API or the command line.
const WAIVERS: &str = include_str!("../migrations/postgres/waivers.sql");
/// Version 11: the tables hosts are searched by, and the hosts' numbers in them.
const SEARCH: &str = include_str!("../migrations/postgres/search.sql");
/// Upgrades from each older version.
const MIGRATIONS: &[(i64, &str)] = &[
    (7, CLUSTER),
    (8, CHANGES),
    (9, ACCESS),
    (10, WAIVERS),
    (11, SEARCH),
];
/// What upgrading to a version does beyond its SQL: version 11 builds the search rows
/// from the stored sections.
const FILLS: &[(i64, crate::sql::Fill)] = &[(11, |c| crate::search::rebuild(c).map(|_| ()))];
/// The advisory lock that serializes collectors migrating the same database at once.
const MIGRATION_LOCK: i64 = 0x7469_6c73_796e_0001;
/// Rows fetched per round trip while streaming a query.
const FETCH_ROWS: i32 = 512;

/// The `store.postgres` section of `collector.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// The connection string, as libpq takes it: `postgres://user:password@host:port/db`
    /// with `sslmode` (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`) and
    /// `sslrootcert`, or the `key=value` form.
    #[serde(default)]
    pub url: Option<String>,
    /// A file holding the connection string (keeps the password out of collector.yaml).
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    /// Connections this collector may hold open (default 8).
    #[serde(default)]
    pub pool_size: Option<u32>,
    /// CA certificate(s) (PEM) the server's certificate must chain to; same as
    /// `sslrootcert` in the URL.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How long to wait for a connection (default 10 s).
    #[serde(default)]
    pub connect_timeout: Option<HumanDuration>,
}

/// How to connect, once the configuration has been read.
pub(crate) struct ConnectOptions {
    config: postgres::Config,
    /// Verify the server against these roots (TLS); `None` connects without TLS.
    tls_roots: Option<PathBuf>,
    describe: String,
}

impl PostgresConfig {
    /// The connection string from `url` or `url_file`.
    fn url(&self) -> std::result::Result<String, String> {
        match (&self.url, &self.url_file) {
            (Some(_), Some(_)) => Err("store.postgres: set url or url_file, not both".into()),
            (Some(u), None) => Ok(u.trim().to_string()),
            (None, Some(f)) => std::fs::read_to_string(f)
                .map(|s| s.trim().to_string())
                .map_err(|e| {
                    format!(
                        "store.postgres.url_file {}: {e} (the file holds the connection string)",
                        f.display()
                    )
                }),
            (None, None) => Err(
                "store.postgres: url or url_file is needed (postgres://user@host:5432/tilsyn)"
                    .into(),
            ),
        }
    }

    /// `postgres://user@host:port/db` without the password, for logs; the setting's own
    /// name when it cannot be read.
    pub fn describe(&self) -> String {
        match self.connect_options() {
            Ok(o) => o.describe,
            Err(_) => "postgres (store.postgres)".into(),
        }
    }

    pub(crate) fn connect_options(&self) -> std::result::Result<ConnectOptions, String> {
        let url = self.url()?;
        // libpq's TLS words that tokio-postgres does not take: verification modes and the
        // root certificate. rustls always verifies, so `require` needs a root as well.
        let mut mode = "prefer".to_string();
        let mut root = self.ca_file.clone();
        let mut kept: Vec<String> = Vec::new();
        let (base, query, sep) = match url.split_once('?') {
            Some((b, q)) if url.contains("://") => (b.to_string(), q.to_string(), '&'),
            _ if url.contains("://") => (url.clone(), String::new(), '&'),
            _ => (String::new(), url.clone(), ' '),
        };
        for kv in query.split(sep).filter(|s| !s.is_empty()) {
            match kv.split_once('=') {
                Some(("sslmode", v)) => mode = v.to_string(),
                Some(("sslrootcert", v)) => root = Some(PathBuf::from(v)),
                _ => kept.push(kv.to_string()),
            }
        }
        let tls = match mode.as_str() {
            "disable" => false,
            "allow" | "prefer" => root.is_some(),
            "require" | "verify-ca" | "verify-full" => {
                if root.is_none() {
                    return Err(format!(
                        "store.postgres: sslmode={mode} needs the CA that signed the server's certificate: \
                         set store.postgres.ca_file or sslrootcert= in the URL"
                    ));
                }
                true
            }
            other => {
                return Err(format!(
                    "store.postgres: sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                ))
            }
        };
        kept.push(format!(
            "sslmode={}",
            if tls { "require" } else { "disable" }
        ));
        let url = if base.is_empty() {
            kept.join(" ")
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config: postgres::Config = url.parse().map_err(|e| {
            format!("store.postgres.url is not a PostgreSQL connection string: {e}")
        })?;
        let timeout = self
            .connect_timeout
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(10));
        config.connect_timeout(timeout);
        if config.get_application_name().is_none() {
            config.application_name("tilsyn-collector");
        }
        if let Some(r) = &root {
            if tls && !r.is_file() {
                return Err(format!(
                    "store.postgres CA file {}: not found (set ca_file or sslrootcert to the PEM file)",
                    r.display()
                ));
            }
        }
        let host = config
            .get_hosts()
            .iter()
            .map(|h| match h {
                postgres::config::Host::Tcp(h) => h.clone(),
                postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .collect::<Vec<_>>()
            .join(",");
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let describe = format!(
            "postgres://{}@{host}:{port}/{}",
            config.get_user().unwrap_or(""),
            config.get_dbname().unwrap_or("")
        );
        Ok(ConnectOptions {
            config,
            tls_roots: root.filter(|_| tls),
            describe,
        })
    }
}

fn pg(e: postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(d) => {
            let mut m = format!("{}: {} ({})", d.severity(), d.message(), d.code().code());
            if let Some(detail) = d.detail() {
                m.push_str(&format!("; {detail}"));
            }
            if let Some(hint) = d.hint() {
                m.push_str(&format!("; hint: {hint}"));
            }
            StoreError::Db(m)
        }
        None => StoreError::Db(format!("PostgreSQL: {e}")),
    }
}

/// Serialization failures and deadlocks: the transaction can simply run again.
fn transient(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::BOOL => (v != 0).to_sql(ty, out),
                Type::FLOAT8 => (v as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => v.to_string().to_sql(ty, out),
                _ => Err(format!("an integer cannot be bound as {ty}").into()),
            },
            Param::Real(v) => match *ty {
                Type::FLOAT4 => (v as f32).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Param::Text(v) => v.to_sql(ty, out),
            Param::Blob(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn value(row: &postgres::Row, i: usize) -> Result<Value> {
    let ty = row.columns()[i].type_();
    let get = |e: postgres::Error| StoreError::Db(format!("column {i} ({ty}): {e}"));
    Ok(match *ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map_err(get)?
            .map(Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(get)?
            .map(|v| Value::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(get)?
            .map(|v| Value::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(get)?
            .map(|v| Value::Int(v.into())),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)
            .map_err(get)?
            .map(Value::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)
            .map_err(get)?
            .map(|v| Value::Real(v.into())),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => row
            .try_get::<_, Option<String>>(i)
            .map_err(get)?
            .map(Value::Text),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)
            .map_err(get)?
            .map(Value::Blob),
        _ => {
            return Err(StoreError::Db(format!(
                "column {i} is {ty}, which the store does not read (cast it to BIGINT or TEXT)"
            )))
        }
    }
    .unwrap_or(Value::Null))
}

/// A pooled connection and its prepared statements.
struct Client {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

/// Statements inside one transaction.
struct PgConn<'a> {
    tx: RefCell<postgres::Transaction<'a>>,
    statements: RefCell<&'a mut HashMap<String, postgres::Statement>>,
}

impl PgConn<'_> {
    fn statement(&self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = self
            .tx
            .borrow_mut()
            .prepare(&numbered_to_dollar(sql))
            .map_err(pg)?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

fn bind<'p>(params: &'p [&dyn ToParam]) -> Vec<Param<'p>> {
    params.iter().map(|p| p.param()).collect()
}

fn as_sql<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Conn for PgConn<'_> {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn execute(&self, sql: &str, params: &[&dyn ToParam]) -> Result<u64> {
        let st = self.statement(sql)?;
        let p = bind(params);
        self.tx.borrow_mut().execute(&st, &as_sql(&p)).map_err(pg)
    }

    fn query_each(
        &self,
        sql: &str,
        params: &[&dyn ToParam],
        each: &mut dyn FnMut(&Row) -> Result<()>,
    ) -> Result<()> {
        let st = self.statement(sql)?;
        let p = bind(params);
        let portal = self.tx.borrow_mut().bind(&st, &as_sql(&p)).map_err(pg)?;
        let mut row = Row::default();
        loop {
            let rows = self
                .tx
                .borrow_mut()
                .query_portal(&portal, FETCH_ROWS)
                .map_err(pg)?;
            for r in &rows {
                row.values.clear();
                for i in 0..r.len() {
                    row.values.push(value(r, i)?);
                }
                each(&row)?;
            }
            if rows.len() < FETCH_ROWS as usize {
                return Ok(());
            }
        }
    }

    fn batch(&self, sql: &str) -> Result<()> {
        self.tx.borrow_mut().batch_execute(sql).map_err(pg)
    }
}

/// A bounded pool: at most `size` connections, idle ones reused, a broken one dropped.
struct Pool {
    state: Mutex<(Vec<Client>, usize)>,
    freed: Condvar,
    size: usize,
}

pub struct Postgres {
    opts: ConnectOptions,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    pool: Pool,
    /// The connection of the leader lease (`Db::control_dyn`), outside the pool.
    control: Mutex<Option<Client>>,
}

/// Opens (creating or upgrading the schema of) the database the configuration names.
pub fn open(cfg: &PostgresConfig) -> Result<SqlStore> {
    let opts = cfg.connect_options().map_err(|message| StoreError::Open {
        path: "store.postgres".into(),
        message,
    })?;
    let tls = match &opts.tls_roots {
        Some(p) => Some(tls_connector(p).map_err(|message| StoreError::Open {
            path: p.display().to_string(),
            message,
        })?),
        None => None,
    };
    let size = cfg.pool_size.unwrap_or(8).clamp(1, 1000) as usize;
    SqlStore::new(Box::new(Postgres {
        opts,
        tls,
        pool: Pool {
            state: Mutex::new((Vec::new(), 0)),
            freed: Condvar::new(),
            size,
        },
        control: Mutex::new(None),
    }))
}

fn tls_connector(
    ca: &std::path::Path,
) -> std::result::Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).map_err(|e| format!("reading the CA file: {e}"))? {
        let c = c.map_err(|e| format!("a certificate in the CA file: {e}"))?;
        roots
            .add(c)
            .map_err(|e| format!("a certificate in the CA file: {e}"))?;
    }
    if roots.is_empty() {
        return Err("the CA file holds no PEM certificate".into());
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl Postgres {
    fn connect(&self) -> Result<Client> {
        let client = match &self.tls {
            Some(tls) => self.opts.config.connect(tls.clone()),
            None => self.opts.config.connect(postgres::NoTls),
        }
        .map_err(|e| StoreError::Open {
            path: self.opts.describe.clone(),
            message: match e.as_db_error() {
                Some(_) => pg(e).to_string(),
                None => format!("{e} (is PostgreSQL running there, and does it accept this user?)"),
            },
        })?;
        Ok(Client {
            client,
            statements: HashMap::new(),
        })
    }

    fn checkout(&self) -> Result<Client> {
        let mut st = self.pool.state.lock().expect("pool");
        loop {
            if let Some(c) = st.0.pop() {
                if !c.client.is_closed() {
                    return Ok(c);
                }
                st.1 -= 1;
                continue;
            }
            if st.1 < self.pool.size {
                st.1 += 1;
                drop(st);
                return self.connect().inspect_err(|_| {
                    self.pool.state.lock().expect("pool").1 -= 1;
                    self.pool.freed.notify_one();
                });
            }
            let (s, timeout) = self
                .pool
                .freed
                .wait_timeout(st, Duration::from_secs(60))
                .expect("pool");
            st = s;
            if timeout.timed_out() && st.0.is_empty() && st.1 >= self.pool.size {
                return Err(StoreError::Db(format!(
                    "all {} connections to {} stayed busy for 60 s (raise store.postgres.pool_size?)",
                    self.pool.size, self.opts.describe
                )));
            }
        }
    }

    fn checkin(&self, c: Client) {
        let mut st = self.pool.state.lock().expect("pool");
        if c.client.is_closed() {
            st.1 -= 1;
        } else {
            st.0.push(c);
        }
        self.pool.freed.notify_one();
    }

    /// Runs `f` in a transaction on a pooled connection; `read_only` for reads.
    fn run(&self, read_only: bool, f: &mut dyn FnMut(&dyn Conn) -> Result<()>) -> Result<()> {
        // The client blocks on a runtime of its own: called from an async worker thread
        // (the store is meant for blocking threads, but a caller at start-up may not be),
        // the worker steps aside first; elsewhere this runs as it is.
        tokio::task::block_in_place(|| self.run_blocking(read_only, f))
    }

    fn run_blocking(
        &self,
        read_only: bool,
        f: &mut dyn FnMut(&dyn Conn) -> Result<()>,
    ) -> Result<()> {
        let mut attempt = 0;
        loop {
            let mut c = self.checkout()?;
            let r = Self::once(&mut c, read_only, f);
            self.checkin(c);
            match r {
                Err(Retry::Transient(e)) if attempt < 5 => {
                    attempt += 1;
                    tracing::debug!(error = %pg(e), attempt, "transaction conflict, running it again");
                    std::thread::sleep(Duration::from_millis(5 << attempt));
                }
                Err(Retry::Transient(e)) => return Err(pg(e)),
                Err(Retry::Fail(e)) => return Err(e),
                Ok(()) => return Ok(()),
            }
        }
    }

    fn once(
        c: &mut Client,
        read_only: bool,
        f: &mut dyn FnMut(&dyn Conn) -> Result<()>,
    ) -> std::result::Result<(), Retry> {
        let Client { client, statements } = c;
        let tx = client
            .build_transaction()
            .read_only(read_only)
            .start()
            .map_err(Retry::from)?;
        let conn = PgConn {
            tx: RefCell::new(tx),
            statements: RefCell::new(statements),
        };
        f(&conn).map_err(Retry::Fail)?;
        conn.tx.into_inner().commit().map_err(Retry::from)
    }
}

enum Retry {
    Transient(postgres::Error),
    Fail(StoreError),
}

impl From<postgres::Error> for Retry {
    fn from(e: postgres::Error) -> Self {
        if transient(&e) {
            Retry::Transient(e)
        } else {
            Retry::Fail(pg(e))
        }
    }
}

impl Db for Postgres {
    fn describe(&self) -> String {
        self.opts.describe.clone()
    }

    fn write_dyn(&self, f: &mut dyn FnMut(&dyn Conn) -> Result<()>) -> Result<()> {
        self.run(false, f)
    }

    fn read_dyn(&self, f: &mut dyn FnMut(&dyn Conn) -> Result<()>) -> Result<()> {
        self.run(true, f)
    }

    fn control_dyn(&self, f: &mut dyn FnMut(&dyn Conn) -> Result<()>) -> Result<()> {
        tokio::task::block_in_place(|| {
            let mut slot = self.control.lock().expect("control connection");
            if slot.as_ref().is_none_or(|c| c.client.is_closed()) {
                *slot = Some(self.connect()?);
            }
            let c = slot.as_mut().expect("connected");
            match Self::once(c, false, f) {
                Ok(()) => Ok(()),
                Err(Retry::Transient(e)) => Err(pg(e)),
                Err(Retry::Fail(e)) => Err(e),
            }
        })
    }

    fn migrate(&self) -> Result<()> {
        let describe = self.opts.describe.clone();
        self.run(false, &mut |c| {
            // Collectors starting together: one migrates, the others wait and find it done.
            c.query_value::<Value>(
                "SELECT CAST(pg_advisory_xact_lock(?1) AS TEXT)",
                crate::sql::params![MIGRATION_LOCK],
            )?;
            c.batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
            let v: Option<i64> = c.query_value("SELECT MAX(version) FROM schema_version", &[])?;
            if v.is_none() {
                tracing::info!(database = %describe, version = SCHEMA_VERSION, "creating the database schema");
            }
            crate::sql::upgrade(
                c,
                &describe,
                v,
                SCHEMA_VERSION,
                &[SCHEMA, CLUSTER, CHANGES, ACCESS, WAIVERS, SEARCH],
                MIGRATIONS,
                FILLS,
            )?;
            Ok(())
        })
    }

    fn vacuum(&self) -> Result<()> {
        tokio::task::block_in_place(|| {
            let mut c = self.checkout()?;
            let r = c.client.batch_execute("VACUUM").map_err(pg);
            self.checkin(c);
            r
        })
    }

    fn size_bytes(&self) -> Result<u64> {
        let db: &dyn Db = self;
        db.read(|c| {
            c.query_value::<i64>("SELECT pg_database_size(current_database())", &[])
                .map(|n| n.max(0) as u64)
        })
    }
}

/// The tables PostgreSQL keeps in time partitions, created as rows arrive and dropped
/// whole once past their retention (no row-by-row deletes, no index on time needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Partitioned {
    /// Raw health samples by the day they were received.
    HealthSamples,
    /// Rollups of one resolution (seconds): a day of 5-minute buckets, 30 days of hourly
    /// ones per partition.
    Rollups(i64),
}

impl Partitioned {
    fn table(self) -> &'static str {
        match self {
            Partitioned::HealthSamples => "health_samples",
            Partitioned::Rollups(_) => "health_rollups",
        }
    }

    fn span_ms(self) -> i64 {
        match self {
            Partitioned::Rollups(r) if r > 300 => 30 * 86_400_000,
            _ => 86_400_000,
        }
    }

    /// Where the partition holding time `at_ms` starts.
    pub(crate) fn start_of(self, at_ms: i64) -> i64 {
        at_ms - at_ms.rem_euclid(self.span_ms())
    }

    /// The partitions' name prefix and the partition key's leading values.
    fn prefix(self) -> (String, String) {
        match self {
            Partitioned::HealthSamples => ("health_samples_".into(), String::new()),
            Partitioned::Rollups(r) => (format!("health_rollups_{r}_"), format!("{r}, ")),
        }
    }
}

/// Creates the partition of `p` that holds time `at_ms`, if it is not there yet.
pub(crate) fn ensure_partition(c: &dyn Conn, p: Partitioned, at_ms: i64) -> Result<()> {
    let span = p.span_ms();
    let from = p.start_of(at_ms);
    let (name, key) = p.prefix();
    let name = format!("{name}{from}");
    let exists: Option<String> = c.query_value(
        "SELECT CAST(to_regclass(?1) AS TEXT)",
        crate::sql::params![name],
    )?;
    if exists.is_none() {
        // Two collectors making the same partition at once: one at a time, the second
        // then finds it (IF NOT EXISTS alone still races in the catalogue).
        c.query_value::<Value>(
            "SELECT CAST(pg_advisory_xact_lock(?1) AS TEXT)",
            crate::sql::params![MIGRATION_LOCK + 1],
        )?;
        c.batch(&format!(
            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF {} \
             FOR VALUES FROM ({key}{from}) TO ({key}{})",
            p.table(),
            from + span
        ))?;
    }
    Ok(())
}

/// Drops the partitions of `p` that end at or before `before_ms`; returns the rows they
/// held (PostgreSQL's estimate once the table has been analyzed, else counted). A
/// partition still partly inside the retention is kept whole until its span has passed.
pub(crate) fn drop_partitions(c: &dyn Conn, p: Partitioned, before_ms: i64) -> Result<u64> {
    let names: Vec<(String, i64)> = c.query_map(
        "SELECT CAST(k.relname AS TEXT), CAST(k.reltuples AS BIGINT) FROM pg_inherits i \
         JOIN pg_class k ON k.oid = i.inhrelid JOIN pg_class t ON t.oid = i.inhparent \
         WHERE t.relname = ?1 AND t.relnamespace = to_regnamespace(current_schema())",
        crate::sql::params![p.table()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (prefix, _) = p.prefix();
    let mut rows = 0u64;
    for (name, estimate) in names {
        let Some(from) = name
            .strip_prefix(&prefix)
            .and_then(|f| f.parse::<i64>().ok())
        else {
            continue;
        };
        if from + p.span_ms() <= before_ms {
            let n = if estimate >= 0 {
                estimate
            } else {
                c.query_value::<i64>(&format!("SELECT COUNT(*) FROM {name}"), &[])?
            };
            rows += n.max(0) as u64;
            c.batch(&format!("DROP TABLE {name}"))?;
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> PostgresConfig {
        PostgresConfig {
            url: Some(url.into()),
            ..Default::default()
        }
    }

    #[test]
    fn connection_strings_as_libpq_users_write_them() {
        let o = cfg("postgres://tilsyn:secret@db1:5433/fleet")
            .connect_options()
            .unwrap();
        assert_eq!(o.describe, "postgres://tilsyn@db1:5433/fleet");
        assert!(o.tls_roots.is_none());
        let o = cfg("host=db1 user=tilsyn dbname=fleet sslmode=disable")
            .connect_options()
            .unwrap();
        assert_eq!(o.describe, "postgres://tilsyn@db1:5432/fleet");

        let e = cfg("postgres://tilsyn@db1/fleet?sslmode=verify-full")
            .connect_options()
            .err()
            .unwrap();
        assert!(e.contains("ca_file") && e.contains("sslrootcert"), "{e}");
        let e =
            cfg("postgres://tilsyn@db1/fleet?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
                .connect_options()
                .err()
                .unwrap();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
        let e = cfg("postgres://tilsyn@db1/fleet?sslmode=sometimes")
            .connect_options()
            .err()
            .unwrap();
        assert!(e.contains("sslmode=sometimes"), "{e}");
        let e = PostgresConfig::default().connect_options().err().unwrap();
        assert!(e.contains("url or url_file"), "{e}");
    }

    #[test]
    fn an_unreachable_server_is_a_clear_error() {
        // A port nothing listens on (bound, then closed).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = open(&PostgresConfig {
            url: Some(format!("postgres://tilsyn@127.0.0.1:{port}/fleet")),
            connect_timeout: Some(HumanDuration::secs(2)),
            ..Default::default()
        })
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains(&format!("postgres://tilsyn@127.0.0.1:{port}/fleet"))
                && e.contains("running"),
            "{e}"
        );
    }
}
