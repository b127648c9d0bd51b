//! RHEL/Fedora pending updates from dnf (or yum on RHEL 7) — from the *cached* metadata only.
//!
//! Every command runs with `-C` (cache only): the agent never refreshes repository metadata
//! over the network; the OS's own `dnf-makecache.timer` (or the admin) does that, and the
//! age of that refresh is reported as `last_refresh_ms`. Four read-only queries combine:
//!
//! - `dnf -C -q check-update` — what would be upgraded (exit 100 = updates, 0 = none,
//!   1 = error). Its `Security: … is an installed security update` lines also say that a
//!   newer kernel is installed but not running.
//! - `dnf -C -q updateinfo list --security` — which package versions fix a security
//!   advisory (advisory id, severity, NEVRA).
//! - `dnf -C -q updateinfo info --security` — when each advisory was issued. dnf prints
//!   the `Updated` time in local time, so the command runs under `env TZ=UTC`.
//! - `dnf -C needs-restarting -r` — whether core packages changed since boot (exit 1 with
//!   "Reboot is required"). On RHEL 7 (yum) the yum-utils `needs-restarting -r` is used.
//!
//! Installed versions and the last install time come from rpm ([`super::rpm`]).
//! Repositories without updateinfo metadata (CentOS Stream, most third-party repos) give
//! no security advisories, so their updates are never marked security.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use tilsyn_proto::v1::{Package, PatchLevel, PendingUpdate};

use super::cmd::newest_mtime_ms;
use super::time::parse_timestamp_ms;
use super::{cmd, rpm, PlatformError};

/// dnf loads the whole repository cache for each command, which takes tens of seconds on
/// small VMs; a longer limit than [`cmd::DEFAULT_TIMEOUT`] avoids spurious timeouts.
const DNF_TIMEOUT: Duration = Duration::from_secs(90);

/// Whether dnf (RHEL 8+, Fedora) or yum (RHEL 7) is on this machine.
pub fn present() -> bool {
    cmd::on_path("dnf") || cmd::on_path("yum")
}

/// Which front end answers: dnf where present (on RHEL 8/9 `yum` is dnf anyway), else yum 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Dnf,
    Yum,
}

impl Manager {
    pub fn detect() -> Self {
        if cmd::on_path("dnf") {
            Manager::Dnf
        } else {
            Manager::Yum
        }
    }

    /// The program and the `PatchLevel.manager` value.
    pub fn name(self) -> &'static str {
        match self {
            Manager::Dnf => "dnf",
            Manager::Yum => "yum",
        }
    }

    /// dnf 4 takes `--security`; yum 3 takes the advisory type as an argument.
    fn security_filter(self) -> &'static str {
        match self {
            Manager::Dnf => "--security",
            Manager::Yum => "security",
        }
    }

    fn cache_dir(self) -> &'static str {
        match self {
            Manager::Dnf => "/var/cache/dnf",
            Manager::Yum => "/var/cache/yum",
        }
    }
}

