//! SLA end to end: this machine's real agent is the one host of a 24/7 service. It goes
//! silent, the service goes down, the agent returns and the service comes back; the JSON
//! API, the metrics and `tilsyn-collector report sla` (CSV, Markdown, HTML) then show the
//! same downtime and the same incident outcomes. A service without hosts says "no data".

use std::time::Duration;

use tilsyn_e2e::*;

fn sla_config() -> String {
    format!(
        "incidents:\n  conditions:\n    - {{when: offline, severity: high, observations: 1, resolve_observations: 1}}\n\
         sla:\n  file: '{}'\n  evaluate_every: 1s\n",
        repo_root().join("tests/fixtures/sla/sla.yaml").display()
    )
}

#[test]
fn downtime_and_outcomes_agree_in_api_metrics_and_report() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &sla_config());
    let (mut agent, acfg, id) = agent_online(&c, dir.path());

    let up = wait_for(Duration::from_secs(30), "service up", || {
        let r = c.get("/api/v1/sla?department=social-services");
        (sla_service(&r, "this-machine")["state"] == "up").then_some(r)
    })
    .unwrap();
    let s = sla_service(&up, "this-machine");
    assert_eq!(s["hosts"], 1);
    assert_eq!(s["target"], 0.999);
    assert_eq!(s["down_ms"], 0);
    let nobody = sla_service(&up, "nobody");
    assert!(
        nobody["availability"].is_null(),
        "no hosts = no data: {nobody}"
    );
    assert_eq!(nobody["state"], "no_hosts");

    // The test's own clock is the oracle for the downtime (checked below).
    let t_stop = now_ms();
    agent.stop();
    offline_incident(&c, &id, "offline incident", |i| i["state"] == "open");
    wait_for(
        Duration::from_secs(30),
        "service down in the metrics",
        || {
            let m = c.metrics();
            (exposition::value(&m, "tilsyn_sla_service_up{service=\"this-machine\"}") == Some(0.0)
                && exposition::value(
                    &m,
                    "tilsyn_sla_service_hosts{service=\"this-machine\",state=\"unhealthy\"}",
                ) == Some(1.0))
            .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", c.metrics()));
    let down = c.get("/api/v1/sla");
    let s = sla_service(&down, "this-machine");
    assert_eq!(s["state"], "down");
    assert!(s["availability"].as_f64().unwrap() < 1.0, "{s}");
    assert_eq!(s["outages"][0]["ongoing"], true, "{s}");

    // Seen down by the test; the outage lasts 3 s more by the test's hand, not as a wait.
    let t_down_seen = now_ms();
    std::thread::sleep(Duration::from_secs(3));
    let t_start = now_ms();
    let _agent = Proc::spawn(
        &bin("tilsyn-agent"),
        &["run", "--config", acfg.to_str().unwrap()],
        dir.path().join("agent/agent-1.log"),
    );
    let inc = offline_incident(&c, &id, "offline incident resolved", |i| {
        i["state"] == "resolved"
    });
    let t_seen = now_ms();
    let prio = inc["priority"].as_str().unwrap().to_string();
    // The evaluator has run after the resolution once the service is up again in the
    // metrics and the outcome is counted.
    let met = format!(
        "tilsyn_sla_incidents_total{{department=\"social-services\",priority=\"{prio}\",result=\"met\",target=\"resolution\"}}"
    );
    let m = wait_for(Duration::from_secs(30), "outcome counted", || {
        let m = c.metrics();
        (exposition::value(&m, "tilsyn_sla_service_up{service=\"this-machine\"}") == Some(1.0)
            && exposition::value(&m, &met) == Some(1.0))
        .then_some(m)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.metrics()));
    assert!(
        !exposition::matching(&m, "tilsyn_sla_resolution_time_seconds_bucket", &[]).is_empty(),
        "{m}"
    );

    // The outage is over, so its downtime is fixed: API, metrics and report agree on it
    // to the millisecond (the metric is in seconds).
    let api = c.get("/api/v1/sla?department=social-services");
    let s = sla_service(&api, "this-machine");
    let down_ms = s["down_ms"].as_i64().unwrap();
    // Down at least from when the test saw it down until it restarted the agent, and at
    // most from the earliest possible detection (its last report was at most 5 s before
    // t_stop, then 10 s of allowance) until the test saw it resolved.
    assert!(
        down_ms >= t_start - t_down_seen && down_ms <= t_seen - (t_stop + 5_000),
        "down {down_ms} ms; agent stopped at {t_stop}, started at {t_start}, back by {t_seen}\n\
         incident: {inc}\nservice: {s}\nevents: {}\ncollector log:\n{}",
        c.get(&format!("/api/v1/hosts/{id}/events")),
        c.proc.as_ref().map(|p| p.log_text()).unwrap_or_default()
    );
    let incident_span =
        inc["resolved_at_ms"].as_i64().unwrap() - inc["opened_at_ms"].as_i64().unwrap();
    assert_eq!(
        down_ms, incident_span,
        "down exactly while the offline incident was open"
    );
    assert_eq!(s["outages"][0]["incidents"][0], inc["id"]);
    let series = "tilsyn_sla_downtime_seconds{department=\"social-services\",period=\"month\",service=\"this-machine\"}";
    assert_eq!(
        exposition::value(&m, series),
        Some(down_ms as f64 / 1000.0),
        "{m}"
    );
    let d = &api["departments"][0];
    let row = |kind: &str| {
        d[kind]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["priority"] == prio.as_str())
            .unwrap()
            .clone()
    };
    assert_eq!(row("resolution")["met"], 1, "{d}");
    assert_eq!(row("response")["met"], 1, "answered by its resolution: {d}");
    assert_eq!(row("resolution")["attainment"], 1.0);
    let month = api["period"]["label"].as_str().unwrap().to_string();

    // The report from the database, as the operations team would run it.
    let report_in = |format: &str, more: &[&str]| -> String {
        let out = std::process::Command::new(bin("tilsyn-collector"))
            .args([
                "report",
                "sla",
                "--config",
                c.config.to_str().unwrap(),
                "--month",
                &month,
            ])
            .args(["--department", "social-services", "--format", format])
            .args(more)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let report = |format: &str| report_in(format, &[]);
    let csv = report("csv");
    let line = csv
        .lines()
        .find(|l| l.contains(",availability,") && l.contains("service=this-machine;"))
        .unwrap_or_else(|| panic!("{csv}"));
    // Seconds with up to 3 decimals, trailing zeros dropped: Rust's shortest form of the
    // same number.
    let want = format!("down_s={};", down_ms as f64 / 1000.0);
    assert!(
        line.contains(&want),
        "the CSV shows the same downtime ({want}): {line}\napi: {s}"
    );
    let md = report("markdown");
    assert!(
        md.contains("This machine, the only host") && md.contains("no data"),
        "{md}"
    );
    let html = report("html");
    assert!(
        html.starts_with("<!doctype html>") || html.starts_with("<!DOCTYPE html>"),
        "{html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("<link"),
        "self-contained"
    );
    assert!(html.contains("<svg"), "charts");
    assert!(html.contains("<html lang=\"en\">") && html.contains("This machine, the only host"));
    // The same report in Danish: the console's texts, the same rows.
    let da = report_in("html", &["--lang", "da"]);
    assert!(
        da.contains("<html lang=\"da\">") && da.contains("SLA-rapport"),
        "{da}"
    );
    assert!(da.contains("Tilgængelighed") && da.contains("This machine, the only host"));
    assert_eq!(da.matches("<tr>").count(), html.matches("<tr>").count());

    // Bad input is named.
    let out = std::process::Command::new(bin("tilsyn-collector"))
        .args([
            "report",
            "sla",
            "--config",
            c.config.to_str().unwrap(),
            "--month",
            "2026-13",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"2026-13\" is not a month"));
    let r = reqwest::blocking_get_text(&format!("{}/api/v1/sla?month=nope", c.http()))
        .unwrap_or_default();
    assert!(r.contains("is not a month"), "{r}");
}

#[test]
fn a_bad_sla_file_stops_validate_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let sla = dir.path().join("sla.yaml");
    std::fs::write(
        &sla,
        "time_zone: Europe/Copenhagen\ntiers:\n  basic:\n    service_hours: {time_zone: Europe/Copenhagen, weekdays: [\"16:00-08:00\"]}\n    availability: 1.5\ndefault_tier: basic\nservices:\n  - id: mail\n    departments: [finance]\n    hosts: {class: [server]}\n",
    )
    .unwrap();
    let (code, err) = validate_collector(
        dir.path(),
        "[{id: social-services, name: Social Services, tokens: [aaaaaaaaaaaaaaaaaaaa]}]",
        "sla: {file: sla.yaml}\n",
    );
    assert_eq!(code, Some(2), "{err}");
    for want in [
        "sla.yaml:4: tiers.basic.service_hours.weekdays[0]",
        "ends before it starts",
        "sla.yaml:5: tiers.basic.availability",
        "sla.yaml:9: services[0].departments[0]: unknown department \"finance\"",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}
