//! The Tilsyn collector: accepts agents over gRPC, stores host state, serves metrics and a
//! JSON API. `main.rs` is a thin CLI over [`server::run`].

pub mod api;
pub mod auth;
pub mod compliance;
pub mod config;
pub mod incidents;
pub mod ingest;
pub mod metrics;
pub mod server;
pub mod settings;
pub mod sla;
pub mod store;
pub mod tls;
