//! macOS facts from the system's own tools, each with a pure parser:
//!
//! - applications: `system_profiler -json -detailLevel mini SPApplicationsDataType`
//!   (every `.app` bundle Spotlight knows, with version and architecture);
//! - installer receipts: `pkgutil --pkgs` (package ids only: asking `pkgutil --pkg-info`
//!   per package costs one process each, hundreds on a managed Mac), with versions taken
//!   from `/Library/Receipts/InstallHistory.plist` where an install names the package;
//! - pending updates: `softwareupdate -l --no-scan`, which lists the result of the last
//!   scan macOS itself made (no network, no new scan), plus the last successful scan from
//!   `defaults read /Library/Preferences/com.apple.SoftwareUpdate LastSuccessfulDate` and
//!   the last update install from InstallHistory.plist;
//! - hardware: `system_profiler -json SPHardwareDataType`;
//! - OS: `sw_vers`.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tilsyn_proto::v1::{Hardware, OsInfo, Package, PatchLevel, PendingUpdate, ServiceStatus};

use super::time::parse_timestamp_ms;
use super::xml::{xml_events, XmlEvent};
use super::{cmd, PlatformError};

const APPS: &str = "system_profiler SPApplicationsDataType";
const HARDWARE: &str = "system_profiler SPHardwareDataType";
const PKGUTIL: &str = "pkgutil --pkgs";
const SOFTWAREUPDATE: &str = "softwareupdate -l";
const SW_VERS: &str = "sw_vers";
const INSTALL_HISTORY: &str = "/Library/Receipts/InstallHistory.plist";

/// system_profiler walks every application bundle; on a Mac with many apps that takes
/// well over the default limit.
const SYSTEM_PROFILER_TIMEOUT: Duration = Duration::from_secs(180);

/// Whether this is a Mac (sw_vers exists only there).
pub fn present() -> bool {
    cmd::on_path("sw_vers")
}

/// Application bundles, from `system_profiler -json -detailLevel mini SPApplicationsDataType`.
pub async fn read_applications() -> Result<Vec<Package>, PlatformError> {
    let out = cmd::run_ok(
        "system_profiler",
        &["-json", "-detailLevel", "mini", "SPApplicationsDataType"],
        SYSTEM_PROFILER_TIMEOUT,
    )
    .await?;
    parse_applications_json(&out)
}

/// Installer package receipts, from `pkgutil --pkgs`; versions from InstallHistory.plist
/// when it has them (best effort).
pub async fn read_pkgutil() -> Result<Vec<Package>, PlatformError> {
    let out = cmd::run_ok("pkgutil", &["--pkgs"], cmd::DEFAULT_TIMEOUT).await?;
    let mut pkgs = parse_pkgutil_pkgs(&out)?;
    if let Ok(history) =
        cmd::read(Path::new(INSTALL_HISTORY)).and_then(|t| parse_install_history(&t))
    {
        let versions = package_versions(&history);
        for p in &mut pkgs {
            if let Some(v) = versions.get(p.name.as_str()) {
                p.version = v.to_string();
            }
        }
    }
    Ok(pkgs)
}

/// Pending updates from the last scan, with the last scan and update install times.
pub async fn read_patches() -> Result<PatchLevel, PlatformError> {
    let out = cmd::run("softwareupdate", &["-l", "--no-scan"], cmd::DEFAULT_TIMEOUT).await?;
    // The list goes to stdout, the header and "No new software available." to stderr.
    let text = format!("{}\n{}", out.stdout, out.stderr);
    let updates = match parse_softwareupdate(&text) {
        Ok(u) => u,
        Err(e) if out.status == Some(0) => return Err(e),
        Err(_) => {
            return Err(PlatformError::Failed {
                command: "softwareupdate -l --no-scan".into(),
                status: out.status,
                stderr: out.stderr.trim().chars().take(400).collect(),
            })
        }
    };
    let running = read_os().await.map(|o| o.version).unwrap_or_default();
    let last_refresh_ms = cmd::run_ok(
        "defaults",
        &[
            "read",
            "/Library/Preferences/com.apple.SoftwareUpdate",
            "LastSuccessfulDate",
        ],
        cmd::DEFAULT_TIMEOUT,
    )
    .await
    .ok()
    .and_then(|t| parse_defaults_date(&t));
    let last_install_ms = cmd::read(Path::new(INSTALL_HISTORY))
        .and_then(|t| parse_install_history(&t))
        .ok()
        .and_then(|h| last_update_install_ms(&h));
    Ok(build_patch_level(
        &updates,
        &running,
        last_refresh_ms,
        last_install_ms,
    ))
}

/// Model, serial, chip and memory, from `system_profiler -json SPHardwareDataType`.
pub async fn read_hardware() -> Result<Hardware, PlatformError> {
    let out = cmd::run_ok(
        "system_profiler",
        &["-json", "SPHardwareDataType"],
        SYSTEM_PROFILER_TIMEOUT,
    )
    .await?;
    parse_hardware_json(&out)
}

/// Product name, version and build, from `sw_vers`.
pub async fn read_os() -> Result<OsInfo, PlatformError> {
    parse_sw_vers(&cmd::run_ok("sw_vers", &[], cmd::DEFAULT_TIMEOUT).await?)
}

