//! Compliance benchmark: full re-evaluation of a large fleet and the incremental cost of one
//! host's changed facts.
//!
//! `cargo bench -p tilsyn-collector --bench compliance [-- HOSTS]` (default 100000).
//! Every host is checked against a 60-rule standard made of the shipped baselines' real
//! rules (configs/standards, selectors dropped so all 60 apply), plus the shipped
//! baselines themselves. Facts are generated like the agent simulator's fleet: most hosts
//! comply, a few deviate. Prints timings; asserts nothing about speed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tilsyn_collector_core::compliance::engine::Memory;
use tilsyn_collector_core::compliance::facts::{HostContext, HostInputs};
use tilsyn_collector_core::compliance::standard::StandardSet;
use tilsyn_proto::v1::{Facts, Inventory, OsInfo, Package, PatchLevel, SoftwareList, StringList};

const DAY: i64 = 86_400_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pct(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
}

/// One standard of exactly 60 rules taken from the shipped baselines.
fn sixty_rule_standard(dir: &Path) -> String {
    let mut rules: Vec<serde_yaml::Value> = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
    {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        if let Some(rs) = doc["standard"]["rules"].as_sequence() {
            rules.extend(rs.iter().cloned());
        }
    }
    assert!(!rules.is_empty(), "no shipped rules in {}", dir.display());
    let mut out = Vec::new();
    for i in 0..60 {
        let mut r = rules[i % rules.len()].clone();
        let m = r.as_mapping_mut().unwrap();
        m.remove("applies_to");
        m.insert("id".into(), format!("r{i:02}").into());
        out.push(r);
    }
    let doc = serde_yaml::to_string(&serde_yaml::Value::Sequence(out)).unwrap();
    let indented: String = doc.lines().map(|l| format!("    {l}\n")).collect();
    format!("standard:\n  id: bench-60\n  title: Sixty shipped rules\n  version: '1'\n  rules:\n{indented}")
}

fn host(i: usize, rng: &mut Rng, now: i64) -> HostInputs {
    let kind = i % 10;
    let (family, id, version, class) = match kind {
        0..=5 => ("windows", "windows", "10.0.22631", "workstation"),
        6 => ("macos", "macos", "14.6.1", "workstation"),
        7 => ("linux", "ubuntu", "24.04", "workstation"),
        8 => ("linux", "debian", "12", "server"),
        _ => ("linux", "rhel", "9.4", "server"),
    };
    let src = match id {
        "windows" => "windows-registry",
        "macos" => "macos-app",
        "rhel" => "rpm",
        _ => "dpkg",
    };
    let mut packages: Vec<Package> = (0..150)
        .map(|k| Package {
            name: format!("component-{k}"),
            version: format!("1.{k}.0"),
            arch: "x86_64".into(),
            source: src.into(),
        })
        .collect();
    for (n, v) in [
        ("openssh-server", "1:9.2p1-2"),
        ("auditd", "1:3.0.9-1"),
        ("unattended-upgrades", "2.9.1"),
        ("audit", "3.1.2-2.el9"),
    ] {
        packages.push(Package {
            name: n.into(),
            version: v.into(),
            arch: "x86_64".into(),
            source: src.into(),
        });
    }
    if rng.pct(4) {
        packages.push(Package {
            name: "TeamViewer".into(),
            version: "15.59.3".into(),
            arch: "x86_64".into(),
            source: src.into(),
        });
    }
    let list = |v: &[&str]| {
        Some(StringList {
            values: v.iter().map(|s| s.to_string()).collect(),
        })
    };
    HostInputs {
        ctx: HostContext {
            agent_id: format!("agent-{i:06}"),
            hostname: format!("host-{i:06}"),
            department: ["social-services", "schools", "it-operations", "culture"][i % 4].into(),
            class: class.into(),
            labels: Default::default(),
        },
        inventory: Some(Inventory {
            hostname: format!("host-{i:06}"),
            os: Some(OsInfo {
                family: family.into(),
                id: id.into(),
                version: version.into(),
                build: "22631.4460".into(),
                ..Default::default()
            }),
            kernel_version: "6.1.0-27-amd64".into(),
            agent_version: "0.1.0".into(),
            boot_time_ms: Some(now - (i as i64 % 30) * DAY),
            ..Default::default()
        }),
        software: Some(SoftwareList {
            content_hash: "x".into(),
            packages,
        }),
        patches: Some(PatchLevel {
            manager: "apt".into(),
            pending_count: 3,
            pending_security_count: 1,
            oldest_security_since_ms: Some(now - (rng.next() % 30) as i64 * DAY),
            last_refresh_ms: Some(now - DAY),
            reboot_required: rng.pct(10),
            ..Default::default()
        }),
        facts: Some(Facts {
            content_hash: "f".into(),
            auto_updates_enabled: Some(rng.pct(90)),
            disk_encrypted: Some(rng.pct(92)),
            firewall_enabled: Some(rng.pct(96)),
            screen_lock_timeout_seconds: Some([300, 600, 900, 0][i % 4]),
            antivirus_realtime: Some(rng.pct(97)),
            antivirus_product: "Microsoft Defender Antivirus".into(),
            antivirus_signature_age_days: Some((rng.next() % 4) as u32),
            ssh_server_installed: Some(class == "server"),
            ssh_permit_root_login: if class == "server" {
                "no".into()
            } else {
                String::new()
            },
            ssh_password_authentication: (class == "server").then(|| rng.pct(10)),
            local_admins: list(&["root", "Administrator", "itadmin"]),
            time_synchronized: Some(rng.pct(98)),
            time_source: "ntp.corp.example".into(),
            secure_boot: Some(rng.pct(90)),
            running_services: list(&["cron", "rsyslog", "chrony", "sshd", "WinDefend", "mpssvc"]),
            ..Default::default()
        }),
    }
}

