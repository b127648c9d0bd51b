//! End to end on loopback: the real collector and agent binaries, this machine's real facts.

use std::time::Duration;

use tilsyn_e2e::*;
use tilsyn_proto::v1::agent_service_client::AgentServiceClient;
use tilsyn_proto::v1::{report::Body, EnrollRequest, Health, Report, ReportBatch};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

fn os_release_name() -> String {
    let t = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    t.lines()
        .find_map(|l| l.strip_prefix("NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default()
}

fn host_by_name(c: &Collector, name: &str) -> Option<serde_json::Value> {
    let hosts = c.get("/api/v1/hosts");
    hosts["hosts"]
        .as_array()?
        .iter()
        .find(|h| h["hostname"] == name)
        .cloned()
}

#[test]
fn agent_reports_this_machine_and_goes_offline_and_back() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    // Central settings: every host of the department watches the agent's own process.
    let c = Collector::start(
        dir.path(),
        "  overrides:\n    - match: {department: social-services}\n      watched_processes: [tilsyn-agent]\n",
    );
    let adir = dir.path().join("agent");
    std::fs::create_dir_all(&adir).unwrap();
    let acfg = c.agent_config(&adir, "  health_interval: 5s");
    let agent_bin = bin("tilsyn-agent");
    let mut agent = Proc::spawn(
        &agent_bin,
        &["run", "--config", acfg.to_str().unwrap()],
        adir.join("agent.log"),
    );

    let me = this_hostname();
    let host = wait_for(
        Duration::from_secs(60),
        "this host with software and patches",
        || {
            let h = host_by_name(&c, &me)?;
            let id = h["agent_id"].as_str()?.to_string();
            let d = c.get(&format!("/api/v1/hosts/{id}"));
            (d["software_count"].as_i64()? > 0
                && d["health"].is_object()
                && d["inventory"].is_object()
                && d["patches"].is_object())
            .then_some(d)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\nagent log:\n{}", agent.log_text()));

    assert_eq!(host["state"], "online");
    assert_eq!(host["department"], "social-services");
    assert_eq!(host["os_family"], "linux");
    assert_eq!(host["os_name"], os_release_name());
    assert_eq!(host["inventory"]["hostname"], me);
    assert!(
        host["inventory"]["hardware"]["memory_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(host["inventory"]["disks"]
        .as_array()
        .is_some_and(|d| !d.is_empty()));
    assert!(host["software"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["source"] == "dpkg" || p["source"] == "rpm"));
    assert!(!host["patches"]["manager"].as_str().unwrap().is_empty());
    assert!(host["health"]["memory_total_bytes"].as_u64().unwrap() > 0);
    let id = host["agent_id"].as_str().unwrap().to_string();
    let watched = wait_for(
        Duration::from_secs(30),
        "watched process from central settings",
        || {
            let d = c.get(&format!("/api/v1/hosts/{id}"));
            let w = d["health"]["watched_processes"]
                .as_array()?
                .first()?
                .clone();
            (w["name"] == "tilsyn-agent").then_some(w)
        },
    )
    .unwrap();
    assert!(watched["count"].as_u64().unwrap() >= 1, "{watched}");

    let metrics = c.metrics();
    assert!(
        exposition::has(
            &metrics,
            r#"tilsyn_hosts{class="workstation",department="social-services",os_family="linux",state="online"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        exposition::has(
            &metrics,
            "tilsyn_reports_ingested_total{section=\"software\"}"
        ),
        "{metrics}"
    );

    // The agent stops: after two missed 5 s health intervals the host is offline.
    agent.stop();
    wait_for(Duration::from_secs(40), "host offline", || {
        host_in_state(&c, &id, "offline")
    })
    .unwrap();
    // The gauge counts the host offline; the counter counts every time it went offline,
    // as many as its offline events (a slow first probe cycle on a loaded machine can
    // add an early one), and is incremented just after the store marks the host.
    wait_for(Duration::from_secs(20), "the offline host in the metrics", || {
        let m = c.metrics();
        let events = c.get(&format!("/api/v1/hosts/{id}/events"));
        let offline = events["events"]
            .as_array()?
            .iter()
            .filter(|e| e["kind"] == "offline")
            .count();
        (exposition::has(
            &m,
            r#"tilsyn_hosts{class="workstation",department="social-services",os_family="linux",state="offline"} 1"#,
        ) && exposition::value(&m, r#"tilsyn_host_state_changes_total{state="offline"}"#)
            == Some(offline as f64))
        .then_some(())
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n{}\nevents: {}",
            c.metrics(),
            c.get(&format!("/api/v1/hosts/{id}/events"))
        )
    });

    // It comes back with the same identity (no second enrollment) and is online again.
    let agent2 = Proc::spawn(
        &agent_bin,
        &["run", "--config", acfg.to_str().unwrap()],
        adir.join("agent2.log"),
    );
    wait_for(Duration::from_secs(40), "host online again", || {
        host_in_state(&c, &id, "online")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", agent2.log_text()));
    assert_eq!(
        c.get("/api/v1/hosts")["count"],
        1,
        "a restarted agent must not enroll again"
    );
    let kinds: Vec<String> = c.get(&format!("/api/v1/hosts/{id}/events"))["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(&kinds[..3], ["online", "offline", "online"], "{kinds:?}");
}

#[test]
fn a_collector_outage_loses_nothing_and_duplicates_nothing() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Collector::start(dir.path(), "");
    let adir = dir.path().join("agent");
    std::fs::create_dir_all(&adir).unwrap();
    let acfg = c.agent_config(
        &adir,
        "  health_interval: 5s\n  disabled_probes: [software, patches]",
    );
    let agent = Proc::spawn(
        &bin("tilsyn-agent"),
        &["run", "--config", acfg.to_str().unwrap()],
        adir.join("agent.log"),
    );
    let me = this_hostname();
    let id = wait_for(Duration::from_secs(60), "first health sample", || {
        let h = host_by_name(&c, &me)?;
        let id = h["agent_id"].as_str()?.to_string();
        let s = c.get(&format!("/api/v1/hosts/{id}/health"));
        (!s["samples"].as_array()?.is_empty()).then_some(id)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log_text()));

    c.stop();
    let down_from = now_ms();
    std::thread::sleep(Duration::from_secs(16));
    let down_to = now_ms();
    c.restart();

    // Every sample collected while the collector was down arrives, exactly once.
    let samples = wait_for(Duration::from_secs(90), "spooled samples delivered", || {
        let s = c.get(&format!("/api/v1/hosts/{id}/health"));
        let v: Vec<(u64, i64)> = s["samples"]
            .as_array()?
            .iter()
            .map(|x| {
                (
                    x["seq"].as_u64().unwrap(),
                    x["collected_at_ms"].as_i64().unwrap(),
                )
            })
            .collect();
        let during = v
            .iter()
            .filter(|(_, t)| *t > down_from && *t < down_to)
            .count();
        let after = v.iter().filter(|(_, t)| *t > down_to).count();
        (during >= 2 && after >= 1).then_some(v)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log_text()));
    // No report stored twice. Not by its sequence number: the table's key already makes
    // those unique, so a check on them could not fail. A report sent again under a new
    // number (a spool that re-numbers on retry) would repeat its collection time.
    let mut times: Vec<i64> = samples.iter().map(|s| s.1).collect();
    times.sort();
    let n = times.len();
    times.dedup();
    assert_eq!(times.len(), n, "a sample stored twice: {samples:?}");
    // No gap longer than two intervals in the collection times: nothing was dropped.
    assert!(times.windows(2).all(|w| w[1] - w[0] < 11_000), "{times:?}");

    // The 5-minute rollups hold every delivered sample, the spooled ones in the buckets of
    // their collection time: per bucket, the count and the CPU minimum and maximum the test
    // computes from the raw samples itself.
    let raw = c.get(&format!("/api/v1/hosts/{id}/health?limit=10000"));
    let mut want: std::collections::BTreeMap<i64, (u64, f64, f64)> = Default::default();
    for x in raw["samples"].as_array().unwrap() {
        let t = x["collected_at_ms"].as_i64().unwrap();
        let cpu = x["health"]["cpu_usage_ratio"].as_f64().unwrap_or(0.0);
        let e = want
            .entry(t.div_euclid(300_000) * 300_000)
            .or_insert((0, f64::MAX, f64::MIN));
        *e = (e.0 + 1, e.1.min(cpu), e.2.max(cpu));
    }
    let got = wait_for(
        Duration::from_secs(60),
        "every delivered sample in the rollups",
        || {
            let r = c.get(&format!("/api/v1/hosts/{id}/health/rollups?resolution=5m"));
            let got: std::collections::BTreeMap<i64, (u64, f64, f64)> = r["rollups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    let cpu = &b["cpu_usage_ratio"];
                    (
                        b["bucket_start_ms"].as_i64().unwrap(),
                        (
                            b["samples"].as_u64().unwrap(),
                            cpu["min"].as_f64().unwrap_or(0.0),
                            cpu["max"].as_f64().unwrap_or(0.0),
                        ),
                    )
                })
                .collect();
            // Later samples keep arriving: compare the buckets the raw read saw, by count.
            let counted: u64 = want.keys().map(|k| got.get(k).map_or(0, |g| g.0)).sum();
            let expected: u64 = want.values().map(|w| w.0).sum();
            if counted >= expected {
                Ok(got)
            } else {
                Err(format!(
                    "{counted} of {expected} samples rolled up: {got:?}"
                ))
            }
        },
    )
    .unwrap();
    for (bucket, (n, lo, hi)) in &want {
        let (gn, glo, ghi) = got[bucket];
        assert!(
            gn >= *n,
            "bucket {bucket}: {gn} samples rolled up, {n} delivered"
        );
        // Rollups are kept in single precision.
        if gn == *n {
            assert!(
                (glo - lo).abs() < 1e-6 && (ghi - hi).abs() < 1e-6,
                "bucket {bucket}: cpu {glo}..{ghi}, raw {lo}..{hi}"
            );
        }
    }
}

/// Reports waiting in an agent's spool.
fn spool_files(agent_dir: &std::path::Path) -> usize {
    std::fs::read_dir(agent_dir.join("state/spool"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "rpt")
        })
        .count()
}

async fn channel(c: &Collector) -> Channel {
    let ca = std::fs::read(c.ca_file()).unwrap();
    Channel::from_shared(c.grpc_url())
        .unwrap()
        .tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn authed<T>(msg: T, id: &str, secret: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("x-tilsyn-agent-id", id.parse().unwrap());
    r.metadata_mut()
        .insert("authorization", format!("Bearer {secret}").parse().unwrap());
    r
}

fn health(seq: u64, at: i64) -> Report {
    Report {
        seq,
        collected_at_ms: at,
        errors: vec![],
        body: Some(Body::Health(Health {
            cpu_usage_ratio: 0.1,
            memory_total_bytes: 100,
            memory_used_bytes: 50,
            ..Default::default()
        })),
    }
}

#[test]
fn bad_callers_and_bad_reports_are_refused_and_counted() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), "");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (a_id, b_id) = rt.block_on(async {
        let ch = channel(&c).await;
        // The standard gRPC health service answers for the agent service.
        let mut grpc_health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
        let st = grpc_health
            .check(tonic_health::pb::HealthCheckRequest {
                service: "tilsyn.v1.AgentService".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            st.status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
        let mut cl = AgentServiceClient::new(ch);
        let enroll = |host: &str, token: &str| EnrollRequest {
            token: token.into(),
            hostname: host.into(),
            ..Default::default()
        };

        let e = cl
            .enroll(enroll("pc-x", "not-a-valid-token-at-all"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e:?}");

        let a = cl.enroll(enroll("pc-a", TOKEN)).await.unwrap().into_inner();
        let b = cl.enroll(enroll("pc-b", TOKEN)).await.unwrap().into_inner();
        let now = now_ms();

        let batch = |id: &str, reports: Vec<Report>| ReportBatch {
            agent_id: id.into(),
            reports,
        };
        let e = cl
            .report(batch(&a.agent_id, vec![health(1, now)]))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated, "no credentials");
        let e = cl
            .report(authed(
                batch(&a.agent_id, vec![health(1, now)]),
                &a.agent_id,
                &b.secret,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            e.code(),
            tonic::Code::Unauthenticated,
            "another agent's secret"
        );
        let e = cl
            .report(authed(
                batch(&b.agent_id, vec![health(1, now)]),
                &a.agent_id,
                &a.secret,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            e.code(),
            tonic::Code::PermissionDenied,
            "reporting as another agent"
        );

        // One good and one malformed report: the good one is committed, the other rejected.
        let ack = cl
            .report(authed(
                batch(
                    &a.agent_id,
                    vec![health(1, now), health(2, now + 86_400_000)],
                ),
                &a.agent_id,
                &a.secret,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ack.committed_through, 1);
        assert_eq!(ack.rejected.len(), 1);
        assert_eq!(ack.rejected[0].reason, "timestamp_in_future");
        // A resend is a no-op.
        let ack = cl
            .report(authed(
                batch(&a.agent_id, vec![health(1, now)]),
                &a.agent_id,
                &a.secret,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ack.committed_through, 1);

        // An oversized message (limit 1 MiB here) is refused; the collector carries on.
        let mut big = health(3, now);
        if let Some(Body::Health(h)) = &mut big.body {
            h.failed_services = (0..20_000)
                .map(|i| tilsyn_proto::v1::ServiceStatus {
                    name: format!("unit-{i:0>60}"),
                    active: false,
                    state: "failed".into(),
                })
                .collect();
        }
        let e = cl
            .report(authed(
                batch(&a.agent_id, vec![big]),
                &a.agent_id,
                &a.secret,
            ))
            .await
            .unwrap_err();
        assert!(
            e.code() == tonic::Code::OutOfRange && e.message().contains("too large"),
            "an oversized message is OUT_OF_RANGE (not a handler's INTERNAL): {e:?}"
        );
        (a.agent_id, b.agent_id)
    });

    let samples = c.get(&format!("/api/v1/hosts/{a_id}/health"));
    assert_eq!(
        samples["samples"].as_array().unwrap().len(),
        1,
        "exactly one sample: {samples}"
    );
    assert_eq!(
        c.get(&format!("/api/v1/hosts/{b_id}"))["state"],
        "new",
        "B never reported"
    );
    let m = c.metrics();
    for line in [
        r#"tilsyn_reports_rejected_total{reason="timestamp_in_future"} 1"#,
        r#"tilsyn_auth_failures_total{reason="missing_credentials"} 1"#,
        r#"tilsyn_auth_failures_total{reason="bad_secret"} 1"#,
        r#"tilsyn_report_batches_rejected_total{reason="impersonation"} 1"#,
        r#"tilsyn_enrollment_failures_total{reason="unknown_token"} 1"#,
        "tilsyn_reports_duplicate_total 1",
    ] {
        assert!(exposition::has(&m, line), "missing {line}\n{m}");
    }
}

#[test]
fn a_corrupt_agent_state_file_says_how_to_recover() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), "");
    let adir = dir.path().join("agent");
    std::fs::create_dir_all(adir.join("state")).unwrap();
    let acfg = c.agent_config(&adir, "  health_interval: 5s");
    std::fs::write(
        adir.join("state/agent-state.json"),
        b"{\"agent_id\": \"ag_1\", \"sec",
    )
    .unwrap();
    let out = std::process::Command::new(bin("tilsyn-agent"))
        .args(["run", "--config", acfg.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("corrupt") && err.contains("enroll --force"),
        "{err}"
    );

    let out = std::process::Command::new(bin("tilsyn-agent"))
        .args(["enroll", "--force", "--config", acfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        adir.join("state/agent-state.json.bak").exists(),
        "the corrupt file is kept aside"
    );
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(adir.join("state/agent-state.json")).unwrap())
            .unwrap();
    assert!(st["agent_id"].as_str().unwrap().starts_with("ag_"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(adir.join("state/agent-state.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn invalid_configs_are_rejected_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("collector.yaml");
    std::fs::write(&p, "data_dir: d\ngrpc:\n  listen: 0.0.0.0:1\n  tls: {mode: plaintext}\nhttp:\n  listen: 127.0.0.1:2\ndepartments: []\n").unwrap();
    for cmd in ["validate", "run"] {
        let out = std::process::Command::new(bin("tilsyn-collector"))
            .args([cmd, "--config", p.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(err.contains("collector.yaml:4: grpc.tls.mode"), "{err}");
        assert!(err.contains("collector.yaml:7: departments"), "{err}");
    }
    let a = dir.path().join("agent.yaml");
    std::fs::write(
        &a,
        "collector:\n  url: https://x:1\nstate_dir: s\nbogus: 1\n",
    )
    .unwrap();
    let out = std::process::Command::new(bin("tilsyn-agent"))
        .args(["validate", "--config", a.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("agent.yaml:4"), "{err}");
}

#[test]
fn an_agent_restarted_while_the_collector_is_down_loses_nothing() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Collector::start(dir.path(), "");
    let adir = dir.path().join("agent");
    std::fs::create_dir_all(&adir).unwrap();
    let acfg = c.agent_config(
        &adir,
        "  health_interval: 5s\n  disabled_probes: [software, patches]",
    );
    let args = ["run", "--config", acfg.to_str().unwrap()];
    let mut agent = Proc::spawn(&bin("tilsyn-agent"), &args, adir.join("agent.log"));
    let me = this_hostname();
    let id = wait_for(Duration::from_secs(60), "enrolled and reporting", || {
        let h = host_by_name(&c, &me)?;
        (h["state"] == "online").then(|| h["agent_id"].as_str().unwrap().to_string())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log_text()));

    // Collector down; the agent spools, is restarted, spools more.
    c.stop();
    let down_from = now_ms();
    std::thread::sleep(Duration::from_secs(8));
    agent.stop();
    let spooled = spool_files(&adir);
    assert!(
        spooled >= 1,
        "reports must be on disk while the collector is down"
    );
    let agent2 = Proc::spawn(&bin("tilsyn-agent"), &args, adir.join("agent2.log"));
    std::thread::sleep(Duration::from_secs(8));
    let down_to = now_ms();
    c.restart();

    let samples = wait_for(
        Duration::from_secs(90),
        "samples from both agent runs delivered",
        || {
            let s = c.get(&format!("/api/v1/hosts/{id}/health"));
            let times: Vec<i64> = s["samples"]
                .as_array()?
                .iter()
                .map(|x| x["collected_at_ms"].as_i64().unwrap())
                .collect();
            let during = times
                .iter()
                .filter(|t| **t > down_from && **t < down_to)
                .count();
            (during >= 3).then_some(times)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", agent.log_text(), agent2.log_text()));
    let mut sorted = samples.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), samples.len(), "no duplicates");
    assert_eq!(
        c.get("/api/v1/hosts")["count"],
        1,
        "same identity after the restart"
    );
    let left = spool_files(&adir);
    assert!(
        left <= 1,
        "acknowledged reports are deleted from the spool ({left} left)"
    );
}

#[test]
fn the_simulator_enrolls_a_varied_fleet_through_the_real_client() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), "");
    // The simulator runs until the fleet is in, however slow the machine: the test waits
    // for what it expects instead of giving it a fixed 8 s.
    let sim = tilsyn_e2e::simulator(&c, dir.path(), TOKEN, 60);
    let hosts = wait_for(
        Duration::from_secs(90),
        "60 online hosts with software and patches",
        || {
            let hosts = c.get("/api/v1/hosts?limit=1000");
            let list = hosts["hosts"].as_array()?;
            (list.len() == 60
                && list.iter().all(|h| {
                    h["software_count"].as_i64().unwrap_or(0) > 0
                        && h["pending_updates"].is_i64()
                        && h["state"] == "online"
                }))
            .then_some(hosts)
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n{}\nsimulator:\n{}",
            c.get("/api/v1/hosts?limit=1000"),
            sim.log_text()
        )
    });
    wait_for(
        Duration::from_secs(30),
        "the simulator's throughput line",
        || sim.log_text().contains("reports/s=").then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", sim.log_text()));
    drop(sim);
    let list = hosts["hosts"].as_array().unwrap();
    let distinct = |key: &str| {
        let mut v: Vec<String> = list
            .iter()
            .map(|h| h[key].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    assert!(
        distinct("os_family").len() >= 2,
        "{:?}",
        distinct("os_family")
    );
    assert_eq!(distinct("class"), ["server", "workstation"]);
    assert!(list
        .iter()
        .any(|h| h["pending_security_updates"].as_i64().unwrap_or(0) > 0));
}

#[test]
fn an_idle_agent_holds_no_connection_and_resumes_its_tls_session() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), "");
    let (agent, _, id) = agent_online_with(&c, dir.path(), "  idle_timeout: 1s\n");
    let samples = || {
        c.get(&format!("/api/v1/hosts/{id}/health?limit=1000"))["samples"]
            .as_array()
            .map_or(0, |a| a.len())
    };
    let before = samples();
    // Health every 5 s, idle after 1 s: the agent is away most of the time, and each
    // delivery after the first comes on a new connection that resumed the TLS session.
    let mut seen_idle = false;
    let resumed = wait_for(
        Duration::from_secs(60),
        "resumed handshakes and a moment without the agent's connection",
        || {
            let m = c.metrics();
            let open = exposition::value(&m, "tilsyn_collector_grpc_connections")?;
            seen_idle |= open == 0.0;
            let resumed = exposition::value(
                &m,
                r#"tilsyn_collector_tls_handshakes_total{kind="resumed"}"#,
            )
            .unwrap_or(0.0);
            (seen_idle && resumed >= 3.0).then_some(resumed)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}\nagent:\n{}", c.metrics(), agent.log_text()));
    let m = c.metrics();
    let full =
        exposition::value(&m, r#"tilsyn_collector_tls_handshakes_total{kind="full"}"#).unwrap();
    assert!(
        full <= 2.0,
        "one full handshake (plus enrollment's), the rest resumed: full {full}, resumed {resumed}"
    );
    assert!(
        samples() >= before + 3,
        "the agent kept delivering across its reconnections"
    );
    tilsyn_e2e::host_in_state(&c, &id, "online").unwrap();
    assert!(
        !agent.log_text().contains("cannot deliver reports"),
        "no delivery failed on a closed connection:\n{}",
        agent.log_text()
    );
}
