//! What the API and the CLI show: one host's results, pass rates per standard, standing per
//! department, findings, waivers — all read from the engine's memory ([`Memory`]); the
//! running service (in the collector) supplies the time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::engine::Memory;
use super::evaluate::{StandardResult, State, Status};
use super::standard::{Severity, StandardSet};
use super::waiver::WaiverState;

#[derive(Debug, Serialize)]
pub struct RuleView {
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub state: State,
    pub observed: String,
    pub since_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<WaiverRef>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remediation: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct WaiverRef {
    pub id: String,
    pub expires: String,
    pub state: WaiverState,
}

#[derive(Debug, Serialize)]
pub struct HostStandardView {
    pub standard: String,
    pub title: String,
    pub version: String,
    pub status: String,
    pub evaluated_at_ms: i64,
    pub rules: Vec<RuleView>,
}

#[derive(Debug, Serialize)]
pub struct RuleRate {
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub pass: i64,
    pub fail: i64,
    pub unknown: i64,
    pub not_applicable: i64,
    pub waived: i64,
    /// (pass + waived) / (pass + fail + unknown + waived); null when no host applies.
    pub pass_rate: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct StandardView {
    pub standard: String,
    pub title: String,
    pub version: String,
    pub description: String,
    pub hosts: Counts,
    pub rules: Vec<RuleRate>,
}

#[derive(Debug, Default, Serialize, Clone, Copy)]
pub struct Counts {
    pub compliant: i64,
    pub noncompliant: i64,
    pub unknown: i64,
}

impl Counts {
    fn add(&mut self, c: &[i64; 3]) {
        self.compliant += c[Status::Compliant.index()];
        self.noncompliant += c[Status::Noncompliant.index()];
        self.unknown += c[Status::Unknown.index()];
    }
}

#[derive(Debug, Serialize)]
pub struct DepartmentView {
    pub department: String,
    /// Hosts by their worst standing over all standards that apply to them.
    pub hosts: Counts,
    pub standards: BTreeMap<String, Counts>,
}

/// A non-passing result: what the incident engine consumes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    pub agent_id: String,
    pub hostname: String,
    pub department: String,
    pub standard: String,
    pub rule: String,
    pub severity: Severity,
    pub state: State,
    pub since_ms: i64,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct FindingFilter {
    pub state: Option<String>,
    pub department: Option<String>,
    pub standard: Option<String>,
    pub severity: Option<String>,
    pub agent_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct WaiverView {
    #[serde(flatten)]
    pub waiver: super::waiver::Waiver,
    pub state: WaiverState,
    pub days_left: i64,
    /// Hosts whose failing result this waiver currently covers.
    pub hosts_waived: usize,
}

/// The views, read from the engine's memory; `now` and the waiver warning period come in
/// as values.
impl Memory {
    /// Every rule of every standard applying to the host, with observed values rendered
    /// now from the facts in memory and since-times from the results.
    pub fn host(&self, agent_id: &str, now: i64, warn: i64) -> Option<Vec<HostStandardView>> {
        let mem = self;
        let e = mem.hosts.get(agent_id)?;
        let set = &mem.set;
        let fresh = super::evaluate::evaluate(set, &e.facts, now, true);
        let mut out = Vec::new();
        for r in &fresh {
            let std = &set.standards[r.standard];
            let since = e.results.iter().find(|m| m.standard == r.standard);
            let rules = std
                .rules
                .iter()
                .zip(&r.rules)
                .enumerate()
                .map(|(i, (rule, rr))| RuleView {
                    rule: rule.id.clone(),
                    title: rule.title.clone(),
                    severity: rule.severity,
                    state: rr.state,
                    observed: rr.observed.clone(),
                    // The stored state is the one since-times belong to; a host evaluated
                    // this instant for the first time has none yet.
                    since_ms: since
                        .and_then(|m| m.rules.get(i))
                        .filter(|m| m.state == rr.state)
                        .map_or(now, |m| m.since_ms),
                    waiver: rr.waiver.map(|w| &set.waivers[w]).map(|w| WaiverRef {
                        id: w.id.clone(),
                        expires: w.expires.clone(),
                        state: w.state(now, warn),
                    }),
                    remediation: if matches!(rr.state, State::Fail | State::Waived) {
                        rule.remediation.clone()
                    } else {
                        String::new()
                    },
                    references: rule.references.clone(),
                })
                .collect();
            out.push(HostStandardView {
                standard: std.id.clone(),
                title: std.title.clone(),
                version: std.version.clone(),
                status: r.status.as_str().to_string(),
                evaluated_at_ms: now,
                rules,
            });
        }
        Some(out)
    }

    pub fn standards(&self) -> Vec<StandardView> {
        self.standards_from(&self.agg)
    }

    /// [`Self::standards`] counting only the hosts of `departments` (a department
    /// reader's view): aggregated on the spot from those hosts.
    pub fn standards_in(&self, departments: &[String]) -> Vec<StandardView> {
        let mut agg = super::engine::Aggregates::new(&self.set);
        for h in self.hosts.values() {
            let d = &h.facts.ctx.department;
            if departments.iter().any(|x| **x == **d) {
                agg.apply(d, &h.results, 1);
            }
        }
        self.standards_from(&agg)
    }

    fn standards_from(&self, agg: &super::engine::Aggregates) -> Vec<StandardView> {
        let mem = self;
        mem.set
            .standards
            .iter()
            .enumerate()
            .map(|(si, s)| {
                let mut hosts = Counts::default();
                for ((i, _), c) in &agg.by_standard_department {
                    if *i == si {
                        hosts.add(c);
                    }
                }
                let rules = s
                    .rules
                    .iter()
                    .zip(&agg.by_rule[si])
                    .map(|(r, c)| {
                        let n = |st: State| c[st.index()];
                        let denom =
                            n(State::Pass) + n(State::Fail) + n(State::Unknown) + n(State::Waived);
                        RuleRate {
                            rule: r.id.clone(),
                            title: r.title.clone(),
                            severity: r.severity,
                            pass: n(State::Pass),
                            fail: n(State::Fail),
                            unknown: n(State::Unknown),
                            not_applicable: n(State::NotApplicable),
                            waived: n(State::Waived),
                            pass_rate: (denom > 0)
                                .then(|| (n(State::Pass) + n(State::Waived)) as f64 / denom as f64),
                        }
                    })
                    .collect();
                StandardView {
                    standard: s.id.clone(),
                    title: s.title.clone(),
                    version: s.version.clone(),
                    description: s.description.clone(),
                    hosts,
                    rules,
                }
            })
            .collect()
    }

    /// Per department: hosts by overall standing, and hosts by patch currency — whether
    /// their rules on the age of pending security updates
    /// (`patch.security_update_age_days`) pass (or are waived), fail, or cannot be told.
    pub fn department_figures(&self, now_ms: i64) -> BTreeMap<String, DepartmentCompliance> {
        let mem = self;
        let mut out: BTreeMap<String, DepartmentCompliance> = BTreeMap::new();
        for (dept, c) in &mem.agg.by_department {
            let f = out.entry(dept.to_string()).or_default();
            f.as_of_ms = now_ms;
            f.compliant += c[Status::Compliant.index()];
            f.noncompliant += c[Status::Noncompliant.index()];
            f.unknown += c[Status::Unknown.index()];
        }
        let Some(age) = super::facts::lookup("patch.security_update_age_days") else {
            return out;
        };
        // Which rules of which standard look at the patch age.
        let patch_rules: Vec<Vec<usize>> = mem
            .set
            .standards
            .iter()
            .map(|s| {
                s.rules
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.check.uses_fact(age))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        for h in mem.hosts.values() {
            let mut states = h.results.iter().flat_map(|r| {
                patch_rules[r.standard]
                    .iter()
                    .filter_map(|&i| r.rules.get(i).map(|m| m.state))
            });
            let (mut any, mut fail, mut unknown) = (false, false, false);
            for st in states.by_ref() {
                match st {
                    State::Pass | State::Waived => any = true,
                    State::Fail => (any, fail) = (true, true),
                    State::Unknown => (any, unknown) = (true, true),
                    State::NotApplicable => {}
                }
            }
            if !any {
                continue;
            }
            let f = out.entry(h.facts.ctx.department.to_string()).or_default();
            f.as_of_ms = now_ms;
            if fail {
                f.patch_overdue += 1;
            } else if unknown {
                f.patch_unknown += 1;
            } else {
                f.patch_current += 1;
            }
        }
        out
    }

    pub fn departments(&self) -> Vec<DepartmentView> {
        let mem = self;
        let mut out: BTreeMap<String, DepartmentView> = BTreeMap::new();
        for (dept, c) in &mem.agg.by_department {
            let v = out
                .entry(dept.to_string())
                .or_insert_with(|| DepartmentView {
                    department: dept.to_string(),
                    hosts: Counts::default(),
                    standards: BTreeMap::new(),
                });
            v.hosts.add(c);
        }
        for ((si, dept), c) in &mem.agg.by_standard_department {
            if let Some(v) = out.get_mut(&**dept) {
                v.standards
                    .entry(mem.set.standards[*si].id.clone())
                    .or_default()
                    .add(c);
            }
        }
        out.into_values()
            .filter(|v| v.hosts.compliant + v.hosts.noncompliant + v.hosts.unknown > 0)
            .collect()
    }

    /// Failing, unknown and waived results (the incident engine's input).
    pub fn findings(&self, f: &FindingFilter) -> Vec<Finding> {
        let mem = self;
        let want =
            |v: &Option<String>, x: &str| v.as_deref().is_none_or(|v| v.eq_ignore_ascii_case(x));
        let mut out = Vec::new();
        match &f.agent_id {
            // One host: a lookup, not a scan of the fleet.
            Some(id) => {
                if let Some((id, e)) = mem.hosts.get_key_value(id.as_str()) {
                    if want(&f.department, &e.facts.ctx.department) {
                        host_findings(&mem.set, id, e, f, &mut out);
                    }
                }
            }
            None => {
                for (id, e) in &mem.hosts {
                    if want(&f.department, &e.facts.ctx.department) {
                        host_findings(&mem.set, id, e, f, &mut out);
                    }
                }
            }
        }
        out.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.since_ms.cmp(&b.since_ms))
                .then(a.hostname.cmp(&b.hostname))
        });
        out
    }

