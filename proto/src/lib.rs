//! The Tilsyn wire protocol and the few conventions agent and collector share.
//!
//! `v1` is generated from `proto/tilsyn/v1/agent.proto` at build time (protox, no system
//! `protoc`); its gRPC stubs come with the default `grpc` feature. `meta` names the gRPC
//! metadata keys; `duration` and `yaml` hold the small
//! config helpers both binaries use, so their config files behave alike; `files` writes
//! state files atomically.

pub mod v1 {
    #![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]
    include!(concat!(env!("OUT_DIR"), "/tilsyn.v1.rs"));
}

pub mod duration;
pub mod files;
pub mod time;
pub mod yaml;

/// gRPC metadata keys used for agent authentication.
pub mod meta {
    /// The agent id the caller claims.
    pub const AGENT_ID: &str = "x-tilsyn-agent-id";
    /// `Bearer <secret>`.
    pub const AUTHORIZATION: &str = "authorization";
}

/// Section names used in `SectionRef` and `ReportAck.resend_sections`.
pub mod section {
    pub const INVENTORY: &str = "inventory";
    pub const SOFTWARE: &str = "software";
    pub const PATCHES: &str = "patches";
    pub const HEALTH: &str = "health";
}
