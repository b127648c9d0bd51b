//! The compliance engine: every host's facts and results in memory, re-evaluated when a
//! host's facts change, when the standards change, and when time alone changes a result
//! (patch ages grow, waivers expire). Memory keeps each rule's state and since when; the
//! observed values are rendered on demand from the facts (the API evaluates one host
//! afresh). A host's row is persisted only when a rule changes state, so `since` survives
//! restarts without rewriting the fleet every time a patch age ticks; aggregates for
//! metrics and the API are kept up to date incrementally.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::evaluate::{evaluate, StandardResult, State, Status};
use super::facts::{HostFacts, HostInputs, Interner};
use super::standard::StandardSet;

/// One rule's result as kept in memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleMem {
    pub state: State,
    pub since_ms: i64,
}

#[derive(Debug, Clone)]
pub struct StdMem {
    pub standard: usize,
    pub status: Status,
    pub rules: Box<[RuleMem]>,
}

#[derive(Debug, Default)]
pub struct HostEntry {
    pub facts: HostFacts,
    pub results: Vec<StdMem>,
}

/// One stored rule result (the `results_json` of a compliance row).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredRule {
    pub rule: String,
    pub state: State,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub observed: String,
    pub since_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<String>,
}

/// A (host, standard) row to write.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplianceRow {
    pub agent_id: String,
    pub standard_id: String,
    pub status: String,
    pub results_json: String,
    pub evaluated_at_ms: i64,
}

/// What an evaluation changed, to persist.
#[derive(Debug, Default)]
pub struct Changes {
    pub upserts: Vec<ComplianceRow>,
    pub deletes: Vec<(String, String)>,
    /// Rule results that changed state: (agent, standard, rule, new state).
    pub transitions: u64,
}

impl Changes {
    pub fn append(&mut self, mut o: Changes) {
        self.upserts.append(&mut o.upserts);
        self.deletes.append(&mut o.deletes);
        self.transitions += o.transitions;
    }
}

/// Counts kept up to date as results change: what metrics and summaries read.
#[derive(Debug, Default, Clone)]
pub struct Aggregates {
    /// (standard, department) → hosts by status.
    pub by_standard_department: HashMap<(usize, Arc<str>), [i64; 3]>,
    /// department → hosts by overall status (worst over their standards).
    pub by_department: HashMap<Arc<str>, [i64; 3]>,
    /// standard → rule → hosts by state.
    pub by_rule: Vec<Vec<[i64; 5]>>,
}

impl Aggregates {
    pub(crate) fn new(set: &StandardSet) -> Self {
        Aggregates {
            by_rule: set
                .standards
                .iter()
                .map(|s| vec![[0; 5]; s.rules.len()])
                .collect(),
            ..Default::default()
        }
    }

    pub(crate) fn apply(&mut self, dept: &Arc<str>, results: &[StdMem], sign: i64) {
        if results.is_empty() {
            return;
        }
        let mut overall = Status::Compliant;
        for r in results {
            overall = Status::worst(overall, r.status);
            self.by_standard_department
                .entry((r.standard, dept.clone()))
                .or_default()[r.status.index()] += sign;
            if let Some(rules) = self.by_rule.get_mut(r.standard) {
                for (i, m) in r.rules.iter().enumerate() {
                    rules[i][m.state.index()] += sign;
                }
            }
        }
        self.by_department.entry(dept.clone()).or_default()[overall.index()] += sign;
    }
}

/// Everything the engine holds.
pub struct Memory {
    pub set: Arc<StandardSet>,
    pub hosts: HashMap<String, HostEntry>,
    pub interner: Interner,
    pub agg: Aggregates,
}

impl Memory {
    pub fn new(set: Arc<StandardSet>) -> Self {
        let agg = Aggregates::new(&set);
        Memory {
            set,
            hosts: HashMap::new(),
            interner: Interner::default(),
            agg,
        }
    }

    /// Builds a host's facts from its stored sections (keeping only the packages the
    /// standards ask about).
    pub fn facts_from(&mut self, inp: &HostInputs) -> HostFacts {
        let set = self.set.clone();
        HostFacts::build(inp, &|n| set.software.wants(n), &mut self.interner)
    }

