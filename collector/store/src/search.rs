//! Finding hosts by what they run and who they are: the software, pending-update and
//! free-text filters of [`HostFilter`], [`Store::count_hosts`](crate::Store::count_hosts)
//! and [`Store::software_versions`](crate::Store::software_versions).
//!
//! The sections stay protobuf blobs in `hosts` (what the API shows); what a search needs
//! is derived from them into tables of their own (`migrations/*/search.sql` say what each
//! holds): the package names seen anywhere (`package_names`, a few thousand rows, scanned
//! for the case-insensitive "contains" match), the installed (name, version) pairs
//! (`software_variants`), which host has which (`host_software`), its pending updates by
//! name (`host_updates`) and its names and identifiers (`host_idents`). Ingest rewrites a
//! host's rows in the same transaction as the section, only when the section's content
//! changed; an upgrade to schema version 11 and a copy between engines build them from the
//! stored blobs ([`rebuild`]). Rows name a host by `hosts.host_no`, a small integer: they
//! hold a row per host and installed package, and an agent id would be most of each row.
//!
//! A query first picks the (few) matching names from the dictionary, then checks the
//! hosts against their rows while walking the hosts' covering index in hostname order
//! (SQLite; PostgreSQL plans its own way): either against the set of hosts collected once
//! from the matching rows, or, when a sample says a text matches many rows of most hosts,
//! by reading each host's rows until one matches ([`Plan`]). No section is decoded and no
//! host row read but the page's.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use tilsyn_proto::v1::{Inventory, PatchLevel, SoftwareList};

use crate::sql::{params, Conn, Engine, ToParam, Value};
use crate::{HostFilter, Result, SoftwareVersionCount, StoreError};

/// Rows per multi-row statement. Every statement has exactly this many (the last chunk
/// repeats its last row, which the statements ignore), so each is prepared once.
const CHUNK: usize = 64;

/// `host_idents.kind` of what a prefix finds: the hostname and the fully qualified name.
const NAME: &str = "name";
/// `host_idents.kind` of what only the exact value finds: serial, IP and MAC addresses.
const ID: &str = "id";

/// The text of a filter, trimmed; `None` when blank.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A `LIKE … ESCAPE '\'` pattern for text containing `text` (its `%`, `_` and `\` taken
/// literally).
fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// The bound below which every text starting with `prefix` sorts (byte order: SQLite's
/// default, and the `"C"` collation of the PostgreSQL columns compared this way).
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}{}", char::MAX)
}

/// An IP address as `host_idents` holds it: without a prefix length or IPv6 zone, in
/// its canonical form (`FE80:0::1` is `fe80::1`); `None` when `addr` is none.
fn ip_value(addr: &str) -> Option<String> {
    let a = addr.trim();
    let a = a.split('/').next().unwrap_or(a);
    let a = a.split('%').next().unwrap_or(a);
    a.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}

/// A MAC address as `host_idents` holds it: lowercase, bytes separated by `:`.
fn mac_value(mac: &str) -> String {
    mac.trim().to_lowercase().replace('-', ":")
}

/// The distinct (name, version) pairs of a software list (two architectures of one
/// package are one row).
fn software_rows(sw: &SoftwareList) -> BTreeSet<(&str, &str)> {
    sw.packages
        .iter()
        .filter(|p| !p.name.trim().is_empty())
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect()
}

/// The pending updates by package name: security when any of that name is.
fn update_rows(p: &PatchLevel) -> BTreeMap<&str, bool> {
    let mut out: BTreeMap<&str, bool> = BTreeMap::new();
    for u in p.updates.iter().filter(|u| !u.name.trim().is_empty()) {
        *out.entry(u.name.as_str()).or_default() |= u.security;
    }
    out
}

/// What a host is found by in free text: (kind, value).
fn ident_rows(hostname: &str, inv: Option<&Inventory>) -> BTreeSet<(&'static str, String)> {
    let mut out = BTreeSet::new();
    let mut add = |kind: &'static str, v: String| {
        if !v.is_empty() {
            out.insert((kind, v));
        }
    };
    add(NAME, hostname.trim().to_lowercase());
    if let Some(inv) = inv {
        add(NAME, inv.fqdn.trim().to_lowercase());
        if let Some(hw) = &inv.hardware {
            add(ID, hw.serial.trim().to_lowercase());
        }
        for i in &inv.interfaces {
            add(ID, mac_value(&i.mac));
            for a in &i.addresses {
                add(ID, ip_value(a).unwrap_or_else(|| a.trim().to_lowercase()));
            }
        }
    }
    out
}

/// `VALUES` rows for a multi-row statement: [`CHUNK`] rows, `row(i)` given the number of
/// the row's first parameter.
fn values(first: usize, width: usize, row: impl Fn(usize) -> String) -> String {
    (0..CHUNK)
        .map(|i| row(first + i * width))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fills `args` (`fixed` leading parameters, then rows of `width`) up to [`CHUNK`] rows by
/// repeating its last row.
fn pad(args: &mut Vec<&dyn ToParam>, fixed: usize, width: usize) {
    let last: Vec<&dyn ToParam> = args[args.len() - width..].to_vec();
    while args.len() < fixed + CHUNK * width {
        args.extend_from_slice(&last);
    }
}

/// The dictionary ids (`package_names`, `software_variants`) one transaction has read or
/// added, so that hosts with the same packages look them up once: ingest's group commit
/// and a rebuild go through many. Only within its transaction: the dictionary only grows
/// and its ids never change, but the id of a row added by a transaction that then rolls
/// back would name nothing (or, on SQLite, a row added later).
#[derive(Default)]
pub(crate) struct Dictionary {
    names: HashMap<String, i64>,
    variants: HashMap<(i64, String), i64>,
}

fn lookup_names(tx: &dyn Conn, names: &[&str], ids: &mut HashMap<String, i64>) -> Result<()> {
    let sql = format!(
        "SELECT name_id, name FROM package_names WHERE name IN ({})",
        values(1, 1, |i| format!("?{i}"))
    );
    for chunk in names.chunks(CHUNK) {
        let mut args: Vec<&dyn ToParam> = chunk.iter().map(|n| n as &dyn ToParam).collect();
        pad(&mut args, 0, 1);
        tx.query_each(&sql, &args, &mut |r| {
            ids.insert(r.get(1)?, r.get(0)?);
            Ok(())
        })?;
    }
    Ok(())
}

/// Puts the ids of `names` in `dict`, adding the names never seen.
fn name_ids(tx: &dyn Conn, dict: &mut Dictionary, names: &[&str]) -> Result<()> {
    let unknown: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !dict.names.contains_key(*n))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    lookup_names(tx, &unknown, &mut dict.names)?;
    let missing: Vec<&str> = unknown
        .into_iter()
        .filter(|n| !dict.names.contains_key(*n))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO package_names (name, name_lc) VALUES {} ON CONFLICT DO NOTHING",
        values(1, 2, |i| format!("(?{i}, ?{})", i + 1))
    );
    for chunk in missing.chunks(CHUNK) {
        let lc: Vec<String> = chunk.iter().map(|n| n.to_lowercase()).collect();
        let mut args: Vec<&dyn ToParam> = Vec::with_capacity(2 * CHUNK);
        for (n, l) in chunk.iter().zip(&lc) {
            args.push(n);
            args.push(l);
        }
        pad(&mut args, 0, 2);
        tx.execute(&sql, &args)?;
    }
    lookup_names(tx, &missing, &mut dict.names)
}

