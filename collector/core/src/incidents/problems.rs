//! Problem management: when the same check fails on many hosts at once, that is one
//! problem (a major incident), not hundreds of tickets. A storm rule per check says how
//! many is many — at least `min_hosts` hosts fleet-wide, or at least `department_percent`
//! of a department's hosts — within `window`. When a rule trips, one problem opens for the
//! pattern and the host incidents of that check (those already open in the window and
//! those that follow) are attached to it; it resolves when every attached incident has.
//! Pure: time and department sizes come in as arguments.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// When a check's failures form a storm.
#[derive(Debug, Clone, PartialEq)]
pub struct StormRule {
    /// Check ids this rule covers (`*` and `?` globs): `offline`, `compliance/*/firewall-enabled`.
    pub checks: String,
    pub min_hosts: Option<u32>,
    pub department_percent: Option<f64>,
    pub window_ms: i64,
}

/// Where a problem applies: the whole fleet or one department.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Fleet,
    Department(String),
}

impl Scope {
    /// `fleet` or `department:<id>` (stored with the problem).
    pub fn as_string(&self) -> String {
        match self {
            Scope::Fleet => "fleet".into(),
            Scope::Department(d) => format!("department:{d}"),
        }
    }
    pub fn parse(s: &str) -> Scope {
        match s.strip_prefix("department:") {
            Some(d) => Scope::Department(d.to_string()),
            None => Scope::Fleet,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemEvent {
    /// A problem opens for `check` in `scope`, with the incidents (host ids) it starts with.
    Open {
        check: String,
        scope: Scope,
        hosts: Vec<String>,
    },
    /// One more host incident belongs to the open problem.
    Attach {
        check: String,
        scope: Scope,
        host: String,
    },
    /// Every attached incident is resolved: the pattern has cleared.
    Resolve { check: String, scope: Scope },
}

#[derive(Debug, Default)]
struct Problem {
    open_hosts: BTreeSet<String>,
}

/// The problems and the recent openings they are detected from.
#[derive(Debug, Default)]
pub struct Problems {
    rules: Vec<StormRule>,
    /// check → recent openings (time, host, department), oldest first.
    recent: BTreeMap<String, VecDeque<(i64, String, String)>>,
    open: BTreeMap<(String, Scope), Problem>,
}

impl Problems {
    pub fn new(rules: Vec<StormRule>) -> Self {
        Problems {
            rules,
            ..Default::default()
        }
    }

    /// Restores an open problem after a restart, with the hosts whose incidents are open.
    pub fn restore(&mut self, check: &str, scope: Scope, hosts: impl IntoIterator<Item = String>) {
        self.open.insert(
            (check.to_string(), scope),
            Problem {
                open_hosts: hosts.into_iter().collect(),
            },
        );
    }

    /// The open problem a new incident of `check` on a host of `department` belongs to.
    pub fn problem_for(&self, check: &str, department: &str) -> Option<Scope> {
        [Scope::Department(department.to_string()), Scope::Fleet]
            .into_iter()
            .find(|s| self.open.contains_key(&(check.to_string(), s.clone())))
    }

    /// A host incident of `check` opened at `now_ms`. `department_hosts` gives a
    /// department's size (for percentage rules).
    pub fn opened(
        &mut self,
        check: &str,
        host: &str,
        department: &str,
        now_ms: i64,
        department_hosts: &dyn Fn(&str) -> u32,
    ) -> Vec<ProblemEvent> {
        if let Some(scope) = self.problem_for(check, department) {
            let p = self
                .open
                .get_mut(&(check.to_string(), scope.clone()))
                .expect("open problem");
            if p.open_hosts.insert(host.to_string()) {
                return vec![ProblemEvent::Attach {
                    check: check.into(),
                    scope,
                    host: host.into(),
                }];
            }
            return vec![];
        }
        let Some(rule) = self
            .rules
            .iter()
            .find(|r| crate::text::glob(&r.checks, check))
            .cloned()
        else {
            return vec![];
        };
        let recent = self.recent.entry(check.to_string()).or_default();
        recent.retain(|(_, h, _)| h != host);
        recent.push_back((now_ms, host.to_string(), department.to_string()));
        while recent
            .front()
            .is_some_and(|(t, _, _)| now_ms - t > rule.window_ms)
        {
            recent.pop_front();
        }
        let fleet = rule
            .min_hosts
            .is_some_and(|n| recent.len() as u32 >= n.max(1));
        let in_dept: Vec<&(i64, String, String)> =
            recent.iter().filter(|(_, _, d)| d == department).collect();
        let dept = rule.department_percent.is_some_and(|pct| {
            let size = department_hosts(department).max(1) as f64;
            in_dept.len() as f64 * 100.0 / size >= pct
        });
        let (scope, hosts): (Scope, Vec<String>) = if fleet {
            (
                Scope::Fleet,
                recent.iter().map(|(_, h, _)| h.clone()).collect(),
            )
        } else if dept {
            (
                Scope::Department(department.to_string()),
                in_dept.iter().map(|(_, h, _)| h.clone()).collect(),
            )
        } else {
            return vec![];
        };
        let key = (check.to_string(), scope.clone());
        self.open.insert(
            key,
            Problem {
                open_hosts: hosts.iter().cloned().collect(),
            },
        );
        // The openings that formed this problem are accounted for.
        recent.retain(|(_, h, _)| !hosts.contains(h));
        vec![ProblemEvent::Open {
            check: check.into(),
            scope,
            hosts,
        }]
    }

    /// A host incident of `check` resolved.
    pub fn resolved(&mut self, check: &str, host: &str) -> Vec<ProblemEvent> {
        if let Some(recent) = self.recent.get_mut(check) {
            recent.retain(|(_, h, _)| h != host);
        }
        let mut out = Vec::new();
        let keys: Vec<(String, Scope)> = self
            .open
            .keys()
            .filter(|(c, _)| c == check)
            .cloned()
            .collect();
        for key in keys {
            let p = self.open.get_mut(&key).expect("key");
            if p.open_hosts.remove(host) && p.open_hosts.is_empty() {
                self.open.remove(&key);
                out.push(ProblemEvent::Resolve {
                    check: key.0,
                    scope: key.1,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn rule(min_hosts: Option<u32>, pct: Option<f64>) -> StormRule {
        StormRule {
            checks: "offline".into(),
            min_hosts,
            department_percent: pct,
            window_ms: 10 * MIN,
        }
    }

    #[test]
    fn twenty_hosts_in_ten_minutes_are_one_problem() {
        let mut p = Problems::new(vec![rule(Some(20), None)]);
        let size = |_: &str| 1000;
        let mut events = Vec::new();
        for i in 0..25 {
            events.extend(p.opened("offline", &format!("h{i}"), "schools", i * 10_000, &size));
        }
        match &events[0] {
            ProblemEvent::Open { scope, hosts, .. } => {
                assert_eq!(*scope, Scope::Fleet);
                assert_eq!(
                    hosts.len(),
                    20,
                    "the 20 incidents that formed it are attached"
                );
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(events.len(), 6, "then five attachments: {events:?}");
        assert!(events[1..]
            .iter()
            .all(|e| matches!(e, ProblemEvent::Attach { .. })));
        // It clears when every attached incident has resolved.
        let mut last = Vec::new();
        for i in 0..25 {
            last = p.resolved("offline", &format!("h{i}"));
            if i < 24 {
                assert!(last.is_empty());
            }
        }
        assert_eq!(
            last,
            vec![ProblemEvent::Resolve {
                check: "offline".into(),
                scope: Scope::Fleet
            }]
        );
        assert_eq!(p.problem_for("offline", "schools"), None);
    }

    #[test]
    fn spread_out_failures_are_separate_incidents() {
        let mut p = Problems::new(vec![rule(Some(3), None)]);
        let size = |_: &str| 100;
        let mut events = Vec::new();
        for i in 0..5 {
            events.extend(p.opened("offline", &format!("h{i}"), "schools", i * 6 * MIN, &size));
        }
        assert!(events.is_empty(), "never 3 within 10 minutes: {events:?}");
        assert!(
            p.opened("health/disk", "x", "schools", 0, &size).is_empty(),
            "no rule for the check"
        );
    }

    #[test]
    fn five_percent_of_a_department_is_a_department_problem() {
        let mut p = Problems::new(vec![rule(None, Some(5.0))]);
        let size = |d: &str| if d == "schools" { 40 } else { 1000 };
        assert!(p.opened("offline", "a", "schools", 0, &size).is_empty());
        let e = p.opened("offline", "b", "schools", MIN, &size);
        assert_eq!(
            e,
            vec![ProblemEvent::Open {
                check: "offline".into(),
                scope: Scope::Department("schools".into()),
                hosts: vec!["a".into(), "b".into()]
            }]
        );
        // Another department is not part of it.
        assert!(p
            .opened("offline", "c", "social", 2 * MIN, &size)
            .is_empty());
        assert_eq!(p.problem_for("offline", "social"), None);
        assert_eq!(
            p.problem_for("offline", "schools"),
            Some(Scope::Department("schools".into()))
        );
    }
}
