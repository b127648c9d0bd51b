//! The SLA at the edges: reading a period's inputs from the store, the evaluator thread
//! that keeps the `tilsyn_sla_*` metrics and the month's compliance snapshot current, and
//! the one function the API and the CLI use to make a report.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::metrics::Metrics;
use tilsyn_collector_core::incidents::maintenance::Windows;
use tilsyn_collector_core::sla::attainment::Outcome;
use tilsyn_collector_core::sla::config::{SlaPolicy, PRIORITIES};
use tilsyn_collector_core::sla::report::{
    build_with, DepartmentCompliance, Inputs, Judged, Period, ServiceState, SlaHost, SlaIncident,
    SlaReport, SlaUnmonitored,
};
use tilsyn_collector_store::{Store, StoreError};

/// What a report is made from besides the store: the checked SLA file, the maintenance
/// windows and the collector's departments (id, name).
pub struct Catalogue {
    pub policy: SlaPolicy,
    pub windows: Windows,
    pub departments: Vec<(String, String)>,
}

/// The report for `period` from the store: hosts, the incidents open during the period,
/// the hosts' unmonitored time in it (the collector's own gaps, left out of availability),
/// and the departments' compliance figures saved for the period's month (the evaluator
/// saves them as it runs; a past month shows the last figures taken in it).
pub fn report(
    store: &dyn Store,
    cat: &Catalogue,
    period: &Period,
    department: Option<&str>,
    now_ms: i64,
) -> Result<SlaReport, StoreError> {
    // A month shows its own figures; the rolling 30 days the current month's.
    let month = match Period::month(&period.label, &cat.policy.time_zone) {
        Ok(m) => m.label,
        Err(_) => Period::month_of(now_ms, &cat.policy.time_zone).label,
    };
    let compliance = snapshots(store, &month)?;
    let l = load(store, period.from_ms, period.to_ms.min(now_ms) + 1)?;
    let inp = Inputs {
        policy: &cat.policy,
        departments: &cat.departments,
        hosts: &l.hosts,
        incidents: &l.incidents,
        unmonitored: &l.unmonitored,
        windows: &cat.windows,
        compliance: &compliance,
        now_ms,
    };
    Ok(build_with(&inp, period, department, &mut |_| {}))
}

/// What the store holds for a report over `[from_ms, to_ms)`.
struct Loaded {
    hosts: Vec<SlaHost>,
    incidents: Vec<SlaIncident>,
    unmonitored: Vec<SlaUnmonitored>,
}

fn load(store: &dyn Store, from_ms: i64, to_ms: i64) -> Result<Loaded, StoreError> {
    let mut hosts = Vec::new();
    store.sla_hosts(&mut |h| hosts.push(h))?;
    let mut incidents = Vec::new();
    store.sla_incidents(from_ms, to_ms, &mut |i| incidents.push(i))?;
    let mut unmonitored = Vec::new();
    store.sla_unmonitored(from_ms, to_ms, &mut |u| unmonitored.push(u))?;
    Ok(Loaded {
        hosts,
        incidents,
        unmonitored,
    })
}

fn snapshots(
    store: &dyn Store,
    month: &str,
) -> Result<BTreeMap<String, DepartmentCompliance>, StoreError> {
    Ok(store
        .sla_snapshots(month)?
        .into_iter()
        .filter_map(|(d, json, _)| Some((d, serde_json::from_str(&json).ok()?)))
        .collect())
}

/// The evaluator: every `every`, the current month and the last 30 days.
pub struct Sla {
    cat: Catalogue,
    /// The windows in force: the file's and the change windows (replaced as those change).
    windows: std::sync::RwLock<Windows>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    compliance: Arc<crate::services::compliance::Compliance>,
    clock: fn() -> i64,
    /// Outcomes already counted in `tilsyn_sla_incidents_total` / observed in the
    /// histograms: (incident, response?).
    counted: Mutex<Option<Seen>>,
}

/// (incident, response?) pairs counted / observed.
type Seen = (HashSet<(i64, bool)>, HashSet<(i64, bool)>);

