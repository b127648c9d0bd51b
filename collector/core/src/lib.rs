//! The collector's pure core: what Tilsyn decides, with no I/O of its own.
//!
//! - [`compliance`]: standards, waivers and facts; the evaluation of a host; results in
//!   memory and the views read from them;
//! - [`incidents`]: conditions, the per-key incident state machine, ITIL priority,
//!   correlation, storms as problems, maintenance windows, and [`incidents::core::Core`],
//!   which turns observations into incident rows and desk actions (the outbox);
//! - [`sla`]: service-hour calendars, availability timelines, response and resolution
//!   attainment, the report model and its renderers;
//! - [`absence`]: the collector's own gaps: the offline grace after them and the time
//!   they leave unmonitored;
//! - [`rollup`]: health samples folded into 5-minute and hourly minimum/mean/maximum;
//! - [`text`]: globs, ids and one-line renderings every part shares.
//!
//! The contract: no async runtime, database, network, metrics registry or clock. Time
//! comes in as a value (`now_ms`) from the caller, which is why every function that needs
//! it takes it. The crate graph enforces the rest: this crate depends on nothing that does
//! I/O (`tests/layers.rs` fails the test suite when an async runtime, a database driver,
//! an HTTP or gRPC crate or the metrics registry appears in its tree), and `clippy.toml`
//! here forbids reading the clock. It may read its own configuration files (standards,
//! SLA, maintenance windows), so that their errors carry file and line where they are
//! parsed.

#![forbid(unsafe_code)]

pub mod absence;
pub mod compliance;
pub mod incidents;
pub mod rollup;
pub mod sla;
pub mod text;
