//! What the incident engine hands a service desk ([`Ticket`]), how it addresses the ticket
//! afterwards ([`TicketRef`]) and what it reads back ([`TicketStatus`]). The adapters that
//! speak each desk's API live in the `tilsyn-collector-desks` crate.

use serde::Serialize;

/// What a ticket says. Built by the incident engine; adapters map it to their fields.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Ticket {
    /// Correlation key: `tilsyn-` + 32 hex digits, stable for host + check. Stored in
    /// the desk (custom field, label, correlation id, tag …) so a search finds it.
    pub key: String,
    /// One line, e.g. `[Tilsyn P2] web01: filesystem / above 90 %`.
    pub title: String,
    /// Plain text description: what was observed, on which host, since when, what to do.
    pub body: String,
    /// ITIL priority 1 (most urgent) … 5.
    pub priority: u8,
    /// ITIL impact 1 (high) … 3 (low), from the host's criticality.
    pub impact: u8,
    /// ITIL urgency 1 (high) … 3 (low), from the check's severity.
    pub urgency: u8,
    /// `critical`, `high`, `medium` or `low`.
    pub severity: String,
    pub hostname: String,
    pub agent_id: String,
    pub department: String,
    /// The check's id, e.g. `filesystem:/` or `compliance:debian-server/firewall`.
    pub check: String,
    /// When the incident opened (ms since the Unix epoch).
    pub opened_at_ms: i64,
}

/// The desk's identifier of a ticket (sys_id, issue key, numeric id …) and, where the
/// desk has one, its human-facing number and link.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq, Default)]
pub struct TicketRef {
    /// What the adapter needs to address the ticket again.
    pub id: String,
    /// What people see (INC0010001, SD-12, I 2611 001, #42); defaults to `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl TicketRef {
    pub fn new(id: impl Into<String>) -> TicketRef {
        TicketRef {
            id: id.into(),
            number: None,
            url: None,
        }
    }
    pub fn display(&self) -> &str {
        self.number.as_deref().unwrap_or(&self.id)
    }
}

/// What a person did with a ticket, read back from the desk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TicketStatus {
    /// The desk's own state name (`open`, `In Progress`, `6` …).
    pub state: String,
    /// A person has responded: acknowledged, assigned, in progress, or replied.
    pub responded: bool,
    /// When, if the desk records it (RT's Started, Zammad's first_response_at, TOPdesk's
    /// responseDate …). When it does not, the poller takes the time it first saw
    /// `responded`.
    pub first_response_at_ms: Option<i64>,
    /// Resolved or closed, by anybody (ms since the Unix epoch).
    pub resolved_at_ms: Option<i64>,
    /// The ticket is no longer active in the desk.
    pub closed: bool,
}
