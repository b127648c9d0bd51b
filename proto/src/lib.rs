//! The Tilsyn wire protocol and the few conventions agent and collector share.
//!
//! `v1` is generated from `proto/tilsyn/v1/agent.proto` at build time (protox, no system
//! `protoc`); its gRPC stubs come with the default `grpc` feature. `meta` names the gRPC
//! metadata keys; `duration` and `yaml` hold the small
//! config helpers both binaries use, so their config files behave alike; `files` writes
//! state files atomically and reads small ones with a bound.

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

/// How an agent retries a collector it cannot reach: waits doubling from [`retry::MIN`]
/// up to [`retry::MAX`], each stretched or shrunk by up to [`retry::JITTER`]. The collector
/// relies on it: after its own absence it waits [`retry::RECONNECT_WITHIN_MS`] for every
/// live agent to get through before it counts anyone's silence.
pub mod retry {
    use std::time::Duration;

    pub const MIN: Duration = Duration::from_secs(1);
    pub const MAX: Duration = Duration::from_secs(60);
    /// ± this share of each wait.
    pub const JITTER: f64 = 0.2;
    /// The longest an agent that is retrying waits before its next attempt.
    pub const RECONNECT_WITHIN_MS: i64 = 72_000;

    #[cfg(test)]
    #[test]
    fn reconnect_bound_is_the_longest_jittered_wait() {
        assert_eq!(
            RECONNECT_WITHIN_MS,
            (MAX.as_millis() as f64 * (1.0 + JITTER)).round() as i64
        );
    }
}

/// Section names used in `SectionRef` and `ReportAck.resend_sections`.
pub mod section {
    pub const INVENTORY: &str = "inventory";
    pub const SOFTWARE: &str = "software";
    pub const PATCHES: &str = "patches";
    pub const HEALTH: &str = "health";
}