/// Parses `SPApplicationsDataType` into packages (source `macos-app`): `_name`, `version`
/// (empty when the bundle has none) and the architecture from `arch_kind` (`arm64`,
/// `x86_64`, `universal`). The same name, version and arch at two paths is kept once.
/// Sorted by name.
pub fn parse_applications_json(text: &str) -> Result<Vec<Package>, PlatformError> {
    let v = parse_json(APPS, text)?;
    let apps = data_array(APPS, &v, "SPApplicationsDataType")?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for a in apps {
        let name = str_field(a, "_name");
        if name.is_empty() {
            continue;
        }
        let arch = match str_field(a, "arch_kind").as_str() {
            "arch_arm" | "arch_ios" => "arm64",
            "arch_i64" => "x86_64",
            "arch_i32" => "i386",
            "arch_arm_i64" | "arch_arm_i64_i32" | "arch_i64_i32" => "universal",
            _ => "",
        };
        let p = Package {
            name,
            version: str_field(a, "version"),
            arch: arch.into(),
            source: "macos-app".into(),
        };
        if seen.insert((p.name.clone(), p.version.clone(), p.arch.clone())) {
            out.push(p);
        }
    }
    out.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then_with(|| a.version.cmp(&b.version))
    });
    Ok(out)
}

/// Parses `pkgutil --pkgs` (one receipt id per line) into packages (source `pkgutil`,
/// no version, no arch). Sorted by id.
pub fn parse_pkgutil_pkgs(text: &str) -> Result<Vec<Package>, PlatformError> {
    let mut out = Vec::new();
    let mut unknown = None;
    for line in text.lines() {
        let id = line.trim();
        if id.is_empty() {
            continue;
        }
        if id.contains(char::is_whitespace) {
            unknown.get_or_insert(id);
            continue;
        }
        out.push(Package {
            name: id.to_string(),
            version: String::new(),
            arch: String::new(),
            source: "pkgutil".into(),
        });
    }
    if let (true, Some(line)) = (out.is_empty(), unknown) {
        return Err(PlatformError::parse(
            PKGUTIL,
            format!("expected one package id per line, got {line:?}"),
        ));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}

/// One update listed by `softwareupdate -l`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MacUpdate {
    /// The handle for `softwareupdate -i`, e.g. `macOS Sonoma 14.7-23H124`.
    pub label: String,
    pub title: String,
    pub version: String,
    pub recommended: bool,
    /// `Action: restart`: installing it restarts the Mac.
    pub restart: bool,
}

/// Parses `softwareupdate -l` (macOS 10.15+); the second line starts with a tab:
///
/// ```text
/// * Label: macOS Sonoma 14.7-23H124
///     Title: macOS Sonoma 14.7, Version: 14.7, Size: 1645738KiB, Recommended: YES, Action: restart,
/// ```
///
/// "No new software available." (or just the tool's header) is an empty list.
pub fn parse_softwareupdate(text: &str) -> Result<Vec<MacUpdate>, PlatformError> {
    let mut out: Vec<MacUpdate> = Vec::new();
    let mut recognised = false;
    let mut unknown = None;
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(label) = t.strip_prefix("* Label:") {
            out.push(MacUpdate {
                label: label.trim().to_string(),
                ..Default::default()
            });
        } else if let (Some(body), Some(cur)) = (t.strip_prefix("Title:"), out.last_mut()) {
            let body = body.trim();
            cur.title = body
                .split(", Version:")
                .next()
                .unwrap_or_default()
                .trim_end_matches(',')
                .trim()
                .to_string();
            let field = |key: &str| -> Option<String> {
                let pat = format!(", {key}:");
                let i = body.find(&pat)? + pat.len();
                Some(
                    body[i..]
                        .split(',')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                )
            };
            cur.version = field("Version").unwrap_or_default();
            cur.recommended = field("Recommended").is_some_and(|v| v.eq_ignore_ascii_case("YES"));
            cur.restart = field("Action").is_some_and(|v| v.eq_ignore_ascii_case("restart"));
        } else if t.starts_with("Software Update")
            || t.starts_with("No new software available")
            || t.starts_with("Finding available software")
        {
            recognised = true;
        } else {
            unknown.get_or_insert(t);
        }
    }
    if out.is_empty() && !recognised {
        if let Some(line) = unknown {
            return Err(PlatformError::parse(
                SOFTWAREUPDATE,
                format!(
                    "neither '* Label:' entries nor 'No new software available.'; got {line:?}"
                ),
            ));
        }
    }
    for u in &mut out {
        if u.title.is_empty() {
            u.title = u.label.clone();
        }
    }
    Ok(out)
}

fn is_macos_update(u: &MacUpdate) -> bool {
    ["macOS", "OS X", "Mac OS X"]
        .iter()
        .any(|p| u.title.starts_with(p) || u.label.starts_with(p))
}

