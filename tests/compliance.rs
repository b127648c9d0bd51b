//! Compliance end to end: the real agent on this machine evaluated against the shipped
//! Linux baseline, results in the API, the metrics and the standards CLI; hot reload that
//! never replaces good standards with bad ones.

use std::time::Duration;

use tilsyn_e2e::*;

#[test]
fn this_machine_is_evaluated_against_the_shipped_linux_baseline() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), "");
    let adir = dir.path().join("agent");
    std::fs::create_dir_all(&adir).unwrap();
    let acfg = c.agent_config(&adir, "  health_interval: 5s");
    let mut agent = Proc::spawn(
        &bin("tilsyn-agent"),
        &["run", "--config", acfg.to_str().unwrap()],
        adir.join("agent.log"),
    );
    let me = this_hostname();
    let (id, standards) = wait_for(
        Duration::from_secs(90),
        "compliance results of this host",
        || {
            let hosts = c.get("/api/v1/hosts");
            let h = hosts["hosts"]
                .as_array()?
                .iter()
                .find(|h| h["hostname"] == me)?
                .clone();
            let id = h["agent_id"].as_str()?.to_string();
            let r = c.get(&format!("/api/v1/hosts/{id}/compliance"));
            let std = r["standards"]
                .as_array()?
                .iter()
                .find(|s| s["standard"] == "linux-workstation")?
                .clone();
            // Wait for the facts section too: then the encryption/SSH rules are evaluated.
            let facts = c.get(&format!("/api/v1/hosts/{id}/facts"));
            facts["facts"].get("accounts.local_admins")?;
            let r = c.get(&format!("/api/v1/hosts/{id}/compliance"));
            let std = r["standards"]
                .as_array()?
                .iter()
                .find(|s| s["standard"] == "linux-workstation")
                .cloned()
                .unwrap_or(std);
            Some((id, std))
        },
    )
    .unwrap_or_else(|e| panic!("{e}\nagent log:\n{}", agent.log_text()));

    let rules = standards["rules"].as_array().unwrap();
    assert!(rules.len() >= 8, "{standards:#}");
    for r in rules {
        let state = r["state"].as_str().unwrap();
        assert!(
            ["pass", "fail", "unknown", "not_applicable", "waived"].contains(&state),
            "{r}"
        );
        assert!(r["since_ms"].as_i64().unwrap() > 0, "{r}");
        if state == "unknown" {
            assert!(
                r["observed"]
                    .as_str()
                    .unwrap()
                    .starts_with("not reported: "),
                "{r}"
            );
        }
    }
    // The machine's real facts decide some rules: the OS version and the admin accounts
    // are always readable here, so not everything is unknown.
    assert!(
        rules
            .iter()
            .any(|r| r["state"] == "pass" || r["state"] == "fail"),
        "{standards:#}"
    );
    let status = standards["status"].as_str().unwrap();
    assert!(["compliant", "noncompliant", "unknown"].contains(&status));

    // Per standard and per department.
    let s = c.get("/api/v1/compliance/standards/linux-workstation");
    let total = s["hosts"]["compliant"].as_i64().unwrap()
        + s["hosts"]["noncompliant"].as_i64().unwrap()
        + s["hosts"]["unknown"].as_i64().unwrap();
    assert_eq!(total, 1, "{s:#}");
    let d = c.get("/api/v1/compliance/departments");
    assert_eq!(
        d["departments"][0]["department"], "social-services",
        "{d:#}"
    );
    let f = c.get(&format!("/api/v1/compliance/findings?agent_id={id}"));
    let n_findings = rules
        .iter()
        .filter(|r| ["fail", "unknown", "waived"].contains(&r["state"].as_str().unwrap()))
        .count();
    assert_eq!(f["count"].as_u64().unwrap() as usize, n_findings, "{f:#}");

    // Metrics: host counts per standard, department and status; failing hosts per rule.
    let m = c.metrics();
    let line = format!("tilsyn_compliance_hosts{{department=\"social-services\",standard=\"linux-workstation\",status=\"{status}\"}} 1");
    assert!(exposition::has(&m, &line), "{line} missing:\n{m}");
    assert!(
        !exposition::matching(&m, "tilsyn_compliance_rule_failing_hosts", &[]).is_empty(),
        "{m}"
    );
    assert!(
        exposition::has(&m, "tilsyn_standards_reload_failing 0"),
        "{m}"
    );

    agent.stop();
}

