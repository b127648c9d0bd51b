//! The store's side of SLA reporting: hosts and incidents as the SLA sees them (with the
//! stretches a reopened incident was resolved in between, `incident_gaps`, written when
//! incidents are saved), the hosts' unmonitored time (`host_unmonitored`, written when a
//! collector gap's grace ends; read here only), and the departments' compliance figures
//! kept per month.

use crate::sql::params;
use crate::Result;
use crate::SqlStore;
use tilsyn_collector_core::sla::report::{SlaHost, SlaIncident, SlaMove, SlaUnmonitored};

impl SqlStore {
    pub(super) fn sla_hosts_impl(&self, f: &mut dyn FnMut(SlaHost)) -> Result<()> {
        self.db.read(|c| {
            // Few hosts ever move: their moves are read first and handed out with them.
            let mut moves: std::collections::HashMap<String, Vec<SlaMove>> = Default::default();
            c.query_each(
                "SELECT agent_id, at_ms, from_department, from_class FROM host_moves \
                 ORDER BY agent_id, at_ms",
                params![],
                &mut |r| {
                    moves.entry(r.get(0)?).or_default().push(SlaMove {
                        at_ms: r.get(1)?,
                        department: r.get(2)?,
                        class: r.get(3)?,
                    });
                    Ok(())
                },
            )?;
            c.query_each(
                "SELECT agent_id, hostname, department, class, labels_json, enrolled_at_ms, \
                 retired_at_ms FROM hosts",
                params![],
                &mut |r| {
                    let labels: String = r.get(4)?;
                    let agent_id: String = r.get(0)?;
                    f(SlaHost {
                        moves: moves.remove(&agent_id).unwrap_or_default(),
                        agent_id,
                        hostname: r.get(1)?,
                        department: r.get(2)?,
                        class: r.get(3)?,
                        labels: serde_json::from_str(&labels).unwrap_or_default(),
                        enrolled_at_ms: r.get(5)?,
                        retired_at_ms: r.get(6)?,
                    });
                    Ok(())
                },
            )
        })
    }

    pub(super) fn sla_incidents_impl(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(SlaIncident),
    ) -> Result<()> {
        self.db.read(|c| {
            let mut gaps: std::collections::HashMap<i64, Vec<(i64, i64)>> = Default::default();
            c.query_each(
                "SELECT g.incident_id, g.from_ms, g.to_ms FROM incident_gaps g \
                 JOIN incidents i ON i.id = g.incident_id \
                 WHERE i.opened_at_ms < ?2 AND (i.resolved_at_ms IS NULL OR i.resolved_at_ms >= ?1) \
                 ORDER BY g.incident_id, g.from_ms",
                params![from_ms, to_ms],
                &mut |r| {
                    gaps.entry(r.get(0)?)
                        .or_default()
                        .push((r.get(1)?, r.get(2)?));
                    Ok(())
                },
            )?;
            // An incident attached to a problem has no ticket of its own: people answer
            // the problem's, so its first response and ticket stand in.
            c.query_each(
                "SELECT i.id, i.agent_id, i.hostname, i.department, i.check_id, i.priority, \
                 i.opened_at_ms, i.resolved_at_ms, \
                 COALESCE(i.first_response_at_ms, p.first_response_at_ms), \
                 COALESCE(i.ticket_json, p.ticket_json), i.suppressed_by, i.problem_id \
                 FROM incidents i LEFT JOIN problems p ON p.id = i.problem_id \
                 WHERE i.opened_at_ms < ?2 AND (i.resolved_at_ms IS NULL OR i.resolved_at_ms >= ?1) \
                 ORDER BY i.id",
                params![from_ms, to_ms],
                &mut |r| {
                    let ticket: Option<String> = r.get(9)?;
                    let ticket = ticket.and_then(|t| serde_json::from_str(&t).ok());
                    let id: i64 = r.get(0)?;
                    f(SlaIncident {
                        gaps: gaps.remove(&id).unwrap_or_default(),
                        id,
                        agent_id: r.get(1)?,
                        hostname: r.get(2)?,
                        department: r.get(3)?,
                        check: r.get(4)?,
                        priority: r.get(5)?,
                        opened_at_ms: r.get(6)?,
                        resolved_at_ms: r.get(7)?,
                        first_response_at_ms: r.get(8)?,
                        suppressed_by: r.get(10)?,
                        problem_id: r.get(11)?,
                        ticket,
                    });
                    Ok(())
                },
            )
        })
    }