    /// Seeds a host's previous results from the store, so `since` survives restarts.
    pub fn seed(&mut self, agent_id: &str, standard_id: &str, status: &str, rules: &[StoredRule]) {
        let Some(si) = self.set.standards.iter().position(|s| s.id == standard_id) else {
            return;
        };
        let std = &self.set.standards[si];
        let mems: Vec<RuleMem> = std
            .rules
            .iter()
            .map(|r| match rules.iter().find(|s| s.rule == r.id) {
                Some(s) => RuleMem {
                    state: s.state,
                    since_ms: s.since_ms,
                },
                // A rule added since: no previous result; the next evaluation writes it.
                None => RuleMem {
                    state: State::NotApplicable,
                    since_ms: 0,
                },
            })
            .collect();
        let status = Status::ALL
            .into_iter()
            .find(|s| s.as_str() == status)
            .unwrap_or(Status::Unknown);
        let e = self.hosts.entry(agent_id.to_string()).or_default();
        e.results.push(StdMem {
            standard: si,
            status,
            rules: mems.into(),
        });
    }

    /// Re-evaluates one host with new facts; returns what to persist.
    pub fn update_host(&mut self, agent_id: &str, facts: HostFacts, now_ms: i64) -> Changes {
        let set = self.set.clone();
        let e = self.hosts.entry(agent_id.to_string()).or_default();
        let old_dept = e.facts.ctx.department.clone();
        self.agg.apply(&old_dept, &e.results, -1);
        e.facts = facts;
        let ch = reevaluate(&set, agent_id, e, now_ms);
        self.agg.apply(&e.facts.ctx.department, &e.results, 1);
        ch
    }

    /// Forgets a host (gone from the store, or retired); its stored results are deleted.
    pub fn remove_host(&mut self, agent_id: &str) -> Changes {
        let mut ch = Changes::default();
        if let Some(e) = self.hosts.remove(agent_id) {
            self.agg.apply(&e.facts.ctx.department, &e.results, -1);
            for r in &e.results {
                ch.deletes.push((
                    agent_id.to_string(),
                    self.set.standards[r.standard].id.clone(),
                ));
            }
        }
        ch
    }

    /// Re-evaluates every host (standards changed, or time passed) on `threads` threads,
    /// handing what to persist to `sink` in batches of at most [`SINK_BATCH`] hosts, so
    /// the first evaluation of a large fleet never holds all its rows at once. Returns the
    /// number of rule results that changed state.
    pub fn reevaluate_all(
        &mut self,
        now_ms: i64,
        threads: usize,
        sink: &(dyn Fn(Changes) + Sync),
    ) -> u64 {
        let set = self.set.clone();
        let mut entries: Vec<(&String, &mut HostEntry)> = self.hosts.iter_mut().collect();
        let chunk = entries.len().div_ceil(threads.max(1)).max(1);
        let transitions = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|sc| {
            for part in entries.chunks_mut(chunk) {
                let (set, transitions) = (&set, &transitions);
                sc.spawn(move || {
                    for batch in part.chunks_mut(SINK_BATCH) {
                        let mut ch = Changes::default();
                        for (id, e) in batch.iter_mut() {
                            ch.append(reevaluate(set, id, e, now_ms));
                        }
                        transitions.fetch_add(ch.transitions, std::sync::atomic::Ordering::Relaxed);
                        if !ch.upserts.is_empty() || !ch.deletes.is_empty() {
                            sink(ch);
                        }
                    }
                });
            }
        });
        self.rebuild_aggregates();
        transitions.into_inner()
    }

    /// Replaces the standards: results of rules that still exist keep their `since`.
    pub fn replace_set(&mut self, new: Arc<StandardSet>) {
        let old = std::mem::replace(&mut self.set, new.clone());
        for e in self.hosts.values_mut() {
            let mut mapped = Vec::new();
            for r in e.results.drain(..) {
                let os = &old.standards[r.standard];
                let Some(ni) = new.standards.iter().position(|s| s.id == os.id) else {
                    continue;
                };
                let ns = &new.standards[ni];
                let rules: Vec<RuleMem> = ns
                    .rules
                    .iter()
                    .map(|nr| match os.rules.iter().position(|o| o.id == nr.id) {
                        Some(oi) => r.rules[oi],
                        None => RuleMem {
                            state: State::NotApplicable,
                            since_ms: 0,
                        },
                    })
                    .collect();
                mapped.push(StdMem {
                    standard: ni,
                    status: r.status,
                    rules: rules.into(),
                });
            }
            e.results = mapped;
        }
        self.rebuild_aggregates();
    }

    fn rebuild_aggregates(&mut self) {
        let mut agg = Aggregates::new(&self.set);
        for e in self.hosts.values() {
            agg.apply(&e.facts.ctx.department, &e.results, 1);
        }
        self.agg = agg;
    }
}

