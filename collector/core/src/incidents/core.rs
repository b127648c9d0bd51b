//! The incident core: hosts' latest state in memory, one [`Track`] per correlation key,
//! and what each step changes — incident and problem rows, tracks, and desk actions for
//! the outbox — returned as one [`IncidentWrite`] for the store to commit atomically.
//! Pure apart from the time passed in, so the whole path from observation to outbox item
//! is tested without a database, a clock or a desk.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tilsyn_proto::v1::{Health, PatchLevel};

use super::conditions::{self, HostState, Kind, Observation};
use super::config::Policy;
use super::correlation;
use super::engine::{Event, Phase, Track};
use super::maintenance::HostRef;
use super::priority::{Impact, Priority};
use super::problems::{ProblemEvent, Problems, Scope};
use super::records::*;
use super::ticket::Ticket;
use crate::compliance::report::Finding;
use crate::compliance::standard::Severity;

/// Which sources a kind of condition reads; an update of one source observes only its
/// conditions (a health report does not count as a compliance observation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Offline,
    Health,
    Patch,
    Compliance,
    Agent,
    Clock,
}

impl Group {
    pub const ALL: [Group; 6] = [
        Group::Offline,
        Group::Health,
        Group::Patch,
        Group::Compliance,
        Group::Agent,
        Group::Clock,
    ];
    fn of_kind(k: &Kind) -> Group {
        match k {
            Kind::Offline => Group::Offline,
            Kind::PatchOverdueDays(_) => Group::Patch,
            Kind::ComplianceAtLeast(_) => Group::Compliance,
            Kind::ProbeFailing => Group::Agent,
            Kind::ClockSkewAbove(_) => Group::Clock,
            _ => Group::Health,
        }
    }
    fn of_check(check: &str) -> Group {
        match check.split(['/', ':']).next().unwrap_or_default() {
            "offline" => Group::Offline,
            "patch" => Group::Patch,
            "compliance" => Group::Compliance,
            "agent" => Group::Agent,
            "clock-skew" => Group::Clock,
            _ => Group::Health,
        }
    }
}

/// A host's latest state as conditions see it.
#[derive(Debug, Clone, Default)]
pub struct HostMeta {
    pub hostname: String,
    pub department: String,
    pub class: String,
    pub labels: BTreeMap<String, String>,
    pub offline: bool,
    pub health: Option<Health>,
    pub patches: Option<PatchLevel>,
    pub probe_errors: Vec<String>,
    /// How far ahead of the collector the host's clock ran on its latest live report.
    pub clock_skew_ms: Option<i64>,
    /// Failing, unknown and waived compliance results.
    pub findings: Vec<Finding>,
}

impl HostMeta {
    /// Who the host is, without its state: what priority, routing, maintenance scope and
    /// tickets need (cheap to keep while `Core` is changed).
    fn ident(&self) -> HostMeta {
        HostMeta {
            hostname: self.hostname.clone(),
            department: self.department.clone(),
            class: self.class.clone(),
            labels: self.labels.clone(),
            ..Default::default()
        }
    }

    fn host_ref(&self) -> HostRef<'_> {
        HostRef {
            hostname: &self.hostname,
            department: &self.department,
            class: &self.class,
            labels: &self.labels,
        }
    }
}

impl From<IncidentHost> for HostMeta {
    fn from(h: IncidentHost) -> Self {
        HostMeta {
            hostname: h.hostname,
            department: h.department,
            class: h.class,
            labels: h.labels,
            offline: h.offline,
            health: h.health,
            patches: h.patches,
            probe_errors: h.probe_errors,
            clock_skew_ms: None,
            findings: vec![],
        }
    }
}

/// Sends each department's incidents to its desk.
#[derive(Debug, Clone)]
pub struct Routing {
    /// (desk, department globs) in config order.
    pub routes: Vec<(String, Vec<String>)>,
    pub default: String,
    /// Where fleet-wide problems go.
    pub problems: String,
}

impl Routing {
    pub fn single(desk: &str) -> Routing {
        Routing {
            routes: vec![],
            default: desk.into(),
            problems: desk.into(),
        }
    }
    pub fn desk_for(&self, department: &str) -> &str {
        self.routes
            .iter()
            .find(|(_, globs)| {
                globs
                    .iter()
                    .any(|g| crate::text::glob_with(g, department, true))
            })
            .map_or(self.default.as_str(), |(d, _)| d.as_str())
    }
}

/// A change worth counting in the metrics.
#[derive(Debug, Clone, PartialEq)]
pub enum Counted {
    Opened {
        department: String,
        priority: String,
    },
    Suppressed {
        department: String,
    },
    Resolved {
        department: String,
        priority: String,
        open_seconds: f64,
    },
    ProblemOpened,
}

struct KeyState {
    agent_id: String,
    check: String,
    track: Track,
    /// The current or last incident of this key.
    incident: Option<IncidentRow>,
}

pub struct Core {
    pub policy: Policy,
    routing: Routing,
    pub hosts: HashMap<String, HostMeta>,
    keys: HashMap<String, KeyState>,
    host_keys: HashMap<String, BTreeSet<String>>,
    problems: Problems,
    problem_rows: BTreeMap<(String, Scope), ProblemRow>,
    next_incident: i64,
    next_problem: i64,
    pub counted: Vec<Counted>,
    /// Hosts per department for percentage storm rules, recounted at most once a second
    /// (a storm is hundreds of openings in a second; counting the fleet for each is waste).
    dept_sizes: (i64, HashMap<String, u32>),
}

/// Payload of an outbox item: the ticket (create, and reopen's fallback) and a text.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Payload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
    #[serde(default)]
    pub text: String,
}

fn urgency(s: Severity) -> u8 {
    match s {
        Severity::Critical | Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
    }
}

fn impact_number(i: Impact) -> u8 {
    match i {
        Impact::High => 1,
        Impact::Medium => 2,
        Impact::Low => 3,
    }
}

fn parse_severity(s: &str) -> Severity {
    match s {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "low" => Severity::Low,
        _ => Severity::Medium,
    }
}

impl Core {
    pub fn new(policy: Policy, routing: Routing) -> Core {
        Core {
            problems: Problems::new(policy.storms.clone()),
            policy,
            routing,
            hosts: HashMap::new(),
            keys: HashMap::new(),
            host_keys: HashMap::new(),
            problem_rows: BTreeMap::new(),
            next_incident: 0,
            next_problem: 0,
            counted: vec![],
            dept_sizes: (i64::MIN, HashMap::new()),
        }
    }

