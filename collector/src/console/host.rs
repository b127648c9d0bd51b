//! One host: inventory, every compliance result with the rule's rationale and remedy, its
//! incidents with their desk tickets, pending updates with their age, health over the last
//! day and its hourly rollups, software with versions, facts and probe errors.

use askama::Template;
use axum::extract::{Extension, Path, State};
use axum::response::Response;
use tilsyn_collector_core::compliance::report::HostStandardView;
use tilsyn_collector_core::incidents::records::{IncidentFilter, IncidentRow};
use tilsyn_collector_core::rollup::RollupView;
use tilsyn_collector_store::HostDetail;
use tilsyn_proto::v1::{Health, Inventory, Package, PatchLevel};

use super::charts::{line_chart, Series};
use super::i18n::Tr;
use super::{html, not_found, store, Chrome, Console, Ctx, IncidentRows};

const DAY: i64 = 86_400_000;

pub struct Fact {
    pub key: String,
    pub value: String,
}

/// A rule's result with what the standard says of it.
pub struct RuleLine {
    pub standard: String,
    pub rule: String,
    pub title: String,
    pub severity: String,
    pub state: String,
    pub observed: String,
    pub since_ms: i64,
    pub rationale: String,
    pub remediation: String,
    pub waiver: Option<String>,
}

#[derive(Template)]
#[template(path = "console/host.html")]
struct HostPage<'a> {
    t: &'a Tr,
    c: Chrome,
    now: i64,
    h: HostDetail,
    department: String,
    inv: Option<Inventory>,
    patches: Option<PatchLevel>,
    health: Option<Health>,
    software: Vec<Package>,
    facts: Vec<Fact>,
    standards: Vec<HostStandardView>,
    rules: Vec<RuleLine>,
    incidents: Vec<IncidentRow>,
    chart: String,
    hourly: Vec<RollupView>,
    errors: Vec<(String, String, i64)>,
}

impl IncidentRows for HostPage<'_> {
    fn tr(&self) -> &Tr {
        self.t
    }
}

impl HostPage<'_> {
    fn bytes(&self, b: impl super::i18n::Whole) -> String {
        bytes(self.t, b.whole() as u64)
    }

    fn ratio(&self, r: impl std::borrow::Borrow<f64>) -> String {
        self.t.pct(Some(*r.borrow()), 1)
    }

    fn summary_stat(&self, s: &Option<tilsyn_collector_core::rollup::Summary>) -> String {
        match s {
            Some(s) => format!(
                "{} / {} / {}",
                self.t.pct(Some(s.min), 0),
                self.t.pct(Some(s.avg), 0),
                self.t.pct(Some(s.max), 0)
            ),
            None => "–".into(),
        }
    }

    fn fs_max(&self, r: &RollupView) -> String {
        r.filesystem_used_ratio
            .values()
            .map(|s| s.max)
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))))
            .map_or_else(|| "–".into(), |v| self.t.pct(Some(v), 0))
    }
}

pub fn bytes(t: &Tr, b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{} {}", t.num(v, if u == 0 { 0 } else { 1 }), UNITS[u])
}

