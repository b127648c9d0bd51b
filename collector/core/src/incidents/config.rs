//! The `incidents:` section of `collector.yaml`: which conditions raise incidents (per
//! class, department and labels, with their hysteresis), the priority matrix, storm rules,
//! the maintenance windows file and the service desks with their routing. Checked at start
//! (every error reported with its line) and compiled into a [`Policy`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tilsyn_proto::duration::HumanDuration;
use tilsyn_proto::yaml::Issues;

use super::conditions::Kind;
use super::engine::Hysteresis;
use super::maintenance::{Windows, WindowsDoc};
use super::priority::PriorityConfig;
use super::problems::StormRule;
use crate::compliance::standard::Severity;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "D: Deserialize<'de>"))]
pub struct IncidentsConfig<D> {
    /// Raise incidents at all (off: conditions are not evaluated, nothing reaches a desk).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// What raises an incident. For each kind of condition, a host uses the first entry
    /// whose scope matches it. Empty: the defaults listed in the README.
    #[serde(default)]
    pub conditions: Vec<ConditionConfig>,
    /// Impact rules and the impact × urgency matrix (P1–P5).
    #[serde(default)]
    pub priority: PriorityConfig,
    /// When many hosts fail the same check at once: one problem instead of many tickets.
    #[serde(default)]
    pub storms: Vec<StormConfig>,
    /// Maintenance windows (YAML, see configs/maintenance.yaml); relative to this file.
    #[serde(default)]
    pub maintenance_file: Option<PathBuf>,
    /// Service desks. Empty: a file desk writing JSON lines to `data_dir/incidents.jsonl`.
    #[serde(default)]
    pub desks: Vec<D>,
    /// How the outbox retries a desk that fails.
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// How often tickets are read back from the desk (first response, resolved by hand).
    #[serde(default = "d_poll")]
    pub read_back_every: HumanDuration,
    /// How often time-driven conditions (offline for, patch age, ended maintenance) are
    /// looked at again.
    #[serde(default = "d_tick")]
    pub tick_every: HumanDuration,
}

fn yes() -> bool {
    true
}
fn d_poll() -> HumanDuration {
    HumanDuration::secs(300)
}
fn d_tick() -> HumanDuration {
    HumanDuration::secs(15)
}

impl<D> Default for IncidentsConfig<D> {
    fn default() -> Self {
        IncidentsConfig {
            enabled: true,
            conditions: vec![],
            priority: PriorityConfig::default(),
            storms: vec![],
            maintenance_file: None,
            desks: vec![],
            delivery: DeliveryConfig::default(),
            read_back_every: d_poll(),
            tick_every: d_tick(),
        }
    }
}

/// One condition and when it raises an incident.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionConfig {
    /// What is watched: `offline`, `{filesystem_above: 0.9}`, `{memory_above: 0.95}`,
    /// `{cpu_above: 0.95}`, `service_failed`, `process_missing`, `{patch_overdue_days: 30}`,
    /// `{compliance_at_least: high}`, `probe_failing`.
    #[serde(with = "serde_yaml::with::singleton_map")]
    pub when: Kind,
    /// Urgency: critical, high, medium, low (compliance uses the rule's own severity).
    #[serde(default = "d_severity")]
    pub severity: Severity,
    /// Open once bad for this long (`10m`). Without it: after `observations` bad ones.
    #[serde(default, rename = "for")]
    pub for_: Option<HumanDuration>,
    /// Open after this many consecutive bad observations (default 3, or only `for` when
    /// that is given).
    #[serde(default)]
    pub observations: Option<u32>,
    /// Resolve once good for this long.
    #[serde(default)]
    pub resolve_after: Option<HumanDuration>,
    /// Resolve after this many consecutive good observations (default 3, or only
    /// `resolve_after` when that is given).
    #[serde(default)]
    pub resolve_observations: Option<u32>,
    /// A recurrence within this time of the resolution reopens the same ticket.
    #[serde(default = "d_reopen")]
    pub reopen_within: HumanDuration,
    /// More than `flap_max` openings within `flap_window` hold the incident open.
    #[serde(default = "d_reopen")]
    pub flap_window: HumanDuration,
    #[serde(default = "d_flap")]
    pub flap_max: u32,
    /// Host scope (all when empty): classes, departments (globs), labels (exact).
    #[serde(default)]
    pub classes: Vec<String>,
    #[serde(default)]
    pub departments: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn d_severity() -> Severity {
    Severity::Medium
}
fn d_reopen() -> HumanDuration {
    HumanDuration::secs(3600)
}
fn d_flap() -> u32 {
    3
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StormConfig {
    /// Check ids (globs): `offline`, `health/filesystem:*`, `compliance/*/firewall-enabled`.
    pub checks: String,
    /// At least this many hosts fleet-wide within `window`…
    #[serde(default)]
    pub min_hosts: Option<u32>,
    /// …or at least this share (percent) of one department's hosts.
    #[serde(default)]
    pub department_percent: Option<f64>,
    #[serde(default = "d_window")]
    pub window: HumanDuration,
}

fn d_window() -> HumanDuration {
    HumanDuration::secs(600)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// First retry after this long; doubles per attempt (with jitter) up to `max_backoff`.
    #[serde(default = "d_backoff")]
    pub initial_backoff: HumanDuration,
    #[serde(default = "d_max_backoff")]
    pub max_backoff: HumanDuration,
    /// One desk call may take this long before it counts as a timeout.
    #[serde(default = "d_timeout")]
    pub timeout: HumanDuration,
    /// Desk calls in flight at once (per collector; actions of one incident stay in order).
    #[serde(default = "d_concurrency")]
    pub concurrency: usize,
}

fn d_backoff() -> HumanDuration {
    HumanDuration::secs(2)
}
fn d_max_backoff() -> HumanDuration {
    HumanDuration::secs(600)
}
fn d_timeout() -> HumanDuration {
    HumanDuration::secs(20)
}
fn d_concurrency() -> usize {
    4
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            initial_backoff: d_backoff(),
            max_backoff: d_max_backoff(),
            timeout: d_timeout(),
            concurrency: d_concurrency(),
        }
    }
}

