//! Incidents (work in progress, issue 4): the pure core that later layers build on —
//! the per-key state machine ([`engine`]), correlation keys ([`correlation`]), ITIL
//! priority ([`priority`]), storm detection ([`problems`]) and maintenance windows
//! ([`maintenance`]), and the conditions that observe a host's state ([`conditions`]).
//! The store of tracks, the outbox and the desk adapters come next.

pub mod conditions;
pub mod correlation;
pub mod engine;
pub mod maintenance;
pub mod priority;
pub mod problems;
