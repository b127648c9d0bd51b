//! Waivers: approved deviations from one rule for some hosts, until an expiry date.
//!
//! ```yaml
//! waivers:
//!   - id: W-2026-014
//!     standard: debian-server
//!     rule: ssh-password-auth
//!     hosts: ["build-*"]          # hostname globs; and/or department, labels
//!     reason: Legacy build agents log in with passwords until the CI migration.
//!     approved_by: Head of Operations (change CHG-1042)
//!     expires: 2027-03-31         # valid through this day (UTC)
//! ```
//! A waiver turns `fail` into `waived` while it is valid; after its expiry date the rule
//! fails again. Waivers expiring within the warning period show as `expiring`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tilsyn_proto::yaml::Issues;

use super::facts::HostContext;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WaiverDoc {
    /// Required in a file; through the API one is made when it is left out.
    #[serde(default)]
    pub id: String,
    pub standard: String,
    pub rule: String,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub reason: String,
    pub approved_by: String,
    /// `YYYY-MM-DD`: the last day the waiver is valid (UTC).
    pub expires: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Waiver {
    pub id: String,
    pub standard: String,
    pub rule: String,
    pub hosts: Vec<String>,
    pub department: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub reason: String,
    pub approved_by: String,
    pub expires: String,
    /// First instant the waiver no longer applies (midnight UTC after `expires`).
    pub expires_at_ms: i64,
    #[serde(skip)]
    pub file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaiverState {
    Active,
    Expiring,
    Expired,
}

impl WaiverState {
    pub fn as_str(self) -> &'static str {
        match self {
            WaiverState::Active => "active",
            WaiverState::Expiring => "expiring",
            WaiverState::Expired => "expired",
        }
    }
}

/// Parses `YYYY-MM-DD` strictly.
pub fn parse_date(s: &str) -> Option<(i64, i64, i64)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s[0..4].parse().ok()?;
    let m: i64 = s[5..7].parse().ok()?;
    let d: i64 = s[8..10].parse().ok()?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    ((1..=12).contains(&m) && d >= 1 && d <= days[(m - 1) as usize]).then_some((y, m, d))
}

/// What a waiver may name: each loaded standard's id with its rule ids. (The standards
/// hand it over, so this file needs nothing of theirs.)
pub type KnownRules<'a> = [(&'a str, Vec<&'a str>)];

