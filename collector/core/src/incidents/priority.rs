//! ITIL priority = impact × urgency. Impact comes from the host (a server delivering a
//! service to a department ranks above a single workstation), urgency from the check's
//! severity; a configurable matrix gives P1 (most urgent) to P5. Desk adapters map the
//! priority to their own fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::compliance::standard::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    High,
    Medium,
    Low,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
    P5,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
            Priority::P5 => "P5",
        }
    }

    /// 1 (P1) to 5 (P5).
    pub fn number(self) -> u8 {
        self as u8 + 1
    }
}

/// Which hosts have which impact: first matching rule wins, else `default_impact`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpactRule {
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub impact: Impact,
}

/// The priority configuration: impact rules and the impact × severity matrix.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityConfig {
    #[serde(default)]
    pub impact: Vec<ImpactRule>,
    #[serde(default = "d_impact")]
    pub default_impact: Impact,
    /// impact → severity → priority; missing cells fall back to the default matrix.
    #[serde(default)]
    pub matrix: BTreeMap<Impact, BTreeMap<Severity, Priority>>,
}

fn d_impact() -> Impact {
    Impact::Low
}

impl Default for PriorityConfig {
    fn default() -> Self {
        PriorityConfig {
            impact: vec![ImpactRule {
                class: Some("server".into()),
                department: None,
                labels: BTreeMap::new(),
                impact: Impact::Medium,
            }],
            default_impact: d_impact(),
            matrix: BTreeMap::new(),
        }
    }
}

/// The default ITIL matrix (rows: impact high, medium, low; columns: severity critical,
/// high, medium, low).
fn default_cell(i: Impact, s: Severity) -> Priority {
    use Priority::*;
    let row = match i {
        Impact::High => [P1, P2, P3, P4],
        Impact::Medium => [P2, P3, P4, P5],
        Impact::Low => [P3, P4, P5, P5],
    };
    row[match s {
        Severity::Critical => 0,
        Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
    }]
}

impl PriorityConfig {
    pub fn impact_of(
        &self,
        class: &str,
        department: &str,
        labels: &BTreeMap<String, String>,
    ) -> Impact {
        self.impact
            .iter()
            .find(|r| {
                r.class
                    .as_deref()
                    .is_none_or(|c| c.eq_ignore_ascii_case(class))
                    && r.department
                        .as_deref()
                        .is_none_or(|d| d.eq_ignore_ascii_case(department))
                    && r.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            })
            .map_or(self.default_impact, |r| r.impact)
    }

    pub fn priority(&self, impact: Impact, severity: Severity) -> Priority {
        self.matrix
            .get(&impact)
            .and_then(|row| row.get(&severity))
            .copied()
            .unwrap_or_else(|| default_cell(impact, severity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_critical_server_outranks_a_workstation() {
        let cfg: PriorityConfig = serde_yaml::from_str(
            "impact:\n  - {class: server, labels: {criticality: high}, impact: high}\n  - {class: server, impact: medium}\nmatrix:\n  low: {low: P4}\n",
        )
        .unwrap();
        let mut labels = BTreeMap::new();
        let ws = cfg.impact_of("workstation", "schools", &labels);
        let srv = cfg.impact_of("server", "schools", &labels);
        labels.insert("criticality".to_string(), "high".to_string());
        let crit = cfg.impact_of("server", "schools", &labels);
        assert_eq!((ws, srv, crit), (Impact::Low, Impact::Medium, Impact::High));
        assert_eq!(cfg.priority(crit, Severity::Critical), Priority::P1);
        assert_eq!(cfg.priority(srv, Severity::High), Priority::P3);
        assert_eq!(cfg.priority(ws, Severity::Critical), Priority::P3);
        assert_eq!(
            cfg.priority(ws, Severity::Low),
            Priority::P4,
            "configured cell"
        );
        assert_eq!(
            cfg.priority(ws, Severity::Medium),
            Priority::P5,
            "default cell"
        );
        assert_eq!(Priority::P2.number(), 2);
    }

    #[test]
    fn unknown_impacts_and_priorities_are_rejected() {
        assert!(serde_yaml::from_str::<PriorityConfig>("default_impact: huge").is_err());
        assert!(serde_yaml::from_str::<PriorityConfig>("matrix: {high: {critical: P0}}").is_err());
    }
}
