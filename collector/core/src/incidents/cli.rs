//! Text tables for the `incidents` and `outbox` commands.

use std::fmt::Write;

use super::records::{IncidentRow, OutboxItem};
use crate::text::one_line;

fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_default()
}

// The header goes through the rows' format string so the columns line up.
#[allow(clippy::write_literal)]
pub fn incident_table(rows: &[IncidentRow], json: bool) -> String {
    let mut out = String::new();
    if json {
        for r in rows {
            let _ = writeln!(out, "{}", serde_json::to_string(r).expect("json"));
        }
        return out;
    }
    let _ = writeln!(
        out,
        "{:>6}  {:<10}  {:<3}  {:<20}  {:<14}  {:<28}  {:<20}  {:<14}  {}",
        "ID", "STATE", "PRI", "OPENED", "DEPARTMENT", "CHECK", "HOST", "TICKET", "DETAIL"
    );
    for r in rows {
        let ticket = match (&r.desk_side.ticket, r.problem_id, r.desk.is_empty()) {
            (Some(t), _, _) => format!("{}:{}", r.desk, t.display()),
            (None, Some(p), _) => format!("problem #{p}"),
            (None, None, true) => "-".into(),
            (None, None, false) => format!("{}:(queued)", r.desk),
        };
        let _ = writeln!(
            out,
            "{:>6}  {:<10}  {:<3}  {:<20}  {:<14}  {:<28}  {:<20}  {:<14}  {}",
            r.id,
            r.state,
            r.priority,
            when(r.opened_at_ms),
            one_line(&r.department, 14),
            one_line(&r.check, 28),
            one_line(&r.hostname, 20),
            one_line(&ticket, 14),
            r.detail
        );
    }
    out
}

#[allow(clippy::write_literal)]
pub fn outbox_table(rows: &[OutboxItem]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>6}  {:<9}  {:<12}  {:<16}  {:<8}  {:>8}  {:<20}  {}",
        "ID", "STATE", "DESK", "SUBJECT", "ACTION", "ATTEMPTS", "CREATED", "LAST ERROR"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:>6}  {:<9}  {:<12}  {:<16}  {:<8}  {:>8}  {:<20}  {}",
            r.id,
            r.state,
            one_line(&r.desk, 12),
            r.subject,
            r.action,
            r.attempts,
            when(r.created_at_ms),
            r.last_error.as_deref().unwrap_or("")
        );
    }
    out
}
