//! The benchmark scripts in tests/bench/ (agent footprint, fault to ticket, ingest, the
//! collector's restart, the console's pages) in their smoke mode (`SMOKE=1`, see
//! tests/bench/common.sh): a few seconds each, a handful of hosts, the debug binaries this
//! harness builds (`BIN_DIR`) and reserved loopback ports, so a change that breaks a benchmark
//! fails here instead of when someone next wants its figures. The figures themselves mean
//! nothing in smoke mode; only that the script ran and printed them is checked.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tilsyn_e2e::{bin, e2e_slot, repo_root, reserve_port};

/// A smoke run takes 5–15 s; past this it is stuck.
const LIMIT: Duration = Duration::from_secs(120);

/// Sends `signal` to every process of the group `pgid`; true if there was one.
fn signal_group(pgid: u32, signal: &str) -> bool {
    Command::new("kill")
        .args([signal, "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Runs `tests/bench/<script>` with `SMOKE=1`, the debug binaries and a reserved port for each
/// of `ports` (env var names), in its own process group: stopped (the group, so the
/// processes it started too) after [`LIMIT`]. Asserts exit 0, that nothing it started is
/// left running, and that stdout contains each of `expect`; returns stdout.
fn smoke(script: &str, ports: &[&str], expect: &[&str]) -> String {
    smoke_env(script, &[], ports, expect)
}

/// [`smoke`] with more environment variables for the script.
fn smoke_env(script: &str, env: &[(&str, &str)], ports: &[&str], expect: &[&str]) -> String {
    let _slot = e2e_slot();
    let bin_dir = bin("tilsyn-collector").parent().unwrap().to_path_buf();
    assert!(bin("tilsyn-agent").is_file());
    let tmp = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (tmp.path().join("stdout"), tmp.path().join("stderr"));
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("tests/bench").join(script))
        .env("SMOKE", "1")
        .env("BIN_DIR", &bin_dir)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .process_group(0);
    // Held until the script has finished.
    let _leases: Vec<_> = ports
        .iter()
        .map(|var| {
            let lease = reserve_port();
            cmd.env(var, lease.port.to_string());
            lease
        })
        .collect();
    let started = Instant::now();
    let mut child = cmd.spawn().expect("run bash");
    let pgid = child.id();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if started.elapsed() > LIMIT {
            // SIGTERM lets the script's trap stop what it started; then make sure.
            signal_group(pgid, "-TERM");
            std::thread::sleep(Duration::from_secs(5));
            signal_group(pgid, "-KILL");
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // The script's exit trap must have stopped everything it started.
    let leftovers = signal_group(pgid, "-KILL");
    let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    let (stdout, stderr) = (read(&out_path), read(&err_path));
    let report = format!(
        "tests/bench/{script} (SMOKE=1, BIN_DIR={}) after {:.1} s\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        bin_dir.display(),
        started.elapsed().as_secs_f64()
    );
    let Some(status) = status else {
        panic!("timed out after {LIMIT:?}, stopped\n{report}")
    };
    assert!(status.success(), "exited with {status}\n{report}");
    assert!(
        !leftovers,
        "left processes running after it exited\n{report}"
    );
    for e in expect {
        assert!(stdout.contains(e), "no {e:?} in its output\n{report}");
    }
    println!("{report}");
    stdout
}

#[test]
fn agent_footprint() {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let exporter = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .any(|d| d.join("prometheus-node-exporter").is_file());
    assert!(
        exporter,
        "`prometheus-node-exporter` is not installed on this machine: install Debian's \
         prometheus-node-exporter package (`apt-get install prometheus-node-exporter`); \
         .ci/run does this"
    );
    smoke(
        "agent-footprint.sh",
        &["BENCH_GRPC_PORT", "BENCH_HTTP_PORT", "BENCH_EXPORTER_PORT"],
        &[
            "run: 5 s, health every 5 s (1 cycles), node_exporter scraped ",
            "tilsyn-agent   RSS ",
            " ms per health cycle\n",
            "node_exporter  RSS ",
            " ms per scrape\n",
            "binary: tilsyn-agent ",
        ],
    );
}

#[test]
fn incidents() {
    let out = smoke(
        "incidents.sh",
        &["BENCH_GRPC_PORT", "BENCH_HTTP_PORT", "BENCH_DESK_PORT"],
        &[
            "== 20 simulated hosts for 8 s, 100 % filling a disk, on sqlite with 1 collector(s)\n",
            " p50=",
            "== fault to desk",
            "tilsyn_incident_fault_to_desk_seconds_count ",
            "tilsyn_ingest_duration_seconds_count ",
            "incidents open: ",
        ],
    );
    // Every simulated host crosses the smoke threshold on its first report.
    let tickets = out
        .lines()
        .find(|l| l.starts_with("tickets "))
        .unwrap_or_else(|| panic!("no tickets reached the desk:\n{out}"));
    assert!(
        tickets.contains(" p50 ") && tickets.contains(" p99 ") && tickets.contains(" max "),
        "{tickets}"
    );
}

/// Fault to ticket across two collectors on PostgreSQL: reports that reach the follower
/// open their tickets through the leader.
#[test]
fn incidents_postgres_two_collectors() {
    let out = smoke_env(
        "incidents.sh",
        &[("STORE", "postgres"), ("COLLECTORS", "2")],
        &["BENCH_GRPC_PORT", "BENCH_HTTP_PORT", "BENCH_DESK_PORT"],
        &[
            "== 20 simulated hosts for 8 s, 100 % filling a disk, on postgres with 2 collector(s)\n",
            "-- collector 2",
            " (leader)\n",
            "incidents open: 20\n",
        ],
    );
    assert!(
        out.contains("tickets 20 "),
        "every host's ticket, once:\n{out}"
    );
}

/// The ingest benchmark on PostgreSQL with two collectors sharing it.
#[test]
fn ingest_postgres_two_collectors() {
    smoke_env(
        "ingest.sh",
        &[("STORE", "postgres"), ("COLLECTORS", "2")],
        &["BENCH_GRPC_PORT", "BENCH_HTTP_PORT"],
        &[
            "== 20 simulated hosts for 6 s (ramp 2 s) on postgres with 2 collector(s)\n",
            "-- collector 2\n",
            "server-side ingest latency over ",
            "hosts known: 20\n",
            "db: PostgreSQL data directory",
        ],
    );
}

/// The ingest benchmark with a connection per simulated host, closed when idle (as agents
/// do); the PostgreSQL one above shares a few connections between the hosts.
#[test]
fn ingest() {
    smoke_env(
        "ingest.sh",
        &[("CONNECTIONS", "20"), ("IDLE_TIMEOUT", "1s")],
        &["BENCH_GRPC_PORT", "BENCH_HTTP_PORT"],
        &[
            "== 20 simulated hosts for 6 s (ramp 2 s) on sqlite with 1 collector(s)\n",
            " p50=",
            "server-side ingest latency over ",
            "collector RSS: ",
            "ingested health: ",
            "collector CPU: ",
            " us per report\n",
            "connections: at most ",
            "hosts known: 20\n",
            "db: ",
        ],
    );
}

#[test]
fn restart() {
    smoke(
        "restart.sh",
        &["BENCH_GRPC_PORT", "BENCH_HTTP_PORT"],
        &[
            "== 10 simulated hosts, health every 5 s, offline after 2 missed; collector stop for 6 s\n",
            // Counted before the grace ends in smoke mode: the zeros would prove nothing
            // (tests/gap.rs checks them), so only the lines are expected.
            "hosts online after the restart: ",
            "offline incidents raised after the restart: ",
            "desk tickets created after the restart: ",
            "gap recorded: ",
            "log: the collector was not running for",
        ],
    );
}

#[test]
fn console() {
    smoke(
        "console.sh",
        &["BENCH_GRPC_PORT", "BENCH_HTTP_PORT"],
        &[
            "== 20 hosts in the store; timing 3 requests per page",
            "fleet                                  p50 ",
            "search: software                       p50 ",
            "rule: failing hosts                    p50 ",
            "SLA, this month                        p50 ",
            "collector RSS ",
        ],
    );
}
