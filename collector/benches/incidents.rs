//! Incident storm benchmark: 10,000 hosts, 5,000 of which go offline within a few
//! minutes. Measures the work per observation in the incident core, how many desk
//! actions come out (one problem ticket, not thousands), the cost of committing each step
//! to SQLite, the same for the recovery, and the memory held.
//!
//! `cargo bench -p tilsyn-collector --bench incidents [-- HOSTS FAILING]`. Prints numbers;
//! asserts only the behaviour (one problem).

use std::time::Instant;

use tilsyn_collector::config::IncidentsConfig;
use tilsyn_collector_core::incidents::core::{Core, Group, HostMeta, Routing};
use tilsyn_collector_core::incidents::records::IncidentWrite;
use tilsyn_collector_store::StoreConfig;

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
    let hosts = args.first().copied().unwrap_or(10_000);
    let failing = args.get(1).copied().unwrap_or(5_000).min(hosts);
    let cfg: IncidentsConfig = serde_yaml::from_str(
        "storms:\n  - {checks: offline, min_hosts: 20, window: 10m}\n  - {checks: 'health/*', min_hosts: 20, department_percent: 5, window: 10m}\n",
    )
    .unwrap();
    let mut core = Core::new(cfg.compile().unwrap(), Routing::single("desk"));
    let depts = [
        "social-services",
        "schools",
        "it-operations",
        "finance",
        "health",
    ];
    for i in 0..hosts {
        core.hosts.insert(
            format!("agent-{i:06}"),
            HostMeta {
                hostname: format!("host-{i:06}"),
                department: depts[i % depts.len()].into(),
                class: if i % 10 == 0 { "server" } else { "workstation" }.into(),
                ..Default::default()
            },
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let store = tilsyn_collector_store::open(&StoreConfig {
        sqlite_path: dir.path().join("bench.db"),
        ..Default::default()
    })
    .unwrap();
    let rss0 = rss();

    // 5,000 hosts go silent over 5 minutes; offline detection reports them in batches
    // every second (as the collector's offline tick does), each batch one commit.
    let t0 = 1_795_392_000_000i64;
    let mut observe_ns = 0u128;
    let mut commit_ns = 0u128;
    let mut actions = Vec::new();
    let mut commits = 0;
    let per_second = failing.div_ceil(300);
    let ids: Vec<String> = (0..failing).map(|i| format!("agent-{i:06}")).collect();
    for (sec, batch) in ids.chunks(per_second).enumerate() {
        let now = t0 + sec as i64 * 1000;
        let mut w = IncidentWrite::default();
        let s = Instant::now();
        for id in batch {
            core.hosts.get_mut(id).unwrap().offline = true;
            core.observe(id, &[Group::Offline], now, &mut w);
        }
        observe_ns += s.elapsed().as_nanos();
        let s = Instant::now();
        store.save_incidents(&w, now).unwrap();
        commit_ns += s.elapsed().as_nanos();
        commits += 1;
        actions.extend(
            w.outbox
                .iter()
                .map(|o| format!("{} {}", o.action, o.subject)),
        );
    }
    let rss1 = rss();
    let creates = actions.iter().filter(|a| a.starts_with("create")).count();
    let problems = actions
        .iter()
        .filter(|a| a.starts_with("create problem"))
        .count();
    println!(
        "storm: {failing} of {hosts} hosts offline within 5 min, storm rule 20 hosts / 10 min"
    );
    println!(
        "  desk actions: {} ({} creates, of which {} problem; {} notes linking the early tickets)",
        actions.len(),
        creates,
        problems,
        actions.iter().filter(|a| a.starts_with("note")).count()
    );
    println!(
        "  incident core: {:.1} µs per observation ({:.1} ms in total)",
        observe_ns as f64 / failing as f64 / 1000.0,
        observe_ns as f64 / 1e6
    );
    println!(
        "  SQLite: {commits} commits, {:.2} ms per commit, {:.1} µs per incident",
        commit_ns as f64 / commits as f64 / 1e6,
        commit_ns as f64 / failing as f64 / 1000.0
    );
    println!(
        "  memory: RSS {:.1} MiB → {:.1} MiB (+{:.1} MiB for {failing} open incidents)",
        rss0 as f64 / 1048576.0,
        rss1 as f64 / 1048576.0,
        (rss1.saturating_sub(rss0)) as f64 / 1048576.0
    );
    assert_eq!(problems, 1, "one problem ticket for the storm");

    // Everyone comes back.
    let now = t0 + 600_000;
    let mut w = IncidentWrite::default();
    let s = Instant::now();
    for id in &ids {
        core.hosts.get_mut(id).unwrap().offline = false;
        core.observe(id, &[Group::Offline], now, &mut w);
    }
    let obs = s.elapsed();
    let s = Instant::now();
    store.save_incidents(&w, now).unwrap();
    let commit = s.elapsed();
    println!(
        "recovery: {} desk actions ({} resolves; the problem's is last: {}), core {:.1} µs per observation, one commit {:.0} ms",
        w.outbox.len(),
        w.outbox.iter().filter(|o| o.action == "resolve").count(),
        w.outbox.last().map(|o| o.subject.as_str()).unwrap_or("-"),
        obs.as_nanos() as f64 / failing as f64 / 1000.0,
        commit.as_secs_f64() * 1000.0
    );
    println!(
        "  open incidents now: {}, open problems: {}",
        core.open_incidents().count(),
        core.open_problems()
    );
}