fn lookup_variants(
    tx: &dyn Conn,
    pairs: &[(i64, &str)],
    ids: &mut HashMap<(i64, String), i64>,
) -> Result<()> {
    // The casts: PostgreSQL types a VALUES list of bare parameters as text.
    let sql = format!(
        "SELECT variant_id, name_id, version FROM software_variants WHERE (name_id, version) IN (VALUES {})",
        values(1, 2, |i| format!(
            "(CAST(?{i} AS BIGINT), CAST(?{} AS TEXT))",
            i + 1
        ))
    );
    for chunk in pairs.chunks(CHUNK) {
        let mut args: Vec<&dyn ToParam> = Vec::with_capacity(2 * CHUNK);
        for (n, v) in chunk {
            args.push(n);
            args.push(v);
        }
        pad(&mut args, 0, 2);
        tx.query_each(&sql, &args, &mut |r| {
            ids.insert((r.get(1)?, r.get(2)?), r.get(0)?);
            Ok(())
        })?;
    }
    Ok(())
}

/// Puts the ids of (name id, version) pairs in `dict`, adding the pairs never seen.
fn variant_ids(tx: &dyn Conn, dict: &mut Dictionary, pairs: &[(i64, &str)]) -> Result<()> {
    let unknown: Vec<(i64, &str)> = pairs
        .iter()
        .copied()
        .filter(|(n, v)| !dict.variants.contains_key(&(*n, v.to_string())))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    lookup_variants(tx, &unknown, &mut dict.variants)?;
    let missing: Vec<(i64, &str)> = unknown
        .into_iter()
        .filter(|(n, v)| !dict.variants.contains_key(&(*n, v.to_string())))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO software_variants (name_id, version) VALUES {} ON CONFLICT DO NOTHING",
        values(1, 2, |i| format!("(?{i}, ?{})", i + 1))
    );
    for chunk in missing.chunks(CHUNK) {
        let mut args: Vec<&dyn ToParam> = Vec::with_capacity(2 * CHUNK);
        for (n, v) in chunk {
            args.push(n);
            args.push(v);
        }
        pad(&mut args, 0, 2);
        tx.execute(&sql, &args)?;
    }
    lookup_variants(tx, &missing, &mut dict.variants)
}

fn lost(what: &str, name: &str) -> StoreError {
    StoreError::Db(format!("{what} {name:?} was added but cannot be read back"))
}

/// Replaces the installed packages of host `host_no` with those of `sw`.
pub(crate) fn write_software(
    tx: &dyn Conn,
    dict: &mut Dictionary,
    host_no: i64,
    sw: &SoftwareList,
) -> Result<()> {
    tx.execute(
        "DELETE FROM host_software WHERE host_no = ?1",
        params![host_no],
    )?;
    let rows = software_rows(sw);
    if rows.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = rows
        .iter()
        .map(|(n, _)| *n)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    name_ids(tx, dict, &names)?;
    let pairs = rows
        .iter()
        .map(|(n, v)| Ok((*dict.names.get(*n).ok_or_else(|| lost("package", n))?, *v)))
        .collect::<Result<Vec<(i64, &str)>>>()?;
    variant_ids(tx, dict, &pairs)?;
    let ids = pairs
        .iter()
        .map(|(n, v)| {
            dict.variants
                .get(&(*n, v.to_string()))
                .copied()
                .ok_or_else(|| lost("version", v))
        })
        .collect::<Result<Vec<i64>>>()?;
    let sql = format!(
        "INSERT INTO host_software (variant_id, host_no) VALUES {} ON CONFLICT DO NOTHING",
        values(2, 1, |i| format!("(?{i}, ?1)"))
    );
    for chunk in ids.chunks(CHUNK) {
        let mut args: Vec<&dyn ToParam> = vec![&host_no];
        args.extend(chunk.iter().map(|v| v as &dyn ToParam));
        pad(&mut args, 1, 1);
        tx.execute(&sql, &args)?;
    }
    Ok(())
}

/// Replaces the pending updates of host `host_no` with those of `p`, unless they are the
/// same (patches come in full at every check, mostly unchanged).
pub(crate) fn write_updates(
    tx: &dyn Conn,
    dict: &mut Dictionary,
    host_no: i64,
    p: &PatchLevel,
) -> Result<()> {
    let want = update_rows(p);
    let mut have: BTreeMap<String, bool> = BTreeMap::new();
    tx.query_each(
        "SELECT n.name, u.security FROM host_updates u JOIN package_names n ON n.name_id = u.name_id \
         WHERE u.host_no = ?1",
        params![host_no],
        &mut |r| {
            have.insert(r.get(0)?, r.get(1)?);
            Ok(())
        },
    )?;
    if have.len() == want.len() && want.iter().all(|(n, s)| have.get(*n) == Some(s)) {
        return Ok(());
    }
    tx.execute(
        "DELETE FROM host_updates WHERE host_no = ?1",
        params![host_no],
    )?;
    if want.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = want.keys().copied().collect();
    name_ids(tx, dict, &names)?;
    let rows = want
        .iter()
        .map(|(n, s)| Ok((*dict.names.get(*n).ok_or_else(|| lost("update", n))?, *s)))
        .collect::<Result<Vec<(i64, bool)>>>()?;
    let sql = format!(
        "INSERT INTO host_updates (name_id, host_no, security) VALUES {} ON CONFLICT DO NOTHING",
        values(2, 2, |i| format!("(?{i}, ?1, ?{})", i + 1))
    );
    for chunk in rows.chunks(CHUNK) {
        let mut args: Vec<&dyn ToParam> = vec![&host_no];
        for (n, s) in chunk {
            args.push(n);
            args.push(s);
        }
        pad(&mut args, 1, 2);
        tx.execute(&sql, &args)?;
    }
    Ok(())
}

