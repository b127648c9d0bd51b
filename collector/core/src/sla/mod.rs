//! SLA reporting: service hours, availability of services, response and resolution
//! attainment per department, and the monthly report.
//!
//! - [`calendar`]: service hours in a time zone with holidays; [`calendar::Clock`] turns
//!   them into a lookup of service time between instants.
//! - [`config`]: the SLA file (tiers, departments' tiers, service catalogue).
//! - [`availability`]: a service's up / down / planned / unmonitored timeline from its
//!   hosts' incidents, maintenance windows and the collector's own gaps (pure).
//! - [`attainment`]: an incident's response and resolution outcome against its target
//!   (pure).
//! - [`report`]: one period's figures per department — what the report, the API and the
//!   metrics all show; [`render`] turns it into Markdown, CSV or HTML.
//!
//! The evaluator thread (metrics, monthly compliance snapshots) and the report from the
//! store are the collector's `services::sla`.

pub mod attainment;
pub mod availability;
pub mod calendar;
pub mod config;
pub mod example;
pub mod render;
pub mod report;
