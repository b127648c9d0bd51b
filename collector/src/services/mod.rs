//! The services that run the core over the store on a schedule: one file each.
//!
//! - [`compliance`]: evaluates hosts whose facts changed, reloads standards, answers the
//!   compliance views;
//! - [`incidents`]: the incident worker (observations → [`Core`] → one transaction), the
//!   outbox delivery to the desks and the read-back poller;
//! - [`sla`]: the SLA evaluator (metrics, monthly compliance snapshots) and reports;
//! - [`lifecycle`]: retiring, moving and revoking hosts and making change windows, for the
//!   API and the CLI alike, and telling the engines;
//! - [`waivers`]: waivers granted and withdrawn through the API or CLI (approver, expiry),
//!   merged into the compliance engine beside the standards directory's;
//! - [`leader`]: which collector of a database leads (the lease) and runs what must
//!   happen once;
//! - [`offline`]: offline detection that judges only time the collector could hear (its
//!   heartbeat, its own gaps and the grace after them).
//!
//! The server's background loop (`server::background`) runs the offline ticks and health
//! retention.
//!
//! [`Core`]: tilsyn_collector_core::incidents::core::Core

pub mod compliance;
pub mod incidents;
pub mod leader;
pub mod lifecycle;
pub mod offline;
pub mod sla;
pub mod waivers;
