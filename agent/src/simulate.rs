//! A fleet simulator: N virtual hosts with varied, realistic inventories, software, patch
//! states and health across departments and classes. Each host enrolls and reports through
//! the same runner, spool (in memory) and client code as the real agent; some hosts go
//! offline for a while and some degrade (a filesystem filling up, memory pressure).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tilsyn_proto::v1::{
    report::Body, AgentSettings, Disk, EnrollRequest, Facts, FilesystemUsage, Hardware, Health,
    Inventory, NetInterface, OsInfo, Package, PatchLevel, PendingUpdate, Report, ServiceStatus,
    SoftwareList, StringList,
};
use tokio::time::Instant;

use crate::config::Overrides;
use crate::probes::{Collected, ProbeKind, Source};
use crate::runner::Runner;
use crate::spool::Spool;
use crate::transport::{self, CallStats, Client, Target};

/// Simulation parameters.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub hosts: usize,
    /// Enrollment tokens; hosts are spread over them (one token = one department).
    pub tokens: Vec<String>,
    /// Percentage of hosts that go offline for a while, periodically.
    pub offline_percent: u32,
    /// Percentage of hosts whose health degrades over time.
    pub degrade_percent: u32,
    /// Spread the first report of all hosts over this long.
    pub ramp: Duration,
    /// How long to run (None = until Ctrl-C).
    pub duration: Option<Duration>,
    pub stats_every: Duration,
    pub seed: u64,
    /// Concurrent enrollments.
    pub enroll_concurrency: usize,
    /// Number of HTTP/2 connections the fleet shares.
    pub connections: usize,
    /// Most report calls in flight at once across the fleet.
    pub max_in_flight: usize,
}

/// splitmix64: small, fast, deterministic per host.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Family {
    Windows,
    Debian,
    Ubuntu,
    Rhel,
    Macos,
}

const WIN_APPS: &[(&str, &str)] = &[
    ("Microsoft Edge", "131.0.2903.51"),
    ("Google Chrome", "131.0.6778.86"),
    ("Mozilla Firefox (x64 en-US)", "133.0"),
    (
        "Microsoft 365 Apps for enterprise - da-dk",
        "16.0.18129.20158",
    ),
    ("Microsoft Teams", "24295.605.3225.8804"),
    ("7-Zip 24.08 (x64)", "24.08"),
    ("Adobe Acrobat Reader (64-bit)", "24.004.20272"),
    ("VLC media player", "3.0.21"),
    ("Notepad++ (64-bit x64)", "8.7.1"),
    ("Zoom Workplace", "6.2.11"),
    ("TeamViewer", "15.59.3"),
    ("AnyDesk", "8.1.0"),
    ("Cisco Secure Client - AnyConnect VPN", "5.1.6.103"),
    (
        "Microsoft Visual C++ 2015-2022 Redistributable (x64)",
        "14.40.33810.0",
    ),
    ("Citrix Workspace 2409", "24.9.0.133"),
    ("KMD Nexus Klient", "2024.3.1"),
    ("Java 8 Update 431", "8.0.4310.10"),
    ("Python 3.12.7 (64-bit)", "3.12.7150.0"),
];
const DEB_PKGS: &[(&str, &str)] = &[
    ("openssh-server", "1:9.2p1-2+deb12u3"),
    ("openssl", "3.0.15-1~deb12u1"),
    ("bash", "5.2.15-2+b7"),
    ("systemd", "252.31-1~deb12u1"),
    ("nginx", "1.22.1-9+deb12u1"),
    ("postgresql-15", "15.8-0+deb12u1"),
    ("curl", "7.88.1-10+deb12u8"),
    ("sudo", "1.9.13p3-1+deb12u1"),
    ("rsyslog", "8.2302.0-1"),
    ("chrony", "4.3-2+deb12u1"),
    ("unattended-upgrades", "2.9.1+nmu3"),
    ("auditd", "1:3.0.9-1"),
    ("python3", "3.11.2-1+b1"),
    ("libc6", "2.36-9+deb12u9"),
    ("tzdata", "2024a-0+deb12u1"),
    ("xrdp", "0.9.21.1-1"),
    ("samba", "2:4.17.12+dfsg-0+deb12u1"),
    ("apache2", "2.4.62-1~deb12u2"),
];
const RPM_PKGS: &[(&str, &str)] = &[
    ("openssh-server", "8.7p1-38.el9_4.4"),
    ("openssl", "1:3.0.7-27.el9"),
    ("bash", "5.1.8-9.el9"),
    ("systemd", "252-32.el9_4.7"),
    ("kernel-core", "5.14.0-427.42.1.el9_4"),
    ("httpd", "2.4.57-11.el9_4.1"),
    ("postgresql-server", "13.16-1.el9_4"),
    ("curl", "7.76.1-29.el9_4.1"),
    ("sudo", "1.9.5p2-10.el9_3"),
    ("chrony", "4.5-1.el9"),
    ("dnf-automatic", "4.14.0-9.el9"),
    ("audit", "3.1.2-2.el9"),
    ("firewalld", "1.3.4-1.el9"),
    ("glibc", "2.34-100.el9_4.4"),
    ("tzdata", "2024b-2.el9"),
];
const MAC_APPS: &[(&str, &str)] = &[
    ("Safari", "18.1"),
    ("Google Chrome", "131.0.6778.86"),
    ("Microsoft Word", "16.91"),
    ("Microsoft Outlook", "16.91"),
    ("Microsoft Teams", "24295.606.3238.6194"),
    ("Slack", "4.41.98"),
    ("zoom.us", "6.2.11"),
    ("Keynote", "14.2"),
    ("Xcode", "16.1"),
    ("Visual Studio Code", "1.95.3"),
];
const DEPT_WORDS: &[&str] = &["adm", "soc", "sko", "tek", "kul", "oko"];