fn loaded(standards: &KnownRules<'_>) -> String {
    if standards.is_empty() {
        return "none".into();
    }
    standards
        .iter()
        .map(|(id, _)| *id)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Waiver {
    pub fn compile(
        d: WaiverDoc,
        path: &str,
        file: &Path,
        standards: &KnownRules<'_>,
        issues: &mut Issues,
    ) -> Option<Waiver> {
        let before = issues.len();
        if d.id.trim().is_empty() {
            issues.push(format!("{path}.id"), "a waiver needs an id");
        }
        let who = format!("waiver {}", d.id);
        match standards.iter().find(|(id, _)| *id == d.standard) {
            None => issues.push(
                format!("{path}.standard"),
                format!(
                    "{who}: unknown standard {:?} (loaded: {})",
                    d.standard,
                    loaded(standards)
                ),
            ),
            Some((id, rules)) if !rules.contains(&d.rule.as_str()) => issues.push(
                format!("{path}.rule"),
                format!("{who}: standard {id} has no rule {:?}", d.rule),
            ),
            Some(_) => {}
        }
        if d.hosts.is_empty() && d.department.is_none() && d.labels.is_empty() {
            issues.push(path, format!("{who}: say which hosts it covers (hosts, department or labels); a waiver for every host is a change to the standard"));
        }
        for (field, v) in [("reason", &d.reason), ("approved_by", &d.approved_by)] {
            if v.trim().is_empty() {
                issues.push(
                    format!("{path}.{field}"),
                    format!("{who}: {field} is required"),
                );
            }
        }
        let expires_at_ms = match parse_date(&d.expires) {
            Some((y, m, day)) => (tilsyn_proto::time::days_from_civil(y, m, day) + 1) * DAY_MS,
            None => {
                issues.push(
                    format!("{path}.expires"),
                    format!("{who}: {:?} is not a date (YYYY-MM-DD)", d.expires),
                );
                0
            }
        };
        if issues.len() != before {
            return None;
        }
        Some(Waiver {
            id: d.id,
            standard: d.standard,
            rule: d.rule,
            hosts: d.hosts,
            department: d.department,
            labels: d.labels,
            reason: d.reason,
            approved_by: d.approved_by,
            expires: d.expires,
            expires_at_ms,
            file: file.to_path_buf(),
        })
    }

    pub fn state(&self, now_ms: i64, warn_ms: i64) -> WaiverState {
        if now_ms >= self.expires_at_ms {
            WaiverState::Expired
        } else if now_ms + warn_ms >= self.expires_at_ms {
            WaiverState::Expiring
        } else {
            WaiverState::Active
        }
    }

    /// Whether the waiver covers this host (ignoring expiry).
    pub fn covers(&self, ctx: &HostContext) -> bool {
        (self.hosts.is_empty()
            || self
                .hosts
                .iter()
                .any(|g| crate::text::glob(g, &ctx.hostname) || *g == ctx.agent_id))
            && self
                .department
                .as_deref()
                .is_none_or(|d| d.eq_ignore_ascii_case(&ctx.department))
            && self
                .labels
                .iter()
                .all(|(k, v)| ctx.labels.get(k) == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::standard::StandardSet;

    const STD: &str = "standard:\n  id: s\n  title: S\n  version: '1'\n  rules:\n    - id: fw\n      title: Firewall\n      severity: high\n      check: {fact: firewall.enabled, equals: true}\n";

    fn load(waivers: &str) -> Result<StandardSet, String> {
        StandardSet::from_sources(
            Path::new("."),
            &[
                (PathBuf::from("s.yaml"), STD.into()),
                (PathBuf::from("w.yaml"), waivers.into()),
            ],
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn dates_are_strict() {
        assert_eq!(parse_date("2028-02-29"), Some((2028, 2, 29)));
        assert_eq!(parse_date("2027-02-29"), None);
        assert_eq!(parse_date("2027-13-01"), None);
        assert_eq!(parse_date("27-01-01"), None);
    }

    #[test]
    fn expiry_runs_through_the_named_day() {
        let set = load("waivers:\n  - {id: W1, standard: s, rule: fw, department: schools, reason: r, approved_by: a, expires: 2026-12-01}\n").unwrap();
        let w = &set.waivers[0];
        let day = |y, m, d| tilsyn_proto::time::days_from_civil(y, m, d) * DAY_MS;
        let warn = 14 * DAY_MS;
        assert_eq!(w.state(day(2026, 11, 1), warn), WaiverState::Active);
        assert_eq!(w.state(day(2026, 11, 20), warn), WaiverState::Expiring);
        assert_eq!(
            w.state(day(2026, 12, 1) + DAY_MS - 1, warn),
            WaiverState::Expiring
        );
        assert_eq!(w.state(day(2026, 12, 2), warn), WaiverState::Expired);
    }

    #[test]
    fn bad_waivers_are_load_errors() {
        let e = load("waivers:\n  - id: W1\n    standard: s\n    rule: nope\n    hosts: [pc1]\n    reason: ''\n    approved_by: a\n    expires: 2026-31-12\n").unwrap_err();
        assert!(
            e.contains("w.yaml:4") && e.contains("standard s has no rule \"nope\""),
            "{e}"
        );
        assert!(e.contains("reason is required"), "{e}");
        assert!(e.contains("not a date"), "{e}");
        let e = load("waivers:\n  - {id: W1, standard: x, rule: fw, reason: r, approved_by: a, expires: 2026-12-01}\n").unwrap_err();
        assert!(e.contains("unknown standard \"x\""), "{e}");
        assert!(e.contains("say which hosts"), "{e}");
    }

    #[test]
    fn coverage_by_glob_department_and_label() {
        let set = load("waivers:\n  - {id: W1, standard: s, rule: fw, hosts: ['build-*'], labels: {role: ci}, reason: r, approved_by: a, expires: 2026-12-01}\n").unwrap();
        let w = &set.waivers[0];
        let mut ctx = HostContext {
            hostname: "build-07".into(),
            ..Default::default()
        };
        assert!(!w.covers(&ctx), "label missing");
        ctx.labels.insert("role".into(), "ci".into());
        assert!(w.covers(&ctx));
        ctx.hostname = "pc-07".into();
        assert!(!w.covers(&ctx));
    }
}
