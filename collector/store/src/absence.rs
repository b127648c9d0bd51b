//! The store's side of the collector's own absence: its runs (a heartbeat each offline
//! tick), its gaps, the offline grace they give every watched host, and the hosts'
//! unmonitored time written once a gap's grace has ended. The rules are the core's
//! ([`tilsyn_collector_core::absence`]); this file only reads and writes rows.

use std::collections::HashMap;

use serde::Serialize;

use crate::sql::params;
use crate::Result;
use crate::SqlStore;
use tilsyn_collector_core::absence::{self as rules, CatchUp, Cause, Gap, Grace, Watched};

/// A recorded gap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GapRow {
    pub gap_id: i64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub cause: String,
    /// Watched hosts whose deadline moved (or, overdue before the gap, whose offline time
    /// was fixed at their deadline).
    pub graced_hosts: i64,
    /// When the last grace of the gap ends and its unmonitored time is written.
    pub settle_at_ms: i64,
    pub settled_at_ms: Option<i64>,
}

/// What recording a gap did to the hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GapRecord {
    pub gap_id: i64,
    /// Deadlines extended to the gap's end plus the host's allowance.
    pub extended: u64,
    /// Hosts already overdue when the gap began: offline at the next check, from their
    /// deadline.
    pub overdue: u64,
    pub settle_at_ms: i64,
}

/// A host marked offline, and where its offline time starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WentOffline {
    pub agent_id: String,
    pub since_ms: i64,
}

/// `health_interval_s` as stored (an INTEGER column) to the core's allowance.
fn allowance(interval_s: i64, missed: u32) -> i64 {
    rules::allowance_ms(interval_s.clamp(0, u32::MAX as i64) as u32, missed)
}

impl SqlStore {
    pub(super) fn begin_run_impl(&self, now_ms: i64) -> Result<(i64, Option<i64>)> {
        self.db.write(|c| {
            let last: Option<i64> = c.query_value(
                "SELECT MAX(COALESCE(stopped_ms, beat_ms)) FROM collector_runs",
                params![],
            )?;
            // A database from before the heartbeat (or whose runs were lost): the newest
            // committed report is the last moment the collector was certainly listening.
            let last = match last {
                Some(v) => Some(v),
                None => {
                    c.query_value::<Option<i64>>("SELECT MAX(last_seen_ms) FROM hosts", params![])?
                }
            };
            let run_id: i64 = c.query_value(
                "INSERT INTO collector_runs (started_ms, beat_ms) VALUES (?1, ?1) RETURNING run_id",
                params![now_ms],
            )?;
            Ok((run_id, last))
        })
    }

    pub(super) fn beat_impl(&self, run_id: i64, now_ms: i64, stopped: bool) -> Result<()> {
        let sql = if stopped {
            "UPDATE collector_runs SET beat_ms = ?2, stopped_ms = ?2 WHERE run_id = ?1"
        } else {
            "UPDATE collector_runs SET beat_ms = ?2 WHERE run_id = ?1"
        };
        self.db.write(|c| {
            c.execute(sql, params![run_id, now_ms])?;
            Ok(())
        })
    }

