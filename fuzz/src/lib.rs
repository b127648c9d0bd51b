//! The fuzz targets' bodies, one module per door that takes outside input. Each `run`
//! must return for every input without panicking, hanging or exhausting memory; libFuzzer
//! (through `cargo fuzz`, see `tests/fuzz.sh`) reports any that does. Each module also
//! gives its seed inputs ([`seeds`]), taken from the recorded fixtures and shipped
//! configuration in the tree.
//!
//! Targets that serve several parsers take the first byte of the input as a selector
//! (modulo the number of parsers) and the rest as the parser's input, so one target and
//! one corpus cover a door.

use std::path::{Path, PathBuf};

/// The repository root (fixtures and shipped configs are read from there by [`seeds`]).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    // The agent reads tools' output the same way (cmd.rs): invalid UTF-8 is replaced.
    String::from_utf8_lossy(data)
}

/// Splits a selector byte off the input.
fn select(data: &[u8], n: usize) -> Option<(usize, &[u8])> {
    let (&first, rest) = data.split_first()?;
    Some((first as usize % n, rest))
}

/// A seed for a selector target: the selector byte, then the body.
fn seed(selector: usize, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 1);
    v.push(selector as u8);
    v.extend_from_slice(body);
    v
}

/// Reports from agents after the gRPC layer decoded nothing yet: the bytes of a
/// `ReportBatch` as they arrive, decoded with prost, each report validated as ingest
/// does, and the valid ones taken into the in-memory model the collector evaluates
/// (classification, compliance facts, evaluation against the shipped standards) and
/// rendered as the API's JSON.
pub mod report {
    use std::sync::OnceLock;

    use prost::Message;
    use tilsyn_collector::ingest::validate::{validate, Limits};
    use tilsyn_collector_core::compliance::evaluate::evaluate;
    use tilsyn_collector_core::compliance::facts::{HostContext, HostFacts, HostInputs, Interner};
    use tilsyn_collector_core::compliance::standard::StandardSet;
    use tilsyn_proto::v1::report::Body;
    use tilsyn_proto::v1::ReportBatch;

    /// 2100-01-01: a fixed "now" keeps runs reproducible, and lies after every seed's
    /// timestamps (made with the real clock), so seeds pass validation.
    pub const NOW_MS: i64 = 4_102_444_800_000;

    fn standards() -> &'static StandardSet {
        static SET: OnceLock<StandardSet> = OnceLock::new();
        SET.get_or_init(|| {
            let dir = super::repo().join("configs/standards");
            StandardSet::load_dir(&dir).expect("the shipped standards load")
        })
    }

    fn classification() -> &'static tilsyn_collector::config::Classification {
        static C: OnceLock<tilsyn_collector::config::Classification> = OnceLock::new();
        C.get_or_init(Default::default)
    }

    pub fn run(data: &[u8]) {
        let Ok(batch) = ReportBatch::decode(data) else {
            return;
        };
        let limits = Limits {
            now_ms: NOW_MS,
            max_future_skew_ms: 300_000,
        };
        let mut inputs = HostInputs {
            ctx: HostContext {
                agent_id: "fuzz".into(),
                hostname: "fuzz".into(),
                department: "fuzz".into(),
                class: "workstation".into(),
                labels: Default::default(),
            },
            inventory: None,
            software: None,
            patches: None,
            facts: None,
        };
        for r in batch.reports {
            if validate(&r, &limits).is_err() {
                continue;
            }
            let Some(body) = r.body else { continue };
            // What the API shows of a stored section.
            let _ = serde_json::to_string(&body);
            match body {
                Body::Inventory(i) => {
                    inputs.ctx.class =
                        tilsyn_collector::settings::classify(classification(), &i).into();
                    inputs.inventory = Some(i);
                }
                Body::Software(s) => inputs.software = Some(s),
                Body::Patches(p) => inputs.patches = Some(p),
                Body::Facts(f) => inputs.facts = Some(f),
                Body::Health(_) | Body::Unchanged(_) => {}
            }
        }
        let mut it = Interner::default();
        let facts = HostFacts::build(&inputs, &|_| true, &mut it);
        let _ = evaluate(standards(), &facts, NOW_MS, true);
    }

    /// Batches of reports as the simulator's hosts send them (every section, several
    /// operating systems), encoded.
    pub fn seeds() -> Vec<Vec<u8>> {
        tilsyn_agent::simulate::seed_reports(NOW_MS, 12)
            .into_iter()
            .map(|reports| {
                ReportBatch {
                    agent_id: "fuzz".into(),
                    reports,
                }
                .encode_to_vec()
            })
            .collect()
    }
}