/// Hosts per batch handed to the sink by [`Memory::reevaluate_all`].
pub const SINK_BATCH: usize = 2000;

/// Evaluates one host and diffs its states against the previous ones; the observed texts
/// are rendered only for the standards whose rows must be written.
fn reevaluate(set: &StandardSet, agent_id: &str, e: &mut HostEntry, now_ms: i64) -> Changes {
    let fresh = evaluate(set, &e.facts, now_ms, false);
    let mut ch = Changes::default();
    let mut next = Vec::with_capacity(fresh.len());
    let mut rendered: Option<Vec<StandardResult>> = None;
    for r in &fresh {
        let prev = e.results.iter().find(|p| p.standard == r.standard);
        let mut changed = prev.is_none_or(|p| p.status != r.status);
        let mems: Vec<RuleMem> = r
            .rules
            .iter()
            .enumerate()
            .map(|(i, rr)| match prev.and_then(|p| p.rules.get(i)) {
                Some(p) if p.state == rr.state => RuleMem {
                    state: rr.state,
                    since_ms: p.since_ms,
                },
                _ => {
                    changed = true;
                    ch.transitions += 1;
                    RuleMem {
                        state: rr.state,
                        since_ms: now_ms,
                    }
                }
            })
            .collect();
        if changed {
            let full = rendered.get_or_insert_with(|| evaluate(set, &e.facts, now_ms, true));
            let with_text = full.iter().find(|x| x.standard == r.standard).unwrap_or(r);
            ch.upserts
                .push(row(set, agent_id, with_text, &mems, now_ms));
        }
        next.push(StdMem {
            standard: r.standard,
            status: r.status,
            rules: mems.into(),
        });
    }
    for p in &e.results {
        if !fresh.iter().any(|r| r.standard == p.standard) {
            ch.deletes
                .push((agent_id.to_string(), set.standards[p.standard].id.clone()));
        }
    }
    e.results = next;
    ch
}