/// Replaces what host `host_no` is found by in free text: its hostname and, from its
/// inventory, fully qualified name, serial, IP and MAC addresses.
pub(crate) fn write_idents(
    tx: &dyn Conn,
    host_no: i64,
    hostname: &str,
    inv: Option<&Inventory>,
) -> Result<()> {
    tx.execute(
        "DELETE FROM host_idents WHERE host_no = ?1",
        params![host_no],
    )?;
    let rows: Vec<(&str, String)> = ident_rows(hostname, inv).into_iter().collect();
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO host_idents (kind, value, host_no) VALUES {} ON CONFLICT DO NOTHING",
        values(2, 2, |i| format!("(?{i}, ?{}, ?1)", i + 1))
    );
    for chunk in rows.chunks(CHUNK) {
        let mut args: Vec<&dyn ToParam> = vec![&host_no];
        for (k, v) in chunk {
            args.push(k);
            args.push(v);
        }
        pad(&mut args, 1, 2);
        tx.execute(&sql, &args)?;
    }
    Ok(())
}

/// A new host number starts without rows (SQLite may hand out the number of a host whose
/// row was removed by hand).
pub(crate) fn forget(tx: &dyn Conn, host_no: i64) -> Result<()> {
    for t in ["host_software", "host_updates", "host_idents"] {
        tx.execute(
            &format!("DELETE FROM {t} WHERE host_no = ?1"),
            params![host_no],
        )?;
    }
    Ok(())
}

/// The tables [`rebuild`] writes, with the rows each holds afterwards.
pub(crate) const TABLES: &[&str] = &["host_software", "host_updates", "host_idents"];

/// Builds every host's search rows from its stored sections, inside the caller's
/// transaction: the upgrade to schema version 11 and a site copied to another engine.
/// A section that cannot be decoded is logged and its hash forgotten, so that the agent
/// is asked to send it again. Returns the rows of each of [`TABLES`].
pub(crate) fn rebuild(tx: &dyn Conn) -> Result<Vec<(&'static str, u64)>> {
    for t in TABLES {
        tx.execute(&format!("DELETE FROM {t}"), &[])?;
    }
    let started = std::time::Instant::now();
    let mut hosts = 0u64;
    let mut dict = Dictionary::default();
    let mut unreadable: Vec<(String, &'static str)> = Vec::new();
    tx.query_each(
        "SELECT host_no, agent_id, hostname, inventory_pb, software_pb, patches_pb FROM hosts",
        &[],
        &mut |r| {
            let host_no: i64 = r.get(0)?;
            let id: String = r.get(1)?;
            let hostname: String = r.get(2)?;
            let what = |s: &str| format!("{s} of host {id}");
            let inv = match crate::hosts::decode::<Inventory>(&what("inventory"), r.get(3)?)
            {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(agent_id = %id, error = %e, "unreadable inventory: the agent will be asked for it again");
                    unreadable.push((id.clone(), "inventory_hash"));
                    None
                }
            };
            write_idents(tx, host_no, &hostname, inv.as_ref())?;
            match crate::hosts::decode::<SoftwareList>(&what("software"), r.get(4)?) {
                Ok(Some(sw)) => write_software(tx, &mut dict, host_no, &sw)?,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(agent_id = %id, error = %e, "unreadable software list: the agent will be asked for it again");
                    unreadable.push((id.clone(), "software_hash"));
                }
            }
            match crate::hosts::decode::<PatchLevel>(&what("patches"), r.get(5)?) {
                Ok(Some(p)) => write_updates(tx, &mut dict, host_no, &p)?,
                Ok(None) => {}
                // Patches come in full at every check: the next one replaces them.
                Err(e) => tracing::warn!(agent_id = %id, error = %e, "unreadable patch level: left out of the search until the next"),
            }
            hosts += 1;
            Ok(())
        },
    )?;
    for (id, column) in unreadable {
        tx.execute(
            &format!("UPDATE hosts SET {column} = NULL WHERE agent_id = ?1"),
            params![id],
        )?;
    }
    let mut out = Vec::new();
    for t in TABLES {
        let n: i64 = tx.query_value(&format!("SELECT COUNT(*) FROM {t}"), &[])?;
        out.push((*t, n.max(0) as u64));
    }
    tracing::info!(
        hosts,
        seconds = started.elapsed().as_secs_f64(),
        "host search tables built from the stored sections"
    );
    Ok(out)
}

/// `hosts` as the host list and counts read it: on SQLite, walking the index that holds
/// the list's order and every column a filter checks (`hosts_search`), so that no host
/// row is read and the cost is bounded by that index (SQLite would otherwise take the
/// department index for a department and read every such host's row to sort them).
pub(crate) fn hosts_from(c: &dyn Conn) -> &'static str {
    match c.engine() {
        Engine::Sqlite => "hosts INDEXED BY hosts_search",
        Engine::Postgres => "hosts",
    }
}

/// How hosts are checked against the rows of `host_software` / `host_updates` that match
/// a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Collect the hosts of every matching row once, then check each host against that
    /// set: cost follows the matching rows (a name few hosts have, or one per host).
    Collect,
    /// For each host, read its rows until one matches: cost follows the hosts (a text
    /// matching dozens of each host's packages, `lib`, where collecting would read
    /// millions of rows).
    Probe,
}

#[cfg(test)]
thread_local! {
    /// The plan the tests force, to check both give the same answers.
    pub(crate) static FORCE_PLAN: std::cell::Cell<Option<Plan>> = const { std::cell::Cell::new(None) };
}

/// What keeps each engine to the plan a query is written for.
#[derive(Clone, Copy)]
struct Dialect {
    /// SQLite: `+column` keeps an index on the column from being used for a condition
    /// (PostgreSQL has no unary plus on text, and needs none).
    plus: &'static str,
    /// PostgreSQL: `OFFSET 0` keeps a subquery from being merged into the query around
    /// it, so that the few matching names are found first and hashed (merged, the
    /// planner guesses half the hosts match a `LIKE '%…%'` and walks every host's rows).
    fence: &'static str,
}

fn dialect(c: &dyn Conn) -> Dialect {
    match c.engine() {
        Engine::Sqlite => Dialect {
            plus: "+",
            fence: "",
        },
        Engine::Postgres => Dialect {
            plus: "",
            fence: " OFFSET 0",
        },
    }
}

