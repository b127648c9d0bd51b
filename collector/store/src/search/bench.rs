//! How fast the host search answers at fleet size: an ignored test, run by hand in a
//! release build (timings are printed, never asserted):
//!
//! ```text
//! cargo test --release -p tilsyn-collector-store -- --ignored search_at_fleet_size --nocapture
//! ```
//!
//! It fills a temporary SQLite database through the real ingest path with synthetic hosts
//! shaped like the agent's simulator (`agent/src/simulate.rs`: 80 % workstations, mostly
//! Windows; the base applications of the host's OS at 75 %, remote-control tools at 4 %,
//! 40 to 240 library packages; up to 15 pending updates, 40 servers', 40 % of them
//! security), then times pages, counts and version counts for typical searches.
//! `TILSYN_BENCH_HOSTS` sets the fleet (default 100,000); `TILSYN_BENCH_DB` keeps the
//! database at that path and reuses it when it exists; `TILSYN_BENCH_PG=1` runs the same
//! on the test's private PostgreSQL instead, `TILSYN_BENCH_PG_URL` on that database
//! (filled when it holds no host).

use std::time::{Duration, Instant};

use tilsyn_proto::v1::report::Body;
use tilsyn_proto::v1::{
    Hardware, Inventory, NetInterface, OsInfo, Package, PatchLevel, PendingUpdate, SoftwareList,
};

use crate::tests::{batch, rep};
use crate::*;

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

const WIN: &[(&str, &[&str])] = &[
    ("Microsoft Edge", &["131.0.2903.51", "130.0.2849.80"]),
    ("Google Chrome", &["131.0.6778.86", "130.0.6723.117"]),
    (
        "Mozilla Firefox (x64 en-US)",
        &["133.0", "128.5.0esr", "115.17.0esr"],
    ),
    (
        "Microsoft 365 Apps for enterprise - da-dk",
        &["16.0.18129.20158", "16.0.17928.20216", "16.0.14326.20454"],
    ),
    ("Microsoft Teams", &["24295.605.3225.8804"]),
    ("7-Zip 24.08 (x64)", &["24.08"]),
    ("Adobe Acrobat Reader (64-bit)", &["24.004.20272"]),
    ("VLC media player", &["3.0.21"]),
    ("Notepad++ (64-bit x64)", &["8.7.1"]),
    ("Zoom Workplace", &["6.2.11"]),
    ("TeamViewer", &["15.59.3"]),
    ("AnyDesk", &["8.1.0"]),
    ("Cisco Secure Client - AnyConnect VPN", &["5.1.6.103"]),
    (
        "Microsoft Visual C++ 2015-2022 Redistributable (x64)",
        &["14.40.33810.0"],
    ),
    ("Citrix Workspace 2409", &["24.9.0.133"]),
    ("KMD Nexus Klient", &["2024.3.1"]),
    ("Java 8 Update 431", &["8.0.4310.10"]),
    ("Python 3.12.7 (64-bit)", &["3.12.7150.0"]),
];
const DEB: &[(&str, &[&str])] = &[
    ("openssh-server", &["1:9.2p1-2+deb12u3"]),
    ("openssl", &["3.0.15-1~deb12u1", "3.0.14-1~deb12u2"]),
    ("bash", &["5.2.15-2+b7"]),
    ("systemd", &["252.31-1~deb12u1"]),
    ("nginx", &["1.22.1-9+deb12u1"]),
    ("postgresql-15", &["15.8-0+deb12u1"]),
    ("curl", &["7.88.1-10+deb12u8"]),
    ("sudo", &["1.9.13p3-1+deb12u1"]),
    ("rsyslog", &["8.2302.0-1"]),
    ("chrony", &["4.3-2+deb12u1"]),
    ("unattended-upgrades", &["2.9.1+nmu3"]),
    ("auditd", &["1:3.0.9-1"]),
    ("python3", &["3.11.2-1+b1"]),
    ("libc6", &["2.36-9+deb12u9"]),
    ("tzdata", &["2024a-0+deb12u1"]),
    ("xrdp", &["0.9.21.1-1"]),
    ("samba", &["2:4.17.12+dfsg-0+deb12u1"]),
    ("apache2", &["2.4.62-1~deb12u2"]),
];
const RPM: &[(&str, &[&str])] = &[
    ("openssh-server", &["8.7p1-38.el9_4.4"]),
    ("openssl", &["1:3.0.7-27.el9"]),
    ("bash", &["5.1.8-9.el9"]),
    ("systemd", &["252-32.el9_4.7"]),
    ("kernel-core", &["5.14.0-427.42.1.el9_4"]),
    ("httpd", &["2.4.57-11.el9_4.1"]),
    ("postgresql-server", &["13.16-1.el9_4"]),
    ("curl", &["7.76.1-29.el9_4.1"]),
    ("sudo", &["1.9.5p2-10.el9_3"]),
    ("chrony", &["4.5-1.el9"]),
    ("dnf-automatic", &["4.14.0-9.el9"]),
    ("audit", &["3.1.2-2.el9"]),
    ("firewalld", &["1.3.4-1.el9"]),
    ("glibc", &["2.34-100.el9_4.4"]),
    ("tzdata", &["2024b-2.el9"]),
];
const MAC: &[(&str, &[&str])] = &[
    ("Safari", &["18.1"]),
    ("Google Chrome", &["131.0.6778.86"]),
    ("Microsoft Word", &["16.91"]),
    ("Microsoft Outlook", &["16.91"]),
    ("Microsoft Teams", &["24295.606.3238.6194"]),
    ("Slack", &["4.41.98"]),
    ("zoom.us", &["6.2.11"]),
    ("Keynote", &["14.2"]),
    ("Xcode", &["16.1"]),
    ("Visual Studio Code", &["1.95.3"]),
];
const DEPARTMENTS: &[(&str, &str)] = &[
    ("adm", "administration"),
    ("soc", "social"),
    ("sko", "schools"),
    ("tek", "technical"),
    ("kul", "culture"),
    ("oko", "finance"),
];

