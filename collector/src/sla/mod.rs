//! SLA reporting (issue 5, in progress): the pure arithmetic first.
//!
//! - [`calendar`]: service hours in a time zone with holidays; intersecting real time
//!   spans with them, leaving maintenance out.

pub mod calendar;
