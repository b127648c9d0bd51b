//! Standards and waivers as YAML files, loaded and checked as one set.
//!
//! A directory holds `*.yaml` files; each is either a standard (top-level `standard:`) or a
//! list of waivers (top-level `waivers:`). Loading checks everything — syntax, unknown
//! keys, fact names and types, regular expressions, duplicate ids, waivers naming unknown
//! rules — and reports every problem with file, line and rule id. A set that loads is
//! known to evaluate without errors. See `configs/standards/README.md`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use regex::RegexSet;
use serde::Deserialize;
use serde_yaml::Value as Yaml;
use tilsyn_proto::yaml::{ConfigErrors, Issue, Issues};

use super::check::{Check, Ctx};
use super::facts::HostContext;
use super::rules::software::NameMatch;
use super::version::{self, Scheme};
use super::waiver::{Waiver, WaiverDoc};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// Which hosts a standard or rule applies to. Every given field must match; a list
/// matches when the host's value is one of it (ASCII case ignored); omitted = any.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorDoc {
    #[serde(default)]
    pub os_family: Vec<String>,
    /// Distribution ids (debian, ubuntu, rhel, rocky, sles, …); windows; macos.
    #[serde(default)]
    pub os_id: Vec<String>,
    /// Version bounds on `os.version`: `{ge: "12", lt: "14"}`.
    #[serde(default)]
    pub os_version: BTreeMap<String, Yaml>,
    #[serde(default)]
    pub class: Vec<String>,
    #[serde(default)]
    pub department: Vec<String>,
    /// Labels the host must carry with these values.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct Selector {
    os_family: Vec<String>,
    os_id: Vec<String>,
    os_version: Vec<(std::cmp::Ordering, bool, String)>,
    class: Vec<String>,
    department: Vec<String>,
    labels: BTreeMap<String, String>,
}

/// What a selector looks at besides the host's context.
pub struct OsView<'a> {
    pub family: Option<&'a str>,
    pub id: Option<&'a str>,
    pub version: Option<&'a str>,
}

impl Selector {
    fn compile(d: &SelectorDoc, path: &str, issues: &mut Issues) -> Selector {
        let mut os_version = Vec::new();
        for (op, v) in &d.os_version {
            let text = match v {
                Yaml::String(s) => s.clone(),
                Yaml::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
                _ => {
                    issues.push(
                        format!("{path}.os_version.{op}"),
                        "write the version as a string, e.g. \"12\"",
                    );
                    continue;
                }
            };
            if let Err(e) = version::valid(Scheme::Generic, &text) {
                issues.push(
                    format!("{path}.os_version.{op}"),
                    format!("invalid version {text:?}: {e}"),
                );
            }
            use std::cmp::Ordering::*;
            let (ord, or_equal) = match op.as_str() {
                "lt" => (Less, false),
                "le" => (Less, true),
                "gt" => (Greater, false),
                "ge" => (Greater, true),
                "equals" => (Equal, true),
                _ => {
                    issues.push(
                        format!("{path}.os_version.{op}"),
                        format!("unknown bound `{op}` (lt, le, gt, ge, equals)"),
                    );
                    continue;
                }
            };
            os_version.push((ord, or_equal, text));
        }
        let lower = |v: &[String]| v.iter().map(|s| s.to_ascii_lowercase()).collect::<Vec<_>>();
        Selector {
            os_family: lower(&d.os_family),
            os_id: lower(&d.os_id),
            os_version,
            class: lower(&d.class),
            department: lower(&d.department),
            labels: d.labels.clone(),
        }
    }

    pub fn matches(&self, ctx: &HostContext, os: &OsView<'_>) -> bool {
        let one_of = |list: &[String], v: Option<&str>| {
            list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)))
        };
        one_of(&self.os_family, os.family)
            && one_of(&self.os_id, os.id)
            && one_of(&self.class, Some(&ctx.class))
            && one_of(&self.department, Some(&ctx.department))
            && self
                .labels
                .iter()
                .all(|(k, v)| ctx.labels.get(k) == Some(v))
            && self.os_version.iter().all(|(ord, or_equal, want)| {
                os.version.is_some_and(|have| {
                    let o = version::compare(Scheme::Generic, have, want);
                    o == *ord || (*or_equal && o == std::cmp::Ordering::Equal)
                })
            })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    id: String,
    title: String,
    #[serde(default)]
    rationale: String,
    #[serde(default)]
    remediation: String,
    severity: Severity,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    applies_to: Option<SelectorDoc>,
    check: Yaml,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StandardDoc {
    id: String,
    title: String,
    version: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    applies_to: SelectorDoc,
    rules: Vec<RuleDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    standard: Option<StandardDoc>,
    waivers: Option<Vec<WaiverDoc>>,
}

