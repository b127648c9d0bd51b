//! The Tilsyn agent: probes this machine, spools reports durably and delivers them to a
//! collector over gRPC. `main.rs` is a thin CLI over [`agent`], [`simulate`] and the rest.

pub mod agent;
pub mod config;
pub mod enrollment;
pub mod logfile;
pub mod platform;
pub mod probes;
pub mod report;
pub mod runner;
pub mod service;
pub mod simulate;
pub mod spool;
pub mod state;
pub mod transport;

pub use tilsyn_proto::time::now_ms;
