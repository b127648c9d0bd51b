//! Rule type `fact` + operator: compares one typed fact with a constant.
//!
//! Operators by fact type (anything else is rejected when the standard loads):
//! - every scalar type: `equals`, `not_equals`, `one_of`;
//! - string and version: `matches` (regular expression);
//! - integer, number and version: `lt`, `le`, `gt`, `ge` (versions in version order);
//! - list of strings: `contains`, `not_contains`, `subset_of`.
//!
//! Strings compare without regard to ASCII case (`Ubuntu` = `ubuntu`); `matches` is exact
//! unless the pattern says `(?i)`.

use std::cmp::Ordering;

use regex::Regex;
use serde_yaml::{Mapping, Value as Yaml};

use crate::compliance::facts::{self, FactId, FactType, HostFacts, Value, FACTS};
use crate::compliance::outcome::{Ctx, Eval, Tri};
use crate::compliance::version::{self, Scheme};

#[derive(Debug, Clone)]
pub enum Const {
    Bool(bool),
    Num(f64),
    Str(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rel {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Rel {
    fn holds(self, o: Ordering) -> bool {
        match self {
            Rel::Lt => o == Ordering::Less,
            Rel::Le => o != Ordering::Greater,
            Rel::Gt => o == Ordering::Greater,
            Rel::Ge => o != Ordering::Less,
        }
    }
    fn symbol(self) -> &'static str {
        match self {
            Rel::Lt => "<",
            Rel::Le => "<=",
            Rel::Gt => ">",
            Rel::Ge => ">=",
        }
    }
}

#[derive(Debug)]
pub enum Op {
    Equals(Const),
    NotEquals(Const),
    OneOf(Vec<Const>),
    Matches(Regex),
    Order(Rel, Const),
    Contains(String),
    NotContains(String),
    SubsetOf(Vec<String>),
}

#[derive(Debug)]
pub struct Compare {
    pub fact: FactId,
    pub op: Op,
}

pub const OPERATORS: [&str; 11] = [
    "equals",
    "not_equals",
    "one_of",
    "matches",
    "lt",
    "le",
    "gt",
    "ge",
    "contains",
    "not_contains",
    "subset_of",
];

fn allowed(ty: FactType) -> &'static [&'static str] {
    match ty {
        FactType::Bool => &["equals", "not_equals"],
        FactType::Integer | FactType::Number => {
            &["equals", "not_equals", "one_of", "lt", "le", "gt", "ge"]
        }
        FactType::String => &["equals", "not_equals", "one_of", "matches"],
        FactType::Version => &[
            "equals",
            "not_equals",
            "one_of",
            "matches",
            "lt",
            "le",
            "gt",
            "ge",
        ],
        FactType::List => &["contains", "not_contains", "subset_of"],
    }
}

impl Compare {
    pub fn compile(m: &Mapping, path: &str, cx: &mut Ctx<'_>) -> Option<Compare> {
        let name = match m.get("fact") {
            Some(Yaml::String(s)) => s.as_str(),
            _ => {
                cx.err(
                    &format!("{path}.fact"),
                    "`fact` names a fact, e.g. `fact: firewall.enabled`",
                );
                return None;
            }
        };
        let Some(fact) = facts::lookup(name) else {
            cx.err(
                &format!("{path}.fact"),
                format!("unknown fact `{name}`{}", facts::suggest(name)),
            );
            return None;
        };
        let ty = FACTS[fact].ty;
        let ops: Vec<&str> = m
            .keys()
            .filter_map(|k| k.as_str())
            .filter(|k| *k != "fact")
            .collect();
        let [op] = ops.as_slice() else {
            cx.err(
                path,
                format!(
                    "a fact check needs exactly one operator ({}); found {:?}",
                    allowed(ty).join(", "),
                    ops
                ),
            );
            return None;
        };
        let op = *op;
        let at = format!("{path}.{op}");
        if !OPERATORS.contains(&op) {
            cx.err(
                &at,
                format!("unknown operator `{op}` (one of {})", OPERATORS.join(", ")),
            );
            return None;
        }
        if !allowed(ty).contains(&op) {
            cx.err(
                &at,
                format!(
                    "`{op}` cannot be used with `{name}`, {}; use {}",
                    ty.name(),
                    allowed(ty).join(", ")
                ),
            );
            return None;
        }
        let arg = &m[op];
        let konst = |cx: &mut Ctx<'_>, y: &Yaml, at: &str| constant(ty, name, y, at, cx);
        let op = match op {
            "equals" => Op::Equals(konst(cx, arg, &at)?),
            "not_equals" => Op::NotEquals(konst(cx, arg, &at)?),
            "one_of" => {
                let Some(items) = arg.as_sequence().filter(|s| !s.is_empty()) else {
                    cx.err(&at, "`one_of` takes a non-empty list");
                    return None;
                };
                let mut out = Vec::new();
                for (i, y) in items.iter().enumerate() {
                    out.push(konst(cx, y, &format!("{at}[{i}]"))?);
                }
                Op::OneOf(out)
            }
            "matches" => {
                let Some(p) = arg.as_str() else {
                    cx.err(&at, "`matches` takes a regular expression as a string");
                    return None;
                };
                match Regex::new(p) {
                    Ok(r) => Op::Matches(r),
                    Err(e) => {
                        cx.err(&at, format!("invalid regular expression {p:?}: {e}"));
                        return None;
                    }
                }
            }
            "lt" | "le" | "gt" | "ge" => {
                let rel = match op {
                    "lt" => Rel::Lt,
                    "le" => Rel::Le,
                    "gt" => Rel::Gt,
                    _ => Rel::Ge,
                };
                Op::Order(rel, konst(cx, arg, &at)?)
            }
            "contains" | "not_contains" => {
                let Some(s) = arg.as_str() else {
                    cx.err(&at, format!("`{op}` takes a string"));
                    return None;
                };
                if op == "contains" {
                    Op::Contains(s.to_string())
                } else {
                    Op::NotContains(s.to_string())
                }
            }
            _ => {
                let Some(items) = arg.as_sequence().and_then(|s| {
                    s.iter()
                        .map(|y| y.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                }) else {
                    cx.err(&at, "`subset_of` takes a list of strings");
                    return None;
                };
                Op::SubsetOf(items)
            }
        };
        Some(Compare { fact, op })
    }

    pub fn eval_with(&self, f: &HostFacts, now_ms: i64, text: bool) -> Eval {
        let def = &FACTS[self.fact];
        let Some(v) = f.get(self.fact) else {
            return Eval::unknown(def.name, text);
        };
        let shown = || format!("{} = {}", def.name, v.display(now_ms));
        let ok = match &self.op {
            Op::Equals(c) => equal(v, c, now_ms),
            Op::NotEquals(c) => !equal(v, c, now_ms),
            Op::OneOf(cs) => cs.iter().any(|c| equal(v, c, now_ms)),
            Op::Matches(r) => match v {
                Value::Str(s) | Value::Version(s) => r.is_match(s),
                _ => false,
            },
            Op::Order(rel, c) => order(v, c, now_ms).is_some_and(|o| rel.holds(o)),
            // Lists can be long: say what was looked for, not the whole list.
            Op::Contains(x) | Op::NotContains(x) => {
                let has = list(v).iter().any(|s| s.eq_ignore_ascii_case(x));
                let ok = has == matches!(self.op, Op::Contains(_));
                let tri = if ok { Tri::Pass } else { Tri::Fail };
                return Eval::lazy(tri, text, || {
                    format!("{} {} {x}", def.name, if has { "has" } else { "lacks" })
                });
            }
            Op::SubsetOf(allowed) => {
                let extra: Vec<&str> = list(v)
                    .iter()
                    .filter(|s| !allowed.iter().any(|a| a.eq_ignore_ascii_case(s)))
                    .map(|s| &**s)
                    .collect();
                if !extra.is_empty() {
                    return Eval::lazy(Tri::Fail, text, || {
                        format!("{} not allowed: {}", def.name, extra.join(", "))
                    });
                }
                true
            }
        };
        if ok {
            Eval::lazy(Tri::Pass, text, shown)
        } else {
            Eval::lazy(Tri::Fail, text, || {
                let want = match &self.op {
                    Op::Order(rel, c) => format!(" (wanted {} {})", rel.symbol(), show(c)),
                    _ => String::new(),
                };
                format!("{}{want}", shown())
            })
        }
    }
}

fn show(c: &Const) -> String {
    match c {
        Const::Bool(b) => b.to_string(),
        Const::Num(n) => n.to_string(),
        Const::Str(s) => s.clone(),
    }
}

fn list(v: &Value) -> &[std::sync::Arc<str>] {
    match v {
        Value::List(l) => l,
        _ => &[],
    }
}

fn equal(v: &Value, c: &Const, now_ms: i64) -> bool {
    match (v, c) {
        (Value::Bool(a), Const::Bool(b)) => a == b,
        (Value::Str(a), Const::Str(b)) => a.eq_ignore_ascii_case(b),
        (Value::Version(a), Const::Str(b)) => {
            version::compare(Scheme::Generic, a, b) == Ordering::Equal
        }
        (_, Const::Num(b)) => v.number(now_ms).is_some_and(|a| a == *b),
        _ => false,
    }
}

fn order(v: &Value, c: &Const, now_ms: i64) -> Option<Ordering> {
    match (v, c) {
        (Value::Version(a), Const::Str(b)) => Some(version::compare(Scheme::Generic, a, b)),
        (_, Const::Num(b)) => v.number(now_ms)?.partial_cmp(b),
        _ => None,
    }
}

/// A constant of the fact's type, or an error naming both types.
fn constant(ty: FactType, fact: &str, y: &Yaml, at: &str, cx: &mut Ctx<'_>) -> Option<Const> {
    let found = match y {
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        _ => "nothing",
    };
    let c = match (ty, y) {
        (FactType::Bool, Yaml::Bool(b)) => Some(Const::Bool(*b)),
        (FactType::Integer | FactType::Number, Yaml::Number(n)) => n.as_f64().map(Const::Num),
        (FactType::String, Yaml::String(s)) => Some(Const::Str(s.clone())),
        (FactType::Version, Yaml::String(s)) => match version::valid(Scheme::Generic, s) {
            Ok(()) => Some(Const::Str(s.clone())),
            Err(e) => {
                cx.err(at, format!("invalid version {s:?}: {e}"));
                return None;
            }
        },
        // `ge: 12` is fine; `ge: 10.10` would arrive as the float 10.1.
        (FactType::Version, Yaml::Number(n)) if n.is_i64() || n.is_u64() => {
            Some(Const::Str(n.to_string()))
        }
        (FactType::Version, Yaml::Number(n)) => {
            cx.err(at, format!("write versions as strings (`\"{n}\"`): YAML reads {n} as a number and drops trailing zeros"));
            return None;
        }
        _ => None,
    };
    if c.is_none() {
        cx.err(
            at,
            format!("`{fact}` is {}, compared here with {found}", ty.name()),
        );
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::outcome::Tri;
    use crate::compliance::testutil::{check, facts};

    fn tri(src: &str, f: &HostFacts) -> Tri {
        check(src).unwrap().eval(f, 10 * 86_400_000).tri
    }

    #[test]
    fn every_operator_on_its_types() {
        let s = |x: &str| Value::Str(x.into());
        let ver = |x: &str| Value::Version(x.into());
        let f = facts(&[
            ("firewall.enabled", Value::Bool(true)),
            ("os.id", s("ubuntu")),
            ("os.version", ver("22.04")),
            ("os.build", ver("22631.3447")),
            ("screen_lock.timeout_seconds", Value::Int(600)),
            (
                "patch.security_update_age_days",
                Value::DaysSince(3 * 86_400_000),
            ),
            ("ssh.permit_root_login", s("prohibit-password")),
            (
                "accounts.local_admins",
                Value::List(vec!["root".into(), "Alice".into()].into()),
            ),
        ]);
        let cases: &[(&str, Tri)] = &[
            ("{fact: firewall.enabled, equals: true}", Tri::Pass),
            ("{fact: firewall.enabled, not_equals: true}", Tri::Fail),
            ("{fact: os.id, equals: Ubuntu}", Tri::Pass),
            ("{fact: os.id, one_of: [debian, ubuntu]}", Tri::Pass),
            ("{fact: os.id, one_of: [rhel]}", Tri::Fail),
            ("{fact: os.id, matches: '^ubu'}", Tri::Pass),
            ("{fact: os.id, matches: '^Ubu'}", Tri::Fail),
            ("{fact: os.version, ge: '22.04'}", Tri::Pass),
            ("{fact: os.version, ge: '22.10'}", Tri::Fail),
            ("{fact: os.version, gt: 20}", Tri::Pass),
            ("{fact: os.version, lt: '24.04'}", Tri::Pass),
            ("{fact: os.version, equals: '22.04.0'}", Tri::Pass),
            ("{fact: os.build, ge: '22631.3000'}", Tri::Pass),
            ("{fact: os.build, le: '22631.999'}", Tri::Fail),
            ("{fact: screen_lock.timeout_seconds, le: 900}", Tri::Pass),
            ("{fact: screen_lock.timeout_seconds, lt: 600}", Tri::Fail),
            ("{fact: screen_lock.timeout_seconds, gt: 0}", Tri::Pass),
            (
                "{fact: screen_lock.timeout_seconds, one_of: [300, 600]}",
                Tri::Pass,
            ),
            ("{fact: patch.security_update_age_days, le: 7}", Tri::Pass),
            ("{fact: patch.security_update_age_days, ge: 6.5}", Tri::Pass),
            ("{fact: patch.security_update_age_days, gt: 7}", Tri::Fail),
            (
                "{fact: ssh.permit_root_login, one_of: ['no', prohibit-password]}",
                Tri::Pass,
            ),
            ("{fact: accounts.local_admins, contains: alice}", Tri::Pass),
            (
                "{fact: accounts.local_admins, not_contains: root}",
                Tri::Fail,
            ),
            (
                "{fact: accounts.local_admins, subset_of: [root, alice, itadmin]}",
                Tri::Pass,
            ),
            (
                "{fact: accounts.local_admins, subset_of: [root]}",
                Tri::Fail,
            ),
            ("{fact: disk.encrypted, equals: true}", Tri::Unknown),
        ];
        for (src, want) in cases {
            assert_eq!(tri(src, &f), *want, "{src}");
        }
        let e = check("{fact: accounts.local_admins, not_contains: root}")
            .unwrap()
            .eval(&f, 0);
        assert_eq!(e.observed, "accounts.local_admins has root");
        let e = check("{fact: accounts.local_admins, subset_of: [root]}")
            .unwrap()
            .eval(&f, 0);
        assert_eq!(e.observed, "accounts.local_admins not allowed: Alice");
        let e = check("{fact: os.version, ge: '24.04'}")
            .unwrap()
            .eval(&f, 0);
        assert_eq!(e.observed, "os.version = 22.04 (wanted >= 24.04)");
        let e = check("{fact: disk.encrypted, equals: true}")
            .unwrap()
            .eval(&f, 0);
        assert_eq!(e.observed, "not reported: disk.encrypted");
    }

    #[test]
    fn type_mismatches_and_bad_operators_are_load_errors() {
        for (src, want) in [
            (
                "{fact: firewall.enabled, ge: '1.0'}",
                "`ge` cannot be used with `firewall.enabled`, a boolean",
            ),
            (
                "{fact: os.version, equals: true}",
                "`os.version` is a version, compared here with a boolean",
            ),
            (
                "{fact: firewall.enabled, equals: 'yes'}",
                "a boolean, compared here with a string",
            ),
            (
                "{fact: screen_lock.timeout_seconds, le: '900'}",
                "an integer",
            ),
            ("{fact: os.version, ge: 10.10}", "write versions as strings"),
            (
                "{fact: os.id, matches: '(unclosed'}",
                "invalid regular expression",
            ),
            ("{fact: os.id, equal: x}", "unknown operator `equal`"),
            ("{fact: os.id}", "exactly one operator"),
            (
                "{fact: os.id, equals: a, one_of: [b]}",
                "exactly one operator",
            ),
            (
                "{fact: ssh.permitrootlogin, equals: 'no'}",
                "did you mean `ssh.permit_root_login`",
            ),
            (
                "{fact: accounts.local_admins, equals: root}",
                "use contains, not_contains, subset_of",
            ),
            ("{fact: os.version, ge: '1 2'}", "invalid version"),
        ] {
            let e = check(src).unwrap_err();
            assert!(e.contains(want), "{src}: {e}");
        }
    }
}