/// The condition over the rows of one host in `table`: `matching(first parameter,
/// probing)`, with its parameters.
type Matching<'a> = &'a dyn Fn(usize, bool) -> (String, Vec<Value>);

/// Chooses the [`Plan`] from a sample: the rows of 256 hosts in the middle of the host
/// numbers, and how many of them match (a few milliseconds).
fn choose(c: &dyn Conn, table: &str, matching: Matching) -> Result<Plan> {
    #[cfg(test)]
    if let Some(p) = FORCE_PLAN.with(|p| p.get()) {
        return Ok(p);
    }
    const WINDOW: i64 = 256;
    let Some(max) = c.query_value::<Option<i64>>("SELECT MAX(host_no) FROM hosts", &[])? else {
        return Ok(Plan::Collect);
    };
    let from = (max / 2 - WINDOW / 2).max(0);
    let count = |condition: &str, extra: Vec<Value>| -> Result<(f64, f64)> {
        let mut args = vec![Value::Int(from), Value::Int(from + WINDOW)];
        args.extend(extra);
        let args: Vec<&dyn ToParam> = args.iter().map(|v| v as &dyn ToParam).collect();
        let sql = format!(
            "SELECT COUNT(*), COUNT(DISTINCT host_no) FROM {table} WHERE host_no >= ?1 AND host_no < ?2{condition}"
        );
        let (rows, hosts): (i64, i64) = c
            .query_row(&sql, &args, |r| Ok((r.get(0)?, r.get(1)?)))?
            .unwrap_or((0, 0));
        Ok((rows as f64, hosts as f64))
    };
    let (rows, hosts) = count("", Vec::new())?;
    let (m, extra) = matching(3, true);
    let (matched, matched_hosts) = count(&format!(" AND {m}"), extra)?;
    if hosts == 0.0 || matched == 0.0 {
        return Ok(Plan::Collect);
    }
    // Rows read: collecting, every matching one; probing, all rows of a host without a
    // match, a host's share before its first match otherwise, and a descent per host.
    let per_host = rows / hosts;
    let per_match = matched / matched_hosts;
    let probe = (hosts - matched_hosts) * per_host
        + matched_hosts * per_host / (per_match + 1.0)
        + 4.0 * hosts;
    Ok(if probe < matched {
        Plan::Probe
    } else {
        Plan::Collect
    })
}

/// ` AND` the host has a row in `table` that `matching` accepts.
fn has_row(c: &dyn Conn, table: &str, matching: Matching, args: &mut Vec<Value>) -> Result<String> {
    let Dialect { plus, fence } = dialect(c);
    let plan = choose(c, table, matching)?;
    Ok(match plan {
        // Each host of the walk is checked against the set, made once, not looked up one
        // by one from it.
        Plan::Collect => {
            let (m, extra) = matching(args.len() + 1, false);
            args.extend(extra);
            format!(" AND {plus}host_no IN (SELECT host_no FROM {table} WHERE {m}{fence})")
        }
        // The host's rows are read by its number, each checked against the set of the
        // matching names' ids.
        Plan::Probe => {
            let (m, extra) = matching(args.len() + 1, true);
            args.extend(extra);
            format!(" AND EXISTS (SELECT 1 FROM {table} r WHERE r.host_no = hosts.host_no AND {m})")
        }
    })
}

/// The condition on `hosts` (unaliased) that `f` sets, its parameters appended to
/// `args` and numbered after those already there. Retired hosts only when `f.state`
/// asks for them.
pub(crate) fn host_where(c: &dyn Conn, f: &HostFilter, args: &mut Vec<Value>) -> Result<String> {
    fn arg(args: &mut Vec<Value>, v: Value) -> String {
        args.push(v);
        format!("?{}", args.len())
    }
    let text = |s: &str| Value::Text(s.to_string());
    let mut sql = String::from(if f.state.is_some() {
        "1 = 1"
    } else {
        "state <> 'retired'"
    });
    match f.departments.as_deref() {
        None => {}
        Some([]) => sql.push_str(" AND 1 = 0"),
        Some(d) => {
            let list: Vec<String> = d.iter().map(|d| arg(args, text(d))).collect();
            sql.push_str(&format!(" AND department IN ({})", list.join(", ")));
        }
    }
    for (col, v) in [
        ("department", &f.department),
        ("class", &f.class),
        ("state", &f.state),
        ("os_family", &f.os_family),
        ("hostname", &f.hostname),
    ] {
        if let Some(v) = v {
            let p = arg(args, text(v));
            sql.push_str(&format!(" AND {col} = {p}"));
        }
    }
    if let Some(name) = given(&f.software) {
        let pattern = contains_pattern(&name.to_lowercase());
        let version = given(&f.software_version);
        let matching = |first: usize, probing: bool| {
            let Dialect { plus, fence } = dialect(c);
            let plus = if probing { plus } else { "" };
            let mut extra = vec![Value::Text(pattern.clone())];
            let mut m = format!(
                "{plus}variant_id IN (SELECT v.variant_id FROM software_variants v WHERE v.name_id IN \
                 (SELECT name_id FROM package_names WHERE name_lc LIKE ?{first} ESCAPE '\\')"
            );
            if let Some(v) = version {
                extra.push(Value::Int(v.chars().count() as i64));
                extra.push(Value::Text(v.to_string()));
                m.push_str(&format!(
                    " AND substr(v.version, 1, ?{}) = ?{}",
                    first + 1,
                    first + 2
                ));
            }
            m.push_str(fence);
            m.push(')');
            (m, extra)
        };
        sql.push_str(&has_row(c, "host_software", &matching, args)?);
    }
    match given(&f.update) {
        Some(name) => {
            let pattern = contains_pattern(&name.to_lowercase());
            let security = if f.security_only {
                " AND security = 1"
            } else {
                ""
            };
            let matching = |first: usize, probing: bool| {
                let Dialect { plus, fence } = dialect(c);
                let plus = if probing { plus } else { "" };
                (
                    format!(
                        "{plus}name_id IN (SELECT name_id FROM package_names WHERE name_lc LIKE ?{first} ESCAPE '\\'{fence}){security}"
                    ),
                    vec![Value::Text(pattern.clone())],
                )
            };
            sql.push_str(&has_row(c, "host_updates", &matching, args)?);
        }
        None if f.security_only => sql.push_str(" AND pending_security > 0"),
        None => {}
    }
    if let Some(t) = given(&f.text) {
        let agent = arg(args, text(t));
        let lc = t.to_lowercase();
        let from = arg(args, text(&lc));
        let to = arg(args, Value::Text(prefix_end(&lc)));
        let exact: Vec<String> = [lc.clone(), ip_value(t).unwrap_or(lc.clone()), mac_value(t)]
            .into_iter()
            .map(|v| arg(args, Value::Text(v)))
            .collect();
        let Dialect { plus, fence } = dialect(c);
        sql.push_str(&format!(
            " AND {plus}host_no IN (SELECT host_no FROM hosts WHERE agent_id = {agent} \
             UNION ALL SELECT host_no FROM host_idents WHERE kind = '{NAME}' AND value >= {from} AND value < {to} \
             UNION ALL SELECT host_no FROM host_idents WHERE kind = '{ID}' AND value IN ({}){fence})",
            exact.join(", ")
        ));
    }
    Ok(sql)
}

