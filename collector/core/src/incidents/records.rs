//! What the incident engine and the outbox keep in the store.

use serde::{Deserialize, Serialize};

use super::ticket::TicketRef;

/// One incident: a correlation key's ticket generation. Reopening keeps the row (and the
/// ticket); a recurrence after the reopen window is a new row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IncidentRow {
    pub id: i64,
    pub key: String,
    pub agent_id: String,
    pub hostname: String,
    pub department: String,
    pub class: String,
    pub check: String,
    pub severity: String,
    pub impact: String,
    pub priority: String,
    pub title: String,
    /// The latest observation's text.
    pub detail: String,
    /// `open`, `suppressed` (inside a maintenance window: no ticket) or `resolved`.
    pub state: String,
    pub flapping: bool,
    pub reopened: u32,
    pub opened_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    /// The maintenance window that suppressed it.
    pub suppressed_by: Option<String>,
    /// The problem (storm) it is attached to; attached incidents get no ticket of their own.
    pub problem_id: Option<i64>,
    pub desk: String,
    #[serde(flatten)]
    pub desk_side: DeskSide,
    pub updated_at_ms: i64,
}

/// What the desk knows: written by the outbox and the read-back, never by the engine.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeskSide {
    pub ticket: Option<TicketRef>,
    pub first_response_at_ms: Option<i64>,
    pub desk_resolved_at_ms: Option<i64>,
    pub desk_state: Option<String>,
    pub desk_checked_at_ms: Option<i64>,
}

/// A problem: one check failing on many hosts at once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProblemRow {
    pub id: i64,
    pub key: String,
    pub check: String,
    /// `fleet` or `department:<id>`.
    pub scope: String,
    /// `open` or `resolved`.
    pub state: String,
    pub priority: String,
    pub title: String,
    pub opened_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    /// Host incidents attached so far.
    pub hosts: i64,
    pub desk: String,
    #[serde(flatten)]
    pub desk_side: DeskSide,
    pub updated_at_ms: i64,
}

/// A correlation key's state machine, saved when it opens, resolves or flaps.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackRow {
    pub key: String,
    pub agent_id: String,
    pub check: String,
    pub track_json: String,
    pub incident_id: Option<i64>,
}

/// One desk action waiting for (or done with) delivery.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutboxItem {
    pub id: i64,
    pub desk: String,
    /// `incident:<id>` or `problem:<id>`: actions of one subject are delivered in order.
    pub subject: String,
    /// `create`, `note`, `resolve` or `reopen`.
    pub action: String,
    /// The ticket (create) or the text (the others), JSON.
    pub payload: String,
    /// `pending`, `done`, `failed` (a permanent error: waits for retry/abandon),
    /// `abandoned` (by an operator) or `skipped` (nothing to act on).
    pub state: String,
    pub attempts: u32,
    pub next_at_ms: i64,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub done_at_ms: Option<i64>,
}

/// An action to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbox {
    pub desk: String,
    pub subject: String,
    pub action: String,
    pub payload: String,
}

/// Everything one engine step changes, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct IncidentWrite {
    pub tracks: Vec<TrackRow>,
    pub incidents: Vec<IncidentRow>,
    pub problems: Vec<ProblemRow>,
    pub outbox: Vec<NewOutbox>,
}

impl IncidentWrite {
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
            && self.incidents.is_empty()
            && self.problems.is_empty()
            && self.outbox.is_empty()
    }
}

/// A host as conditions see it after a restart.
#[derive(Debug, Clone)]
pub struct IncidentHost {
    pub agent_id: String,
    pub hostname: String,
    pub department: String,
    pub class: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub offline: bool,
    pub health: Option<tilsyn_proto::v1::Health>,
    pub patches: Option<tilsyn_proto::v1::PatchLevel>,
    pub probe_errors: Vec<String>,
}

/// Filters of the incident list (API and CLI).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IncidentFilter {
    pub state: Option<String>,
    pub department: Option<String>,
    pub priority: Option<String>,
    /// Hostname or agent id.
    pub host: Option<String>,
    pub check: Option<String>,
    pub problem_id: Option<i64>,
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub offset: Option<u32>,
    /// Only these departments (a department reader's); not a query parameter.
    #[serde(skip)]
    pub departments: Option<Vec<String>>,
}

/// Outbox counts per desk and state, with the oldest item's creation time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxStat {
    pub desk: String,
    pub state: String,
    pub items: i64,
    pub oldest_created_at_ms: i64,
}

/// Tracks, open incidents, open problems, and the highest incident and problem ids: what
/// the store hands [`crate::incidents::core::Core::restore`] at start.
pub type IncidentState = (Vec<TrackRow>, Vec<IncidentRow>, Vec<ProblemRow>, i64, i64);
