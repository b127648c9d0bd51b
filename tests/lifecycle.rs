//! Host lifecycle and changes end to end, with this machine's real agent and the file desk:
//! a retired host's incident resolves in the desk with who and why, and its agent is
//! refused; a host silent longer than `hosts.expire_after` is retired by the collector; a
//! move is recorded; a revoked agent is refused, counted, and enrolls again as a new
//! host; a change window made through the API suppresses an incident and is planned time
//! in the SLA, and the trail names who made it.

use std::time::Duration;

use serde_json::Value;
use tilsyn_e2e::*;

const OFFLINE_ONLY: &str =
    "incidents:\n  conditions:\n    - {when: offline, severity: high, observations: 1, resolve_observations: 1}\n";

/// The desk file's events (`create`, `note`, `resolve`) for ticket `key`, with their texts.
fn desk_events(c: &Collector, key: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(c.dir.join("data/incidents.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["key"] == key)
        .map(|v| {
            (
                v["event"].as_str().unwrap_or_default().to_string(),
                v["text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Waits until the desk file resolved `key`; the resolution's text.
fn desk_resolution(c: &Collector, key: &str) -> String {
    wait_for(Duration::from_secs(30), "the desk's resolve", || {
        let ev = desk_events(c, key);
        ev.iter()
            .find(|(e, _)| e == "resolve")
            .map(|(_, t)| t.clone())
            .ok_or_else(|| format!("{ev:?}"))
    })
    .unwrap()
}

fn post(c: &Collector, path: &str, body: &str) -> Value {
    let (code, text) = c.call("POST", path, None, Some(body));
    assert!(code < 300, "POST {path}: {code} {text}");
    serde_json::from_str(&text).unwrap()
}

/// The audit entries with `action`, newest first.
fn audit(c: &Collector, action: &str) -> Vec<Value> {
    c.get(&format!("/api/v1/audit?action={action}"))["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// This machine's host, other than `not`, once online.
fn this_host_again(c: &Collector, not: &str, agent: &Proc) -> String {
    let me = this_hostname();
    wait_for(Duration::from_secs(60), "this host enrolled again", || {
        let hosts = c.get("/api/v1/hosts");
        hosts["hosts"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|h| h["hostname"] == me && h["state"] == "online" && h["agent_id"] != not)
            })
            .and_then(|h| h["agent_id"].as_str())
            .map(str::to_string)
            .ok_or_else(|| hosts.to_string())
    })
    .unwrap_or_else(|e| panic!("{e}\nagent log:\n{}", agent.log_text()))
}

#[test]
fn a_retired_host_resolves_in_the_desk_with_why_and_its_agent_is_refused() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), OFFLINE_ONLY);
    let (mut agent, acfg, id) = agent_online(&c, dir.path());
    agent.stop();
    let inc = offline_incident(&c, &id, "an offline incident with a ticket", |i| {
        i["state"] == "open" && i["ticket"]["id"].is_string()
    });
    let key = inc["key"].as_str().unwrap().to_string();

    let r = post(
        &c,
        &format!("/api/v1/hosts/{id}/retire"),
        r#"{"reason": "scrapped, asset 4711"}"#,
    );
    assert_eq!(r["state"], "retired", "{r}");
    let text = desk_resolution(&c, &key);
    assert!(
        text.contains("the host was retired") && text.contains("scrapped, asset 4711"),
        "{text}"
    );
    let inc = c.get(&format!("/api/v1/incidents/{}", inc["id"]));
    assert_eq!(inc["incident"]["state"], "resolved", "{inc}");

    // Out of the fleet's lists and counts, kept for history.
    assert_eq!(c.get("/api/v1/hosts")["count"], 0);
    let retired = c.get("/api/v1/hosts?state=retired");
    assert_eq!(retired["hosts"][0]["agent_id"], id.as_str(), "{retired}");
    let m = c.metrics();
    assert!(
        exposition::matching(&m, "tilsyn_hosts", &[])
            .iter()
            .all(|s| s.value == 0.0),
        "{m}"
    );
    let trail = audit(&c, "host.retire");
    assert_eq!(trail[0]["subject"], format!("host:{id}"));
    assert_eq!(trail[0]["actor"], "local");
    assert_eq!(trail[0]["after"]["reason"], "scrapped, asset 4711");

    // The same machine's agent comes back: refused, counted; it enrolls again as a new host.
    let agent = Proc::spawn(
        &bin("tilsyn-agent"),
        &["run", "--config", acfg.to_str().unwrap()],
        dir.path().join("agent/agent-1.log"),
    );
    let fresh = this_host_again(&c, &id, &agent);
    assert_ne!(fresh, id);
    let m = c.metrics();
    assert!(
        exposition::value(&m, "tilsyn_collector_revoked_agent_calls_total").unwrap_or(0.0) >= 1.0,
        "{m}"
    );
    // The retired host stays retired; no second offline incident for it.
    let h = c.get(&format!("/api/v1/hosts/{id}"));
    assert_eq!(h["state"], "retired", "{h}");
    let incs = c.get(&format!("/api/v1/incidents?host={id}"));
    assert_eq!(incs["incidents"].as_array().unwrap().len(), 1, "{incs}");
}

#[test]
fn a_host_silent_longer_than_expire_after_is_retired_by_the_collector() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(
        dir.path(),
        &format!("{OFFLINE_ONLY}hosts:\n  expire_after: 8s\n"),
    );
    let (mut agent, _acfg, id) = agent_online(&c, dir.path());
    agent.stop();
    // The incident opens a few seconds after the host falls silent and the expiry may
    // retire the host (resolving it) moments later: wait for its ticket, open or not.
    let inc = offline_incident(&c, &id, "an offline incident with a ticket", |i| {
        i["ticket"]["id"].is_string()
    });
    wait_for(
        Duration::from_secs(60),
        "the host retired by itself",
        || host_in_state(&c, &id, "retired"),
    )
    .unwrap();
    let text = desk_resolution(&c, inc["key"].as_str().unwrap());
    assert!(
        text.contains("hosts.expire_after") && text.contains("system:expire_after"),
        "{text}"
    );
    let trail = audit(&c, "host.retire");
    assert_eq!(trail[0]["actor"], "system:expire_after", "{trail:?}");
}

#[test]
fn a_moved_then_revoked_agent_is_refused_and_enrolls_again_as_a_new_host() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    // This machine's failing high rules open incidents at once (it has some: no disk
    // encryption or firewall on a build machine; the test fails and says so otherwise).
    let c = Collector::start_spec(
        dir.path(),
        &Spec {
            extra: "incidents:\n  conditions:\n    - {when: {compliance_at_least: low}, observations: 1, resolve_observations: 1}\n",
            schools: true,
            ..Spec::default()
        },
    );
    let (agent, _acfg, id) = agent_online(&c, dir.path());
    let open = wait_for(Duration::from_secs(60), "an incident of this host", || {
        let r = c.get(&format!("/api/v1/incidents?host={id}&state=open"));
        r["incidents"]
            .as_array()
            .filter(|a| a.iter().any(|i| i["ticket"]["id"].is_string()))
            .cloned()
            .ok_or_else(|| r.to_string())
    })
    .unwrap_or_else(|e| panic!("{e}: this machine passes every rule of its standard?"));

    // A move, through the command line: the host is Schools' from now on.
    c.cli(&[
        "host",
        "move",
        &id,
        "--department",
        "schools",
        "--reason",
        "reorganisation",
    ]);
    let h = c.get(&format!("/api/v1/hosts/{id}"));
    assert_eq!(h["department"], "schools", "{h}");
    let mv = &audit(&c, "host.move")[0];
    assert_eq!(mv["actor"], "cli:e2e-operator", "{mv}");
    assert_eq!(
        (&mv["before"]["department"], &mv["after"]["department"]),
        (&Value::from("social-services"), &Value::from("schools")),
        "{mv}"
    );

    // Revoked through the API (the laptop was stolen).
    let r = post(
        &c,
        &format!("/api/v1/hosts/{id}/revoke"),
        r#"{"reason": "stolen from a car"}"#,
    );
    assert_eq!(r["state"], "retired", "{r}");
    for i in &open {
        let text = desk_resolution(&c, i["key"].as_str().unwrap());
        assert!(
            text.contains("credential was revoked") && text.contains("stolen from a car"),
            "{text}"
        );
    }
    // The running agent is refused at its next call, counted, and enrolls again with its
    // department token: a fresh identity, in the token's department.
    let fresh = this_host_again(&c, &id, &agent);
    let m = c.metrics();
    assert!(
        exposition::value(&m, "tilsyn_collector_revoked_agent_calls_total").unwrap_or(0.0) >= 1.0,
        "{m}"
    );
    let h = c.get(&format!("/api/v1/hosts/{fresh}"));
    assert_eq!(h["department"], "social-services", "{h}");
    let old = c.get(&format!("/api/v1/hosts/{id}"));
    assert!(old["revoked_at_ms"].is_i64(), "{old}");
    assert_eq!(old["state"], "retired", "{old}");
    assert!(agent.log_text().contains("enroll"), "{}", agent.log_text());
}

#[test]
fn a_change_window_from_the_api_suppresses_the_incident_and_is_planned_time_in_the_sla() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let ops = "tok-ops-".to_string() + &"o".repeat(40);
    let admin = "tok-admin-".to_string() + &"a".repeat(40);
    std::fs::write(dir.path().join("ops.token"), &ops).unwrap();
    std::fs::write(dir.path().join("admin.token"), &admin).unwrap();
    let http = format!(
        "  auth:\n    required: true\n    tokens:\n      - {{name: ops, role: operator, token_file: '{}'}}\n      - {{name: admin, role: admin, token_file: '{}'}}\n",
        dir.path().join("ops.token").display(),
        dir.path().join("admin.token").display()
    );
    let extra = format!(
        "{OFFLINE_ONLY}sla:\n  file: '{}'\n  evaluate_every: 1s\n",
        repo_root().join("tests/fixtures/sla/sla.yaml").display()
    );
    let c = Collector::start_spec(
        dir.path(),
        &Spec {
            extra: &extra,
            http: &http,
            token: Some(&admin),
            ..Spec::default()
        },
    );
    let (mut agent, _acfg, id) = agent_online(&c, dir.path());
    let end = (now_ms() + 3_600_000).to_string();
    let body = serde_json::json!({
        "change_ref": "CHG-2042", "reason": "replacing the switch",
        "end": end, "scope": {"hosts": [this_hostname()]},
    });
    let (code, text) = c.call(
        "POST",
        "/api/v1/maintenance",
        Some(&ops),
        Some(&body.to_string()),
    );
    assert_eq!(code, 201, "{text}");
    let listed = c.get("/api/v1/maintenance");
    assert!(listed.to_string().contains("CHG-2042"), "{listed}");

    agent.stop();
    let t_stop = now_ms();
    let inc = offline_incident(&c, &id, "an offline incident in the window", |i| {
        i["state"] != "resolved"
    });
    assert_eq!(
        (&inc["state"], &inc["suppressed_by"]),
        (&Value::from("suppressed"), &Value::from("CHG-2042")),
        "{inc}"
    );
    // Suppressed: no ticket, nothing in the desk.
    std::thread::sleep(Duration::from_secs(3));
    let inc = c.get(&format!("/api/v1/incidents/{}", inc["id"]))["incident"].clone();
    assert!(inc["ticket"].is_null(), "{inc}");
    assert!(
        desk_events(&c, inc["key"].as_str().unwrap()).is_empty(),
        "the desk heard of a suppressed incident"
    );
    // In the SLA: planned, not down.
    let s = wait_for(
        Duration::from_secs(30),
        "the outage as planned time",
        || {
            let r = c.get("/api/v1/sla?department=social-services");
            let s = sla_service(&r, "this-machine").clone();
            (s["planned_ms"].as_i64().unwrap_or(0) > 0).then_some(s)
        },
    )
    .unwrap();
    assert_eq!(s["down_ms"], 0, "{s}");
    assert_ne!(s["state"], "down", "{s}");
    assert!(
        s["planned_ms"].as_i64().unwrap() <= now_ms() - t_stop + 1000,
        "{s}"
    );
    let made = &audit(&c, "maintenance.create")[0];
    assert_eq!(made["actor"], "token:ops", "{made}");
    assert_eq!(made["after"]["change_ref"], "CHG-2042", "{made}");
}

/// This host's rules in `state` as (standard, rule).
fn rules_in(c: &Collector, id: &str, state: &str) -> Vec<(String, String)> {
    let v = c.get(&format!("/api/v1/hosts/{id}/compliance"));
    let mut out = Vec::new();
    for s in v["standards"].as_array().into_iter().flatten() {
        for r in s["rules"].as_array().into_iter().flatten() {
            if r["state"] == state {
                out.push((
                    s["standard"].as_str().unwrap_or_default().to_string(),
                    r["rule"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    out
}

#[test]
fn a_waiver_granted_through_the_api_waives_the_rule_and_its_withdrawal_fails_it_again() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(
        dir.path(),
        "incidents:\n  conditions:\n    - {when: {compliance_at_least: low}, observations: 1, resolve_observations: 1}\n",
    );
    let (_agent, _acfg, id) = agent_online(&c, dir.path());
    let (standard, rule) = wait_for(Duration::from_secs(60), "a failing rule", || {
        rules_in(&c, &id, "fail").into_iter().next()
    })
    .unwrap_or_else(|e| panic!("{e}: this machine passes every rule of its standard?"));
    let check = format!("compliance/{standard}/{rule}");
    let incident = |pred: &dyn Fn(&Value) -> bool, what: &str| {
        wait_for(Duration::from_secs(60), what, || {
            let r = c.get(&format!(
                "/api/v1/incidents?host={id}&check={check}&limit=1"
            ));
            r["incidents"]
                .as_array()
                .and_then(|a| a.first())
                .filter(|i| pred(i))
                .cloned()
                .ok_or_else(|| r.to_string())
        })
        .unwrap()
    };
    let open = incident(&|i| i["state"] == "open", "the rule's incident open");

    // Refused with the reason: a rule the standard does not have, a day gone by.
    let bad = serde_json::json!({"standard": standard, "rule": "no-such-rule", "hosts": [this_hostname()],
        "reason": "r", "approved_by": "a", "expires": "2099-01-01"});
    let (code, text) = c.call(
        "POST",
        "/api/v1/compliance/waivers",
        None,
        Some(&bad.to_string()),
    );
    assert!(
        code == 400 && text.contains("no-such-rule"),
        "{code} {text}"
    );
    let past = serde_json::json!({"standard": standard, "rule": rule, "hosts": [this_hostname()],
        "reason": "r", "approved_by": "a", "expires": "2020-01-01"});
    let (code, text) = c.call(
        "POST",
        "/api/v1/compliance/waivers",
        None,
        Some(&past.to_string()),
    );
    assert!(code == 400 && text.contains("past"), "{code} {text}");

    let out = std::process::Command::new("date")
        .args(["-u", "-d", "+30 days", "+%F"])
        .output()
        .unwrap();
    let expires = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let w = serde_json::json!({"id": "W-E2E-1", "standard": standard, "rule": rule,
        "hosts": [this_hostname()], "reason": "the build machine has no disk encryption",
        "approved_by": "Head of Operations (CHG-77)", "expires": expires});
    let made = post(&c, "/api/v1/compliance/waivers", &w.to_string());
    assert_eq!(made["id"], "W-E2E-1", "{made}");
    wait_for(Duration::from_secs(30), "the rule waived", || {
        rules_in(&c, &id, "waived")
            .contains(&(standard.clone(), rule.clone()))
            .then_some(())
    })
    .unwrap();
    let done = incident(
        &|i| i["state"] == "resolved",
        "the rule's incident resolved",
    );
    assert_eq!(done["id"], open["id"]);
    let listed = c.get("/api/v1/compliance/waivers");
    let mine = listed["waivers"]
        .as_array()
        .and_then(|a| a.iter().find(|w| w["id"] == "W-E2E-1"))
        .cloned()
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(mine["hosts_waived"], 1, "{mine}");
    assert_eq!(mine["approved_by"], "Head of Operations (CHG-77)");
    let (code, _) = c.call(
        "POST",
        "/api/v1/compliance/waivers",
        None,
        Some(&w.to_string()),
    );
    assert_eq!(code, 409, "an id is not given twice");

    // Withdrawn on the command line: the rule fails again.
    let out = c.cli(&[
        "waiver",
        "withdraw",
        "W-E2E-1",
        "--reason",
        "disk encrypted now?",
    ]);
    assert!(out.contains("withdrawn"), "{out}");
    wait_for(Duration::from_secs(30), "the rule failing again", || {
        rules_in(&c, &id, "fail")
            .contains(&(standard.clone(), rule.clone()))
            .then_some(())
    })
    .unwrap();
    let made = &audit(&c, "waiver.create")[0];
    assert_eq!(made["actor"], "local", "{made}");
    assert_eq!(audit(&c, "waiver.end")[0]["actor"], "cli:e2e-operator");
}
