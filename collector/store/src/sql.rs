//! The SQL the store speaks, whatever the engine: statements with numbered parameters
//! (`?1`, `?2`, written once; the PostgreSQL engine renumbers them `$1`, `$2`), parameters
//! as [`Param`], rows as owned [`Value`]s, and two traits an engine implements — [`Conn`]
//! (run statements inside a transaction) and [`Db`] (hand out transactions, migrate). The
//! store's logic (`hosts.rs`, `incidents.rs`, …) is written once against these; the
//! engines (`sqlite.rs`, `postgres.rs`) are the only files that name a client library.
//!
//! The SQL itself is the dialect both engines share: `ON CONFLICT … DO UPDATE`,
//! `RETURNING`, `COALESCE`, `CAST(… AS BIGINT)` around aggregates PostgreSQL would widen
//! to NUMERIC, and every integer column BIGINT on PostgreSQL.

use crate::{Result, StoreError};

/// Which engine a connection belongs to, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A statement parameter, borrowed from the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// What can be bound to a statement parameter.
pub trait ToParam {
    fn param(&self) -> Param<'_>;
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl ToParam for $t {
            fn param(&self) -> Param<'_> {
                Param::Int(*self as i64)
            }
        }
    )*};
}
int_param!(i64, i32, u32, u16, u8, usize);

impl ToParam for u64 {
    /// Sequence numbers and counters: stored as BIGINT (they stay far below 2^63).
    fn param(&self) -> Param<'_> {
        Param::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}
impl ToParam for bool {
    fn param(&self) -> Param<'_> {
        Param::Int(*self as i64)
    }
}
impl ToParam for f64 {
    fn param(&self) -> Param<'_> {
        Param::Real(*self)
    }
}
impl ToParam for str {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}
impl ToParam for String {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}
impl ToParam for [u8] {
    fn param(&self) -> Param<'_> {
        Param::Blob(self)
    }
}
impl ToParam for Vec<u8> {
    fn param(&self) -> Param<'_> {
        Param::Blob(self)
    }
}
impl<T: ToParam + ?Sized> ToParam for &T {
    fn param(&self) -> Param<'_> {
        (**self).param()
    }
}
impl<T: ToParam> ToParam for Option<T> {
    fn param(&self) -> Param<'_> {
        match self {
            Some(v) => v.param(),
            None => Param::Null,
        }
    }
}
impl ToParam for Value {
    fn param(&self) -> Param<'_> {
        match self {
            Value::Null => Param::Null,
            Value::Int(v) => Param::Int(*v),
            Value::Real(v) => Param::Real(*v),
            Value::Text(v) => Param::Text(v),
            Value::Blob(v) => Param::Blob(v),
        }
    }
}

/// `params![a, b, c]`: the parameters of one statement, in order (`?1`, `?2`, …).
macro_rules! params {
    () => { &[] as &[&dyn $crate::sql::ToParam] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::sql::ToParam),+] as &[&dyn $crate::sql::ToParam] };
}
pub(crate) use params;

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// What a column can be read as.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> std::result::Result<Self, String>;
}

fn wrong(v: &Value, want: &str) -> String {
    let got = match v {
        Value::Null => "NULL",
        Value::Int(_) => "an integer",
        Value::Real(_) => "a real",
        Value::Text(_) => "text",
        Value::Blob(_) => "a blob",
    };
    format!("expected {want}, found {got}")
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Int(i) => Ok(*i),
            _ => Err(wrong(v, "an integer")),
        }
    }
}
impl FromValue for i32 {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        let i = i64::from_value(v)?;
        i32::try_from(i).map_err(|_| format!("{i} is out of range"))
    }
}
impl FromValue for u32 {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        let i = i64::from_value(v)?;
        u32::try_from(i).map_err(|_| format!("{i} is out of range"))
    }
}
impl FromValue for u64 {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        let i = i64::from_value(v)?;
        u64::try_from(i).map_err(|_| format!("{i} is out of range"))
    }
}
impl FromValue for bool {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        Ok(i64::from_value(v)? != 0)
    }
}
impl FromValue for f64 {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Real(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            _ => Err(wrong(v, "a number")),
        }
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            _ => Err(wrong(v, "text")),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            _ => Err(wrong(v, "a blob")),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}
impl FromValue for Value {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        Ok(v.clone())
    }
}

