//! A rule's check: a tree of rule types ([`super::rules`]) joined by `all`, `any` and
//! `none`, compiled once from YAML (every fact name, type and regex checked then) and
//! evaluated in three-valued logic: a fact the host did not report makes a check
//! `unknown`, never `fail`.

use serde_yaml::Value as Yaml;

use super::facts::HostFacts;
pub use super::outcome::{Ctx, Eval, Tri};
use super::rules::{compare::Compare, software::Software};

#[derive(Debug)]
pub enum Check {
    All(Vec<Check>),
    Any(Vec<Check>),
    None(Vec<Check>),
    Compare(Compare),
    Software(Software),
}

const COMBINATORS: [&str; 3] = ["all", "any", "none"];

impl Check {
    /// Does this check (or one inside it) read the fact?
    pub fn uses_fact(&self, fact: super::facts::FactId) -> bool {
        match self {
            Check::All(v) | Check::Any(v) | Check::None(v) => v.iter().any(|c| c.uses_fact(fact)),
            Check::Compare(c) => c.fact == fact,
            Check::Software(_) => false,
        }
    }

    /// Compiles `y` (found at `path`); problems go to `cx` and give `None`.
    pub fn compile(y: &Yaml, path: &str, cx: &mut Ctx<'_>) -> Option<Check> {
        let Some(m) = y.as_mapping() else {
            cx.err(
                path,
                "a check is a mapping, e.g. `{fact: firewall.enabled, equals: true}`",
            );
            return None;
        };
        let keys: Vec<&str> = m.keys().filter_map(|k| k.as_str()).collect();
        if let Some(&k) = keys.iter().find(|k| COMBINATORS.contains(k)) {
            if keys.len() != 1 {
                cx.err(
                    path,
                    format!("`{k}` stands alone in its check; found also {:?}", keys),
                );
                return None;
            }
            let Some(items) = m.get(k).and_then(|v| v.as_sequence()) else {
                cx.err(
                    &format!("{path}.{k}"),
                    format!("`{k}` takes a list of checks"),
                );
                return None;
            };
            if items.is_empty() {
                cx.err(
                    &format!("{path}.{k}"),
                    format!("`{k}` needs at least one check"),
                );
                return None;
            }
            let mut out = Vec::new();
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match Check::compile(item, &format!("{path}.{k}[{i}]"), cx) {
                    Some(c) => out.push(c),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            return Some(match k {
                "all" => Check::All(out),
                "any" => Check::Any(out),
                _ => Check::None(out),
            });
        }
        if let Some(&k) = keys.iter().find(|k| Software::KEYS.contains(k)) {
            if keys.len() != 1 {
                cx.err(
                    path,
                    format!("`{k}` stands alone in its check; found also {:?}", keys),
                );
                return None;
            }
            return Software::compile(k, &m[k], &format!("{path}.{k}"), cx).map(Check::Software);
        }
        if keys.contains(&"fact") {
            return Compare::compile(m, path, cx).map(Check::Compare);
        }
        cx.err(
            path,
            format!(
                "unknown check {:?}: use `fact` with an operator, `software_present`, `software_absent`, `all`, `any` or `none`",
                keys
            ),
        );
        None
    }

    /// The outcome with its observed text.
    pub fn eval(&self, f: &HostFacts, now_ms: i64) -> Eval {
        self.eval_with(f, now_ms, true)
    }

    /// The outcome; the observed text only when `text` (see [`Eval::lazy`]).
    pub fn eval_with(&self, f: &HostFacts, now_ms: i64, text: bool) -> Eval {
        match self {
            Check::Compare(c) => c.eval_with(f, now_ms, text),
            Check::Software(s) => s.eval_with(f, text),
            Check::All(cs) => {
                let evals: Vec<Eval> = cs.iter().map(|c| c.eval_with(f, now_ms, text)).collect();
                decide(evals, Tri::Fail, Tri::Pass)
            }
            Check::Any(cs) => {
                let evals: Vec<Eval> = cs.iter().map(|c| c.eval_with(f, now_ms, text)).collect();
                decide(evals, Tri::Pass, Tri::Fail)
            }
            Check::None(cs) => {
                let evals: Vec<Eval> = cs.iter().map(|c| c.eval_with(f, now_ms, text)).collect();
                let mut e = decide(evals, Tri::Pass, Tri::Fail);
                e.tri = match e.tri {
                    Tri::Pass => Tri::Fail,
                    Tri::Fail => Tri::Pass,
                    Tri::Unknown => Tri::Unknown,
                };
                e
            }
        }
    }

    /// Calls `f` on every software check (to know which packages to keep in memory).
    pub fn visit_software<'a>(&'a self, f: &mut dyn FnMut(&'a Software)) {
        match self {
            Check::All(cs) | Check::Any(cs) | Check::None(cs) => {
                cs.iter().for_each(|c| c.visit_software(f))
            }
            Check::Software(s) => f(s),
            Check::Compare(_) => {}
        }
    }
}

/// Three-valued `all` (decisive = Fail) and `any` (decisive = Pass): one decisive child
/// decides; otherwise an unknown child makes the whole unknown. The observed text names
/// the children that decided.
fn decide(evals: Vec<Eval>, decisive: Tri, otherwise: Tri) -> Eval {
    let pick = |t: Tri| -> Vec<&Eval> { evals.iter().filter(|e| e.tri == t).collect() };
    for t in [decisive, Tri::Unknown] {
        let hits = pick(t);
        if !hits.is_empty() {
            return Eval {
                tri: t,
                observed: join(&hits),
            };
        }
    }
    Eval {
        tri: otherwise,
        observed: join(&evals.iter().collect::<Vec<_>>()),
    }
}

/// The children's observed texts, each once.
fn join(es: &[&Eval]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for e in es {
        if !seen.contains(&e.observed.as_str()) {
            seen.push(&e.observed);
        }
    }
    seen.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::facts::Value;
    use crate::compliance::testutil::{check as compile, facts};

    #[test]
    fn combinators_follow_three_valued_logic() {
        let fw_off = facts(&[("firewall.enabled", Value::Bool(false))]);
        let fw_on_enc = facts(&[
            ("firewall.enabled", Value::Bool(true)),
            ("disk.encrypted", Value::Bool(true)),
        ]);
        let fw_on = facts(&[("firewall.enabled", Value::Bool(true))]);
        let all = compile(
            "all: [{fact: firewall.enabled, equals: true}, {fact: disk.encrypted, equals: true}]",
        )
        .unwrap();
        assert_eq!(
            all.eval(&fw_off, 0).tri,
            Tri::Fail,
            "a failing child decides"
        );
        assert_eq!(all.eval(&fw_on_enc, 0).tri, Tri::Pass);
        let e = all.eval(&fw_on, 0);
        assert_eq!(e.tri, Tri::Unknown);
        assert!(e.observed.contains("disk.encrypted"), "{}", e.observed);

        let any = compile(
            "any: [{fact: firewall.enabled, equals: true}, {fact: disk.encrypted, equals: true}]",
        )
        .unwrap();
        assert_eq!(
            any.eval(&fw_on, 0).tri,
            Tri::Pass,
            "a passing child decides"
        );
        assert_eq!(any.eval(&fw_off, 0).tri, Tri::Unknown);
        let none = compile("none: [{fact: firewall.enabled, equals: true}]").unwrap();
        assert_eq!(none.eval(&fw_on, 0).tri, Tri::Fail);
        assert_eq!(none.eval(&fw_off, 0).tri, Tri::Pass);
        assert_eq!(none.eval(&facts(&[]), 0).tri, Tri::Unknown);
        let nested = compile(
            "any:\n  - all: [{fact: firewall.enabled, equals: true}, {fact: disk.encrypted, equals: true}]\n  - none: [{fact: firewall.enabled, equals: false}]\n",
        )
        .unwrap();
        assert_eq!(nested.eval(&fw_on_enc, 0).tri, Tri::Pass);
        // all → fail (firewall off decides), none → fail (its child passes): any → fail.
        assert_eq!(nested.eval(&fw_off, 0).tri, Tri::Fail);
    }

    #[test]
    fn malformed_checks_are_rejected_with_their_path() {
        for (src, want) in [
            ("all: []", "needs at least one check"),
            (
                "{all: [{fact: firewall.enabled, equals: true}], any: []}",
                "stands alone",
            ),
            ("bogus: 1", "unknown check"),
            ("[1, 2]", "a check is a mapping"),
            ("any: [{fact: nope.nope, equals: 1}]", "check.any[0]"),
        ] {
            let e = compile(src).unwrap_err();
            assert!(e.contains(want), "{src}: {e}");
            assert!(e.contains("rule r:"), "{e}");
        }
    }
}