impl Sla {
    pub fn start(
        cat: Catalogue,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        compliance: Arc<crate::services::compliance::Compliance>,
        clock: fn() -> i64,
        every: Duration,
        leader: Arc<crate::services::leader::Leadership>,
    ) -> Arc<Sla> {
        let s = Arc::new(Sla {
            windows: std::sync::RwLock::new(cat.windows.clone()),
            cat,
            store,
            metrics,
            compliance,
            clock,
            counted: Mutex::new(None),
        });
        let w = Arc::downgrade(&s);
        std::thread::Builder::new()
            .name("sla".into())
            .spawn(move || loop {
                let Some(s) = w.upgrade() else { return };
                // Fleet-wide figures come from one place: the leading collector.
                if leader.is_leader() {
                    s.evaluate_logged();
                }
                drop(s);
                std::thread::sleep(every);
            })
            .expect("spawn SLA evaluator");
        s
    }

    /// The SLA file, the departments and the maintenance windows in force now.
    pub fn catalogue(&self) -> Catalogue {
        Catalogue {
            policy: self.cat.policy.clone(),
            windows: self.windows.read().expect("windows").clone(),
            departments: self.cat.departments.clone(),
        }
    }

    /// The maintenance windows changed (a change window was made, extended or ended).
    pub fn set_windows(&self, w: Windows) {
        *self.windows.write().expect("windows") = w;
    }