    /// Restores tracks, unresolved incidents and open problems from the store. Returns the
    /// keys of tracks that could not be read (they start afresh; the caller logs them).
    pub fn restore(&mut self, st: super::records::IncidentState) -> Vec<String> {
        let mut unreadable = Vec::new();
        let (tracks, incidents, problems, max_i, max_p) = st;
        self.next_incident = max_i;
        self.next_problem = max_p;
        let mut by_id: HashMap<i64, IncidentRow> =
            incidents.into_iter().map(|i| (i.id, i)).collect();
        for t in tracks {
            let Ok(track) = serde_json::from_str::<Track>(&t.track_json) else {
                unreadable.push(t.key);
                continue;
            };
            let incident = t.incident_id.and_then(|id| by_id.remove(&id));
            self.host_keys
                .entry(t.agent_id.clone())
                .or_default()
                .insert(t.key.clone());
            self.keys.insert(
                t.key,
                KeyState {
                    agent_id: t.agent_id,
                    check: t.check,
                    track,
                    incident,
                },
            );
        }
        for p in problems {
            let scope = Scope::parse(&p.scope);
            let hosts: Vec<String> = self
                .keys
                .values()
                .filter_map(|k| k.incident.as_ref())
                .filter(|i| i.problem_id == Some(p.id) && i.state != "resolved")
                .map(|i| i.agent_id.clone())
                .collect();
            self.problems.restore(&p.check, scope.clone(), hosts);
            self.problem_rows.insert((p.check.clone(), scope), p);
        }
        unreadable
    }

    /// Unresolved incidents (for gauges and the API).
    pub fn open_incidents(&self) -> impl Iterator<Item = &IncidentRow> {
        self.keys
            .values()
            .filter_map(|k| k.incident.as_ref())
            .filter(|i| i.state != "resolved")
    }

    pub fn open_problems(&self) -> usize {
        self.problem_rows.len()
    }

    /// Observes `groups` of one host at `now_ms`; what changed goes to `w`.
    pub fn observe(
        &mut self,
        agent_id: &str,
        groups: &[Group],
        now_ms: i64,
        w: &mut IncidentWrite,
    ) {
        let Some(host) = self.hosts.get(agent_id) else {
            return;
        };
        let state = HostState {
            offline: host.offline,
            health: host.health.as_ref(),
            patches: host.patches.as_ref(),
            findings: &host.findings,
            probe_errors: &host.probe_errors,
            clock_skew_ms: host.clock_skew_ms,
            now_ms,
        };
        let mut observations: Vec<(usize, Observation)> = Vec::new();
        for (ci, c) in self.conditions_of(host) {
            if groups.contains(&Group::of_kind(&c.kind)) {
                for o in conditions::observe(&c.kind, c.severity, &state) {
                    observations.push((ci, o));
                }
            }
        }
        let offline = host.offline;
        let mut seen = BTreeSet::new();
        for (ci, o) in observations {
            let key = correlation::key(agent_id, &o.check);
            seen.insert(key.clone());
            self.step(agent_id, &key, ci, &o, now_ms, w);
        }
        // Keys of these groups the host no longer reports are good now (the filesystem
        // was unmounted, the finding went away, the probe healed) — except health-type
        // checks of a silent host, whose last report is stale.
        let stale: Vec<(String, String)> = self
            .host_keys
            .get(agent_id)
            .into_iter()
            .flatten()
            .filter(|k| !seen.contains(*k))
            .filter_map(|k| self.keys.get(k).map(|s| (k.clone(), s.check.clone())))
            .filter(|(_, check)| {
                let g = Group::of_check(check);
                groups.contains(&g) && !(offline && matches!(g, Group::Health | Group::Agent))
            })
            .collect();
        for (key, check) in stale {
            let ks = &self.keys[&key];
            if matches!(ks.track.phase, Phase::Quiet | Phase::Resolved { .. }) {
                continue;
            }
            let sev = ks
                .incident
                .as_ref()
                .map_or(Severity::Medium, |i| parse_severity(&i.severity));
            let ci = self.condition_for_check(agent_id, &check);
            let o = Observation {
                check: check.clone(),
                bad: false,
                severity: sev,
                detail: "no longer reported".into(),
            };
            match ci {
                Some(ci) => self.step(agent_id, &key, ci, &o, now_ms, w),
                None => {
                    // Its condition was removed from the config: resolve with default hysteresis.
                    let h = super::engine::Hysteresis {
                        resolve_after_observations: 1,
                        ..Default::default()
                    };
                    let ks = self.keys.get_mut(&key).expect("key");
                    let ev = ks.track.observe(false, now_ms, &h);
                    self.apply(agent_id, &key, None, &o, ev, now_ms, w);
                }
            }
        }
    }

