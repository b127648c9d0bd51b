//! Compliance with the organisation's standards.
//!
//! - [`facts`]: the fact registry and how a host's sections become typed facts;
//! - [`standard`], [`check`], [`rules`], [`waiver`]: the YAML model, checked when loaded;
//!   [`outcome`]: the three-valued result every rule type and the check tree share;
//! - [`evaluate`]: the pure evaluation of one host;
//! - [`engine`]: results in memory, diffs to persist, aggregates;
//! - [`report`]: the views the API, the CLI and the SLA report read from the memory.
//!
//! The running service (threads, store, metrics, clock) is the collector's
//! `services::compliance`.

pub mod check;
pub mod engine;
pub mod evaluate;
pub mod facts;
pub mod outcome;
pub mod report;
pub mod rules;
pub mod standard;
pub mod version;
pub mod waiver;

/// Helpers shared by the compliance unit tests.
#[cfg(test)]
pub(crate) mod testutil {
    use super::check::{Check, Ctx};
    use super::facts::{lookup, HostFacts, Value, FACTS};
    use tilsyn_proto::yaml::Issues;

    /// A host that reported exactly these facts.
    pub fn facts(pairs: &[(&str, Value)]) -> HostFacts {
        let mut f = HostFacts {
            values: vec![None; FACTS.len()],
            ..Default::default()
        };
        for (n, v) in pairs {
            f.values[lookup(n).expect("fact")] = Some(v.clone());
        }
        f
    }

    /// Compiles a check as rule `r`; the errors rendered as the CLI prints them.
    pub fn check(src: &str) -> Result<Check, String> {
        let y: serde_yaml::Value = serde_yaml::from_str(src).expect("test YAML");
        let mut is = Issues::default();
        let c = Check::compile(
            &y,
            "check",
            &mut Ctx {
                issues: &mut is,
                rule: "r",
            },
        );
        match c {
            Some(c) if is.is_empty() => Ok(c),
            _ => Err(is
                .into_result(std::path::Path::new("s.yaml"), src)
                .expect_err("errors")
                .to_string()),
        }
    }
}
