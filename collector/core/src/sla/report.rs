//! One period's SLA figures per department, from plain inputs (pure). The monthly report,
//! `GET /api/v1/sla` and the `tilsyn_sla_*` gauges are all made from [`build`], so they
//! agree for the same period.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::attainment::{outcome, Outcome};
use super::availability::{subtract, timeline, Figures, HostTrouble, Spans, Timeline};
use super::calendar::{merge, Clock};
use super::config::{SlaPolicy, PRIORITIES};
use crate::incidents::maintenance::{HostRef, Windows};
use crate::incidents::ticket::TicketRef;

const DAY_MS: i64 = 86_400_000;
/// Outages listed per service and incidents listed per outage, at most.
const MAX_OUTAGES: usize = 50;
const MAX_OUTAGE_INCIDENTS: usize = 10;

/// A host as the SLA sees it.
#[derive(Debug, Clone, Default)]
pub struct SlaHost {
    pub agent_id: String,
    pub hostname: String,
    pub department: String,
    pub class: String,
    pub labels: BTreeMap<String, String>,
    pub enrolled_at_ms: i64,
    /// When it was retired: it counts in periods that began before, not after.
    pub retired_at_ms: Option<i64>,
    /// Its moves to another department or class, oldest first.
    pub moves: Vec<SlaMove>,
}

/// A host's move: until `at_ms` it was in `department` and `class`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaMove {
    pub at_ms: i64,
    pub department: String,
    pub class: String,
}

impl SlaHost {
    /// The host as it was at `t`: the department and class before the first move after
    /// `t` (a past period keeps the department a host had then).
    pub fn host_ref_at(&self, t: i64) -> HostRef<'_> {
        let (department, class) = match self.moves.iter().find(|m| m.at_ms > t) {
            Some(m) => (&m.department, &m.class),
            None => (&self.department, &self.class),
        };
        HostRef {
            hostname: &self.hostname,
            department,
            class,
            labels: &self.labels,
        }
    }

    /// Does it count in a period from `from_ms`? Not when retired before it began.
    pub fn counts_from(&self, from_ms: i64) -> bool {
        self.retired_at_ms.is_none_or(|r| r > from_ms)
    }
}

/// An incident as the SLA sees it.
#[derive(Debug, Clone, Default)]
pub struct SlaIncident {
    pub id: i64,
    pub agent_id: String,
    pub hostname: String,
    pub department: String,
    pub check: String,
    pub priority: String,
    pub opened_at_ms: i64,
    /// When Tilsyn saw the fault clear.
    pub resolved_at_ms: Option<i64>,
    /// First human response (the incident's own ticket or, attached to a problem, the
    /// problem's).
    pub first_response_at_ms: Option<i64>,
    pub ticket: Option<TicketRef>,
    /// The maintenance window it opened in, if any.
    pub suppressed_by: Option<String>,
    /// The problem it is attached to, if any.
    pub problem_id: Option<i64>,
    /// Stretches it was resolved before being reopened (sorted): not down, no clock.
    pub gaps: Vec<(i64, i64)>,
}

impl SlaIncident {
    /// Raised to the desk — its own ticket, a problem's, or opened outside maintenance (a
    /// failed create still counts against the operations centre). Recorded only inside a
    /// maintenance window and never ticketed: not raised, not measured.
    pub fn raised(&self) -> bool {
        self.ticket.is_some() || self.problem_id.is_some() || self.suppressed_by.is_none()
    }
}

/// A stretch `[from_ms, to_ms)` of a host's unmonitored time: inside one of the
/// collector's own gaps, covered by none of the host's (spooled) health samples
/// (`crate::absence::uncovered`). Rows may overlap and come in any order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaUnmonitored {
    pub agent_id: String,
    pub from_ms: i64,
    pub to_ms: i64,
}

use crate::compliance::report::ratio;
pub use crate::compliance::report::DepartmentCompliance;

pub struct Inputs<'a> {
    pub policy: &'a SlaPolicy,
    /// The collector's departments: (id, name).
    pub departments: &'a [(String, String)],
    pub hosts: &'a [SlaHost],
    pub incidents: &'a [SlaIncident],
    /// The hosts' unmonitored time (rows overlapping the period; others are ignored).
    pub unmonitored: &'a [SlaUnmonitored],
    pub windows: &'a Windows,
    /// Per department, the figures to show for the period.
    pub compliance: &'a BTreeMap<String, DepartmentCompliance>,
    pub now_ms: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Period {
    /// `2026-11` or `30d`.
    pub label: String,
    pub from_ms: i64,
    pub to_ms: i64,
}

impl Period {
    /// A calendar month (`YYYY-MM`) in `tz`.
    pub fn month(label: &str, tz: &TimeZone) -> Result<Period, String> {
        let bad = || format!("{label:?} is not a month: write YYYY-MM, e.g. 2026-11");
        let (y, m) = label.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let (y, m): (i16, i8) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        let first = Date::new(y, m, 1).map_err(|_| bad())?;
        let next = first
            .checked_add(jiff::Span::new().months(1))
            .map_err(|_| bad())?;
        let ms = |d: Date| {
            tz.to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .map(|t| t.as_millisecond())
                .map_err(|_| bad())
        };
        Ok(Period {
            label: label.to_string(),
            from_ms: ms(first)?,
            to_ms: ms(next)?,
        })
    }