/// Reads pending updates with their security advisories and publication dates, the last
/// metadata refresh and install, and whether a reboot is needed. Only `check-update` and
/// `updateinfo list` are required; the rest is best effort (dates then fall back to when
/// the agent first saw the update).
pub async fn read_patches() -> Result<PatchLevel, PlatformError> {
    let manager = Manager::detect();
    let tool = manager.name();

    let check = cmd::run(tool, &["-C", "-q", "check-update"], DNF_TIMEOUT).await?;
    if !matches!(check.status, Some(0) | Some(100)) {
        return Err(PlatformError::Failed {
            command: format!("{tool} -C -q check-update"),
            status: check.status,
            stderr: check.stderr.trim().chars().take(400).collect(),
        });
    }
    let check_update = parse_check_update(&check.stdout)?;

    let sec = manager.security_filter();
    let list = cmd::run_ok(tool, &["-C", "-q", "updateinfo", "list", sec], DNF_TIMEOUT).await?;
    let advisory_packages = parse_updateinfo_list(&list)?;

    let advisories = match cmd::run_ok(
        "env",
        &["TZ=UTC", tool, "-C", "-q", "updateinfo", "info", sec],
        DNF_TIMEOUT,
    )
    .await
    {
        Ok(text) => parse_updateinfo_info(&text).unwrap_or_default(),
        Err(_) => Vec::new(),
    };

    let installed = rpm::read_software().await.unwrap_or_default();
    let needs_restarting = match manager {
        Manager::Dnf => cmd::run("dnf", &["-C", "needs-restarting", "-r"], DNF_TIMEOUT)
            .await
            .ok(),
        Manager::Yum if cmd::on_path("needs-restarting") => {
            cmd::run("needs-restarting", &["-r"], DNF_TIMEOUT)
                .await
                .ok()
        }
        Manager::Yum => None,
    }
    .and_then(|o| parse_needs_restarting(o.status, &o.stdout));

    let facts = DnfFacts {
        manager: tool.to_string(),
        check_update,
        advisory_packages,
        advisories,
        installed,
        last_refresh_ms: newest_mtime_ms(
            Path::new(manager.cache_dir()),
            &["repomd.xml", "last_makecache", "cachecookie"],
            4,
        ),
        last_install_ms: rpm::read_last_install_ms().await.ok().flatten(),
        needs_restarting,
    };
    Ok(build_patch_level(&facts))
}

/// One row of `check-update`: `kernel.x86_64  5.14.0-362.24.1.el9_3  rhel-9-…-baseos-rpms`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AvailableUpdate {
    pub name: String,
    pub arch: String,
    /// `[epoch:]version-release` of the update.
    pub version: String,
    pub repo: String,
}

/// What `check-update` says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckUpdate {
    pub updates: Vec<AvailableUpdate>,
    /// dnf's running-kernel check: a newer kernel with a security fix is installed but the
    /// machine still runs an older one.
    pub installed_kernel_not_running: bool,
}

/// One row of `updateinfo list`: an advisory and one package version it ships.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdvisoryPackage {
    pub advisory: String,
    /// security, bugfix, enhancement, newpackage, unknown.
    pub kind: String,
    /// Critical, Important, Moderate, Low, or empty.
    pub severity: String,
    pub name: String,
    pub evr: String,
    pub arch: String,
}

/// One advisory from `updateinfo info`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Advisory {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub severity: String,
    /// `Issued` (yum) or else `Updated` (dnf), as UTC ms.
    pub issued_ms: Option<i64>,
}

/// Everything [`build_patch_level`] combines.
#[derive(Debug, Clone, Default)]
pub struct DnfFacts {
    /// "dnf" or "yum".
    pub manager: String,
    pub check_update: CheckUpdate,
    pub advisory_packages: Vec<AdvisoryPackage>,
    pub advisories: Vec<Advisory>,
    /// Installed packages (from `rpm -qa`), for the current versions.
    pub installed: Vec<Package>,
    pub last_refresh_ms: Option<i64>,
    pub last_install_ms: Option<i64>,
    /// Answer of `needs-restarting -r`, if it could be asked.
    pub needs_restarting: Option<bool>,
}

const CHECK_UPDATE: &str = "dnf check-update";
const UPDATEINFO_LIST: &str = "dnf updateinfo list";
const UPDATEINFO_INFO: &str = "dnf updateinfo info";

/// Prose that dnf, yum or their plugins may print among the rows.
fn is_known_noise(line: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "Last metadata expiration check",
        "Updating Subscription Management repositories",
        "Unable to read consumer identity",
        "This system is not registered",
        "Not root, Subscription Management",
        "Loaded plugins",
        "Loading mirror speeds",
        "Repository ",
        "updateinfo list done",
        "updateinfo info done",
        "Security: ",
        "Obsoleting Packages",
        "* ",
    ];
    let l = line.trim();
    PREFIXES.iter().any(|p| l.starts_with(p))
}

