//! Moving a site's data between engines (`tilsyn-collector store migrate --to postgres`):
//! every table copied row by row into an empty database at the same schema version, ids
//! kept (so open tickets stay linked to their incidents and the outbox's keys hold), the
//! identity counters moved past them, the host search tables rebuilt from the copied
//! sections (derived data: faster to build in bulk than to copy row by row), then checked:
//! each table's row count, and the figures users see (host counts, incidents, outbox)
//! read back equal through the store.

use crate::sql::{Conn, Engine, Row, ToParam};
use crate::{Result, SqlStore, Store, StoreError};

/// Every table, parents before children (nothing references across tables by key, but
/// this is the order a reader would expect). Not the leader lease, the incident news and
/// the section changes of several collectors: a moved site starts with none of them (the
/// copied compliance rows are current). Not the search tables (`search.sql`): rebuilt.
const TABLES: &[&str] = &[
    "hosts",
    "host_events",
    "health_samples",
    "compliance",
    "incident_tracks",
    "incidents",
    "problems",
    "incident_gaps",
    "outbox",
    "sla_snapshots",
    "collector_runs",
    "collector_gaps",
    "host_unmonitored",
    "health_rollups",
    "rollup_progress",
    "api_tokens",
    "audit",
    "change_windows",
    "host_moves",
    "api_waivers",
];

/// Tables whose id the database generates: (table, column).
const IDENTITIES: &[(&str, &str)] = &[
    ("hosts", "host_no"),
    ("outbox", "id"),
    ("collector_runs", "run_id"),
    ("collector_gaps", "gap_id"),
    ("audit", "seq"),
];

/// Rows written per transaction.
const CHUNK: usize = 2000;

/// What a copy moved: (table, rows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(String, u64)>,
}

fn columns(c: &dyn Conn, table: &str) -> Result<Vec<String>> {
    let sql = match c.engine() {
        Engine::Sqlite => "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        Engine::Postgres => {
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position"
        }
    };
    c.query_map(sql, crate::sql::params![table], |r| r.get(0))
}

fn count(s: &SqlStore, table: &str) -> Result<u64> {
    s.db.read(|c| c.query_value::<i64>(&format!("SELECT COUNT(*) FROM {table}"), &[]))
        .map(|n| n.max(0) as u64)
}