#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub rationale: String,
    pub remediation: String,
    pub severity: Severity,
    pub references: Vec<String>,
    pub applies_to: Option<Selector>,
    pub check: Check,
}

#[derive(Debug)]
pub struct Standard {
    pub id: String,
    pub title: String,
    pub version: String,
    pub description: String,
    pub file: PathBuf,
    pub applies_to: Selector,
    pub rules: Vec<Rule>,
}

/// Which packages software rules ask about: only those are kept per host in memory.
#[derive(Debug, Clone, Default)]
pub struct SoftwareInterest {
    names: HashSet<String>,
    patterns: Option<RegexSet>,
    /// Sorted description, to tell whether a reload changed what is needed.
    pub key: Vec<String>,
}

impl SoftwareInterest {
    pub fn wants(&self, name: &str) -> bool {
        (!self.names.is_empty() && self.names.contains(&name.to_ascii_lowercase()))
            || self.patterns.as_ref().is_some_and(|p| p.is_match(name))
    }
}

/// Standards and waivers loaded together from one directory.
#[derive(Debug, Clone, Default)]
pub struct StandardSet {
    pub dir: PathBuf,
    /// Shared: a set with more waivers (from the API) is a cheap copy of this one.
    pub standards: Vec<std::sync::Arc<Standard>>,
    pub waivers: Vec<Waiver>,
    pub software: SoftwareInterest,
}

/// Every problem found in a standards directory, file by file.
#[derive(Debug)]
pub struct LoadErrors(pub Vec<ConfigErrors>);

impl std::fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n: usize = self.0.iter().map(|e| e.issues.len()).sum();
        writeln!(
            f,
            "{n} error{} in standards:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

fn one(file: &Path, msg: String) -> ConfigErrors {
    ConfigErrors {
        file: file.to_path_buf(),
        issues: vec![Issue {
            line: None,
            column: None,
            path: String::new(),
            message: msg,
        }],
    }
}

/// The `*.yaml` / `*.yml` files of a directory, sorted (load order = report order).
pub fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    out.sort();
    Ok(out)
}

impl StandardSet {
    /// Loads and checks every file of `dir`; `today_ms` only classifies waivers (an
    /// expired waiver is not an error).
    pub fn load_dir(dir: &Path) -> Result<StandardSet, LoadErrors> {
        let list = files(dir).map_err(|e| {
            LoadErrors(vec![one(
                dir,
                format!("cannot read the standards directory: {e} (set compliance.standards_dir)"),
            )])
        })?;
        let mut sources = Vec::new();
        let mut errors = Vec::new();
        for f in list {
            match tilsyn_proto::files::read_small(&f, tilsyn_proto::files::MAX_CONFIG_BYTES) {
                Ok(t) => sources.push((f, t)),
                Err(e) => errors.push(one(&f, format!("cannot read the file: {e}"))),
            }
        }
        match Self::from_sources(dir, &sources) {
            Ok(s) if errors.is_empty() => Ok(s),
            Ok(_) => Err(LoadErrors(errors)),
            Err(LoadErrors(mut more)) => {
                errors.append(&mut more);
                Err(LoadErrors(errors))
            }
        }
    }

    /// Loads a set from (file, text) pairs.
    pub fn from_sources(
        dir: &Path,
        sources: &[(PathBuf, String)],
    ) -> Result<StandardSet, LoadErrors> {
        Self::load_sources(dir, sources, false)
    }

    /// Loads one standard with waiver files that may also cover other standards (whose
    /// waivers are skipped): `standards test`.
    pub fn for_test(dir: &Path, sources: &[(PathBuf, String)]) -> Result<StandardSet, LoadErrors> {
        Self::load_sources(dir, sources, true)
    }

