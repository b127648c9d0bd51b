//! The SLA file (`configs/sla.yaml`, named by `sla.file` in the collector config): tiers
//! with service hours and targets, the departments' tiers, and the service catalogue.
//! Reference: `configs/sla.md`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::Deserialize;
use tilsyn_proto::duration::HumanDuration;

use super::calendar::{Calendar, CalendarDoc};
use crate::incidents::maintenance::{HostRef, Scope, ScopeDoc};

pub const PRIORITIES: [&str; 5] = ["P1", "P2", "P3", "P4", "P5"];
/// The checks that make a host unhealthy for a service unless `up.checks` says otherwise.
pub const DEFAULT_UP_CHECKS: [&str; 1] = ["health/*"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaDoc {
    /// The zone in which report months begin and end, e.g. `Europe/Copenhagen`.
    pub time_zone: Option<String>,
    pub tiers: BTreeMap<String, TierDoc>,
    /// Department id → its tier; departments not listed get `default_tier`.
    #[serde(default)]
    pub departments: Vec<DepartmentDoc>,
    pub default_tier: Option<String>,
    #[serde(default)]
    pub services: Vec<ServiceDoc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierDoc {
    pub name: Option<String>,
    pub service_hours: CalendarDoc,
    /// Share of counted time a service must be up, e.g. 0.995.
    pub availability: f64,
    /// Share of incidents that must meet their response and resolution targets.
    #[serde(default = "default_attainment")]
    pub attainment: f64,
    /// Priority (P1 … P5) → time to first human response, in service hours.
    #[serde(default)]
    pub response: BTreeMap<String, HumanDuration>,
    /// Priority → time to resolution, in service hours.
    #[serde(default)]
    pub resolution: BTreeMap<String, HumanDuration>,
}

fn default_attainment() -> f64 {
    0.9
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentDoc {
    pub id: String,
    pub tier: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDoc {
    pub id: String,
    pub name: Option<String>,
    /// The departments (customers) the service is delivered to.
    pub departments: Vec<String>,
    /// The hosts that deliver it (every key given must match).
    pub hosts: ScopeDoc,
    #[serde(default)]
    pub up: UpDoc,
    /// Overrides the tiers' availability target for this service.
    pub availability: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpDoc {
    /// `all` (default) or the least number of healthy hosts.
    pub hosts: Option<serde_yaml::Value>,
    /// Check ids (globs) whose incidents make a host unhealthy; `offline` always does.
    pub checks: Option<Vec<String>>,
}

/// A checked tier.
#[derive(Debug, Clone)]
pub struct Tier {
    pub id: String,
    pub name: String,
    pub calendar: Calendar,
    pub availability: f64,
    pub attainment: f64,
    /// Indexed by priority number − 1; `None` = no target for that priority.
    pub response_ms: [Option<i64>; 5],
    pub resolution_ms: [Option<i64>; 5],
}

/// When a service counts as up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    All,
    AtLeast(usize),
}

impl Need {
    /// Up with `healthy` of `n` hosts? A service without hosts is never up (no data).
    pub fn met(self, healthy: usize, n: usize) -> bool {
        n > 0
            && match self {
                Need::All => healthy >= n,
                Need::AtLeast(k) => healthy >= k.min(n),
            }
    }
}

#[derive(Debug, Clone)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub departments: Vec<String>,
    pub hosts: Scope,
    pub need: Need,
    pub checks: Vec<String>,
    pub availability: Option<f64>,
}

impl Service {
    pub fn has_host(&self, h: &HostRef) -> bool {
        self.hosts.matches_host(h)
    }

    /// Does an incident of this check make a host unhealthy for the service?
    pub fn counts_check(&self, check: &str) -> bool {
        check == "offline"
            || self
                .checks
                .iter()
                .any(|g| crate::text::glob_with(g, check, false))
    }
}

/// The whole checked SLA file.
#[derive(Debug, Clone)]
pub struct SlaPolicy {
    /// Report months run from midnight to midnight in this zone.
    pub time_zone: jiff::tz::TimeZone,
    pub tiers: Vec<Tier>,
    /// department id → tier index, for every department of the collector.
    pub department_tier: BTreeMap<String, usize>,
    pub services: Vec<Service>,
}

impl SlaPolicy {
    pub fn tier_of(&self, department: &str) -> Option<&Tier> {
        self.department_tier
            .get(department)
            .map(|&i| &self.tiers[i])
    }

    /// A department id a user asked for, or an error listing the known ones.
    pub fn check_department(&self, id: &str) -> Result<(), String> {
        if self.department_tier.contains_key(id) {
            return Ok(());
        }
        let known: Vec<&str> = self.department_tier.keys().map(String::as_str).collect();
        Err(format!(
            "unknown department {id:?}; departments: {}",
            known.join(", ")
        ))
    }

    /// The availability target of a service for a department.
    pub fn availability_target(&self, s: &Service, department: &str) -> Option<f64> {
        s.availability
            .or_else(|| self.tier_of(department).map(|t| t.availability))
    }

    /// Reads and checks an SLA file against the collector's departments (id → name);
    /// every problem as `file:line: path: message`.
    pub fn load(p: &Path, departments: &[(String, String)]) -> Result<SlaPolicy, Vec<String>> {
        let text = tilsyn_proto::yaml::read(p).map_err(|e| vec![e.to_string()])?;
        Self::from_text(p, &text, departments)
    }

    /// [`Self::load`] on text already read from `p`.
    pub fn from_text(
        p: &Path,
        text: &str,
        departments: &[(String, String)],
    ) -> Result<SlaPolicy, Vec<String>> {
        let doc: SlaDoc = tilsyn_proto::yaml::parse(p, text).map_err(|e| vec![e.to_string()])?;
        Self::compile(&doc, departments)
            .map_err(|errs| tilsyn_proto::yaml::with_lines(p, text, errs))
    }

    /// Checks the document; every problem as (path, message).
    pub fn compile(
        doc: &SlaDoc,
        departments: &[(String, String)],
    ) -> Result<SlaPolicy, Vec<(String, String)>> {
        let mut errs: Vec<(String, String)> = Vec::new();
        let mut err = |p: String, m: String| errs.push((p, m));
        let known: BTreeSet<&str> = departments.iter().map(|(id, _)| id.as_str()).collect();
        let known_list = || known.iter().copied().collect::<Vec<_>>().join(", ");

        if doc.tiers.is_empty() {
            err("tiers".into(), "define at least one tier".into());
        }
        let time_zone = match doc.time_zone.as_deref() {
            None => {
                err(
                    "time_zone".into(),
                    "required: the zone report months are counted in, e.g. Europe/Copenhagen"
                        .into(),
                );
                None
            }
            Some(z) => match jiff::tz::TimeZone::get(z) {
                Ok(tz) => Some(tz),
                Err(_) => {
                    err(
                        "time_zone".into(),
                        format!("{z:?} is not a known time zone (IANA names like Europe/Oslo)"),
                    );
                    None
                }
            },
        };
        let mut tiers = Vec::new();
        let mut tier_index = HashMap::new();
        for (id, t) in &doc.tiers {
            let p = format!("tiers.{id}");
            if !crate::text::valid_id(id) {
                err(
                    p.clone(),
                    format!("tier id {id:?} must be 1-64 characters of a-z, 0-9, '-' or '_'"),
                );
            }
            let calendar = match Calendar::compile(&t.service_hours, &format!("{p}.service_hours"))
            {
                Ok(c) => Some(c),
                Err(es) => {
                    for (a, b) in es {
                        err(a, b);
                    }
                    None
                }
            };
            for (key, v) in [
                ("availability", t.availability),
                ("attainment", t.attainment),
            ] {
                if !(v > 0.0 && v <= 1.0) {
                    err(
                        format!("{p}.{key}"),
                        format!("{v} is not a share: write e.g. 0.995 for 99.5 %"),
                    );
                }
            }
            let mut targets = |key: &str, m: &BTreeMap<String, HumanDuration>| {
                let mut out = [None; 5];
                for (prio, d) in m {
                    match PRIORITIES.iter().position(|x| x == prio) {
                        None => err(
                            format!("{p}.{key}.{prio}"),
                            format!("{prio:?} is not a priority: use P1 … P5"),
                        ),
                        Some(_) if d.0.is_zero() => err(
                            format!("{p}.{key}.{prio}"),
                            "a target of 0 can never be met: give a duration such as 30m".into(),
                        ),
                        Some(_) if d.0.as_secs() > 366 * 86_400 => err(
                            format!("{p}.{key}.{prio}"),
                            "longer than a year of service hours: not a target".into(),
                        ),
                        Some(i) => out[i] = Some(d.0.as_millis() as i64),
                    }
                }
                out
            };
            let response_ms = targets("response", &t.response);
            let resolution_ms = targets("resolution", &t.resolution);
            for i in 0..5 {
                if let (Some(r), Some(s)) = (response_ms[i], resolution_ms[i]) {
                    if s < r {
                        err(
                            format!("{p}.resolution.{}", PRIORITIES[i]),
                            format!(
                                "shorter than the response target ({}): an incident is answered before it is resolved",
                                human(r)
                            ),
                        );
                    }
                }
                if i > 0 {
                    for (key, v) in [("response", &response_ms), ("resolution", &resolution_ms)] {
                        if let (Some(hi), Some(lo)) = (v[i - 1], v[i]) {
                            if lo < hi {
                                err(
                                    format!("{p}.{key}.{}", PRIORITIES[i]),
                                    format!(
                                        "{} is shorter than {}'s target ({}): a lower priority gets the same or more time",
                                        PRIORITIES[i],
                                        PRIORITIES[i - 1],
                                        human(hi)
                                    ),
                                );
                            }
                        }
                    }
                }
            }
            if let Some(calendar) = calendar {
                tier_index.insert(id.clone(), tiers.len());
                tiers.push(Tier {
                    id: id.clone(),
                    name: t.name.clone().unwrap_or_else(|| id.clone()),
                    calendar,
                    availability: t.availability,
                    attainment: t.attainment,
                    response_ms,
                    resolution_ms,
                });
            }
        }

        let tier_ref = |p: String, t: &str, err: &mut dyn FnMut(String, String)| {
            let found = tier_index.get(t).copied();
            if found.is_none() && !doc.tiers.contains_key(t) {
                err(
                    p,
                    format!(
                        "unknown tier {t:?}; tiers are: {}",
                        doc.tiers.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            found
        };
        let default = doc
            .default_tier
            .as_deref()
            .and_then(|t| tier_ref("default_tier".into(), t, &mut err));
        let mut department_tier = BTreeMap::new();
        for (i, d) in doc.departments.iter().enumerate() {
            let p = format!("departments[{i}]");
            if !known.contains(d.id.as_str()) {
                err(
                    format!("{p}.id"),
                    format!(
                        "unknown department {:?}; the collector's departments are: {}",
                        d.id,
                        known_list()
                    ),
                );
            }
            if let Some(t) = tier_ref(format!("{p}.tier"), &d.tier, &mut err) {
                if department_tier.insert(d.id.clone(), t).is_some() {
                    err(p, format!("department {:?} is listed twice", d.id));
                }
            }
        }
        let mut untiered = Vec::new();
        for (id, _) in departments {
            if !department_tier.contains_key(id) {
                match default {
                    Some(t) => {
                        department_tier.insert(id.clone(), t);
                    }
                    None => untiered.push(id.as_str()),
                }
            }
        }
        if !untiered.is_empty() && doc.default_tier.is_none() {
            err(
                "departments".into(),
                format!(
                    "no tier for {}: list them under departments or set default_tier",
                    untiered.join(", ")
                ),
            );
        }

        let mut services = Vec::new();
        let mut ids = BTreeSet::new();
        for (i, s) in doc.services.iter().enumerate() {
            let p = format!("services[{i}]");
            if !crate::text::valid_id(&s.id) {
                err(
                    format!("{p}.id"),
                    format!("{:?} must be 1-64 characters of a-z, 0-9, '-' or '_'", s.id),
                );
            } else if !ids.insert(s.id.clone()) {
                err(
                    format!("{p}.id"),
                    format!("service {:?} is defined twice", s.id),
                );
            }
            if s.departments.is_empty() {
                err(
                    format!("{p}.departments"),
                    "name the departments the service is delivered to".into(),
                );
            }
            for (j, d) in s.departments.iter().enumerate() {
                if !known.contains(d.as_str()) {
                    err(
                        format!("{p}.departments[{j}]"),
                        format!(
                            "unknown department {d:?}; the collector's departments are: {}",
                            known_list()
                        ),
                    );
                }
            }
            let h = &s.hosts;
            if h.checks.is_some() {
                err(
                    format!("{p}.hosts.checks"),
                    "a host selector picks hosts, not checks: put checks under up.checks".into(),
                );
            }
            if h.department.is_none()
                && h.class.is_none()
                && h.labels.is_none()
                && h.hosts.is_none()
            {
                err(
                    format!("{p}.hosts"),
                    "select the hosts that deliver the service (department, class, labels, hosts)"
                        .into(),
                );
            }
            if let Some(ds) = &h.department {
                for (j, d) in ds.iter().enumerate() {
                    if !known.iter().any(|k| k.eq_ignore_ascii_case(d)) {
                        err(
                            format!("{p}.hosts.department[{j}]"),
                            format!("unknown department {d:?}"),
                        );
                    }
                }
            }
            let mut scope_errs = Vec::new();
            let scope = crate::incidents::maintenance::compile_scope(
                &format!("{p}.hosts"),
                h.clone(),
                &mut scope_errs,
            );
            for (a, b) in scope_errs {
                err(a, b);
            }
            let need = match &s.up.hosts {
                None => Need::All,
                Some(serde_yaml::Value::String(v)) if v == "all" => Need::All,
                Some(serde_yaml::Value::Number(n)) if n.as_u64().is_some_and(|k| k >= 1) => {
                    Need::AtLeast(n.as_u64().unwrap_or(1) as usize)
                }
                Some(_) => {
                    err(
                        format!("{p}.up.hosts"),
                        "write `all` or the least number of healthy hosts (1 or more)".into(),
                    );
                    Need::All
                }
            };
            let checks = match &s.up.checks {
                None => DEFAULT_UP_CHECKS.iter().map(|c| c.to_string()).collect(),
                Some(v) if v.is_empty() => {
                    err(
                        format!("{p}.up.checks"),
                        "an empty list: leave it out for the default (health/*), offline always counts"
                            .into(),
                    );
                    vec![]
                }
                Some(v) => v.clone(),
            };
            if let Some(a) = s.availability {
                if !(a > 0.0 && a <= 1.0) {
                    err(
                        format!("{p}.availability"),
                        format!("{a} is not a share: write e.g. 0.999 for 99.9 %"),
                    );
                }
            }
            services.push(Service {
                id: s.id.clone(),
                name: s.name.clone().unwrap_or_else(|| s.id.clone()),
                departments: s.departments.clone(),
                hosts: scope,
                need,
                checks,
                availability: s.availability,
            });
        }
        match time_zone {
            Some(time_zone) if errs.is_empty() => Ok(SlaPolicy {
                time_zone,
                tiers,
                department_tier,
                services,
            }),
            _ => Err(errs),
        }
    }
}

/// `90m` → "1h30m".
pub fn human(ms: i64) -> String {
    let s = ms / 1000;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    let mut out = String::new();
    if d > 0 {
        out += &format!("{d}d");
    }
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 || out.is_empty() {
        out += &format!("{m}m");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depts() -> Vec<(String, String)> {
        vec![
            ("social".into(), "Social Services".into()),
            ("schools".into(), "Schools".into()),
        ]
    }

    fn compile(y: &str) -> Result<SlaPolicy, Vec<(String, String)>> {
        let doc: SlaDoc = serde_yaml::from_str(y).unwrap();
        SlaPolicy::compile(&doc, &depts())
    }

    const GOOD: &str = r#"
time_zone: Europe/Copenhagen
tiers:
  basic:
    service_hours: {time_zone: Europe/Copenhagen, weekdays: ["08:00-16:00"]}
    availability: 0.98
    response: {P1: 1h, P2: 2h}
    resolution: {P1: 8h, P2: 16h}
  critical:
    service_hours: {time_zone: Europe/Copenhagen, always: true}
    availability: 0.999
    attainment: 0.95
default_tier: basic
departments:
  - {id: social, tier: critical}
services:
  - id: case-management
    departments: [social]
    hosts: {class: [server], labels: {role: case}}
    up: {hosts: 1, checks: ["health/service:*"]}
"#;

    #[test]
    fn a_good_file_compiles() {
        let p = compile(GOOD).unwrap();
        assert_eq!(p.tier_of("social").unwrap().id, "critical");
        assert_eq!(p.tier_of("schools").unwrap().id, "basic");
        assert_eq!(p.tiers[0].response_ms[0], Some(3_600_000));
        assert_eq!(p.tiers[0].response_ms[2], None);
        let s = &p.services[0];
        assert_eq!(s.need, Need::AtLeast(1));
        assert!(s.counts_check("offline"));
        assert!(s.counts_check("health/service:nginx"));
        assert!(!s.counts_check("health/cpu"));
        assert_eq!(p.availability_target(s, "social"), Some(0.999));
    }

    #[test]
    fn every_mistake_is_named() {
        let y = r#"
tiers:
  basic:
    service_hours: {time_zone: Mars/Olympus, weekdays: ["08:00-16:00", "12:00-18:00"]}
    availability: 99.5
    response: {P1: 4h, P2: 1h, P9: 1h}
    resolution: {P1: 2h}
departments:
  - {id: social, tier: gold}
  - {id: finance, tier: basic}
services:
  - id: mail
    departments: [social, nowhere]
    hosts: {checks: [offline]}
    up: {hosts: 0}
  - id: mail
    departments: []
    hosts: {department: [atlantis]}
    availability: 0
"#;
        let errs = compile(y).unwrap_err();
        let text = format!("{errs:?}");
        for want in [
            "tiers.basic.service_hours.time_zone",
            "overlapping service hours",
            "tiers.basic.availability",
            "P9",
            "P2 is shorter than P1",
            "tiers.basic.resolution.P1",
            "unknown tier \\\"gold\\\"",
            "unknown department \\\"finance\\\"",
            "no tier for social, schools",
            "services[0].departments[1]",
            "services[0].hosts.checks",
            "services[0].up.hosts",
            "services[1].id",
            "services[1].departments",
            "services[1].hosts.department[0]",
            "services[1].availability",
        ] {
            assert!(text.contains(want), "missing {want}: {text}");
        }
    }

    #[test]
    fn needs() {
        assert!(Need::All.met(3, 3));
        assert!(!Need::All.met(2, 3));
        assert!(Need::AtLeast(2).met(2, 3));
        assert!(Need::AtLeast(5).met(3, 3), "k above n means all");
        assert!(!Need::All.met(0, 0), "no hosts is never up");
        assert_eq!(human(5_400_000), "1h30m");
        assert_eq!(human(2 * 86_400_000), "2d");
    }
}