/// Copies everything in `from` into `to`, which must hold no hosts, incidents or outbox
/// items yet; `progress` hears each table as it is done. Both stores must be at the same
/// schema version (opening them migrates both to this collector's).
pub fn copy_store(
    from: &SqlStore,
    to: &SqlStore,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<CopyReport> {
    let (fv, tv) = (from.schema_version()?, to.schema_version()?);
    if fv != tv {
        return Err(StoreError::Db(format!(
            "{} is at schema version {fv} and {} at {tv}: open both with this collector first",
            from.describe(),
            to.describe()
        )));
    }
    for t in ["hosts", "incidents", "outbox"] {
        let n = count(to, t)?;
        if n > 0 {
            return Err(StoreError::Db(format!(
                "{} already holds {n} rows in {t}: copy into an empty database",
                to.describe()
            )));
        }
    }
    let mut report = CopyReport::default();
    for &table in TABLES {
        let cols = to.db.read(|c| columns(c, table))?;
        if cols.is_empty() {
            return Err(StoreError::Db(format!(
                "{} has no table {table}",
                to.describe()
            )));
        }
        let list = cols.join(", ");
        let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({list}) VALUES ({})",
            placeholders.join(", ")
        );
        // The tables that are always there but may be empty (rollup_progress' single row).
        to.db
            .write(|c| c.execute(&format!("DELETE FROM {table}"), &[]))?;
        let mut pending: Vec<Row> = Vec::with_capacity(CHUNK);
        let mut n = 0u64;
        // PostgreSQL keeps the samples and rollups in time partitions: made first.
        let at = |name: &str| cols.iter().position(|c| c == name);
        let partition_key: Option<(Option<usize>, usize)> = match table {
            "health_rollups" => at("bucket_start_ms").map(|t| (at("resolution_s"), t)),
            "health_samples" => at("received_at_ms").map(|t| (None, t)),
            _ => None,
        };
        let flush = |rows: &mut Vec<Row>| -> Result<()> {
            to.db.write(|c| {
                if let (Engine::Postgres, Some((res, time))) = (c.engine(), partition_key) {
                    let mut parts = std::collections::HashSet::new();
                    for r in rows.iter() {
                        let p = match res {
                            Some(res) => crate::postgres::Partitioned::Rollups(r.get::<i64>(res)?),
                            None => crate::postgres::Partitioned::HealthSamples,
                        };
                        parts.insert((p, p.start_of(r.get::<i64>(time)?)));
                    }
                    for (p, t) in parts {
                        crate::postgres::ensure_partition(c, p, t)?;
                    }
                }
                for r in rows.iter() {
                    let args: Vec<&dyn ToParam> =
                        r.values.iter().map(|v| v as &dyn ToParam).collect();
                    c.execute(&insert, &args)?;
                }
                Ok(())
            })?;
            rows.clear();
            Ok(())
        };
        from.db
            .read(|c| {
                c.query_each(&format!("SELECT {list} FROM {table}"), &[], &mut |r| {
                    pending.push(r.clone());
                    n += 1;
                    if pending.len() >= CHUNK {
                        flush(&mut pending)?;
                    }
                    Ok(())
                })
            })
            .map_err(|e| StoreError::Db(format!("copying {table}: {e}")))?;
        flush(&mut pending).map_err(|e| StoreError::Db(format!("copying {table}: {e}")))?;
        progress(table, n);
        report.tables.push((table.to_string(), n));
    }
    // The search rows from the copied sections; their counts are checked against the
    // source's below.
    for (table, n) in to.db.write(crate::search::rebuild)? {
        progress(table, n);
        report.tables.push((table.to_string(), n));
    }
    if to.db.read(|c| Ok(c.engine()))? == Engine::Postgres {
        to.db.write(|c| {
            for (table, col) in IDENTITIES {
                c.query_value::<crate::sql::Value>(
                    &format!(
                        "SELECT CAST(setval(pg_get_serial_sequence('{table}', '{col}'), \
                         COALESCE(MAX({col}), 0) + 1, false) AS TEXT) FROM {table}"
                    ),
                    &[],
                )?;
            }
            Ok(())
        })?;
    }
    verify(from, to, &report)?;
    Ok(report)
}

