//! SLA report benchmark: 100 departments, 500 services, 10,000 hosts and 100,000
//! incidents in one month (November 2026) in the default store (SQLite). Times reading the month from the
//! store, building the report (service timelines, availability, response and resolution
//! outcomes for every incident) and rendering it as HTML, Markdown and CSV.
//!
//! `cargo bench -p tilsyn-collector --bench sla [-- DEPARTMENTS SERVICES INCIDENTS]`.

use std::fmt::Write as _;
use std::time::Instant;

use tilsyn_collector::services::sla as service;
use tilsyn_collector_core::incidents::maintenance::{Windows, WindowsDoc};
use tilsyn_collector_core::incidents::records::{DeskSide, IncidentRow};
use tilsyn_collector_core::incidents::ticket::TicketRef;
use tilsyn_collector_core::sla::config::{SlaDoc, SlaPolicy};
use tilsyn_collector_core::sla::render;
use tilsyn_collector_core::sla::report::Period;
use tilsyn_collector_store::{NewAgent, StoreConfig};

/// A small deterministic generator (no extra dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

fn rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    s.split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let depts = args.first().copied().unwrap_or(100);
    let services = args.get(1).copied().unwrap_or(500);
    let incidents = args.get(2).copied().unwrap_or(100_000);
    let hosts = 10_000;

    let departments: Vec<(String, String)> = (0..depts)
        .map(|d| (format!("dept-{d:03}"), format!("Department {d}")))
        .collect();
    let mut y = String::from(
        "time_zone: Europe/Copenhagen\ntiers:\n  basic:\n    service_hours: {time_zone: Europe/Copenhagen, weekdays: [\"08:00-16:00\"], holidays: [\"2026-11-27\"]}\n    availability: 0.98\n    response: {P1: 1h, P2: 2h, P3: 8h, P4: 16h, P5: 40h}\n    resolution: {P1: 8h, P2: 16h, P3: 40h, P4: 80h, P5: 160h}\n  critical:\n    service_hours: {time_zone: Europe/Copenhagen, always: true}\n    availability: 0.995\n    response: {P1: 15m, P2: 30m, P3: 2h, P4: 8h, P5: 24h}\n    resolution: {P1: 4h, P2: 8h, P3: 24h, P4: 72h, P5: 168h}\ndefault_tier: basic\ndepartments:\n",
    );
    for d in (0..depts).step_by(4) {
        writeln!(y, "  - {{id: dept-{d:03}, tier: critical}}").unwrap();
    }
    y += "services:\n";
    for s in 0..services {
        // Each service serves its own department and two others; its hosts carry its label.
        let a = s % depts;
        writeln!(
            y,
            "  - {{id: svc-{s:03}, departments: [dept-{a:03}, dept-{:03}, dept-{:03}], hosts: {{labels: {{service: svc-{s:03}}}}}, up: {{hosts: {}}}}}",
            (a + 1) % depts,
            (a + 7) % depts,
            if s % 2 == 0 { "all".to_string() } else { "2".to_string() }
        )
        .unwrap();
    }
    let doc: SlaDoc = serde_yaml::from_str(&y).unwrap();
    let policy = SlaPolicy::compile(&doc, &departments).unwrap();
    let windows: WindowsDoc = serde_yaml::from_str(
        "windows:\n  - {id: patch, time_zone: Europe/Copenhagen, monthly_nth: {weekday: tue, nth: 2, start: '22:00', duration: 4h}, scope: {class: [server]}}\n  - {id: weekend, time_zone: Europe/Copenhagen, weekly: {days: [sat], start: '06:00', duration: 6h}, scope: {department: [dept-000, dept-001]}}\n",
    )
    .unwrap();
    let windows = Windows::compile(windows).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = tilsyn_collector_store::open(&StoreConfig {
        sqlite_path: dir.path().join("sla.db"),
        ..Default::default()
    })
    .unwrap();
    let tz = policy.time_zone.clone();
    let nov = Period::month("2026-11", &tz).unwrap();
    let t = Instant::now();
    let mut rng = Lcg(42);
    for h in 0..hosts {
        store
            .enroll(&NewAgent {
                agent_id: format!("agent-{h:05}"),
                secret_hash: String::new(),
                department: format!("dept-{:03}", h % depts),
                class: if h % 5 == 0 { "server" } else { "workstation" }.into(),
                class_source: "agent".into(),
                hostname: format!("host-{h:05}"),
                machine_id: String::new(),
                agent_version: "bench".into(),
                labels_json: format!("{{\"service\":\"svc-{:03}\"}}", h % services),
                health_interval_s: 60,
                enrolled_at_ms: nov.from_ms - 90 * 86_400_000,
            })
            .unwrap();
    }
    {
        let checks = [
            "offline",
            "health/cpu",
            "health/filesystem:/",
            "health/service:nginx",
            "patch/overdue",
        ];
        let span = (nov.to_ms - nov.from_ms) as u64;
        let mut rows = Vec::with_capacity(incidents);
        for i in 0..incidents {
            let h = rng.next(hosts as u64) as usize;
            let opened = nov.from_ms + rng.next(span) as i64;
            let dur = 60_000 * (5 + rng.next(3 * 24 * 60)) as i64;
            let resolved = opened + dur;
            let resolved = (rng.next(20) != 0 && resolved < nov.to_ms).then_some(resolved);
            let response = (rng.next(3) != 0).then_some(opened + 60_000 * rng.next(600) as i64);
            rows.push(IncidentRow {
                id: i as i64 + 1,
                key: format!("tilsyn-{i:032}"),
                agent_id: format!("agent-{h:05}"),
                hostname: format!("host-{h:05}"),
                department: format!("dept-{:03}", h % depts),
                class: "server".into(),
                check: checks[rng.next(checks.len() as u64) as usize].into(),
                severity: "high".into(),
                impact: "medium".into(),
                priority: format!("P{}", 1 + rng.next(5)),
                title: "t".into(),
                detail: "d".into(),
                state: if resolved.is_some() {
                    "resolved"
                } else {
                    "open"
                }
                .into(),
                flapping: false,
                reopened: 0,
                opened_at_ms: opened,
                resolved_at_ms: resolved,
                suppressed_by: None,
                problem_id: None,
                desk: "file".into(),
                desk_side: DeskSide {
                    ticket: Some(TicketRef {
                        id: format!("T-{i}"),
                        number: None,
                        url: Some(format!("https://desk.example.org/T-{i}")),
                    }),
                    first_response_at_ms: response,
                    ..Default::default()
                },
                updated_at_ms: opened,
            });
        }
        store.import_incidents(&rows).unwrap();
    }
    println!(
        "setup: {depts} departments, {services} services, {hosts} hosts, {incidents} incidents in {} ({:.1} s)",
        nov.label,
        t.elapsed().as_secs_f64()
    );

    let cat = service::Catalogue {
        policy,
        windows,
        departments,
    };
    let now = nov.to_ms + 86_400_000;
    for run in 0..3 {
        let rss0 = rss();
        let t = Instant::now();
        let r = service::report(&*store, &cat, &nov, None, now).unwrap();
        let built = t.elapsed();
        let t2 = Instant::now();
        let html = tilsyn_collector::console::report::html(
            &tilsyn_collector::console::i18n::Tr::new("en", tz.clone()),
            &r,
        );
        let md = render::markdown(&r, &tz);
        let csv = render::csv(&r, &tz);
        let rendered = t2.elapsed();
        let (met, breached): (u32, u32) = r
            .departments
            .iter()
            .flat_map(|d| d.response.iter().chain(&d.resolution))
            .fold((0, 0), |(m, b), p| (m + p.met, b + p.breached));
        println!(
            "run {run}: store + build {:.0} ms, render {:.0} ms (html {} KiB, markdown {} KiB, csv {} KiB); \
             {} departments, {met} met / {breached} breached outcomes; RSS +{} MiB",
            built.as_secs_f64() * 1000.0,
            rendered.as_secs_f64() * 1000.0,
            html.len() / 1024,
            md.len() / 1024,
            csv.len() / 1024,
            r.departments.len(),
            rss().saturating_sub(rss0) / (1 << 20)
        );
    }
}
