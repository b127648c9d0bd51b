//! Incidents (work in progress, issue 4): the pure core that later layers build on —
//! the per-key state machine ([`engine`]), correlation keys ([`correlation`]), ITIL
//! priority ([`priority`]) and storm detection ([`problems`]). Conditions, maintenance
//! windows, the outbox and the desk adapters come next.

pub mod correlation;
pub mod engine;
pub mod priority;
pub mod problems;