/// `name.arch` → (name, arch), if the last dot-separated part looks like an rpm arch.
fn split_name_arch(s: &str) -> Option<(&str, &str)> {
    let (name, arch) = s.rsplit_once('.')?;
    let arch_ok = !arch.is_empty()
        && arch
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
    (arch_ok && !name.is_empty()).then_some((name, arch))
}

/// `name-[epoch:]version-release.arch` → (name, evr, arch).
pub fn split_nevra(s: &str) -> Option<(&str, String, &str)> {
    let (nevr, arch) = split_name_arch(s)?;
    let (nev, release) = nevr.rsplit_once('-')?;
    let (name, ev) = nev.rsplit_once('-')?;
    if name.is_empty() || ev.is_empty() || release.is_empty() {
        return None;
    }
    Some((name, format!("{ev}-{release}"), arch))
}

/// Parses `dnf -C -q check-update` (or yum's): rows of `name.arch evr repo`, possibly
/// wrapped over two lines when a name is long (yum does this), the `Obsoleting Packages`
/// section (its indented lines name the installed package being replaced and are
/// skipped; an obsoleting package not already listed is added) and the running-kernel
/// `Security:` lines. Empty output means no updates.
pub fn parse_check_update(text: &str) -> Result<CheckUpdate, PlatformError> {
    let mut out = CheckUpdate::default();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut pending: Vec<&str> = Vec::new();
    let mut obsoleting = false;
    let mut unknown: Option<&str> = None;

    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with("Security: ") {
            if line.contains("is an installed security update") {
                out.installed_kernel_not_running = true;
            }
            continue;
        }
        if line.trim() == "Obsoleting Packages" {
            obsoleting = true;
            pending.clear();
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        if indented && pending.is_empty() {
            // In the obsoletes section: the installed package being replaced. Elsewhere:
            // nothing dnf prints; note it.
            if !obsoleting && !is_known_noise(line) {
                unknown.get_or_insert(line);
            }
            continue;
        }
        if !indented && !pending.is_empty() {
            // A wrapped row never got its continuation.
            unknown.get_or_insert(line);
            pending.clear();
        }
        pending.extend(line.split_whitespace());
        let name_ok = split_name_arch(pending[0]).is_some();
        if pending.len() < 3 && name_ok {
            continue; // wrapped: version and/or repo follow on the next line
        }
        let row_ok =
            pending.len() == 3 && name_ok && pending[1].bytes().any(|c| c.is_ascii_digit());
        if !row_ok {
            if !is_known_noise(line) {
                unknown.get_or_insert(line);
            }
            pending.clear();
            continue;
        }
        let (name, arch) = split_name_arch(pending[0]).unwrap_or_default();
        if seen.insert((name.to_string(), arch.to_string())) {
            out.updates.push(AvailableUpdate {
                name: name.to_string(),
                arch: arch.to_string(),
                version: pending[1].to_string(),
                repo: pending[2].to_string(),
            });
        }
        pending.clear();
    }
    if out.updates.is_empty() {
        if let Some(line) = unknown {
            return Err(PlatformError::parse(
                CHECK_UPDATE,
                format!("no 'name.arch version repository' rows; unexpected line {line:?}"),
            ));
        }
    }
    Ok(out)
}

