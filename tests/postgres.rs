//! The collector on PostgreSQL, end to end: a private PostgreSQL server on loopback (the
//! store crate's `pg_server`), the real collector configured with `store.postgres`, and
//! this machine's real agent. Its report lands in PostgreSQL (no SQLite file appears),
//! survives a collector restart, and its silence raises an offline incident with a ticket
//! in the file desk — the incident engine and the outbox on PostgreSQL; then a SQLite site
//! moves to PostgreSQL with `store migrate --to postgres` and the API answers the same.

use std::time::Duration;

use tilsyn_collector_store::pg_server::PgServer;
use tilsyn_e2e::{agent_online, bin, offline_incident, wait_for, Collector};

#[test]
fn the_collector_runs_on_postgresql_with_the_real_agent() {
    let _slot = tilsyn_e2e::e2e_slot();
    let (pg, url) = database();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Collector::start_on_postgres(dir.path(), &url, "");
    let (mut agent, _acfg, id) = agent_online(&c, dir.path());
    let host = wait_for(Duration::from_secs(60), "inventory and software", || {
        let d = c.get(&format!("/api/v1/hosts/{id}"));
        (d["software_count"].as_i64().unwrap_or(0) > 0 && d["inventory"].is_object()).then_some(d)
    })
    .unwrap();
    assert_eq!(host["hostname"], tilsyn_e2e::this_hostname());
    assert!(
        !dir.path().join("data/tilsyn.db").exists(),
        "no SQLite database when the store is PostgreSQL"
    );
    let log = c.proc.as_ref().unwrap().log_text();
    assert!(log.contains(&format!("127.0.0.1:{}", pg.port())), "{log}");

    // A restart finds the host, its sections and its history in PostgreSQL.
    let seq = |c: &Collector| {
        c.get(&format!("/api/v1/hosts/{id}"))["last_seq"]
            .as_u64()
            .unwrap()
    };
    let before = seq(&c);
    c.stop();
    c.restart();
    assert_eq!(
        c.get(&format!("/api/v1/hosts/{id}"))["agent_id"],
        id.as_str()
    );
    wait_for(Duration::from_secs(60), "reports after the restart", || {
        (seq(&c) > before).then_some(())
    })
    .unwrap();
    assert!(
        !c.get(&format!("/api/v1/hosts/{id}/health?since_ms=0"))["samples"]
            .as_array()
            .map(|a| a.is_empty())
            .unwrap_or(true)
    );

    // Silence: offline, an incident, its ticket in the desk (the outbox on PostgreSQL).
    agent.stop();
    let i = offline_incident(&c, &id, "an offline incident with a ticket", |i| {
        i["state"] == "open" && i["ticket"].is_object()
    });
    // Exactly one create for the incident's key in the file desk.
    let key = i["key"].as_str().unwrap().to_string();
    let text = std::fs::read_to_string(dir.path().join("data/incidents.jsonl")).unwrap();
    let creates = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["key"] == key.as_str() && v["event"] == "create")
        .count();
    assert_eq!(creates, 1, "{text}");
    c.stop();
}

#[test]
fn a_sqlite_site_moves_to_postgresql_and_the_api_answers_the_same() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    // A SQLite site with this machine as its host.
    let mut c = Collector::start(dir.path(), "");
    let (mut agent, _acfg, id) = agent_online(&c, dir.path());
    wait_for(Duration::from_secs(60), "software", || {
        (c.get(&format!("/api/v1/hosts/{id}"))["software_count"].as_i64()? > 0).then_some(())
    })
    .unwrap();
    // Silent: offline, with its incident and ticket (the file desk), so that nothing
    // changes while the site moves.
    agent.stop();
    offline_incident(&c, &id, "an offline incident with a ticket", |i| {
        i["state"] == "open" && i["ticket"].is_object()
    });
    c.stop();
    let paths = [
        format!("/api/v1/hosts/{id}"),
        "/api/v1/hosts".to_string(),
        "/api/v1/summary".to_string(),
        format!("/api/v1/hosts/{id}/events"),
        format!("/api/v1/hosts/{id}/health?since_ms=0&limit=1000"),
        "/api/v1/incidents".to_string(),
        "/api/v1/outbox".to_string(),
    ];
    c.restart();
    let before: Vec<serde_json::Value> = paths.iter().map(|p| c.get(p)).collect();
    c.stop();

    let (_pg, url) = database();
    let out = std::process::Command::new(bin("tilsyn-collector"))
        .args([
            "store", "migrate", "--to", "postgres", "--url", &url, "--config",
        ])
        .arg(&c.config)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("copied and checked"), "{text}");

    // The same collector, now on PostgreSQL: the same answers.
    let config = std::fs::read_to_string(&c.config).unwrap();
    std::fs::write(
        &c.config,
        config.replace(
            "store:\n",
            &format!("store:\n  postgres:\n    url: '{url}'\n"),
        ),
    )
    .unwrap();
    c.restart();
    for (p, b) in paths.iter().zip(&before) {
        assert_eq!(&c.get(p), b, "{p}");
    }
    // A second migration into the now used database is refused.
    let out = std::process::Command::new(bin("tilsyn-collector"))
        .args([
            "store", "migrate", "--to", "postgres", "--url", &url, "--config",
        ])
        .arg(&c.config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty database"));
    c.stop();
}