    /// The conditions that apply to `host`: for each kind, the first entry whose scope
    /// matches it.
    fn conditions_of<'a>(
        &'a self,
        host: &'a HostMeta,
    ) -> impl Iterator<Item = (usize, &'a super::config::Condition)> + 'a {
        let mut seen = Vec::new();
        self.policy
            .conditions
            .iter()
            .enumerate()
            .filter(move |(_, c)| {
                let d = std::mem::discriminant(&c.kind);
                let first =
                    !seen.contains(&d) && c.applies(&host.class, &host.department, &host.labels);
                if first {
                    seen.push(d);
                }
                first
            })
    }

    /// The condition that produces `check` on this host, if it still applies.
    fn condition_for_check(&self, agent_id: &str, check: &str) -> Option<usize> {
        let host = self.hosts.get(agent_id)?;
        self.conditions_of(host)
            .find(|(_, c)| c.kind.produces(check))
            .map(|(ci, _)| ci)
    }

    fn step(
        &mut self,
        agent_id: &str,
        key: &str,
        ci: usize,
        o: &Observation,
        now_ms: i64,
        w: &mut IncidentWrite,
    ) {
        let h = self.policy.conditions[ci].hysteresis.clone();
        let ks = self
            .keys
            .entry(key.to_string())
            .or_insert_with(|| KeyState {
                agent_id: agent_id.to_string(),
                check: o.check.clone(),
                track: Track::default(),
                incident: None,
            });
        if !o.bad && matches!(ks.track.phase, Phase::Quiet) {
            return;
        }
        self.host_keys
            .entry(agent_id.to_string())
            .or_default()
            .insert(key.to_string());
        let ks = self.keys.get_mut(key).expect("key");
        let ev = ks.track.observe(o.bad, now_ms, &h);
        if let Some(i) = ks
            .incident
            .as_mut()
            .filter(|i| i.state != "resolved" && o.bad)
        {
            // Keep the latest detail in memory; it is written with the next change.
            i.detail.clone_from(&o.detail);
        }
        self.apply(agent_id, key, Some(ci), o, ev, now_ms, w);
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        agent_id: &str,
        key: &str,
        ci: Option<usize>,
        o: &Observation,
        events: Vec<Event>,
        now_ms: i64,
        w: &mut IncidentWrite,
    ) {
        if events.is_empty() {
            return;
        }
        let reopen_ms = ci.map_or(3_600_000, |ci| {
            self.policy.conditions[ci].hysteresis.reopen_window_ms
        });
        for e in events {
            match e {
                Event::Open { .. } => self.open(agent_id, key, o, now_ms, reopen_ms, w),
                Event::Reopen { .. } => {
                    let has = self.keys[key].incident.is_some();
                    if has {
                        self.reopen(agent_id, key, o, now_ms, reopen_ms, w);
                    } else {
                        self.open(agent_id, key, o, now_ms, reopen_ms, w);
                    }
                }
                Event::FlappingStarted { .. } | Event::FlappingEnded { .. } => {
                    let started = matches!(e, Event::FlappingStarted { .. });
                    let ks = self.keys.get_mut(key).expect("key");
                    if let Some(i) = ks.incident.as_mut() {
                        i.flapping = started;
                        i.updated_at_ms = now_ms;
                        let text = if started {
                            format!("Flapping: opened {} times within the flap window; Tilsyn holds this incident open until it settles. Latest: {}", ks.track.opens.len(), o.detail)
                        } else {
                            "No longer flapping.".to_string()
                        };
                        note(w, i, text);
                        w.incidents.push(i.clone());
                    }
                }
                Event::Resolve { .. } => self.resolve(agent_id, key, o, now_ms, w),
            }
        }
        let ks = &self.keys[key];
        w.tracks.push(TrackRow {
            key: key.to_string(),
            agent_id: agent_id.to_string(),
            check: ks.check.clone(),
            track_json: serde_json::to_string(&ks.track).expect("track json"),
            incident_id: ks.incident.as_ref().map(|i| i.id),
        });
    }

    fn ticket(i: &IncidentRow, since_ms: i64, reopen_ms: i64) -> Ticket {
        let body = format!(
            "Tilsyn detected: {detail}\n\nHost: {host} (agent {agent})\nDepartment: {dept}\nClass: {class}\nCheck: {check}\n\
             Severity (urgency): {sev}\nImpact: {impact}\nPriority: {prio}\nBad since: {since}\n\n\
             Tilsyn adds work notes while this lasts and resolves this ticket by itself when the condition clears; \
             a recurrence within {reopen} reopens it.\nHost details: /api/v1/hosts/{agent}\nCorrelation key: {key}\n",
            detail = i.detail,
            host = i.hostname,
            agent = i.agent_id,
            dept = i.department,
            class = i.class,
            check = i.check,
            sev = i.severity,
            impact = i.impact,
            prio = i.priority,
            since = crate::text::rfc3339(since_ms),
            reopen = crate::text::elapsed(reopen_ms),
            key = i.key,
        );
        let impact = match i.impact.as_str() {
            "high" => Impact::High,
            "low" => Impact::Low,
            _ => Impact::Medium,
        };
        Ticket {
            key: i.key.clone(),
            title: i.title.clone(),
            body,
            priority: i.priority.trim_start_matches('P').parse().unwrap_or(3),
            impact: impact_number(impact),
            urgency: urgency(parse_severity(&i.severity)),
            severity: i.severity.clone(),
            hostname: i.hostname.clone(),
            agent_id: i.agent_id.clone(),
            department: i.department.clone(),
            check: i.check.clone(),
            opened_at_ms: i.opened_at_ms,
        }
    }

    fn open(
        &mut self,
        agent_id: &str,
        key: &str,
        o: &Observation,
        now_ms: i64,
        reopen_ms: i64,
        w: &mut IncidentWrite,
    ) {
        let host = self
            .hosts
            .get(agent_id)
            .map(HostMeta::ident)
            .unwrap_or_default();
        let impact = self
            .policy
            .priority
            .impact_of(&host.class, &host.department, &host.labels);
        let priority = self.policy.priority.priority(impact, o.severity);
        self.next_incident += 1;
        let since = match self.keys[key].track.phase {
            Phase::Open { since_ms, .. } => since_ms,
            _ => now_ms,
        };
        let mut row = IncidentRow {
            id: self.next_incident,
            key: key.to_string(),
            agent_id: agent_id.to_string(),
            hostname: host.hostname.clone(),
            department: host.department.clone(),
            class: host.class.clone(),
            check: o.check.clone(),
            severity: o.severity.as_str().to_string(),
            impact: format!("{impact:?}").to_lowercase(),
            priority: priority.as_str().to_string(),
            title: format!(
                "[Tilsyn {}] {}: {}",
                priority.as_str(),
                host.hostname,
                o.detail
            ),
            detail: o.detail.clone(),
            state: "open".into(),
            flapping: false,
            reopened: 0,
            opened_at_ms: now_ms,
            resolved_at_ms: None,
            suppressed_by: None,
            problem_id: None,
            desk: String::new(),
            desk_side: DeskSide::default(),
            updated_at_ms: now_ms,
        };
        let href = host.host_ref();
        if let Some(win) = self.policy.windows.active_for(&href, &o.check, now_ms) {
            row.state = "suppressed".into();
            row.suppressed_by = Some(win.to_string());
            self.counted.push(Counted::Suppressed {
                department: host.department.clone(),
            });
            w.incidents.push(row.clone());
            self.keys.get_mut(key).expect("key").incident = Some(row);
            return;
        }
        self.counted.push(Counted::Opened {
            department: host.department.clone(),
            priority: row.priority.clone(),
        });
        // Only percentage rules need department sizes; count by reference, own the few
        // distinct names.
        let by_percent = self
            .policy
            .storms
            .iter()
            .any(|r| r.department_percent.is_some());
        if by_percent && now_ms.saturating_sub(self.dept_sizes.0) >= 1000 {
            let mut m: HashMap<&str, u32> = HashMap::new();
            for h in self.hosts.values() {
                *m.entry(h.department.as_str()).or_insert(0) += 1;
            }
            let m = m.into_iter().map(|(d, n)| (d.to_string(), n)).collect();
            self.dept_sizes = (now_ms, m);
        }
        let sizes = &self.dept_sizes.1;
        let pevents = self
            .problems
            .opened(&o.check, agent_id, &host.department, now_ms, &|d| {
                sizes.get(d).copied().unwrap_or(1)
            });
        let mut attached = None;
        for pe in pevents {
            match pe {
                ProblemEvent::Open {
                    check,
                    scope,
                    hosts,
                } => {
                    let pid = self.open_problem(&check, scope, &hosts, priority, &host, now_ms, w);
                    // The incidents that formed the storm: link them, and tell their tickets.
                    for h in hosts.iter().filter(|h| h.as_str() != agent_id) {
                        let k = correlation::key(h, &check);
                        if let Some(i) = self.keys.get_mut(&k).and_then(|s| s.incident.as_mut()) {
                            if i.state != "resolved" && i.problem_id.is_none() {
                                i.problem_id = Some(pid);
                                i.updated_at_ms = now_ms;
                                note(w, i, format!("Part of problem #{pid}: {check} fails on {} hosts at once; see the problem ticket.", hosts.len()));
                                w.incidents.push(i.clone());
                            }
                        }
                    }
                    attached = Some(pid);
                }
                ProblemEvent::Attach { check, scope, .. } => {
                    if let Some(p) = self.problem_rows.get_mut(&(check, scope)) {
                        p.hosts += 1;
                        p.updated_at_ms = now_ms;
                        attached = Some(p.id);
                        w.problems.push(p.clone());
                    }
                }
                ProblemEvent::Resolve { .. } => {}
            }
        }
        row.problem_id = attached;
        if attached.is_none() {
            row.desk = self.routing.desk_for(&host.department).to_string();
            let t = Self::ticket(&row, since, reopen_ms);
            w.outbox.push(NewOutbox {
                desk: row.desk.clone(),
                subject: format!("incident:{}", row.id),
                action: "create".into(),
                payload: payload(Some(t), String::new()),
            });
        }
        w.incidents.push(row.clone());
        self.keys.get_mut(key).expect("key").incident = Some(row);
    }

    #[allow(clippy::too_many_arguments)]
    fn open_problem(
        &mut self,
        check: &str,
        scope: Scope,
        hosts: &[String],
        priority: Priority,
        host: &HostMeta,
        now_ms: i64,
        w: &mut IncidentWrite,
    ) -> i64 {
        self.next_problem += 1;
        let id = self.next_problem;
        let desk = match &scope {
            Scope::Fleet => self.routing.problems.clone(),
            Scope::Department(d) => self.routing.desk_for(d).to_string(),
        };
        let where_ = match &scope {
            Scope::Fleet => "across the fleet".to_string(),
            Scope::Department(d) => format!("in department {d}"),
        };
        // A storm outranks any single incident of it: one step more urgent, at most P1.
        let prio = match priority {
            Priority::P1 | Priority::P2 => Priority::P1,
            Priority::P3 => Priority::P2,
            Priority::P4 => Priority::P3,
            Priority::P5 => Priority::P4,
        };
        let key = correlation::key(
            &format!("problem/{}", scope.as_string()),
            &format!("{check}#{id}"),
        );
        let row = ProblemRow {
            id,
            key: key.clone(),
            check: check.to_string(),
            scope: scope.as_string(),
            state: "open".into(),
            priority: prio.as_str().into(),
            title: format!(
                "[Tilsyn {} problem] {check} failing on {} hosts {where_}",
                prio.as_str(),
                hosts.len()
            ),
            opened_at_ms: now_ms,
            resolved_at_ms: None,
            hosts: hosts.len() as i64,
            desk: desk.clone(),
            desk_side: DeskSide::default(),
            updated_at_ms: now_ms,
        };
        let ticket = Ticket {
            key,
            title: row.title.clone(),
            body: format!(
                "Tilsyn problem (major incident): the check {check} started failing on {} hosts {where_} within the storm window \
                 (first: {}). Tilsyn attaches the host incidents to this problem instead of opening a ticket per host, \
                 and resolves it when every attached incident has cleared.\nAttached incidents: /api/v1/incidents?problem_id={id}\n",
                hosts.len(),
                host.hostname
            ),
            priority: prio.number(),
            impact: 1,
            urgency: urgency(Severity::High),
            severity: "high".into(),
            hostname: String::new(),
            agent_id: String::new(),
            department: match &scope {
                Scope::Fleet => String::new(),
                Scope::Department(d) => d.clone(),
            },
            check: check.to_string(),
            opened_at_ms: now_ms,
        };
        w.outbox.push(NewOutbox {
            desk,
            subject: format!("problem:{id}"),
            action: "create".into(),
            payload: payload(Some(ticket), String::new()),
        });
        w.problems.push(row.clone());
        self.problem_rows.insert((check.to_string(), scope), row);
        self.counted.push(Counted::ProblemOpened);
        id
    }

    fn reopen(
        &mut self,
        agent_id: &str,
        key: &str,
        o: &Observation,
        now_ms: i64,
        reopen_ms: i64,
        w: &mut IncidentWrite,
    ) {
        let host = self
            .hosts
            .get(agent_id)
            .map(HostMeta::ident)
            .unwrap_or_default();
        let href = host.host_ref();
        let since = match self.keys[key].track.phase {
            Phase::Open { since_ms, .. } => since_ms,
            _ => now_ms,
        };
        let window = self
            .policy
            .windows
            .active_for(&href, &o.check, now_ms)
            .map(str::to_string);
        let ks = self.keys.get_mut(key).expect("key");
        let i = ks.incident.as_mut().expect("incident");
        i.state = if window.is_some() {
            "suppressed"
        } else {
            "open"
        }
        .into();
        i.suppressed_by = window.clone();
        i.reopened += 1;
        i.resolved_at_ms = None;
        i.detail.clone_from(&o.detail);
        i.updated_at_ms = now_ms;
        if window.is_none() {
            self.counted.push(Counted::Opened {
                department: i.department.clone(),
                priority: i.priority.clone(),
            });
            if !i.desk.is_empty() {
                // The ticket goes along: a desk that refuses to reopen (closed for good)
                // gets a new one from it.
                let t = Self::ticket(i, since, reopen_ms);
                w.outbox.push(NewOutbox {
                    desk: i.desk.clone(),
                    subject: format!("incident:{}", i.id),
                    action: "reopen".into(),
                    payload: payload(
                        Some(t),
                        format!(
                            "Recurred within the reopen window, reopened by Tilsyn: {}",
                            o.detail
                        ),
                    ),
                });
            } else if i.problem_id.is_none() {
                i.desk = self.routing.desk_for(&i.department).to_string();
                let row = i.clone();
                let t = Self::ticket(&row, now_ms, reopen_ms);
                w.outbox.push(NewOutbox {
                    desk: row.desk.clone(),
                    subject: format!("incident:{}", row.id),
                    action: "create".into(),
                    payload: payload(Some(t), String::new()),
                });
            }
        }
        let i = self.keys[key].incident.clone().expect("incident");
        w.incidents.push(i);
    }

    fn resolve(
        &mut self,
        agent_id: &str,
        key: &str,
        o: &Observation,
        now_ms: i64,
        w: &mut IncidentWrite,
    ) {
        let opened = match self.keys.get(key).and_then(|k| k.incident.as_ref()) {
            Some(i) => i.opened_at_ms,
            None => return,
        };
        let text = format!(
            "Resolved by Tilsyn: the condition cleared ({}) after {}.",
            o.detail,
            crate::text::elapsed(now_ms - opened)
        );
        self.resolve_with(agent_id, key, text, now_ms, w);
    }

    /// A host retired: every unresolved incident of it resolves now with `why` (who
    /// retired it and the reason) as the desk's note, and the host is forgotten, so
    /// nothing new opens for it.
    pub fn retire(&mut self, agent_id: &str, why: &str, now_ms: i64, w: &mut IncidentWrite) {
        let keys: Vec<String> = self
            .host_keys
            .get(agent_id)
            .map(|k| k.iter().cloned().collect())
            .unwrap_or_default();
        for key in keys {
            let open = self.keys.get(&key).and_then(|k| k.incident.as_ref());
            let Some(opened) = open
                .filter(|i| i.state != "resolved")
                .map(|i| i.opened_at_ms)
            else {
                continue;
            };
            let text = format!(
                "Resolved by Tilsyn: the host was retired ({why}) after {}.",
                crate::text::elapsed(now_ms - opened)
            );
            self.resolve_with(agent_id, &key, text, now_ms, w);
        }
        self.hosts.remove(agent_id);
    }

    fn resolve_with(
        &mut self,
        agent_id: &str,
        key: &str,
        text: String,
        now_ms: i64,
        w: &mut IncidentWrite,
    ) {
        let ks = self.keys.get_mut(key).expect("key");
        let check = ks.check.clone();
        let Some(i) = ks.incident.as_mut() else {
            return;
        };
        let was_suppressed = i.state == "suppressed";
        i.state = "resolved".into();
        i.resolved_at_ms = Some(now_ms);
        i.flapping = false;
        i.updated_at_ms = now_ms;
        if !i.desk.is_empty() {
            w.outbox.push(NewOutbox {
                desk: i.desk.clone(),
                subject: format!("incident:{}", i.id),
                action: "resolve".into(),
                payload: payload(None, text),
            });
        }
        if !was_suppressed {
            self.counted.push(Counted::Resolved {
                department: i.department.clone(),
                priority: i.priority.clone(),
                open_seconds: (now_ms - i.opened_at_ms).max(0) as f64 / 1000.0,
            });
        }
        w.incidents.push(i.clone());
        for pe in self.problems.resolved(&check, agent_id) {
            if let ProblemEvent::Resolve { check, scope } = pe {
                if let Some(mut p) = self.problem_rows.remove(&(check, scope)) {
                    p.state = "resolved".into();
                    p.resolved_at_ms = Some(now_ms);
                    p.updated_at_ms = now_ms;
                    w.outbox.push(NewOutbox {
                        desk: p.desk.clone(),
                        subject: format!("problem:{}", p.id),
                        action: "resolve".into(),
                        payload: payload(
                            None,
                            format!(
                                "Resolved by Tilsyn: all {} attached incidents have cleared after {}.",
                                p.hosts,
                                crate::text::elapsed(now_ms - p.opened_at_ms)
                            ),
                        ),
                    });
                    w.problems.push(p);
                }
            }
        }
    }

    /// Suppressed incidents whose window has ended while the condition is still bad get
    /// their ticket now.
    pub fn end_of_maintenance(&mut self, now_ms: i64, w: &mut IncidentWrite) {
        let keys: Vec<String> = self
            .keys
            .iter()
            .filter(|(_, k)| {
                k.incident.as_ref().is_some_and(|i| i.state == "suppressed") && k.track.is_open()
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in keys {
            let ks = &self.keys[&key];
            let Some(host) = self.hosts.get(&ks.agent_id) else {
                continue;
            };
            let href = host.host_ref();
            if self
                .policy
                .windows
                .active_for(&href, &ks.check, now_ms)
                .is_some()
            {
                continue;
            }
            let ks = self.keys.get_mut(&key).expect("key");
            let i = ks.incident.as_mut().expect("incident");
            i.state = "open".into();
            let window = i.suppressed_by.take().unwrap_or_default();
            i.updated_at_ms = now_ms;
            i.desk = self.routing.desk_for(&i.department).to_string();
            self.counted.push(Counted::Opened {
                department: i.department.clone(),
                priority: i.priority.clone(),
            });
            let mut row = i.clone();
            row.detail = format!(
                "{} (still bad after maintenance window {window} ended)",
                row.detail
            );
            let t = Self::ticket(&row, row.opened_at_ms, 0);
            w.outbox.push(NewOutbox {
                desk: row.desk.clone(),
                subject: format!("incident:{}", row.id),
                action: "create".into(),
                payload: payload(Some(t), String::new()),
            });
            w.incidents.push(i.clone());
        }
    }

    /// Hosts that are offline (to re-observe their offline condition on each tick).
    pub fn offline_hosts(&self) -> Vec<String> {
        self.hosts
            .iter()
            .filter(|(_, h)| h.offline)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

fn payload(ticket: Option<Ticket>, text: String) -> String {
    serde_json::to_string(&Payload { ticket, text }).expect("payload json")
}

fn note(w: &mut IncidentWrite, i: &IncidentRow, text: String) {
    if !i.desk.is_empty() {
        w.outbox.push(NewOutbox {
            desk: i.desk.clone(),
            subject: format!("incident:{}", i.id),
            action: "note".into(),
            payload: payload(None, text),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::config::IncidentsConfig;
    use tilsyn_proto::v1::FilesystemUsage;

    const MIN: i64 = 60_000;

    fn core(yaml: &str) -> Core {
        let (cfg, windows) = yaml.split_once("WINDOWS:").unwrap_or((yaml, ""));
        let cfg: IncidentsConfig<()> = serde_yaml::from_str(cfg).unwrap();
        let mut policy = cfg.compile().unwrap();
        if !windows.is_empty() {
            let doc = serde_yaml::from_str(windows).unwrap();
            policy.windows = crate::incidents::maintenance::Windows::compile(doc).unwrap();
        }
        Core::new(policy, Routing::single("desk"))
    }

    fn host(c: &mut Core, id: &str, dept: &str, class: &str, used: u64) {
        c.hosts.insert(
            id.into(),
            HostMeta {
                hostname: format!("{id}.example"),
                department: dept.into(),
                class: class.into(),
                health: Some(Health {
                    filesystems: vec![FilesystemUsage {
                        mount_point: "/".into(),
                        total_bytes: 100,
                        used_bytes: used,
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
    }

    fn set_used(c: &mut Core, id: &str, used: u64) {
        c.hosts
            .get_mut(id)
            .unwrap()
            .health
            .as_mut()
            .unwrap()
            .filesystems[0]
            .used_bytes = used;
    }

    fn actions(w: &IncidentWrite) -> Vec<String> {
        w.outbox
            .iter()
            .map(|o| format!("{} {}", o.action, o.subject))
            .collect()
    }

    const FS: &str = "conditions:\n  - {when: {filesystem_above: 0.9}, severity: high, for: 10m, resolve_after: 5m}\n";

    #[test]
    fn a_full_disk_opens_after_its_duration_and_resolves_after_its_own() {
        let mut c = core(FS);
        host(&mut c, "a", "social", "server", 95);
        let mut w = IncidentWrite::default();
        for m in 0..10 {
            c.observe("a", &[Group::Health], m * MIN, &mut w);
        }
        assert!(w.outbox.is_empty(), "9 minutes is not yet 10");
        c.observe("a", &[Group::Health], 10 * MIN, &mut w);
        assert_eq!(actions(&w), ["create incident:1"]);
        let t: Payload = serde_json::from_str(&w.outbox[0].payload).unwrap();
        let t = t.ticket.unwrap();
        // Server impact is medium by default; high severity → P3 with the default matrix.
        assert_eq!((t.priority, t.impact, t.urgency), (3, 2, 1));
        assert_eq!(t.key, correlation::key("a", "health/filesystem:/"));
        assert!(
            t.title.contains("a.example") && t.title.contains("/ used 95 %"),
            "{}",
            t.title
        );
        assert_eq!(w.incidents.last().unwrap().state, "open");
        assert_eq!(w.tracks.len(), 1, "the track is saved when it opens");

        let mut w = IncidentWrite::default();
        set_used(&mut c, "a", 50);
        for m in 11..=15 {
            c.observe("a", &[Group::Health], m * MIN, &mut w);
        }
        assert!(w.outbox.is_empty(), "good for 4 minutes only");
        c.observe("a", &[Group::Health], 16 * MIN, &mut w);
        assert_eq!(actions(&w), ["resolve incident:1"]);
        assert_eq!(w.incidents.last().unwrap().state, "resolved");
        assert!(c.counted.iter().any(
            |x| matches!(x, Counted::Resolved { open_seconds, .. } if *open_seconds == 360.0)
        ));

        // A recurrence within the reopen window reopens the same ticket.
        let mut w = IncidentWrite::default();
        set_used(&mut c, "a", 99);
        for m in 20..=30 {
            c.observe("a", &[Group::Health], m * MIN, &mut w);
        }
        assert_eq!(actions(&w), ["reopen incident:1"]);
        assert_eq!(w.incidents.last().unwrap().reopened, 1);
    }

    #[test]
    fn other_sources_and_other_hosts_do_not_count_as_observations() {
        let mut c = core("conditions:\n  - {when: {filesystem_above: 0.9}, observations: 2}\n");
        host(&mut c, "a", "d", "workstation", 95);
        host(&mut c, "b", "d", "workstation", 95);
        let mut w = IncidentWrite::default();
        c.observe("a", &[Group::Health], 0, &mut w);
        c.observe("a", &[Group::Compliance, Group::Patch], 1, &mut w);
        c.observe("b", &[Group::Health], 2, &mut w);
        assert!(w.outbox.is_empty());
        c.observe("a", &[Group::Health], 3, &mut w);
        assert_eq!(actions(&w), ["create incident:1"]);
    }

    #[test]
    fn an_unmounted_filesystem_resolves_its_incident() {
        let mut c = core("conditions:\n  - {when: {filesystem_above: 0.9}, observations: 1, resolve_observations: 1}\n");
        host(&mut c, "a", "d", "server", 95);
        let mut w = IncidentWrite::default();
        c.observe("a", &[Group::Health], 0, &mut w);
        c.hosts
            .get_mut("a")
            .unwrap()
            .health
            .as_mut()
            .unwrap()
            .filesystems
            .clear();
        c.observe("a", &[Group::Health], MIN, &mut w);
        assert_eq!(actions(&w), ["create incident:1", "resolve incident:1"]);
    }

    #[test]
    fn a_silent_host_keeps_its_health_incidents_and_opens_offline() {
        let mut c = core("conditions:\n  - {when: offline, observations: 1, resolve_observations: 1}\n  - {when: {filesystem_above: 0.9}, observations: 1}\n");
        host(&mut c, "a", "d", "server", 95);
        let mut w = IncidentWrite::default();
        c.observe("a", &[Group::Health], 0, &mut w);
        c.hosts.get_mut("a").unwrap().offline = true;
        c.observe("a", &Group::ALL, MIN, &mut w);
        assert_eq!(actions(&w), ["create incident:1", "create incident:2"]);
        assert_eq!(w.incidents.last().unwrap().check, "offline");
        c.hosts.get_mut("a").unwrap().offline = false;
        c.observe("a", &[Group::Offline], 2 * MIN, &mut w);
        assert_eq!(actions(&w).last().unwrap(), "resolve incident:2");
        assert_eq!(
            w.incidents.iter().rfind(|i| i.id == 1).unwrap().state,
            "open"
        );
    }

    #[test]
    fn a_retired_host_has_its_incidents_resolved_with_the_reason_and_opens_no_more() {
        let mut c = core("conditions:\n  - {when: offline, observations: 1}\n  - {when: {filesystem_above: 0.9}, observations: 1}\n");
        host(&mut c, "a", "d", "server", 95);
        host(&mut c, "b", "d", "server", 95);
        let mut w = IncidentWrite::default();
        c.observe("a", &[Group::Health], 0, &mut w);
        c.observe("b", &[Group::Health], 0, &mut w);
        c.hosts.get_mut("a").unwrap().offline = true;
        c.observe("a", &Group::ALL, MIN, &mut w);
        assert_eq!(
            actions(&w),
            [
                "create incident:1",
                "create incident:2",
                "create incident:3"
            ]
        );
        let mut w = IncidentWrite::default();
        c.retire("a", "by token:ops: scrapped", 2 * MIN, &mut w);
        let mut got = actions(&w);
        got.sort();
        assert_eq!(got, ["resolve incident:1", "resolve incident:3"]);
        let p: Payload = serde_json::from_str(&w.outbox[0].payload).unwrap();
        assert!(
            p.text.contains("host was retired (by token:ops: scrapped)"),
            "{}",
            p.text
        );
        assert!(w.incidents.iter().all(|i| i.state == "resolved"));
        // Nothing opens for it any more; the other host is untouched.
        let mut w = IncidentWrite::default();
        c.observe("a", &Group::ALL, 3 * MIN, &mut w);
        assert!(w.outbox.is_empty() && w.incidents.is_empty());
        assert!(c.open_incidents().all(|i| i.agent_id == "b"));
        assert!(!c.offline_hosts().contains(&"a".to_string()));
    }

    #[test]
    fn inside_a_maintenance_window_an_incident_is_suppressed_and_ticketed_if_it_outlasts_it() {
        // A window from 00:00 to 01:00 UTC on 2026-11-23 for department "social".
        let y = "conditions:\n  - {when: {filesystem_above: 0.9}, observations: 1}\nWINDOWS:\nwindows:\n  - id: patch-night\n    title: Patch night\n    time_zone: UTC\n    once: {start: '2026-11-23T00:00', end: '2026-11-23T01:00'}\n    scope: {department: [social]}\n";
        let mut c = core(y);
        let t0 = jiff::Timestamp::from_second(1_795_392_000)
            .unwrap()
            .as_millisecond(); // 2026-11-23T00:00:00Z
        host(&mut c, "a", "social", "server", 95);
        host(&mut c, "b", "schools", "server", 95);
        let mut w = IncidentWrite::default();
        c.observe("a", &[Group::Health], t0 + 10 * MIN, &mut w);
        c.observe("b", &[Group::Health], t0 + 10 * MIN, &mut w);
        assert_eq!(
            actions(&w),
            ["create incident:2"],
            "only the host outside the window gets a ticket"
        );
        let a = w.incidents.iter().find(|i| i.agent_id == "a").unwrap();
        assert_eq!(
            (a.state.as_str(), a.suppressed_by.as_deref()),
            ("suppressed", Some("patch-night"))
        );
        let mut w = IncidentWrite::default();
        c.end_of_maintenance(t0 + 30 * MIN, &mut w);
        assert!(w.outbox.is_empty(), "the window is still on");
        c.end_of_maintenance(t0 + 61 * MIN, &mut w);
        assert_eq!(actions(&w), ["create incident:1"]);
        assert_eq!(w.incidents[0].state, "open");
    }

    #[test]
    fn a_storm_is_one_problem_ticket_and_clears_with_its_incidents() {
        let mut c = core("conditions:\n  - {when: offline, observations: 1, resolve_observations: 1}\nstorms:\n  - {checks: offline, min_hosts: 20, window: 10m}\n");
        for i in 0..500 {
            host(&mut c, &format!("h{i}"), "schools", "workstation", 10);
        }
        let mut w = IncidentWrite::default();
        for i in 0..500 {
            c.hosts.get_mut(&format!("h{i}")).unwrap().offline = true;
            c.observe(&format!("h{i}"), &[Group::Offline], i as i64 * 100, &mut w);
        }
        let creates: Vec<&NewOutbox> = w.outbox.iter().filter(|o| o.action == "create").collect();
        assert_eq!(
            creates.len(),
            20,
            "19 host tickets before the storm shows, then one problem"
        );
        assert_eq!(creates.last().unwrap().subject, "problem:1");
        assert_eq!(
            w.outbox.iter().filter(|o| o.action == "note").count(),
            19,
            "the early tickets are told"
        );
        assert_eq!(c.open_problems(), 1);
        let mut w = IncidentWrite::default();
        for i in 0..500 {
            c.hosts.get_mut(&format!("h{i}")).unwrap().offline = false;
            c.observe(&format!("h{i}"), &[Group::Offline], 100_000, &mut w);
        }
        let acts = actions(&w);
        assert_eq!(
            acts.iter()
                .filter(|a| a.starts_with("resolve incident"))
                .count(),
            19
        );
        assert_eq!(acts.last().unwrap(), "resolve problem:1");
        assert_eq!(c.open_problems(), 0);
    }

    #[test]
    fn state_survives_a_restart() {
        let mut c = core(FS);
        host(&mut c, "a", "d", "server", 95);
        let mut w = IncidentWrite::default();
        c.observe("a", &[Group::Health], 0, &mut w);
        c.observe("a", &[Group::Health], 10 * MIN, &mut w);
        let tracks = w.tracks.clone();
        let incidents = vec![w.incidents.last().unwrap().clone()];
        let mut c2 = core(FS);
        c2.restore((tracks, incidents, vec![], 1, 0));
        host(&mut c2, "a", "d", "server", 40);
        let mut w = IncidentWrite::default();
        c2.observe("a", &[Group::Health], 11 * MIN, &mut w);
        c2.observe("a", &[Group::Health], 17 * MIN, &mut w);
        assert_eq!(
            actions(&w),
            ["resolve incident:1"],
            "the restored incident resolves, no new one"
        );
        assert_eq!(c2.open_incidents().count(), 0);
    }

    #[test]
    fn a_host_clock_running_ahead_or_behind_is_an_incident() {
        let mut c = core("conditions:\n  - {when: {clock_skew_above: 120}, observations: 2, resolve_observations: 1}\n");
        host(&mut c, "a", "d", "server", 10);
        let mut w = IncidentWrite::default();
        for (t, skew) in [(0, -300_000), (MIN, -290_000)] {
            c.hosts.get_mut("a").unwrap().clock_skew_ms = Some(skew);
            c.observe("a", &[Group::Clock], t, &mut w);
        }
        assert_eq!(actions(&w), ["create incident:1"]);
        let i = w.incidents.last().unwrap();
        assert_eq!(i.check, "clock-skew");
        assert!(i.detail.contains("290 s behind"), "{}", i.detail);
        // Health reports are not clock observations.
        c.hosts.get_mut("a").unwrap().clock_skew_ms = Some(1_000);
        c.observe("a", &[Group::Health], 2 * MIN, &mut w);
        assert_eq!(w.outbox.len(), 1);
        c.observe("a", &[Group::Clock], 3 * MIN, &mut w);
        assert_eq!(actions(&w).last().unwrap(), "resolve incident:1");
    }

    /// Offline conditions observed at the given minutes (true: offline), for host `a`.
    fn offline_run(c: &mut Core, obs: &[(i64, bool)]) -> IncidentWrite {
        let mut w = IncidentWrite::default();
        for &(m, off) in obs {
            c.hosts.get_mut("a").unwrap().offline = off;
            c.observe("a", &[Group::Offline], m * MIN, &mut w);
        }
        w
    }

    #[test]
    fn a_reopen_carries_the_ticket_for_a_desk_that_refuses_to_reopen() {
        let mut c = core("conditions:\n  - {when: offline, observations: 1, resolve_observations: 1, reopen_within: 30m}\n");
        host(&mut c, "a", "d", "server", 10);
        let w = offline_run(&mut c, &[(0, true), (5, false), (20, true)]);
        assert_eq!(
            actions(&w),
            [
                "create incident:1",
                "resolve incident:1",
                "reopen incident:1"
            ]
        );
        let p: Payload = serde_json::from_str(&w.outbox[2].payload).unwrap();
        assert!(
            p.text.starts_with("Recurred within the reopen window"),
            "{}",
            p.text
        );
        let t = p
            .ticket
            .expect("the reopen's fallback (a new ticket) needs the ticket");
        assert_eq!(t.key, correlation::key("a", "offline"));
        assert_eq!(t.opened_at_ms, 0, "the incident opened at 0");
        assert!(
            t.body.contains("Bad since: 1970-01-01T00:20:00Z"),
            "{}",
            t.body
        );
        assert!(t.body.contains("within 30 min reopens it"), "{}", t.body);
    }

    #[test]
    fn more_than_flap_max_openings_within_flap_window_hold_the_incident_open() {
        // Offline and back every 2 minutes: openings at 0, 4 and 8 min.
        let flappy = [
            (0, true),
            (2, false),
            (4, true),
            (6, false),
            (8, true),
            (10, false),
        ];
        let cfg = |max: u32| {
            format!("conditions:\n  - {{when: offline, observations: 1, resolve_observations: 1, flap_window: 20m, flap_max: {max}}}\n")
        };
        // Three openings are not more than three: no flapping, it resolves at 10 min.
        let mut c = core(&cfg(3));
        host(&mut c, "a", "d", "server", 10);
        let w = offline_run(&mut c, &flappy);
        assert!(w.incidents.iter().all(|i| !i.flapping));
        assert_eq!(actions(&w).last().unwrap(), "resolve incident:1");
        assert_eq!(w.incidents.last().unwrap().state, "resolved");

        // Three are more than two: the third opening (8 min) flags it and it is held.
        let mut c = core(&cfg(2));
        host(&mut c, "a", "d", "server", 10);
        let w = offline_run(&mut c, &flappy);
        assert_eq!(
            actions(&w),
            [
                "create incident:1",
                "resolve incident:1",
                "reopen incident:1",
                "resolve incident:1",
                "reopen incident:1",
                "note incident:1"
            ],
            "held open at 10 min: no resolve"
        );
        let p: Payload = serde_json::from_str(&w.outbox[5].payload).unwrap();
        assert!(p.text.starts_with("Flapping: opened 3 times"), "{}", p.text);
        let last = w.incidents.last().unwrap();
        assert!(last.flapping && last.state == "open", "{last:?}");
        assert_eq!(last.reopened, 2);
        // Still good: the opening at 0 leaves the 20-minute window only after 20 min
        // (an opening exactly 20 min ago is within it), so it is held until 21 min.
        let w = offline_run(&mut c, &(11..=20).map(|m| (m, false)).collect::<Vec<_>>());
        assert!(w.outbox.is_empty(), "{:?}", actions(&w));
        assert!(c.open_incidents().next().unwrap().flapping);
        let w = offline_run(&mut c, &[(21, false)]);
        assert_eq!(actions(&w), ["note incident:1", "resolve incident:1"]);
        let p: Payload = serde_json::from_str(&w.outbox[0].payload).unwrap();
        assert_eq!(p.text, "No longer flapping.");
        let last = w.incidents.last().unwrap();
        assert!(!last.flapping && last.state == "resolved", "{last:?}");
        assert_eq!(last.resolved_at_ms, Some(21 * MIN));
    }

    #[test]
    fn a_suppressed_incident_resolving_inside_its_window_reaches_no_desk() {
        let y = "conditions:\n  - {when: {filesystem_above: 0.9}, observations: 1, resolve_observations: 1, reopen_within: 1h}\nWINDOWS:\nwindows:\n  - id: patch-night\n    time_zone: UTC\n    once: {start: '2026-11-23T00:00', end: '2026-11-23T01:00'}\n    scope: {department: [social]}\n";
        let mut c = core(y);
        let t0 = 1_795_392_000_000; // 2026-11-23T00:00:00Z
        host(&mut c, "a", "social", "server", 95);
        let mut w = IncidentWrite::default();
        c.observe("a", &[Group::Health], t0 + 10 * MIN, &mut w);
        set_used(&mut c, "a", 50);
        c.observe("a", &[Group::Health], t0 + 20 * MIN, &mut w);
        assert!(w.outbox.is_empty(), "{:?}", actions(&w));
        let states: Vec<(&str, Option<&str>, &str)> = w
            .incidents
            .iter()
            .map(|i| {
                (
                    i.state.as_str(),
                    i.suppressed_by.as_deref(),
                    i.desk.as_str(),
                )
            })
            .collect();
        assert_eq!(
            states,
            [
                ("suppressed", Some("patch-night"), ""),
                ("resolved", Some("patch-night"), "")
            ]
        );
        assert_eq!(
            c.counted,
            [Counted::Suppressed {
                department: "social".into()
            }],
            "suppressed once; never opened, so not resolved either"
        );
        assert_eq!(c.open_incidents().count(), 0);
        // The window's end finds nothing to ticket.
        let mut w = IncidentWrite::default();
        c.end_of_maintenance(t0 + 61 * MIN, &mut w);
        assert!(w.outbox.is_empty() && w.incidents.is_empty());
        assert_eq!(c.counted.len(), 1);
    }

    #[test]
    fn routing_by_department() {
        let r = Routing {
            routes: vec![("schooldesk".into(), vec!["school*".into()])],
            default: "main".into(),
            problems: "main".into(),
        };
        assert_eq!(r.desk_for("Schools"), "schooldesk");
        assert_eq!(r.desk_for("social"), "main");
    }
}
