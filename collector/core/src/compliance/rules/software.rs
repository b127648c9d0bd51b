//! Rule types `software_present` and `software_absent`: installed packages by name.
//!
//! ```yaml
//! check: {software_present: {name: openssh-server, min_version: "1:9.2p1-2"}}
//! check: {software_absent: {name_matches: "(?i)^(teamviewer|anydesk)"}}
//! check: {software_absent: {name: log4j, below_version: "2.17.1"}}   # vulnerable versions
//! ```
//! `name` matches a package name exactly, without regard to ASCII case; `name_matches` is a
//! regular expression. Versions compare in the package's own order (dpkg for dpkg
//! packages, rpm for rpm packages, dotted numbers otherwise). `source` (dpkg, rpm,
//! windows-registry, macos-app, pkgutil) narrows the match to one package source.

use regex::Regex;
use serde_yaml::Value as Yaml;

use crate::compliance::facts::{HostFacts, Pkg};
use crate::compliance::outcome::{Ctx, Eval, Tri};
use crate::compliance::version::{self, Scheme};

#[derive(Debug)]
pub enum NameMatch {
    /// Lower-cased.
    Exact(String),
    Pattern(Regex),
}

impl NameMatch {
    pub fn is_match(&self, name: &str) -> bool {
        match self {
            NameMatch::Exact(n) => n.eq_ignore_ascii_case(name),
            NameMatch::Pattern(r) => r.is_match(name),
        }
    }
}

#[derive(Debug)]
pub struct Software {
    pub present: bool,
    pub name: NameMatch,
    pub source: Option<String>,
    /// Present: the lowest acceptable version. Absent: versions below this are forbidden.
    pub version: Option<String>,
}

impl Software {
    pub const KEYS: [&'static str; 2] = ["software_present", "software_absent"];

    pub fn compile(key: &str, y: &Yaml, path: &str, cx: &mut Ctx<'_>) -> Option<Software> {
        let present = key == "software_present";
        let version_key = if present {
            "min_version"
        } else {
            "below_version"
        };
        let Some(m) = y.as_mapping() else {
            cx.err(path, format!("`{key}` takes a mapping: name or name_matches, and optionally {version_key}, source"));
            return None;
        };
        let mut ok = true;
        for k in m.keys() {
            let k = k.as_str().unwrap_or("?");
            if !["name", "name_matches", "source", version_key].contains(&k) {
                cx.err(
                    &format!("{path}.{k}"),
                    format!(
                        "unknown key `{k}` in `{key}` (name, name_matches, {version_key}, source)"
                    ),
                );
                ok = false;
            }
        }
        let text = |cx: &mut Ctx<'_>, k: &str| -> Option<Option<String>> {
            match m.get(k) {
                None => Some(None),
                Some(Yaml::String(s)) if !s.trim().is_empty() => Some(Some(s.clone())),
                Some(Yaml::Number(n)) if k == version_key && (n.is_i64() || n.is_u64()) => {
                    Some(Some(n.to_string()))
                }
                Some(_) => {
                    cx.err(
                        &format!("{path}.{k}"),
                        format!("`{k}` takes a non-empty string"),
                    );
                    None
                }
            }
        };
        let name = text(cx, "name");
        let pattern = text(cx, "name_matches");
        let source = text(cx, "source");
        let ver = text(cx, version_key);
        let (Some(name), Some(pattern), Some(source), Some(ver)) = (name, pattern, source, ver)
        else {
            return None;
        };
        let name = match (name, pattern) {
            (Some(n), None) => NameMatch::Exact(n.to_ascii_lowercase()),
            (None, Some(p)) => match Regex::new(&p) {
                Ok(r) => NameMatch::Pattern(r),
                Err(e) => {
                    cx.err(
                        &format!("{path}.name_matches"),
                        format!("invalid regular expression {p:?}: {e}"),
                    );
                    return None;
                }
            },
            _ => {
                cx.err(
                    path,
                    format!("`{key}` needs exactly one of `name` and `name_matches`"),
                );
                return None;
            }
        };
        if let Some(v) = &ver {
            // The package's scheme is only known per package; every scheme must accept it.
            let scheme = match source.as_deref() {
                Some(s) => Scheme::for_source(s),
                None => Scheme::Generic,
            };
            if let Err(e) = version::valid(scheme, v) {
                cx.err(
                    &format!("{path}.{version_key}"),
                    format!("invalid version {v:?}: {e}"),
                );
                return None;
            }
        }
        if !ok {
            return None;
        }
        Some(Software {
            present,
            name,
            source,
            version: ver,
        })
    }