    pub(super) fn record_gap_impl(
        &self,
        gap: &Gap,
        cause: Cause,
        missed: u32,
        catch_up: CatchUp,
    ) -> Result<GapRecord> {
        self.leader_write(|c| {
            let mut out = GapRecord {
                settle_at_ms: gap.to_ms,
                ..Default::default()
            };
            // Only hosts whose deadline falls before the gap's end plus the longest
            // allowance can change; the index on (state, offline_after_ms) finds them.
            let longest: i64 = c.query_value(
                "SELECT COALESCE(MAX(health_interval_s), 0) FROM hosts WHERE state = 'online'",
                params![],
            )?;
            let horizon = catch_up.after(gap) + allowance(longest, missed);
            let hosts: Vec<(String, Option<i64>, i64, i64)> = c.query_map(
                "SELECT agent_id, last_seen_ms, offline_after_ms, health_interval_s FROM hosts \
                 WHERE state = 'online' AND offline_after_ms < ?1",
                params![horizon],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            for (id, last_seen_ms, deadline_ms, interval_s) in hosts {
                let h = Watched {
                    last_seen_ms: last_seen_ms.unwrap_or(deadline_ms),
                    deadline_ms,
                    allowance_ms: allowance(interval_s, missed),
                };
                match rules::grace(&h, gap, catch_up) {
                    Grace::Unchanged => {}
                    Grace::Extended {
                        deadline_ms,
                        offline_from_ms,
                    } => {
                        c.execute(
                            "UPDATE hosts SET offline_after_ms = ?2, offline_from_ms = COALESCE(offline_from_ms, ?3) \
                             WHERE agent_id = ?1",
                            params![id, deadline_ms, offline_from_ms],
                        )?;
                        out.extended += 1;
                        out.settle_at_ms = out.settle_at_ms.max(deadline_ms);
                    }
                    Grace::Overdue { offline_from_ms } => {
                        c.execute(
                            "UPDATE hosts SET offline_from_ms = COALESCE(offline_from_ms, ?2) WHERE agent_id = ?1",
                            params![id, offline_from_ms],
                        )?;
                        out.overdue += 1;
                    }
                }
            }
            out.gap_id = c.query_value(
                "INSERT INTO collector_gaps (from_ms, to_ms, cause, graced_hosts, settle_at_ms) VALUES (?1, ?2, ?3, ?4, ?5) \
                 RETURNING gap_id",
                params![gap.from_ms, gap.to_ms, cause.as_str(), (out.extended + out.overdue) as i64, out.settle_at_ms],
            )?;
            Ok(out)
        })
    }

    /// Gaps that ended at or after `since_ms`; with `due_by`, only those whose grace has
    /// ended by then and whose unmonitored time is not yet written.
    pub(super) fn gaps_impl(&self, since_ms: i64, due_by: Option<i64>) -> Result<Vec<GapRow>> {
        self.db.read(|c| {
            c.query_map(
                "SELECT gap_id, from_ms, to_ms, cause, graced_hosts, settle_at_ms, settled_at_ms FROM collector_gaps \
                 WHERE to_ms >= ?1 AND (CAST(?2 AS BIGINT) IS NULL OR (settled_at_ms IS NULL AND settle_at_ms <= ?2)) \
                 ORDER BY gap_id",
                params![since_ms, due_by],
                |r| {
                    Ok(GapRow {
                        gap_id: r.get(0)?,
                        from_ms: r.get(1)?,
                        to_ms: r.get(2)?,
                        cause: r.get(3)?,
                        graced_hosts: r.get(4)?,
                        settle_at_ms: r.get(5)?,
                        settled_at_ms: r.get(6)?,
                    })
                },
            )
        })
    }

    pub(super) fn settle_gap_impl(&self, gap_id: i64, missed: u32, now_ms: i64) -> Result<u64> {
        self.leader_write(|c| {
            let gap: Option<(i64, i64, Option<i64>)> = c.query_row(
                "SELECT from_ms, to_ms, settled_at_ms FROM collector_gaps WHERE gap_id = ?1",
                params![gap_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let Some((from_ms, to_ms, None)) = gap else {
                return Ok(0);
            };
            let gap = Gap { from_ms, to_ms };
            // The hosts being watched now (an offline host's own incident covers its time;
            // a new one has not reported yet), with their allowance.
            let mut hosts: HashMap<String, (i64, i64, Vec<i64>)> = HashMap::new();
            let mut longest = 0;
            c.query_each(
                "SELECT agent_id, enrolled_at_ms, health_interval_s FROM hosts WHERE state = 'online' AND enrolled_at_ms < ?1",
                params![to_ms],
                &mut |r| {
                    let a = allowance(r.get(2)?, missed);
                    longest = longest.max(a);
                    hosts.insert(r.get(0)?, (r.get(1)?, a, Vec::new()));
                    Ok(())
                },
            )?;
            // Samples collected from one allowance before the gap to its end; they were
            // received at the earliest one allowance before it (live) and the rest after
            // the return (spooled), so the received-time index bounds the scan.
            c.query_each(
                "SELECT agent_id, collected_at_ms FROM health_samples \
                 WHERE received_at_ms >= ?1 AND collected_at_ms >= ?1 AND collected_at_ms < ?2",
                params![from_ms - longest, to_ms],
                &mut |r| {
                    let id: String = r.get(0)?;
                    if let Some(h) = hosts.get_mut(&id) {
                        h.2.push(r.get(1)?);
                    }
                    Ok(())
                },
            )?;
            let mut n = 0;
            for (id, (enrolled_at_ms, allowance_ms, samples)) in &hosts {
                let spans = rules::uncovered(&gap, *enrolled_at_ms, samples, *allowance_ms);
                for (s, e) in &spans {
                    c.execute(
                        "INSERT INTO host_unmonitored (agent_id, from_ms, to_ms) VALUES (?1, ?2, ?3)",
                        params![id, s, e],
                    )?;
                }
                n += !spans.is_empty() as u64;
            }
            c.execute(
                "UPDATE collector_gaps SET settled_at_ms = ?2 WHERE gap_id = ?1",
                params![gap_id, now_ms],
            )?;
            Ok(n)
        })
    }

    pub(super) fn mark_offline_impl(&self, now_ms: i64) -> Result<Vec<WentOffline>> {
        self.leader_write(|c| {
            // Offline from the earlier of the fixed offline time and now (SQLite's
            // two-argument MIN is LEAST on PostgreSQL; CASE is both's; a NULL
            // offline_from_ms compares as unknown and falls to now).
            let gone: Vec<WentOffline> = c.query_map(
                "UPDATE hosts SET state = 'offline' WHERE state = 'online' AND offline_after_ms < ?1 \
                 RETURNING agent_id, CASE WHEN offline_from_ms < ?1 THEN offline_from_ms ELSE ?1 END",
                params![now_ms],
                |r| {
                    Ok(WentOffline {
                        agent_id: r.get(0)?,
                        since_ms: r.get(1)?,
                    })
                },
            )?;
            for g in &gone {
                c.execute(
                    "INSERT INTO host_events (agent_id, at_ms, kind) VALUES (?1, ?2, 'offline')",
                    params![g.agent_id, g.since_ms],
                )?;
            }
            Ok(gone)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::sql::params;
    use crate::tests::{agent, batch, stores};
    use crate::Store;
    use tilsyn_collector_core::absence::{CatchUp, Cause, Gap};
    use tilsyn_proto::v1::report::Body;
    use tilsyn_proto::v1::{Health, Report};

    const S: i64 = 1000;
    const AT_ONCE: CatchUp = CatchUp { reconnect_ms: 0 };

    fn health(seqs: &[(u64, i64)]) -> Vec<Report> {
        seqs.iter()
            .map(|&(seq, at)| Report {
                seq,
                collected_at_ms: at,
                errors: vec![],
                body: Some(Body::Health(Health::default())),
            })
            .collect()
    }

    /// Hosts report health every 60 s (allowance 180 s with 3 missed intervals); the
    /// collector is away from 1150 s to 1400 s.
    #[test]
    fn a_gap_graces_watched_hosts_and_leaves_what_no_sample_covers_unmonitored() {
        for s in stores() {
            let s = &*s;
            for id in ["a", "b", "c"] {
                agent(s, id);
            }
            s.ingest(&[batch("c", health(&[(1, 900 * S)]))], 900 * S)
                .unwrap();
            s.ingest(&[batch("a", health(&[(1, 1000 * S)]))], 1000 * S)
                .unwrap();
            s.ingest(&[batch("b", health(&[(1, 1100 * S)]))], 1100 * S)
                .unwrap();
            // No run recorded yet: the newest report is the last sign of life.
            let (run, last) = s.begin_run(1400 * S).unwrap();
            assert_eq!(last, Some(1100 * S));
            s.beat(run, 1410 * S, true).unwrap();
            assert_eq!(s.begin_run(1500 * S).unwrap().1, Some(1410 * S));

            let gap = Gap {
                from_ms: 1150 * S,
                to_ms: 1400 * S,
            };
            let r = s.record_gap(&gap, Cause::Down, 3, AT_ONCE).unwrap();
            // a (deadline 1180 s) and b (1280 s) are extended to 1400 + 180 s; c was overdue
            // (deadline 1080 s) before the gap began.
            assert_eq!((r.extended, r.overdue, r.settle_at_ms), (2, 1, 1580 * S));
            let gone = s.mark_offline(1401 * S).unwrap();
            assert_eq!(gone.len(), 1);
            assert_eq!(
                (gone[0].agent_id.as_str(), gone[0].since_ms),
                ("c", 1080 * S)
            );

            // b's agent spooled health until 1250 s and delivers it after the return.
            let spooled = health(&[(2, 1160 * S), (3, 1220 * S), (4, 1250 * S)]);
            s.ingest(&[batch("b", spooled)], 1405 * S).unwrap();
            // a never reports again: offline when its grace ends, from its last report.
            assert!(s.mark_offline(1580 * S).unwrap().is_empty());
            let gone = s.mark_offline(1581 * S).unwrap();
            assert_eq!(gone.len(), 1);
            assert_eq!(
                (gone[0].agent_id.as_str(), gone[0].since_ms),
                ("a", 1000 * S)
            );
            let ev = s.host_events("a", 10).unwrap();
            assert!(
                ev.iter()
                    .any(|e| e.kind == "offline" && e.at_ms == 1000 * S),
                "{ev:?}"
            );

            // Not due before the grace ends; then b's uncovered part (from its last spooled
            // sample + 180 s = 1430 s: none inside the gap) — b is fully covered.
            assert!(s.collector_gaps(0, Some(1579 * S)).unwrap().is_empty());
            let due = s.collector_gaps(0, Some(1580 * S)).unwrap();
            assert_eq!(due.len(), 1);
            assert_eq!(s.settle_gap(due[0].gap_id, 3, 1600 * S).unwrap(), 0);
            assert!(
                s.collector_gaps(0, Some(1700 * S)).unwrap().is_empty(),
                "settled once"
            );
            let all = s.collector_gaps(0, None).unwrap();
            assert_eq!((all[0].cause.as_str(), all[0].graced_hosts), ("down", 3));
            assert_eq!(all[0].settled_at_ms, Some(1600 * S));

            // A second gap that b's spool does not cover: 1700–2000 s, b's last sample
            // 1250 s... it reports at 1650 s live, then spools only one sample at 1900 s.
            s.ingest(&[batch("b", health(&[(5, 1650 * S)]))], 1650 * S)
                .unwrap();
            let gap = Gap {
                from_ms: 1700 * S,
                to_ms: 2000 * S,
            };
            s.record_gap(&gap, Cause::Paused, 3, AT_ONCE).unwrap();
            s.ingest(&[batch("b", health(&[(6, 1900 * S)]))], 2001 * S)
                .unwrap();
            let due = s.collector_gaps(1700 * S, Some(2200 * S)).unwrap();
            assert_eq!(s.settle_gap(due[0].gap_id, 3, 2200 * S).unwrap(), 1);
            let rows: Vec<(String, i64, i64)> =
                s.db.read(|c| {
                    c.query_map(
                        "SELECT agent_id, from_ms, to_ms FROM host_unmonitored ORDER BY from_ms",
                        params![],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                })
                .unwrap();
            // 1650 s covers to 1830 s; 1900 s covers past the gap's end: 1830–1900 s unmonitored.
            assert_eq!(
                rows,
                vec![("b".to_string(), 1830 * S, 1900 * S)],
                "{}",
                s.describe()
            );
        }
    }
}