/// Parses `updateinfo list [--security]`: `RHSA-2024:1248 Important/Sec. kernel-5.14.0-…x86_64`.
/// Also accepts the `i ` installed mark of `--all` listings and yum 3's labels
/// (`security`, `bugfix`, `enhancement`).
pub fn parse_updateinfo_list(text: &str) -> Result<Vec<AdvisoryPackage>, PlatformError> {
    let mut out = Vec::new();
    let mut unknown: Option<&str> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let mut t: Vec<&str> = line.split_whitespace().collect();
        if t.len() >= 4 && t[0] == "i" {
            t.remove(0);
        }
        let parsed = (t.len() >= 3)
            .then(|| Some((parse_advisory_label(t[1])?, split_nevra(t[2])?)))
            .flatten();
        match parsed {
            Some(((kind, severity), (name, evr, arch))) => out.push(AdvisoryPackage {
                advisory: t[0].to_string(),
                kind,
                severity,
                name: name.to_string(),
                evr,
                arch: arch.to_string(),
            }),
            None => {
                if !is_known_noise(line) {
                    unknown.get_or_insert(line);
                }
            }
        }
    }
    if out.is_empty() {
        if let Some(line) = unknown {
            return Err(PlatformError::parse(
                UPDATEINFO_LIST,
                format!("no 'ADVISORY TYPE NEVRA' rows; unexpected line {line:?}"),
            ));
        }
    }
    Ok(out)
}

/// `Important/Sec.` → (security, Important); `bugfix` → (bugfix, "").
fn parse_advisory_label(label: &str) -> Option<(String, String)> {
    if let Some(sev) = label.strip_suffix("/Sec.") {
        let sev = if sev.eq_ignore_ascii_case("unknown") {
            ""
        } else {
            sev
        };
        return Some(("security".into(), sev.to_string()));
    }
    let l = label.to_ascii_lowercase();
    matches!(
        l.as_str(),
        "security" | "bugfix" | "enhancement" | "newpackage" | "unknown"
    )
    .then(|| (l, String::new()))
}

/// Parses `updateinfo info`: blocks headed by the advisory title between `=====` lines,
/// then `Label: value` lines (dnf 4) or `Label : value` (yum 3); continuation lines have
/// an empty label. Takes `Update ID`, `Type`, `Severity` and `Issued` (yum) or else
/// `Updated` (dnf 4 prints only that one), read as UTC.
pub fn parse_updateinfo_info(text: &str) -> Result<Vec<Advisory>, PlatformError> {
    let mut out = Vec::new();
    let mut cur = Advisory::default();
    let (mut issued, mut updated) = (None, None);
    let mut in_header = false;
    let mut saw_separator = false;

    let mut finish = |cur: &mut Advisory, issued: &mut Option<i64>, updated: &mut Option<i64>| {
        let mut a = std::mem::take(cur);
        a.issued_ms = issued.take().or(updated.take());
        if !a.id.is_empty() {
            out.push(a);
        }
    };
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.len() >= 10 && line.bytes().all(|c| c == b'=') {
            saw_separator = true;
            if in_header {
                in_header = false;
            } else {
                finish(&mut cur, &mut issued, &mut updated);
                in_header = true;
            }
            continue;
        }
        if in_header {
            if !line.trim().is_empty() {
                cur.title = line.trim().to_string();
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "update id" => cur.id = value.to_string(),
            "type" => cur.kind = value.to_ascii_lowercase(),
            "severity" => cur.severity = value.to_string(),
            "issued" => issued = parse_timestamp_ms(value),
            "updated" => updated = parse_timestamp_ms(value),
            _ => {}
        }
    }
    finish(&mut cur, &mut issued, &mut updated);
    if out.is_empty() && !text.trim().is_empty() && !text.lines().all(is_known_noise_or_blank) {
        return Err(PlatformError::parse(
            UPDATEINFO_INFO,
            if saw_separator {
                "advisory blocks without an 'Update ID'"
            } else {
                "no advisory blocks (lines of '=')"
            },
        ));
    }
    Ok(out)
}

fn is_known_noise_or_blank(line: &str) -> bool {
    line.trim().is_empty() || is_known_noise(line)
}

/// `needs-restarting -r`: exit 1 with "Reboot is required" → reboot needed; exit 0 → not.
/// Anything else (the plugin missing, an error) is no answer.
pub fn parse_needs_restarting(status: Option<i32>, stdout: &str) -> Option<bool> {
    match status {
        Some(0) => Some(false),
        Some(1) if stdout.contains("Reboot is required") => Some(true),
        _ => None,
    }
}