/// Whether an update fixes security problems. Apple publishes security content for
/// every point release of the running major version and ships security-only updates
/// under telling names, so: anything named "Security" (Security Update 2024-001, Rapid
/// Security Response, Background Security Improvement), XProtect/MRT/Gatekeeper data,
/// a response version such as `26.3.1 (a)`, and a macOS update within the running major
/// version. An upgrade to the next major version is not a security update. When the
/// running version is unknown, a recommended macOS update that restarts counts.
pub fn is_security_update(u: &MacUpdate, running_version: &str) -> bool {
    let text = format!("{} {}", u.label, u.title);
    if ["Security", "XProtect", "MRT", "Gatekeeper"]
        .iter()
        .any(|k| text.contains(k))
    {
        return true;
    }
    if !is_macos_update(u) {
        return false;
    }
    if u.version.contains('(') {
        return true;
    }
    let major = |v: &str| v.split('.').next().unwrap_or_default().trim().to_string();
    if running_version.trim().is_empty() {
        u.recommended && u.restart
    } else {
        major(&u.version) == major(running_version)
    }
}

/// Builds the patch level (manager `softwareupdate`). Updates have no publication date
/// (the agent's first-seen time stands in); their origin is the label; macOS updates
/// show the running version as current. `reboot_required` is set when a pending update
/// will restart the Mac (`Action: restart`): macOS installs and restarts in one step, so
/// there is no installed-but-not-rebooted state to report.
pub fn build_patch_level(
    updates: &[MacUpdate],
    running_version: &str,
    last_refresh_ms: Option<i64>,
    last_install_ms: Option<i64>,
) -> PatchLevel {
    let pending: Vec<PendingUpdate> = updates
        .iter()
        .map(|u| PendingUpdate {
            name: u.title.clone(),
            current_version: if is_macos_update(u) {
                running_version.trim().to_string()
            } else {
                String::new()
            },
            new_version: u.version.clone(),
            security: is_security_update(u, running_version),
            origin: u.label.clone(),
            since_ms: None,
        })
        .collect();
    super::patch_level(
        "softwareupdate",
        pending,
        last_refresh_ms,
        last_install_ms,
        updates.iter().any(|u| u.restart),
    )
}

/// The date `defaults read … LastSuccessfulDate` prints: `2024-10-08 07:41:12 +0000`.
pub fn parse_defaults_date(text: &str) -> Option<i64> {
    parse_timestamp_ms(text.trim())
}

/// One entry of `/Library/Receipts/InstallHistory.plist`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstallRecord {
    pub date_ms: Option<i64>,
    pub display_name: String,
    pub display_version: String,
    /// Who installed it: softwareupdated, installer, appstoreagent, …
    pub process_name: String,
    /// `config-data` for background security data (XProtect, MRT, Gatekeeper).
    pub content_type: String,
    pub package_ids: Vec<String>,
}

/// Parses InstallHistory.plist (an XML plist: an array of dicts with `date`,
/// `displayName`, `displayVersion`, `processName`, `contentType`, `packageIdentifiers`).
pub fn parse_install_history(text: &str) -> Result<Vec<InstallRecord>, PlatformError> {
    let events = xml_events(text).map_err(|e| PlatformError::parse(INSTALL_HISTORY, e))?;
    let mut out = Vec::new();
    let mut stack: Vec<&str> = Vec::new();
    let mut rec: Option<InstallRecord> = None;
    let mut key = String::new();
    let mut buf: Option<String> = None;
    let mut saw_plist = false;
    for ev in events {
        match ev {
            XmlEvent::Start { name, empty, .. } => {
                saw_plist |= name == "plist";
                let top_dict = name == "dict" && stack == ["plist", "array"];
                if empty {
                    if let (Some(r), "string") = (rec.as_mut(), name) {
                        set_field(r, &key, String::new(), false);
                    }
                    continue;
                }
                if top_dict {
                    rec = Some(InstallRecord::default());
                }
                stack.push(name);
                if matches!(name, "key" | "string" | "date") {
                    buf = Some(String::new());
                }
            }
            XmlEvent::Text(t) => {
                if let Some(b) = buf.as_mut() {
                    b.push_str(&t);
                }
            }
            XmlEvent::End(name) => {
                stack.pop();
                if let Some(b) = buf.take() {
                    match name {
                        "key" => key = b.trim().to_string(),
                        _ => {
                            if let Some(r) = rec.as_mut() {
                                set_field(r, &key, b, stack.last() == Some(&"array"));
                            }
                        }
                    }
                }
                if name == "dict" && stack == ["plist", "array"] {
                    out.extend(rec.take());
                }
            }
        }
    }
    if !saw_plist {
        return Err(PlatformError::parse(INSTALL_HISTORY, "no <plist> element"));
    }
    Ok(out)
}

fn set_field(r: &mut InstallRecord, key: &str, value: String, in_array: bool) {
    match (key, in_array) {
        ("packageIdentifiers", true) => r.package_ids.push(value.trim().to_string()),
        ("date", false) => r.date_ms = parse_timestamp_ms(&value),
        ("displayName", false) => r.display_name = value.trim().to_string(),
        ("displayVersion", false) => r.display_version = value.trim().to_string(),
        ("processName", false) => r.process_name = value.trim().to_string(),
        ("contentType", false) => r.content_type = value.trim().to_string(),
        _ => {}
    }
}

/// When Software Update last installed something other than background security data
/// (which arrives almost daily and would hide a Mac that never installs OS updates).
pub fn last_update_install_ms(history: &[InstallRecord]) -> Option<i64> {
    history
        .iter()
        .filter(|r| {
            matches!(
                r.process_name.as_str(),
                "softwareupdated" | "Software Update"
            )
        })
        .filter(|r| r.content_type != "config-data")
        .filter_map(|r| r.date_ms)
        .max()
}