/// One virtual host.
pub struct SimHost {
    index: usize,
    rng: Rng,
    family: Family,
    class: &'static str,
    hostname: String,
    degrades: bool,
    offline_cycle: Option<(Duration, Duration)>,
    started: Instant,
    cpu: f64,
    fs_used: f64,
    mem_used: f64,
    inventory: Inventory,
    software: SoftwareList,
    facts: Facts,
}

impl SimHost {
    pub fn new(index: usize, seed: u64, offline_percent: u32, degrade_percent: u32) -> Self {
        let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let server = rng.below(100) < 20;
        let family = if server {
            *rng.pick(&[
                Family::Debian,
                Family::Ubuntu,
                Family::Rhel,
                Family::Rhel,
                Family::Windows,
            ])
        } else {
            *rng.pick(&[
                Family::Windows,
                Family::Windows,
                Family::Windows,
                Family::Windows,
                Family::Macos,
                Family::Ubuntu,
            ])
        };
        let class = if server { "server" } else { "workstation" };
        let hostname = format!(
            "{}-{}-{index:06}",
            if server { "srv" } else { "ws" },
            DEPT_WORDS[index % DEPT_WORDS.len()]
        );
        let degrades = rng.below(100) < degrade_percent as u64;
        let offline_cycle = (rng.below(100) < offline_percent as u64).then(|| {
            let up = Duration::from_secs(300 + rng.below(1200));
            let down = Duration::from_secs(300 + rng.below(900));
            (up, down)
        });
        let inventory = make_inventory(&mut rng, index, family, &hostname, server);
        let software = make_software(&mut rng, family);
        let facts = make_facts(&mut rng, family, server);
        SimHost {
            index,
            family,
            class,
            hostname,
            degrades,
            offline_cycle,
            started: Instant::now(),
            cpu: 0.05 + rng.unit() * 0.2,
            fs_used: 0.3 + rng.unit() * 0.4,
            mem_used: 0.3 + rng.unit() * 0.3,
            inventory,
            software,
            facts,
            rng,
        }
    }

    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    pub fn class(&self) -> &str {
        self.class
    }

