//! The store on any engine ([`SqlStore`]): hosts, their reports and health samples,
//! compliance rows, and the [`Store`] trait's implementation, which hands the other areas
//! to their files (`incidents.rs`, `sla.rs`, `absence.rs`, `rollups.rs`). Written once
//! against [`crate::sql`]; the engines only run it.

use prost::Message;
use tilsyn_proto::v1::report::Body;
use tilsyn_proto::v1::{Health, Inventory, PatchLevel, SoftwareList};

use crate::sql::{params, Conn, Db, Row, ToParam};
use crate::*;

const SUMMARY_COLS: &str = "agent_id, hostname, fqdn, department, class, state, os_family, os_name, os_version, \
    agent_version, enrolled_at_ms, last_seen_ms, software_count, pending_updates, pending_security, \
    oldest_security_since_ms, reboot_required";

/// ` AND department IN (?n, …)` for a department reader's departments (`None`: all; none
/// given: nothing matches), its parameters numbered from `first`.
pub(crate) fn department_in(departments: Option<&[String]>, first: usize) -> String {
    match departments {
        None => String::new(),
        Some([]) => " AND 1 = 0".into(),
        Some(d) => format!(
            " AND department IN ({})",
            (first..first + d.len())
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `args` followed by the departments of [`department_in`].
pub(crate) fn with_departments<'a>(
    args: &[&'a dyn ToParam],
    departments: Option<&'a [String]>,
) -> Vec<&'a dyn ToParam> {
    let mut out = args.to_vec();
    for d in departments.unwrap_or_default() {
        out.push(d);
    }
    out
}

/// The store over one engine.
pub struct SqlStore {
    pub(crate) db: Box<dyn Db>,
    /// The lease the leader's writes need (`Store::fence`).
    pub(crate) fence: std::sync::Mutex<Option<crate::Lease>>,
    /// The day (since the epoch) whose partition of the health samples ingest has seen
    /// made (PostgreSQL); another day makes sure of it first.
    sample_day: std::sync::atomic::AtomicI64,
}

impl SqlStore {
    /// Wraps an engine and creates or upgrades its schema.
    pub(crate) fn new(db: Box<dyn Db>) -> Result<Self> {
        db.migrate()?;
        Ok(SqlStore {
            db,
            fence: std::sync::Mutex::new(None),
            sample_day: std::sync::atomic::AtomicI64::new(i64::MIN),
        })
    }

    /// Where the data is (`sqlite:/path`, `postgres://host:port/db`), for logs.
    pub fn describe(&self) -> String {
        self.db.describe()
    }

    /// Runs parameterless SQL in a write transaction (tests and repairs).
    #[doc(hidden)]
    pub fn raw(&self, sql: &str) -> Result<()> {
        self.db.write(|c| c.batch(sql))
    }

    /// Reclaims the space of deleted rows.
    pub fn vacuum(&self) -> Result<()> {
        self.db.vacuum()
    }

    /// The database's size on disk in bytes.
    pub fn size_bytes(&self) -> Result<u64> {
        self.db.size_bytes()
    }

    fn apply_batch(
        tx: &dyn Conn,
        dict: &mut crate::search::Dictionary,
        b: &IngestBatch,
        now_ms: i64,
    ) -> Result<BatchOutcome> {
        type HostRow = (
            i64,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            i64,
        );
        let row: Option<HostRow> = tx.query_row(
            "SELECT last_seq, state, inventory_hash, software_hash, facts_hash, probe_errors_json, host_no FROM hosts WHERE agent_id = ?1",
            params![b.agent_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )?;
        let Some((
            last_seq,
            state,
            mut inv_hash,
            mut sw_hash,
            mut facts_hash,
            errors_json,
            host_no,
        )) = row
        else {
            return Err(StoreError::Db(format!("unknown agent {}", b.agent_id)));
        };
        let mut last_seq = last_seq as u64;
        let mut out = BatchOutcome::default();
        let mut probe_errors: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&errors_json).unwrap_or_default();
        // A full section or other probe errors: the compliance inputs changed.
        let mut inputs_changed = false;
        // A section's search rows are rewritten when its content changed (a hash the store
        // does not hold yet; without a hash, always).
        let changed =
            |known: &Option<String>, hash: &str| hash.is_empty() || known.as_deref() != Some(hash);
        for r in &b.reports {
            if r.seq <= last_seq {
                out.duplicates += 1;
                continue;
            }
            last_seq = r.seq;
            let kind = match &r.body {
                Some(Body::Inventory(inv)) => {
                    let os = inv.os.clone().unwrap_or_default();
                    tx.execute(
                        "UPDATE hosts SET hostname = ?2, fqdn = ?3, os_family = ?4, os_name = ?5, os_version = ?6, \
                         agent_version = ?7, machine_id = ?8, inventory_hash = ?9, inventory_pb = ?10, inventory_at_ms = ?11, \
                         class = COALESCE(CAST(?12 AS TEXT), class) WHERE agent_id = ?1",
                        params![
                            b.agent_id, inv.hostname, inv.fqdn, os.family, os.name, os.version, inv.agent_version,
                            inv.machine_id, inv.content_hash, inv.encode_to_vec(), r.collected_at_ms, b.class_from_inventory
                        ],
                    )?;
                    if changed(&inv_hash, &inv.content_hash) {
                        crate::search::write_idents(tx, host_no, &inv.hostname, Some(inv))?;
                    }
                    inv_hash = Some(inv.content_hash.clone());
                    "inventory"
                }
                Some(Body::Software(sw)) => {
                    tx.execute(
                        "UPDATE hosts SET software_hash = ?2, software_pb = ?3, software_count = ?4, software_at_ms = ?5 WHERE agent_id = ?1",
                        params![b.agent_id, sw.content_hash, sw.encode_to_vec(), sw.packages.len(), r.collected_at_ms],
                    )?;
                    if changed(&sw_hash, &sw.content_hash) {
                        crate::search::write_software(tx, dict, host_no, sw)?;
                    }
                    sw_hash = Some(sw.content_hash.clone());
                    "software"
                }
                Some(Body::Patches(p)) => {
                    tx.execute(
                        "UPDATE hosts SET patches_pb = ?2, patches_at_ms = ?3, pending_updates = ?4, pending_security = ?5, \
                         oldest_security_since_ms = ?6, reboot_required = ?7 WHERE agent_id = ?1",
                        params![
                            b.agent_id, p.encode_to_vec(), r.collected_at_ms, p.pending_count, p.pending_security_count,
                            p.oldest_security_since_ms, p.reboot_required
                        ],
                    )?;
                    crate::search::write_updates(tx, dict, host_no, p)?;
                    "patches"
                }
                Some(Body::Health(h)) => {
                    let body = h.encode_to_vec();
                    tx.execute(
                        "UPDATE hosts SET health_pb = ?2, health_at_ms = ?3 WHERE agent_id = ?1",
                        params![b.agent_id, body, r.collected_at_ms],
                    )?;
                    tx.execute(
                        "INSERT INTO health_samples (agent_id, seq, collected_at_ms, received_at_ms, body) VALUES (?1, ?2, ?3, ?4, ?5) \
                         ON CONFLICT DO NOTHING",
                        params![b.agent_id, r.seq, r.collected_at_ms, now_ms, body],
                    )?;
                    "health"
                }
                Some(Body::Facts(f)) => {
                    tx.execute(
                        "UPDATE hosts SET facts_hash = ?2, facts_pb = ?3, facts_at_ms = ?4 WHERE agent_id = ?1",
                        params![b.agent_id, f.content_hash, f.encode_to_vec(), r.collected_at_ms],
                    )?;
                    facts_hash = Some(f.content_hash.clone());
                    "facts"
                }
                Some(Body::Unchanged(s)) => {
                    let known = match s.section.as_str() {
                        "inventory" => &inv_hash,
                        "facts" => &facts_hash,
                        _ => &sw_hash,
                    };
                    if known.as_deref() != Some(s.content_hash.as_str())
                        && !out.resend_sections.contains(&s.section)
                    {
                        out.resend_sections.push(s.section.clone());
                    }
                    match s.section.as_str() {
                        "inventory" => "inventory",
                        "facts" => "facts",
                        _ => "software",
                    }
                }
                None => r
                    .errors
                    .first()
                    .map(|e| probe_kind(&e.probe))
                    .unwrap_or("health"),
            };
            inputs_changed |= matches!(
                r.body,
                Some(Body::Inventory(_) | Body::Software(_) | Body::Patches(_) | Body::Facts(_))
            );
            // The latest errors of each probe replace the previous ones (none = healed).
            if r.errors.is_empty() {
                probe_errors.remove(kind);
            } else {
                probe_errors.insert(
                    kind.into(),
                    serde_json::json!({
                        "at_ms": r.collected_at_ms,
                        "messages": r.errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>(),
                    }),
                );
            }
            out.applied.push((r.seq, kind));
        }
        let errors_now = serde_json::Value::Object(probe_errors).to_string();
        if inputs_changed || errors_now != errors_json {
            // On the database's clock, one clock for every collector's changes.
            tx.execute(
                &format!(
                    "INSERT INTO section_changes (agent_id, origin, at_ms) VALUES (?1, ?2, {})",
                    crate::cluster::db_now(tx.engine())
                ),
                params![b.agent_id, b.origin],
            )?;
        }
        tx.execute(
            "UPDATE hosts SET last_seq = ?2, last_seen_ms = ?3, state = 'online', health_interval_s = ?4, probe_errors_json = ?5, \
             offline_after_ms = ?6, offline_from_ms = NULL WHERE agent_id = ?1",
            params![
                b.agent_id,
                last_seq,
                now_ms,
                b.health_interval_s,
                errors_now,
                now_ms + b.silence_limit_ms
            ],
        )?;
        if state != "online" {
            out.came_online = true;
            tx.execute(
                "INSERT INTO host_events (agent_id, at_ms, kind) VALUES (?1, ?2, 'online')",
                params![b.agent_id, now_ms],
            )?;
        }
        out.committed_through = last_seq;
        Ok(out)
    }

    pub(crate) fn compliance_inputs_impl(
        &self,
        agent_id: Option<&str>,
        f: &mut dyn FnMut(HostInputs),
    ) -> Result<()> {
        self.db.read(|c| {
            let sql = format!(
                "SELECT agent_id, hostname, department, class, labels_json, inventory_pb, software_pb, patches_pb, facts_pb \
                 FROM hosts WHERE state <> 'retired' {}",
                if agent_id.is_some() { "AND agent_id = ?1" } else { "" }
            );
            let args: Vec<&dyn ToParam> = agent_id.iter().map(|a| a as &dyn ToParam).collect();
            c.query_each(&sql, &args, &mut |r| {
                let id: String = r.get(0)?;
                let labels: String = r.get(4)?;
                let what = |s: &str| format!("{s} of host {id}");
                let labels: std::collections::BTreeMap<String, String> =
                    serde_json::from_str(&labels).map_err(|e| StoreError::Corrupt { what: what("labels"), message: e.to_string() })?;
                let inputs = HostInputs {
                    ctx: tilsyn_collector_core::compliance::facts::HostContext {
                        agent_id: id.clone(),
                        hostname: r.get(1)?,
                        department: r.get::<String>(2)?.into(),
                        class: r.get::<String>(3)?.into(),
                        labels,
                    },
                    inventory: decode(&what("inventory"), r.get(5)?)?,
                    software: decode(&what("software"), r.get(6)?)?,
                    patches: decode(&what("patches"), r.get(7)?)?,
                    facts: decode(&what("facts"), r.get(8)?)?,
                };
                f(inputs);
                Ok(())
            })
        })
    }
}

fn probe_kind(p: &str) -> &'static str {
    match p {
        "inventory" => "inventory",
        "software" => "software",
        "patches" => "patches",
        "facts" => "facts",
        _ => "health",
    }
}

fn summary(row: &Row) -> Result<HostSummary> {
    Ok(HostSummary {
        agent_id: row.get(0)?,
        hostname: row.get(1)?,
        fqdn: row.get(2)?,
        department: row.get(3)?,
        class: row.get(4)?,
        state: row.get(5)?,
        os_family: row.get(6)?,
        os_name: row.get(7)?,
        os_version: row.get(8)?,
        agent_version: row.get(9)?,
        enrolled_at_ms: row.get(10)?,
        last_seen_ms: row.get(11)?,
        software_count: row.get(12)?,
        pending_updates: row.get(13)?,
        pending_security_updates: row.get(14)?,
        oldest_security_update_since_ms: row.get(15)?,
        reboot_required: row.get(16)?,
    })
}

fn json_opt(what: &str, s: Option<String>) -> Result<Option<serde_json::Value>> {
    s.map(|s| {
        serde_json::from_str(&s).map_err(|e| StoreError::Corrupt {
            what: what.into(),
            message: e.to_string(),
        })
    })
    .transpose()
}

/// Decodes a stored protobuf section.
pub(crate) fn decode<T: Message + Default>(what: &str, blob: Option<Vec<u8>>) -> Result<Option<T>> {
    blob.map(|b| {
        T::decode(b.as_slice()).map_err(|e| StoreError::Corrupt {
            what: what.to_string(),
            message: e.to_string(),
        })
    })
    .transpose()
}

/// Decodes a stored protobuf section and renders it as JSON for the API.
fn decode_json<M: Message + Default + serde::Serialize>(
    what: &str,
    blob: Option<Vec<u8>>,
) -> Result<Option<serde_json::Value>> {
    Ok(
        decode::<M>(what, blob)?
            .map(|m| serde_json::to_value(m).expect("protocol types serialize")),
    )
}

fn compliance_row(r: &Row) -> Result<ComplianceRow> {
    Ok(ComplianceRow {
        agent_id: r.get(0)?,
        standard_id: r.get(1)?,
        status: r.get(2)?,
        results_json: r.get(3)?,
        evaluated_at_ms: r.get(4)?,
    })
}

impl Store for SqlStore {
    fn migrate(&self) -> Result<()> {
        self.db.migrate()
    }

    fn schema_version(&self) -> Result<i64> {
        self.db
            .read(|c| c.query_value("SELECT MAX(version) FROM schema_version", &[]))
    }

    fn ping(&self) -> Result<()> {
        self.db
            .read(|c| c.query_value::<i64>("SELECT 1", &[]).map(|_| ()))
    }

    fn enroll(&self, a: &NewAgent) -> Result<()> {
        self.db.write(|c| {
            // The host's number in the search tables: PostgreSQL's identity (several
            // collectors enrol at once), SQLite's one writer counts on.
            let host_no: i64 = match c.engine() {
                crate::sql::Engine::Sqlite => {
                    c.query_value("SELECT COALESCE(MAX(host_no), 0) + 1 FROM hosts", &[])?
                }
                crate::sql::Engine::Postgres => c.query_value(
                    "SELECT nextval(pg_get_serial_sequence('hosts', 'host_no'))",
                    &[],
                )?,
            };
            c.execute(
                "INSERT INTO hosts (agent_id, secret_hash, department, class, class_source, labels_json, hostname, machine_id, \
                 agent_version, health_interval_s, enrolled_at_ms, state, host_no) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'new', ?12)",
                params![a.agent_id, a.secret_hash, a.department, a.class, a.class_source, a.labels_json, a.hostname, a.machine_id,
                    a.agent_version, a.health_interval_s, a.enrolled_at_ms, host_no],
            )?;
            crate::search::forget(c, host_no)?;
            crate::search::write_idents(c, host_no, &a.hostname, None)?;
            c.execute(
                "INSERT INTO host_events (agent_id, at_ms, kind) VALUES (?1, ?2, 'enrolled')",
                params![a.agent_id, a.enrolled_at_ms],
            )?;
            Ok(())
        })
    }

    fn agent_auth(&self, agent_id: &str) -> Result<Option<AgentAuth>> {
        self.db.read(|c| {
            c.query_row(
                "SELECT agent_id, secret_hash, department, class, class_source, revoked_at_ms FROM hosts WHERE agent_id = ?1",
                params![agent_id],
                |r| {
                    Ok(AgentAuth {
                        agent_id: r.get(0)?,
                        secret_hash: r.get(1)?,
                        department: r.get(2)?,
                        class: r.get(3)?,
                        class_source: r.get(4)?,
                        revoked: r.get::<Option<i64>>(5)?.is_some(),
                    })
                },
            )
        })
    }

    fn ingest(&self, batches: &[IngestBatch], now_ms: i64) -> Result<Vec<BatchOutcome>> {
        let day = now_ms.div_euclid(86_400_000);
        let known = self.sample_day.load(std::sync::atomic::Ordering::Relaxed);
        let out = self.db.write(|tx| {
            if day != known && tx.engine() == crate::sql::Engine::Postgres {
                // Today's partition of the samples, and tomorrow's ahead of midnight.
                for d in [day, day + 1] {
                    crate::postgres::ensure_partition(
                        tx,
                        crate::postgres::Partitioned::HealthSamples,
                        d * 86_400_000,
                    )?;
                }
            }
            // Made again if the engine runs the transaction again.
            let mut dict = crate::search::Dictionary::default();
            batches
                .iter()
                .map(|b| Self::apply_batch(tx, &mut dict, b, now_ms))
                .collect()
        })?;
        self.sample_day
            .store(day, std::sync::atomic::Ordering::Relaxed);
        Ok(out)
    }

    fn list_hosts(&self, f: &HostFilter) -> Result<Vec<HostSummary>> {
        self.db.read(|c| {
            let mut args = Vec::new();
            let w = crate::search::host_where(c, f, &mut args)?;
            // The page is picked from the hosts' indexes alone; only its rows are read.
            let sql = format!(
                "SELECT {SUMMARY_COLS} FROM hosts WHERE host_no IN (SELECT host_no FROM {} WHERE {w} \
                 ORDER BY hostname, agent_id LIMIT {} OFFSET {}) ORDER BY hostname, agent_id",
                crate::search::hosts_from(c),
                f.limit.clamp(1, 10_000),
                f.offset
            );
            let args: Vec<&dyn ToParam> = args.iter().map(|v| v as &dyn ToParam).collect();
            c.query_map(&sql, &args, summary)
        })
    }

    fn count_hosts(&self, f: &HostFilter) -> Result<u64> {
        self.db.read(|c| {
            let mut args = Vec::new();
            let w = crate::search::host_where(c, f, &mut args)?;
            let args: Vec<&dyn ToParam> = args.iter().map(|v| v as &dyn ToParam).collect();
            let from = crate::search::hosts_from(c);
            c.query_value::<i64>(&format!("SELECT COUNT(*) FROM {from} WHERE {w}"), &args)
                .map(|n| n.max(0) as u64)
        })
    }

    fn software_versions(
        &self,
        name: &str,
        departments: Option<&[String]>,
        limit: u32,
    ) -> Result<Vec<SoftwareVersionCount>> {
        self.db
            .read(|c| crate::search::software_versions(c, name, departments, limit))
    }

    fn get_host(&self, agent_id: &str) -> Result<Option<HostDetail>> {
        self.db.read(|c| {
            let sql = format!(
                "SELECT {SUMMARY_COLS}, class_source, labels_json, machine_id, last_seq, inventory_pb, inventory_at_ms, \
                 software_pb, software_at_ms, patches_pb, patches_at_ms, health_pb, health_at_ms, probe_errors_json, \
                 facts_pb, facts_at_ms, retired_at_ms, revoked_at_ms FROM hosts WHERE agent_id = ?1"
            );
            c.query_row(&sql, params![agent_id], |r| {
                let what = |s: &str| format!("{s} of host {agent_id}");
                Ok(HostDetail {
                    summary: summary(r)?,
                    class_source: r.get(17)?,
                    labels: json_opt(&what("labels"), Some(r.get(18)?))?.unwrap_or_default(),
                    machine_id: r.get(19)?,
                    last_seq: r.get(20)?,
                    inventory: decode_json::<Inventory>(&what("inventory"), r.get(21)?)?,
                    inventory_at_ms: r.get(22)?,
                    software: decode_json::<SoftwareList>(&what("software"), r.get(23)?)?
                        .map(|v| v["packages"].clone()),
                    software_at_ms: r.get(24)?,
                    patches: decode_json::<PatchLevel>(&what("patches"), r.get(25)?)?,
                    patches_at_ms: r.get(26)?,
                    health: decode_json::<Health>(&what("health"), r.get(27)?)?,
                    health_at_ms: r.get(28)?,
                    probe_errors: json_opt(&what("probe errors"), Some(r.get(29)?))?
                        .unwrap_or_default(),
                    facts: decode_json::<tilsyn_proto::v1::Facts>(&what("facts"), r.get(30)?)?,
                    facts_at_ms: r.get(31)?,
                    retired_at_ms: r.get(32)?,
                    revoked_at_ms: r.get(33)?,
                })
            })
        })
    }

    fn health_history(
        &self,
        agent_id: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<HealthSample>> {
        let mut out = self.db.read(|c| {
            c.query_map(
                "SELECT seq, collected_at_ms, body FROM health_samples WHERE agent_id = ?1 AND collected_at_ms >= ?2 \
                 ORDER BY seq DESC LIMIT ?3",
                params![agent_id, since_ms, limit.clamp(1, 100_000)],
                |r| {
                    let seq: u64 = r.get(0)?;
                    Ok(HealthSample {
                        seq,
                        collected_at_ms: r.get(1)?,
                        health: decode_json::<Health>(
                            &format!("health sample {seq} of host {agent_id}"),
                            r.get(2)?,
                        )?
                        .unwrap_or_default(),
                    })
                },
            )
        })?;
        out.reverse();
        Ok(out)
    }

    fn mark_offline(&self, now_ms: i64) -> Result<Vec<WentOffline>> {
        self.mark_offline_impl(now_ms)
    }

    fn begin_run(&self, now_ms: i64) -> Result<(i64, Option<i64>)> {
        self.begin_run_impl(now_ms)
    }

    fn beat(&self, run_id: i64, now_ms: i64, stopped: bool) -> Result<()> {
        self.beat_impl(run_id, now_ms, stopped)
    }

    fn record_gap(
        &self,
        gap: &tilsyn_collector_core::absence::Gap,
        cause: tilsyn_collector_core::absence::Cause,
        missed_intervals: u32,
        catch_up: tilsyn_collector_core::absence::CatchUp,
    ) -> Result<GapRecord> {
        self.record_gap_impl(gap, cause, missed_intervals, catch_up)
    }

    fn collector_gaps(&self, since_ms: i64, due_by: Option<i64>) -> Result<Vec<GapRow>> {
        self.gaps_impl(since_ms, due_by)
    }

    fn settle_gap(&self, gap_id: i64, missed_intervals: u32, now_ms: i64) -> Result<u64> {
        self.settle_gap_impl(gap_id, missed_intervals, now_ms)
    }

    fn host_counts(&self) -> Result<Vec<HostCount>> {
        self.db.read(|c| {
            c.query_map(
                "SELECT department, class, os_family, state, COUNT(*), CAST(COALESCE(SUM(pending_updates), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(pending_security), 0) AS BIGINT), CAST(COALESCE(SUM(reboot_required), 0) AS BIGINT), \
                 MIN(oldest_security_since_ms) \
                 FROM hosts WHERE state <> 'retired' GROUP BY department, class, os_family, state ORDER BY department, class, os_family, state",
                &[],
                |r| {
                    Ok(HostCount {
                        department: r.get(0)?,
                        class: r.get(1)?,
                        os_family: r.get(2)?,
                        state: r.get(3)?,
                        hosts: r.get(4)?,
                        pending_updates: r.get(5)?,
                        pending_security_updates: r.get(6)?,
                        reboot_required: r.get(7)?,
                        oldest_security_update_since_ms: r.get(8)?,
                    })
                },
            )
        })
    }

    fn host_events(&self, agent_id: &str, limit: u32) -> Result<Vec<HostEvent>> {
        self.db.read(|c| {
            c.query_map(
                "SELECT agent_id, at_ms, kind FROM host_events WHERE agent_id = ?1 ORDER BY at_ms DESC LIMIT ?2",
                params![agent_id, limit.clamp(1, 10_000)],
                |r| {
                    Ok(HostEvent {
                        agent_id: r.get(0)?,
                        at_ms: r.get(1)?,
                        kind: r.get(2)?,
                    })
                },
            )
        })
    }

    fn prune_health(&self, before_ms: i64) -> Result<u64> {
        self.leader_write(|c| match c.engine() {
            crate::sql::Engine::Sqlite => c.execute(
                "DELETE FROM health_samples WHERE received_at_ms < ?1",
                params![before_ms],
            ),
            crate::sql::Engine::Postgres => crate::postgres::drop_partitions(
                c,
                crate::postgres::Partitioned::HealthSamples,
                before_ms,
            ),
        })
    }

    fn roll_up_health(&self, until_ms: i64) -> Result<u64> {
        self.roll_up_health_impl(until_ms)
    }

    fn health_rollups(
        &self,
        agent_id: &str,
        resolution_ms: i64,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<RollupView>> {
        self.health_rollups_impl(agent_id, resolution_ms, since_ms, limit)
    }

    fn prune_rollups(&self, resolution_ms: i64, before_ms: i64) -> Result<u64> {
        self.prune_rollups_impl(resolution_ms, before_ms)
    }

    fn compliance_inputs(
        &self,
        agent_id: Option<&str>,
        f: &mut dyn FnMut(HostInputs),
    ) -> Result<()> {
        self.compliance_inputs_impl(agent_id, f)
    }

    fn load_compliance(&self, f: &mut dyn FnMut(ComplianceRow)) -> Result<()> {
        self.db.read(|c| {
            c.query_each(
                "SELECT agent_id, standard_id, status, results_json, evaluated_at_ms FROM compliance",
                &[],
                &mut |r| {
                    f(compliance_row(r)?);
                    Ok(())
                },
            )
        })
    }

    fn save_compliance(
        &self,
        upserts: &[ComplianceRow],
        deletes: &[(String, String)],
    ) -> Result<()> {
        // Chunks keep each transaction short: ingest shares this writer. Deletes go with
        // the first chunk (or alone when nothing is upserted).
        let mut chunks: Vec<&[ComplianceRow]> = upserts.chunks(2000).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for (i, chunk) in chunks.into_iter().enumerate() {
            self.db.write(|tx| {
                for r in chunk {
                    tx.execute(
                        "INSERT INTO compliance (agent_id, standard_id, status, results_json, evaluated_at_ms) \
                         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (agent_id, standard_id) DO UPDATE SET \
                         status = excluded.status, results_json = excluded.results_json, evaluated_at_ms = excluded.evaluated_at_ms",
                        params![r.agent_id, r.standard_id, r.status, r.results_json, r.evaluated_at_ms],
                    )?;
                }
                for (a, s) in deletes.iter().filter(|_| i == 0) {
                    tx.execute(
                        "DELETE FROM compliance WHERE agent_id = ?1 AND standard_id = ?2",
                        params![a, s],
                    )?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    fn incident_hosts(
        &self,
        agent_id: Option<&str>,
        f: &mut dyn FnMut(IncidentHost),
    ) -> Result<()> {
        self.incident_hosts_impl(agent_id, f)
    }
    fn load_incident_state(&self) -> Result<IncidentState> {
        self.load_incident_state_impl()
    }
    fn save_incidents(&self, w: &IncidentWrite, now_ms: i64) -> Result<Vec<i64>> {
        self.save_incidents_impl(w, now_ms)
    }
    fn import_incidents(&self, rows: &[IncidentRow]) -> Result<()> {
        self.import_incidents_impl(rows)
    }
    fn outbox_due(&self, now_ms: i64, limit: u32) -> Result<Vec<OutboxItem>> {
        self.outbox_due_impl(now_ms, limit)
    }
    fn outbox_update(&self, u: &OutboxUpdate, now_ms: i64) -> Result<()> {
        self.outbox_update_impl(u, now_ms)
    }
    fn outbox_operator(&self, id: i64, retry: bool, now_ms: i64) -> Result<Option<OutboxItem>> {
        self.outbox_operator_impl(id, retry, now_ms)
    }
    fn outbox_list(
        &self,
        state: Option<&str>,
        subject: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OutboxItem>> {
        self.outbox_list_impl(state, subject, limit)
    }
    fn outbox_stats(&self) -> Result<Vec<OutboxStat>> {
        self.outbox_stats_impl()
    }
    fn ticket_of(&self, subject: &str) -> Result<Option<TicketRef>> {
        self.ticket_of_impl(subject)
    }
    fn read_back_due(
        &self,
        checked_before_ms: i64,
        opened_after_ms: i64,
        limit: u32,
    ) -> Result<Vec<(String, String, TicketRef)>> {
        self.read_back_due_impl(checked_before_ms, opened_after_ms, limit)
    }
    fn save_read_back(&self, subject: &str, st: Option<&TicketStatus>, now_ms: i64) -> Result<()> {
        self.save_read_back_impl(subject, st, now_ms)
    }
    fn list_incidents(&self, f: &IncidentFilter) -> Result<Vec<IncidentRow>> {
        self.list_incidents_impl(f)
    }
    fn get_incident(&self, id: i64) -> Result<Option<IncidentRow>> {
        self.get_incident_impl(id)
    }
    fn list_problems(&self, state: Option<&str>, limit: u32) -> Result<Vec<ProblemRow>> {
        self.list_problems_impl(state, limit)
    }
    fn sla_hosts(
        &self,
        f: &mut dyn FnMut(tilsyn_collector_core::sla::report::SlaHost),
    ) -> Result<()> {
        self.sla_hosts_impl(f)
    }
    fn sla_incidents(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(tilsyn_collector_core::sla::report::SlaIncident),
    ) -> Result<()> {
        self.sla_incidents_impl(from_ms, to_ms, f)
    }
    fn sla_unmonitored(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(tilsyn_collector_core::sla::report::SlaUnmonitored),
    ) -> Result<()> {
        self.sla_unmonitored_impl(from_ms, to_ms, f)
    }
    fn save_sla_snapshot(&self, month: &str, rows: &[(String, String)], at_ms: i64) -> Result<()> {
        self.save_sla_snapshot_impl(month, rows, at_ms)
    }
    fn sla_snapshots(&self, month: &str) -> Result<Vec<(String, String, i64)>> {
        self.sla_snapshots_impl(month)
    }
    fn lease(&self, name: &str, owner: &str, ttl_ms: i64) -> Result<Option<crate::Lease>> {
        self.lease_impl(name, owner, ttl_ms)
    }
    fn release_lease(&self, name: &str, owner: &str) -> Result<()> {
        self.release_lease_impl(name, owner)
    }
    fn fence(&self, lease: Option<crate::Lease>) {
        *self.fence.lock().expect("fence") = lease;
    }
    fn push_news(&self, items: &[(String, Vec<u8>)], now_ms: i64) -> Result<()> {
        self.push_news_impl(items, now_ms)
    }
    fn take_news(&self, limit: u32) -> Result<Vec<(String, Vec<u8>)>> {
        self.take_news_impl(limit)
    }

    fn section_changes_since(
        &self,
        since_ms: i64,
        limit: u32,
        except_origin: &str,
    ) -> Result<Vec<(i64, String, i64)>> {
        self.section_changes_since_impl(since_ms, limit, except_origin)
    }

    fn prune_section_changes(&self, before_ms: i64) -> Result<u64> {
        self.prune_section_changes_impl(before_ms)
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::{agent, batch, rep, stores};
    use crate::*;
    use tilsyn_proto::v1::report::Body;
    use tilsyn_proto::v1::{Health, Inventory, PatchLevel, ProbeError, SectionRef};

    #[test]
    fn resent_reports_are_no_ops() {
        for s in stores() {
            agent(&s, "a");
            let b = batch(
                "a",
                vec![
                    rep(1, Body::Health(Health::default())),
                    rep(2, Body::Health(Health::default())),
                ],
            );
            let o = s.ingest(std::slice::from_ref(&b), 10).unwrap();
            assert_eq!(o[0].committed_through, 2);
            assert!(o[0].came_online);
            let o = s.ingest(&[b], 20).unwrap();
            assert_eq!(o[0].duplicates, 2);
            assert_eq!(s.health_history("a", 0, 100).unwrap().len(), 2);
        }
    }

    #[test]
    fn sections_land_and_unknown_hashes_are_asked_for() {
        for s in stores() {
            agent(&s, "a");
            let inv = Inventory {
                content_hash: "h1".into(),
                hostname: "pc1".into(),
                ..Default::default()
            };
            let mut b = batch(
                "a",
                vec![
                    rep(1, Body::Inventory(inv)),
                    rep(
                        2,
                        Body::Patches(PatchLevel {
                            pending_count: 3,
                            pending_security_count: 1,
                            reboot_required: true,
                            ..Default::default()
                        }),
                    ),
                    rep(
                        3,
                        Body::Unchanged(SectionRef {
                            section: "inventory".into(),
                            content_hash: "h1".into(),
                        }),
                    ),
                    rep(
                        4,
                        Body::Unchanged(SectionRef {
                            section: "software".into(),
                            content_hash: "zz".into(),
                        }),
                    ),
                ],
            );
            b.class_from_inventory = Some("server".into());
            let o = s.ingest(&[b], 10).unwrap();
            assert_eq!(o[0].resend_sections, vec!["software"]);
            let h = s.get_host("a").unwrap().unwrap();
            assert_eq!(h.summary.class, "server");
            assert_eq!(h.summary.pending_updates, Some(3));
            assert_eq!(h.summary.reboot_required, Some(true));
            assert_eq!(h.inventory.unwrap()["hostname"], "pc1");
            // No class from the inventory keeps the class.
            let inv = Inventory {
                content_hash: "h2".into(),
                hostname: "pc1".into(),
                ..Default::default()
            };
            s.ingest(&[batch("a", vec![rep(5, Body::Inventory(inv))])], 20)
                .unwrap();
            assert_eq!(s.get_host("a").unwrap().unwrap().summary.class, "server");
        }
    }

    #[test]
    fn probe_errors_are_kept_until_the_probe_heals() {
        for s in stores() {
            agent(&s, "a");
            let mut r = rep(1, Body::Health(Health::default()));
            r.errors = vec![ProbeError {
                probe: "health".into(),
                message: "systemctl missing".into(),
            }];
            s.ingest(&[batch("a", vec![r])], 10).unwrap();
            let e = s.get_host("a").unwrap().unwrap().probe_errors;
            assert_eq!(e["health"]["messages"][0], "systemctl missing");
            s.ingest(
                &[batch("a", vec![rep(2, Body::Health(Health::default()))])],
                20,
            )
            .unwrap();
            assert!(s
                .get_host("a")
                .unwrap()
                .unwrap()
                .probe_errors
                .get("health")
                .is_none());
        }
    }

    #[test]
    fn offline_after_missed_intervals_and_back() {
        for s in stores() {
            agent(&s, "a");
            s.ingest(
                &[batch("a", vec![rep(1, Body::Health(Health::default()))])],
                1_000,
            )
            .unwrap();
            assert!(s.mark_offline(1_000 + 179_000).unwrap().is_empty());
            // Without a collector gap the offline time starts when it is marked.
            assert_eq!(
                s.mark_offline(1_000 + 181_000).unwrap(),
                vec![WentOffline {
                    agent_id: "a".into(),
                    since_ms: 182_000
                }]
            );
            assert_eq!(
                s.list_hosts(&HostFilter {
                    state: Some("offline".into()),
                    limit: 10,
                    ..Default::default()
                })
                .unwrap()
                .len(),
                1
            );
            let o = s
                .ingest(
                    &[batch("a", vec![rep(2, Body::Health(Health::default()))])],
                    300_000,
                )
                .unwrap();
            assert!(o[0].came_online);
            let kinds: Vec<String> = s
                .host_events("a", 10)
                .unwrap()
                .into_iter()
                .map(|e| e.kind)
                .collect();
            assert_eq!(kinds, vec!["online", "offline", "online", "enrolled"]);
        }
    }

    #[test]
    fn counts_and_pruning() {
        for s in stores() {
            agent(&s, "a");
            agent(&s, "b");
            s.ingest(
                &[batch(
                    "a",
                    vec![
                        rep(1, Body::Health(Health::default())),
                        rep(
                            2,
                            Body::Patches(PatchLevel {
                                pending_count: 4,
                                pending_security_count: 2,
                                reboot_required: true,
                                ..Default::default()
                            }),
                        ),
                    ],
                )],
                1_000,
            )
            .unwrap();
            let c = s.host_counts().unwrap();
            assert_eq!(c.iter().map(|c| c.hosts).sum::<i64>(), 2);
            assert_eq!(c.iter().map(|c| c.pending_updates).sum::<i64>(), 4);
            assert_eq!(c.iter().map(|c| c.reboot_required).sum::<i64>(), 1);
            if s.db.read(|c| Ok(c.engine())).unwrap() == crate::sql::Engine::Sqlite {
                assert_eq!(s.prune_health(2_000).unwrap(), 1);
            } else {
                // PostgreSQL drops the sample's day whole, once all of it is past.
                assert_eq!(s.prune_health(2_000).unwrap(), 0);
                assert_eq!(s.prune_health(86_400_000).unwrap(), 1);
            }
            assert!(s.health_history("a", 0, 10).unwrap().is_empty());
        }
    }

    #[test]
    fn compliance_rows_are_upserted_and_deleted() {
        for s in stores() {
            let row = |std: &str, status: &str| ComplianceRow {
                agent_id: "a".into(),
                standard_id: std.into(),
                status: status.into(),
                results_json: "[]".into(),
                evaluated_at_ms: 1,
            };
            s.save_compliance(&[row("s1", "compliant"), row("s2", "unknown")], &[])
                .unwrap();
            s.save_compliance(&[row("s1", "noncompliant")], &[("a".into(), "s2".into())])
                .unwrap();
            let mut rows = Vec::new();
            s.load_compliance(&mut |r| rows.push(r)).unwrap();
            assert_eq!(rows, vec![row("s1", "noncompliant")]);
            s.save_compliance(&[], &[("a".into(), "s1".into())])
                .unwrap();
            let mut n = 0;
            s.load_compliance(&mut |_| n += 1).unwrap();
            assert_eq!(n, 0);
        }
    }
}