/// A private PostgreSQL server (stopped when dropped) and the URL of a new database on it.
fn database() -> (PgServer, String) {
    let pg = PgServer::start(false).unwrap_or_else(|e| panic!("{e}"));
    let url = pg.new_database().unwrap().url.unwrap();
    (pg, url)
}

/// Two collectors on one database (`url`), the second serving with the first's
/// certificate (one CA for the agents); the first leads.
fn two_collectors(dir: &std::path::Path, url: &str, extra: &str) -> (Collector, Collector) {
    let (da, db) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(&da).unwrap();
    let a = Collector::start_on_postgres(&da, url, extra);
    std::fs::create_dir_all(db.join("data/tls")).unwrap();
    for f in std::fs::read_dir(da.join("data/tls")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, db.join("data/tls").join(f.file_name().unwrap())).unwrap();
    }
    let b = Collector::start_on_postgres(&db, url, extra);
    (a, b)
}

/// This machine's agent knowing both collectors, running; with its host's agent id.
fn agent_for_both(
    dir: &std::path::Path,
    a: &Collector,
    b: &Collector,
) -> (tilsyn_e2e::Proc, String) {
    let adir = dir.join("agent");
    std::fs::create_dir_all(&adir).unwrap();
    let acfg = adir.join("agent.yaml");
    std::fs::write(
        &acfg,
        format!(
            "collector:\n  url: [{}, {}]\n  ca_file: {}\n  timeout: 5s\nenrollment:\n  token: {}\n\
             state_dir: state\noverrides:\n  health_interval: 5s\n",
            a.grpc_url(),
            b.grpc_url(),
            a.ca_file().display(),
            tilsyn_e2e::TOKEN
        ),
    )
    .unwrap();
    let agent = tilsyn_e2e::Proc::spawn(
        &bin("tilsyn-agent"),
        &["run", "--config", acfg.to_str().unwrap()],
        adir.join("agent.log"),
    );
    let id = tilsyn_e2e::this_host_online(a, &agent);
    (agent, id)
}

/// Health reports committed by collector `c` (its own counter, not the fleet's).
fn health_ingested(c: &Collector) -> f64 {
    tilsyn_e2e::exposition::value(
        &c.metrics(),
        "tilsyn_reports_ingested_total{section=\"health\"}",
    )
    .unwrap_or(0.0)
}