/// Host `i`: its department and the reports of its first connection.
fn host(i: usize) -> (String, String, Vec<Body>) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let server = rng.below(100) < 20;
    let (family, apps, manager) = if server {
        *rng.pick(&[
            ("linux", DEB, "apt"),
            ("linux", DEB, "apt"),
            ("linux", RPM, "dnf"),
            ("linux", RPM, "dnf"),
            ("windows", WIN, "windows-update"),
        ])
    } else {
        *rng.pick(&[
            ("windows", WIN, "windows-update"),
            ("windows", WIN, "windows-update"),
            ("windows", WIN, "windows-update"),
            ("windows", WIN, "windows-update"),
            ("macos", MAC, "softwareupdate"),
            ("linux", DEB, "apt"),
        ])
    };
    let (word, department) = DEPARTMENTS[i % DEPARTMENTS.len()];
    let hostname = format!("{}-{word}-{i:06}", if server { "srv" } else { "ws" });
    let inventory = Inventory {
        content_hash: format!("inv{i}"),
        hostname: hostname.clone(),
        fqdn: format!("{hostname}.corp.example.dk"),
        os: Some(OsInfo {
            family: family.into(),
            ..Default::default()
        }),
        hardware: Some(Hardware {
            vendor: "LENOVO".into(),
            model: "21HD0053MX".into(),
            serial: format!("SIM{i:08X}"),
            ..Default::default()
        }),
        interfaces: vec![NetInterface {
            name: "eth0".into(),
            mac: format!(
                "02:00:{:02x}:{:02x}:{:02x}:{:02x}",
                (i >> 24) & 0xff,
                (i >> 16) & 0xff,
                (i >> 8) & 0xff,
                i & 0xff
            ),
            addresses: vec![format!(
                "10.{}.{}.{}/16",
                20 + i % 6,
                (i >> 8) & 0xff,
                i & 0xff
            )],
        }],
        ..Default::default()
    };
    let mut packages: Vec<Package> = Vec::new();
    for (name, versions) in apps {
        let p = if matches!(*name, "TeamViewer" | "AnyDesk") {
            4
        } else {
            75
        };
        if rng.below(100) < p {
            packages.push(Package {
                name: name.to_string(),
                version: rng.pick(versions).to_string(),
                arch: "x86_64".into(),
                source: manager.into(),
            });
        }
    }
    for k in 0..40 + rng.below(200) {
        packages.push(Package {
            name: format!(
                "lib{}-component{k}",
                ["ssl", "xml", "gtk", "z", "curl", "nss"][k as usize % 6]
            ),
            version: format!("{}.{}.{}", 1 + rng.below(4), rng.below(20), rng.below(10)),
            arch: "x86_64".into(),
            source: manager.into(),
        });
    }
    let software = SoftwareList {
        content_hash: format!("sw{i}"),
        packages,
    };
    let updates: Vec<PendingUpdate> = (0..rng.below(if server { 40 } else { 15 }) as usize)
        .map(|k| {
            let (name, versions) = apps[(i + k) % apps.len()];
            PendingUpdate {
                name: name.into(),
                current_version: versions[0].into(),
                new_version: format!("{}.1", versions[0]),
                security: rng.below(100) < 40,
                origin: "updates".into(),
                since_ms: Some(1_700_000_000_000),
            }
        })
        .collect();
    let patches = PatchLevel {
        manager: manager.into(),
        pending_count: updates.len() as u32,
        pending_security_count: updates.iter().filter(|u| u.security).count() as u32,
        updates,
        ..Default::default()
    };
    (
        hostname,
        department.to_string(),
        vec![
            Body::Inventory(inventory),
            Body::Software(software),
            Body::Patches(patches),
        ],
    )
}

