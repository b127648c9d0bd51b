//! The Prometheus side of Tilsyn against REAL Prometheus tools (Debian's `prometheus`
//! package: `/usr/bin/promtool`, `/usr/bin/prometheus`; `.ci/run` installs it). Without
//! them these tests FAIL and say so; they never pass silently.
//!
//! 1. `promtool check rules`, `promtool test rules` and `promtool check config` on
//!    `packaging/prometheus/` (the rules, their unit tests in `tests/*.yml`, the example
//!    scrape config), and every recording rule and alert is exercised by a unit test.
//! 2. A real collector with this machine's real agent: its `/metrics` passes
//!    `promtool check metrics`, and a real Prometheus on loopback (private data directory,
//!    no network, killed when the test ends) scrapes it every second with the repo's rules
//!    loaded: the target is up, fleet series are queryable, every rule group loaded without
//!    errors.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use tilsyn_e2e::*;

fn packaging() -> PathBuf {
    repo_root().join("packaging/prometheus")
}

fn show(out: &Output) -> String {
    format!(
        "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs promtool with `args` in `packaging/prometheus`; asserts success.
fn promtool(args: &[&str]) -> Output {
    let out = Command::new(tool("promtool"))
        .current_dir(packaging())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run promtool: {e}; {PROMETHEUS_HINT}"));
    assert!(
        out.status.success(),
        "`promtool {}` (in packaging/prometheus) failed:\n{}",
        args.join(" "),
        show(&out)
    );
    out
}

/// The unit test files, `packaging/prometheus/tests/*.yml`, relative to `packaging/prometheus`.
fn rule_test_files() -> Vec<String> {
    let dir = packaging().join("tests");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml") || n.ends_with(".yaml"))
        .map(|n| format!("tests/{n}"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no promtool unit tests in {}",
        dir.display()
    );
    files
}

fn rules_doc() -> serde_yaml::Value {
    let path = packaging().join("tilsyn.rules.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (group name, its rules' `record` or `alert` names) of `tilsyn.rules.yml`.
fn rule_groups() -> Vec<(String, Vec<String>)> {
    let doc = rules_doc();
    let groups = doc["groups"].as_sequence().expect("groups: a list");
    groups
        .iter()
        .map(|g| {
            let name = g["name"].as_str().expect("group name").to_string();
            let rules = g["rules"]
                .as_sequence()
                .expect("rules: a list")
                .iter()
                .map(|r| {
                    r.get("record")
                        .or_else(|| r.get("alert"))
                        .and_then(|n| n.as_str())
                        .expect("a rule has `record` or `alert`")
                        .to_string()
                })
                .collect();
            (name, rules)
        })
        .collect()
}

#[test]
fn promtool_checks_and_tests_the_rules() {
    promtool(&["check", "rules", "tilsyn.rules.yml"]);
    let files = rule_test_files();
    let mut args = vec!["test", "rules"];
    args.extend(files.iter().map(String::as_str));
    promtool(&args);
    // The example configuration (it loads the rules file too), beside the scrape token
    // it names, as it is installed.
    let dir = tempfile::tempdir().unwrap();
    for f in ["prometheus.yml", "tilsyn.rules.yml"] {
        std::fs::copy(packaging().join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(
        dir.path().join("tilsyn.token"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let out = Command::new(tool("promtool"))
        .args(["check", "config"])
        .arg(dir.path().join("prometheus.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the example configuration:\n{}",
        show(&out)
    );

    // Every recording rule and every alert appears in some unit test: a recorded series in
    // an `expr` or as expected `labels`, an alert as `alertname`.
    let tests: String = files
        .iter()
        .map(|f| std::fs::read_to_string(packaging().join(f)).unwrap())
        .collect();
    let mut untested = BTreeSet::new();
    for (_, rules) in rule_groups() {
        for name in rules {
            let covered = if name.contains(':') {
                tests.contains(&format!("{name}{{")) || tests.contains(&format!("expr: {name}"))
            } else {
                tests.contains(&format!("alertname: {name}\n"))
            };
            if !covered {
                untested.insert(name);
            }
        }
    }
    assert!(
        untested.is_empty(),
        "rules without a promtool unit test in packaging/prometheus/tests/: {untested:?}"
    );
}

/// A real Prometheus on loopback with a private data directory; stopped (SIGTERM, then
/// SIGKILL after 10 s) when dropped, whether the test passed or not.
struct RealPrometheus {
    proc: Proc,
    url: String,
    _port: PortLease,
}

impl RealPrometheus {
    /// Scrapes `target` (host:port) every second as job `tilsyn-collector` with the scrape
    /// token in `token_file`, as the shipped example does, and the repo's rules file.
    /// Everything it writes stays under `dir`.
    fn start(dir: &Path, target: &str, token_file: &Path) -> RealPrometheus {
        let bin = tool("prometheus");
        let rules = packaging().join("tilsyn.rules.yml");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - '{rules}'
scrape_configs:
  - job_name: tilsyn-collector
    authorization: {{type: Bearer, credentials_file: '{token}'}}
    static_configs:
      - targets: ['{target}']
",
                rules = rules.display(),
                token = token_file.display()
            ),
        )
        .unwrap();
        let lease = reserve_port();
        let port = lease.port;
        let url = format!("http://127.0.0.1:{port}");
        let arg = |flag: &str, value: &Path| format!("--{flag}={}", value.display());
        // Consoles default to /etc/prometheus: point them into the private directory.
        let args = [
            arg("config.file", &config),
            arg("storage.tsdb.path", &dir.join("data")),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--web.enable-lifecycle".to_string(),
            arg("web.console.templates", &dir.join("consoles")),
            arg("web.console.libraries", &dir.join("console_libraries")),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let proc = Proc::spawn(&bin, &args, dir.join("prometheus.log"));
        let p = RealPrometheus {
            proc,
            url,
            _port: lease,
        };
        let ready = format!("{}/-/ready", p.url);
        wait_for(Duration::from_secs(30), "Prometheus ready", || {
            reqwest::blocking_get_ok(&ready)
        })
        .unwrap_or_else(|e| panic!("{e}\nPrometheus log:\n{}", p.proc.log_text()));
        p
    }

    /// GET `path` (already encoded) from the HTTP API; `data` of a `success` answer.
    fn api(&self, path: &str) -> Result<Value, String> {
        let url = format!("{}{path}", self.url);
        let body = reqwest::blocking_get_text(&url)?;
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("{url}: {e}: {body}"))?;
        if v["status"] != "success" {
            return Err(format!("{url}: {body}"));
        }
        Ok(v["data"].clone())
    }

    fn log(&self) -> String {
        self.proc.log_text()
    }
}

impl Drop for RealPrometheus {
    fn drop(&mut self) {
        self.proc.stop();
    }
}

/// Percent-encodes a PromQL expression for a query string.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The series of an instant query, waiting (at most `limit`) until there is at least one.
fn series(prom_url: &str, query: &str, limit: Duration) -> Vec<Value> {
    let url = format!("{prom_url}/api/v1/query?query={}", encode(query));
    let mut last = String::new();
    wait_for(
        limit,
        &format!("series for `{query}` in Prometheus"),
        || {
            let body = reqwest::blocking_get_text(&url).ok()?;
            last = body.clone();
            let v: Value = serde_json::from_str(&body).ok()?;
            let result = v["data"]["result"].as_array()?.clone();
            (!result.is_empty()).then_some(result)
        },
    )
    .unwrap_or_else(|e| panic!("{e}; last answer: {last}"))
}

#[test]
fn real_prometheus_scrapes_the_collector_with_the_rules() {
    let _slot = tilsyn_e2e::e2e_slot();
    let promtool_bin = tool("promtool");
    tool("prometheus");
    let dir = tempfile::Builder::new()
        .prefix("tilsyn-prometheus-")
        .tempdir()
        .unwrap();
    // The SLA fixture (one 24/7 service on this machine) so the SLA series exist; the API
    // needs tokens, Prometheus scrapes with a token of role metrics.
    let (scrape, admin) = ("scrape-".repeat(6), "admin-".repeat(6));
    let (scrape_file, admin_file) = (
        dir.path().join("scrape.token"),
        dir.path().join("admin.token"),
    );
    std::fs::write(&scrape_file, &scrape).unwrap();
    std::fs::write(&admin_file, &admin).unwrap();
    let http = format!(
        "  auth:\n    required: true\n    tokens:\n      - {{name: prometheus, role: metrics, token_file: '{}'}}\n      - {{name: admin, role: admin, token_file: '{}'}}\n",
        scrape_file.display(),
        admin_file.display()
    );
    let extra = format!(
        "sla:\n  file: '{}'\n  evaluate_every: 1s\n",
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
    let (code, _) = c.call("GET", "/metrics", None, None);
    assert_eq!(code, 401, "/metrics needs the scrape token");
    let (_agent, _, _) = agent_online(&c, dir.path());

    // The exposition passes Prometheus's own linter.
    let text = c.metrics();
    let mut lint = Command::new(&promtool_bin)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool check metrics");
    lint.stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = lint.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "`promtool check metrics` has findings on the collector's /metrics:\n{}\n--- /metrics ---\n{text}",
        show(&out)
    );

    let target = format!("127.0.0.1:{}", c.http_port);
    let prom_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let prom = RealPrometheus::start(&prom_dir, &target, &scrape_file);

    // The collector is scraped and healthy.
    let mut last = Value::Null;
    wait_for(Duration::from_secs(60), "the collector target up", || {
        let data = prom.api("/api/v1/targets").ok()?;
        last = data.clone();
        data["activeTargets"]
            .as_array()?
            .iter()
            .find(|t| {
                t["labels"]["job"] == "tilsyn-collector"
                    && t["labels"]["instance"] == target.as_str()
                    && t["health"] == "up"
            })
            .map(|_| ())
    })
    .unwrap_or_else(|e| panic!("{e}\ntargets: {last}\nPrometheus log:\n{}", prom.log()));

    // Fleet series as Prometheus stored them, with the target labels.
    let hosts = series(&prom.url, "tilsyn_hosts", Duration::from_secs(30));
    assert!(
        hosts
            .iter()
            .any(|s| s["metric"]["department"] == "social-services"
                && s["metric"]["state"] == "online"
                && s["metric"]["job"] == "tilsyn-collector"
                && s["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()) >= Some(1.0)),
        "no online host of social-services in Prometheus: {hosts:?}"
    );
    let info = series(&prom.url, "tilsyn_collector_info", Duration::from_secs(30));
    assert!(
        info.iter().all(|s| s["metric"]["version"].is_string()),
        "tilsyn_collector_info without a version: {info:?}"
    );

    // Every group of the rules file loaded; no rule evaluates with an error. The alert
    // groups run every second here and must have evaluated ("ok"); the SLA recording
    // groups set their own interval (1m, 5m) and may not have run yet ("unknown").
    let expected = rule_groups();
    let mut last = Value::Null;
    let check = wait_for(Duration::from_secs(30), "the rules evaluated", || {
        let data = prom.api("/api/v1/rules").ok()?;
        last = data.clone();
        let groups = data["groups"].as_array()?;
        let mut all_ran = true;
        for (name, rules) in &expected {
            let g = groups.iter().find(|g| g["name"] == name.as_str())?;
            let loaded: Vec<&str> = g["rules"]
                .as_array()?
                .iter()
                .filter_map(|r| r["name"].as_str())
                .collect();
            if loaded != rules.iter().map(String::as_str).collect::<Vec<_>>() {
                return None;
            }
            for r in g["rules"].as_array()? {
                match r["health"].as_str()? {
                    "err" => return Some(Err(format!("rule in group {name} fails: {r}"))),
                    "ok" => {}
                    _ if g["interval"].as_f64() == Some(1.0) => all_ran = false,
                    _ => {}
                }
            }
        }
        all_ran.then_some(Ok(()))
    });
    match check {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e}\nPrometheus log:\n{}", prom.log()),
        Err(e) => panic!(
            "{e}; expected groups {expected:?}\nrules: {last}\nPrometheus log:\n{}",
            prom.log()
        ),
    }

    // SLA series from the collector's SLA evaluator, and the recorded 30-day availability.
    assert_sla_series(&prom.url);
}

/// SLA: the collector's SLA gauges as Prometheus scraped them. Needs a collector whose
/// config has an `sla:` section with at least one department tier and one service.
fn assert_sla_series(prom_url: &str) {
    for query in [
        "tilsyn_sla_department_info{department=\"social-services\",tier=\"around-the-clock\"}",
        "tilsyn_sla_service_up{service=\"this-machine\"}",
        "tilsyn_sla_availability_target_ratio",
        "tilsyn_sla_availability_ratio{period=\"month\"}",
        "tilsyn:sla_service_counted",
    ] {
        // Recording groups evaluate every minute, first at an offset within it.
        let found = series(prom_url, query, Duration::from_secs(90));
        // Scraped series carry the job; recorded ones are aggregated to their SLA labels.
        assert!(
            found.iter().all(|s| if query.starts_with("tilsyn:") {
                s["metric"]["service"] == "this-machine"
                    && s["metric"]["department"] == "social-services"
            } else {
                s["metric"]["job"] == "tilsyn-collector"
            }),
            "{query}: {found:?}"
        );
    }
}
