//! Incidents end to end with the default file desk: this machine's real agent goes
//! silent, the collector raises an `offline` incident and writes the ticket; the agent
//! comes back and the incident resolves — in the API, the desk file, the metrics and the
//! CLI. A restart of the collector in between loses nothing and duplicates nothing.

use std::time::Duration;

use tilsyn_e2e::*;

#[test]
fn a_silent_host_opens_an_incident_and_closes_it_when_it_returns() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    // Only the offline condition, so the counts below are this incident's alone (with
    // the defaults this machine's failing compliance rules raise incidents too).
    let mut c = Collector::start(
        dir.path(),
        "incidents:\n  conditions:\n    - {when: offline, severity: high, observations: 1, resolve_observations: 1}\n",
    );
    let (mut agent, acfg, id) = agent_online(&c, dir.path());

    agent.stop();
    let inc = offline_incident(&c, &id, "offline incident with a ticket", |i| {
        i["state"] == "open" && i["ticket"]["id"].is_string()
    });
    assert_eq!(
        inc["priority"], "P4",
        "a workstation (low impact), high severity: {inc}"
    );
    assert_eq!(inc["desk"], "file");
    let key = inc["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("tilsyn-") && key.len() == 39, "{key}");

    let m = c.metrics();
    assert!(
        exposition::has(
            &m,
            "tilsyn_incidents_opened_total{department=\"social-services\",priority=\"P4\"} 1"
        ),
        "{m}"
    );
    assert!(exposition::has(&m, "tilsyn_incidents_open{department=\"social-services\",priority=\"P4\",state=\"open\"} 1"), "{m}");

    // A restart with the incident open: it is restored, not raised again.
    c.stop();
    c.restart();

    let _agent = Proc::spawn(
        &bin("tilsyn-agent"),
        &["run", "--config", acfg.to_str().unwrap()],
        dir.path().join("agent/agent-1.log"),
    );
    let done = offline_incident(&c, &id, "offline incident resolved", |i| {
        i["state"] == "resolved"
    });
    assert_eq!(done["id"], inc["id"], "the same incident resolves");

    // The desk file holds exactly one create and one resolve for the key.
    let file = dir.path().join("data/incidents.jsonl");
    let events = wait_for(Duration::from_secs(20), "resolve in the desk file", || {
        let text = std::fs::read_to_string(&file).ok()?;
        let ev: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["key"] == key.as_str())
            .map(|v| v["event"].as_str().unwrap_or_default().to_string())
            .collect();
        ev.contains(&"resolve".to_string()).then_some(ev)
    })
    .unwrap();
    assert_eq!(events, ["create", "resolve"]);

    let m = c.metrics();
    assert!(
        exposition::has(
            &m,
            "tilsyn_incidents_resolved_total{department=\"social-services\",priority=\"P4\"} 1"
        ),
        "{m}"
    );
    assert!(
        exposition::has(&m, "tilsyn_outbox_items{desk=\"file\",state=\"pending\"} 0"),
        "{m}"
    );
    assert!(
        exposition::has(
            &m,
            "tilsyn_incident_time_to_resolve_seconds_count{priority=\"P4\"} 1"
        ),
        "{m}"
    );

    let detail = c.get(&format!("/api/v1/incidents/{}", inc["id"]));
    let actions: Vec<&str> = detail["desk_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["resolve", "create"], "newest first: {detail}");

    let out = std::process::Command::new(bin("tilsyn-collector"))
        .args([
            "incidents",
            "--config",
            c.config.to_str().unwrap(),
            "--host",
            &id,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("resolved") && text.contains("offline"),
        "{text}"
    );
}

#[test]
fn bad_desk_configuration_stops_the_collector_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = validate_collector(
        dir.path(),
        "[]",
        "incidents:\n  desks:\n    - name: sn\n      servicenow:\n        url: not-a-url\n        username: tilsyn\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("incidents.desks[0]") && err.contains("not-a-url"),
        "{err}"
    );
    assert!(
        err.contains("password_file"),
        "the missing credential is named too: {err}"
    );
}
