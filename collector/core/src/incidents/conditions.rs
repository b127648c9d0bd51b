//! Conditions: what can raise an incident, read from one host's latest state. Each
//! condition yields observations — (check id, bad or good, severity, detail) — that feed
//! the per-key state machine ([`super::engine`]); the duration a condition must hold
//! (`for: 10m`) is the machine's `open_after`. Pure: the host's state comes in as data.
//!
//! Check ids are stable and bounded per host: `offline`, `health/filesystem:/var`,
//! `health/memory`, `health/cpu`, `health/service:nginx`, `health/process:java`,
//! `patch/overdue`, `compliance/<standard>/<rule>`, `agent/probe:<probe>`.

use serde::Deserialize;
use tilsyn_proto::v1::{Health, PatchLevel};

use crate::compliance::report::Finding;
use crate::compliance::standard::Severity;

/// One kind of condition, as configured: `{filesystem_above: 0.9}`, `offline`, … (a field
/// of this type is read with `serde_yaml::with::singleton_map`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Kind {
    /// The host stopped reporting (offline detection).
    Offline,
    /// A filesystem's used share above this ratio (0..1).
    FilesystemAbove(f64),
    MemoryAbove(f64),
    CpuAbove(f64),
    /// A service the platform reports as failed, or a watched one not running.
    ServiceFailed,
    /// A watched process with no running instance.
    ProcessMissing,
    /// The oldest pending security update is older than this many days.
    PatchOverdueDays(f64),
    /// A compliance rule failing, at or above this severity.
    ComplianceAtLeast(Severity),
    /// A probe reporting errors.
    ProbeFailing,
    /// The host's clock differs from the collector's by more than this many seconds
    /// (either way), seen on its live reports.
    ClockSkewAbove(f64),
}

impl Kind {
    /// Whether `check` is one of the check ids this kind produces (see [`observe`]).
    pub fn produces(&self, check: &str) -> bool {
        match self {
            Kind::Offline => check == "offline",
            Kind::FilesystemAbove(_) => check.starts_with("health/filesystem:"),
            Kind::MemoryAbove(_) => check == "health/memory",
            Kind::CpuAbove(_) => check == "health/cpu",
            Kind::ServiceFailed => check.starts_with("health/service:"),
            Kind::ProcessMissing => check.starts_with("health/process:"),
            Kind::PatchOverdueDays(_) => check == "patch/overdue",
            Kind::ComplianceAtLeast(_) => check.starts_with("compliance/"),
            Kind::ProbeFailing => check.starts_with("agent/probe:"),
            Kind::ClockSkewAbove(_) => check == "clock-skew",
        }
    }
}

/// A host's state as conditions see it.
#[derive(Debug, Clone, Default)]
pub struct HostState<'a> {
    pub offline: bool,
    pub health: Option<&'a Health>,
    pub patches: Option<&'a PatchLevel>,
    /// Failing compliance results of this host (waived and unknown ones are ignored).
    pub findings: &'a [Finding],
    /// Probes with current errors.
    pub probe_errors: &'a [String],
    /// How far ahead (ms; negative: behind) the host's clock runs, when known.
    pub clock_skew_ms: Option<i64>,
    pub now_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub check: String,
    pub bad: bool,
    pub severity: Severity,
    pub detail: String,
}

fn obs(check: String, bad: bool, severity: Severity, detail: String) -> Observation {
    Observation {
        check,
        bad,
        severity,
        detail,
    }
}