/// Receipt id → the display version of the latest install that names it.
pub fn package_versions(history: &[InstallRecord]) -> HashMap<&str, &str> {
    let mut sorted: Vec<&InstallRecord> = history.iter().collect();
    sorted.sort_by_key(|r| r.date_ms.unwrap_or(0));
    let mut out = HashMap::new();
    for r in sorted.into_iter().filter(|r| !r.display_version.is_empty()) {
        for id in &r.package_ids {
            out.insert(id.as_str(), r.display_version.as_str());
        }
    }
    out
}

/// Parses `SPHardwareDataType`: vendor Apple, model `MacBook Air (Mac14,2)`, serial, chip
/// (`chip_type` on Apple silicon, `cpu_type` on Intel), cores from `number_processors`
/// (`proc 8:4:4` = total:performance:efficiency on Apple silicon, a plain number on
/// Intel, doubled into threads when hyper-threading is on), memory from `16 GB`.
pub fn parse_hardware_json(text: &str) -> Result<Hardware, PlatformError> {
    let v = parse_json(HARDWARE, text)?;
    let hw = data_array(HARDWARE, &v, "SPHardwareDataType")?
        .first()
        .ok_or_else(|| PlatformError::parse(HARDWARE, "SPHardwareDataType is empty"))?;
    let name = str_field(hw, "machine_name");
    let ident = str_field(hw, "machine_model");
    let model = match (name.is_empty(), ident.is_empty()) {
        (false, false) => format!("{name} ({ident})"),
        (false, true) => name,
        _ => ident,
    };
    let apple_silicon = !str_field(hw, "chip_type").is_empty();
    let cpu_model = if apple_silicon {
        str_field(hw, "chip_type")
    } else {
        str_field(hw, "cpu_type")
    };
    let cores = match hw.get("number_processors") {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as u32,
        Some(Value::String(s)) => s
            .trim()
            .trim_start_matches("proc")
            .trim()
            .split(':')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0),
        _ => 0,
    };
    let threads = if !apple_silicon && str_field(hw, "platform_cpu_htt") == "htt_enabled" {
        cores * 2
    } else {
        cores
    };
    Ok(Hardware {
        vendor: "Apple Inc.".into(),
        model,
        serial: str_field(hw, "serial_number"),
        cpu_model,
        cpu_cores: cores,
        cpu_threads: threads,
        memory_bytes: parse_memory(&str_field(hw, "physical_memory")).unwrap_or(0),
    })
}

/// `16 GB` → bytes (binary units, as macOS means them here).
fn parse_memory(s: &str) -> Option<u64> {
    let mut it = s.split_whitespace();
    let n: f64 = it.next()?.replace(',', ".").parse().ok()?;
    let mult: u64 = match it.next()?.to_ascii_uppercase().as_str() {
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => return None,
    };
    Some((n * mult as f64) as u64)
}

/// Parses `sw_vers` (`ProductName:\t\tmacOS`, `ProductVersion:\t\t14.6.1`,
/// `BuildVersion:\t\t23G93`, and `ProductVersionExtra:\t(a)` after a Rapid Security
/// Response). Family `macos`; the pretty name adds the release name (Sonoma, …).
pub fn parse_sw_vers(text: &str) -> Result<OsInfo, PlatformError> {
    let mut fields: HashMap<&str, &str> = HashMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once(':') {
            fields.insert(k.trim(), v.trim());
        }
    }
    let version = fields.get("ProductVersion").copied().unwrap_or_default();
    if version.is_empty() {
        return Err(PlatformError::parse(SW_VERS, "no ProductVersion line"));
    }
    let name = fields.get("ProductName").copied().unwrap_or("macOS");
    let extra = fields
        .get("ProductVersionExtra")
        .copied()
        .unwrap_or_default();
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let release = match major {
        11 => "Big Sur",
        12 => "Monterey",
        13 => "Ventura",
        14 => "Sonoma",
        15 => "Sequoia",
        26 => "Tahoe",
        _ => "",
    };
    let mut pretty = name.to_string();
    for part in [release, version, extra] {
        if !part.is_empty() {
            pretty.push(' ');
            pretty.push_str(part);
        }
    }
    Ok(OsInfo {
        family: "macos".into(),
        name: name.to_string(),
        version: version.to_string(),
        build: fields
            .get("BuildVersion")
            .copied()
            .unwrap_or_default()
            .to_string(),
        id: String::new(),
        id_like: Vec::new(),
        pretty_name: pretty,
    })
}

fn parse_json(source: &str, text: &str) -> Result<Value, PlatformError> {
    serde_json::from_str(text.trim())
        .map_err(|e| PlatformError::parse(source, format!("invalid JSON: {e}")))
}

/// The `{"SPxxxDataType": [...]}` array system_profiler wraps its items in.
fn data_array<'a>(source: &str, v: &'a Value, key: &str) -> Result<&'a Vec<Value>, PlatformError> {
    v.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| PlatformError::parse(source, format!("no {key} array")))
}

