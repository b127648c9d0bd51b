//! Incidents in the service desk, opened, updated and closed by the collector itself.
//!
//! - Pure core: the per-key state machine ([`engine`]: hysteresis, reopen window, flap
//!   holding), correlation keys ([`correlation`]), ITIL priority ([`priority`]), storm
//!   detection ([`problems`]), maintenance windows ([`maintenance`]), the conditions that
//!   observe a host's state ([`conditions`]) and [`core`], which turns observations into
//!   incident rows and desk actions;
//! - [`config`]: the `incidents:` section; [`records`]: what the store keeps;
//! - [`service`]: the worker fed by ingest, the outbox delivery and the read-back;
//! - [`desks`]: one adapter per service desk behind the `Desk` trait;
//! - [`cli`]: the `incidents` and `outbox` commands' tables.
//!
//! Reference for users: `configs/incidents.md`.

pub mod cli;
pub mod conditions;
pub mod config;
pub mod core;
pub mod correlation;
pub mod desks;
pub mod engine;
pub mod maintenance;
pub mod priority;
pub mod problems;
pub mod records;
pub mod service;