    /// The month containing `at_ms`.
    pub fn month_of(at_ms: i64, tz: &TimeZone) -> Period {
        let d = jiff::Timestamp::from_millisecond(at_ms)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned(tz.clone())
            .date();
        let label = format!("{:04}-{:02}", d.year(), d.month());
        Period::month(&label, tz).expect("a valid month")
    }

    /// What a caller asked for: `month` (YYYY-MM), `period` (`30d`), or neither (the
    /// current month).
    pub fn chosen(
        month: Option<&str>,
        period: Option<&str>,
        tz: &TimeZone,
        now_ms: i64,
    ) -> Result<Period, String> {
        match (month, period) {
            (Some(_), Some(_)) => Err("give a month or a period, not both".into()),
            (None, Some("30d")) => Ok(Period::rolling_30d(now_ms)),
            (None, Some(p)) => Err(format!(
                "unknown period {p:?}: use 30d, or a month (YYYY-MM)"
            )),
            (Some(m), None) => Period::month(m, tz),
            (None, None) => Ok(Period::month_of(now_ms, tz)),
        }
    }

    /// The 30 days before `now_ms`.
    pub fn rolling_30d(now_ms: i64) -> Period {
        Period {
            label: "30d".into(),
            from_ms: now_ms - 30 * DAY_MS,
            to_ms: now_ms,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SlaReport {
    pub period: Period,
    /// The end of what was measured: the period's end, or now while it runs.
    pub measured_until_ms: i64,
    pub complete: bool,
    pub generated_at_ms: i64,
    pub departments: Vec<DepartmentReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentReport {
    pub id: String,
    pub name: String,
    pub tier: String,
    pub tier_name: String,
    pub services: Vec<ServiceAvailability>,
    /// Share of incidents that must meet their targets.
    pub attainment_target: f64,
    pub response: Vec<PriorityAttainment>,
    pub resolution: Vec<PriorityAttainment>,
    pub breaches: Vec<Breach>,
    pub compliance: Option<ComplianceFigures>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceAvailability {
    pub service: String,
    pub name: String,
    pub hosts: usize,
    pub target: f64,
    /// Service hours minus planned maintenance and unmonitored time, ms.
    pub counted_ms: i64,
    pub down_ms: i64,
    pub planned_ms: i64,
    /// Time in service hours in which the service's state hung on hosts the collector
    /// could not hear (its own gaps): neither up nor down, not counted.
    pub unmonitored_ms: i64,
    /// `None`: no data (no hosts yet, or no service hours in the period so far).
    pub availability: Option<f64>,
    pub met: Option<bool>,
    pub outages: Vec<Outage>,
    /// The service's state at the end of what was measured.
    pub state: ServiceState,
    /// Hosts unhealthy / in maintenance / unmonitored at the end of what was measured.
    pub hosts_unhealthy: usize,
    pub hosts_in_maintenance: usize,
    pub hosts_unmonitored: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Up,
    Down,
    /// Down only because of planned maintenance: the time does not count.
    Planned,
    /// Up or down depending on hosts the collector could not hear: the time does not
    /// count.
    Unmonitored,
    NoHosts,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Up => "up",
            ServiceState::Down => "down",
            ServiceState::Planned => "planned",
            ServiceState::Unmonitored => "unmonitored",
            ServiceState::NoHosts => "no_hosts",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outage {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Still down at the end of what was measured.
    pub ongoing: bool,
    /// Downtime within service hours, ms.
    pub down_ms: i64,
    /// Incidents on the service's hosts during the outage.
    pub incidents: Vec<i64>,
}

impl Outage {
    /// The incidents behind it as `#12, #13`, or `–`.
    pub fn incident_refs(&self) -> String {
        if self.incidents.is_empty() {
            "–".into()
        } else {
            self.incidents
                .iter()
                .map(|i| format!("#{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PriorityAttainment {
    pub priority: String,
    pub target_ms: i64,
    pub met: u32,
    pub breached: u32,
    /// Open, time left at the end of the period.
    pub pending: u32,
    /// Met ÷ (met + breached); `None` when no outcome fell in the period.
    pub attainment: Option<f64>,
    pub achieved: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Breach {
    pub incident_id: i64,
    pub hostname: String,
    pub check: String,
    pub priority: String,
    /// `response` or `resolution`.
    pub target: &'static str,
    pub target_ms: i64,
    pub elapsed_ms: i64,
    pub opened_at_ms: i64,
    /// When the target ran out.
    pub breached_at_ms: i64,
    pub done: bool,
    pub ticket: Option<TicketRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComplianceFigures {
    #[serde(flatten)]
    pub counts: DepartmentCompliance,
    pub compliance_ratio: Option<f64>,
    pub patch_current_ratio: Option<f64>,
}

/// An incident's outcome for one target, for the metrics' counters.
#[derive(Debug, Clone, Copy)]
pub struct Judged {
    pub incident_id: i64,
    pub department_idx: usize,
    pub priority: usize,
    pub response: bool,
    pub outcome: Outcome,
}

/// Is `t` inside one of the sorted, disjoint `spans`?
fn contains(spans: &[(i64, i64)], t: i64) -> bool {
    let i = spans.partition_point(|&(a, _)| a <= t);
    i > 0 && t < spans[i - 1].1
}

/// Builds the report for `period` (optionally one department).
pub fn build(inp: &Inputs, period: &Period, department: Option<&str>) -> SlaReport {
    build_with(inp, period, department, &mut |_| {})
}

/// [`build`], also handing every judged outcome (in the period or not) to `judged`.
pub fn build_with(
    inp: &Inputs,
    period: &Period,
    department: Option<&str>,
    judged: &mut dyn FnMut(Judged),
) -> SlaReport {
    let from = period.from_ms;
    let until = period.to_ms.min(inp.now_ms).max(from);
    let p = inp.policy;
    let wanted: Vec<&(String, String)> = inp
        .departments
        .iter()
        .filter(|(id, _)| department.is_none_or(|d| d == id))
        .filter(|(id, _)| p.department_tier.contains_key(id))
        .collect();

    let host_idx: HashMap<&str, usize> = inp
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.agent_id.as_str(), i))
        .collect();
    let mut by_host: Vec<Vec<usize>> = vec![Vec::new(); inp.hosts.len()];
    let mut earliest = from;
    for (i, inc) in inp.incidents.iter().enumerate() {
        if let Some(&h) = host_idx.get(inc.agent_id.as_str()) {
            by_host[h].push(i);
        }
        earliest = earliest.min(inc.opened_at_ms);
    }

    // Each host's unmonitored time within what is measured.
    let mut unmonitored: Vec<Spans> = vec![Vec::new(); inp.hosts.len()];
    for u in inp.unmonitored {
        let (a, b) = (u.from_ms.max(from), u.to_ms.min(until));
        if let (Some(&h), true) = (host_idx.get(u.agent_id.as_str()), a < b) {
            unmonitored[h].push((a, b));
        }
    }

    // Maintenance occurrences per window over everything an incident may reach back to.
    let occ: Vec<Spans> = inp
        .windows
        .windows()
        .iter()
        .map(|w| merge(w.occurrences(earliest, until)))
        .collect();
    // Hosts count as they were at the end of what is measured: a past period keeps the
    // department and class a host had then; a host retired before the period is not in it.
    let as_of = until - 1;
    let cover = |h: &SlaHost, check: &str| -> Spans {
        let r = h.host_ref_at(as_of);
        let mut v = Vec::new();
        for (w, o) in inp.windows.windows().iter().zip(&occ) {
            if w.scope.matches(&r, check) {
                v.extend_from_slice(o);
            }
        }
        merge(v)
    };

    // One clock per tier, over everything an incident may reach back to.
    let clocks: Vec<Clock> = p
        .tiers
        .iter()
        .map(|t| Clock::new(&t.calendar, earliest, until))
        .collect();

    // Service timelines (shared by the departments they serve).
    struct Svc {
        hosts: Vec<usize>,
        observed_from: i64,
        tl: Timeline,
        state: ServiceState,
        unhealthy: usize,
        in_maintenance: usize,
        unmonitored: usize,
    }
    let mut trouble_cache: HashMap<(usize, usize), HostTrouble> = HashMap::new();
    let mut checksets: Vec<&Vec<String>> = Vec::new();
    let mut svcs: Vec<Option<Svc>> = Vec::with_capacity(p.services.len());
    for s in &p.services {
        if !s
            .departments
            .iter()
            .any(|d| wanted.iter().any(|(id, _)| id == d))
        {
            svcs.push(None);
            continue;
        }
        let cs = match checksets.iter().position(|c| **c == s.checks) {
            Some(i) => i,
            None => {
                checksets.push(&s.checks);
                checksets.len() - 1
            }
        };
        let hosts: Vec<usize> = inp
            .hosts
            .iter()
            .enumerate()
            .filter(|(_, h)| h.counts_from(from) && s.has_host(&h.host_ref_at(as_of)))
            .map(|(i, _)| i)
            .collect();
        for &h in &hosts {
            trouble_cache.entry((h, cs)).or_insert_with(|| {
                let host = &inp.hosts[h];
                let failing: Vec<((i64, i64), Spans)> = by_host[h]
                    .iter()
                    .map(|&i| &inp.incidents[i])
                    .filter(|inc| s.counts_check(&inc.check))
                    .filter(|inc| inc.resolved_at_ms.is_none_or(|r| r > from))
                    .flat_map(|inc| {
                        let end = inc.resolved_at_ms.unwrap_or(until).min(until);
                        let c = cover(host, &inc.check);
                        subtract(&[(inc.opened_at_ms.max(from), end)], &inc.gaps)
                            .into_iter()
                            .map(move |span| (span, c.clone()))
                    })
                    .collect();
                HostTrouble::new(&failing).with_unmonitored(&unmonitored[h])
            });
        }
        let observed_from = hosts
            .iter()
            .map(|&h| inp.hosts[h].enrolled_at_ms)
            .min()
            .unwrap_or(i64::MAX)
            .max(from);
        let troubles: Vec<&HostTrouble> = hosts.iter().map(|h| &trouble_cache[&(*h, cs)]).collect();
        let tl = if observed_from < until {
            timeline(s.need, &troubles, observed_from, until)
        } else {
            Timeline::default()
        };
        // Everything as it stands at the end of what was measured.
        let last = until - 1;
        let unhealthy = troubles.iter().filter(|t| contains(&t.bad, last)).count();
        let in_maintenance = troubles
            .iter()
            .filter(|t| contains(&t.planned, last))
            .count();
        let hosts_unmonitored = troubles
            .iter()
            .filter(|t| contains(&t.unmonitored, last))
            .count();
        let state = if hosts.is_empty() {
            ServiceState::NoHosts
        } else if contains(&tl.down, last) {
            ServiceState::Down
        } else if contains(&tl.planned, last) {
            ServiceState::Planned
        } else if contains(&tl.unmonitored, last) {
            ServiceState::Unmonitored
        } else {
            ServiceState::Up
        };
        svcs.push(Some(Svc {
            hosts,
            observed_from,
            tl,
            state,
            unhealthy,
            in_maintenance,
            unmonitored: hosts_unmonitored,
        }));
    }

    // Attainment: every raised incident of a wanted department, judged by its tier.
    let dept_idx: HashMap<&str, usize> = wanted
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    // Per department, per priority: [met, breached, pending] for response, resolution.
    type Counts = [[u32; 3]; 5];
    let mut counts: Vec<(Counts, Counts)> = wanted.iter().map(|_| Default::default()).collect();
    let mut breaches: Vec<Vec<Breach>> = wanted.iter().map(|_| Vec::new()).collect();
    for inc in inp.incidents.iter().filter(|i| i.raised()) {
        let Some(&di) = dept_idx.get(inc.department.as_str()) else {
            continue;
        };
        let Some(prio) = PRIORITIES.iter().position(|x| *x == inc.priority) else {
            continue;
        };
        if inc.opened_at_ms >= until {
            continue;
        }
        let ti = p.department_tier[&inc.department];
        let tier = &p.tiers[ti];
        let clock = &clocks[ti];
        // Maintenance and the stretches it was resolved before a reopen stop its clocks.
        let mut excluded = match host_idx.get(inc.agent_id.as_str()) {
            Some(&h) => cover(&inp.hosts[h], &inc.check),
            None => Vec::new(),
        };
        if !inc.gaps.is_empty() {
            excluded.extend_from_slice(&inc.gaps);
            excluded = merge(excluded);
        }
        let answered = match (inc.first_response_at_ms, inc.resolved_at_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (response, target, done) in [
            (true, tier.response_ms[prio], answered),
            (false, tier.resolution_ms[prio], inc.resolved_at_ms),
        ] {
            let Some(target) = target else { continue };
            let o = outcome(clock, target, inc.opened_at_ms, done, until, &excluded);
            judged(Judged {
                incident_id: inc.id,
                department_idx: di,
                priority: prio,
                response,
                outcome: o,
            });
            let c = if response {
                &mut counts[di].0[prio]
            } else {
                &mut counts[di].1[prio]
            };
            match o {
                Outcome::Pending { .. } => c[2] += 1,
                _ if o.at_ms().is_some_and(|t| t < from) => {}
                Outcome::Met { .. } => c[0] += 1,
                Outcome::Breached {
                    at_ms,
                    elapsed_ms,
                    done,
                } => {
                    c[1] += 1;
                    breaches[di].push(Breach {
                        incident_id: inc.id,
                        hostname: inc.hostname.clone(),
                        check: inc.check.clone(),
                        priority: inc.priority.clone(),
                        target: if response { "response" } else { "resolution" },
                        target_ms: target,
                        elapsed_ms,
                        opened_at_ms: inc.opened_at_ms,
                        breached_at_ms: at_ms,
                        done,
                        ticket: inc.ticket.clone(),
                    });
                }
            }
        }
    }

    let mut departments = Vec::new();
    for (di, (id, name)) in wanted.iter().enumerate() {
        let ti = p.department_tier[id];
        let tier = &p.tiers[ti];
        let clock = &clocks[ti];
        let mut services = Vec::new();
        for (s, svc) in p.services.iter().zip(&svcs) {
            let Some(svc) = svc else { continue };
            if !s.departments.iter().any(|d| d == id) {
                continue;
            }
            let f = if svc.observed_from < until {
                Figures::of(clock, &svc.tl, svc.observed_from, until)
            } else {
                Figures::default()
            };
            let target = p.availability_target(s, id).unwrap_or(tier.availability);
            let availability = if svc.hosts.is_empty() {
                None
            } else {
                f.ratio()
            };
            let outages = svc
                .tl
                .down
                .iter()
                .filter_map(|&(a, b)| {
                    let down_ms = clock.elapsed(a, b);
                    (down_ms > 0).then(|| Outage {
                        start_ms: a,
                        end_ms: b,
                        ongoing: b >= until && svc.state == ServiceState::Down,
                        down_ms,
                        incidents: svc
                            .hosts
                            .iter()
                            .flat_map(|&h| by_host[h].iter())
                            .map(|&i| &inp.incidents[i])
                            .filter(|inc| {
                                s.counts_check(&inc.check)
                                    && inc.opened_at_ms < b
                                    && inc.resolved_at_ms.is_none_or(|r| r > a)
                            })
                            .map(|inc| inc.id)
                            .take(MAX_OUTAGE_INCIDENTS)
                            .collect(),
                    })
                })
                .take(MAX_OUTAGES)
                .collect();
            services.push(ServiceAvailability {
                service: s.id.clone(),
                name: s.name.clone(),
                hosts: svc.hosts.len(),
                target,
                counted_ms: f.counted_ms,
                down_ms: f.down_ms,
                planned_ms: f.planned_ms,
                unmonitored_ms: f.unmonitored_ms,
                availability,
                met: availability.map(|a| a >= target),
                outages,
                state: svc.state,
                hosts_unhealthy: svc.unhealthy,
                hosts_in_maintenance: svc.in_maintenance,
                hosts_unmonitored: svc.unmonitored,
            });
        }
        let rows = |c: &Counts, targets: &[Option<i64>; 5]| -> Vec<PriorityAttainment> {
            (0..5)
                .filter_map(|i| {
                    let target_ms = targets[i]?;
                    let [met, breached, pending] = c[i];
                    let attainment = ratio(met as i64, (met + breached) as i64);
                    Some(PriorityAttainment {
                        priority: PRIORITIES[i].to_string(),
                        target_ms,
                        met,
                        breached,
                        pending,
                        attainment,
                        achieved: attainment.map(|a| a >= tier.attainment),
                    })
                })
                .collect()
        };
        let mut br = std::mem::take(&mut breaches[di]);
        br.sort_by_key(|b| (b.breached_at_ms, b.incident_id));
        departments.push(DepartmentReport {
            id: id.clone(),
            name: name.clone(),
            tier: tier.id.clone(),
            tier_name: tier.name.clone(),
            services,
            attainment_target: tier.attainment,
            response: rows(&counts[di].0, &tier.response_ms),
            resolution: rows(&counts[di].1, &tier.resolution_ms),
            breaches: br,
            compliance: inp.compliance.get(id.as_str()).map(|c| ComplianceFigures {
                compliance_ratio: c.compliance_ratio(),
                patch_current_ratio: c.patch_current_ratio(),
                counts: c.clone(),
            }),
        });
    }
    SlaReport {
        period: period.clone(),
        measured_until_ms: until,
        complete: inp.now_ms >= period.to_ms,
        generated_at_ms: inp.now_ms,
        departments,
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::SlaDoc;
    use super::*;
    use jiff::Timestamp;

    const H: i64 = 3_600_000;

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn depts() -> Vec<(String, String)> {
        vec![
            ("social".into(), "Social Services".into()),
            ("schools".into(), "Schools".into()),
        ]
    }

    fn policy() -> SlaPolicy {
        let doc: SlaDoc = serde_yaml::from_str(
            r#"
time_zone: Europe/Copenhagen
tiers:
  basic:
    service_hours: {time_zone: Europe/Copenhagen, weekdays: ["08:00-16:00"]}
    availability: 0.95
    attainment: 0.5
    response: {P2: 1h}
    resolution: {P2: 8h}
  critical:
    service_hours: {time_zone: Europe/Copenhagen, always: true}
    availability: 0.999
    response: {P2: 30m}
    resolution: {P2: 4h}
departments:
  - {id: social, tier: critical}
  - {id: schools, tier: basic}
services:
  - id: case
    name: Case management
    departments: [social, schools]
    hosts: {labels: {role: case}}
    up: {hosts: 1}
"#,
        )
        .unwrap();
        SlaPolicy::compile(&doc, &depts()).unwrap()
    }

    fn host(id: &str) -> SlaHost {
        SlaHost {
            agent_id: id.into(),
            hostname: id.into(),
            department: "social".into(),
            class: "server".into(),
            labels: [("role".to_string(), "case".to_string())].into(),
            enrolled_at_ms: at("2026-10-01T00:00Z"),
            retired_at_ms: None,
            moves: vec![],
        }
    }

    fn inc(id: i64, agent: &str, opened: &str, resolved: Option<&str>) -> SlaIncident {
        SlaIncident {
            id,
            agent_id: agent.into(),
            hostname: agent.into(),
            department: "schools".into(),
            check: "offline".into(),
            priority: "P2".into(),
            opened_at_ms: at(opened),
            resolved_at_ms: resolved.map(at),
            first_response_at_ms: None,
            ticket: None,
            suppressed_by: None,
            problem_id: None,
            gaps: vec![],
        }
    }

    /// November 2026 in Copenhagen (CET all month): hand-computed.
    #[test]
    fn a_month_by_hand() {
        let p = policy();
        let hosts = vec![host("a"), host("b")];
        let incidents = vec![
            // Both hosts offline Monday 2 Nov 09:00-11:00 CET (08:00Z-10:00Z) → the
            // service (1 of 2 needed) is down 2 h; b's incident runs 08:00Z-12:00Z.
            inc(1, "a", "2026-11-02T08:00:00Z", Some("2026-11-02T10:00:00Z")),
            inc(2, "b", "2026-11-02T07:00:00Z", Some("2026-11-02T12:00:00Z")),
            // From October 31 (Saturday) 22:00Z to November 1 02:00Z: a month boundary.
            // Only a: the service stays up. Its resolution outcome (8 h of office time
            // from Saturday → Monday 16:00 CET) falls in November... it resolved Sunday,
            // so it met its target on 1 November (within the month).
            inc(3, "a", "2026-10-31T22:00:00Z", Some("2026-11-01T02:00:00Z")),
        ];
        let windows = Windows::default();
        let compliance = BTreeMap::new();
        let inp = Inputs {
            policy: &p,
            departments: &depts(),
            hosts: &hosts,
            incidents: &incidents,
            unmonitored: &[],
            windows: &windows,
            compliance: &compliance,
            now_ms: at("2026-12-05T00:00Z"),
        };
        let tz = TimeZone::get("Europe/Copenhagen").unwrap();
        let nov = Period::month("2026-11", &tz).unwrap();
        assert_eq!(nov.from_ms, at("2026-10-31T23:00Z"));
        assert_eq!(nov.to_ms, at("2026-11-30T23:00Z"));
        let r = build(&inp, &nov, None);
        assert!(r.complete);
        let social = &r.departments.iter().find(|d| d.id == "social").unwrap();
        let schools = &r.departments.iter().find(|d| d.id == "schools").unwrap();
        // Social (always): 30 days = 720 h counted, 2 h down.
        let s = &social.services[0];
        assert_eq!((s.counted_ms, s.down_ms), (720 * H, 2 * H));
        assert_eq!(s.availability, Some(1.0 - 2.0 / 720.0));
        assert_eq!(s.met, Some(false), "0.99722 < 0.999");
        assert_eq!(s.outages.len(), 1);
        assert_eq!(s.outages[0].incidents, vec![1, 2]);
        // Schools (weekdays 08-16 CET): 21 weekdays × 8 h = 168 h; 09:00-11:00 CET = 2 h.
        let s = &schools.services[0];
        assert_eq!((s.counted_ms, s.down_ms), (168 * H, 2 * H));
        // Schools' incidents (basic: response 1 h, resolution 8 h, office hours).
        // #1: response = resolution at 11:00 CET, 2 h of office time → response breached
        // (deadline 10:00 CET), resolution met. #2: opened 08:00 CET, resolved 13:00 CET:
        // 5 h → response breached at 09:00 CET, resolution met. #3: opened Saturday,
        // resolved Sunday: 0 h of office time → both met, on 1 November 03:00 CET.
        let r2 = &schools.response[0];
        assert_eq!((r2.met, r2.breached, r2.pending), (1, 2, 0));
        assert_eq!(r2.attainment, Some(1.0 / 3.0));
        assert_eq!(r2.achieved, Some(false));
        let res = &schools.resolution[0];
        assert_eq!((res.met, res.breached), (3, 0));
        assert_eq!(schools.breaches.len(), 2);
        assert_eq!(schools.breaches[0].incident_id, 2);
        assert_eq!(schools.breaches[0].breached_at_ms, at("2026-11-02T08:00Z"));
        assert_eq!(schools.breaches[1].breached_at_ms, at("2026-11-02T09:00Z"));
        // October sees incident 3 open at its end, no outcome yet: pending, not counted.
        let oct = Period::month("2026-10", &tz).unwrap();
        let r = build(&inp, &oct, Some("schools"));
        assert_eq!(r.departments.len(), 1);
        let r2 = &r.departments[0].response[0];
        assert_eq!((r2.met, r2.breached, r2.pending), (0, 0, 1));
        assert_eq!(r2.attainment, None, "no outcome: no data, not 100 %");
    }

    /// A host moved from Social to Schools on 1 December and one retired on 1 November:
    /// October keeps both in Social's service; November has only the moved one, still in
    /// Social; December has it in Schools'.
    #[test]
    fn a_move_leaves_past_periods_as_they_were_and_a_retired_host_leaves_later_ones() {
        let doc: SlaDoc = serde_yaml::from_str(
            r#"
time_zone: Europe/Copenhagen
tiers:
  t:
    service_hours: {time_zone: Europe/Copenhagen, always: true}
    availability: 0.99
departments:
  - {id: social, tier: t}
  - {id: schools, tier: t}
services:
  - {id: s-pcs, name: Social PCs, departments: [social], hosts: {department: [social]}, up: {hosts: all}}
  - {id: k-pcs, name: School PCs, departments: [schools], hosts: {department: [schools]}, up: {hosts: all}}
"#,
        )
        .unwrap();
        let p = SlaPolicy::compile(&doc, &depts()).unwrap();
        let mut moved = host("moved");
        moved.department = "schools".into();
        moved.class = "workstation".into();
        moved.moves = vec![SlaMove {
            at_ms: at("2026-11-30T23:00Z"),
            department: "social".into(),
            class: "server".into(),
        }];
        let mut retired = host("retired");
        retired.retired_at_ms = Some(at("2026-10-31T23:00Z"));
        let hosts = vec![moved, retired];
        // The moved host was offline 2 h in October, in Social.
        let mut i = inc(1, "moved", "2026-10-05T08:00Z", Some("2026-10-05T10:00Z"));
        i.department = "social".into();
        let incidents = vec![i];
        let (windows, compliance) = (Windows::default(), BTreeMap::new());
        let inp = Inputs {
            policy: &p,
            departments: &depts(),
            hosts: &hosts,
            incidents: &incidents,
            unmonitored: &[],
            windows: &windows,
            compliance: &compliance,
            now_ms: at("2026-12-10T00:00Z"),
        };
        let tz = TimeZone::get("Europe/Copenhagen").unwrap();
        let service = |month: &str, dept: &str| {
            let r = build(&inp, &Period::month(month, &tz).unwrap(), Some(dept));
            let s = &r.departments[0].services[0];
            (s.hosts, s.down_ms)
        };
        assert_eq!(service("2026-10", "social"), (2, 2 * H), "as it was");
        assert_eq!(service("2026-10", "schools"), (0, 0));
        assert_eq!(service("2026-11", "social"), (1, 0), "retired before");
        assert_eq!(service("2026-12", "social"), (0, 0), "moved away");
        assert_eq!(service("2026-12", "schools"), (1, 0));
    }

    #[test]
    fn a_reopened_incident_is_not_down_while_it_was_resolved() {
        let p = policy();
        let hosts = vec![host("a")];
        // Offline 08:00Z-09:00Z, resolved, recurred at 10:00Z (reopened), resolved 10:30Z.
        let mut i = inc(1, "a", "2026-11-02T08:00:00Z", Some("2026-11-02T10:30:00Z"));
        i.department = "social".into();
        i.gaps = vec![(at("2026-11-02T09:00Z"), at("2026-11-02T10:00Z"))];
        let incidents = vec![i];
        let (windows, compliance) = (Windows::default(), BTreeMap::new());
        let inp = Inputs {
            policy: &p,
            departments: &depts(),
            hosts: &hosts,
            incidents: &incidents,
            unmonitored: &[],
            windows: &windows,
            compliance: &compliance,
            now_ms: at("2026-11-03T00:00Z"),
        };
        let tz = TimeZone::get("Europe/Copenhagen").unwrap();
        let r = build(
            &inp,
            &Period::month("2026-11", &tz).unwrap(),
            Some("social"),
        );
        let d = &r.departments[0];
        assert_eq!(d.services[0].down_ms, 3 * H / 2, "1 h + 30 min, not 2.5 h");
        assert_eq!(d.services[0].outages.len(), 2);
        // Resolution (critical: 4 h around the clock) counts 1.5 h, not 2.5 h.
        let res = &d.resolution[0];
        assert_eq!((res.met, res.breached), (1, 0));
    }

    #[test]
    fn maintenance_and_no_data() {
        let p = policy();
        let hosts = vec![host("a")];
        // a is offline 2 Nov 08:00Z-12:00Z; a window covers 10:00Z-14:00Z.
        let incidents = vec![inc(
            1,
            "a",
            "2026-11-02T08:00:00Z",
            Some("2026-11-02T12:00:00Z"),
        )];
        let windows: crate::incidents::maintenance::WindowsDoc = serde_yaml::from_str(
            r#"
windows:
  - id: patch
    time_zone: UTC
    once: {start: "2026-11-02T10:00", end: "2026-11-02T14:00"}
    scope: {labels: {role: case}}
"#,
        )
        .unwrap();
        let windows = Windows::compile(windows).unwrap();
        let compliance = BTreeMap::new();
        let inp = Inputs {
            policy: &p,
            departments: &depts(),
            hosts: &hosts,
            incidents: &incidents,
            unmonitored: &[],
            windows: &windows,
            compliance: &compliance,
            now_ms: at("2026-11-10T00:00Z"),
        };
        let tz = TimeZone::get("Europe/Copenhagen").unwrap();
        let nov = Period::month("2026-11", &tz).unwrap();
        let r = build(&inp, &nov, Some("social"));
        assert!(!r.complete);
        let s = &r.departments[0].services[0];
        // 9 days × 24 h so far (from 31 Oct 23:00Z to 10 Nov 00:00Z = 217 h), 2 h planned.
        assert_eq!(s.planned_ms, 2 * H);
        assert_eq!(s.counted_ms, 217 * H - 2 * H);
        assert_eq!(s.down_ms, 2 * H);
        // A month before the hosts existed: no data.
        let sep = Period::month("2026-09", &tz).unwrap();
        let r = build(&inp, &sep, Some("social"));
        assert_eq!(r.departments[0].services[0].availability, None);
        // A month in the future: no data either.
        let dec = Period::month("2026-12", &tz).unwrap();
        let r = build(&inp, &dec, Some("social"));
        assert_eq!(r.departments[0].services[0].availability, None);
        assert!(Period::month("2026-13", &tz).is_err());
        assert!(Period::month("26-11", &tz).is_err());
    }

    fn gap(agent: &str, from: &str, to: &str) -> SlaUnmonitored {
        SlaUnmonitored {
            agent_id: agent.into(),
            from_ms: at(from),
            to_ms: at(to),
        }
    }

    /// The collector's gaps in November and December 2026 (CET), by hand.
    #[test]
    fn unmonitored_time_is_left_out_at_a_month_boundary() {
        let p = policy();
        let hosts = vec![host("a"), host("b")];
        // Monday 2 Nov: b offline 08:00Z-12:00Z; a unmonitored 09:00Z-10:00Z (10-11 CET,
        // office hours). One of two needed: up but for that hour, which hangs on a.
        let incidents = vec![inc(
            1,
            "b",
            "2026-11-02T08:00:00Z",
            Some("2026-11-02T12:00:00Z"),
        )];
        let unmonitored = vec![
            gap("a", "2026-11-02T09:00:00Z", "2026-11-02T10:00:00Z"),
            // Both hosts from Monday 30 Nov 22:00Z to 1 Dec 02:00Z (23:00-03:00 CET,
            // outside office hours), across the month's end at 23:00Z; b's in two rows.
            gap("a", "2026-11-30T22:00:00Z", "2026-12-01T02:00:00Z"),
            gap("b", "2026-11-30T22:00:00Z", "2026-12-01T00:00:00Z"),
            gap("b", "2026-11-30T23:30:00Z", "2026-12-01T02:00:00Z"),
            // An unknown host and a row long before: ignored.
            gap("zz", "2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z"),
            gap("a", "2026-09-01T00:00:00Z", "2026-09-02T00:00:00Z"),
        ];
        let (windows, compliance) = (Windows::default(), BTreeMap::new());
        let mut inp = Inputs {
            policy: &p,
            departments: &depts(),
            hosts: &hosts,
            incidents: &incidents,
            unmonitored: &unmonitored,
            windows: &windows,
            compliance: &compliance,
            now_ms: at("2026-12-01T12:00Z"),
        };
        let tz = TimeZone::get("Europe/Copenhagen").unwrap();
        let nov = Period::month("2026-11", &tz).unwrap();
        let r = build(&inp, &nov, None);
        let svc = |r: &SlaReport, d: &str| -> ServiceAvailability {
            r.departments.iter().find(|x| x.id == d).unwrap().services[0].clone()
        };
        // Social (always): 1 h on 2 Nov + 1 h before the month ends = 2 h unmonitored;
        // 720 h − 2 h counted, nothing down.
        let s = svc(&r, "social");
        assert_eq!(
            (s.counted_ms, s.down_ms, s.planned_ms, s.unmonitored_ms),
            (718 * H, 0, 0, 2 * H)
        );
        assert_eq!(s.availability, Some(1.0));
        assert!(s.outages.is_empty());
        // The month ends inside the gap: that is its state at the end.
        assert_eq!(s.state, ServiceState::Unmonitored);
        assert_eq!((s.hosts_unmonitored, s.hosts_unhealthy), (2, 0));
        // Schools (weekdays 08-16 CET): only the hour on 2 Nov is in service hours.
        let s = svc(&r, "schools");
        assert_eq!((s.counted_ms, s.unmonitored_ms), (167 * H, H));
        // December so far (until 1 Dec 12:00Z = 13:00 CET): the gap's other 3 h.
        let dec = Period::month("2026-12", &tz).unwrap();
        let r = build(&inp, &dec, None);
        let s = svc(&r, "social");
        assert_eq!((s.counted_ms, s.unmonitored_ms), (10 * H, 3 * H));
        assert_eq!((s.state, s.hosts_unmonitored), (ServiceState::Up, 0));
        let s = svc(&r, "schools");
        assert_eq!((s.counted_ms, s.unmonitored_ms), (5 * H, 0));
        // Measured while the gap runs (rows are written after it, but the rule holds):
        // until 1 Dec 01:00Z, December has 2 h, all unmonitored — no data, not 100 %.
        inp.now_ms = at("2026-12-01T01:00Z");
        let r = build(&inp, &dec, Some("social"));
        let s = svc(&r, "social");
        assert_eq!((s.counted_ms, s.unmonitored_ms), (0, 2 * H));
        assert_eq!((s.availability, s.met), (None, None));
        // Without the rows, the same month is what it always was: b's outage is covered
        // by a, and the gap's hours count as up.
        inp.now_ms = at("2026-12-01T12:00Z");
        inp.unmonitored = &[];
        let s = svc(&build(&inp, &nov, None), "social");
        assert_eq!((s.counted_ms, s.unmonitored_ms), (720 * H, 0));
        assert_eq!(s.state, ServiceState::Up);
    }
}