    fn patches(&mut self) -> PatchLevel {
        let now = crate::now_ms();
        let n = self.rng.below(if self.class == "server" { 40 } else { 15 }) as usize;
        let (manager, names): (&str, &[(&str, &str)]) = match self.family {
            Family::Windows => ("windows-update", WIN_APPS),
            Family::Debian | Family::Ubuntu => ("apt", DEB_PKGS),
            Family::Rhel => ("dnf", RPM_PKGS),
            Family::Macos => ("softwareupdate", MAC_APPS),
        };
        let updates: Vec<PendingUpdate> = (0..n)
            .map(|i| {
                let (name, v) = names[(self.index + i) % names.len()];
                let security = self.rng.below(100) < 40;
                PendingUpdate {
                    name: name.into(),
                    current_version: v.into(),
                    new_version: format!("{v}.1"),
                    security,
                    origin: if security {
                        "security".into()
                    } else {
                        "updates".into()
                    },
                    since_ms: Some(now - (self.rng.below(60) as i64 * 86_400_000)),
                }
            })
            .collect();
        crate::platform::patch_level(
            manager,
            updates,
            Some(now - self.rng.below(86_400_000) as i64),
            Some(now - self.rng.below(30 * 86_400_000) as i64),
            self.rng.below(100) < 10,
        )
    }

    fn health(&mut self, settings: &AgentSettings) -> Health {
        let r = &mut self.rng;
        self.cpu = (self.cpu + (r.unit() - 0.5) * 0.1).clamp(0.01, 0.95);
        self.mem_used = (self.mem_used + (r.unit() - 0.5) * 0.02).clamp(0.1, 0.9);
        if self.degrades {
            // A log directory filling the disk, and memory creeping up.
            self.fs_used = (self.fs_used + 0.01).min(0.99);
            self.mem_used = (self.mem_used + 0.005).min(0.97);
        }
        let mem = self
            .inventory
            .hardware
            .as_ref()
            .map(|h| h.memory_bytes)
            .unwrap_or(8 << 30);
        let total = self
            .inventory
            .disks
            .first()
            .map(|d| d.total_bytes)
            .unwrap_or(256 << 30);
        let used = (total as f64 * self.fs_used) as u64;
        let cores = self
            .inventory
            .hardware
            .as_ref()
            .map(|h| h.cpu_threads)
            .unwrap_or(4) as f64;
        let failed = if self.degrades && self.fs_used > 0.95 {
            vec![ServiceStatus {
                name: "logrotate.service".into(),
                active: false,
                state: "failed".into(),
            }]
        } else {
            Vec::new()
        };
        Health {
            cpu_usage_ratio: self.cpu,
            load1: self.cpu * cores,
            load5: self.cpu * cores * 0.9,
            load15: self.cpu * cores * 0.8,
            memory_total_bytes: mem,
            memory_used_bytes: (mem as f64 * self.mem_used) as u64,
            swap_total_bytes: 2 << 30,
            swap_used_bytes: if self.mem_used > 0.9 { 1 << 30 } else { 0 },
            filesystems: vec![FilesystemUsage {
                mount_point: self
                    .inventory
                    .disks
                    .first()
                    .map(|d| d.mount_point.clone())
                    .unwrap_or_default(),
                filesystem: self
                    .inventory
                    .disks
                    .first()
                    .map(|d| d.filesystem.clone())
                    .unwrap_or_default(),
                total_bytes: total,
                used_bytes: used,
                available_bytes: total - used,
            }],
            uptime_seconds: self.started.elapsed().as_secs() + 3600 * (self.index as u64 % 200),
            failed_services: failed,
            watched_services: settings
                .watched_services
                .iter()
                .map(|s| ServiceStatus {
                    name: s.clone(),
                    active: true,
                    state: "active".into(),
                })
                .collect(),
            watched_processes: Vec::new(),
        }
    }
}

