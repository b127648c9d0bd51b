//! Incidents, problems, tracks and the outbox, written once for every engine.

use crate::sql::{params, Row};
use crate::{Result, SqlStore, StoreError};
use tilsyn_collector_core::incidents::records::*;
use tilsyn_collector_core::incidents::ticket::{TicketRef, TicketStatus};

const INCIDENT_COLS: &str = "id, key, agent_id, hostname, department, class, check_id, severity, impact, priority, \
    title, detail, state, flapping, reopened, opened_at_ms, resolved_at_ms, suppressed_by, problem_id, desk, \
    ticket_json, first_response_at_ms, desk_resolved_at_ms, desk_state, desk_checked_at_ms, updated_at_ms";
const PROBLEM_COLS: &str = "id, key, check_id, scope, state, priority, title, opened_at_ms, resolved_at_ms, hosts, desk, \
    ticket_json, first_response_at_ms, desk_resolved_at_ms, desk_state, desk_checked_at_ms, updated_at_ms";
const OUTBOX_COLS: &str = "id, desk, subject, action, payload, state, attempts, next_at_ms, last_error, created_at_ms, done_at_ms";

fn ticket_of(s: Option<String>) -> Option<TicketRef> {
    // Written by us; an unreadable value is treated as "no ticket yet" (the outbox's
    // search by key recovers it) rather than failing every read.
    s.and_then(|s| serde_json::from_str(&s).ok())
}

fn desk_side(r: &Row, at: usize) -> Result<DeskSide> {
    Ok(DeskSide {
        ticket: ticket_of(r.get(at)?),
        first_response_at_ms: r.get(at + 1)?,
        desk_resolved_at_ms: r.get(at + 2)?,
        desk_state: r.get(at + 3)?,
        desk_checked_at_ms: r.get(at + 4)?,
    })
}

fn incident(r: &Row) -> Result<IncidentRow> {
    Ok(IncidentRow {
        id: r.get(0)?,
        key: r.get(1)?,
        agent_id: r.get(2)?,
        hostname: r.get(3)?,
        department: r.get(4)?,
        class: r.get(5)?,
        check: r.get(6)?,
        severity: r.get(7)?,
        impact: r.get(8)?,
        priority: r.get(9)?,
        title: r.get(10)?,
        detail: r.get(11)?,
        state: r.get(12)?,
        flapping: r.get(13)?,
        reopened: r.get(14)?,
        opened_at_ms: r.get(15)?,
        resolved_at_ms: r.get(16)?,
        suppressed_by: r.get(17)?,
        problem_id: r.get(18)?,
        desk: r.get(19)?,
        desk_side: desk_side(r, 20)?,
        updated_at_ms: r.get(25)?,
    })
}

fn problem(r: &Row) -> Result<ProblemRow> {
    Ok(ProblemRow {
        id: r.get(0)?,
        key: r.get(1)?,
        check: r.get(2)?,
        scope: r.get(3)?,
        state: r.get(4)?,
        priority: r.get(5)?,
        title: r.get(6)?,
        opened_at_ms: r.get(7)?,
        resolved_at_ms: r.get(8)?,
        hosts: r.get(9)?,
        desk: r.get(10)?,
        desk_side: desk_side(r, 11)?,
        updated_at_ms: r.get(16)?,
    })
}

fn outbox(r: &Row) -> Result<OutboxItem> {
    Ok(OutboxItem {
        id: r.get(0)?,
        desk: r.get(1)?,
        subject: r.get(2)?,
        action: r.get(3)?,
        payload: r.get(4)?,
        state: r.get(5)?,
        attempts: r.get(6)?,
        next_at_ms: r.get(7)?,
        last_error: r.get(8)?,
        created_at_ms: r.get(9)?,
        done_at_ms: r.get(10)?,
    })
}