/// What this machine is, read by the test itself (not through the agent): the
/// os-release ID, the CPU architecture and the installed version of bash.
fn machine_truth() -> (String, String, String) {
    let release = std::fs::read_to_string("/etc/os-release").unwrap();
    let id = release
        .lines()
        .find_map(|l| l.strip_prefix("ID="))
        .expect("ID= in /etc/os-release")
        .trim_matches('"')
        .to_string();
    let run = |cmd: &str, args: &[&str]| -> Option<String> {
        let out = std::process::Command::new(cmd).args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let arch = run("uname", &["-m"]).unwrap();
    let bash = run("dpkg-query", &["-W", "-f=${Version}", "bash"])
        .or_else(|| run("rpm", &["-q", "--qf", "%{VERSION}-%{RELEASE}", "bash"]))
        .expect("bash's version from dpkg-query or rpm");
    (id, arch, bash)
}

/// A standard whose every verdict the test knows before the collector says anything: the
/// facts it checks are read by the test itself ([`machine_truth`]) or are ones the agent
/// cannot report here, so the expected state of each rule, the host's status, the
/// findings, the metrics and `standards test` are computed independently of `evaluate()`.
#[test]
fn a_planted_standard_gets_the_verdicts_the_test_computed_from_this_machine() {
    let _slot = tilsyn_e2e::e2e_slot();
    let (os_id, arch, bash) = machine_truth();
    let me = this_hostname();
    let dir = tempfile::tempdir().unwrap();
    let sdir = dir.path().join("standards");
    std::fs::create_dir_all(&sdir).unwrap();
    let rule = |id: &str, extra: &str, check: String| {
        format!("    - id: {id}\n      title: {id}\n      severity: medium\n{extra}      check: {check}\n")
    };
    let rules = [
        rule("os-id", "", format!("{{fact: os.id, equals: '{os_id}'}}")),
        rule(
            "os-id-other",
            "",
            format!("{{fact: os.id, equals: '{os_id}-not'}}"),
        ),
        rule("arch", "", format!("{{fact: os.arch, equals: '{arch}'}}")),
        rule(
            "bash-installed",
            "",
            format!("{{software_present: {{name: bash, min_version: '{bash}'}}}}"),
        ),
        // An epoch above any the package manager uses: newer than what is installed.
        rule(
            "bash-newer",
            "",
            format!("{{software_present: {{name: bash, min_version: '99:{bash}'}}}}"),
        ),
        rule(
            "no-such-package",
            "",
            "{software_absent: {name: tilsyn-no-such-package}}".into(),
        ),
        // Linux reports no OS build (see configs/standards/README.md, Facts).
        rule("os-build", "", "{fact: os.build, equals: '1'}".into()),
        rule(
            "windows-only",
            "      applies_to: {os_family: [windows]}\n",
            "{fact: os.id, equals: windows}".into(),
        ),
        rule(
            "waived",
            "",
            format!("{{fact: os.id, equals: '{os_id}-waived'}}"),
        ),
    ];
    std::fs::write(
        sdir.join("planted.yaml"),
        format!(
            "standard:\n  id: planted\n  title: Planted\n  version: '1'\n  rules:\n{}",
            rules.concat()
        ),
    )
    .unwrap();
    std::fs::write(
        sdir.join("waivers.yaml"),
        format!("waivers:\n  - {{id: W-1, standard: planted, rule: waived, hosts: ['{me}'], reason: test, approved_by: test, expires: 2099-12-31}}\n"),
    )
    .unwrap();
    let expected: Vec<(&str, &str)> = vec![
        ("os-id", "pass"),
        ("os-id-other", "fail"),
        ("arch", "pass"),
        ("bash-installed", "pass"),
        ("bash-newer", "fail"),
        ("no-such-package", "pass"),
        ("os-build", "unknown"),
        ("windows-only", "not_applicable"),
        ("waived", "waived"),
    ];

    let c = Collector::start_with_standards(dir.path(), "", &sdir);
    let (mut agent, _, id) = agent_online(&c, dir.path());
    let states = |c: &Collector| -> Result<Vec<(String, String)>, String> {
        let r = c.get(&format!("/api/v1/hosts/{id}/compliance"));
        let std = r["standards"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["standard"] == "planted"))
            .ok_or_else(|| format!("no planted standard in {r}"))?;
        let got: Vec<(String, String)> = std["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["rule"].as_str().unwrap().to_string(),
                    r["state"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        // Software arrives with the inventory; until then the software rules are unknown.
        let installed = got.iter().find(|(r, _)| r == "bash-installed");
        match installed {
            Some((_, s)) if s != "unknown" => Ok(got),
            _ => Err(format!("{got:?}")),
        }
    };
    let got = wait_for(
        Duration::from_secs(90),
        "the planted standard evaluated",
        || states(&c),
    )
    .unwrap_or_else(|e| panic!("{e}\nagent log:\n{}", agent.log_text()));
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(r, s)| (r.to_string(), s.to_string()))
        .collect();
    want.sort();
    assert_eq!(got_sorted, want, "rule states");

    let r = c.get(&format!("/api/v1/hosts/{id}/compliance"));
    let planted = r["standards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["standard"] == "planted")
        .unwrap();
    assert_eq!(planted["status"], "noncompliant", "{planted:#}");
    let unknown = planted["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "os-build")
        .unwrap();
    assert_eq!(unknown["observed"], "not reported: os.build", "{unknown}");

    // Findings: the fail, unknown and waived rules, no more.
    let f = c.get(&format!(
        "/api/v1/compliance/findings?agent_id={id}&standard=planted"
    ));
    let mut findings: Vec<String> = f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["standard"] == "planted")
        .map(|x| x["rule"].as_str().unwrap().to_string())
        .collect();
    findings.sort();
    assert_eq!(
        findings,
        ["bash-newer", "os-build", "os-id-other", "waived"],
        "{f:#}"
    );

    let m = c.metrics();
    let line = "tilsyn_compliance_hosts{department=\"social-services\",standard=\"planted\",status=\"noncompliant\"} 1";
    assert!(exposition::has(&m, line), "{line} missing:\n{m}");
    let mut failing: Vec<String> = exposition::matching(
        &m,
        "tilsyn_compliance_rule_failing_hosts",
        &[("standard", "planted")],
    )
    .into_iter()
    .filter(|s| s.value > 0.0)
    .map(|s| s.labels["rule"].clone())
    .collect();
    failing.sort();
    assert_eq!(failing, ["bash-newer", "os-id-other"], "{m}");

    // `standards test` on the facts saved from the API: the same rows, the test's verdicts.
    let facts = c.get(&format!("/api/v1/hosts/{id}/facts"));
    let ffile = dir.path().join("facts.json");
    std::fs::write(&ffile, serde_json::to_string_pretty(&facts).unwrap()).unwrap();
    let out = std::process::Command::new(bin("tilsyn-collector"))
        .args(["standards", "test", "--standard"])
        .arg(sdir.join("planted.yaml"))
        .arg("--waivers")
        .arg(sdir.join("waivers.yaml"))
        .arg("--facts")
        .arg(&ffile)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (rule, state) in &expected {
        let row = table
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(rule))
            .unwrap_or_else(|| panic!("no row for {rule}:\n{table}"));
        assert!(
            row.trim_start().starts_with(&state.to_uppercase()),
            "{rule}: want {state}, row {row:?}\n{table}"
        );
    }
    agent.stop();
}

const STD: &str = "\
standard:
  id: reload-test
  title: Reload test
  version: '1'
  rules:
    - id: fw
      title: Firewall on
      severity: high
      check: {fact: firewall.enabled, equals: true}
";

fn status(c: &Collector) -> serde_json::Value {
    c.get("/api/v1/compliance/status")
}

#[test]
fn standards_reload_on_change_and_sighup_and_a_bad_file_keeps_the_previous_set() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let sdir = dir.path().join("standards");
    std::fs::create_dir_all(&sdir).unwrap();
    std::fs::write(sdir.join("a.yaml"), STD).unwrap();
    let c = Collector::start_with_standards(dir.path(), "", &sdir);
    assert_eq!(status(&c)["rules"], 1);

    // A broken edit: an unknown fact. The previous standard stays in use, the error shows.
    std::fs::write(
        sdir.join("a.yaml"),
        STD.replace("firewall.enabled", "firewall.enabld"),
    )
    .unwrap();
    let st = wait_for(Duration::from_secs(20), "reload error reported", || {
        let s = status(&c);
        s["error"].is_string().then_some(s)
    })
    .unwrap();
    let err = st["error"].as_str().unwrap();
    assert!(
        err.contains("a.yaml:9") && err.contains("rule fw: unknown fact `firewall.enabld`"),
        "{err}"
    );
    assert!(err.contains("did you mean `firewall.enabled`"), "{err}");
    assert_eq!(st["standards"][0][0], "reload-test");
    assert_eq!(st["rules"], 1);
    let m = c.metrics();
    assert!(
        exposition::has(&m, "tilsyn_standards_reload_failing 1"),
        "{m}"
    );
    assert!(
        exposition::has(&m, "tilsyn_standards_reloads_total{result=\"error\"}"),
        "{m}"
    );
    assert!(
        exposition::has(
            &m,
            "tilsyn_standards_rules{standard=\"reload-test\",version=\"1\"} 1"
        ),
        "{m}"
    );

    // Fixed, with a second rule: loaded, the error clears.
    let v2 = format!("{}    - id: enc\n      title: Encrypted\n      severity: high\n      check: {{fact: disk.encrypted, equals: true}}\n", STD.replace("version: '1'", "version: '2'"));
    std::fs::write(sdir.join("a.yaml"), &v2).unwrap();
    wait_for(Duration::from_secs(20), "fixed standard loaded", || {
        let s = status(&c);
        (s["error"].is_null() && s["rules"] == 2).then_some(())
    })
    .unwrap();
    assert!(exposition::has(
        &c.metrics(),
        "tilsyn_standards_reload_failing 0"
    ));

    // SIGHUP reloads too (the watcher would not notice a file it cannot see change).
    let before = reloads_ok(&c);
    let pid = c.proc.as_ref().unwrap().child.id();
    let st = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    wait_for(Duration::from_secs(20), "reload after SIGHUP", || {
        (reloads_ok(&c) > before).then_some(())
    })
    .unwrap();
}