fn make_inventory(
    rng: &mut Rng,
    index: usize,
    family: Family,
    hostname: &str,
    server: bool,
) -> Inventory {
    let os = match family {
        Family::Windows if server => OsInfo {
            family: "windows".into(),
            name: "Microsoft Windows Server 2022 Standard".into(),
            version: "10.0.20348".into(),
            build: "20348.2849".into(),
            ..Default::default()
        },
        Family::Windows => OsInfo {
            family: "windows".into(),
            name: "Microsoft Windows 11 Enterprise".into(),
            version: "10.0.22631".into(),
            build: format!("22631.{}", 4000 + rng.below(500)),
            ..Default::default()
        },
        Family::Debian => OsInfo {
            family: "linux".into(),
            name: "Debian GNU/Linux".into(),
            version: "12".into(),
            build: "12 (bookworm)".into(),
            id: "debian".into(),
            pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
            ..Default::default()
        },
        Family::Ubuntu => OsInfo {
            family: "linux".into(),
            name: "Ubuntu".into(),
            version: "24.04".into(),
            build: "24.04.1 LTS (Noble Numbat)".into(),
            id: "ubuntu".into(),
            id_like: vec!["debian".into()],
            pretty_name: "Ubuntu 24.04.1 LTS".into(),
        },
        Family::Rhel => OsInfo {
            family: "linux".into(),
            name: "Red Hat Enterprise Linux".into(),
            version: "9.4".into(),
            build: "9.4 (Plow)".into(),
            id: "rhel".into(),
            id_like: vec!["fedora".into()],
            pretty_name: "Red Hat Enterprise Linux 9.4 (Plow)".into(),
        },
        Family::Macos => OsInfo {
            family: "macos".into(),
            name: "macOS".into(),
            version: "14.7.1".into(),
            build: "23H222".into(),
            ..Default::default()
        },
    };
    let (vendor, model) = if server {
        *rng.pick(&[
            ("Dell Inc.", "PowerEdge R650"),
            ("HPE", "ProLiant DL380 Gen10 Plus"),
            ("VMware, Inc.", "VMware7,1"),
        ])
    } else if family == Family::Macos {
        (
            "Apple Inc.",
            *rng.pick(&["MacBookPro18,3", "Mac14,2", "Mac15,3"]),
        )
    } else {
        *rng.pick(&[
            ("LENOVO", "21HD0053MX"),
            ("Dell Inc.", "Latitude 5440"),
            ("HP", "HP EliteBook 840 G10"),
        ])
    };
    let threads = if server {
        16 << rng.below(2)
    } else {
        8 + 4 * rng.below(2) as u32
    };
    let mem = if server {
        64u64 << 30
    } else {
        (16u64 << 30) << rng.below(2)
    };
    let mount = if family == Family::Windows {
        "C:\\"
    } else {
        "/"
    };
    let fs = match family {
        Family::Windows => "NTFS",
        Family::Macos => "apfs",
        Family::Rhel => "xfs",
        _ => "ext4",
    };
    let mut inv = Inventory {
        content_hash: String::new(),
        hostname: hostname.into(),
        fqdn: format!("{hostname}.corp.example.dk"),
        os: Some(os),
        kernel_version: match family {
            Family::Rhel => "5.14.0-427.42.1.el9_4.x86_64",
            Family::Debian => "6.1.0-27-amd64",
            Family::Ubuntu => "6.8.0-48-generic",
            Family::Macos => "23.6.0",
            Family::Windows => "10.0.22631",
        }
        .into(),
        arch: if family == Family::Macos {
            "aarch64"
        } else {
            "x86_64"
        }
        .into(),
        hardware: Some(Hardware {
            vendor: vendor.into(),
            model: model.into(),
            serial: format!("SIM{index:08X}"),
            cpu_model: if family == Family::Macos {
                "Apple M2".into()
            } else {
                "Intel(R) Core(TM) i7-1365U".into()
            },
            cpu_cores: threads / 2,
            cpu_threads: threads,
            memory_bytes: mem,
        }),
        disks: vec![Disk {
            device: "disk0".into(),
            mount_point: mount.into(),
            filesystem: fs.into(),
            total_bytes: (256u64 << 30) << rng.below(3),
            removable: false,
        }],
        interfaces: vec![NetInterface {
            name: if family == Family::Windows {
                "Ethernet".into()
            } else {
                "eth0".into()
            },
            mac: format!(
                "02:00:{:02x}:{:02x}:{:02x}:{:02x}",
                (index >> 24) & 0xff,
                (index >> 16) & 0xff,
                (index >> 8) & 0xff,
                index & 0xff
            ),
            addresses: vec![format!(
                "10.{}.{}.{}/16",
                20 + index % 6,
                (index >> 8) & 0xff,
                index & 0xff
            )],
        }],
        boot_time_ms: Some(crate::now_ms() - (index as i64 % 200) * 3_600_000),
        agent_version: env!("CARGO_PKG_VERSION").into(),
        machine_id: format!("{:032x}", (index as u128) * 0x9E37_79B9_7F4A_7C15),
    };
    inv.content_hash = crate::report::inventory_hash(&inv);
    inv
}