/// What the incidents section needs to know of one `desks:` entry. The entry itself, with
/// one optional field per adapter, is declared where the adapters live
/// (`tilsyn-collector-desks`), so that this crate names no HTTP client.
pub trait DeskEntry {
    /// Every adapter's name, for messages.
    const ADAPTERS: &'static str;
    /// Used in metrics, logs and the API (`[a-z0-9_-]`).
    fn name(&self) -> &str;
    /// Departments whose incidents go here (globs); empty: the default desk.
    fn departments(&self) -> &[String];
    /// Fleet-wide problems (storms) go to this desk.
    fn problems(&self) -> bool;
    /// The adapters configured in this entry (exactly one is valid).
    fn adapters(&self) -> Vec<&'static str>;
    /// Makes the entry's `*_file` settings absolute, relative to the config file.
    fn resolve_paths(&mut self, base: &Path);
}

/// The compiled section.
#[derive(Debug, Clone)]
pub struct Policy {
    pub conditions: Vec<Condition>,
    pub priority: PriorityConfig,
    pub storms: Vec<StormRule>,
    pub windows: Windows,
}

#[derive(Debug, Clone)]
pub struct Condition {
    pub kind: Kind,
    pub severity: Severity,
    pub hysteresis: Hysteresis,
    pub classes: Vec<String>,
    pub departments: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

impl Condition {
    pub fn applies(
        &self,
        class: &str,
        department: &str,
        labels: &BTreeMap<String, String>,
    ) -> bool {
        let any = |globs: &[String], v: &str| {
            globs.is_empty() || globs.iter().any(|g| crate::text::glob_with(g, v, true))
        };
        any(&self.classes, class)
            && any(&self.departments, department)
            && self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

/// What a fleet gets when `conditions` is empty.
pub const DEFAULT_CONDITIONS: &str = "
- {when: offline, severity: high, observations: 1, resolve_observations: 1}
- {when: {filesystem_above: 0.90}, severity: high, classes: [server], for: 10m, resolve_after: 10m}
- {when: {filesystem_above: 0.95}, severity: medium, for: 30m, resolve_after: 30m}
- {when: {memory_above: 0.95}, severity: medium, for: 15m, resolve_after: 10m}
- {when: {cpu_above: 0.95}, severity: low, classes: [server], for: 30m, resolve_after: 10m}
- {when: service_failed, severity: high, classes: [server], for: 5m, resolve_after: 5m}
- {when: process_missing, severity: high, for: 5m, resolve_after: 5m}
- {when: {patch_overdue_days: 30}, severity: medium, observations: 1, resolve_observations: 1}
- {when: {compliance_at_least: high}, observations: 1, resolve_observations: 1}
- {when: probe_failing, severity: low, for: 1h, resolve_after: 1h}
- {when: {clock_skew_above: 120}, severity: medium, for: 15m, resolve_after: 15m}
";

/// A path relative to the config file becomes absolute.
pub fn resolve_path(p: &mut Option<PathBuf>, base: &Path) {
    if let Some(x) = p {
        if x.is_relative() {
            *x = base.join(&*x);
        }
    }
}

impl<D: DeskEntry> IncidentsConfig<D> {
    pub fn resolve_paths(&mut self, base: &Path) {
        resolve_path(&mut self.maintenance_file, base);
        for d in &mut self.desks {
            d.resolve_paths(base);
        }
    }

    /// Checks everything that does not need the desks' credentials or the windows file.
    pub fn validate(&self, is: &mut Issues) {
        let conditions = self.conditions_or_default();
        for (i, c) in conditions.iter().enumerate() {
            let p = format!("incidents.conditions[{i}]");
            let ratio = match c.when {
                Kind::FilesystemAbove(r) | Kind::MemoryAbove(r) | Kind::CpuAbove(r) => Some(r),
                _ => None,
            };
            if ratio.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
                is.push(format!("{p}.when"), "a ratio between 0 and 1 (0.9 = 90 %)");
            }
            if let Kind::ClockSkewAbove(secs) = c.when {
                if secs.is_nan() || secs <= 0.0 {
                    is.push(
                        format!("{p}.when"),
                        "clock_skew_above is a number of seconds above 0",
                    );
                }
            }
            if let Kind::PatchOverdueDays(d) = c.when {
                if d.is_nan() || d <= 0.0 {
                    is.push(format!("{p}.when"), "patch_overdue_days must be above 0");
                }
            }
            if c.observations == Some(0) || c.resolve_observations == Some(0) {
                is.push(
                    p.clone(),
                    "observations and resolve_observations start at 1",
                );
            }
            if c.flap_max == 0 {
                is.push(format!("{p}.flap_max"), "at least 1");
            }
        }
        for (i, s) in self.storms.iter().enumerate() {
            let p = format!("incidents.storms[{i}]");
            if s.min_hosts.is_none() && s.department_percent.is_none() {
                is.push(p.clone(), "set min_hosts, department_percent or both");
            }
            if s.min_hosts == Some(0) {
                is.push(format!("{p}.min_hosts"), "at least 1");
            }
            if s.department_percent
                .is_some_and(|x| !(x > 0.0 && x <= 100.0))
            {
                is.push(
                    format!("{p}.department_percent"),
                    "a percentage above 0 and at most 100",
                );
            }
            if s.window.0.is_zero() {
                is.push(format!("{p}.window"), "above 0");
            }
        }
        let mut names = std::collections::HashSet::new();
        let mut defaults = 0;
        for (i, d) in self.desks.iter().enumerate() {
            let p = format!("incidents.desks[{i}]");
            if !crate::text::valid_id(d.name()) {
                is.push(format!("{p}.name"), "letters, digits, '-' and '_' only");
            }
            if !names.insert(d.name()) {
                is.push(
                    format!("{p}.name"),
                    format!("desk {:?} is defined twice", d.name()),
                );
            }
            if d.departments().is_empty() {
                defaults += 1;
            }
            match d.adapters().len() {
                1 => {}
                0 => is.push(
                    p.clone(),
                    format!("choose the desk's adapter: one of {}", D::ADAPTERS),
                ),
                _ => is.push(
                    p.clone(),
                    format!("one adapter per desk, found {}", d.adapters().join(", ")),
                ),
            }
        }
        if defaults > 1 {
            is.push(
                "incidents.desks",
                "only one desk may leave departments empty (the default desk)",
            );
        }
        if self.desks.iter().filter(|d| d.problems()).count() > 1 {
            is.push("incidents.desks", "only one desk may say problems: true");
        }
        if self.delivery.concurrency == 0 {
            is.push("incidents.delivery.concurrency", "at least 1");
        }
        if self.delivery.initial_backoff.0 > self.delivery.max_backoff.0 {
            is.push(
                "incidents.delivery.initial_backoff",
                "must not exceed max_backoff",
            );
        }
        if self.tick_every.0.as_millis() < 100 {
            is.push("incidents.tick_every", "at least 100ms");
        }
    }
}

impl<D> IncidentsConfig<D> {
    fn conditions_or_default(&self) -> Vec<ConditionConfig> {
        if self.conditions.is_empty() {
            serde_yaml::from_str(DEFAULT_CONDITIONS).expect("default conditions")
        } else {
            self.conditions.clone()
        }
    }