/// The copy holds what the source holds: every table's count, and what users read.
fn verify(from: &SqlStore, to: &SqlStore, report: &CopyReport) -> Result<()> {
    let differ = |what: &str| {
        StoreError::Db(format!(
            "after copying, {what} differ between {} and {}",
            from.describe(),
            to.describe()
        ))
    };
    for (table, n) in &report.tables {
        if count(to, table)? != *n || count(from, table)? != *n {
            return Err(differ(&format!("the rows of {table}")));
        }
    }
    if from.host_counts()? != to.host_counts()? {
        return Err(differ("the host counts"));
    }
    // The newest 10,000 of each, as the API lists them (the counts above cover the rest).
    let all = crate::IncidentFilter {
        limit: Some(10_000),
        ..Default::default()
    };
    if from.list_incidents(&all)? != to.list_incidents(&all)? {
        return Err(differ("the incidents"));
    }
    if from.list_problems(None, 10_000)? != to.list_problems(None, 10_000)? {
        return Err(differ("the problems"));
    }
    if from.outbox_list(None, None, 10_000)? != to.outbox_list(None, None, 10_000)? {
        return Err(differ("the outbox items"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{agent, batch, incident, rep};
    use crate::*;
    use tilsyn_collector_core::absence::{CatchUp, Cause, Gap};
    use tilsyn_proto::v1::report::Body;
    use tilsyn_proto::v1::{Health, Inventory, PatchLevel};

    /// A small site with a bit of everything.
    fn populate(s: &SqlStore) {
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            agent(s, id);
            let inv = Inventory {
                content_hash: format!("h{i}"),
                hostname: format!("pc-{id}"),
                ..Default::default()
            };
            let mut reports = vec![
                rep(1, Body::Inventory(inv)),
                rep(
                    2,
                    Body::Patches(PatchLevel {
                        pending_count: i as u32 * 2,
                        pending_security_count: i as u32,
                        reboot_required: i == 1,
                        ..Default::default()
                    }),
                ),
            ];
            for seq in 3..20 {
                reports.push(rep(
                    seq,
                    Body::Health(Health {
                        cpu_usage_ratio: seq as f64 / 40.0,
                        ..Default::default()
                    }),
                ));
            }
            reports.push(rep(
                20,
                crate::search::tests::software(&[
                    ("Mozilla Firefox (x64 en-US)", "115.17.0esr"),
                    ("7-Zip 24.08 (x64)", &format!("24.0{i}")),
                ]),
            ));
            reports.push(rep(
                21,
                crate::search::tests::patches(&[("openssl", i == 2), ("curl", false)]),
            ));
            s.ingest(&[batch(id, reports)], 20_000).unwrap();
        }
        s.roll_up_health(30_000).unwrap();
        s.mark_offline(10_000_000).unwrap();
        s.save_compliance(
            &[ComplianceRow {
                agent_id: "a".into(),
                standard_id: "cis".into(),
                status: "noncompliant".into(),
                results_json: r#"[{"rule":"fw","state":"fail"}]"#.into(),
                evaluated_at_ms: 5,
            }],
            &[],
        )
        .unwrap();
        let (run, _) = s.begin_run(10_000_100).unwrap();
        s.beat(run, 10_000_200, false).unwrap();
        let gap = Gap {
            from_ms: 9_000_000,
            to_ms: 9_500_000,
        };
        s.record_gap(&gap, Cause::Down, 3, CatchUp { reconnect_ms: 0 })
            .unwrap();
        for (w, at) in [
            (incident(1, "a", "open", None, 2_000), 2_000),
            (incident(1, "a", "resolved", Some(3_000), 3_000), 3_000),
            (incident(1, "a", "open", None, 4_000), 4_000),
            (incident(2, "b", "open", None, 5_000), 5_000),
        ] {
            s.save_incidents(
                &IncidentWrite {
                    incidents: vec![w],
                    tracks: vec![TrackRow {
                        key: format!("k{at}"),
                        agent_id: "a".into(),
                        check: "offline".into(),
                        track_json: "{}".into(),
                        incident_id: Some(1),
                    }],
                    outbox: vec![NewOutbox {
                        desk: "file".into(),
                        subject: "incident:1".into(),
                        action: "create".into(),
                        payload: format!("{{\"at\":{at}}}"),
                    }],
                    ..Default::default()
                },
                at,
            )
            .unwrap();
        }
        let ticket = TicketRef {
            id: "T-1".into(),
            number: Some("INC-1".into()),
            url: None,
        };
        s.outbox_update(
            &OutboxUpdate::Done {
                id: 1,
                ticket: Some(("incident:1".into(), ticket)),
            },
            6_000,
        )
        .unwrap();
        s.save_sla_snapshot("2026-11", &[("social".into(), "{\"a\":1}".into())], 7_000)
            .unwrap();
    }

    /// Everything users read from a store, as text to compare.
    fn answers(s: &SqlStore) -> Vec<String> {
        let mut out = vec![
            format!(
                "{:?}",
                s.list_hosts(&HostFilter {
                    limit: 100,
                    ..Default::default()
                })
                .unwrap()
            ),
            format!("{:?}", s.host_counts().unwrap()),
            format!(
                "{:?}",
                s.list_incidents(&IncidentFilter::default()).unwrap()
            ),
            format!("{:?}", s.list_problems(None, 100).unwrap()),
            format!("{:?}", s.outbox_list(None, None, 100).unwrap()),
            format!("{:?}", s.ticket_of("incident:1").unwrap()),
            format!("{:?}", s.collector_gaps(0, None).unwrap()),
            format!("{:?}", s.sla_snapshots("2026-11").unwrap()),
        ];
        for id in ["a", "b", "c"] {
            out.push(serde_json::to_string(&s.get_host(id).unwrap()).unwrap());
            out.push(serde_json::to_string(&s.health_history(id, 0, 100).unwrap()).unwrap());
            out.push(format!(
                "{:?}",
                s.health_rollups(id, 300_000, 0, 100).unwrap()
            ));
            out.push(format!("{:?}", s.host_events(id, 100).unwrap()));
        }
        // What the host search finds (rebuilt in the copy from the copied sections).
        for f in [
            HostFilter {
                software: Some("7-zip".into()),
                software_version: Some("24.01".into()),
                ..Default::default()
            },
            HostFilter {
                update: Some("openssl".into()),
                security_only: true,
                ..Default::default()
            },
            HostFilter {
                text: Some("pc-".into()),
                ..Default::default()
            },
        ] {
            let f = HostFilter { limit: 100, ..f };
            out.push(format!(
                "{:?} {}",
                s.list_hosts(&f).unwrap(),
                s.count_hosts(&f).unwrap()
            ));
        }
        out.push(format!(
            "{:?}",
            s.software_versions("zip", None, 100).unwrap()
        ));
        let mut stats = s.outbox_stats().unwrap();
        stats.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        out.push(format!("{stats:?}"));
        let mut compliance = Vec::new();
        s.load_compliance(&mut |r| compliance.push(r)).unwrap();
        out.push(format!("{compliance:?}"));
        let mut sla = Vec::new();
        s.sla_incidents(0, i64::MAX / 2, &mut |i| sla.push(format!("{i:?}")))
            .unwrap();
        out.push(sla.join("\n"));
        out
    }

    #[test]
    fn a_sqlite_site_moves_to_postgresql_with_everything_users_see() {
        let d = tempfile::tempdir().unwrap();
        let from = crate::sqlite::open(&d.path().join("site.db")).unwrap();
        populate(&from);
        let pg = crate::pg_server::shared().unwrap();
        let to = crate::postgres::open(&pg.new_database().unwrap()).unwrap();
        let mut seen = Vec::new();
        let report = copy_store(&from, &to, &mut |t, n| seen.push((t.to_string(), n))).unwrap();
        assert_eq!(seen.len(), TABLES.len() + crate::search::TABLES.len());
        let rows = |t: &str| report.tables.iter().find(|(n, _)| n == t).unwrap().1;
        assert_eq!(rows("hosts"), 3);
        assert_eq!(rows("health_samples"), 51);
        assert_eq!(rows("outbox"), 4);
        assert!(rows("health_rollups") > 0 && rows("incident_gaps") == 1);
        assert_eq!(rows("host_software"), 6);
        assert_eq!(rows("host_updates"), 6);
        // Each host's hostname and fqdn (pc-<id>; the fixture's inventory has no fqdn).
        assert_eq!(rows("host_idents"), 3);
        let found = answers(&from);
        assert!(
            found
                .iter()
                .any(|x| x.contains("24.01") && x.contains("\"pc-b\"")),
            "{found:?}"
        );
        let (a, b) = (answers(&from), answers(&to));
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y);
        }
        // New hosts are numbered after the copied ones.
        crate::search::tests::enroll(&to, "d", "social", "pc-d");
        let d = HostFilter {
            text: Some("pc-d".into()),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(to.list_hosts(&d).unwrap().len(), 1);
        // Ids continue after the copied ones.
        let ids = to
            .save_incidents(
                &IncidentWrite {
                    outbox: vec![NewOutbox {
                        desk: "file".into(),
                        subject: "incident:2".into(),
                        action: "update".into(),
                        payload: "{}".into(),
                    }],
                    ..Default::default()
                },
                8_000,
            )
            .unwrap();
        assert_eq!(ids, vec![5]);
        let (run, _) = to.begin_run(10_000_300).unwrap();
        assert_eq!(run, 2);
        // A second copy into the same database is refused.
        let e = copy_store(&from, &to, &mut |_, _| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty database"), "{e}");
    }
}