/// Security settings of a managed fleet: most hosts meet the baseline, a realistic few
/// deviate (firewall off, no encryption, a lax SSH setting, a remote-control tool).
fn make_facts(rng: &mut Rng, family: Family, server: bool) -> Facts {
    let yes = |rng: &mut Rng, percent: u64| Some(rng.below(100) < percent);
    let list = |v: &[&str]| {
        Some(StringList {
            values: v.iter().map(|s| s.to_string()).collect(),
        })
    };
    let mut f = Facts {
        auto_updates_enabled: yes(rng, if server { 70 } else { 95 }),
        disk_encrypted: yes(rng, if server { 60 } else { 93 }),
        firewall_enabled: yes(rng, 96),
        time_synchronized: yes(rng, 98),
        secure_boot: yes(rng, 90),
        ..Default::default()
    };
    match family {
        Family::Windows => {
            f.antivirus_realtime = yes(rng, 98);
            f.antivirus_product = "Microsoft Defender Antivirus".into();
            f.antivirus_signature_age_days = Some(rng.below(3) as u32);
            f.screen_lock_timeout_seconds = Some(*rng.pick(&[300, 600, 900, 900, 1800]));
            f.ssh_server_installed = Some(false);
            f.local_admins = list(&[
                "Administrator",
                "DOMAIN\\Domain Admins",
                "DOMAIN\\it-support",
            ]);
            f.time_source = "dc01.corp.example".into();
            f.running_services = list(&[
                "WinDefend",
                "mpssvc",
                "W32Time",
                "wuauserv",
                "BITS",
                "Dnscache",
                "EventLog",
            ]);
        }
        Family::Macos => {
            f.antivirus_realtime = Some(true);
            f.antivirus_product = "XProtect".into();
            f.screen_lock_timeout_seconds = Some(*rng.pick(&[300, 600, 1200]));
            f.ssh_server_installed = Some(false);
            f.secure_boot = None;
            f.local_admins = list(&["root", "itadmin"]);
            f.time_source = "time.apple.com".into();
            f.running_services = list(&[
                "com.apple.timed",
                "com.apple.mDNSResponder",
                "com.apple.syslogd",
            ]);
        }
        Family::Debian | Family::Ubuntu | Family::Rhel => {
            f.ssh_server_installed = Some(server || rng.below(100) < 10);
            if f.ssh_server_installed == Some(true) {
                f.ssh_permit_root_login = rng
                    .pick(&["no", "no", "no", "prohibit-password", "yes"])
                    .to_string();
                f.ssh_password_authentication = yes(rng, 15);
            }
            if !server {
                f.screen_lock_timeout_seconds = Some(*rng.pick(&[300, 600, 900, 0]));
            }
            f.local_admins = list(&["root", "opsadmin"]);
            f.time_source = "ntp.corp.example".into();
            f.running_services = list(&["cron", "rsyslog", "chrony", "sshd", "systemd-journald"]);
        }
    }
    f.content_hash = crate::report::facts_hash(&f);
    f
}

