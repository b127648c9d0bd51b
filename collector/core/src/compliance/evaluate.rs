//! `evaluate`: one host's facts against every standard that applies, with waivers — a pure
//! function of (standards, facts, now).

use serde::Serialize;

use super::check::Tri;
use super::facts::{lookup, FactId, HostFacts, Value};
use super::standard::{OsView, StandardSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pass,
    Fail,
    Unknown,
    NotApplicable,
    Waived,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Pass,
        State::Fail,
        State::Unknown,
        State::NotApplicable,
        State::Waived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pass => "pass",
            State::Fail => "fail",
            State::Unknown => "unknown",
            State::NotApplicable => "not_applicable",
            State::Waived => "waived",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A host's standing against one standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every applicable rule passes or is waived.
    Compliant,
    /// At least one rule fails.
    Noncompliant,
    /// No rule fails, but some could not be evaluated (facts not reported).
    Unknown,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Compliant, Status::Noncompliant, Status::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Compliant => "compliant",
            Status::Noncompliant => "noncompliant",
            Status::Unknown => "unknown",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn of(states: impl Iterator<Item = State>) -> Status {
        let mut s = Status::Compliant;
        for st in states {
            match st {
                State::Fail => return Status::Noncompliant,
                State::Unknown => s = Status::Unknown,
                _ => {}
            }
        }
        s
    }

    /// A host's overall standing over several standards: the worst of them.
    pub fn worst(a: Status, b: Status) -> Status {
        match (a, b) {
            (Status::Noncompliant, _) | (_, Status::Noncompliant) => Status::Noncompliant,
            (Status::Unknown, _) | (_, Status::Unknown) => Status::Unknown,
            _ => Status::Compliant,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleResult {
    pub state: State,
    pub observed: String,
    /// Index into `StandardSet::waivers` when waived.
    pub waiver: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StandardResult {
    /// Index into `StandardSet::standards`.
    pub standard: usize,
    pub status: Status,
    /// One per rule of the standard, in its order.
    pub rules: Vec<RuleResult>,
}

struct OsFacts {
    family: FactId,
    id: FactId,
    version: FactId,
}

fn os_facts() -> &'static OsFacts {
    static IDS: std::sync::OnceLock<OsFacts> = std::sync::OnceLock::new();
    IDS.get_or_init(|| OsFacts {
        family: lookup("os.family").expect("registry"),
        id: lookup("os.id").expect("registry"),
        version: lookup("os.version").expect("registry"),
    })
}

pub fn os_view(f: &HostFacts) -> OsView<'_> {
    let ids = os_facts();
    let text = |id| match f.get(id) {
        Some(Value::Str(s)) | Some(Value::Version(s)) => Some(&**s),
        _ => None,
    };
    OsView {
        family: text(ids.family),
        id: text(ids.id),
        version: text(ids.version),
    }
}

/// Evaluates every standard whose selector matches the host; observed texts only when
/// `text` (a full re-evaluation needs the states alone).
pub fn evaluate(set: &StandardSet, f: &HostFacts, now_ms: i64, text: bool) -> Vec<StandardResult> {
    let os = os_view(f);
    let mut out = Vec::new();
    for (si, s) in set.standards.iter().enumerate() {
        if !s.applies_to.matches(&f.ctx, &os) {
            continue;
        }
        let rules: Vec<RuleResult> = s
            .rules
            .iter()
            .map(|r| {
                if r.applies_to
                    .as_ref()
                    .is_some_and(|sel| !sel.matches(&f.ctx, &os))
                {
                    return RuleResult {
                        state: State::NotApplicable,
                        observed: String::new(),
                        waiver: None,
                    };
                }
                let e = r.check.eval_with(f, now_ms, text);
                let mut state = match e.tri {
                    Tri::Pass => State::Pass,
                    Tri::Fail => State::Fail,
                    Tri::Unknown => State::Unknown,
                };
                let mut waiver = None;
                if state == State::Fail {
                    waiver = set.waivers.iter().position(|w| {
                        w.standard == s.id
                            && w.rule == r.id
                            && now_ms < w.expires_at_ms
                            && w.covers(&f.ctx)
                    });
                    if waiver.is_some() {
                        state = State::Waived;
                    }
                }
                RuleResult {
                    state,
                    observed: e.observed,
                    waiver,
                }
            })
            .collect();
        out.push(StandardResult {
            standard: si,
            status: Status::of(rules.iter().map(|r| r.state)),
            rules,
        });
    }
    out
}

/// The next instant a waiver expires after `now_ms` (results may change then).
pub fn next_expiry(set: &StandardSet, now_ms: i64) -> Option<i64> {
    set.waivers
        .iter()
        .map(|w| w.expires_at_ms)
        .filter(|t| *t > now_ms)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::facts::{HostContext, FACTS};
    use std::path::{Path, PathBuf};

    const STD: &str = "\
standard:
  id: ws
  title: Workstation
  version: '1'
  applies_to: {os_family: [linux]}
  rules:
    - id: fw
      title: Firewall
      severity: high
      check: {fact: firewall.enabled, equals: true}
    - id: enc
      title: Encryption
      severity: high
      check: {fact: disk.encrypted, equals: true}
    - id: ubuntu-only
      title: Ubuntu 22.04 or later
      severity: low
      applies_to: {os_id: [ubuntu]}
      check: {fact: os.version, ge: '22.04'}
";
    const WAIVERS: &str = "waivers:\n  - {id: W1, standard: ws, rule: fw, hosts: [lab-*], reason: lab, approved_by: CISO, expires: 2026-12-01}\n";

    fn set() -> StandardSet {
        StandardSet::from_sources(
            Path::new("."),
            &[
                (PathBuf::from("s.yaml"), STD.into()),
                (PathBuf::from("w.yaml"), WAIVERS.into()),
            ],
        )
        .unwrap()
    }

    fn host(name: &str, family: &str, fw: Option<bool>) -> HostFacts {
        let mut values = vec![None; FACTS.len()];
        values[lookup("os.family").unwrap()] = Some(Value::Str(family.into()));
        values[lookup("os.id").unwrap()] = Some(Value::Str("debian".into()));
        if let Some(fw) = fw {
            values[lookup("firewall.enabled").unwrap()] = Some(Value::Bool(fw));
        }
        HostFacts {
            ctx: HostContext {
                hostname: name.into(),
                ..Default::default()
            },
            values,
            software: None,
        }
    }

    fn day(y: i64, m: i64, d: i64) -> i64 {
        tilsyn_proto::time::days_from_civil(y, m, d) * 86_400_000
    }

    #[test]
    fn states_per_rule_and_status() {
        let s = set();
        let r = evaluate(
            &s,
            &host("pc1", "linux", Some(false)),
            day(2026, 11, 22),
            true,
        );
        assert_eq!(r.len(), 1);
        let states: Vec<State> = r[0].rules.iter().map(|r| r.state).collect();
        assert_eq!(
            states,
            vec![State::Fail, State::Unknown, State::NotApplicable]
        );
        assert_eq!(r[0].status, Status::Noncompliant);
        assert_eq!(r[0].rules[1].observed, "not reported: disk.encrypted");
        let r = evaluate(&s, &host("pc1", "linux", Some(true)), 0, true);
        assert_eq!(r[0].status, Status::Unknown);
        assert!(
            evaluate(&s, &host("mac1", "macos", Some(true)), 0, true).is_empty(),
            "standard does not apply"
        );
    }

    #[test]
    fn a_waiver_holds_until_it_expires_then_the_rule_fails_again() {
        let s = set();
        let lab = host("lab-3", "linux", Some(false));
        let r = evaluate(&s, &lab, day(2026, 11, 22), true);
        assert_eq!(r[0].rules[0].state, State::Waived);
        assert_eq!(r[0].rules[0].waiver, Some(0));
        assert_eq!(r[0].rules[0].observed, "firewall.enabled = false");
        let r = evaluate(&s, &lab, day(2026, 12, 1) + 3_600_000, true);
        assert_eq!(
            r[0].rules[0].state,
            State::Waived,
            "valid through the named day"
        );
        let r = evaluate(&s, &lab, day(2026, 12, 2), true);
        assert_eq!(r[0].rules[0].state, State::Fail);
        assert_eq!(next_expiry(&s, day(2026, 11, 22)), Some(day(2026, 12, 2)));
        assert_eq!(next_expiry(&s, day(2026, 12, 2)), None);
        let other = host("pc1", "linux", Some(false));
        assert_eq!(
            evaluate(&s, &other, day(2026, 11, 22), true)[0].rules[0].state,
            State::Fail
        );
    }
}
