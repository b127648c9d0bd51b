//! The collector's own absence is nobody's outage (issue 13), end to end with the real
//! binaries: the collector is stopped (cleanly, then with kill -9) for longer than the
//! hosts' silence allowance (2 missed × 5 s health) while this machine's agents keep
//! reporting into their spools.
//!
//! - Agent A reports throughout: no offline incident, no desk action, online after each
//!   return, its spooled health in the history.
//! - Agent B is stopped during the first gap and stays away: offline once the grace after
//!   the return ends, its offline time starting at its last report before the gap.
//! - Agent C is stopped during the first gap and started again right after the return:
//!   online, no incident; the part of the gap its spool does not cover is unmonitored.

use std::time::Duration;

use tilsyn_e2e::*;

const SLA: &str = "tests/fixtures/sla/gap.yaml";

/// Starts this machine's agent with its own state and a label naming it.
fn agent(c: &Collector, dir: &std::path::Path, name: &str, n: u32) -> Proc {
    let adir = dir.join(name);
    std::fs::create_dir_all(&adir).unwrap();
    let cfg = c.agent_config(
        &adir,
        "  health_interval: 5s\n  disabled_probes: [software, patches]",
    );
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!("labels: {{role: {name}}}\n"));
    std::fs::write(&cfg, text).unwrap();
    Proc::spawn(
        &bin("tilsyn-agent"),
        &["run", "--config", cfg.to_str().unwrap()],
        adir.join(format!("agent-{n}.log")),
    )
}