/// Every configuration loader with its validation: the collector's and the agent's
/// configuration, a standard with waivers, a facts file (`standards test`), the SLA
/// policy, maintenance windows and storm rules, a cron expression and a duration.
pub mod config {
    use std::path::Path;

    use tilsyn_collector_core::compliance::facts::{FactsFile, HostFacts, Interner};
    use tilsyn_collector_core::compliance::standard::StandardSet;

    const DEPARTMENTS: &[(&str, &str)] = &[("schools", "Schools"), ("social-services", "Social")];

    /// The loaders, in selector order.
    pub const LOADERS: &[&str] = &[
        "collector.yaml",
        "agent.yaml",
        "standard",
        "waivers",
        "facts",
        "sla.yaml",
        "maintenance.yaml",
        "cron",
        "duration",
    ];

    pub fn run(data: &[u8]) {
        let Some((which, rest)) = super::select(data, LOADERS.len()) else {
            return;
        };
        let text = super::text(rest);
        // A directory that does not exist: loaders must not need the file system here.
        let p = Path::new("/nonexistent-tilsyn-fuzz/config.yaml");
        match which {
            0 => {
                let _ = tilsyn_collector::config::CollectorConfig::from_text(p, &text);
            }
            1 => {
                let _ = tilsyn_agent::config::AgentConfig::from_text(p, &text);
            }
            2 | 3 => {
                let _ = StandardSet::from_sources(
                    Path::new("/nonexistent-tilsyn-fuzz"),
                    &[(p.to_path_buf(), text.into_owned())],
                );
            }
            4 => {
                if let Ok(file) = tilsyn_proto::yaml::parse::<FactsFile>(p, &text) {
                    let _ = HostFacts::from_file(&file, &mut Interner::default());
                }
            }
            5 => {
                let deps: Vec<(String, String)> = DEPARTMENTS
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect();
                let _ = tilsyn_collector_core::sla::config::SlaPolicy::from_text(p, &text, &deps);
            }
            6 => {
                let _ = tilsyn_collector_core::incidents::config::windows_from_text(p, &text);
            }
            7 => {
                let _ = tilsyn_collector_core::incidents::cron::Cron::parse(&text);
            }
            _ => {
                let _ = tilsyn_proto::duration::parse(&text);
            }
        }
    }

    /// The shipped and example configuration files, each under its loader.
    pub fn seeds() -> Vec<Vec<u8>> {
        let root = super::repo();
        let mut out = Vec::new();
        let mut add = |which: usize, path: &Path| {
            if let Ok(b) = std::fs::read(path) {
                out.push(super::seed(which, &b));
            }
        };
        for (which, dir) in [
            (0, "configs"),
            (1, "configs"),
            (5, "configs"),
            (6, "configs"),
        ] {
            for e in std::fs::read_dir(root.join(dir))
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = e.file_name().to_string_lossy().to_string();
                let fits = match which {
                    0 => name.starts_with("collector") && name.ends_with(".yaml"),
                    1 => name.starts_with("agent") && name.ends_with(".yaml"),
                    5 => name.starts_with("sla") && name.ends_with(".yaml"),
                    _ => name.starts_with("maintenance") && name.ends_with(".yaml"),
                };
                if fits {
                    add(which, &e.path());
                }
            }
        }
        for e in std::fs::read_dir(root.join("configs/standards"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "yaml") {
                let which = if p.ends_with("waivers.yaml") { 3 } else { 2 };
                add(which, &p);
            }
        }
        for e in std::fs::read_dir(root.join("tests/fixtures/facts"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.path().extension().is_some_and(|x| x == "json") {
                add(4, &e.path());
            }
        }
        for (which, s) in [
            (7, "0 2 * * 6"),
            (7, "*/15 8-16 * * mon-fri"),
            (7, "30 1 1,15 * *"),
            (8, "90s"),
            (8, "1h30m"),
            (8, "14d"),
        ] {
            out.push(super::seed(which, s.as_bytes()));
        }
        out
    }
}

/// The agent's platform parsers: every one takes text it did not write (package managers',
/// OS tools' and Windows' output).
pub mod agent_parsers {
    use tilsyn_agent::platform::facts::{self as f, IncludeResolver};
    use tilsyn_agent::platform::{
        apt, dnf, dpkg, macos, os_release, rpm, systemd, windows, zypper, PlatformError,
    };