    fn matches(&self, p: &Pkg) -> bool {
        self.name.is_match(&p.name)
            && self
                .source
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case(&p.source))
    }

    fn below(&self, p: &Pkg, v: &str) -> bool {
        version::compare(p.scheme, &p.version, v) == std::cmp::Ordering::Less
    }

    pub fn eval_with(&self, f: &HostFacts, text: bool) -> Eval {
        let Some(pkgs) = &f.software else {
            return Eval::unknown("software", text);
        };
        let found: Vec<&Pkg> = pkgs.iter().filter(|p| self.matches(p)).collect();
        let list = |ps: &[&Pkg]| {
            ps.iter()
                .map(|p| format!("{} {}", p.name, p.version))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.present {
            if found.is_empty() {
                return Eval::lazy(Tri::Fail, text, || {
                    format!("{} not installed", self.describe())
                });
            }
            match &self.version {
                Some(min) => {
                    let good: Vec<&Pkg> = found
                        .iter()
                        .copied()
                        .filter(|p| !self.below(p, min))
                        .collect();
                    if good.is_empty() {
                        Eval::lazy(Tri::Fail, text, || {
                            format!("installed {} (wanted >= {min})", list(&found))
                        })
                    } else {
                        Eval::lazy(Tri::Pass, text, || format!("installed {}", list(&good)))
                    }
                }
                None => Eval::lazy(Tri::Pass, text, || format!("installed {}", list(&found))),
            }
        } else {
            let bad: Vec<&Pkg> = match &self.version {
                Some(v) => found.into_iter().filter(|p| self.below(p, v)).collect(),
                None => found,
            };
            if bad.is_empty() {
                Eval::lazy(Tri::Pass, text, || {
                    format!("{} not installed", self.describe())
                })
            } else {
                Eval::lazy(Tri::Fail, text, || format!("installed {}", list(&bad)))
            }
        }
    }

    fn describe(&self) -> String {
        let mut s = match &self.name {
            NameMatch::Exact(n) => n.clone(),
            NameMatch::Pattern(r) => format!("/{}/", r.as_str()),
        };
        if let (false, Some(v)) = (self.present, &self.version) {
            s.push_str(&format!(" below {v}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::outcome::Tri;
    use crate::compliance::testutil::check;

    fn pkg(name: &str, version: &str, source: &str) -> Pkg {
        Pkg {
            name: name.into(),
            version: version.into(),
            scheme: Scheme::for_source(source),
            source: source.into(),
        }
    }

    fn host(pkgs: Vec<Pkg>) -> HostFacts {
        HostFacts {
            values: vec![None; crate::compliance::facts::FACTS.len()],
            software: Some(pkgs),
            ..Default::default()
        }
    }

    #[test]
    fn present_and_absent_with_versions_in_each_package_order() {
        let h = host(vec![
            pkg("openssh-server", "1:9.2p1-2+deb12u3", "dpkg"),
            pkg("TeamViewer", "15.52.3", "windows-registry"),
            pkg("log4j", "2.17.0-1.el9", "rpm"),
            pkg("firefox-esr", "115.9.1esr-1~deb12u1", "dpkg"),
        ]);
        let cases: &[(&str, Tri)] = &[
            ("software_present: {name: OpenSSH-Server}", Tri::Pass),
            (
                "software_present: {name: openssh-server, min_version: '1:9.2p1-2'}",
                Tri::Pass,
            ),
            // The epoch outranks everything: 9.9 without an epoch is older than 1:9.2.
            (
                "software_present: {name: openssh-server, min_version: '2:1.0'}",
                Tri::Fail,
            ),
            (
                "software_present: {name: openssh-server, source: rpm}",
                Tri::Fail,
            ),
            ("software_present: {name: clamav}", Tri::Fail),
            (
                "software_absent: {name_matches: '(?i)^(teamviewer|anydesk)'}",
                Tri::Fail,
            ),
            ("software_absent: {name: anydesk}", Tri::Pass),
            (
                "software_absent: {name: log4j, below_version: '2.17.1'}",
                Tri::Fail,
            ),
            (
                "software_absent: {name: log4j, below_version: '2.17.0'}",
                Tri::Pass,
            ),
            // A tilde sorts before the release it precedes (dpkg).
            (
                "software_present: {name: firefox-esr, min_version: '115.9.1esr-1'}",
                Tri::Fail,
            ),
            (
                "software_present: {name: firefox-esr, min_version: '115.9.1esr-1~deb12u1'}",
                Tri::Pass,
            ),
        ];
        for (src, want) in cases {
            assert_eq!(check(src).unwrap().eval(&h, 0).tri, *want, "{src}");
        }
        let e = check("software_absent: {name_matches: '(?i)teamviewer'}")
            .unwrap()
            .eval(&h, 0);
        assert_eq!(e.observed, "installed TeamViewer 15.52.3");
        let none = HostFacts::default();
        let e = check("software_absent: {name: x}").unwrap().eval(&none, 0);
        assert_eq!(
            (e.tri, e.observed.as_str()),
            (Tri::Unknown, "not reported: software")
        );
    }

    #[test]
    fn malformed_software_checks_are_load_errors() {
        for (src, want) in [
            (
                "software_present: {}",
                "exactly one of `name` and `name_matches`",
            ),
            (
                "software_present: {name: a, name_matches: b}",
                "exactly one of",
            ),
            (
                "software_present: {name: a, below_version: '1'}",
                "unknown key `below_version`",
            ),
            (
                "software_absent: {name_matches: '(('}",
                "invalid regular expression",
            ),
            (
                "software_present: {name: a, min_version: '1 0'}",
                "invalid version",
            ),
            ("software_present: openssh", "takes a mapping"),
            ("software_present: {name: a}\nfact: os.id", "stands alone"),
        ] {
            let e = check(src).unwrap_err();
            assert!(e.contains(want), "{src}: {e}");
        }
    }
}