    pub fn waivers(&self, now: i64, warn: i64) -> Vec<WaiverView> {
        let mem = self;
        let set = &mem.set;
        set.waivers
            .iter()
            .map(|w| {
                let si = set.standards.iter().position(|s| s.id == w.standard);
                let ri =
                    si.and_then(|si| set.standards[si].rules.iter().position(|r| r.id == w.rule));
                let hosts_waived = match (si, ri) {
                    (Some(si), Some(ri)) => mem
                        .hosts
                        .values()
                        .filter(|e| {
                            w.covers(&e.facts.ctx)
                                && e.results
                                    .iter()
                                    .any(|r| r.standard == si && r.rules[ri].state == State::Waived)
                        })
                        .count(),
                    _ => 0,
                };
                WaiverView {
                    waiver: w.clone(),
                    state: w.state(now, warn),
                    days_left: (w.expires_at_ms - now).max(0) / 86_400_000,
                    hosts_waived,
                }
            })
            .collect()
    }
}

/// A department's compliance and patch figures at one moment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DepartmentCompliance {
    pub as_of_ms: i64,
    /// Hosts by their worst standing over the standards that apply to them.
    pub compliant: i64,
    pub noncompliant: i64,
    pub unknown: i64,
    /// Hosts with a patch-age rule, whose security updates are within the limit / not /
    /// not known.
    pub patch_current: i64,
    pub patch_overdue: i64,
    pub patch_unknown: i64,
}