/// One row of a result, its columns in the statement's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub values: Vec<Value>,
}

impl Row {
    /// Column `i` (from 0) as `T`; a column of another type is an error naming it.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self.values.get(i).ok_or_else(|| {
            StoreError::Db(format!(
                "column {i} asked for, the row has {}",
                self.values.len()
            ))
        })?;
        T::from_value(v).map_err(|m| StoreError::Db(format!("column {i}: {m}")))
    }
}

/// Statements inside one transaction (or, for reads, one consistent connection).
pub trait Conn {
    fn engine(&self) -> Engine;
    /// Runs one statement; returns the rows it changed.
    fn execute(&self, sql: &str, params: &[&dyn ToParam]) -> Result<u64>;
    /// Runs a query and hands each row to `each`, streaming (rows are not all held at
    /// once). `each` may run other statements on the same connection.
    fn query_each(
        &self,
        sql: &str,
        params: &[&dyn ToParam],
        each: &mut dyn FnMut(&Row) -> Result<()>,
    ) -> Result<()>;
    /// Runs statements separated by `;` without parameters (schema, migrations).
    fn batch(&self, sql: &str) -> Result<()>;
}

impl dyn Conn + '_ {
    /// The first row, if any, mapped by `f`.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: &[&dyn ToParam],
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut first: Option<Row> = None;
        self.query_each(sql, params, &mut |r| {
            if first.is_none() {
                first = Some(r.clone());
            }
            Ok(())
        })?;
        first.as_ref().map(f).transpose()
    }

    /// A single value (`SELECT COUNT(*) …`); no row reads as `T`'s NULL.
    pub fn query_value<T: FromValue>(&self, sql: &str, params: &[&dyn ToParam]) -> Result<T> {
        let v = self
            .query_row(sql, params, |r| r.get::<Value>(0))?
            .unwrap_or(Value::Null);
        T::from_value(&v).map_err(|m| StoreError::Db(format!("{m} from `{sql}`")))
    }

    /// Every row mapped by `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: &[&dyn ToParam],
        mut f: impl FnMut(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.query_each(sql, params, &mut |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }
}

/// An engine: transactions, reads and the schema.
pub trait Db: Send + Sync + 'static {
    /// `sqlite:/path` or `postgres://host/db` (never a password), for logs and errors.
    fn describe(&self) -> String;
    /// Runs `f` in a transaction and commits it when `f` returns `Ok`; an error rolls it
    /// back. An engine may run `f` again after a transient conflict (PostgreSQL's
    /// serialization failures and deadlocks), so `f` must not act outside the database.
    fn write_dyn(&self, f: &mut dyn FnMut(&dyn Conn) -> Result<()>) -> Result<()>;
    /// Runs `f` on a connection for reading.
    fn read_dyn(&self, f: &mut dyn FnMut(&dyn Conn) -> Result<()>) -> Result<()>;
    /// [`Self::write_dyn`] on a connection of its own, never queued behind the pool's
    /// work: for the leader lease, whose renewal must not wait for ingest.
    fn control_dyn(&self, f: &mut dyn FnMut(&dyn Conn) -> Result<()>) -> Result<()> {
        self.write_dyn(f)
    }
    /// Creates or upgrades the schema.
    fn migrate(&self) -> Result<()>;
    /// Reclaims the space of deleted rows (outside any transaction).
    fn vacuum(&self) -> Result<()>;
    /// The database's size on disk in bytes.
    fn size_bytes(&self) -> Result<u64>;
}

