//! The Tilsyn collector binary's library: configuration, ingest (gRPC), the services that
//! run the core over the store, metrics, the HTTP API, TLS and the CLI. `main.rs` is a thin
//! CLI over [`cli`] and [`server::run`].
//!
//! The layers below it are crates of their own (see `collector/README.md`):
//! `tilsyn-collector-core` (pure: compliance, incidents, SLA), `tilsyn-collector-store`
//! (the `Store` trait and its engines) and `tilsyn-collector-desks` (service desk adapters).

pub mod access;
pub mod api;
pub mod auth;
pub mod cli;
pub mod cli_admin;
pub mod config;
pub mod console;
pub mod ingest;
pub mod listener;
pub mod metrics;
pub mod server;
pub mod services;
pub mod settings;
pub mod store_handle;
pub mod tls;