fn row(
    set: &StandardSet,
    agent_id: &str,
    r: &StandardResult,
    mems: &[RuleMem],
    now_ms: i64,
) -> ComplianceRow {
    let std = &set.standards[r.standard];
    let rules: Vec<StoredRule> = std
        .rules
        .iter()
        .zip(&r.rules)
        .zip(mems)
        .map(|((rule, rr), m)| StoredRule {
            rule: rule.id.clone(),
            state: rr.state,
            observed: rr.observed.clone(),
            since_ms: m.since_ms,
            waiver: rr.waiver.map(|w| set.waivers[w].id.clone()),
        })
        .collect();
    ComplianceRow {
        agent_id: agent_id.to_string(),
        standard_id: std.id.clone(),
        status: r.status.as_str().to_string(),
        results_json: serde_json::to_string(&rules).expect("results serialize"),
        evaluated_at_ms: now_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::facts::{lookup, HostContext, Value, FACTS};
    use std::path::{Path, PathBuf};

    const STD: &str = "\
standard:
  id: ws
  title: Workstation
  version: '1'
  rules:
    - {id: fw, title: Firewall, severity: high, check: {fact: firewall.enabled, equals: true}}
    - {id: patch, title: Patched, severity: high, check: {fact: patch.security_update_age_days, le: 14}}
";

    fn set(src: &str) -> Arc<StandardSet> {
        Arc::new(
            StandardSet::from_sources(Path::new("."), &[(PathBuf::from("s.yaml"), src.into())])
                .unwrap(),
        )
    }

    fn facts(dept: &str, fw: bool, oldest_ms: i64) -> HostFacts {
        let mut values = vec![None; FACTS.len()];
        values[lookup("firewall.enabled").unwrap()] = Some(Value::Bool(fw));
        values[lookup("patch.security_update_age_days").unwrap()] =
            Some(Value::DaysSince(oldest_ms));
        HostFacts {
            ctx: HostContext {
                department: dept.into(),
                ..Default::default()
            },
            values,
            software: None,
        }
    }

    const DAY: i64 = 86_400_000;

    /// Full re-evaluation with the sink's batches gathered.
    fn all(st: &mut Memory, now: i64, threads: usize) -> Changes {
        let got = std::sync::Mutex::new(Changes::default());
        let t = st.reevaluate_all(now, threads, &|c| got.lock().unwrap().append(c));
        let mut ch = got.into_inner().unwrap();
        assert_eq!(ch.transitions, t);
        ch.upserts.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
        ch
    }

    #[test]
    fn since_and_persistence_follow_changes_only() {
        let mut st = Memory::new(set(STD));
        let ch = st.update_host("a", facts("schools", true, 0), DAY);
        assert_eq!(ch.upserts.len(), 1);
        assert_eq!(ch.transitions, 2);
        // Same facts, same results: nothing to write.
        let ch = st.update_host("a", facts("schools", true, 0), DAY + 1000);
        assert!(ch.upserts.is_empty(), "{:?}", ch.upserts);
        // Time alone makes the patch rule fail after 14 days.
        let ch = all(&mut st, 20 * DAY, 2);
        assert_eq!(ch.transitions, 1);
        let rules: Vec<StoredRule> = serde_json::from_str(&ch.upserts[0].results_json).unwrap();
        assert_eq!(rules[0].since_ms, DAY, "unchanged rule keeps its since");
        assert_eq!((rules[1].state, rules[1].since_ms), (State::Fail, 20 * DAY));
        assert_eq!(
            rules[1].observed,
            "patch.security_update_age_days = 20 (wanted <= 14)"
        );
        assert_eq!(st.agg.by_department[&Arc::from("schools")], [0, 1, 0]);
        assert_eq!(st.agg.by_rule[0][1][State::Fail.index()], 1);
    }

    #[test]
    fn aggregates_follow_department_moves_and_reloads_keep_since() {
        let mut st = Memory::new(set(STD));
        st.update_host("a", facts("schools", false, 0), DAY);
        st.update_host("b", facts("schools", true, 0), DAY);
        assert_eq!(st.agg.by_department[&Arc::from("schools")], [1, 1, 0]);
        st.update_host("a", facts("social", false, 0), DAY);
        assert_eq!(st.agg.by_department[&Arc::from("schools")], [1, 0, 0]);
        assert_eq!(st.agg.by_department[&Arc::from("social")], [0, 1, 0]);
        // A reload that drops `patch` and adds `enc`: fw keeps its since.
        let v2 = STD.replace(
            "- {id: patch, title: Patched, severity: high, check: {fact: patch.security_update_age_days, le: 14}}",
            "- {id: enc, title: Encrypted, severity: high, check: {fact: disk.encrypted, equals: true}}",
        );
        st.replace_set(set(&v2));
        let ch = all(&mut st, 5 * DAY, 1);
        let a = ch.upserts.iter().find(|r| r.agent_id == "a").unwrap();
        let rules: Vec<StoredRule> = serde_json::from_str(&a.results_json).unwrap();
        assert_eq!((rules[0].rule.as_str(), rules[0].since_ms), ("fw", DAY));
        assert_eq!(
            (rules[1].rule.as_str(), rules[1].state),
            ("enc", State::Unknown)
        );
        st.remove_host("a");
        assert_eq!(st.agg.by_department[&Arc::from("social")], [0, 0, 0]);
    }

    #[test]
    fn seeded_results_keep_since_across_restarts() {
        let mut st = Memory::new(set(STD));
        let stored = vec![
            StoredRule {
                rule: "fw".into(),
                state: State::Fail,
                observed: "firewall.enabled = false".into(),
                since_ms: 7,
                waiver: None,
            },
            StoredRule {
                rule: "patch".into(),
                state: State::Pass,
                observed: "patch.security_update_age_days = 0".into(),
                since_ms: 7,
                waiver: None,
            },
        ];
        st.seed("a", "ws", "noncompliant", &stored);
        let ch = st.update_host("a", facts("schools", false, 0), DAY);
        assert_eq!(ch.transitions, 0);
        assert!(ch.upserts.is_empty(), "no state changed: nothing to write");
        assert_eq!(st.hosts["a"].results[0].rules[0].since_ms, 7);
    }
}