fn reloads_ok(c: &Collector) -> u64 {
    exposition::value(
        &c.metrics(),
        r#"tilsyn_standards_reloads_total{result="ok"}"#,
    )
    .map_or(0, |v| v as u64)
}

#[test]
fn standards_validate_prints_every_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.yaml"), STD.replace("equals: true", "ge: '1.0'")).unwrap();
    std::fs::write(d.join("b.yaml"), "waivers:\n  - {id: W1, standard: nope, rule: fw, hosts: [x], reason: r, approved_by: a, expires: 2026-13-01}\n").unwrap();
    let out = std::process::Command::new(bin("tilsyn-collector"))
        .args(["standards", "validate"])
        .arg(d)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("a.yaml:9")
            && err.contains("`ge` cannot be used with `firewall.enabled`, a boolean"),
        "{err}"
    );
    assert!(
        err.contains("b.yaml:2") && err.contains("unknown standard \"nope\""),
        "{err}"
    );
    assert!(err.contains("not a date"), "{err}");
    // The shipped baselines are valid.
    let out = std::process::Command::new(bin("tilsyn-collector"))
        .args(["standards", "validate"])
        .arg(repo_root().join("configs/standards"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn standards_test_gives_the_verdict_on_recorded_facts_files() {
    let run = |facts: &str| {
        let out = std::process::Command::new(bin("tilsyn-collector"))
            .args(["standards", "test", "--at", "2026-11-22", "--standard"])
            .arg(repo_root().join("configs/standards/debian-server.yaml"))
            .arg("--waivers")
            .arg(repo_root().join("configs/standards/waivers.yaml"))
            .arg("--facts")
            .arg(repo_root().join("tests/fixtures/facts").join(facts))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, table) = run("debian-server-compliant.json");
    assert_eq!(code, Some(0), "{table}");
    assert!(
        table.contains("COMPLIANT") && table.contains("0 fail, 0 unknown"),
        "{table}"
    );
    let (code, table) = run("debian-server-noncompliant.json");
    assert_eq!(code, Some(1), "{table}");
    for want in [
        "FAIL           high     security-updates-applied              patch.security_update_age_days = 45 (wanted <= 14)",
        "FAIL           high     firewall-enabled                      firewall.enabled = false",
        "installed anydesk 6.3.2",
        "4 fail",
    ] {
        assert!(table.contains(want), "{want}\n{table}");
    }
}