/// The facts as (name, value) rows, in the report's field order.
fn facts_rows(v: &serde_json::Value) -> Vec<Fact> {
    let Some(m) = v.as_object() else {
        return vec![];
    };
    m.iter()
        .filter(|(k, _)| *k != "content_hash")
        .filter_map(|(k, v)| {
            let value = match v {
                serde_json::Value::Null => return None,
                serde_json::Value::String(s) if s.is_empty() => return None,
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Object(o) => match o.get("values") {
                    Some(serde_json::Value::Array(a)) => a
                        .iter()
                        .map(|x| x.as_str().unwrap_or_default().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    _ => v.to_string(),
                },
                other => other.to_string(),
            };
            Some(Fact {
                key: k.clone(),
                value,
            })
        })
        .collect()
}

fn decode<T: serde::de::DeserializeOwned>(v: &Option<serde_json::Value>) -> Option<T> {
    v.as_ref()
        .and_then(|v| serde_json::from_value::<T>(v.clone()).ok())
}

pub async fn page(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let tr = &ctx.tr;
    let now = (c.clock)();
    let key = id.clone();
    let scope = ctx.caller.scope().map(<[String]>::to_vec);
    let found = store(&c, tr, "console_host", move |st| {
        let Some(h) = st.get_host(&key)? else {
            return Ok(None);
        };
        if scope
            .as_deref()
            .is_some_and(|s| !s.contains(&h.summary.department))
        {
            return Ok(None);
        }
        let incidents = st.list_incidents(&IncidentFilter {
            host: Some(key.clone()),
            limit: Some(100),
            ..IncidentFilter::default()
        })?;
        let five = st.health_rollups(&key, 300_000, now - DAY, 288)?;
        let hourly = st.health_rollups(&key, 3_600_000, now - DAY, 24)?;
        let raw = if five.is_empty() {
            st.health_history(&key, now - DAY, 1440)?
        } else {
            vec![]
        };
        Ok(Some((h, incidents, five, hourly, raw)))
    })
    .await;
    let (h, mut incidents, five, hourly, raw) = match found {
        Ok(Some(v)) => v,
        Ok(None) => return not_found(tr, &id),
        Err(r) => return r,
    };
    incidents.retain(|i| i.agent_id == id);

    let inv: Option<Inventory> = decode(&h.inventory);
    let patches: Option<PatchLevel> = decode(&h.patches);
    let health: Option<Health> = decode(&h.health);
    let software: Vec<Package> = h
        .software
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let facts = h.facts.as_ref().map(facts_rows).unwrap_or_default();
    let standards = c.compliance.host(&id).unwrap_or_default();
    let set = c.compliance.file_set();
    let mut rules = vec![];
    for s in &standards {
        let std_def = set.standards.iter().find(|d| d.id == s.standard);
        for r in &s.rules {
            let def = std_def.and_then(|d| d.rules.iter().find(|x| x.id == r.rule));
            rules.push(RuleLine {
                standard: s.standard.clone(),
                rule: r.rule.clone(),
                title: r.title.clone(),
                severity: serde_plain(&r.severity),
                state: serde_plain(&r.state),
                observed: r.observed.clone(),
                since_ms: r.since_ms,
                rationale: def.map(|d| d.rationale.clone()).unwrap_or_default(),
                remediation: r.remediation.clone(),
                waiver: r
                    .waiver
                    .as_ref()
                    .map(|w| format!("{} ({})", w.id, w.expires)),
            });
        }
    }
    // Failures first, then unknown, waived, passes.
    let order = |s: &str| match s {
        "fail" => 0,
        "unknown" => 1,
        "waived" => 2,
        "pass" => 3,
        _ => 4,
    };
    rules.sort_by_key(|r| order(&r.state));

    // The last day: 5-minute rollups (mean), or the raw samples until the first rollup.
    let mut cpu = vec![];
    let mut mem = vec![];
    let mut disk = vec![];
    if !five.is_empty() {
        for r in five.iter().rev() {
            let at = r.bucket_start_ms;
            if let Some(s) = &r.cpu_usage_ratio {
                cpu.push((at, s.avg));
            }
            if let Some(s) = &r.memory_used_ratio {
                mem.push((at, s.avg));
            }
            if let Some(m) = r
                .filesystem_used_ratio
                .values()
                .map(|s| s.max)
                .reduce(f64::max)
            {
                disk.push((at, m));
            }
        }
    } else {
        for s in raw.iter().rev() {
            let Ok(hl) = serde_json::from_value::<Health>(s.health.clone()) else {
                continue;
            };
            let at = s.collected_at_ms;
            cpu.push((at, hl.cpu_usage_ratio));
            if hl.memory_total_bytes > 0 {
                mem.push((
                    at,
                    hl.memory_used_bytes as f64 / hl.memory_total_bytes as f64,
                ));
            }
            let fs = hl
                .filesystems
                .iter()
                .filter(|f| f.total_bytes > 0)
                .map(|f| f.used_bytes as f64 / f.total_bytes as f64)
                .reduce(f64::max);
            if let Some(f) = fs {
                disk.push((at, f));
            }
        }
    }
    let chart = line_chart(
        tr,
        &[
            Series {
                label: tr.t("health-cpu"),
                points: cpu,
                colour: "#1565c0",
            },
            Series {
                label: tr.t("health-memory"),
                points: mem,
                colour: "#6a1b9a",
            },
            Series {
                label: tr.t("health-disk"),
                points: disk,
                colour: "#bf360c",
            },
        ],
        now - DAY,
        now,
        &tr.t("health-chart-label"),
    );
    let mut errors = vec![];
    if let Some(m) = h.probe_errors.as_object() {
        for (probe, list) in m {
            for e in list.as_array().into_iter().flatten() {
                errors.push((
                    probe.clone(),
                    e["message"].as_str().unwrap_or_default().to_string(),
                    e["at_ms"].as_i64().unwrap_or_default(),
                ));
            }
        }
    }
    let department = c.department_name(&h.summary.department);
    html(HostPage {
        t: tr,
        c: Chrome::new(&ctx, "fleet"),
        now,
        h,
        department,
        inv,
        patches,
        health,
        software,
        facts,
        standards,
        rules,
        incidents,
        chart,
        hourly,
        errors,
    })
}

/// An enum's serde name (`fail`, `high`).
pub fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}