fn str_field(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// launchd jobs from `launchctl list` (run as root by the agent's daemon, so the system
/// domain): failed ones and the state of watched labels.
pub async fn read_launchd() -> Result<Vec<LaunchdJob>, PlatformError> {
    parse_launchctl_list(&cmd::run_ok("launchctl", &["list"], cmd::DEFAULT_TIMEOUT).await?)
}

/// One line of `launchctl list`: `PID<TAB>Status<TAB>Label`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchdJob {
    pub label: String,
    /// Running process, if any (`-` when not running).
    pub pid: Option<u32>,
    /// Last exit status; negative numbers are the signal that killed it.
    pub last_exit: i32,
}

pub fn parse_launchctl_list(text: &str) -> Result<Vec<LaunchdJob>, PlatformError> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        if line.starts_with("PID") {
            continue;
        }
        let mut f = line.split('\t');
        let (Some(pid), Some(status), Some(label)) = (f.next(), f.next(), f.next()) else {
            return Err(PlatformError::parse(
                "launchctl list",
                format!("unexpected line {line:?}"),
            ));
        };
        out.push(LaunchdJob {
            label: label.to_string(),
            pid: pid.trim().parse().ok(),
            last_exit: status.trim().parse().map_err(|_| {
                PlatformError::parse(
                    "launchctl list",
                    format!("status {status:?} is not a number"),
                )
            })?,
        });
    }
    Ok(out)
}

/// What a loaded launchd job's `launchctl list` line says about its health.
///
/// launchd starts most system daemons on demand (a socket, a Mach service, a path or a
/// timer) and many exit when idle, so "no process" is the normal state of a healthy job:
/// `com.openssh.sshd` shows `-` as its PID unless an SSH session is open. The mapping to
/// the health model (`ServiceStatus`), alongside systemd (`active`/`failed`/`inactive`)
/// and Windows services (`Running`/`Stopped`):
///
/// | PID | last exit status | state | `active` | in failed services |
/// | --- | --- | --- | --- | --- |
/// | a number | any | `running` | true | no |
/// | `-` | `0` | `idle (on demand)` | true | no |
/// | `-` | `-9`, `-15` | `idle (on demand, last stopped by signal 9)` | true | no |
/// | `-` | other positive `n` | `failed (exit n)` | false | yes |
/// | `-` | other negative `-n` | `failed (killed by signal n)` | false | yes |
/// | not listed | — | `not-loaded` | false | no (only watched labels report it) |
///
/// `active` is true for an idle job: it is loaded and launchd will start it the moment it
/// is needed, which is what a systemd socket unit that is `active (listening)` means; the
/// collector raises `service_failed` for a watched service that is not `active`, and a
/// waiting on-demand daemon is not an incident. SIGKILL and SIGTERM are how launchd
/// itself ends idle jobs (idle exit, memory pressure, `launchctl stop`); the job stays
/// loaded and is started again on demand, so it is idle, not failed. Any other signal
/// (SIGABRT, SIGSEGV, …) or a non-zero exit code is a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobHealth {
    Running,
    /// Loaded, no process; `Some(signal)` when launchd (or an operator) last stopped it.
    Idle(Option<i32>),
    Failed(i32),
}

/// See [`JobHealth`].
pub fn job_health(j: &LaunchdJob) -> JobHealth {
    match (j.pid, j.last_exit) {
        (Some(_), _) => JobHealth::Running,
        (None, 0) => JobHealth::Idle(None),
        (None, s @ (-9 | -15)) => JobHealth::Idle(Some(-s)),
        (None, s) => JobHealth::Failed(s),
    }
}

fn job_status(j: &LaunchdJob) -> ServiceStatus {
    let (active, state) = match job_health(j) {
        JobHealth::Running => (true, "running".to_string()),
        JobHealth::Idle(None) => (true, "idle (on demand)".to_string()),
        JobHealth::Idle(Some(sig)) => (
            true,
            format!("idle (on demand, last stopped by signal {sig})"),
        ),
        JobHealth::Failed(s) if s < 0 => (false, format!("failed (killed by signal {})", -s)),
        JobHealth::Failed(s) => (false, format!("failed (exit {s})")),
    };
    ServiceStatus {
        name: j.label.clone(),
        active,
        state,
    }
}

/// Jobs that have failed ([`JobHealth::Failed`]): not running, last exit non-zero and not
/// a stop by launchd.
pub fn failed_jobs(jobs: &[LaunchdJob]) -> Vec<ServiceStatus> {
    jobs.iter()
        .filter(|j| matches!(job_health(j), JobHealth::Failed(_)))
        .map(job_status)
        .collect()
}

/// The watched labels' states ([`JobHealth`]): `running`, `idle (on demand)` (both
/// `active`), `failed (…)`, or `not-loaded`.
pub fn watched_jobs(jobs: &[LaunchdJob], names: &[String]) -> Vec<ServiceStatus> {
    names
        .iter()
        .map(|n| match jobs.iter().find(|j| &j.label == n) {
            Some(j) => job_status(j),
            None => ServiceStatus {
                name: n.clone(),
                active: false,
                state: "not-loaded".into(),
            },
        })
        .collect()
}

#[cfg(test)]
mod launchd_tests {
    use super::*;