    /// sshd `Include`s resolve to the input itself: include loops must stop.
    struct SelfInclude(String);

    impl IncludeResolver for SelfInclude {
        fn resolve(&mut self, _pattern: &str) -> Result<Vec<String>, PlatformError> {
            Ok(vec![self.0.clone()])
        }
    }

    type Parser = fn(&str, &[u8]);

    /// Uses a parser's result, so the optimiser cannot drop the call.
    fn keep<T>(v: T) {
        std::hint::black_box(v);
    }

    fn names() -> Vec<String> {
        vec!["sshd".into(), "cron".into(), "Spooler".into()]
    }

    /// (name, parser, fixtures it is seeded with, relative to agent/tests/fixtures).
    pub const PARSERS: &[(&str, Parser, &[&str])] = &[
        (
            "apt-get -s",
            |t, _| keep(apt::parse_simulation(t)),
            &["debian/apt-get-s-dist-upgrade-bookworm.txt"],
        ),
        (
            "dpkg status",
            |t, _| keep(dpkg::parse_status(t)),
            &["debian/dpkg-status"],
        ),
        (
            "dpkg.log",
            |t, _| keep(dpkg::parse_last_install(t)),
            &["debian/dpkg.log"],
        ),
        (
            "rpm -qa",
            |t, _| keep(rpm::parse_qa(t)),
            &["rpm/rpm-qa-rhel9.txt"],
        ),
        (
            "rpm install times",
            |t, _| keep(rpm::parse_install_times(t)),
            &["rpm/rpm-qa-rhel9.txt"],
        ),
        (
            "dnf check-update",
            |t, _| keep(dnf::parse_check_update(t)),
            &["dnf/check-update-rhel9.txt"],
        ),
        (
            "dnf updateinfo list",
            |t, _| keep(dnf::parse_updateinfo_list(t)),
            &["dnf/updateinfo-list-security-rhel9.txt"],
        ),
        (
            "dnf updateinfo info",
            |t, _| keep(dnf::parse_updateinfo_info(t)),
            &["dnf/updateinfo-info-security-rhel9.txt"],
        ),
        (
            "dnf needs-restarting",
            |t, _| keep(dnf::parse_needs_restarting(Some(1), t)),
            &[],
        ),
        (
            "zypper xml",
            |t, _| keep(zypper::parse_updates_xml("zypper", t)),
            &[
                "zypper/list-patches-sles15sp5.xml",
                "zypper/list-updates-sles15sp5.xml",
                "zypper/list-patches-updatestack-sles15sp5.xml",
            ],
        ),
        (
            "zypper xml errors",
            |t, _| keep(zypper::xml_error_messages(t)),
            &["zypper/list-patches-sles15sp5.xml"],
        ),
        (
            "os-release",
            |t, _| keep(os_release::parse(t)),
            &[
                "linux/os-release-debian12",
                "linux/os-release-rhel94",
                "linux/os-release-sles15",
                "linux/os-release-ubuntu2404",
                "linux/os-release-debian-testing",
            ],
        ),
        (
            "systemctl --failed",
            |t, _| keep(systemd::parse_failed(t)),
            &["linux/systemctl-failed.txt"],
        ),
        (
            "systemctl is-active",
            |t, _| keep(systemd::parse_is_active(&names(), t)),
            &["linux/systemctl-is-active.txt"],
        ),
        (
            "windows services",
            |t, _| keep(windows::parse_services_json(&names(), t)),
            &["windows/services-watched-win11.json"],
        ),
        (
            "windows uninstall",
            |t, _| keep(windows::parse_uninstall_json(t)),
            &["windows/uninstall-win11.json"],
        ),
        (
            "windows update",
            |t, _| keep(windows::parse_windows_update_json(t)),
            &["windows/windows-update-win11.json"],
        ),
        (
            "windows smbios",
            |_, b| keep(windows::smbios_system(b)),
            &["windows/smbios-rsmb.bin"],
        ),
        (
            "windows os",
            |t, _| keep(windows::parse_os_json(t)),
            &["windows/os-win11.json"],
        ),
        (
            "windows stopped services",
            |t, _| keep(windows::parse_stopped_services_json(t)),
            &["windows/stopped-services-win11.json"],
        ),
        (
            "windows facts",
            |t, _| keep(f::windows::parse_facts_json(t)),
            &[
                "facts/windows/facts-win11-managed.json",
                "facts/windows/facts-win11-home-errors.json",
            ],
        ),
        (
            "w32tm",
            |t, _| keep(f::windows::parse_w32tm_status(t)),
            &["facts/windows/w32tm-status-unsynced.txt"],
        ),
        (
            "macos applications",
            |t, _| keep(macos::parse_applications_json(t)),
            &["macos/system_profiler-applications-macos14.json"],
        ),
        (
            "pkgutil",
            |t, _| keep(macos::parse_pkgutil_pkgs(t)),
            &["macos/pkgutil-pkgs-macos14.txt"],
        ),
        (
            "softwareupdate",
            |t, _| {
                if let Ok(u) = macos::parse_softwareupdate(t) {
                    for x in &u {
                        let _ = macos::is_security_update(x, "14.4.1");
                    }
                }
            },
            &[
                "macos/softwareupdate-l-macos14.txt",
                "macos/softwareupdate-l-none.txt",
            ],
        ),
        (
            "defaults date",
            |t, _| keep(macos::parse_defaults_date(t)),
            &["macos/defaults-LastSuccessfulDate.txt"],
        ),
        (
            "install history",
            |t, _| {
                if let Ok(h) = macos::parse_install_history(t) {
                    let _ = macos::last_update_install_ms(&h);
                    let _ = macos::package_versions(&h);
                }
            },
            &["macos/InstallHistory-macos14.plist"],
        ),
        (
            "macos hardware",
            |t, _| keep(macos::parse_hardware_json(t)),
            &["macos/system_profiler-hardware-macos14.json"],
        ),
        (
            "sw_vers",
            |t, _| keep(macos::parse_sw_vers(t)),
            &["macos/sw_vers-macos14.txt"],
        ),
        (
            "launchctl list",
            |t, _| {
                if let Ok(j) = macos::parse_launchctl_list(t) {
                    let _ = macos::failed_jobs(&j);
                    let _ = macos::watched_jobs(&j, &names());
                }
            },
            &[
                "macos/launchctl-list-macos14.txt",
                "facts/macos/launchctl-list-sshd.txt",
            ],
        ),
        (
            "apt-config dump",
            |t, _| {
                if let Ok(d) = f::linux::parse_apt_config_dump(t) {
                    let _ = f::linux::apt_auto_updates(&d, true);
                }
            },
            &[
                "facts/linux/apt-config-dump-debian12.txt",
                "facts/linux/apt-config-dump-ubuntu2404-auto.txt",
            ],
        ),
        (
            "systemctl is-enabled",
            |t, _| keep(f::linux::parse_is_enabled(t, t)),
            &["facts/linux/systemctl-is-enabled-missing.txt"],
        ),
        (
            "dnf-automatic.conf",
            |t, _| keep(f::linux::parse_dnf_automatic_apply_updates(t)),
            &["facts/linux/dnf-automatic.conf-rhel9"],
        ),
        (
            "lsblk",
            |t, _| {
                if let Ok(d) = f::linux::parse_lsblk_json(t) {
                    let _ = f::linux::root_encryption(&d);
                }
            },
            &[
                "facts/linux/lsblk-luks-lvm-ubuntu.json",
                "facts/linux/lsblk-container.json",
                "facts/linux/lsblk-mountpoints-fedora-btrfs.json",
                "facts/linux/lsblk-container-mountpoints.json",
            ],
        ),
        (
            "ufw status",
            |t, _| keep(f::linux::parse_ufw_status(t)),
            &[
                "facts/linux/ufw-status-recorded-debian12-active.txt",
                "facts/linux/ufw-status-recorded-debian12-inactive.txt",
            ],
        ),
        (
            "firewall-cmd --state",
            |t, _| keep(f::linux::parse_firewalld_state(t, "")),
            &[],
        ),
        (
            "nft list ruleset",
            |t, _| keep(f::linux::parse_nft_ruleset(t)),
            &[
                "facts/linux/nft-ruleset-recorded-debian12-policy-drop.txt",
                "facts/linux/nft-ruleset-firewalld-rhel9.txt",
                "facts/linux/nft-ruleset-recorded-debian12-ufw-active.txt",
            ],
        ),
        (
            "iptables -S INPUT",
            |t, _| keep(f::linux::parse_iptables_input(t)),
            &[
                "facts/linux/iptables-S-INPUT-recorded-debian12-policy-drop.txt",
                "facts/linux/iptables-S-INPUT-recorded-debian12-ufw-active.txt",
            ],
        ),
        (
            "dconf profile",
            |t, _| keep(f::linux::parse_dconf_profile(t)),
            &["facts/linux/dconf-profile-user-rhel9"],
        ),
        (
            "dconf keyfile",
            |t, _| keep(f::linux::parse_dconf_keyfile(t)),
            &["facts/linux/dconf-local.d-00-screensaver"],
        ),
        (
            "mdatp health",
            |t, _| keep(f::linux::parse_mdatp_health(t)),
            &["facts/linux/mdatp-health-101.24.txt"],
        ),
        (
            "clamav cvd header",
            |_, b| keep(f::linux::parse_cvd_build_time(b)),
            &["facts/linux/clamav-daily.cld-header.bin"],
        ),
        (
            "group",
            |t, _| keep(f::linux::parse_group(t)),
            &[
                "facts/linux/group-workstation",
                "facts/linux/group-debian12-container",
            ],
        ),
        (
            "passwd",
            |t, _| keep(f::linux::parse_passwd(t)),
            &[
                "facts/linux/passwd-workstation",
                "facts/linux/passwd-debian12-container",
            ],
        ),
        (
            "timedatectl show",
            |t, _| keep(f::linux::parse_timedatectl_show(t)),
            &[
                "facts/linux/timedatectl-show-ubuntu2404.txt",
                "facts/linux/timedatectl-show-timesync-ubuntu2404.txt",
            ],
        ),
        (
            "chronyc tracking",
            |t, _| keep(f::linux::parse_chronyc_tracking(t)),
            &[
                "facts/linux/chronyc-tracking-rhel9.txt",
                "facts/linux/chronyc-tracking-recorded-debian12-localhost.txt",
            ],
        ),
        (
            "timesync server",
            |t, _| keep(f::linux::parse_timesync_server(t)),
            &["facts/linux/timedatectl-show-timesync-ubuntu2404.txt"],
        ),
        (
            "SecureBoot efivar",
            |_, b| keep(f::linux::parse_secure_boot_efivar(b)),
            &[
                "facts/linux/efivar-SecureBoot-enabled.bin",
                "facts/linux/efivar-SecureBoot-disabled.bin",
            ],
        ),
        (
            "running units",
            |t, _| keep(f::linux::parse_running_units(t)),
            &["facts/linux/systemctl-list-units-running-debian12.txt"],
        ),
        (
            "sshd -T",
            |t, _| keep(f::parse_sshd_t(t)),
            &[
                "facts/linux/sshd-T-recorded-debian12-default.txt",
                "facts/linux/sshd-T-recorded-debian12-password-no.txt",
            ],
        ),
        (
            "sshd_config",
            |t, _| keep(f::parse_sshd_config(t, &mut SelfInclude(t.to_string()))),
            &[
                "facts/linux/sshd_config-recorded-debian12",
                "facts/linux/sshd_config.d-50-hardening.conf",
            ],
        ),
        (
            "defaults read",
            |t, _| keep(f::macos::parse_defaults_output(Some(1), t, t)),
            &["facts/macos/defaults-read-missing.txt"],
        ),
        (
            "fdesetup status",
            |t, _| keep(f::macos::parse_fdesetup_status(t)),
            &[
                "facts/macos/fdesetup-status-on.txt",
                "facts/macos/fdesetup-status-encrypting.txt",
            ],
        ),
        (
            "socketfilterfw",
            |t, _| keep(f::macos::parse_socketfilterfw_state(t)),
            &["facts/macos/socketfilterfw-getglobalstate-on.txt"],
        ),
        (
            "sysadminctl screenLock",
            |t, _| keep(f::macos::parse_sysadminctl_screenlock(t)),
            &["facts/macos/sysadminctl-screenLock-status.txt"],
        ),
        (
            "pmset -g",
            |t, _| keep(f::macos::parse_pmset_displaysleep(t)),
            &["facts/macos/pmset-g-macbook.txt"],
        ),
        (
            "bundle version plist",
            |t, _| keep(f::macos::parse_bundle_version(t)),
            &["facts/macos/XProtect-Info.plist"],
        ),
        (
            "spctl --status",
            |t, _| keep(f::macos::parse_spctl_status(t)),
            &[],
        ),
        (
            "dscl group membership",
            |t, _| keep(f::macos::parse_dscl_group_membership(t)),
            &["facts/macos/dscl-admin-GroupMembership.txt"],
        ),
        (
            "systemsetup",
            |t, _| keep(f::macos::parse_systemsetup(t, "Remote Login")),
            &[
                "facts/macos/systemsetup-getremotelogin-no-fda.txt",
                "facts/macos/systemsetup-getusingnetworktime.txt",
                "facts/macos/systemsetup-getnetworktimeserver.txt",
            ],
        ),
    ];