/// Runs a typed closure through one of the object-safe `*_dyn` entry points.
fn typed<T>(
    run: impl FnOnce(&mut dyn FnMut(&dyn Conn) -> Result<()>) -> Result<()>,
    mut f: impl FnMut(&dyn Conn) -> Result<T>,
) -> Result<T> {
    let mut out = None;
    run(&mut |c| {
        out = Some(f(c)?);
        Ok(())
    })?;
    Ok(out.expect("a finished transaction has a result"))
}

impl dyn Db {
    pub fn write<T>(&self, f: impl FnMut(&dyn Conn) -> Result<T>) -> Result<T> {
        typed(|g| self.write_dyn(g), f)
    }

    pub fn control<T>(&self, f: impl FnMut(&dyn Conn) -> Result<T>) -> Result<T> {
        typed(|g| self.control_dyn(g), f)
    }

    pub fn read<T>(&self, f: impl FnMut(&dyn Conn) -> Result<T>) -> Result<T> {
        typed(|g| self.read_dyn(g), f)
    }
}

/// The part of a migration SQL cannot do (decoding the stored protobuf sections), run
/// after the version's SQL in the same transaction.
pub type Fill = fn(&dyn Conn) -> Result<()>;

/// Brings a database at schema version `found` (`None`: a new one) to `latest`, inside the
/// caller's transaction: a new database gets `create` run and `latest` recorded; an older
/// one each migration above its version, each followed by its `fills` and recorded; a
/// newer one is refused (an older collector must not write a newer schema). `describe`
/// names the database in errors.
pub fn upgrade(
    c: &dyn Conn,
    describe: &str,
    found: Option<i64>,
    latest: i64,
    create: &[&str],
    migrations: &[(i64, &str)],
    fills: &[(i64, Fill)],
) -> Result<()> {
    let opened = |message: String| StoreError::Open {
        path: describe.to_string(),
        message,
    };
    let record = |v: i64| {
        c.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            params![v],
        )
    };
    match found {
        None => {
            for sql in create {
                c.batch(sql)
                    .map_err(|e| opened(format!("creating the schema: {e}")))?;
            }
            record(latest)?;
        }
        Some(v) if v > latest => {
            return Err(opened(format!(
                "database schema version {v} is newer than this collector understands ({latest}); upgrade the collector"
            )));
        }
        Some(v) => {
            for (to, sql) in migrations.iter().filter(|(to, _)| *to > v) {
                c.batch(sql)
                    .map_err(|e| opened(format!("upgrading the schema to version {to}: {e}")))?;
                for (_, fill) in fills.iter().filter(|(v, _)| v == to) {
                    fill(c).map_err(|e| {
                        opened(format!("upgrading the data to schema version {to}: {e}"))
                    })?;
                }
                record(*to)?;
                tracing::info!(database = %describe, version = to, "database schema upgraded");
            }
        }
    }
    Ok(())
}

/// `?N` placeholders to PostgreSQL's `$N`, leaving quoted text alone.
pub fn numbered_to_dollar(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for ch in sql.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                out.push(ch);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_outside_quotes() {
        assert_eq!(
            numbered_to_dollar("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d = $12"
        );
    }

    #[test]
    fn values_read_as_their_types_and_say_what_is_wrong() {
        let r = Row {
            values: vec![Value::Int(3), Value::Null, Value::Text("x".into())],
        };
        assert_eq!(r.get::<i64>(0).unwrap(), 3);
        assert!(r.get::<bool>(0).unwrap());
        assert_eq!(r.get::<Option<i64>>(1).unwrap(), None);
        assert_eq!(r.get::<String>(2).unwrap(), "x");
        let e = r.get::<i64>(2).unwrap_err().to_string();
        assert!(e.contains("column 2") && e.contains("found text"), "{e}");
        assert!(r.get::<i64>(5).is_err());
    }
}