    pub fn policy(&self) -> &SlaPolicy {
        &self.cat.policy
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    fn evaluate_logged(&self) {
        let t = Instant::now();
        let m = &self.metrics.sla;
        match self.evaluate() {
            Ok(()) => m.evaluations.with_label_values(&["ok"]).inc(),
            Err(e) => {
                m.evaluations.with_label_values(&["error"]).inc();
                tracing::warn!(error = %e, "SLA evaluation failed; the next one retries");
            }
        }
        m.evaluation_duration.observe(t.elapsed().as_secs_f64());
    }

    /// One evaluation: saves the month's compliance figures, computes the month and the
    /// last 30 days, and sets every SLA metric.
    pub fn evaluate(&self) -> Result<(), StoreError> {
        let now = (self.clock)();
        let tz = &self.cat.policy.time_zone;
        let month = Period::month_of(now, tz);
        let rolling = Period::rolling_30d(now);
        let figures = self.compliance.department_figures(now);
        let rows: Vec<(String, String)> = self
            .cat
            .departments
            .iter()
            .filter_map(|(d, _)| {
                let f = figures.get(d)?;
                Some((d.clone(), serde_json::to_string(f).ok()?))
            })
            .collect();
        self.store.save_sla_snapshot(&month.label, &rows, now)?;
        let l = load(&*self.store, month.from_ms.min(rolling.from_ms), now + 1)?;
        let windows = self.windows.read().expect("windows").clone();
        let inp = Inputs {
            policy: &self.cat.policy,
            departments: &self.cat.departments,
            hosts: &l.hosts,
            incidents: &l.incidents,
            unmonitored: &l.unmonitored,
            windows: &windows,
            compliance: &figures,
            now_ms: now,
        };
        let mut judged = Vec::new();
        let month_report = build_with(&inp, &month, None, &mut |j| judged.push(j));
        let rolling_report = build_with(&inp, &rolling, None, &mut |_| {});
        self.count_outcomes(&month_report, &judged);
        self.set_gauges(&month_report, &rolling_report, now);
        Ok(())
    }

    /// Counters and histograms move once per outcome. After a start, outcomes already
    /// known are taken as counted (a restarted counter that jumped by everything it had
    /// counted before would read as a burst of incidents).
    fn count_outcomes(&self, r: &SlaReport, judged: &[Judged]) {
        let m = &self.metrics.sla;
        let mut g = self.counted.lock().expect("counted");
        let first = g.is_none();
        let (counted, observed) = g.get_or_insert_with(Default::default);
        let mut seen = HashSet::with_capacity(judged.len());
        for j in judged {
            let key = (j.incident_id, j.response);
            seen.insert(key);
            let dept = r.departments[j.department_idx].id.as_str();
            let prio = PRIORITIES[j.priority];
            let target = if j.response { "response" } else { "resolution" };
            let (result, done) = match j.outcome {
                Outcome::Pending { .. } => continue,
                Outcome::Met { .. } => ("met", true),
                Outcome::Breached { done, .. } => ("breached", done),
            };
            if counted.insert(key) && !first {
                m.incidents
                    .with_label_values(&[dept, prio, target, result])
                    .inc();
            }
            if done && observed.insert(key) && !first {
                let h = if j.response {
                    &m.response_time
                } else {
                    &m.resolution_time
                };
                h.with_label_values(&[dept, prio])
                    .observe(j.outcome.elapsed_ms() as f64 / 1000.0);
            }
        }
        // Forget incidents that left the window.
        counted.retain(|k| seen.contains(k));
        observed.retain(|k| seen.contains(k));
    }

    fn set_gauges(&self, month: &SlaReport, rolling: &SlaReport, now: i64) {
        let m = &self.metrics.sla;
        for g in [
            &m.department_info,
            &m.service_up,
            &m.service_in_maintenance,
            &m.service_clock_running,
            &m.service_hosts,
        ] {
            g.reset();
        }
        for g in [
            &m.availability,
            &m.availability_target,
            &m.counted_seconds,
            &m.downtime_seconds,
            &m.unmonitored_seconds,
            &m.target_seconds,
            &m.attainment_target,
            &m.attainment,
            &m.compliance_ratio,
            &m.patch_current_ratio,
        ] {
            g.reset();
        }
        let mut services_done = HashSet::new();
        for (r, period) in [(month, "month"), (rolling, "30d")] {
            for d in &r.departments {
                for s in &d.services {
                    let l = [s.service.as_str(), d.id.as_str(), period];
                    m.counted_seconds
                        .with_label_values(&l)
                        .set(s.counted_ms as f64 / 1000.0);
                    m.downtime_seconds
                        .with_label_values(&l)
                        .set(s.down_ms as f64 / 1000.0);
                    m.unmonitored_seconds
                        .with_label_values(&l)
                        .set(s.unmonitored_ms as f64 / 1000.0);
                    if let Some(a) = s.availability {
                        m.availability.with_label_values(&l).set(a);
                    }
                }
            }
        }
        for d in &month.departments {
            m.department_info
                .with_label_values(&[&d.id, &d.tier])
                .set(1);
            let running = self
                .cat
                .policy
                .tier_of(&d.id)
                .is_some_and(|t| t.calendar.in_service(now));
            for s in &d.services {
                let sd = [s.service.as_str(), d.id.as_str()];
                m.availability_target.with_label_values(&sd).set(s.target);
                m.service_clock_running
                    .with_label_values(&sd)
                    .set(running as i64);
                if services_done.insert(s.service.clone()) && s.state != ServiceState::NoHosts {
                    let id = [s.service.as_str()];
                    m.service_up
                        .with_label_values(&id)
                        .set((s.state == ServiceState::Up) as i64);
                    m.service_in_maintenance
                        .with_label_values(&id)
                        .set((s.state == ServiceState::Planned) as i64);
                    // Hosts are in one state each; an unmonitored one (never so at the
                    // current instant: that time is known only after the gap) is not healthy.
                    let healthy =
                        s.hosts - s.hosts_unhealthy - s.hosts_in_maintenance - s.hosts_unmonitored;
                    for (state, n) in [
                        ("healthy", healthy),
                        ("unhealthy", s.hosts_unhealthy),
                        ("maintenance", s.hosts_in_maintenance),
                    ] {
                        m.service_hosts
                            .with_label_values(&[&s.service, state])
                            .set(n as i64);
                    }
                }
            }
            for (target, rows) in [("response", &d.response), ("resolution", &d.resolution)] {
                m.attainment_target
                    .with_label_values(&[&d.id, target])
                    .set(d.attainment_target);
                for p in rows {
                    // Counters exist from the start at 0, so the first outcome of a
                    // series is an increase too.
                    for result in ["met", "breached"] {
                        m.incidents
                            .with_label_values(&[&d.id, &p.priority, target, result]);
                    }
                    m.target_seconds
                        .with_label_values(&[&d.id, &p.priority, target])
                        .set(p.target_ms as f64 / 1000.0);
                    if let Some(a) = p.attainment {
                        m.attainment
                            .with_label_values(&[&d.id, &p.priority, target, "month"])
                            .set(a);
                    }
                }
            }
            if let Some(c) = &d.compliance {
                if let Some(r) = c.compliance_ratio {
                    m.compliance_ratio.with_label_values(&[&d.id]).set(r);
                }
                if let Some(r) = c.patch_current_ratio {
                    m.patch_current_ratio.with_label_values(&[&d.id]).set(r);
                }
            }
        }
    }
}

/// The SLA histograms' buckets: every response and resolution target (seconds).
pub fn buckets(policy: Option<&SlaPolicy>) -> Vec<f64> {
    let Some(p) = policy else {
        return crate::metrics::DEFAULT_SLA_BUCKETS.to_vec();
    };
    let mut v: Vec<i64> = p
        .tiers
        .iter()
        .flat_map(|t| t.response_ms.iter().chain(&t.resolution_ms))
        .flatten()
        .map(|ms| ms / 1000)
        .collect();
    v.sort_unstable();
    v.dedup();
    if v.is_empty() {
        return crate::metrics::DEFAULT_SLA_BUCKETS.to_vec();
    }
    v.into_iter().map(|s| s as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilsyn_collector_core::sla::report::DepartmentReport;

    fn sla(dir: &std::path::Path) -> Sla {
        let store = tilsyn_collector_store::open(&tilsyn_collector_store::StoreConfig {
            sqlite_path: dir.join("t.db"),
            ..Default::default()
        })
        .unwrap();
        let metrics = Arc::new(Metrics::new());
        let standards = dir.join("standards");
        std::fs::create_dir_all(&standards).unwrap();
        let compliance = crate::services::compliance::Compliance::start(
            crate::config::ComplianceConfig {
                standards_dir: standards,
                watch_every: tilsyn_proto::duration::HumanDuration::secs(0),
                ..Default::default()
            },
            store.clone(),
            metrics.clone(),
            crate::server::now_ms,
        )
        .unwrap();
        let departments = vec![("it".into(), "IT".into()), ("hr".into(), "HR".into())];
        Sla {
            windows: std::sync::RwLock::new(Windows::default()),
            cat: Catalogue {
                policy: SlaPolicy::compile(
                    &serde_yaml::from_str(
                        "time_zone: UTC\ntiers:\n  basic:\n    service_hours: {time_zone: UTC, always: true}\n    availability: 0.99\ndefault_tier: basic\n",
                    )
                    .unwrap(),
                    &departments,
                )
                .unwrap(),
                windows: Windows::default(),
                departments,
            },
            store,
            metrics,
            compliance,
            clock: crate::server::now_ms,
            counted: Mutex::new(None),
        }
    }

    fn report() -> SlaReport {
        let dept = |id: &str| DepartmentReport {
            id: id.into(),
            name: id.to_uppercase(),
            tier: "t".into(),
            tier_name: "T".into(),
            services: vec![],
            attainment_target: 0.9,
            response: vec![],
            resolution: vec![],
            breaches: vec![],
            compliance: None,
        };
        SlaReport {
            period: Period {
                label: "2026-11".into(),
                from_ms: 0,
                to_ms: 1,
            },
            measured_until_ms: 1,
            complete: false,
            generated_at_ms: 0,
            departments: vec![dept("it"), dept("hr")],
        }
    }

    const MIN: i64 = 60_000;

    /// (incident, department index, priority index, response?, outcome)
    fn judged(v: &[(i64, usize, usize, bool, Outcome)]) -> Vec<Judged> {
        v.iter()
            .map(
                |&(incident_id, department_idx, priority, response, outcome)| Judged {
                    incident_id,
                    department_idx,
                    priority,
                    response,
                    outcome,
                },
            )
            .collect()
    }

    fn met(elapsed_ms: i64) -> Outcome {
        Outcome::Met {
            at_ms: elapsed_ms,
            elapsed_ms,
        }
    }
    fn breached(elapsed_ms: i64, done: bool) -> Outcome {
        Outcome::Breached {
            at_ms: 0,
            elapsed_ms,
            done,
        }
    }
    fn pending() -> Outcome {
        Outcome::Pending { elapsed_ms: MIN }
    }

    #[test]
    fn each_outcome_is_counted_once_and_none_known_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let s = sla(dir.path());
        let r = report();
        let m = &s.metrics.sla;
        let count = |d: &str, p: &str, t: &str, res: &str| {
            m.incidents.with_label_values(&[d, p, t, res]).get()
        };
        let hist = |response: bool, d: &str, p: &str| {
            let h = if response {
                &m.response_time
            } else {
                &m.resolution_time
            }
            .with_label_values(&[d, p]);
            (h.get_sample_count(), h.get_sample_sum())
        };

        // The first evaluation after a start: what is known already is taken as counted.
        s.count_outcomes(
            &r,
            &judged(&[
                (1, 0, 1, true, met(10 * MIN)),                  // it P2 response met
                (1, 0, 1, false, pending()),                     // it P2 resolution pending
                (2, 1, 2, false, breached(5 * 60 * MIN, false)), // hr P3 resolution breached, open
            ]),
        );
        assert_eq!(count("it", "P2", "response", "met"), 0);
        assert_eq!(count("hr", "P3", "resolution", "breached"), 0);
        assert_eq!(hist(true, "it", "P2"), (0, 0.0));

        // Second: incident 1 resolved within target (2 h); incident 2 resolved after 8 h
        // (its breach was counted at start, its time is new); incident 3's response breached
        // while still unanswered.
        s.count_outcomes(
            &r,
            &judged(&[
                (1, 0, 1, true, met(10 * MIN)),
                (1, 0, 1, false, met(120 * MIN)),
                (2, 1, 2, false, breached(8 * 60 * MIN, true)),
                (3, 0, 0, true, breached(20 * MIN, false)),
            ]),
        );
        assert_eq!(count("it", "P2", "response", "met"), 0, "known at start");
        assert_eq!(count("it", "P2", "resolution", "met"), 1);
        assert_eq!(hist(false, "it", "P2"), (1, 7200.0));
        assert_eq!(
            count("hr", "P3", "resolution", "breached"),
            0,
            "known at start"
        );
        assert_eq!(hist(false, "hr", "P3"), (1, 28_800.0));
        assert_eq!(count("it", "P1", "response", "breached"), 1);
        assert_eq!(hist(true, "it", "P1"), (0, 0.0), "not answered yet");

        // Third: the same outcomes again move nothing; incident 3 is answered after 45 min
        // (histogram only, its breach is counted); incident 4 answered after 5 min.
        for _ in 0..2 {
            s.count_outcomes(
                &r,
                &judged(&[
                    (1, 0, 1, true, met(10 * MIN)),
                    (1, 0, 1, false, met(120 * MIN)),
                    (2, 1, 2, false, breached(8 * 60 * MIN, true)),
                    (3, 0, 0, true, breached(45 * MIN, true)),
                    (4, 1, 4, true, met(5 * MIN)),
                ]),
            );
        }
        assert_eq!(count("it", "P2", "resolution", "met"), 1);
        assert_eq!(hist(false, "it", "P2"), (1, 7200.0));
        assert_eq!(hist(false, "hr", "P3"), (1, 28_800.0));
        assert_eq!(count("it", "P1", "response", "breached"), 1);
        assert_eq!(hist(true, "it", "P1"), (1, 2700.0));
        assert_eq!(count("hr", "P5", "response", "met"), 1);
        assert_eq!(hist(true, "hr", "P5"), (1, 300.0));
        // Nothing lands on other series.
        assert_eq!(count("it", "P1", "response", "met"), 0);
        assert_eq!(count("hr", "P5", "resolution", "met"), 0);
    }
}