#[test]
fn two_collectors_share_one_postgresql_and_the_agent_moves_when_its_collector_dies() {
    let _slot = tilsyn_e2e::e2e_slot();
    let (_pg, url) = database();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_collectors(dir.path(), &url, "");
    let (agent, id) = agent_for_both(dir.path(), &a, &b);
    let mut collectors = [Some(a), Some(b)];
    let (ca, cb) = (
        collectors[0].as_ref().unwrap(),
        collectors[1].as_ref().unwrap(),
    );
    // Both collectors see the same fleet.
    assert_eq!(
        cb.get(&format!("/api/v1/hosts/{id}"))["agent_id"],
        id.as_str()
    );
    // Fleet-wide gauges come from the leader only (the first collector leads): the
    // follower exports none of the families configs/metrics.md lists (problems as 0).
    let fleet = tilsyn_e2e::fleet_wide_metrics();
    assert!(fleet.contains("tilsyn_hosts") && fleet.contains("tilsyn_sla_service_up"));
    let from = |c: &Collector| {
        tilsyn_e2e::exposition::parse(&c.metrics())
            .into_iter()
            .filter(|s| {
                fleet.contains(&s.name) && !(s.name == "tilsyn_problems_open" && s.value == 0.0)
            })
            .map(|s| s.name)
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (leader, follower) = (from(ca), from(cb));
    assert!(
        leader.contains("tilsyn_hosts") && follower.is_empty(),
        "fleet-wide families from the leader only: leader {leader:?}, follower {follower:?}"
    );
    // Its home: the collector that commits its health.
    let home = wait_for(Duration::from_secs(60), "the agent's collector", || {
        collectors
            .iter()
            .position(|c| health_ingested(c.as_ref().unwrap()) > 0.0)
    })
    .unwrap();
    let other = 1 - home;

    // kill -9 its collector: the agent moves to the other, nothing is lost, the host is
    // never offline.
    drop(collectors[home].take());
    let survivor = collectors[other].as_ref().unwrap();
    let seq = || {
        survivor.get(&format!("/api/v1/hosts/{id}"))["last_seq"]
            .as_u64()
            .unwrap()
    };
    let before = seq();
    wait_for(
        Duration::from_secs(60),
        "health through the other collector",
        || (health_ingested(survivor) > 0.0 && seq() > before + 2).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\nagent log:\n{}", agent.log_text()));
    let events = survivor.get(&format!("/api/v1/hosts/{id}/events"));
    assert!(
        !events.to_string().contains("offline"),
        "the switch marked the host offline: {events}"
    );
    assert!(
        agent.log_text().contains("collector switched"),
        "{}",
        agent.log_text()
    );
}

/// A webhook desk on loopback that is slow to answer creates: every request recorded
/// (event, key, when), tickets kept by key so that the search (`search_url`) finds them.
struct SlowDesk {
    port: u16,
    log: std::sync::Arc<std::sync::Mutex<Vec<(String, String, std::time::Instant)>>>,
}

impl SlowDesk {
    fn start(create_delay: Duration) -> SlowDesk {
        let log: std::sync::Arc<std::sync::Mutex<Vec<(String, String, std::time::Instant)>>> =
            Default::default();
        let tickets: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
        let log2 = log.clone();
        let json =
            |status: &str, body: String| (status.to_string(), "application/json".to_string(), body);
        let port = tilsyn_e2e::http_server(move |line, body| {
            if line.starts_with("GET") {
                let key = line
                    .split("key=")
                    .nth(1)
                    .and_then(|k| k.split([' ', '&']).next())
                    .unwrap_or_default()
                    .to_string();
                log2.lock().unwrap().push((
                    "search".into(),
                    key.clone(),
                    std::time::Instant::now(),
                ));
                let found = tickets.lock().unwrap().iter().position(|k| *k == key);
                return match found {
                    Some(i) => json("200 OK", format!("{{\"id\":\"T-{i}\"}}")),
                    None => json("404 Not Found", String::new()),
                };
            }
            let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let (event, key) = (
                v["event"].as_str().unwrap_or_default().to_string(),
                v["key"].as_str().unwrap_or_default().to_string(),
            );
            log2.lock()
                .unwrap()
                .push((event.clone(), key.clone(), std::time::Instant::now()));
            if event == "create" {
                // The desk has the ticket at once, but answers late.
                let i = {
                    let mut t = tickets.lock().unwrap();
                    t.push(key);
                    t.len() - 1
                };
                std::thread::sleep(create_delay);
                json("200 OK", format!("{{\"id\":\"T-{i}\"}}"))
            } else {
                json("200 OK", "{}".into())
            }
        });
        SlowDesk { port, log }
    }

    fn events(&self, event: &str) -> Vec<(String, std::time::Instant)> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(e, _, _)| e == event)
            .map(|(_, k, t)| (k.clone(), *t))
            .collect()
    }
}

fn leads(c: &Collector) -> bool {
    tilsyn_e2e::exposition::value(&c.metrics(), "tilsyn_collector_leader") == Some(1.0)
}