    const MACOS14: &str = include_str!("../../tests/fixtures/macos/launchctl-list-macos14.txt");
    const SSHD: &str = include_str!("../../tests/fixtures/facts/macos/launchctl-list-sshd.txt");

    fn watched(text: &str, names: &[&str]) -> Vec<ServiceStatus> {
        let jobs = parse_launchctl_list(text).unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        watched_jobs(&jobs, &names)
    }

    #[test]
    fn failed_and_watched_jobs() {
        let jobs = parse_launchctl_list(MACOS14).unwrap();
        assert_eq!(jobs.len(), 9);
        let failed: Vec<(String, String)> = failed_jobs(&jobs)
            .into_iter()
            .map(|s| (s.name, s.state))
            .collect();
        assert_eq!(
            failed,
            [
                ("com.example.backup-agent".into(), "failed (exit 78)".into()),
                ("org.cups.cupsd".into(), "failed (exit 1)".into())
            ]
        );
        let w = watched(
            MACOS14,
            &[
                "com.apple.Finder",
                "com.openssh.sshd",
                "org.cups.cupsd",
                "com.apple.progressd",
                "com.nope",
            ],
        );
        let got: Vec<(bool, &str)> = w.iter().map(|s| (s.active, s.state.as_str())).collect();
        assert_eq!(
            got,
            [
                (true, "running"),
                (true, "idle (on demand)"),
                (false, "failed (exit 1)"),
                (true, "idle (on demand, last stopped by signal 9)"),
                (false, "not-loaded"),
            ]
        );
        assert!(parse_launchctl_list("garbage without tabs").is_err());
    }