fn rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    s.split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<f64>().ok())
        .unwrap_or(0.0)
        * 4096.0
        / 1048576.0
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/standards");
    let mut sources: Vec<(PathBuf, String)> = vec![(
        PathBuf::from("bench-60.yaml"),
        sixty_rule_standard(&shipped),
    )];
    let set60 = Arc::new(
        StandardSet::from_sources(Path::new("."), &sources).unwrap_or_else(|e| panic!("{e}")),
    );
    for f in std::fs::read_dir(&shipped)
        .unwrap()
        .map(|e| e.unwrap().path())
    {
        if f.extension().is_some_and(|e| e == "yaml") {
            sources.push((f.clone(), std::fs::read_to_string(&f).unwrap()));
        }
    }
    let set_all = Arc::new(
        StandardSet::from_sources(Path::new("."), &sources).unwrap_or_else(|e| panic!("{e}")),
    );
    println!(
        "hosts: {n}, threads: {threads}; bench-60 standard: {} rules; with shipped baselines: {} standards, {} rules",
        set60.rule_count(),
        set_all.standards.len(),
        set_all.rule_count()
    );
    let now = 1_795_000_000_000i64;
    let mut rng = Rng(42);
    let rss0 = rss_mib();
    for (label, set) in [
        ("bench-60 only", set60),
        ("bench-60 + shipped baselines", set_all),
    ] {
        let mut mem = Memory::new(set.clone());
        let t = Instant::now();
        let mut inputs_build = std::time::Duration::ZERO;
        for i in 0..n {
            let inp = host(i, &mut rng, now);
            let t1 = Instant::now();
            let f = mem.facts_from(&inp);
            inputs_build += t1.elapsed();
            mem.hosts.entry(inp.ctx.agent_id.clone()).or_default().facts = f;
        }
        println!("\n[{label}]");
        println!(
            "  facts from sections: {:.1} µs/host (generation included: {:.2} s)",
            inputs_build.as_secs_f64() * 1e6 / n as f64,
            t.elapsed().as_secs_f64()
        );
        // The sink stands for the store: it renders nothing more, it only counts rows.
        let rows = std::sync::atomic::AtomicUsize::new(0);
        let sink = |c: tilsyn_collector_core::compliance::engine::Changes| {
            rows.fetch_add(c.upserts.len(), std::sync::atomic::Ordering::Relaxed);
        };
        let mut full = |what: &str, at: i64, threads: usize| {
            rows.store(0, std::sync::atomic::Ordering::Relaxed);
            let t = Instant::now();
            let transitions = mem.reevaluate_all(at, threads, &sink);
            println!(
                "  {what}: {:.3} s ({} rows to write, {transitions} transitions, {threads} threads)",
                t.elapsed().as_secs_f64(),
                rows.load(std::sync::atomic::Ordering::Relaxed)
            );
        };
        full("first full evaluation", now, threads);
        full("full re-evaluation, nothing changed", now + 60_000, threads);
        full(
            "full re-evaluation a day later (patch ages move)",
            now + DAY,
            threads,
        );
        full("full re-evaluation, nothing changed", now + DAY + 60_000, 1);
        // Incremental: one host's facts change (firewall switched off), evaluated alone.
        let k = 10_000.min(n);
        let changed: Vec<_> = (0..k)
            .map(|i| {
                let mut inp = host(i * (n / k), &mut rng, now);
                inp.facts.as_mut().unwrap().firewall_enabled = Some(false);
                let f = mem.facts_from(&inp);
                (inp.ctx.agent_id.clone(), f)
            })
            .collect();
        let standards_per_host =
            mem.hosts.values().map(|e| e.results.len()).sum::<usize>() as f64 / n as f64;
        let t = Instant::now();
        let mut rows = 0;
        for (id, f) in changed {
            rows += mem.update_host(&id, f, now + DAY).upserts.len();
        }
        let per_host = t.elapsed().as_secs_f64() * 1e6 / k as f64;
        println!(
            "  incremental, one host's changed facts: {per_host:.1} µs/host, {:.1} µs/host/standard ({standards_per_host:.2} standards per host, {rows} rows)",
            per_host / standards_per_host
        );
        println!("  RSS: {:.0} MiB (started at {rss0:.0} MiB)", rss_mib());
    }
}