/// The agent id of the host labelled `name`, once it is online.
fn online(c: &Collector, name: &str, p: &Proc) -> String {
    wait_for(Duration::from_secs(60), name, || {
        let hosts = c.get("/api/v1/hosts");
        let mut seen = Vec::new();
        for h in hosts["hosts"].as_array().into_iter().flatten() {
            let id = h["agent_id"].as_str().unwrap_or_default();
            let d = c.get(&format!("/api/v1/hosts/{id}"));
            if d["labels"]["role"] == name && d["state"] == "online" {
                return Ok(id.to_string());
            }
            seen.push(format!("{}={}", d["labels"]["role"], d["state"]));
        }
        Err(format!("hosts: {seen:?}"))
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", p.log_text()))
}

fn state(c: &Collector, id: &str) -> String {
    c.get(&format!("/api/v1/hosts/{id}"))["state"]
        .as_str()
        .unwrap()
        .to_string()
}

fn offline_incidents(c: &Collector, id: &str) -> Vec<serde_json::Value> {
    c.get(&format!("/api/v1/incidents?host={id}&check=offline"))["incidents"]
        .as_array()
        .unwrap()
        .clone()
}

fn log(c: &Collector) -> String {
    c.proc.as_ref().map(|p| p.log_text()).unwrap_or_default()
}

/// Health samples of `id` collected in `[from, to)`.
fn samples_in(c: &Collector, id: &str, from: i64, to: i64) -> usize {
    c.get(&format!("/api/v1/hosts/{id}/health?limit=1000"))["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            let t = s["collected_at_ms"].as_i64().unwrap();
            t >= from && t < to
        })
        .count()
}

#[test]
fn restarts_and_kills_of_the_collector_raise_no_false_offline() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "incidents:\n  conditions:\n    - {{when: offline, severity: high, observations: 1, resolve_observations: 1}}\n\
         sla:\n  file: '{}'\n  evaluate_every: 1s\n",
        repo_root().join(SLA).display()
    );
    let mut c = Collector::start(dir.path(), &extra);
    let a_proc = agent(&c, dir.path(), "first", 0);
    let a = online(&c, "first", &a_proc);
    let mut b_proc = agent(&c, dir.path(), "second", 0);
    let b = online(&c, "second", &b_proc);
    let mut c_proc = agent(&c, dir.path(), "third", 0);
    let cc = online(&c, "third", &c_proc);
    // Two health reports each, so every spool is primed and the hosts are settled.
    std::thread::sleep(Duration::from_secs(6));
    let b_last_seen = c.get(&format!("/api/v1/hosts/{b}"))["last_seen_ms"]
        .as_i64()
        .unwrap();

    // An upgrade: the collector stops for 20 s, twice the 10 s allowance.
    // B stops 3 s into it and stays away; C stops too and comes back after the return.
    c.stop();
    let down_from = now_ms();
    std::thread::sleep(Duration::from_secs(3));
    b_proc.stop();
    c_proc.stop();
    std::thread::sleep(Duration::from_secs(17));
    let down_to = now_ms();
    c.restart();
    let c_proc = agent(&c, dir.path(), "third", 1);
    assert!(
        log(&c).contains("the collector was not running for"),
        "the start says how long it was away:\n{}",
        log(&c)
    );

    // B is offline once the grace has ended (the agents' 72 s reconnect bound, then its
    // 10 s allowance), not before, and its offline time starts at its last report
    // before the gap.
    let inc = wait_for(Duration::from_secs(150), "B's offline incident", || {
        offline_incidents(&c, &b)
            .into_iter()
            .find(|i| i["state"] == "open")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", log(&c)));
    let back = now_ms();
    assert!(
        back - down_to >= 81_000,
        "B was judged {} ms after the return: before its grace ended",
        back - down_to
    );
    let opened = inc["opened_at_ms"].as_i64().unwrap();
    assert!(
        opened >= b_last_seen && opened < down_from,
        "B's offline time starts at its last report ({b_last_seen}..{down_from}), not {opened}"
    );
    let ev = c.get(&format!("/api/v1/hosts/{b}/events"));
    assert!(
        ev["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "offline" && e["at_ms"].as_i64().unwrap() < down_from),
        "{ev}"
    );

    // A and C were never offline and nothing went to the desk for them.
    assert_eq!(state(&c, &a), "online");
    wait_for(Duration::from_secs(30), "C online again", || {
        host_in_state(&c, &cc, "online")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c_proc.log_text()));
    for id in [&a, &cc] {
        assert_eq!(
            offline_incidents(&c, id),
            Vec::<serde_json::Value>::new(),
            "{id}"
        );
        let events = c.get(&format!("/api/v1/hosts/{id}/events"));
        assert!(
            !events["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "offline"),
            "{events}"
        );
    }
    let outbox = c.get("/api/v1/outbox?limit=50");
    let subjects: Vec<String> = outbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.to_string())
        .collect();
    assert!(
        subjects.iter().all(|s| !s.contains(&a) && !s.contains(&cc)),
        "no desk action for A or C: {outbox}"
    );
    // A's spooled health covers the gap; the metrics count the gap.
    assert!(
        samples_in(&c, &a, down_from, down_to) >= 3,
        "A's spooled health arrived"
    );
    let m = c.metrics();
    assert_eq!(
        exposition::value(&m, r#"tilsyn_collector_gaps_total{cause="down"}"#),
        Some(1.0),
        "{m}"
    );
    let secs =
        exposition::value(&m, r#"tilsyn_collector_gap_seconds_total{cause="down"}"#).unwrap();
    assert!((19.0..35.0).contains(&secs), "gap of {secs} s");
    assert!(
        exposition::value(&m, "tilsyn_collector_graced_hosts_total").unwrap() >= 3.0,
        "{m}"
    );

    // The SLA: A's service was up through the gap (its spool covers it); B's was down from
    // B's last report; C's spool covers the gap until 10 s after C stopped, the rest of it
    // is unmonitored: neither up nor down, out of the ratio.
    let sla = wait_for(
        Duration::from_secs(30),
        "C's unmonitored time in the SLA",
        || {
            let r = c.get("/api/v1/sla?department=social-services");
            (sla_service(&r, "third")["unmonitored_ms"].as_i64()? > 0).then_some(r)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", log(&c)));
    let first = sla_service(&sla, "first");
    assert_eq!(first["down_ms"], 0, "{first}");
    assert_eq!(first["unmonitored_ms"], 0, "{first}");
    assert_eq!(first["availability"], 1.0, "{first}");
    let second = sla_service(&sla, "second");
    let down = second["down_ms"].as_i64().unwrap();
    assert!(
        down >= down_to - b_last_seen,
        "B's service is down from B's last report: {second}"
    );
    assert_eq!(second["unmonitored_ms"], 0, "{second}");
    let third = sla_service(&sla, "third");
    let unmonitored = third["unmonitored_ms"].as_i64().unwrap();
    assert_eq!(third["down_ms"], 0, "{third}");
    // C's last sample came at most 5 s before it stopped, 3 s into the gap.
    assert!(
        (1..=down_to - down_from - 10_000 + 5_000).contains(&unmonitored),
        "C's unmonitored time is the part of the gap after its spool ran out: {third}"
    );
    // The evaluator updates the metrics every second (the API computes on request).
    let series = |m: &str, name: &str| {
        exposition::value(
            m,
            &format!(r#"{name}{{department="social-services",period="month",service="third"}}"#),
        )
    };
    let m = wait_for(Duration::from_secs(20), "the unmonitored metric", || {
        let m = c.metrics();
        (series(&m, "tilsyn_sla_unmonitored_seconds")? > 0.0).then_some(m)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.metrics()));
    assert_eq!(series(&m, "tilsyn_sla_downtime_seconds"), Some(0.0), "{m}");
}

#[test]
fn a_killed_collector_raises_no_false_offline() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let extra = "incidents:\n  conditions:\n    - {when: offline, severity: high, observations: 1, resolve_observations: 1}\n";
    let mut c = Collector::start(dir.path(), extra);
    let a_proc = agent(&c, dir.path(), "first", 0);
    let a = online(&c, "first", &a_proc);
    std::thread::sleep(Duration::from_secs(6));
    // A crash: kill -9, away for 15 s. The last beat is at most 1 s old (check_every).
    drop(c.proc.take());
    let killed_at = now_ms();
    std::thread::sleep(Duration::from_secs(15));
    c.restart();
    let restarted = now_ms();
    assert!(
        log(&c).contains("the collector was not running for"),
        "{}",
        log(&c)
    );
    // A gets through (its retry wait may be up to 19 s by now) and is online, with no
    // offline incident; its spooled health covers the crash.
    wait_for(
        Duration::from_secs(40),
        "A reporting after the crash",
        || {
            let h = c.get(&format!("/api/v1/hosts/{a}"));
            (h["last_seen_ms"].as_i64()? > restarted).then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", a_proc.log_text()));
    assert_eq!(state(&c, &a), "online", "{}", log(&c));
    assert_eq!(offline_incidents(&c, &a), Vec::<serde_json::Value>::new());
    assert!(samples_in(&c, &a, killed_at, killed_at + 15_000) >= 2);
    let m = c.metrics();
    assert_eq!(
        exposition::value(&m, r#"tilsyn_collector_gaps_total{cause="down"}"#),
        Some(1.0),
        "{m}"
    );
}
