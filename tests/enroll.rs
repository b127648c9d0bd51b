//! Enrollment at install, as packages and config-management tools do it: the agent runs
//! with a config that names no collector, `tilsyn-agent enroll` hands it the collector, its
//! CA and the token (response file, environment), the running agent picks them up, and no
//! token stays on disk.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tilsyn_e2e::*;

fn enroll(config: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(bin("tilsyn-agent"));
    cmd.arg("enroll").arg("--config").arg(config).args(args);
    for k in [
        "TILSYN_COLLECTOR_URL",
        "TILSYN_COLLECTOR_CA",
        "TILSYN_COLLECTOR_SERVER_NAME",
        "TILSYN_ENROLL_TOKEN",
        "TILSYN_ENROLL_TOKEN_FILE",
    ] {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// An agent config as the package ships it: no collector, no token.
fn bare_config(dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("agent.yaml");
    std::fs::write(&p, "state_dir: state\noverrides:\n  health_interval: 5s\n").unwrap();
    p
}

#[test]
fn an_agent_installed_without_a_collector_enrolls_from_a_response_file() {
    let _slot = e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), "");
    let adir = dir.path().join("agent");
    let acfg = bare_config(&adir);
    let state = adir.join("state");

    // Started by the package before anyone enrolled it: it waits, it does not exit.
    let mut agent = Proc::spawn(
        &bin("tilsyn-agent"),
        &["run", "--config", acfg.to_str().unwrap()],
        adir.join("agent.log"),
    );
    wait_for(
        Duration::from_secs(20),
        "the agent waiting for a collector",
        || {
            agent
                .log_text()
                .contains("waiting for a collector")
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log_text()));
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "{}",
        agent.log_text()
    );

    // A response file dropped by the rollout tool, the CA relative to it.
    let ca = adir.join("collector-ca.pem");
    std::fs::copy(c.ca_file(), &ca).unwrap();
    let rf = adir.join("enroll.env");
    std::fs::write(
        &rf,
        format!(
            "# written by the rollout\nTILSYN_COLLECTOR_URL={}\nTILSYN_COLLECTOR_CA=collector-ca.pem\nTILSYN_ENROLL_TOKEN=\"{TOKEN}\"\n",
            c.grpc_url()
        ),
    )
    .unwrap();
    let (code, out) = enroll(&acfg, &["--response-file", rf.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("enrolled as "), "{out}");
    assert!(
        !rf.exists(),
        "the response file (with the token) is deleted"
    );
    assert!(
        !state.join("enroll.token").exists(),
        "no token stays on disk"
    );
    let given: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("collector.json")).unwrap())
            .unwrap();
    assert_eq!(given["url"], c.grpc_url().as_str());

    // The waiting agent picks the identity and the collector up and reports this machine.
    let id = this_host_online(&c, &agent);
    let hosts = c.get("/api/v1/hosts");
    assert_eq!(
        hosts["hosts"].as_array().unwrap().len(),
        1,
        "one enrollment, one host: {hosts}"
    );

    // Run again by the config-management tool, with the token in the environment: nothing
    // changes, and the token is not left behind.
    let (code, out) = enroll(
        &acfg,
        &[],
        &[
            ("TILSYN_ENROLL_TOKEN", TOKEN),
            ("TILSYN_COLLECTOR_URL", &c.grpc_url()),
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("already enrolled as {id}")), "{out}");
    assert!(!state.join("enroll.token").exists());
    agent.stop();
    let hosts = c.get("/api/v1/hosts");
    assert_eq!(hosts["hosts"].as_array().unwrap().len(), 1, "{hosts}");
}

#[test]
fn enrolling_while_the_collector_is_away_saves_everything_for_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let adir = dir.path().join("agent");
    let acfg = bare_config(&adir);
    let state = adir.join("state");
    let nobody = reserve_port();
    let url = format!("http://127.0.0.1:{}", nobody.port);

    // Without a token: a configuration error (78), named.
    let (code, out) = enroll(&acfg, &["--collector", &url, "--wait", "1s"], &[]);
    assert_eq!(code, Some(78), "{out}");
    assert!(out.contains("no enrollment token"), "{out}");

    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let (code, out) = enroll(
        &acfg,
        &["--wait", "2s"],
        &[
            ("TILSYN_COLLECTOR_URL", &url),
            ("TILSYN_ENROLL_TOKEN_FILE", token_file.to_str().unwrap()),
        ],
    );
    assert_eq!(code, Some(75), "{out}");
    assert!(
        out.contains("the agent service enrolls when the collector answers"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(state.join("enroll.token")).unwrap(),
        TOKEN
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(state.join("enroll.token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // https without the CA is refused before anything is saved over the earlier collector.
    let (code, out) = enroll(&acfg, &["--collector", "https://c.example:7443"], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("give the CA"), "{out}");
    let given = std::fs::read_to_string(state.join("collector.json")).unwrap();
    assert!(given.contains(&url), "{given}");
}