/// Combines the facts: an update is a security update when a security advisory ships a
/// version of that package (same name and arch) newer than the installed one; its
/// `since_ms` is the earliest issue date of those advisories and its origin their ids.
/// Other updates name their repository. A reboot is required when `needs-restarting`
/// says so or dnf reports an installed-but-not-running security kernel.
pub fn build_patch_level(f: &DnfFacts) -> PatchLevel {
    // Highest installed version per name.arch (installonly packages like the kernel
    // have several).
    let mut installed: HashMap<(&str, &str), &str> = HashMap::new();
    let mut installed_by_name: HashMap<&str, &str> = HashMap::new();
    for p in &f.installed {
        keep_newest(
            &mut installed,
            (p.name.as_str(), p.arch.as_str()),
            &p.version,
        );
        keep_newest(&mut installed_by_name, p.name.as_str(), &p.version);
    }
    let issued: HashMap<&str, Option<i64>> = f
        .advisories
        .iter()
        .map(|a| (a.id.as_str(), a.issued_ms))
        .collect();

    let mut updates: Vec<PendingUpdate> = f
        .check_update
        .updates
        .iter()
        .map(|u| {
            let current = installed
                .get(&(u.name.as_str(), u.arch.as_str()))
                .or_else(|| installed_by_name.get(u.name.as_str()))
                .copied()
                .unwrap_or_default();
            let mut ids: Vec<&str> = f
                .advisory_packages
                .iter()
                .filter(|a| a.kind == "security" && a.name == u.name && a.arch == u.arch)
                .filter(|a| current.is_empty() || rpm::compare_evr(&a.evr, current).is_gt())
                .map(|a| a.advisory.as_str())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let since_ms = ids
                .iter()
                .filter_map(|id| issued.get(id).copied().flatten())
                .min();
            PendingUpdate {
                name: u.name.clone(),
                current_version: current.to_string(),
                new_version: u.version.clone(),
                security: !ids.is_empty(),
                origin: if ids.is_empty() {
                    u.repo.clone()
                } else {
                    ids.join(", ")
                },
                since_ms,
            }
        })
        .collect();
    updates.sort_by(|a, b| a.name.cmp(&b.name));

    super::patch_level(
        &f.manager,
        updates,
        f.last_refresh_ms,
        f.last_install_ms,
        f.needs_restarting.unwrap_or(false) || f.check_update.installed_kernel_not_running,
    )
}