fn make_software(rng: &mut Rng, family: Family) -> SoftwareList {
    let (base, source): (&[(&str, &str)], &str) = match family {
        Family::Windows => (WIN_APPS, "windows-registry"),
        Family::Debian | Family::Ubuntu => (DEB_PKGS, "dpkg"),
        Family::Rhel => (RPM_PKGS, "rpm"),
        Family::Macos => (MAC_APPS, "macos-app"),
    };
    let mut packages: Vec<Package> = base
        .iter()
        // Remote-control tools are forbidden by the baselines: a few hosts still have one.
        .filter(|(n, _)| {
            rng.below(100)
                < if matches!(*n, "TeamViewer" | "AnyDesk") {
                    4
                } else {
                    75
                }
        })
        .map(|(n, v)| Package {
            name: (*n).into(),
            version: (*v).into(),
            arch: "x86_64".into(),
            source: source.into(),
        })
        .collect();
    // Libraries and components that make up the bulk of a real list.
    let extra = 40 + rng.below(200);
    for i in 0..extra {
        packages.push(Package {
            name: format!(
                "lib{}-component{i}",
                ["ssl", "xml", "gtk", "z", "curl", "nss"][i as usize % 6]
            ),
            version: format!("{}.{}.{}", 1 + rng.below(4), rng.below(20), rng.below(10)),
            arch: "x86_64".into(),
            source: source.into(),
        });
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    let mut list = SoftwareList {
        content_hash: String::new(),
        packages,
    };
    list.content_hash = crate::report::software_hash(&list);
    list
}

/// For each of `hosts` simulated hosts, one batch with every section (seq 1 to 5, collected
/// at `now_ms`), built without a network: seeds for the report fuzz target.
pub fn seed_reports(now_ms: i64, hosts: usize) -> Vec<Vec<Report>> {
    let settings = AgentSettings::default();
    (0..hosts)
        .map(|i| {
            let mut h = SimHost::new(i, 42, 0, 0);
            let bodies = [
                Body::Inventory(h.inventory.clone()),
                Body::Software(h.software.clone()),
                Body::Patches(h.patches()),
                Body::Health(h.health(&settings)),
                Body::Facts(h.facts.clone()),
            ];
            bodies
                .into_iter()
                .zip(1..)
                .map(|(b, seq)| Report {
                    seq,
                    collected_at_ms: now_ms,
                    errors: Vec::new(),
                    body: Some(b),
                })
                .collect()
        })
        .collect()
}

impl Source for SimHost {
    async fn collect(&mut self, kind: ProbeKind, settings: &AgentSettings) -> Collected {
        let body = match kind {
            ProbeKind::Inventory => Body::Inventory(self.inventory.clone()),
            ProbeKind::Software => Body::Software(self.software.clone()),
            ProbeKind::Patches => Body::Patches(self.patches()),
            ProbeKind::Health => Body::Health(self.health(settings)),
            ProbeKind::Facts => Body::Facts(self.facts.clone()),
        };
        Collected {
            body: Some(body),
            errors: Vec::new(),
        }
    }

    fn online(&self) -> bool {
        match self.offline_cycle {
            None => true,
            Some((up, down)) => {
                let period = (up + down).as_secs().max(1);
                self.started.elapsed().as_secs() % period < up.as_secs()
            }
        }
    }
}

/// Enrolls and runs the simulated fleet, printing throughput and latency periodically.
pub async fn run(target: Target, cfg: SimConfig) -> anyhow::Result<()> {
    anyhow::ensure!(
        !cfg.tokens.is_empty(),
        "simulate needs at least one --token"
    );
    // Several collectors (a comma-separated --collector): the connections, and so the
    // hosts, are spread over them in turn.
    // A connection per host (--connections >= --hosts) behaves as agents do: its own
    // connection to its home collector, closed when idle (`--idle-timeout`), reopened with
    // the TLS session resumed; the endpoints (and their TLS configuration) are shared.
    let own = cfg.connections >= cfg.hosts;
    let endpoints = target.endpoints()?;
    let channels: Vec<_> = if own {
        Vec::new()
    } else {
        (0..cfg.connections.max(1).max(endpoints.len()))
            .map(|i| endpoints.channel(i))
            .collect()
    };
    let stats = Arc::new(CallStats::default());
    // Thousands of virtual hosts share a few HTTP/2 connections; unbounded concurrent
    // streams would queue inside the client and time out. Real agents each have their own.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(cfg.max_in_flight.max(1)));
    let sem = Arc::new(tokio::sync::Semaphore::new(cfg.enroll_concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tracing::info!(
        hosts = cfg.hosts,
        departments = cfg.tokens.len(),
        "simulated fleet enrolling"
    );
    for i in 0..cfg.hosts {
        let channel = if own {
            endpoints.channel(i)
        } else {
            channels[i % channels.len()].clone()
        };
        let (endpoints, idle_timeout) = (endpoints.clone(), target.idle_timeout);
        let token = cfg.tokens[i % cfg.tokens.len()].clone();
        let sem = sem.clone();
        let stats = stats.clone();
        let in_flight = in_flight.clone();
        let mut stop = stop_rx.clone();
        let cfg = cfg.clone();
        tasks.spawn(async move {
            let host = SimHost::new(i, cfg.seed, cfg.offline_percent, cfg.degrade_percent);
            let resp = {
                let _permit = sem.acquire().await;
                let req = EnrollRequest {
                    token,
                    hostname: host.hostname().to_string(),
                    machine_id: host.inventory.machine_id.clone(),
                    agent_version: env!("CARGO_PKG_VERSION").into(),
                    requested_class: host.class().to_string(),
                    labels: [("simulated".to_string(), "true".to_string())].into(),
                };
                let mut wait = Duration::from_secs(1);
                loop {
                    match transport::enroll(channel.clone(), req.clone()).await {
                        Ok(r) => break r,
                        Err(transport::TransportError::Unavailable(e)) => {
                            tracing::debug!(error = %e, "enroll retry");
                            tokio::time::sleep(crate::runner::jitter(wait)).await;
                            wait = (wait * 2).min(Duration::from_secs(30));
                        }
                        Err(e) => {
                            tracing::error!(host = host.hostname(), error = %e, "enrollment refused");
                            return;
                        }
                    }
                }
            };
            let client = if own {
                drop(channel);
                Client::with_endpoints(endpoints, idle_timeout, &resp.agent_id, &resp.secret)
            } else {
                Client::new(channel, &resp.agent_id, &resp.secret)
            };
            let Ok(mut client) = client else { return };
            client.stats = Some(stats);
            client.limiter = Some(in_flight);
            let label = host.hostname().to_string();
            let mut runner = Runner::new(host, Spool::in_memory(4 << 20), client, resp.settings.unwrap_or_default(), Overrides::default(), label);
            let ramp_ms = cfg.ramp.as_millis().max(1) as u64;
            runner.start_after(Duration::from_millis(Rng::new(i as u64).below(ramp_ms)));
            runner.run(async move { let _ = stop.wait_for(|s| *s).await; }).await;
        });
    }
    let mut tick = tokio::time::interval(cfg.stats_every);
    tick.tick().await;
    let deadline = cfg.duration.map(|d| started + d);
    let mut last_reports = 0;
    let mut last_at = Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = crate::agent::shutdown_signal() => break,
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
        }
        let reports = stats.reports.load(Relaxed);
        let (n, p50, p99) = stats.take_percentiles();
        let secs = last_at.elapsed().as_secs_f64();
        println!(
            "t={:>5.0}s calls={n} reports/s={:.1} p50={p50:.1}ms p99={p99:.1}ms failed_calls={}",
            started.elapsed().as_secs_f64(),
            (reports - last_reports) as f64 / secs,
            stats.failed.load(Relaxed),
        );
        last_reports = reports;
        last_at = Instant::now();
    }
    let _ = stop_tx.send(true);
    // Hosts stop at their next await point; ones still enrolling are cut off.
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.abort_all();
    }
    Ok(())
}