fn populate(s: &SqlStore, hosts: usize) {
    let started = Instant::now();
    let mut rows = 0usize;
    for start in (0..hosts).step_by(500) {
        let mut batches = Vec::new();
        for i in start..(start + 500).min(hosts) {
            let (hostname, department, bodies) = host(i);
            let id = format!("ag_{i:032x}");
            s.enroll(&NewAgent {
                agent_id: id.clone(),
                secret_hash: "h".into(),
                department,
                class: if hostname.starts_with("srv") {
                    "server".into()
                } else {
                    "workstation".into()
                },
                class_source: "rule".into(),
                hostname,
                machine_id: String::new(),
                agent_version: "0".into(),
                labels_json: "{}".into(),
                health_interval_s: 60,
                enrolled_at_ms: 1,
            })
            .unwrap();
            if let Body::Software(sw) = &bodies[1] {
                rows += sw.packages.len();
            }
            let reports = bodies
                .into_iter()
                .zip(1..)
                .map(|(b, seq)| rep(seq, b))
                .collect();
            batches.push(batch(&id, reports));
        }
        s.ingest(&batches, 1_000).unwrap();
        if (start + 500) % 10_000 == 0 {
            eprintln!(
                "  {} hosts, {rows} packages, {:.0} s",
                start + 500,
                started.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "filled {hosts} hosts ({rows} packages, {:.1} per host) through ingest in {:.1} s",
        rows as f64 / hosts as f64,
        started.elapsed().as_secs_f64()
    );
}

/// The fastest and the median of `runs` calls.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let mut times = Vec::new();
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        out = Some(f());
        times.push(t.elapsed());
    }
    times.sort();
    (times[0], times[runs / 2], out.expect("runs > 0"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[test]
#[ignore = "a benchmark: minutes, and gigabytes on disk; run by hand with --release"]
fn search_at_fleet_size() {
    let hosts: usize = std::env::var("TILSYN_BENCH_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let (s, fresh) = if let Ok(url) = std::env::var("TILSYN_BENCH_PG_URL") {
        let s = crate::postgres::open(&crate::postgres::PostgresConfig {
            url: Some(url),
            ..Default::default()
        })
        .unwrap();
        let empty = s.count_hosts(&HostFilter::default()).unwrap() == 0;
        (s, empty)
    } else if std::env::var("TILSYN_BENCH_PG").is_ok_and(|v| v == "1") {
        let cfg = crate::pg_server::shared().unwrap().new_database().unwrap();
        (crate::postgres::open(&cfg).unwrap(), true)
    } else {
        let path = std::env::var("TILSYN_BENCH_DB")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| dir.path().join("bench.db"));
        let fresh = !path.exists();
        let opened = Instant::now();
        let s = crate::sqlite::open(&path).unwrap();
        // An existing database at an older version is upgraded (and its search rows
        // built) here.
        eprintln!("opened in {:.1} s", opened.elapsed().as_secs_f64());
        (s, fresh)
    };
    if fresh {
        populate(&s, hosts);
        if s.db.read(|c| Ok(c.engine())).unwrap() == crate::sql::Engine::Postgres {
            s.raw("ANALYZE").unwrap();
        }
    }
    let counted: i64 = s.host_counts().unwrap().iter().map(|c| c.hosts).sum();
    let rows: i64 =
        s.db.read(|c| c.query_value("SELECT COUNT(*) FROM host_software", &[]))
            .unwrap();
    eprintln!(
        "{}: {counted} hosts, {rows} host_software rows, {:.0} MB",
        s.describe(),
        s.size_bytes().unwrap() as f64 / 1e6
    );
    let schools = vec!["schools".to_string()];
    let f = |software: Option<&str>, version: Option<&str>| HostFilter {
        software: software.map(Into::into),
        software_version: version.map(Into::into),
        limit: 50,
        ..Default::default()
    };
    let searches: Vec<(&str, HostFilter)> = vec![
        ("no filter", f(None, None)),
        ("software firefox", f(Some("firefox"), None)),
        ("software firefox 115.", f(Some("firefox"), Some("115."))),
        ("software teamviewer", f(Some("teamviewer"), None)),
        ("software microsoft", f(Some("microsoft"), None)),
        ("software libssl (every host)", f(Some("libssl"), None)),
        ("software \"a\" (one letter)", f(Some("a"), None)),
        (
            "software 365 apps 16.0.14, schools reader",
            HostFilter {
                departments: Some(schools.clone()),
                ..f(Some("365 apps"), Some("16.0.14"))
            },
        ),
        (
            "software firefox, page at offset 20,000",
            HostFilter {
                offset: 20_000,
                ..f(Some("firefox"), None)
            },
        ),
        (
            "update openssl, security",
            HostFilter {
                update: Some("openssl".into()),
                security_only: true,
                ..f(None, None)
            },
        ),
        (
            "update microsoft",
            HostFilter {
                update: Some("microsoft".into()),
                ..f(None, None)
            },
        ),
        (
            "update \"e\" (one letter)",
            HostFilter {
                update: Some("e".into()),
                ..f(None, None)
            },
        ),
        (
            "any security update",
            HostFilter {
                security_only: true,
                ..f(None, None)
            },
        ),
        (
            "text hostname prefix ws-sko-0012",
            HostFilter {
                text: Some("ws-sko-0012".into()),
                ..f(None, None)
            },
        ),
        (
            "text serial",
            HostFilter {
                text: Some(format!("SIM{:08X}", hosts / 3)),
                ..f(None, None)
            },
        ),
        (
            "text IP address",
            HostFilter {
                text: Some(format!(
                    "10.{}.{}.{}",
                    20 + (hosts / 7) % 6,
                    ((hosts / 7) >> 8) & 0xff,
                    (hosts / 7) & 0xff
                )),
                ..f(None, None)
            },
        ),
        (
            "department + class + software chrome",
            HostFilter {
                department: Some("schools".into()),
                class: Some("workstation".into()),
                ..f(Some("chrome"), None)
            },
        ),
    ];
    eprintln!(
        "\n{:<44} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "search (page of 50)", "page min", "page med", "count min", "count med", "hosts"
    );
    for (name, filter) in &searches {
        let (pmin, pmed, page) = time(5, || s.list_hosts(filter).unwrap());
        let (cmin, cmed, n) = time(5, || s.count_hosts(filter).unwrap());
        assert!(page.len() as u64 <= n);
        eprintln!(
            "{name:<44} {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>7.1}ms {n:>8}",
            ms(pmin),
            ms(pmed),
            ms(cmin),
            ms(cmed)
        );
    }
    eprintln!(
        "\n{:<44} {:>9} {:>9} {:>8}",
        "software_versions", "min", "median", "rows"
    );
    for (name, depts) in [
        ("firefox", None),
        ("microsoft 365", Some(schools.as_slice())),
        ("teamviewer", None),
        ("openssl", None),
        ("microsoft", None),
        ("libssl-component1", None),
        ("lib (most packages of every host)", None),
    ] {
        let text = name.split(' ').next().unwrap_or(name);
        let (min, med, rows) = time(3, || s.software_versions(text, depts, 1000).unwrap());
        eprintln!(
            "{:<44} {:>7.1}ms {:>7.1}ms {:>8}",
            format!("{name}{}", if depts.is_some() { ", schools" } else { "" }),
            ms(min),
            ms(med),
            rows.len()
        );
    }
    if s.db.read(|c| Ok(c.engine())).unwrap() == crate::sql::Engine::Sqlite {
        for (name, filter) in &searches[1..] {
            let plan: Vec<String> =
                s.db.read(|c| {
                    let mut args = Vec::new();
                    let w = super::host_where(c, filter, &mut args)?;
                    let args: Vec<&dyn crate::sql::ToParam> =
                        args.iter().map(|v| v as &dyn crate::sql::ToParam).collect();
                    let sql = format!(
                        "SELECT host_no FROM {} WHERE {w} ORDER BY hostname, agent_id LIMIT 50",
                        super::hosts_from(c)
                    );
                    let mut plan = vec![sql.clone()];
                    plan.extend(
                        c.query_map(&format!("EXPLAIN QUERY PLAN {sql}"), &args, |r| {
                            r.get::<String>(3)
                        })?,
                    );
                    Ok(plan)
                })
                .unwrap();
            eprintln!("\n{name}: {}", plan.join("\n  "));
        }
    }
}