    fn load_sources(
        dir: &Path,
        sources: &[(PathBuf, String)],
        skip_foreign_waivers: bool,
    ) -> Result<StandardSet, LoadErrors> {
        let mut errors = Vec::new();
        let mut set = StandardSet {
            dir: dir.to_path_buf(),
            ..Default::default()
        };
        let mut waiver_docs: Vec<(PathBuf, String, Vec<WaiverDoc>)> = Vec::new();
        let mut std_files: BTreeMap<String, PathBuf> = BTreeMap::new();
        for (file, text) in sources {
            let doc: FileDoc = match tilsyn_proto::yaml::parse(file, text) {
                Ok(d) => d,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let mut issues = Issues::default();
            match (doc.standard, doc.waivers) {
                (Some(s), None) => {
                    if let Some(other) = std_files.get(&s.id) {
                        issues.push(
                            "standard.id",
                            format!(
                                "duplicate standard id {:?} (also in {})",
                                s.id,
                                other.display()
                            ),
                        );
                    }
                    std_files.insert(s.id.clone(), file.clone());
                    if let Some(st) = compile_standard(s, file, &mut issues) {
                        set.standards.push(std::sync::Arc::new(st));
                    }
                }
                (None, Some(w)) => waiver_docs.push((file.clone(), text.clone(), w)),
                (Some(_), Some(_)) => issues.push(
                    "",
                    "a file holds either `standard:` or `waivers:`, not both",
                ),
                (None, None) => issues.push(
                    "",
                    "empty file: expected `standard:` or `waivers:` at the top",
                ),
            }
            if let Err(e) = issues.into_result(file, text) {
                errors.push(e);
            }
        }
        let mut waiver_ids: BTreeMap<String, PathBuf> = BTreeMap::new();
        let known: Vec<(&str, Vec<&str>)> = set
            .standards
            .iter()
            .map(|s| {
                (
                    s.id.as_str(),
                    s.rules.iter().map(|r| r.id.as_str()).collect(),
                )
            })
            .collect();
        for (file, text, docs) in waiver_docs {
            let mut issues = Issues::default();
            for (i, d) in docs.into_iter().enumerate() {
                if skip_foreign_waivers && !set.standards.iter().any(|s| s.id == d.standard) {
                    continue;
                }
                let path = format!("waivers[{i}]");
                if let Some(other) = waiver_ids.get(&d.id) {
                    issues.push(
                        format!("{path}.id"),
                        format!(
                            "duplicate waiver id {:?} (also in {})",
                            d.id,
                            other.display()
                        ),
                    );
                }
                waiver_ids.insert(d.id.clone(), file.clone());
                if let Some(w) = Waiver::compile(d, &path, &file, &known, &mut issues) {
                    set.waivers.push(w);
                }
            }
            if let Err(e) = issues.into_result(&file, &text) {
                errors.push(e);
            }
        }
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        set.software = software_interest(&set.standards);
        Ok(set)
    }

    pub fn rule_count(&self) -> usize {
        self.standards.iter().map(|s| s.rules.len()).sum()
    }
}

fn software_interest(standards: &[std::sync::Arc<Standard>]) -> SoftwareInterest {
    let mut names = HashSet::new();
    let mut patterns = Vec::new();
    for s in standards {
        for r in &s.rules {
            r.check.visit_software(&mut |sw| match &sw.name {
                NameMatch::Exact(n) => {
                    names.insert(n.clone());
                }
                NameMatch::Pattern(p) => patterns.push(p.as_str().to_string()),
            });
        }
    }
    patterns.sort();
    patterns.dedup();
    let mut key: Vec<String> = names
        .iter()
        .map(|n| format!("={n}"))
        .chain(patterns.iter().map(|p| format!("~{p}")))
        .collect();
    key.sort();
    SoftwareInterest {
        names,
        // Every pattern compiled on its own already; the set cannot fail to build.
        patterns: (!patterns.is_empty())
            .then(|| RegexSet::new(&patterns).expect("patterns compiled singly")),
        key,
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn compile_standard(d: StandardDoc, file: &Path, issues: &mut Issues) -> Option<Standard> {
    if !valid_id(&d.id) {
        issues.push(
            "standard.id",
            format!(
                "{:?}: ids use letters, digits, '-', '_', '.' (at most 64)",
                d.id
            ),
        );
    }
    if d.title.trim().is_empty() {
        issues.push("standard.title", "is empty");
    }
    if d.version.trim().is_empty() {
        issues.push("standard.version", "is empty");
    }
    if d.rules.is_empty() {
        issues.push("standard.rules", "a standard needs at least one rule");
    }
    let applies_to = Selector::compile(&d.applies_to, "standard.applies_to", issues);
    let mut rules = Vec::new();
    let mut ids = HashSet::new();
    let mut ok = true;
    for (i, r) in d.rules.into_iter().enumerate() {
        let path = format!("standard.rules[{i}]");
        if !valid_id(&r.id) {
            issues.push(
                format!("{path}.id"),
                format!(
                    "{:?}: ids use letters, digits, '-', '_', '.' (at most 64)",
                    r.id
                ),
            );
        }
        if !ids.insert(r.id.clone()) {
            issues.push(
                format!("{path}.id"),
                format!("duplicate rule id {:?} in standard {}", r.id, d.id),
            );
        }
        if r.title.trim().is_empty() {
            issues.push(
                format!("{path}.title"),
                format!("rule {}: title is empty", r.id),
            );
        }
        let applies = r
            .applies_to
            .as_ref()
            .map(|s| Selector::compile(s, &format!("{path}.applies_to"), issues));
        let check = Check::compile(
            &r.check,
            &format!("{path}.check"),
            &mut Ctx {
                issues,
                rule: &r.id,
            },
        );
        match check {
            Some(check) => rules.push(Rule {
                id: r.id,
                title: r.title,
                rationale: r.rationale,
                remediation: r.remediation,
                severity: r.severity,
                references: r.references,
                applies_to: applies,
                check,
            }),
            None => ok = false,
        }
    }
    if !ok || !issues.is_empty() {
        return None;
    }
    Some(Standard {
        id: d.id,
        title: d.title,
        version: d.version,
        description: d.description,
        file: file.to_path_buf(),
        applies_to,
        rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const GOOD: &str = "\
standard:
  id: linux-ws
  title: Linux workstation
  version: 1.0.0
  applies_to:
    os_family: [linux]
    class: [workstation]
  rules:
    - id: firewall
      title: Host firewall on
      severity: high
      references: [CIS 4.1]
      check: {fact: firewall.enabled, equals: true}
    - id: no-teamviewer
      title: No remote-control tools
      severity: medium
      check:
        software_absent: {name_matches: '(?i)teamviewer'}
";

    fn load(files: &[(&str, &str)]) -> Result<StandardSet, String> {
        let sources: Vec<(PathBuf, String)> = files
            .iter()
            .map(|(n, t)| (PathBuf::from(n), t.to_string()))
            .collect();
        StandardSet::from_sources(Path::new("."), &sources).map_err(|e| e.to_string())
    }

    #[test]
    fn a_good_standard_loads() {
        let s = load(&[("a.yaml", GOOD)]).unwrap();
        assert_eq!(s.standards[0].rules.len(), 2);
        assert!(s.software.wants("TeamViewer Host"));
        assert!(!s.software.wants("bash"));
    }

    #[test]
    fn errors_name_file_line_and_rule() {
        let bad = GOOD
            .replace("firewall.enabled, equals: true", "firewall.enabled, ge: 3")
            .replace("id: no-teamviewer", "id: firewall");
        let e = load(&[("bad.yaml", &bad)]).unwrap_err();
        assert!(e.contains("bad.yaml:14"), "{e}");
        assert!(e.contains("rule firewall: `ge` cannot be used"), "{e}");
        assert!(e.contains("duplicate rule id \"firewall\""), "{e}");
        let e = load(&[("a.yaml", GOOD), ("b.yaml", GOOD)]).unwrap_err();
        assert!(
            e.contains("duplicate standard id \"linux-ws\" (also in a.yaml)"),
            "{e}"
        );
        let e = load(&[(
            "c.yaml",
            "standard:\n  id: x\n  title: t\n  version: '1'\n  rulez: []\n",
        )])
        .unwrap_err();
        assert!(
            e.contains("c.yaml:") && e.contains("unknown field `rulez`"),
            "{e}"
        );
        let e = load(&[("d.yaml", "standard: [oops")]).unwrap_err();
        assert!(e.contains("d.yaml:1"), "{e}");
        let e = load(&[(
            "e.yaml",
            &GOOD.replace("severity: high", "severity: urgent"),
        )])
        .unwrap_err();
        assert!(e.contains("unknown variant `urgent`"), "{e}");
    }

    #[test]
    fn selectors_match_os_version_class_and_labels() {
        let d: SelectorDoc = serde_yaml::from_str(
            "{os_family: [linux], os_id: [Debian], os_version: {ge: '11', lt: '13'}, labels: {role: web}}",
        )
        .unwrap();
        let mut is = Issues::default();
        let s = Selector::compile(&d, "s", &mut is);
        assert!(is.is_empty());
        let mut ctx = HostContext::default();
        ctx.labels.insert("role".into(), "web".into());
        let os = |v| OsView {
            family: Some("linux"),
            id: Some("debian"),
            version: Some(v),
        };
        assert!(s.matches(&ctx, &os("12")));
        assert!(s.matches(&ctx, &os("11")));
        assert!(!s.matches(&ctx, &os("13")));
        assert!(
            !s.matches(&HostContext::default(), &os("12")),
            "label missing"
        );
        let unknown_os = OsView {
            family: None,
            id: None,
            version: None,
        };
        assert!(!s.matches(&ctx, &unknown_os));
    }
}
