//! SQLite side of SLA reporting: hosts and incidents as the SLA sees them, and the
//! departments' compliance figures kept per month.

use rusqlite::params;

use super::sqlite::{db, SqliteStore};
use super::Result;
use crate::sla::report::{SlaHost, SlaIncident};

pub(super) const SCHEMA_V4: &str = "
CREATE TABLE IF NOT EXISTS sla_snapshots (
    month TEXT NOT NULL,
    department TEXT NOT NULL,
    figures_json TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (month, department)
);
";

impl SqliteStore {
    pub(super) fn sla_hosts_impl(&self, f: &mut dyn FnMut(SlaHost)) -> Result<()> {
        self.read(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT agent_id, hostname, department, class, labels_json, enrolled_at_ms FROM hosts",
                )
                .map_err(db)?;
            let mut rows = st.query([]).map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                let labels: String = r.get(4).map_err(db)?;
                f(SlaHost {
                    agent_id: r.get(0).map_err(db)?,
                    hostname: r.get(1).map_err(db)?,
                    department: r.get(2).map_err(db)?,
                    class: r.get(3).map_err(db)?,
                    labels: serde_json::from_str(&labels).unwrap_or_default(),
                    enrolled_at_ms: r.get(5).map_err(db)?,
                });
            }
            Ok(())
        })
    }

    pub(super) fn sla_incidents_impl(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(SlaIncident),
    ) -> Result<()> {
        self.read(|c| {
            // An incident attached to a problem has no ticket of its own: people answer
            // the problem's, so its first response and ticket stand in.
            let mut st = c
                .prepare_cached(
                    "SELECT i.id, i.agent_id, i.hostname, i.department, i.check_id, i.priority, \
                     i.opened_at_ms, i.resolved_at_ms, \
                     COALESCE(i.first_response_at_ms, p.first_response_at_ms), \
                     COALESCE(i.ticket_json, p.ticket_json), i.suppressed_by, i.problem_id \
                     FROM incidents i LEFT JOIN problems p ON p.id = i.problem_id \
                     WHERE i.opened_at_ms < ?2 AND (i.resolved_at_ms IS NULL OR i.resolved_at_ms >= ?1) \
                     ORDER BY i.id",
                )
                .map_err(db)?;
            let mut rows = st.query(params![from_ms, to_ms]).map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                let ticket: Option<String> = r.get(9).map_err(db)?;
                let ticket = ticket.and_then(|t| serde_json::from_str(&t).ok());
                let suppressed: Option<String> = r.get(10).map_err(db)?;
                let problem: Option<i64> = r.get(11).map_err(db)?;
                f(SlaIncident {
                    id: r.get(0).map_err(db)?,
                    agent_id: r.get(1).map_err(db)?,
                    hostname: r.get(2).map_err(db)?,
                    department: r.get(3).map_err(db)?,
                    check: r.get(4).map_err(db)?,
                    priority: r.get(5).map_err(db)?,
                    opened_at_ms: r.get(6).map_err(db)?,
                    resolved_at_ms: r.get(7).map_err(db)?,
                    first_response_at_ms: r.get(8).map_err(db)?,
                    // Recorded inside maintenance and never ticketed: not raised.
                    raised: ticket.is_some() || problem.is_some() || suppressed.is_none(),
                    ticket,
                });
            }
            Ok(())
        })
    }

    pub(super) fn save_sla_snapshot_impl(
        &self,
        month: &str,
        rows: &[(String, String)],
        at_ms: i64,
    ) -> Result<()> {
        let mut c = self.writer.lock().expect("writer");
        let tx = c.transaction().map_err(db)?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO sla_snapshots (month, department, figures_json, at_ms) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (month, department) DO UPDATE SET figures_json = excluded.figures_json, at_ms = excluded.at_ms",
                )
                .map_err(db)?;
            for (dept, json) in rows {
                st.execute(params![month, dept, json, at_ms]).map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    pub(super) fn sla_snapshots_impl(&self, month: &str) -> Result<Vec<(String, String, i64)>> {
        self.read(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT department, figures_json, at_ms FROM sla_snapshots WHERE month = ?1 ORDER BY department",
                )
                .map_err(db)?;
            let rows = st
                .query_map([month], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(db)?;
            rows.collect::<std::result::Result<Vec<_>, _>>().map_err(db)
        })
    }
}