    /// The facts fixture: Remote Login on, no SSH session open. A watched sshd is loaded
    /// and waiting for a connection; it must not read as stopped (a false incident on
    /// every Mac that watches it).
    #[test]
    fn on_demand_sshd_is_idle_not_stopped() {
        let jobs = parse_launchctl_list(SSHD).unwrap();
        assert!(failed_jobs(&jobs).is_empty(), "{:?}", failed_jobs(&jobs));
        let w = watched(SSHD, &["com.openssh.sshd", "com.apple.timed"]);
        assert_eq!(
            (w[0].active, w[0].state.as_str()),
            (true, "idle (on demand)")
        );
        assert_eq!((w[1].active, w[1].state.as_str()), (true, "running"));
        // The same job with a session open, and after a crash.
        let open = SSHD.replace("-\t0\tcom.openssh.sshd", "5120\t0\tcom.openssh.sshd");
        assert_eq!(watched(&open, &["com.openssh.sshd"])[0].state, "running");
        let crashed = SSHD.replace("-\t0\tcom.openssh.sshd", "-\t255\tcom.openssh.sshd");
        let w = watched(&crashed, &["com.openssh.sshd"]);
        assert_eq!(
            (w[0].active, w[0].state.as_str()),
            (false, "failed (exit 255)")
        );
        let failed = failed_jobs(&parse_launchctl_list(&crashed).unwrap());
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].name, "com.openssh.sshd");
    }

    #[test]
    fn signals_other_than_a_stop_are_failures() {
        let text = "PID\tStatus\tLabel\n-\t-6\tcom.example.abort\n-\t-11\tcom.example.segv\n-\t-15\tcom.example.term\n";
        let w = watched(
            text,
            &["com.example.abort", "com.example.segv", "com.example.term"],
        );
        let got: Vec<(bool, &str)> = w.iter().map(|s| (s.active, s.state.as_str())).collect();
        assert_eq!(
            got,
            [
                (false, "failed (killed by signal 6)"),
                (false, "failed (killed by signal 11)"),
                (true, "idle (on demand, last stopped by signal 15)"),
            ]
        );
        let failed: Vec<String> = failed_jobs(&parse_launchctl_list(text).unwrap())
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(failed, ["com.example.abort", "com.example.segv"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPS_JSON: &str =
        include_str!("../../tests/fixtures/macos/system_profiler-applications-macos14.json");
    const HW_JSON: &str =
        include_str!("../../tests/fixtures/macos/system_profiler-hardware-macos14.json");
    const PKGS: &str = include_str!("../../tests/fixtures/macos/pkgutil-pkgs-macos14.txt");
    const SU: &str = include_str!("../../tests/fixtures/macos/softwareupdate-l-macos14.txt");
    const SU_NONE: &str = include_str!("../../tests/fixtures/macos/softwareupdate-l-none.txt");
    const SW_VERS_TXT: &str = include_str!("../../tests/fixtures/macos/sw_vers-macos14.txt");
    const DEFAULTS: &str =
        include_str!("../../tests/fixtures/macos/defaults-LastSuccessfulDate.txt");
    const HISTORY: &str = include_str!("../../tests/fixtures/macos/InstallHistory-macos14.plist");

    #[test]
    fn parses_applications() {
        let a = parse_applications_json(APPS_JSON).unwrap();
        assert_eq!(a.len(), 20);
        assert!(a.iter().all(|p| p.source == "macos-app"));
        let chrome = a.iter().find(|p| p.name == "Google Chrome").unwrap();
        assert_eq!(
            (chrome.version.as_str(), chrome.arch.as_str()),
            ("129.0.6668.90", "universal")
        );
        let zoom = a.iter().find(|p| p.name == "zoom.us").unwrap();
        assert_eq!(
            (zoom.version.as_str(), zoom.arch.as_str()),
            ("6.2.3 (41123)", "arm64")
        );
        // A bundle without a version is kept, with an empty one.
        let old = a.iter().find(|p| p.name == "TimeReport").unwrap();
        assert_eq!((old.version.as_str(), old.arch.as_str()), ("", "x86_64"));
        assert_eq!(a[0].name, "1Password");
    }

    #[test]
    fn applications_edge_cases() {
        let dup = r#"{"SPApplicationsDataType":[{"_name":"Foo","version":"1"},{"_name":"Foo","version":"1","path":"/Users/x/Applications/Foo.app"},{"version":"2"}]}"#;
        assert_eq!(parse_applications_json(dup).unwrap().len(), 1);
        assert!(parse_applications_json(r#"{"SPApplicationsDataType":[]}"#)
            .unwrap()
            .is_empty());
        let err = parse_applications_json("").unwrap_err();
        assert!(err.to_string().contains("SPApplicationsDataType"), "{err}");
        assert!(parse_applications_json(r#"{"SPHardwareDataType":[]}"#).is_err());
    }

    #[test]
    fn parses_pkgutil_with_history_versions() {
        let mut p = parse_pkgutil_pkgs(PKGS).unwrap();
        assert_eq!(p.len(), 26);
        assert!(p
            .iter()
            .all(|p| p.source == "pkgutil" && p.version.is_empty()));
        assert!(p.windows(2).all(|w| w[0].name < w[1].name));
        let history = parse_install_history(HISTORY).unwrap();
        let versions = package_versions(&history);
        for pkg in &mut p {
            if let Some(v) = versions.get(pkg.name.as_str()) {
                pkg.version = v.to_string();
            }
        }
        let v = |id: &str| p.iter().find(|x| x.name == id).unwrap().version.clone();
        assert_eq!(v("com.apple.pkg.CLTools_Executables"), "15.3");
        assert_eq!(
            v("com.apple.pkg.XProtectPlistConfigData_10_15.16U4322"),
            "5272"
        );
        assert_eq!(v("com.microsoft.package.Microsoft_Word.app"), "16.89.1");
        // The Python installer records no version.
        assert_eq!(v("org.python.Python.PythonFramework-3.12"), "");
        assert!(parse_pkgutil_pkgs("").unwrap().is_empty());
        assert!(parse_pkgutil_pkgs("No receipts found on volume\n").is_err());
        assert_eq!(parse_pkgutil_pkgs("a.b\r\na.b\r\n").unwrap().len(), 1);
    }

    #[test]
    fn parses_install_history() {
        let h = parse_install_history(HISTORY).unwrap();
        assert_eq!(h.len(), 9);
        let clt = h
            .iter()
            .find(|r| r.display_name == "Command Line Tools for Xcode")
            .unwrap();
        assert_eq!(clt.package_ids.len(), 5);
        assert_eq!(clt.process_name, "softwareupdated");
        // Background XProtect data (2024-09-24) is not an update install: 14.6.1 is.
        assert_eq!(last_update_install_ms(&h), Some(1_723_095_130_000));
        assert!(parse_install_history("<plist><array/></plist>")
            .unwrap()
            .is_empty());
        assert!(parse_install_history("not a plist").is_err());
    }

    /// Found by the fuzzer (tests/fuzz.sh, agent_parsers): a record dated in the year
    /// 20222527314 overflowed the milliseconds and panicked. Such a date is no date.
    #[test]
    fn an_absurd_year_is_no_date_not_a_panic() {
        // Not UTF-8 either: read as the agent reads tools' output.
        let bytes =
            include_bytes!("../../tests/fixtures/macos/fuzz-InstallHistory-year-overflow.plist");
        let text = String::from_utf8_lossy(bytes);
        let h = parse_install_history(&text).unwrap();
        assert!(h.iter().any(|r| r.date_ms.is_none()));
        assert!(h.iter().filter(|r| r.date_ms.is_some()).count() > 1);
    }

    #[test]
    fn parses_softwareupdate_listing() {
        let u = parse_softwareupdate(SU).unwrap();
        assert_eq!(u.len(), 3);
        assert_eq!(u[1].label, "macOS Sonoma 14.7-23H124");
        assert_eq!(u[1].title, "macOS Sonoma 14.7");
        assert_eq!(u[1].version, "14.7");
        assert!(u[1].recommended && u[1].restart);
        assert_eq!(u[0].title, "Command Line Tools for Xcode");
        assert!(u[0].recommended && !u[0].restart);
        assert!(parse_softwareupdate(SU_NONE).unwrap().is_empty());
        assert!(parse_softwareupdate("").unwrap().is_empty());
        assert!(parse_softwareupdate("zsh: command not found: softwareupdate\n").is_err());
    }

    #[test]
    fn builds_the_patch_level() {
        let u = parse_softwareupdate(SU).unwrap();
        let running = parse_sw_vers(SW_VERS_TXT).unwrap().version;
        let last = parse_defaults_date(DEFAULTS);
        let p = build_patch_level(&u, &running, last, Some(7));
        assert_eq!(p.manager, "softwareupdate");
        assert_eq!(p.pending_count, 3);
        // 14.7 is a point update of the running 14.x; Sequoia is an upgrade; the
        // Command Line Tools are not security content.
        assert_eq!(p.pending_security_count, 1);
        let sonoma = p.updates.iter().find(|x| x.new_version == "14.7").unwrap();
        assert!(sonoma.security);
        assert_eq!(sonoma.current_version, "14.6.1");
        assert_eq!(sonoma.origin, "macOS Sonoma 14.7-23H124");
        assert!(
            !p.updates
                .iter()
                .find(|x| x.new_version == "15.0.1")
                .unwrap()
                .security
        );
        assert!(p.reboot_required);
        // 2024-10-08 07:41:12 +0000
        assert_eq!(p.last_refresh_ms, Some(1_728_373_272_000));
        assert_eq!(p.oldest_security_since_ms, None);
        let none = build_patch_level(&[], &running, None, None);
        assert!(!none.reboot_required && none.pending_count == 0);
    }

    #[test]
    fn security_classification() {
        let mk = |label: &str, title: &str, version: &str, restart: bool| MacUpdate {
            label: label.into(),
            title: title.into(),
            version: version.into(),
            recommended: true,
            restart,
        };
        let bsi = mk(
            "macOS Background Security Improvement (a)-25D771280a",
            "macOS Background Security Improvement (a)",
            "26.3.1 (a)",
            true,
        );
        assert!(is_security_update(&bsi, "26.3.1"));
        let rsr = mk(
            "macOS Ventura 13.4.1 (c)-22F770820d",
            "macOS Ventura 13.4.1 (c)",
            "13.4.1 (c)",
            true,
        );
        assert!(is_security_update(&rsr, "13.4.1"));
        let sec = mk(
            "Security Update 2024-003 (Monterey)-12.7.5",
            "Security Update 2024-003 (Monterey)",
            "12.7.5",
            true,
        );
        assert!(is_security_update(&sec, "12.7.4"));
        let safari = mk("Safari17.6MontereyAuto-17.6", "Safari", "17.6", false);
        assert!(!is_security_update(&safari, "12.7.5"));
        let point = mk(
            "macOS Sonoma 14.7-23H124",
            "macOS Sonoma 14.7",
            "14.7",
            true,
        );
        assert!(is_security_update(&point, ""), "unknown running version");
        assert!(!is_security_update(&point, "13.6"), "an upgrade from 13");
    }

    #[test]
    fn parses_hardware() {
        let h = parse_hardware_json(HW_JSON).unwrap();
        assert_eq!(h.vendor, "Apple Inc.");
        assert_eq!(h.model, "MacBook Air (Mac14,2)");
        assert_eq!(h.serial, "H7QX2LQ9KV");
        assert_eq!(h.cpu_model, "Apple M2");
        assert_eq!((h.cpu_cores, h.cpu_threads), (8, 8));
        assert_eq!(h.memory_bytes, 16 * 1024 * 1024 * 1024);
        let intel = r#"{"SPHardwareDataType":[{"_name":"hardware_overview","cpu_type":"6-Core Intel Core i7","current_processor_speed":"2,6 GHz","machine_model":"MacBookPro16,1","machine_name":"MacBook Pro","number_processors":6,"packages":1,"physical_memory":"32 GB","platform_cpu_htt":"htt_enabled","serial_number":"C02ZK0ABMD6M"}]}"#;
        let h = parse_hardware_json(intel).unwrap();
        assert_eq!(h.cpu_model, "6-Core Intel Core i7");
        assert_eq!((h.cpu_cores, h.cpu_threads), (6, 12));
        assert_eq!(h.memory_bytes, 32 << 30);
        let m2_ultra = r#"{"SPHardwareDataType":[{"chip_type":"Apple M2 Ultra","number_processors":"proc 24:16:8:0","physical_memory":"64 GB"}]}"#;
        assert_eq!(parse_hardware_json(m2_ultra).unwrap().cpu_cores, 24);
        assert!(parse_hardware_json(r#"{"SPHardwareDataType":[]}"#).is_err());
        assert!(parse_hardware_json("system_profiler: error").is_err());
    }

    #[test]
    fn parses_sw_vers() {
        let o = parse_sw_vers(SW_VERS_TXT).unwrap();
        assert_eq!(o.family, "macos");
        assert_eq!(o.name, "macOS");
        assert_eq!(o.version, "14.6.1");
        assert_eq!(o.build, "23G93");
        assert_eq!(o.pretty_name, "macOS Sonoma 14.6.1");
        let rsr = "ProductName:\t\tmacOS\r\nProductVersion:\t\t13.4.1\r\nProductVersionExtra:\t(c)\r\nBuildVersion:\t\t22F770820d\r\n";
        let o = parse_sw_vers(rsr).unwrap();
        assert_eq!(o.pretty_name, "macOS Ventura 13.4.1 (c)");
        assert_eq!(o.build, "22F770820d");
        assert!(parse_sw_vers("").is_err());
    }

    #[test]
    fn defaults_dates() {
        assert_eq!(parse_defaults_date(DEFAULTS), Some(1_728_373_272_000));
        assert_eq!(
            parse_defaults_date("The domain/default pair of (/Library/Preferences/com.apple.SoftwareUpdate, LastSuccessfulDate) does not exist\n"),
            None
        );
    }
}