    pub fn run(data: &[u8]) {
        let Some((which, rest)) = super::select(data, PARSERS.len()) else {
            return;
        };
        (PARSERS[which].1)(&super::text(rest), rest);
    }

    pub fn seeds() -> Vec<Vec<u8>> {
        let dir = super::repo().join("agent/tests/fixtures");
        let mut out = Vec::new();
        for (i, (name, _, files)) in PARSERS.iter().enumerate() {
            for f in *files {
                let b = std::fs::read(dir.join(f))
                    .unwrap_or_else(|e| panic!("seed for {name}: {f}: {e}"));
                out.push(super::seed(i, &b));
            }
        }
        out
    }
}

/// The service desks' answers, through the adapters' own readers
/// (`tilsyn_collector_desks::answers`).
pub mod desk_answers {
    pub fn run(data: &[u8]) {
        if let Some((&selector, body)) = data.split_first() {
            tilsyn_collector_desks::answers::read_any(selector, body);
        }
    }

    pub fn seeds() -> Vec<Vec<u8>> {
        tilsyn_collector_desks::answers::seeds()
            .into_iter()
            .map(|(s, b)| super::seed(s as usize, &b))
            .collect()
    }
}

/// Version comparison (dpkg, rpm and generic rules): never panics, and is a total order
/// where the module says it is one. The input is up to three versions separated by NUL.
pub mod versions {
    use std::cmp::Ordering;