/// The observations of one condition on one host. Checks that are good produce a good
/// observation only where the host reports the thing (so a filesystem that disappears
/// does not hold an incident open forever, the engine's caller resolves keys it no longer
/// sees).
pub fn observe(kind: &Kind, severity: Severity, h: &HostState<'_>) -> Vec<Observation> {
    let pct = |r: f64| format!("{:.0} %", r * 100.0);
    match kind {
        Kind::Offline => vec![obs(
            "offline".into(),
            h.offline,
            severity,
            if h.offline {
                "no report within the offline limit".into()
            } else {
                "reporting".into()
            },
        )],
        // A silent host's last health sample is stale: health conditions wait for news.
        _ if h.offline
            && !matches!(kind, Kind::ComplianceAtLeast(_) | Kind::PatchOverdueDays(_)) =>
        {
            vec![]
        }
        Kind::FilesystemAbove(limit) => h
            .health
            .map(|hl| {
                hl.filesystems
                    .iter()
                    .filter(|f| f.total_bytes > 0)
                    .map(|f| {
                        let used = f.used_bytes as f64 / f.total_bytes as f64;
                        obs(
                            format!("health/filesystem:{}", f.mount_point),
                            used > *limit,
                            severity,
                            format!(
                                "{} used {} (limit {})",
                                f.mount_point,
                                pct(used),
                                pct(*limit)
                            ),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Kind::MemoryAbove(limit) => h
            .health
            .filter(|hl| hl.memory_total_bytes > 0)
            .map(|hl| {
                let used = hl.memory_used_bytes as f64 / hl.memory_total_bytes as f64;
                vec![obs(
                    "health/memory".into(),
                    used > *limit,
                    severity,
                    format!("memory used {} (limit {})", pct(used), pct(*limit)),
                )]
            })
            .unwrap_or_default(),
        Kind::CpuAbove(limit) => h
            .health
            .map(|hl| {
                vec![obs(
                    "health/cpu".into(),
                    hl.cpu_usage_ratio > *limit,
                    severity,
                    format!("CPU {} (limit {})", pct(hl.cpu_usage_ratio), pct(*limit)),
                )]
            })
            .unwrap_or_default(),
        Kind::ServiceFailed => h
            .health
            .map(|hl| {
                let failed = hl.failed_services.iter().map(|s| (s, true));
                let watched = hl.watched_services.iter().map(|s| (s, !s.active));
                failed
                    .chain(watched)
                    .map(|(s, bad)| {
                        obs(
                            format!("health/service:{}", s.name),
                            bad,
                            severity,
                            format!("{} is {}", s.name, s.state),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Kind::ProcessMissing => h
            .health
            .map(|hl| {
                hl.watched_processes
                    .iter()
                    .map(|p| {
                        obs(
                            format!("health/process:{}", p.name),
                            p.count == 0,
                            severity,
                            format!("{} running: {}", p.name, p.count),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Kind::PatchOverdueDays(days) => h
            .patches
            .map(|p| {
                let age = p
                    .oldest_security_since_ms
                    .map(|t| (h.now_ms - t).max(0) as f64 / 86_400_000.0);
                let bad = age.is_some_and(|a| a > *days);
                let detail = match age {
                    Some(a) => format!(
                        "{} security updates pending, oldest {a:.0} days (limit {days})",
                        p.pending_security_count
                    ),
                    None => "no security update pending".into(),
                };
                vec![obs("patch/overdue".into(), bad, severity, detail)]
            })
            .unwrap_or_default(),
        Kind::ComplianceAtLeast(min) => h
            .findings
            .iter()
            .filter(|f| f.severity >= *min)
            .map(|f| {
                let bad = f.state == crate::compliance::evaluate::State::Fail;
                obs(
                    crate::incidents::correlation::compliance_check(&f.standard, &f.rule),
                    bad,
                    f.severity,
                    format!("{} / {}: {}", f.standard, f.rule, f.state.as_str()),
                )
            })
            .collect(),
        Kind::ClockSkewAbove(limit) => h
            .clock_skew_ms
            .map(|skew| {
                let s = skew as f64 / 1000.0;
                let dir = if s >= 0.0 { "ahead of" } else { "behind" };
                vec![obs(
                    "clock-skew".into(),
                    s.abs() > *limit,
                    severity,
                    format!("clock {:.0} s {dir} the collector's (limit {limit:.0} s); check time synchronisation", s.abs()),
                )]
            })
            .unwrap_or_default(),
        Kind::ProbeFailing => h
            .probe_errors
            .iter()
            .map(|p| {
                obs(
                    format!("agent/probe:{p}"),
                    true,
                    severity,
                    format!("probe {p} reports errors"),
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::evaluate::State;
    use tilsyn_proto::v1::{FilesystemUsage, ProcessStatus, ServiceStatus};

    fn health() -> Health {
        Health {
            cpu_usage_ratio: 0.95,
            memory_total_bytes: 100,
            memory_used_bytes: 50,
            filesystems: vec![
                FilesystemUsage {
                    mount_point: "/".into(),
                    total_bytes: 100,
                    used_bytes: 95,
                    ..Default::default()
                },
                FilesystemUsage {
                    mount_point: "/var".into(),
                    total_bytes: 100,
                    used_bytes: 10,
                    ..Default::default()
                },
            ],
            failed_services: vec![ServiceStatus {
                name: "nginx".into(),
                active: false,
                state: "failed".into(),
            }],
            watched_services: vec![ServiceStatus {
                name: "ssh".into(),
                active: true,
                state: "active".into(),
            }],
            watched_processes: vec![ProcessStatus {
                name: "java".into(),
                count: 0,
            }],
            ..Default::default()
        }
    }

    fn bad_checks(kind: Kind, h: &HostState<'_>) -> Vec<(String, bool)> {
        observe(&kind, Severity::High, h)
            .into_iter()
            .map(|o| (o.check, o.bad))
            .collect()
    }

    #[test]
    fn health_conditions_name_what_is_wrong() {
        let hl = health();
        let h = HostState {
            health: Some(&hl),
            ..Default::default()
        };
        assert_eq!(
            bad_checks(Kind::FilesystemAbove(0.9), &h),
            vec![
                ("health/filesystem:/".into(), true),
                ("health/filesystem:/var".into(), false)
            ]
        );
        assert_eq!(
            bad_checks(Kind::MemoryAbove(0.9), &h),
            vec![("health/memory".into(), false)]
        );
        assert_eq!(
            bad_checks(Kind::CpuAbove(0.9), &h),
            vec![("health/cpu".into(), true)]
        );
        assert_eq!(
            bad_checks(Kind::ServiceFailed, &h),
            vec![
                ("health/service:nginx".into(), true),
                ("health/service:ssh".into(), false)
            ]
        );
        assert_eq!(
            bad_checks(Kind::ProcessMissing, &h),
            vec![("health/process:java".into(), true)]
        );
        let o = &observe(&Kind::FilesystemAbove(0.9), Severity::High, &h)[0];
        assert_eq!(o.detail, "/ used 95 % (limit 90 %)");
    }

    #[test]
    fn offline_hosts_raise_offline_and_nothing_from_stale_health() {
        let hl = health();
        let h = HostState {
            offline: true,
            health: Some(&hl),
            ..Default::default()
        };
        assert_eq!(
            bad_checks(Kind::Offline, &h),
            vec![("offline".into(), true)]
        );
        assert!(bad_checks(Kind::CpuAbove(0.5), &h).is_empty());
    }

    #[test]
    fn patch_overdue_and_compliance_findings() {
        let p = PatchLevel {
            pending_security_count: 2,
            oldest_security_since_ms: Some(0),
            ..Default::default()
        };
        let f = |rule: &str, severity, state| Finding {
            agent_id: "a".into(),
            hostname: "h".into(),
            department: "d".into(),
            standard: "s".into(),
            rule: rule.into(),
            severity,
            state,
            since_ms: 0,
        };
        let findings = vec![
            f("fw", Severity::High, State::Fail),
            f("lock", Severity::Low, State::Fail),
            f("enc", Severity::Critical, State::Waived),
        ];
        let h = HostState {
            patches: Some(&p),
            findings: &findings,
            now_ms: 20 * 86_400_000,
            ..Default::default()
        };
        assert_eq!(
            bad_checks(Kind::PatchOverdueDays(14.0), &h),
            vec![("patch/overdue".into(), true)]
        );
        assert_eq!(
            bad_checks(Kind::PatchOverdueDays(30.0), &h),
            vec![("patch/overdue".into(), false)]
        );
        assert_eq!(
            bad_checks(Kind::ComplianceAtLeast(Severity::High), &h),
            vec![
                ("compliance/s/fw".into(), true),
                ("compliance/s/enc".into(), false)
            ],
            "low severity ignored; a waived result is good"
        );
        let kind = |src: &str| -> Result<Kind, serde_yaml::Error> {
            serde_yaml::with::singleton_map::deserialize(serde_yaml::Deserializer::from_str(src))
        };
        assert_eq!(
            kind("{filesystem_above: 0.9}").unwrap(),
            Kind::FilesystemAbove(0.9)
        );
        assert_eq!(
            kind("{compliance_at_least: high}").unwrap(),
            Kind::ComplianceAtLeast(Severity::High)
        );
        assert_eq!(kind("offline").unwrap(), Kind::Offline);
        assert!(kind("{disk_above: 0.9}").is_err());
    }
}