    /// Compiles the section; reads the maintenance file. Errors as (where, message).
    pub fn compile(&self) -> Result<Policy, Vec<String>> {
        let conditions =
            self.conditions_or_default()
                .into_iter()
                .map(|c| {
                    let open_ms = c.for_.map(|d| d.0.as_millis() as i64);
                    let resolve_ms = c.resolve_after.map(|d| d.0.as_millis() as i64);
                    Condition {
                        hysteresis: Hysteresis {
                            open_after_observations: c
                                .observations
                                .unwrap_or(if open_ms.is_some() { u32::MAX } else { 3 }),
                            open_after_ms: open_ms,
                            resolve_after_observations: c
                                .resolve_observations
                                .unwrap_or(if resolve_ms.is_some() { u32::MAX } else { 3 }),
                            resolve_after_ms: resolve_ms,
                            reopen_window_ms: c.reopen_within.0.as_millis() as i64,
                            flap_window_ms: c.flap_window.0.as_millis() as i64,
                            flap_max_opens: c.flap_max,
                        },
                        kind: c.when,
                        severity: c.severity,
                        classes: c.classes,
                        departments: c.departments,
                        labels: c.labels,
                    }
                })
                .collect();
        let storms = self
            .storms
            .iter()
            .map(|s| StormRule {
                checks: s.checks.clone(),
                min_hosts: s.min_hosts,
                department_percent: s.department_percent,
                window_ms: s.window.0.as_millis() as i64,
            })
            .collect();
        let windows = match &self.maintenance_file {
            None => Windows::default(),
            Some(p) => load_windows(p)?,
        };
        Ok(Policy {
            conditions,
            priority: self.priority.clone(),
            storms,
            windows,
        })
    }
}

/// Reads and checks a maintenance windows file; errors carry file:line.
pub fn load_windows(p: &Path) -> Result<Windows, Vec<String>> {
    let text = tilsyn_proto::yaml::read(p).map_err(|e| vec![e.to_string()])?;
    windows_from_text(p, &text)
}

/// [`load_windows`] on text already read from `p`.
pub fn windows_from_text(p: &Path, text: &str) -> Result<Windows, Vec<String>> {
    let doc: WindowsDoc = tilsyn_proto::yaml::parse(p, text).map_err(|e| vec![e.to_string()])?;
    Windows::compile(doc).map_err(|errs| tilsyn_proto::yaml::with_lines(p, text, errs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A desk entry as the desks crate declares it, with one adapter (`file`).
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Desk {
        name: String,
        #[serde(default)]
        departments: Vec<String>,
        #[serde(default)]
        problems: bool,
        #[serde(default)]
        file: Option<serde_yaml::Value>,
    }

    impl DeskEntry for Desk {
        const ADAPTERS: &'static str = "file";
        fn name(&self) -> &str {
            &self.name
        }
        fn departments(&self) -> &[String] {
            &self.departments
        }
        fn problems(&self) -> bool {
            self.problems
        }
        fn adapters(&self) -> Vec<&'static str> {
            self.file.iter().map(|_| "file").collect()
        }
        fn resolve_paths(&mut self, _: &Path) {}
    }

    type IncidentsConfig = super::IncidentsConfig<Desk>;

    fn cfg(y: &str) -> IncidentsConfig {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn defaults_compile_and_for_means_time_only() {
        let p = IncidentsConfig::default().compile().unwrap();
        assert_eq!(p.conditions.len(), 11);
        let fs = &p.conditions[1];
        assert_eq!(fs.hysteresis.open_after_ms, Some(600_000));
        assert_eq!(fs.hysteresis.open_after_observations, u32::MAX);
        assert!(fs.applies("Server", "x", &BTreeMap::new()));
        assert!(!fs.applies("workstation", "x", &BTreeMap::new()));
        assert_eq!(p.conditions[0].hysteresis.open_after_observations, 1);
    }

    #[test]
    fn every_mistake_is_reported() {
        let c = cfg("conditions:\n  - {when: {filesystem_above: 90}}\n  - {when: offline, observations: 0}\nstorms:\n  - {checks: offline}\ndesks:\n  - {name: a}\n  - {name: a, file: {path: x}}\n");
        let mut is = Issues::default();
        c.validate(&mut is);
        let text = format!("{is:?}");
        for want in [
            "ratio",
            "start at 1",
            "min_hosts",
            "choose the desk",
            "defined twice",
            "only one desk",
        ] {
            assert!(text.contains(want), "{want} in {text}");
        }
    }

    #[test]
    fn unknown_condition_kinds_are_rejected() {
        assert!(
            serde_yaml::from_str::<IncidentsConfig>("conditions: [{when: {disk_above: 1}}]")
                .is_err()
        );
    }
}