/// [`crate::Store::software_versions`].
pub(crate) fn software_versions(
    c: &dyn Conn,
    name: &str,
    departments: Option<&[String]>,
    limit: u32,
) -> Result<Vec<SoftwareVersionCount>> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(Vec::new());
    }
    let pattern = contains_pattern(&name.to_lowercase());
    // The matching names from the dictionary, in the answer's order (sorted here: the same
    // on both engines); then, a few names at a time, their versions (in natural order) and
    // the hosts of each, until `limit` versions have any. A broad text (`lib`: most
    // packages of every host) costs the versions the answer shows, not every row that
    // matches it.
    let mut names: Vec<(i64, String, String)> = c.query_map(
        "SELECT name_id, name, name_lc FROM package_names WHERE name_lc LIKE ?1 ESCAPE '\\'",
        params![pattern],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    names.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.1.cmp(&b.1)));
    const NAMES: usize = 16;
    const VERSIONS: usize = 512;
    let versions_sql = format!(
        "SELECT variant_id, name_id, version FROM software_variants WHERE name_id IN ({})",
        (1..=NAMES)
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Each row's host checked against the set of the hosts counted, made once from the
    // hosts' index (not looked up host by host).
    let Dialect { plus, fence } = dialect(c);
    let count_sql = format!(
        "SELECT variant_id, COUNT(*) FROM host_software WHERE variant_id IN ({}) \
         AND {plus}host_no IN (SELECT host_no FROM {} WHERE state <> 'retired'{}{fence}) GROUP BY variant_id",
        (1..=VERSIONS).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", "),
        hosts_from(c),
        crate::hosts::department_in(departments, VERSIONS + 1)
    );
    let limit = limit.clamp(1, 10_000) as usize;
    let mut out = Vec::new();
    for group in names.chunks(NAMES) {
        let mut args: Vec<&dyn ToParam> = group.iter().map(|n| &n.0 as &dyn ToParam).collect();
        args.resize(NAMES, args[args.len() - 1]);
        let place: HashMap<i64, usize> = group.iter().enumerate().map(|(i, n)| (n.0, i)).collect();
        let mut versions: Vec<(i64, usize, String)> = c.query_map(&versions_sql, &args, |r| {
            let name_id: i64 = r.get(1)?;
            Ok((
                r.get(0)?,
                place.get(&name_id).copied().unwrap_or(0),
                r.get(2)?,
            ))
        })?;
        versions.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| natural_cmp(&a.2, &b.2)));
        for batch in versions.chunks(VERSIONS) {
            let mut args: Vec<&dyn ToParam> = batch.iter().map(|v| &v.0 as &dyn ToParam).collect();
            args.resize(VERSIONS, args[args.len() - 1]);
            let args = crate::hosts::with_departments(&args, departments);
            let mut counts: HashMap<i64, u64> = HashMap::new();
            c.query_each(&count_sql, &args, &mut |r| {
                counts.insert(r.get(0)?, r.get(1)?);
                Ok(())
            })?;
            for (id, name, version) in batch {
                if let Some(hosts) = counts.get(id) {
                    out.push(SoftwareVersionCount {
                        name: group[*name].1.clone(),
                        version: version.clone(),
                        hosts: *hosts,
                    });
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Versions in natural order: runs of digits compare as numbers (`9.2` before `10.0`,
/// `115.9` before `115.10`), everything else as text.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn runs(s: &str) -> impl Iterator<Item = &str> {
        let mut rest = s;
        std::iter::from_fn(move || {
            let first = rest.chars().next()?;
            let digit = first.is_ascii_digit();
            let end = rest
                .find(|c: char| c.is_ascii_digit() != digit)
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at(end);
            rest = tail;
            Some(run)
        })
    }
    let (mut x, mut y) = (runs(a), runs(b));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let numeric = p.starts_with(|c: char| c.is_ascii_digit())
                    && q.starts_with(|c: char| c.is_ascii_digit());
                let o = if numeric {
                    let (p0, q0) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                    p0.len().cmp(&q0.len()).then_with(|| p0.cmp(q0))
                } else {
                    p.cmp(q)
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::tests::{batch, rep, stores};
    use crate::*;
    use tilsyn_proto::v1::report::Body;
    use tilsyn_proto::v1::{
        Hardware, Inventory, NetInterface, Package, PatchLevel, PendingUpdate, SectionRef,
        SoftwareList,
    };

    pub(crate) fn enroll(s: &SqlStore, id: &str, department: &str, hostname: &str) {
        s.enroll(&NewAgent {
            agent_id: id.into(),
            secret_hash: "h".into(),
            department: department.into(),
            class: "workstation".into(),
            class_source: "rule".into(),
            hostname: hostname.into(),
            machine_id: String::new(),
            agent_version: "0".into(),
            labels_json: "{}".into(),
            health_interval_s: 60,
            enrolled_at_ms: 1,
        })
        .unwrap();
    }

    pub(crate) fn inventory(hostname: &str, serial: &str, ip: &str, mac: &str) -> Body {
        Body::Inventory(Inventory {
            content_hash: format!("inv-{hostname}-{serial}-{ip}"),
            hostname: hostname.into(),
            fqdn: format!("{}.corp.example", hostname.to_lowercase()),
            hardware: Some(Hardware {
                serial: serial.into(),
                ..Default::default()
            }),
            interfaces: vec![NetInterface {
                name: "eth0".into(),
                mac: mac.into(),
                addresses: vec![ip.into()],
            }],
            ..Default::default()
        })
    }

    pub(crate) fn software(packages: &[(&str, &str)]) -> Body {
        Body::Software(SoftwareList {
            content_hash: format!("sw-{packages:?}"),
            packages: packages
                .iter()
                .map(|(n, v)| Package {
                    name: n.to_string(),
                    version: v.to_string(),
                    arch: "x86_64".into(),
                    source: "test".into(),
                })
                .collect(),
        })
    }

    pub(crate) fn patches(updates: &[(&str, bool)]) -> Body {
        Body::Patches(PatchLevel {
            pending_count: updates.len() as u32,
            pending_security_count: updates.iter().filter(|(_, s)| *s).count() as u32,
            updates: updates
                .iter()
                .map(|(n, s)| PendingUpdate {
                    name: n.to_string(),
                    security: *s,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    }

    const OFFICE: &str = "Microsoft Office Professional Plus 2016";

    /// Five hosts: `ag_a` (social), `ag_b`, `ag_c` and retired `ag_d` (schools), and
    /// `ag_e` (social), enrolled without a report yet.
    pub(crate) fn fleet(s: &SqlStore) {
        enroll(s, "ag_a", "social", "pc-a");
        s.ingest(
            &[batch(
                "ag_a",
                vec![
                    rep(
                        1,
                        inventory("PC-Alpha", "SN-A1", "10.0.0.1/24", "02-00-00-00-00-0A"),
                    ),
                    rep(
                        2,
                        software(&[
                            ("Mozilla Firefox (x64 en-US)", "115.17.0esr"),
                            ("7-Zip 24.08 (x64)", "24.08"),
                            (OFFICE, "16.0.4266.1001"),
                            // Two architectures of one package: one row.
                            ("7-Zip 24.08 (x64)", "24.08"),
                        ]),
                    ),
                    rep(3, patches(&[("openssl", true), ("curl", false)])),
                ],
            )],
            10,
        )
        .unwrap();
        enroll(s, "ag_b", "schools", "pc-beta");
        s.ingest(
            &[batch(
                "ag_b",
                vec![
                    rep(
                        1,
                        inventory("pc-beta", "SN-B2", "10.0.0.2/24", "02:00:00:00:00:0b"),
                    ),
                    rep(
                        2,
                        software(&[("firefox-esr", "128.5.0esr"), (OFFICE, "16.0.4266.1001")]),
                    ),
                    rep(3, patches(&[("curl", false), ("curl", false)])),
                ],
            )],
            10,
        )
        .unwrap();
        enroll(s, "ag_c", "schools", "srv-gamma");
        s.ingest(
            &[batch(
                "ag_c",
                vec![
                    rep(1, inventory("srv-gamma", "SN-C3", "fe80::1%eth0", "")),
                    rep(
                        2,
                        software(&[
                            ("Microsoft 365 Apps for enterprise", "16.0.18129.20158"),
                            (OFFICE, "16.0.5422.1000"),
                            ("100% Pure", "1"),
                        ]),
                    ),
                    rep(
                        3,
                        patches(&[("2024-11 Cumulative Update for Windows 11 (KB5046633)", true)]),
                    ),
                ],
            )],
            10,
        )
        .unwrap();
        enroll(s, "ag_d", "schools", "pc-delta");
        s.ingest(
            &[batch(
                "ag_d",
                vec![
                    rep(1, inventory("pc-delta", "SN-D4", "10.0.0.4/24", "")),
                    rep(2, software(&[("firefox-esr", "115.17.0esr")])),
                    rep(3, patches(&[("openssl", true)])),
                ],
            )],
            10,
        )
        .unwrap();
        s.retire_host("ag_d", "scrapped", 20, &Actor::default())
            .unwrap();
        enroll(s, "ag_e", "social", "pc-echo");
    }

    /// The agent ids `f` finds (sorted), checking that the count agrees.
    pub(crate) fn found(s: &SqlStore, f: HostFilter) -> Vec<String> {
        let f = HostFilter { limit: 100, ..f };
        let mut ids: Vec<String> = s
            .list_hosts(&f)
            .unwrap()
            .into_iter()
            .map(|h| h.agent_id)
            .collect();
        assert_eq!(s.count_hosts(&f).unwrap(), ids.len() as u64, "{f:?}");
        ids.sort();
        ids
    }

    fn sw(name: &str) -> HostFilter {
        HostFilter {
            software: Some(name.into()),
            ..Default::default()
        }
    }

    fn upd(name: &str, security_only: bool) -> HostFilter {
        HostFilter {
            update: Some(name.into()),
            security_only,
            ..Default::default()
        }
    }

    fn text(t: &str) -> HostFilter {
        HostFilter {
            text: Some(t.into()),
            ..Default::default()
        }
    }

    /// What [`fleet`] must answer.
    pub(crate) fn check_fleet(s: &SqlStore) {
        // Software: contains, ignoring case; retired hosts only when asked for.
        assert_eq!(found(s, sw("firefox")), ["ag_a", "ag_b"]);
        assert_eq!(found(s, sw(" FireFox ")), ["ag_a", "ag_b"]);
        assert_eq!(
            found(
                s,
                HostFilter {
                    state: Some("retired".into()),
                    ..sw("firefox")
                }
            ),
            ["ag_d"]
        );
        assert_eq!(found(s, sw("office")), ["ag_a", "ag_b", "ag_c"]);
        assert_eq!(found(s, sw("microsoft 365")), ["ag_c"]);
        assert!(
            found(s, sw("openssl")).is_empty(),
            "pending is not installed"
        );
        // LIKE's wildcards are taken literally.
        assert_eq!(found(s, sw("100%")), ["ag_c"]);
        assert!(found(s, sw("_")).is_empty());
        assert!(found(s, sw("0%p")).is_empty());
        // A version prefix, of the packages the name finds.
        let version = |name: &str, v: &str| HostFilter {
            software_version: Some(v.into()),
            ..sw(name)
        };
        assert_eq!(found(s, version("firefox", "115.")), ["ag_a"]);
        assert_eq!(found(s, version("office", "16.0.4")), ["ag_a", "ag_b"]);
        assert_eq!(found(s, version("office", "16.0.5")), ["ag_c"]);
        assert!(found(s, version("firefox", "16.")).is_empty());
        assert!(found(s, version("7-zip", "24.08")).contains(&"ag_a".to_string()));
        // Department scope and the other filters still hold.
        let scoped = |f: HostFilter, d: &[&str]| HostFilter {
            departments: Some(d.iter().map(|d| d.to_string()).collect()),
            ..f
        };
        assert_eq!(
            found(s, scoped(sw("office"), &["schools"])),
            ["ag_b", "ag_c"]
        );
        assert!(found(s, scoped(sw("office"), &[])).is_empty());
        assert_eq!(
            found(
                s,
                HostFilter {
                    department: Some("social".into()),
                    ..sw("office")
                }
            ),
            ["ag_a"]
        );
        // Pending updates: by name, security only, or any security update.
        assert_eq!(found(s, upd("openssl", false)), ["ag_a"]);
        assert_eq!(found(s, upd("curl", false)), ["ag_a", "ag_b"]);
        assert!(found(s, upd("curl", true)).is_empty());
        assert_eq!(found(s, upd("KB5046633", true)), ["ag_c"]);
        assert_eq!(
            found(
                s,
                HostFilter {
                    security_only: true,
                    ..Default::default()
                }
            ),
            ["ag_a", "ag_c"]
        );
        // Free text: hostname and fqdn by prefix, serial, address and agent id exactly.
        assert_eq!(found(s, text("PC-")), ["ag_a", "ag_b", "ag_e"]);
        assert_eq!(found(s, text("pc-alpha.corp")), ["ag_a"]);
        assert_eq!(found(s, text("srv")), ["ag_c"]);
        assert_eq!(found(s, text("sn-b2")), ["ag_b"]);
        assert!(found(s, text("SN-B")).is_empty(), "a serial only exactly");
        assert_eq!(found(s, text("10.0.0.2")), ["ag_b"]);
        assert_eq!(found(s, text("10.0.0.1/24")), ["ag_a"]);
        assert!(found(s, text("10.0.0")).is_empty());
        assert!(found(s, text("10.0.0.4")).is_empty(), "retired");
        assert_eq!(found(s, text("FE80::1")), ["ag_c"]);
        assert_eq!(found(s, text("fe80:0:0::1/64")), ["ag_c"]);
        assert_eq!(found(s, text("02:00:00:00:00:0A")), ["ag_a"]);
        assert_eq!(found(s, text("02-00-00-00-00-0b")), ["ag_b"]);
        assert_eq!(found(s, text("ag_c")), ["ag_c"]);
        assert!(found(s, scoped(text("ag_c"), &["social"])).is_empty());
        // Filters combine; blank ones filter nothing.
        assert_eq!(
            found(
                s,
                HostFilter {
                    text: Some("pc-b".into()),
                    ..sw("firefox")
                }
            ),
            ["ag_b"]
        );
        assert_eq!(
            found(
                s,
                HostFilter {
                    software: Some(" ".into()),
                    update: Some(String::new()),
                    text: Some("  ".into()),
                    ..Default::default()
                }
            ),
            ["ag_a", "ag_b", "ag_c", "ag_e"]
        );
        // Pages: the count is the total, whatever the page.
        let page = |offset| HostFilter {
            limit: 1,
            offset,
            ..sw("office")
        };
        let mut pages = Vec::new();
        for offset in 0..4 {
            let p = s.list_hosts(&page(offset)).unwrap();
            assert!(p.len() <= 1);
            assert_eq!(s.count_hosts(&page(offset)).unwrap(), 3);
            pages.extend(p.into_iter().map(|h| h.agent_id));
        }
        pages.sort();
        assert_eq!(pages, ["ag_a", "ag_b", "ag_c"]);

        // Versions with their hosts (retired `ag_d`'s firefox-esr 115 is not counted).
        let versions = |name: &str, d: Option<&[String]>, limit| -> Vec<(String, String, u64)> {
            s.software_versions(name, d, limit)
                .unwrap()
                .into_iter()
                .map(|v| (v.name, v.version, v.hosts))
                .collect()
        };
        let row = |n: &str, v: &str, h: u64| (n.to_string(), v.to_string(), h);
        assert_eq!(
            versions("firefox", None, 100),
            [
                row("firefox-esr", "128.5.0esr", 1),
                row("Mozilla Firefox (x64 en-US)", "115.17.0esr", 1)
            ]
        );
        assert_eq!(
            versions("OFFICE pro", None, 100),
            [
                row(OFFICE, "16.0.4266.1001", 2),
                row(OFFICE, "16.0.5422.1000", 1)
            ]
        );
        let schools = ["schools".to_string()];
        assert_eq!(
            versions("office", Some(&schools), 100),
            [
                row(OFFICE, "16.0.4266.1001", 1),
                row(OFFICE, "16.0.5422.1000", 1)
            ]
        );
        assert_eq!(
            versions("office", None, 1),
            [row(OFFICE, "16.0.4266.1001", 2)]
        );
        assert!(versions("office", Some(&[]), 100).is_empty());
        assert!(versions("  ", None, 100).is_empty());
        assert!(versions("openssl", None, 100).is_empty());
    }

    #[test]
    fn every_filter_finds_its_hosts_and_no_others() {
        for s in stores() {
            fleet(&s);
            check_fleet(&s);
        }
    }

    #[test]
    fn both_plans_find_the_same_hosts() {
        for s in stores() {
            fleet(&s);
            for plan in [super::Plan::Collect, super::Plan::Probe] {
                super::FORCE_PLAN.with(|p| p.set(Some(plan)));
                check_fleet(&s);
            }
            super::FORCE_PLAN.with(|p| p.set(None));
        }
    }

    #[test]
    fn a_later_report_replaces_what_a_host_is_found_by() {
        for s in stores() {
            fleet(&s);
            s.ingest(
                &[batch(
                    "ag_b",
                    vec![
                        rep(4, inventory("pc-bravo", "SN-B2", "10.0.1.2/24", "")),
                        rep(5, software(&[("Google Chrome", "131.0.6778.86")])),
                        rep(6, patches(&[("openssl", true)])),
                    ],
                )],
                30,
            )
            .unwrap();
            assert_eq!(found(&s, sw("firefox")), ["ag_a"]);
            assert_eq!(found(&s, sw("chrome")), ["ag_b"]);
            assert_eq!(found(&s, sw("office")), ["ag_a", "ag_c"]);
            assert_eq!(found(&s, upd("curl", false)), ["ag_a"]);
            assert_eq!(found(&s, upd("openssl", true)), ["ag_a", "ag_b"]);
            assert!(found(&s, text("10.0.0.2")).is_empty());
            assert_eq!(found(&s, text("10.0.1.2")), ["ag_b"]);
            assert!(found(&s, text("pc-beta")).is_empty());
            assert_eq!(found(&s, text("pc-bravo.corp.example")), ["ag_b"]);
            assert_eq!(s.software_versions("office", None, 10).unwrap()[0].hosts, 1);
            // An unchanged section, or the same content again, keeps the rows.
            s.ingest(
                &[batch(
                    "ag_b",
                    vec![
                        rep(
                            7,
                            Body::Unchanged(SectionRef {
                                section: "software".into(),
                                content_hash: format!(
                                    "sw-{:?}",
                                    [("Google Chrome", "131.0.6778.86")]
                                ),
                            }),
                        ),
                        rep(8, software(&[("Google Chrome", "131.0.6778.86")])),
                        rep(9, patches(&[("openssl", true)])),
                    ],
                )],
                40,
            )
            .unwrap();
            assert_eq!(found(&s, sw("chrome")), ["ag_b"]);
            assert_eq!(found(&s, upd("openssl", true)), ["ag_a", "ag_b"]);
            // No software and no updates any more.
            s.ingest(
                &[batch(
                    "ag_b",
                    vec![rep(10, software(&[])), rep(11, patches(&[]))],
                )],
                50,
            )
            .unwrap();
            assert!(found(&s, sw("chrome")).is_empty());
            assert_eq!(found(&s, upd("openssl", false)), ["ag_a"]);
            // A host moved to another department is found there.
            s.move_host("ag_b", Some("social"), None, "", 60, &Actor::default())
                .unwrap();
            assert_eq!(
                found(
                    &s,
                    HostFilter {
                        departments: Some(vec!["social".into()]),
                        ..text("pc-")
                    }
                ),
                ["ag_a", "ag_b", "ag_e"]
            );
        }
    }

    #[test]
    fn a_version_10_database_is_searchable_after_the_upgrade() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("t.db");
        let pg = crate::pg_server::shared().unwrap().new_database().unwrap();
        type Open<'a> = Box<dyn Fn() -> SqlStore + 'a>;
        let engines: [(Open, &str, &str); 2] = [
            (
                Box::new(|| crate::sqlite::open(&path).unwrap()),
                "DROP INDEX hosts_by_no; DROP INDEX hosts_search; ALTER TABLE hosts DROP COLUMN host_no;",
                "X'ff'",
            ),
            (
                Box::new(|| crate::postgres::open(&pg).unwrap()),
                "DROP INDEX hosts_by_hostname; ALTER TABLE hosts DROP COLUMN host_no;",
                "'\\xff'::bytea",
            ),
        ];
        for (open, drop_host_no, bad_blob) in engines {
            {
                let s = open();
                fleet(&s);
                // Version 10 had none of this.
                s.raw(&format!(
                    "{drop_host_no} DROP TABLE host_software; DROP TABLE host_updates; \
                     DROP TABLE host_idents; DROP TABLE software_variants; DROP TABLE package_names; \
                     DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES (10); \
                     UPDATE hosts SET software_pb = {bad_blob}, software_hash = 'x' WHERE agent_id = 'ag_e';"
                ))
                .unwrap();
            }
            let s = open();
            assert_eq!(s.schema_version().unwrap(), 11);
            check_fleet(&s);
            // New hosts are numbered after the others.
            enroll(&s, "ag_f", "social", "pc-foxtrot");
            assert_eq!(found(&s, text("pc-fox")), ["ag_f"]);
            // A section the upgrade could not read is asked for again.
            let o = s
                .ingest(
                    &[batch(
                        "ag_e",
                        vec![rep(
                            1,
                            Body::Unchanged(SectionRef {
                                section: "software".into(),
                                content_hash: "x".into(),
                            }),
                        )],
                    )],
                    100,
                )
                .unwrap();
            assert_eq!(o[0].resend_sections, ["software"]);
        }
    }

    #[test]
    fn versions_no_host_counts_are_skipped_batch_after_batch() {
        for s in stores() {
            fleet(&s);
            // Twenty names and 600 versions of another only a retired host had (more
            // than one group of names, more than one batch of versions), then what live
            // hosts have: a version of that name, and a name after them all.
            let mut old: Vec<(String, String)> = (1..=600)
                .map(|v| ("aaa-tool".to_string(), v.to_string()))
                .collect();
            old.extend((0..20).map(|i| (format!("aaa-t{i:02}"), "1".to_string())));
            let old: Vec<(&str, &str)> =
                old.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            enroll(&s, "ag_z", "social", "pc-zulu");
            s.ingest(&[batch("ag_z", vec![rep(1, software(&old))])], 30)
                .unwrap();
            s.retire_host("ag_z", "scrapped", 40, &Actor::default())
                .unwrap();
            s.ingest(
                &[batch(
                    "ag_e",
                    vec![rep(1, software(&[("aaa-tool", "999"), ("aaa-zzz", "2")]))],
                )],
                30,
            )
            .unwrap();
            s.ingest(
                &[batch("ag_a", vec![rep(4, software(&[("aaa-zzz", "10")]))])],
                30,
            )
            .unwrap();
            let row = |n: &str, v: &str| SoftwareVersionCount {
                name: n.into(),
                version: v.into(),
                hosts: 1,
            };
            let v = s.software_versions("aaa", None, 10).unwrap();
            assert_eq!(
                v,
                [
                    row("aaa-tool", "999"),
                    row("aaa-zzz", "2"),
                    row("aaa-zzz", "10")
                ]
            );
            assert_eq!(
                s.software_versions("aaa", None, 2).unwrap(),
                v[..2].to_vec()
            );
            let social = ["social".to_string()];
            assert_eq!(s.software_versions("aaa", Some(&social), 10).unwrap(), v);
            let schools = ["schools".to_string()];
            assert!(s
                .software_versions("aaa", Some(&schools), 10)
                .unwrap()
                .is_empty());
        }
    }

    #[test]
    fn versions_sort_as_numbers() {
        use std::cmp::Ordering::*;
        for (a, b, o) in [
            ("9.2", "10.0", Less),
            ("115.9", "115.10", Less),
            ("115.0esr", "115.0", Greater),
            ("1.0", "1.0", Equal),
            ("1:9.2p1-2", "1:10.0p1-1", Less),
            ("16.0.4266.1001", "16.0.18129.20158", Less),
            ("a", "B", Greater),
            ("01", "1", Less),
        ] {
            assert_eq!(super::natural_cmp(a, b), o, "{a} vs {b}");
        }
    }
}

/// How fast the search answers at fleet size: an ignored test, run by hand (`bench.rs`).
#[cfg(test)]
mod bench;
