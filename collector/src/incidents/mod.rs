//! Incidents (work in progress, issue 4): the pure core that later layers build on —
//! the per-key state machine ([`engine`]), correlation keys ([`correlation`]), ITIL
//! priority ([`priority`]), storm detection ([`problems`]) and maintenance windows
//! ([`maintenance`]), the conditions that observe a host's state ([`conditions`]), and
//! the service desk adapters ([`desks`]).

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