#[test]
fn the_leader_dies_during_a_slow_create_and_the_next_one_makes_no_second_ticket() {
    let _slot = tilsyn_e2e::e2e_slot();
    let desk = SlowDesk::start(Duration::from_secs(30));
    let (_pg, url) = database();
    let extra = format!(
        "cluster:\n  lease_ttl: 4s\nincidents:\n  desks:\n    - name: hook\n      webhook: {{url: 'http://127.0.0.1:{p}/hook', search_url: 'http://127.0.0.1:{p}/search'}}\n  delivery: {{initial_backoff: 1s, max_backoff: 2s, timeout: 5s, concurrency: 2}}\n",
        p = desk.port
    );
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_collectors(dir.path(), &url, &extra);
    assert!(
        leads(&a) && !leads(&b),
        "the first collector leads, the second follows"
    );
    let (mut agent, id) = agent_for_both(dir.path(), &a, &b);

    // The host falls silent; the leader opens its offline incident and starts the create,
    // which the desk takes in but answers only after 30 s.
    agent.stop();
    let (key, _) = wait_for(
        Duration::from_secs(90),
        "the leader's create at the desk",
        || desk.events("create").into_iter().next(),
    )
    .unwrap_or_else(|e| panic!("{e}\nleader log:\n{}", a.proc.as_ref().unwrap().log_text()));

    // kill -9 the leader while its create is in flight.
    let killed = std::time::Instant::now();
    drop(a);
    wait_for(
        Duration::from_secs(30),
        "the other collector leading",
        || leads(&b).then_some(()),
    )
    .unwrap();
    let took_over = killed.elapsed();
    // It finds the ticket by key instead of making a second one.
    let inc = wait_for(
        Duration::from_secs(90),
        "the incident with its ticket",
        || {
            let r = b.get(&format!(
                "/api/v1/incidents?host={id}&check=offline&limit=1"
            ));
            let i = r["incidents"].as_array()?.first()?.clone();
            i["ticket"].is_object().then_some(i)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\nlog:\n{}", b.proc.as_ref().unwrap().log_text()));
    assert_eq!(inc["key"], key.as_str());
    let creates = desk.events("create");
    assert_eq!(creates.len(), 1, "exactly one ticket: {creates:?}");
    let first_action = desk
        .events("search")
        .into_iter()
        .map(|(_, t)| t)
        .find(|t| *t > killed)
        .map(|t| t - killed);
    eprintln!(
        "failover: the other collector led after {:.1} s and acted at the desk after {:.1} s",
        took_over.as_secs_f64(),
        first_action.unwrap_or_default().as_secs_f64()
    );
    // The host went offline once, when it fell silent; the switch added nothing.
    let events = b.get(&format!("/api/v1/hosts/{id}/events"));
    let offline = events["events"]
        .as_array()
        .map(|a| a.iter().filter(|e| e["kind"] == "offline").count())
        .unwrap_or(0);
    assert_eq!(offline, 1, "{events}");
}

/// A host's compliance as one collector shows it: per standard its status and every
/// rule's state and observed value (not the times, which are each collector's own).
fn compliance_of(c: &Collector, id: &str) -> Option<Vec<String>> {
    let url = format!("{}/api/v1/hosts/{id}/compliance", c.http());
    let v: serde_json::Value =
        serde_json::from_str(&tilsyn_e2e::reqwest::blocking_get_text(&url).ok()?).ok()?;
    let standards = v["standards"].as_array()?;
    let mut out = Vec::new();
    for s in standards {
        out.push(format!("{} {}", s["standard"], s["status"]));
        for r in s["rules"].as_array()? {
            out.push(format!("  {} {} {}", r["rule"], r["state"], r["observed"]));
        }
    }
    (!out.is_empty()).then_some(out)
}

#[test]
fn a_follower_shows_the_compliance_of_hosts_that_report_to_the_leader() {
    let _slot = tilsyn_e2e::e2e_slot();
    let (_pg, url) = database();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_collectors(dir.path(), &url, "");
    assert!(leads(&a) && !leads(&b), "the first collector leads");
    // The agent knows the leader only: the follower hears of the host through the
    // store's section changes, long before its hourly full pass.
    let (_agent, _, id) = tilsyn_e2e::agent_online(&a, dir.path());
    let leader = wait_for(Duration::from_secs(60), "the leader's results", || {
        compliance_of(&a, &id)
    })
    .unwrap();
    wait_for(
        Duration::from_secs(30),
        "the same results on the follower",
        || (compliance_of(&b, &id).as_ref() == Some(&leader)).then_some(()),
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nleader:\n{}\nfollower: {:?}",
            leader.join("\n"),
            compliance_of(&b, &id)
        )
    });
}
