//! What every rule type shares with the check tree that joins them: the three-valued
//! outcome ([`Tri`], [`Eval`]) and the compiler's context ([`Ctx`]). Its own module so
//! that [`super::check`] and [`super::rules`] both depend on it and not on each other.

use tilsyn_proto::yaml::Issues;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    Pass,
    Fail,
    Unknown,
}

/// The outcome of a check on one host.
#[derive(Debug, Clone, PartialEq)]
pub struct Eval {
    pub tri: Tri,
    /// What was seen: the value that decided, or which facts were not reported.
    pub observed: String,
}

impl Eval {
    /// A fact the host did not report: `unknown`, naming it (when `text`).
    pub fn unknown(missing: &str, text: bool) -> Self {
        Eval::lazy(Tri::Unknown, text, || format!("not reported: {missing}"))
    }

    /// An outcome whose text is rendered only when `text` asks for it: full re-evaluations
    /// need only the state, and formatting millions of texts would dominate their cost.
    pub fn lazy(tri: Tri, text: bool, observed: impl FnOnce() -> String) -> Self {
        Eval {
            tri,
            observed: if text { observed() } else { String::new() },
        }
    }
}

/// What a check needs from the compiler: where it is (for errors) and which rule.
pub struct Ctx<'a> {
    pub issues: &'a mut Issues,
    pub rule: &'a str,
}

impl Ctx<'_> {
    pub fn err(&mut self, path: &str, msg: impl std::fmt::Display) {
        self.issues.push(path, format!("rule {}: {msg}", self.rule));
    }
}