impl DepartmentCompliance {
    /// Compliant ÷ (compliant + noncompliant); hosts not yet known are left out.
    pub fn compliance_ratio(&self) -> Option<f64> {
        ratio(self.compliant, self.compliant + self.noncompliant)
    }

    pub fn patch_current_ratio(&self) -> Option<f64> {
        ratio(self.patch_current, self.patch_current + self.patch_overdue)
    }
}

/// a ÷ b, or `None` when b is 0 (the SLA report shares it).
pub(crate) fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// A readable table of one evaluation (`standards test`).
pub fn table(set: &StandardSet, results: &[StandardResult], host: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if results.is_empty() {
        let _ = writeln!(out, "{host}: no standard applies to this host (check applies_to and the host's os/class/department)");
        return out;
    }
    for r in results {
        let s = &set.standards[r.standard];
        let _ = writeln!(
            out,
            "{} {} — {} — {host}: {}",
            s.id,
            s.version,
            s.title,
            r.status.as_str().to_uppercase()
        );
        let w_rule = s.rules.iter().map(|r| r.id.len()).max().unwrap_or(4).max(4);
        let _ = writeln!(
            out,
            "  {:<14} {:<8} {:<w_rule$}  observed",
            "result", "severity", "rule"
        );
        for (rule, rr) in s.rules.iter().zip(&r.rules) {
            let mut observed = rr.observed.clone();
            if let Some(w) = rr.waiver {
                let w = &set.waivers[w];
                observed.push_str(&format!(" [waiver {} until {}]", w.id, w.expires));
            }
            let _ = writeln!(
                out,
                "  {:<14} {:<8} {:<w_rule$}  {}",
                rr.state.as_str().to_uppercase(),
                rule.severity.as_str(),
                rule.id,
                observed
            );
        }
        let count = |st: State| r.rules.iter().filter(|x| x.state == st).count();
        let _ = writeln!(
            out,
            "  {} pass, {} fail, {} unknown, {} waived, {} not applicable\n",
            count(State::Pass),
            count(State::Fail),
            count(State::Unknown),
            count(State::Waived),
            count(State::NotApplicable)
        );
    }
    out
}

/// One host's failing, unknown and waived results matching `f`.
fn host_findings(
    set: &super::standard::StandardSet,
    id: &str,
    e: &super::engine::HostEntry,
    f: &FindingFilter,
    out: &mut Vec<Finding>,
) {
    let want = |v: &Option<String>, x: &str| v.as_deref().is_none_or(|v| v.eq_ignore_ascii_case(x));
    for r in &e.results {
        let s = &set.standards[r.standard];
        if !want(&f.standard, &s.id) {
            continue;
        }
        for (rule, m) in s.rules.iter().zip(r.rules.iter()) {
            let relevant = matches!(m.state, State::Fail | State::Unknown | State::Waived);
            if relevant
                && want(&f.state, m.state.as_str())
                && want(&f.severity, rule.severity.as_str())
            {
                out.push(Finding {
                    agent_id: id.to_string(),
                    hostname: e.facts.ctx.hostname.clone(),
                    department: e.facts.ctx.department.to_string(),
                    standard: s.id.clone(),
                    rule: rule.id.clone(),
                    severity: rule.severity,
                    state: m.state,
                    since_ms: m.since_ms,
                });
            }
        }
    }
}