    use tilsyn_collector_core::compliance::version::{compare, rpm_has_release, valid, Scheme};

    pub fn run(data: &[u8]) {
        let text = super::text(data);
        let v: Vec<&str> = text.splitn(3, '\0').collect();
        let (a, b, c) = (
            v[0],
            v.get(1).copied().unwrap_or(""),
            v.get(2).copied().unwrap_or(""),
        );
        for scheme in [Scheme::Deb, Scheme::Rpm, Scheme::Generic] {
            let _ = valid(scheme, a);
            if scheme == Scheme::Rpm {
                let r = rpm_has_release(a);
                if rpm_has_release(b) != r || rpm_has_release(c) != r {
                    let _ = compare(scheme, a, b);
                    continue;
                }
            }
            let ab = compare(scheme, a, b);
            assert_eq!(
                compare(scheme, a, a),
                Ordering::Equal,
                "{scheme:?} reflexive on {a:?}"
            );
            assert_eq!(
                compare(scheme, b, a),
                ab.reverse(),
                "{scheme:?} antisymmetric on {a:?} {b:?}"
            );
            let bc = compare(scheme, b, c);
            let ac = compare(scheme, a, c);
            if ab != Ordering::Greater && bc != Ordering::Greater {
                assert_ne!(
                    ac,
                    Ordering::Greater,
                    "{scheme:?} transitive on {a:?} <= {b:?} <= {c:?}"
                );
            }
            if ab == Ordering::Equal && bc == Ordering::Equal {
                assert_eq!(
                    ac,
                    Ordering::Equal,
                    "{scheme:?} equality transitive on {a:?} {b:?} {c:?}"
                );
            }
        }
    }

    pub fn seeds() -> Vec<Vec<u8>> {
        [
            "1.0~rc1\01.0\01.0+b1",
            "1:0.5\02.0\01:0.5-1",
            "3.0.7-16.el9\03.0.7-2.el9\03.0.10-1.el9",
            "10.0.22631.3447\010.0.19045\023H2",
            "12\012.0\012.0.1",
            "2.36-9+deb12u4\02.36-9+deb12u10\02.36-9",
            "1.2^git1\01.2\01.2~rc",
            "00010\010\0010.0",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
    }
}

/// Called once when a target starts: with `TILSYN_FUZZ_WRITE_SEEDS=DIR` in the environment,
/// writes the target's seed inputs into DIR and exits (tests/fuzz.sh seeds each corpus so).
pub fn init(seeds: fn() -> Vec<Vec<u8>>) {
    let Some(dir) = std::env::var_os("TILSYN_FUZZ_WRITE_SEEDS") else {
        return;
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let seeds = seeds();
    for (i, s) in seeds.iter().enumerate() {
        let p = dir.join(format!("seed-{i:04}"));
        std::fs::write(&p, s).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
    eprintln!("{} seeds written to {}", seeds.len(), dir.display());
    std::process::exit(0);
}