fn keep_newest<'a, K: std::hash::Hash + Eq>(map: &mut HashMap<K, &'a str>, key: K, evr: &'a str) {
    let current = map.entry(key).or_insert(evr);
    if rpm::compare_evr(evr, current).is_gt() {
        *current = evr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: &str = include_str!("../../tests/fixtures/dnf/check-update-rhel9.txt");
    const LIST: &str = include_str!("../../tests/fixtures/dnf/updateinfo-list-security-rhel9.txt");
    const INFO: &str = include_str!("../../tests/fixtures/dnf/updateinfo-info-security-rhel9.txt");
    const RPM_QA: &str = include_str!("../../tests/fixtures/rpm/rpm-qa-rhel9.txt");

    #[test]
    fn parses_check_update_with_obsoletes_and_kernel_notice() {
        let c = parse_check_update(CHECK).unwrap();
        assert_eq!(c.updates.len(), 24);
        assert!(c.installed_kernel_not_running);
        let k = c.updates.iter().find(|u| u.name == "kernel-core").unwrap();
        assert_eq!(k.arch, "x86_64");
        assert_eq!(k.version, "5.14.0-362.24.1.el9_3");
        assert_eq!(k.repo, "rhel-9-for-x86_64-baseos-rpms");
        let ssl = c.updates.iter().find(|u| u.name == "openssl-libs").unwrap();
        assert_eq!(ssl.version, "1:3.0.7-25.el9_3");
        // The obsoleting grub2-tools repeats a listed row: counted once; the indented
        // installed package is not an update.
        assert_eq!(
            c.updates.iter().filter(|u| u.name == "grub2-tools").count(),
            1
        );
        assert!(!c.updates.iter().any(|u| u.repo.starts_with('@')));
        assert!(!c.updates.iter().any(|u| u.name.starts_with("Security")));
    }

    #[test]
    fn check_update_edge_cases() {
        // No updates: dnf -q prints nothing (exit 0).
        assert!(parse_check_update("").unwrap().updates.is_empty());
        assert!(parse_check_update("\n").unwrap().updates.is_empty());
        // Noise only.
        let t = "Updating Subscription Management repositories.\nLast metadata expiration check: 0:41:10 ago on Tue 09 Apr 2024 09:12:01 AM UTC.\n\n";
        assert!(parse_check_update(t).unwrap().updates.is_empty());
        // yum wraps long names onto two lines; CRLF tolerated; a new package from the
        // obsoletes section is added.
        let t = "\r\nNetworkManager-config-server.noarch\r\n                          1:1.44.0-5.el9_3       rhel-9-for-x86_64-baseos-rpms\r\nscreen.x86_64   4.1.0-0.23.20120314git3c2946.el7_2\r\n            rhelosp-rhel-7.2-z\r\nObsoleting Packages\r\nlibldb.i686          4.21.3-3.el9        baseos\r\n    libldb.x86_64    2.9.1-2.el9         @baseos\r\n";
        let c = parse_check_update(t).unwrap();
        assert_eq!(c.updates.len(), 3, "{c:?}");
        assert_eq!(c.updates[0].name, "NetworkManager-config-server");
        assert_eq!(c.updates[0].arch, "noarch");
        assert_eq!(c.updates[0].version, "1:1.44.0-5.el9_3");
        assert_eq!(c.updates[1].repo, "rhelosp-rhel-7.2-z");
        assert_eq!(c.updates[2].name, "libldb");
        assert_eq!(c.updates[2].arch, "i686");
        assert!(!c.installed_kernel_not_running);
        // Not check-update output at all.
        let err = parse_check_update("<html><body>proxy error</body></html>\n").unwrap_err();
        assert!(err.to_string().contains("dnf check-update"), "{err}");
    }

    #[test]
    fn parses_updateinfo_list() {
        let l = parse_updateinfo_list(LIST).unwrap();
        assert_eq!(l.len(), 16);
        assert!(l.iter().all(|a| a.kind == "security"));
        let k = l
            .iter()
            .find(|a| a.name == "kernel-core" && a.advisory == "RHSA-2024:1248")
            .unwrap();
        assert_eq!(k.severity, "Important");
        assert_eq!(k.evr, "5.14.0-362.24.1.el9_3");
        assert_eq!(k.arch, "x86_64");
        let ssh = l.iter().find(|a| a.name == "openssh-clients").unwrap();
        assert_eq!(ssh.severity, "Moderate");
        assert_eq!(ssh.evr, "8.7p1-34.el9_3.3");
    }

    #[test]
    fn updateinfo_list_edge_cases() {
        assert!(parse_updateinfo_list("").unwrap().is_empty());
        // yum 3 trailer, an --all listing with the installed mark, epochs in the NEVRA.
        let t = "i RHSA-2024:0310 Moderate/Sec.  openssl-libs-1:3.0.7-24.el9.x86_64\r\n  RHBA-2024:1000 bugfix         tzdata-2024a-1.el9.noarch\r\nFEDORA-2024-1 Unknown/Sec. foo-1.0-1.fc40.noarch\r\nupdateinfo list done\r\n";
        let l = parse_updateinfo_list(t).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].evr, "1:3.0.7-24.el9");
        assert_eq!(l[1].kind, "bugfix");
        assert_eq!(l[2].severity, "");
        assert!(parse_updateinfo_list(
            "Error: Cache-only enabled but no cache for 'rhel-9-for-x86_64-baseos-rpms'\n"
        )
        .is_err());
    }

    #[test]
    fn parses_updateinfo_info_dates_as_utc() {
        let a = parse_updateinfo_info(INFO).unwrap();
        assert_eq!(a.len(), 5);
        let k = a.iter().find(|a| a.id == "RHSA-2024:1248").unwrap();
        assert_eq!(k.title, "Important: kernel security and bug fix update");
        assert_eq!(k.kind, "security");
        assert_eq!(k.severity, "Important");
        // 2024-03-12 09:23:10 UTC
        assert_eq!(k.issued_ms, Some(1_710_235_390_000));
        let g = a.iter().find(|a| a.id == "RHSA-2024:0627").unwrap();
        assert_eq!(g.issued_ms, Some(1_707_129_682_000));
        assert_eq!(g.severity, "Moderate");
    }

    #[test]
    fn updateinfo_info_yum3_layout_and_garbage() {
        let t = "===============================================================================\n  Important: kernel security and bug fix update\n===============================================================================\n  Update ID : RHSA-2019:1168\n    Release : 0\n       Type : security\n     Status : final\n     Issued : 2019-05-14 00:00:00\n    Updated : 2019-05-15 10:00:00\n       Bugs : 1646768 - CVE-2018-12126 hardware: Microarchitectural Store Buffer Data Sampling\nDescription : The kernel packages contain the Linux kernel.\n            : Severity: not a label\n   Severity : Important\nupdateinfo info done\n";
        let a = parse_updateinfo_info(t).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].id, "RHSA-2019:1168");
        assert_eq!(a[0].severity, "Important");
        // Issued wins over Updated: 2019-05-14 00:00:00 UTC.
        assert_eq!(a[0].issued_ms, Some(1_557_792_000_000));
        assert!(parse_updateinfo_info("").unwrap().is_empty());
        assert!(parse_updateinfo_info("garbage\n").is_err());
    }

    #[test]
    fn needs_restarting_answers() {
        let yes = "Core libraries or services have been updated since boot-up:\n  * kernel\n\nReboot is required to fully utilize these updates.\nMore information: https://access.redhat.com/solutions/27943\n";
        assert_eq!(parse_needs_restarting(Some(1), yes), Some(true));
        let no = "No core libraries or services have been updated since boot-up.\nReboot should not be necessary.\n";
        assert_eq!(parse_needs_restarting(Some(0), no), Some(false));
        // "No such command: needs-restarting" also exits 1: no answer, not "reboot".
        assert_eq!(parse_needs_restarting(Some(1), ""), None);
        assert_eq!(parse_needs_restarting(None, yes), None);
    }

    fn facts() -> DnfFacts {
        DnfFacts {
            manager: "dnf".into(),
            check_update: parse_check_update(CHECK).unwrap(),
            advisory_packages: parse_updateinfo_list(LIST).unwrap(),
            advisories: parse_updateinfo_info(INFO).unwrap(),
            installed: rpm::parse_qa(RPM_QA).unwrap(),
            last_refresh_ms: Some(1_712_650_000_000),
            last_install_ms: Some(1_711_000_000_000),
            needs_restarting: None,
        }
    }

    #[test]
    fn builds_the_patch_level() {
        let p = build_patch_level(&facts());
        assert_eq!(p.manager, "dnf");
        assert_eq!(p.pending_count, 24);
        // expat, gnutls, 6 kernel packages, python3-perf, 3 openssh packages.
        assert_eq!(p.pending_security_count, 12);
        let k = p.updates.iter().find(|u| u.name == "kernel-core").unwrap();
        assert!(k.security);
        // Installed newest is 362.18.1, so its own advisory (RHSA-2024:0461) is already
        // installed and only RHSA-2024:1248 is pending.
        assert_eq!(k.current_version, "5.14.0-362.18.1.el9_3");
        assert_eq!(k.origin, "RHSA-2024:1248");
        assert_eq!(k.since_ms, Some(1_710_235_390_000));
        let ssl = p.updates.iter().find(|u| u.name == "openssl").unwrap();
        assert!(!ssl.security);
        assert_eq!(ssl.current_version, "1:3.0.7-24.el9");
        assert_eq!(ssl.origin, "rhel-9-for-x86_64-baseos-rpms");
        assert_eq!(ssl.since_ms, None);
        // Oldest pending security advisory: gnutls, 2024-02-05 10:41:22 UTC.
        assert_eq!(p.oldest_security_since_ms, Some(1_707_129_682_000));
        // dnf's running-kernel notice alone means a reboot is due.
        assert!(p.reboot_required);
        assert_eq!(p.last_refresh_ms, Some(1_712_650_000_000));
    }

    #[test]
    fn reboot_and_unknown_installed_versions() {
        let mut f = facts();
        f.check_update.installed_kernel_not_running = false;
        f.needs_restarting = Some(false);
        assert!(!build_patch_level(&f).reboot_required);
        f.needs_restarting = Some(true);
        assert!(build_patch_level(&f).reboot_required);
        // Without rpm's list every matching advisory counts; the oldest wins.
        f.installed.clear();
        let p = build_patch_level(&f);
        let k = p.updates.iter().find(|u| u.name == "kernel-core").unwrap();
        assert_eq!(k.origin, "RHSA-2024:0461, RHSA-2024:1248");
        assert_eq!(k.since_ms, Some(1_706_691_329_000));
        assert_eq!(k.current_version, "");
        // Nothing pending.
        let p = build_patch_level(&DnfFacts::default());
        assert_eq!((p.pending_count, p.oldest_security_since_ms), (0, None));
    }

    #[test]
    fn timestamps_in_every_shape_we_meet() {
        let t = Some(1_710_235_390_000); // 2024-03-12 09:23:10 UTC
        assert_eq!(parse_timestamp_ms("2024-03-12 09:23:10"), t);
        assert_eq!(parse_timestamp_ms("2024-03-12T09:23:10Z"), t);
        assert_eq!(parse_timestamp_ms("2024-03-12T11:23:10+02:00"), t);
        assert_eq!(parse_timestamp_ms("2024-03-12 04:23:10 -0500"), t);
        assert_eq!(
            parse_timestamp_ms("2024-03-12T09:23:10.250Z"),
            Some(1_710_235_390_250)
        );
        assert_eq!(
            parse_timestamp_ms("2024-03-12T09:23:10.1234567+00:00"),
            Some(1_710_235_390_123)
        );
        assert_eq!(parse_timestamp_ms("2024-03-12"), Some(1_710_201_600_000));
        assert_eq!(parse_timestamp_ms("1970-01-01 00:00:00 +0000"), Some(0));
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-03-12 25:00:00",
            "2024-03-12T09:23:10Q",
        ] {
            assert_eq!(parse_timestamp_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn newest_mtime_walks_the_cache() {
        let root = std::env::temp_dir().join(format!("tilsyn-dnf-test-{}", std::process::id()));
        let repodata = root.join("baseos-1234abcd").join("repodata");
        std::fs::create_dir_all(&repodata).unwrap();
        std::fs::write(repodata.join("repomd.xml"), "<repomd/>").unwrap();
        std::fs::write(repodata.join("primary.xml.gz"), "x").unwrap();
        let got = newest_mtime_ms(&root, &["repomd.xml"], 4);
        let want = cmd::mtime_ms(&repodata.join("repomd.xml"));
        assert!(got.is_some());
        assert_eq!(got, want);
        assert_eq!(newest_mtime_ms(&root, &["repomd.xml"], 0), None);
        assert_eq!(
            newest_mtime_ms(&root.join("missing"), &["repomd.xml"], 4),
            None
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