/// `incident:<id>` / `problem:<id>` → (table, id).
fn subject(s: &str) -> Result<(&'static str, i64)> {
    let bad = || StoreError::Db(format!("unknown outbox subject {s:?}"));
    let (kind, id) = s.split_once(':').ok_or_else(bad)?;
    let id: i64 = id.parse().map_err(|_| bad())?;
    match kind {
        "incident" => Ok(("incidents", id)),
        "problem" => Ok(("problems", id)),
        _ => Err(bad()),
    }
}

impl SqlStore {
    pub(super) fn incident_hosts_impl(
        &self,
        agent_id: Option<&str>,
        f: &mut dyn FnMut(IncidentHost),
    ) -> Result<()> {
        self.db.read(|c| {
            // Retired hosts raise nothing. Two statements, not `?1 IS NULL OR agent_id = ?1`: SQLite cannot use the
            // primary key for that and would scan every host (with its blobs) per report.
            const COLS: &str =
                "SELECT agent_id, hostname, department, class, labels_json, state, health_pb, \
                 patches_pb, probe_errors_json FROM hosts";
            let mut each = |r: &Row| -> Result<()> {
                let id: String = r.get(0)?;
                let what = |s: &str| format!("{s} of host {id}");
                let labels: String = r.get(4)?;
                let errors: String = r.get(8)?;
                let errors: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&errors).unwrap_or_default();
                f(IncidentHost {
                    agent_id: id.clone(),
                    hostname: r.get(1)?,
                    department: r.get(2)?,
                    class: r.get(3)?,
                    labels: serde_json::from_str(&labels).unwrap_or_default(),
                    offline: r.get::<String>(5)? == "offline",
                    health: crate::hosts::decode(&what("health"), r.get(6)?)?,
                    patches: crate::hosts::decode(&what("patches"), r.get(7)?)?,
                    probe_errors: errors.keys().cloned().collect(),
                });
                Ok(())
            };
            match agent_id {
                Some(a) => c.query_each(
                    &format!("{COLS} WHERE state <> 'retired' AND agent_id = ?1"),
                    params![a],
                    &mut each,
                ),
                None => c.query_each(
                    &format!("{COLS} WHERE state <> 'retired'"),
                    params![],
                    &mut each,
                ),
            }
        })
    }

    pub(super) fn load_incident_state_impl(&self) -> Result<crate::IncidentState> {
        self.db.read(|c| {
            let tracks = c.query_map(
                "SELECT key, agent_id, check_id, track_json, incident_id FROM incident_tracks",
                params![],
                |r| {
                    Ok(TrackRow {
                        key: r.get(0)?,
                        agent_id: r.get(1)?,
                        check: r.get(2)?,
                        track_json: r.get(3)?,
                        incident_id: r.get(4)?,
                    })
                },
            )?;
            let incidents = c.query_map(
                &format!("SELECT {INCIDENT_COLS} FROM incidents WHERE state != 'resolved'"),
                params![],
                incident,
            )?;
            let problems = c.query_map(
                &format!("SELECT {PROBLEM_COLS} FROM problems WHERE state != 'resolved'"),
                params![],
                problem,
            )?;
            let max = |t: &str| -> Result<i64> {
                c.query_value::<i64>(&format!("SELECT COALESCE(MAX(id), 0) FROM {t}"), params![])
            };
            Ok((
                tracks,
                incidents,
                problems,
                max("incidents")?,
                max("problems")?,
            ))
        })
    }

    pub(super) fn import_incidents_impl(&self, rows: &[IncidentRow]) -> Result<()> {
        // Whole rows replace whatever has the same id (`INSERT OR REPLACE` before: the id
        // is the table's only unique key, so updating every column is the same thing).
        let sql = format!(
            "INSERT INTO incidents ({INCIDENT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
             ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26) \
             ON CONFLICT (id) DO UPDATE SET key = excluded.key, agent_id = excluded.agent_id, \
             hostname = excluded.hostname, department = excluded.department, class = excluded.class, \
             check_id = excluded.check_id, severity = excluded.severity, impact = excluded.impact, \
             priority = excluded.priority, title = excluded.title, detail = excluded.detail, state = excluded.state, \
             flapping = excluded.flapping, reopened = excluded.reopened, opened_at_ms = excluded.opened_at_ms, \
             resolved_at_ms = excluded.resolved_at_ms, suppressed_by = excluded.suppressed_by, \
             problem_id = excluded.problem_id, desk = excluded.desk, ticket_json = excluded.ticket_json, \
             first_response_at_ms = excluded.first_response_at_ms, desk_resolved_at_ms = excluded.desk_resolved_at_ms, \
             desk_state = excluded.desk_state, desk_checked_at_ms = excluded.desk_checked_at_ms, \
             updated_at_ms = excluded.updated_at_ms"
        );
        self.db.write(|tx| {
            for i in rows {
                let d = &i.desk_side;
                let ticket = d
                    .ticket
                    .as_ref()
                    .map(|t| serde_json::to_string(t).expect("ticket json"));
                tx.execute(
                    &sql,
                    params![
                        i.id,
                        i.key,
                        i.agent_id,
                        i.hostname,
                        i.department,
                        i.class,
                        i.check,
                        i.severity,
                        i.impact,
                        i.priority,
                        i.title,
                        i.detail,
                        i.state,
                        i.flapping,
                        i.reopened,
                        i.opened_at_ms,
                        i.resolved_at_ms,
                        i.suppressed_by,
                        i.problem_id,
                        i.desk,
                        ticket,
                        d.first_response_at_ms,
                        d.desk_resolved_at_ms,
                        d.desk_state,
                        d.desk_checked_at_ms,
                        i.updated_at_ms
                    ],
                )?;
            }
            Ok(())
        })
    }

    pub(super) fn save_incidents_impl(&self, w: &IncidentWrite, now_ms: i64) -> Result<Vec<i64>> {
        let incident_sql = format!(
            "INSERT INTO incidents ({INCIDENT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, \
             NULL, NULL, NULL, NULL, NULL, ?21) ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, \
             department = excluded.department, class = excluded.class, severity = excluded.severity, impact = excluded.impact, \
             priority = excluded.priority, title = excluded.title, detail = excluded.detail, state = excluded.state, \
             flapping = excluded.flapping, reopened = excluded.reopened, resolved_at_ms = excluded.resolved_at_ms, \
             suppressed_by = excluded.suppressed_by, problem_id = excluded.problem_id, desk = excluded.desk, \
             updated_at_ms = excluded.updated_at_ms"
        );
        let problem_sql = format!(
            "INSERT INTO problems ({PROBLEM_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, NULL, NULL, NULL, NULL, ?12) \
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, priority = excluded.priority, title = excluded.title, \
             resolved_at_ms = excluded.resolved_at_ms, hosts = excluded.hosts, updated_at_ms = excluded.updated_at_ms"
        );
        // The closure may run again (PostgreSQL), so the ids are collected afresh in it.
        self.leader_write(|tx| {
            for t in &w.tracks {
                tx.execute(
                    "INSERT INTO incident_tracks (key, agent_id, check_id, track_json, incident_id) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (key) DO UPDATE SET track_json = excluded.track_json, incident_id = excluded.incident_id",
                    params![t.key, t.agent_id, t.check, t.track_json, t.incident_id],
                )?;
            }
            for i in &w.incidents {
                // A resolved incident that is open again was reopened: keep the time it was
                // resolved in between, so the SLA does not count it as down.
                if i.resolved_at_ms.is_none() {
                    tx.execute(
                        "INSERT INTO incident_gaps (incident_id, from_ms, to_ms) \
                         SELECT id, resolved_at_ms, CAST(?2 AS BIGINT) FROM incidents \
                         WHERE id = ?1 AND resolved_at_ms IS NOT NULL AND resolved_at_ms < ?2",
                        params![i.id, i.updated_at_ms],
                    )?;
                }
                // Desk-side columns belong to the outbox and the read-back: never overwritten here.
                tx.execute(
                    &incident_sql,
                    params![
                        i.id, i.key, i.agent_id, i.hostname, i.department, i.class, i.check, i.severity, i.impact, i.priority,
                        i.title, i.detail, i.state, i.flapping, i.reopened, i.opened_at_ms, i.resolved_at_ms, i.suppressed_by,
                        i.problem_id, i.desk, i.updated_at_ms
                    ],
                )?;
            }
            for p in &w.problems {
                tx.execute(
                    &problem_sql,
                    params![
                        p.id, p.key, p.check, p.scope, p.state, p.priority, p.title, p.opened_at_ms, p.resolved_at_ms, p.hosts,
                        p.desk, p.updated_at_ms
                    ],
                )?;
            }
            let mut ids = Vec::with_capacity(w.outbox.len());
            for o in &w.outbox {
                ids.push(tx.query_value::<i64>(
                    "INSERT INTO outbox (desk, subject, action, payload, state, attempts, next_at_ms, created_at_ms) \
                     VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5) RETURNING id",
                    params![o.desk, o.subject, o.action, o.payload, now_ms],
                )?);
            }
            Ok(ids)
        })
    }

    pub(super) fn outbox_due_impl(&self, now_ms: i64, limit: u32) -> Result<Vec<OutboxItem>> {
        // The first undelivered action of each subject, when it is due: a failed action
        // holds back the ones after it, so a ticket is never resolved before it exists.
        self.db.read(|c| {
            c.query_map(
                &format!(
                    "SELECT {OUTBOX_COLS} FROM outbox o WHERE o.state = 'pending' AND o.next_at_ms <= ?1 \
                     AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.subject = o.subject AND p.id < o.id \
                     AND p.state IN ('pending', 'failed')) ORDER BY o.id LIMIT ?2"
                ),
                params![now_ms, limit],
                outbox,
            )
        })
    }

    pub(super) fn outbox_update_impl(&self, u: &OutboxUpdate, now_ms: i64) -> Result<()> {
        self.leader_write(|tx| {
            match u {
                OutboxUpdate::Attempt { id } => {
                    tx.execute(
                        "UPDATE outbox SET attempts = attempts + 1 WHERE id = ?1",
                        params![id],
                    )?;
                }
                OutboxUpdate::Done { id, ticket } => {
                    tx.execute("UPDATE outbox SET state = 'done', done_at_ms = ?2, last_error = NULL WHERE id = ?1", params![id, now_ms])?;
                    if let Some((subj, t)) = ticket {
                        let (table, sid) = subject(subj)?;
                        let json = serde_json::to_string(t).expect("ticket json");
                        tx.execute(
                            &format!("UPDATE {table} SET ticket_json = ?2 WHERE id = ?1"),
                            params![sid, json],
                        )?;
                    }
                }
                OutboxUpdate::Later {
                    id,
                    next_at_ms,
                    error,
                } => {
                    tx.execute(
                        "UPDATE outbox SET next_at_ms = ?2, last_error = ?3 WHERE id = ?1",
                        params![id, next_at_ms, error],
                    )?;
                }
                OutboxUpdate::Failed { id, error } => {
                    tx.execute(
                        "UPDATE outbox SET state = 'failed', last_error = ?2 WHERE id = ?1",
                        params![id, error],
                    )?;
                }
                OutboxUpdate::Skipped { id, reason } => {
                    tx.execute("UPDATE outbox SET state = 'skipped', last_error = ?2, done_at_ms = ?3 WHERE id = ?1", params![id, reason, now_ms])?;
                }
            }
            Ok(())
        })
    }

    pub(super) fn outbox_operator_impl(
        &self,
        id: i64,
        retry: bool,
        now_ms: i64,
    ) -> Result<Option<OutboxItem>> {
        let (n, item) = self.db.write(|tx| {
            let n = if retry {
                tx.execute(
                    "UPDATE outbox SET state = 'pending', next_at_ms = ?2 WHERE id = ?1 AND state IN ('failed', 'pending', 'abandoned')",
                    params![id, now_ms],
                )
            } else {
                tx.execute(
                    "UPDATE outbox SET state = 'abandoned', done_at_ms = ?2 WHERE id = ?1 AND state IN ('failed', 'pending')",
                    params![id, now_ms],
                )
            }?;
            let item = tx.query_row(
                &format!("SELECT {OUTBOX_COLS} FROM outbox WHERE id = ?1"),
                params![id],
                outbox,
            )?;
            Ok((n, item))
        })?;
        match (n, item) {
            (0, Some(i)) => Err(StoreError::Db(format!(
                "outbox item {id} is {}; only failed or pending items can be {}",
                i.state,
                if retry { "retried" } else { "abandoned" }
            ))),
            (_, i) => Ok(i),
        }
    }

    pub(super) fn outbox_list_impl(
        &self,
        state: Option<&str>,
        subject: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OutboxItem>> {
        self.db.read(|c| {
            c.query_map(
                &format!(
                    "SELECT {OUTBOX_COLS} FROM outbox WHERE (CAST(?1 AS TEXT) IS NULL OR state = ?1) \
                     AND (CAST(?2 AS TEXT) IS NULL OR subject = ?2) \
                     ORDER BY id DESC LIMIT ?3"
                ),
                params![state, subject, limit],
                outbox,
            )
        })
    }

    pub(super) fn outbox_stats_impl(&self) -> Result<Vec<OutboxStat>> {
        self.db.read(|c| {
            c.query_map(
                "SELECT desk, state, COUNT(*), MIN(created_at_ms) FROM outbox WHERE state IN ('pending', 'failed') GROUP BY desk, state",
                params![],
                |r| Ok(OutboxStat { desk: r.get(0)?, state: r.get(1)?, items: r.get(2)?, oldest_created_at_ms: r.get(3)? }),
            )
        })
    }

    pub(super) fn ticket_of_impl(&self, subj: &str) -> Result<Option<TicketRef>> {
        let (table, id) = subject(subj)?;
        self.db.read(|c| {
            let t: Option<Option<String>> = c.query_row(
                &format!("SELECT ticket_json FROM {table} WHERE id = ?1"),
                params![id],
                |r| r.get(0),
            )?;
            Ok(ticket_of(t.flatten()))
        })
    }

    pub(super) fn read_back_due_impl(
        &self,
        checked_before_ms: i64,
        opened_after_ms: i64,
        limit: u32,
    ) -> Result<Vec<(String, String, TicketRef)>> {
        // Tickets whose first response or resolution is still unknown, the never checked
        // first (`NULLS FIRST`: SQLite's order for NULLs, not PostgreSQL's).
        self.db.read(|c| {
            let mut out = Vec::new();
            for (table, kind) in [("incidents", "incident"), ("problems", "problem")] {
                let rows = c.query_map(
                    &format!(
                        "SELECT id, desk, ticket_json FROM {table} WHERE ticket_json IS NOT NULL AND opened_at_ms >= ?1 \
                         AND (first_response_at_ms IS NULL OR desk_resolved_at_ms IS NULL) \
                         AND (desk_checked_at_ms IS NULL OR desk_checked_at_ms < ?2) \
                         ORDER BY desk_checked_at_ms NULLS FIRST LIMIT ?3"
                    ),
                    params![opened_after_ms, checked_before_ms, limit],
                    |r| Ok((r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<String>(2)?)),
                )?;
                for (id, desk, t) in rows {
                    if let Some(t) = ticket_of(Some(t)) {
                        out.push((format!("{kind}:{id}"), desk, t));
                    }
                }
            }
            Ok(out)
        })
    }

    pub(super) fn save_read_back_impl(
        &self,
        subj: &str,
        st: Option<&TicketStatus>,
        now_ms: i64,
    ) -> Result<()> {
        let (table, id) = subject(subj)?;
        self.leader_write(|tx| {
            match st {
                None => tx.execute(&format!("UPDATE {table} SET desk_checked_at_ms = ?2 WHERE id = ?1"), params![id, now_ms]),
                Some(s) => {
                    // The first time a response is seen counts when the desk has no timestamp.
                    let responded = s.first_response_at_ms.or(s.responded.then_some(now_ms));
                    // `?6` is 0 or 1: compared, since PostgreSQL's CASE wants a boolean.
                    tx.execute(
                        &format!(
                            "UPDATE {table} SET desk_checked_at_ms = ?2, desk_state = ?3, \
                             first_response_at_ms = COALESCE(first_response_at_ms, ?4), \
                             desk_resolved_at_ms = CASE WHEN CAST(?6 AS BIGINT) <> 0 THEN COALESCE(desk_resolved_at_ms, ?5, ?2) ELSE NULL END \
                             WHERE id = ?1"
                        ),
                        params![id, now_ms, s.state, responded, s.resolved_at_ms, s.closed || s.resolved_at_ms.is_some()],
                    )
                }
            }?;
            Ok(())
        })
    }

    pub(super) fn list_incidents_impl(&self, f: &IncidentFilter) -> Result<Vec<IncidentRow>> {
        self.db.read(|c| {
            c.query_map(
                &format!(
                    "SELECT {INCIDENT_COLS} FROM incidents WHERE (CAST(?1 AS TEXT) IS NULL OR state = ?1) \
                     AND (CAST(?2 AS TEXT) IS NULL OR department = ?2) \
                     AND (CAST(?3 AS TEXT) IS NULL OR priority = ?3) \
                     AND (CAST(?4 AS TEXT) IS NULL OR hostname = ?4 OR agent_id = ?4) \
                     AND (CAST(?5 AS TEXT) IS NULL OR check_id = ?5) \
                     AND (CAST(?6 AS BIGINT) IS NULL OR problem_id = ?6) {} \
                     ORDER BY id DESC LIMIT ?7 OFFSET ?8",
                    crate::hosts::department_in(f.departments.as_deref(), 9)
                ),
                &crate::hosts::with_departments(
                    params![f.state, f.department, f.priority, f.host, f.check, f.problem_id, f.limit.unwrap_or(100).min(10_000), f.offset.unwrap_or(0)],
                    f.departments.as_deref(),
                ),
                incident,
            )
        })
    }

    pub(super) fn get_incident_impl(&self, id: i64) -> Result<Option<IncidentRow>> {
        self.db.read(|c| {
            c.query_row(
                &format!("SELECT {INCIDENT_COLS} FROM incidents WHERE id = ?1"),
                params![id],
                incident,
            )
        })
    }

    pub(super) fn list_problems_impl(
        &self,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ProblemRow>> {
        self.db.read(|c| {
            c.query_map(
                &format!(
                    "SELECT {PROBLEM_COLS} FROM problems WHERE (CAST(?1 AS TEXT) IS NULL OR state = ?1) \
                     ORDER BY id DESC LIMIT ?2"
                ),
                params![state, limit],
                problem,
            )
        })
    }
}

/// What the outbox worker records about one item.
#[derive(Debug, Clone)]
pub enum OutboxUpdate {
    /// About to call the desk (so a crash mid-call is known to have maybe acted).
    Attempt { id: i64 },
    /// Delivered; a create also records the ticket on its subject, atomically.
    Done {
        id: i64,
        ticket: Option<(String, TicketRef)>,
    },
    /// Transient failure: try again at `next_at_ms`.
    Later {
        id: i64,
        next_at_ms: i64,
        error: String,
    },
    /// Permanent failure: held until an operator retries or abandons it.
    Failed { id: i64, error: String },
    /// Nothing to do (e.g. a note for a ticket whose create was abandoned).
    Skipped { id: i64, reason: String },
}