    pub(super) fn sla_unmonitored_impl(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(SlaUnmonitored),
    ) -> Result<()> {
        self.db.read(|c| {
            c.query_each(
                "SELECT agent_id, from_ms, to_ms FROM host_unmonitored \
                 WHERE to_ms > ?1 AND from_ms < ?2 AND from_ms < to_ms \
                 ORDER BY agent_id, from_ms, to_ms",
                params![from_ms, to_ms],
                &mut |r| {
                    f(SlaUnmonitored {
                        agent_id: r.get(0)?,
                        from_ms: r.get(1)?,
                        to_ms: r.get(2)?,
                    });
                    Ok(())
                },
            )
        })
    }

    pub(super) fn save_sla_snapshot_impl(
        &self,
        month: &str,
        rows: &[(String, String)],
        at_ms: i64,
    ) -> Result<()> {
        self.leader_write(|c| {
            for (dept, json) in rows {
                c.execute(
                    "INSERT INTO sla_snapshots (month, department, figures_json, at_ms) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (month, department) DO UPDATE SET figures_json = excluded.figures_json, at_ms = excluded.at_ms",
                    params![month, dept, json, at_ms],
                )?;
            }
            Ok(())
        })
    }

    pub(super) fn sla_snapshots_impl(&self, month: &str) -> Result<Vec<(String, String, i64)>> {
        self.db.read(|c| {
            c.query_map(
                "SELECT department, figures_json, at_ms FROM sla_snapshots WHERE month = ?1 ORDER BY department",
                params![month],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;
    use tilsyn_collector_core::incidents::records::{IncidentRow, IncidentWrite};

    fn row(state: &str, resolved: Option<i64>, updated: i64) -> IncidentRow {
        crate::tests::incident(7, "a", state, resolved, updated)
    }

    #[test]
    fn a_reopen_keeps_the_stretch_it_was_resolved() {
        for st in crate::tests::stores() {
            let st = &*st;
            let save = |r: IncidentRow| {
                st.save_incidents(
                    &IncidentWrite {
                        incidents: vec![r],
                        ..Default::default()
                    },
                    0,
                )
                .unwrap();
            };
            save(row("open", None, 1_000));
            save(row("open", None, 1_500)); // an update while open: no gap
            save(row("resolved", Some(2_000), 2_000));
            save(row("open", None, 3_000)); // reopened
            save(row("resolved", Some(4_000), 4_000));
            let mut seen = Vec::new();
            st.sla_incidents(0, 10_000, &mut |i| seen.push(i)).unwrap();
            assert_eq!(seen.len(), 1);
            assert_eq!(seen[0].gaps, vec![(2_000, 3_000)]);
            assert_eq!(seen[0].resolved_at_ms, Some(4_000));
            assert!(seen[0].raised(), "{}", st.describe());
        }
    }

    #[test]
    fn unmonitored_rows_overlapping_a_period() {
        for st in crate::tests::stores() {
            let st = &*st;
            st.raw(
                "INSERT INTO host_unmonitored (agent_id, from_ms, to_ms) VALUES \
                 ('b', 500, 1500), ('a', 2000, 3000), ('a', 900, 1000), ('a', 1000, 1200), \
                 ('a', 3000, 4000), ('c', 50, 100), ('c', 1100, 1100);",
            )
            .unwrap();
            let read = |from, to| {
                let mut seen = Vec::new();
                st.sla_unmonitored(from, to, &mut |u| {
                    seen.push((u.agent_id, u.from_ms, u.to_ms))
                })
                .unwrap();
                seen
            };
            // [1000, 3000): half-open on both sides — a row ending at 1000 or starting at
            // 3000 does not overlap; rows come by host and start, unclipped and unmerged; an
            // empty row is left out.
            assert_eq!(
                read(1000, 3000),
                vec![
                    ("a".to_string(), 1000, 1200),
                    ("a".to_string(), 2000, 3000),
                    ("b".to_string(), 500, 1500),
                ],
                "{}",
                st.describe()
            );
            assert_eq!(read(0, 60).len(), 1);
            assert_eq!(read(5000, 6000), vec![]);
        }
    }
}
