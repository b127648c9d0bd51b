//! Incidents in the service desk, opened, updated and closed by the collector itself — the
//! pure part.
//!
//! - the per-key state machine ([`engine`]: hysteresis, reopen window, flap holding),
//!   correlation keys ([`correlation`]), ITIL priority ([`priority`]), storm detection
//!   ([`problems`]), maintenance windows ([`maintenance`]), the conditions that observe a
//!   host's state ([`conditions`]) and [`core`], which turns observations into incident
//!   rows and desk actions;
//! - [`config`]: the `incidents:` section; [`records`]: what the store keeps; [`ticket`]:
//!   what a desk is handed and reads back;
//! - [`cli`]: the `incidents` and `outbox` commands' tables.
//!
//! The running service (worker, outbox delivery, read-back) is the collector's
//! `services::incidents`; the adapters are the `tilsyn-collector-desks` crate.
//! Reference for users: `configs/incidents.md`.

pub mod cli;
pub mod conditions;
pub mod config;
pub mod core;
pub mod correlation;
pub mod cron;
pub mod engine;
pub mod maintenance;
pub mod priority;
pub mod problems;
pub mod records;
pub mod ticket;
