//! Security facts on macOS, from the system's own tools (the agent runs as a root launch
//! daemon), each with a pure parser tested on fixtures under
//! `agent/tests/fixtures/facts/macos/`:
//!
//! | fact | source |
//! | --- | --- |
//! | disk encryption | `fdesetup status` (FileVault) |
//! | firewall | `socketfilterfw --getglobalstate` (the application firewall) |
//! | screen lock | `sysadminctl -screenLock status` + screen saver `idleTime` (managed, then system preferences) + `pmset -g` display sleep |
//! | auto updates | `defaults read …com.apple.SoftwareUpdate AutomaticallyInstallMacOSUpdates` (managed, then system) |
//! | anti-malware | XProtect: its bundle and `spctl --status` (Gatekeeper assessments) |
//! | administrators | `dscl . -read /Groups/admin GroupMembership` |
//! | time sync | `systemsetup -getusingnetworktime` / `-getnetworktimeserver` |
//! | SSH server | `systemsetup -getremotelogin` (else the launchd job), then `sshd -T` / `sshd_config` as on Linux |
//! | running services | `launchctl list` (jobs with a PID) |
//!
//! Secure Boot is left unset: Apple's boot policy is not a UEFI Secure Boot state.

use std::path::Path;
use std::time::Duration;

use tilsyn_proto::v1::Facts;

use super::super::macos::{parse_launchctl_list, LaunchdJob};
use super::super::xml::{xml_events, XmlEvent};
use super::super::{cmd, PlatformError};
use super::{first_line, some, Antivirus, Finding, Readings};

const TIMEOUT: Duration = Duration::from_secs(30);
const XPROTECT: &str = "/Library/Apple/System/Library/CoreServices/XProtect.bundle";
const SCREENSAVER_DOMAINS: [&str; 2] = [
    "/Library/Managed Preferences/com.apple.screensaver",
    "/Library/Preferences/com.apple.screensaver",
];
const SOFTWAREUPDATE_DOMAINS: [&str; 2] = [
    "/Library/Managed Preferences/com.apple.SoftwareUpdate",
    "/Library/Preferences/com.apple.SoftwareUpdate",
];

/// Reads every macOS fact concurrently; see [`super::collect`].
pub async fn collect() -> (Facts, Vec<String>) {
    let launchd =
        async { parse_launchctl_list(&cmd::run_ok("launchctl", &["list"], TIMEOUT).await?) };
    let (disk, firewall, lock, auto, av, admins, time, jobs) = tokio::join!(
        read_filevault(),
        read_firewall(),
        read_screen_lock(),
        read_auto_updates(),
        read_xprotect(),
        read_admins(),
        read_time(),
        launchd,
    );
    let mut r = Readings {
        auto_updates: some(auto),
        disk_encryption: some(disk),
        firewall: some(firewall),
        screen_lock: some(lock),
        antivirus: av,
        local_admins: some(admins),
        time: some(time),
        ..Default::default()
    };
    r.set_ssh(read_ssh(jobs.as_ref().ok().map(Vec::as_slice)).await);
    r.running_services = jobs.map(|j| Some(running_labels(&j)));
    r.into_facts()
}

/// `defaults read DOMAIN KEY`: the value, or `None` when the key (or domain) does not
/// exist, which `defaults` reports on stderr with exit status 1.
async fn defaults_read(domain: &str, key: &str) -> Result<Option<String>, PlatformError> {
    let out = cmd::run("defaults", &["read", domain, key], TIMEOUT).await?;
    parse_defaults_output(out.status, &out.stdout, &out.stderr).map_err(|stderr| {
        PlatformError::Failed {
            command: format!("defaults read {domain} {key}"),
            status: out.status,
            stderr,
        }
    })
}

/// The first domain (managed profile first) that sets `key`.
async fn defaults_first(
    domains: &[&str],
    key: &str,
) -> Result<Option<(String, String)>, PlatformError> {
    for d in domains {
        if let Some(v) = defaults_read(d, key).await? {
            return Ok(Some((d.to_string(), v)));
        }
    }
    Ok(None)
}

/// The value `defaults read` printed, `None` for "does not exist", else the stderr text.
pub fn parse_defaults_output(
    status: Option<i32>,
    stdout: &str,
    stderr: &str,
) -> Result<Option<String>, String> {
    if status == Some(0) {
        return Ok(Some(stdout.trim().to_string()));
    }
    if stderr.contains("does not exist") {
        return Ok(None);
    }
    Err(first_line(stderr))
}

/// A `defaults` boolean: printed as `1`/`0` (or `true`/`false`, `YES`/`NO` when written
/// as strings by a profile).
pub fn parse_defaults_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Some(true),
        "0" | "false" | "no" => Some(false),
        _ => None,
    }
}

// --- FileVault ------------------------------------------------------------------------------

pub async fn read_filevault() -> Result<Finding<bool>, PlatformError> {
    parse_fdesetup_status(&cmd::run_ok("fdesetup", &["status"], TIMEOUT).await?)
}

/// `fdesetup status`: `FileVault is On.` / `FileVault is Off.`, or a conversion in
/// progress (`Encryption in progress: Percent completed = 45.3`), or Off with a deferred
/// enablement pending. Only a completed, on FileVault counts as encrypted.
pub fn parse_fdesetup_status(text: &str) -> Result<Finding<bool>, PlatformError> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let detail = lines.join(" ");
    if let Some(l) = lines
        .iter()
        .find(|l| l.starts_with("Encryption in progress"))
    {
        return Ok(Finding::new(false, format!("FileVault: {l}")));
    }
    if let Some(l) = lines
        .iter()
        .find(|l| l.starts_with("Decryption in progress"))
    {
        return Ok(Finding::new(false, format!("FileVault: {l}")));
    }
    match lines.first() {
        Some(l) if l.starts_with("FileVault is On") => Ok(Finding::new(true, detail)),
        Some(l) if l.starts_with("FileVault is Off") => Ok(Finding::new(false, detail)),
        _ => Err(PlatformError::parse(
            "fdesetup status",
            format!(
                "expected 'FileVault is On.' or 'Off.', got {:?}",
                first_line(text)
            ),
        )),
    }
}

// --- application firewall -------------------------------------------------------------------

const SOCKETFILTERFW: &str = "/usr/libexec/ApplicationFirewall/socketfilterfw";

pub async fn read_firewall() -> Result<Finding<bool>, PlatformError> {
    parse_socketfilterfw_state(&cmd::run_ok(SOCKETFILTERFW, &["--getglobalstate"], TIMEOUT).await?)
}

/// `socketfilterfw --getglobalstate`: `Firewall is enabled. (State = 1)`, `Firewall is
/// disabled. (State = 0)`, or state 2 (block all incoming connections). The state number
/// decides; older releases print only the words.
pub fn parse_socketfilterfw_state(text: &str) -> Result<Finding<bool>, PlatformError> {
    let line = first_line(text);
    let state = line.split("State = ").nth(1).and_then(|s| {
        s.trim_end_matches([')', ' ', '.'])
            .trim()
            .parse::<u8>()
            .ok()
    });
    let on = match state {
        Some(s) => s >= 1,
        None if line.starts_with("Firewall is enabled") || line.contains("block all") => true,
        None if line.starts_with("Firewall is disabled") => false,
        None => {
            return Err(PlatformError::parse(
                "socketfilterfw --getglobalstate",
                format!("expected 'Firewall is enabled/disabled', got {line:?}"),
            ))
        }
    };
    Ok(Finding::new(on, format!("application firewall: {line}")))
}

// --- screen lock ----------------------------------------------------------------------------

/// The delay until a password is needed after the screen saver starts or the display
/// sleeps (`sysadminctl`), added to the idle time after which that happens: the screen
/// saver's `idleTime` when a profile or the system sets one, and display sleep (`pmset`).
pub async fn read_screen_lock() -> Result<Finding<u32>, PlatformError> {
    // sysadminctl logs its answer to stderr.
    let out = cmd::run("sysadminctl", &["-screenLock", "status"], TIMEOUT).await?;
    let delay = parse_sysadminctl_screenlock(&format!("{}\n{}", out.stdout, out.stderr))?;
    let idle = defaults_first(&SCREENSAVER_DOMAINS, "idleTime")
        .await?
        .and_then(|(_, v)| v.trim().parse::<u32>().ok());
    let display_sleep = match cmd::run_ok("pmset", &["-g"], TIMEOUT).await {
        Ok(t) => parse_pmset_displaysleep(&t)?,
        Err(_) => None,
    };
    Ok(screen_lock(delay, idle, display_sleep))
}

/// `sysadminctl -screenLock status` (logged with a timestamp prefix):
/// `screenLock delay is 300 seconds`, `screenLock delay is immediate`, or
/// `screenLock is off`. `None` means off.
pub fn parse_sysadminctl_screenlock(text: &str) -> Result<Option<u32>, PlatformError> {
    for line in text.lines() {
        let Some(i) = line.find("screenLock") else {
            continue;
        };
        let s = line[i..].trim();
        if s.starts_with("screenLock is off") {
            return Ok(None);
        }
        if s.contains("immediate") {
            return Ok(Some(0));
        }
        if let Some(rest) = s.strip_prefix("screenLock delay is ") {
            if let Some(n) = rest.split_whitespace().next().and_then(|n| n.parse().ok()) {
                return Ok(Some(n));
            }
        }
    }
    Err(PlatformError::parse(
        "sysadminctl -screenLock status",
        format!("no 'screenLock …' line; got {:?}", first_line(text)),
    ))
}

/// `displaysleep N` (minutes, 0 = never) from `pmset -g`.
pub fn parse_pmset_displaysleep(text: &str) -> Result<Option<u32>, PlatformError> {
    let mut seen_header = false;
    for line in text.lines() {
        let mut w = line.split_whitespace();
        match (w.next(), w.next()) {
            (Some("displaysleep"), Some(n)) => {
                return n.parse().map(Some).map_err(|_| {
                    PlatformError::parse("pmset -g", format!("displaysleep {n:?} is not a number"))
                })
            }
            (Some(_), _)
                if line.contains("power settings") || line.contains("Currently in use") =>
            {
                seen_header = true
            }
            _ => {}
        }
    }
    if seen_header {
        Ok(None)
    } else {
        Err(PlatformError::parse(
            "pmset -g",
            format!("not pmset output; got {:?}", first_line(text)),
        ))
    }
}

/// Combines the lock delay (`None` = no password after sleep: never locks) with the idle
/// time: the earlier of a non-zero screen saver `idleTime` (seconds) and display sleep
/// (minutes); with neither the Mac never idles, so it never locks (0).
pub fn screen_lock(
    delay: Option<u32>,
    idle_time: Option<u32>,
    display_sleep_min: Option<u32>,
) -> Finding<u32> {
    let Some(delay) = delay else {
        return Finding::new(
            0,
            "no password required after sleep or screen saver (screenLock off)",
        );
    };
    let idle = [
        idle_time.filter(|s| *s > 0),
        display_sleep_min
            .filter(|m| *m > 0)
            .map(|m| m.saturating_mul(60)),
    ]
    .into_iter()
    .flatten()
    .min();
    let describe = format!(
        "screen saver idleTime {}, display sleep {}, password {}",
        idle_time.map_or("not set".into(), |s| format!("{s} s")),
        display_sleep_min.map_or("unknown".into(), |m| if m == 0 {
            "never".into()
        } else {
            format!("{m} min")
        }),
        if delay == 0 {
            "immediately".to_string()
        } else {
            format!("after {delay} s")
        }
    );
    match idle {
        Some(i) => Finding::new(i.saturating_add(delay), describe),
        None => Finding::new(0, format!("{describe}: the screen never idles")),
    }
}

// --- automatic updates ----------------------------------------------------------------------

/// `AutomaticallyInstallMacOSUpdates` from a configuration profile, else the system
/// preference. Unset means the Mac only installs macOS updates when someone does.
pub async fn read_auto_updates() -> Result<Finding<bool>, PlatformError> {
    let install =
        defaults_first(&SOFTWAREUPDATE_DOMAINS, "AutomaticallyInstallMacOSUpdates").await?;
    let download = defaults_first(&SOFTWAREUPDATE_DOMAINS, "AutomaticDownload").await?;
    auto_updates(install.as_ref(), download.as_ref())
}

/// The decision from the two settings, each with the domain it came from.
pub fn auto_updates(
    install: Option<&(String, String)>,
    download: Option<&(String, String)>,
) -> Result<Finding<bool>, PlatformError> {
    let describe = |name: &str, s: Option<&(String, String)>| match s {
        Some((domain, v)) => format!(
            "{name} = {v}{}",
            if domain.contains("Managed") {
                " (profile)"
            } else {
                ""
            }
        ),
        None => format!("{name} not set"),
    };
    let detail = format!(
        "{}, {}",
        describe("AutomaticallyInstallMacOSUpdates", install),
        describe("AutomaticDownload", download)
    );
    let on = match install {
        Some((_, v)) => parse_defaults_bool(v).ok_or_else(|| {
            PlatformError::parse(
                "defaults read com.apple.SoftwareUpdate",
                format!("AutomaticallyInstallMacOSUpdates is {v:?}"),
            )
        })?,
        None => false,
    };
    Ok(Finding::new(on, detail))
}

// --- XProtect -------------------------------------------------------------------------------

/// XProtect scans files as they are opened, through Gatekeeper's assessments: on when its
/// bundle is present and `spctl --status` says assessments are enabled. The signature age
/// is when the bundle was last replaced by an update. Without the bundle (very old macOS)
/// nothing is concluded.
pub async fn read_xprotect() -> Result<Option<Antivirus>, PlatformError> {
    let info = Path::new(XPROTECT).join("Contents/Info.plist");
    if !info.exists() {
        return Ok(None);
    }
    let version = cmd::read(&info).ok().and_then(|t| parse_bundle_version(&t));
    let out = cmd::run("spctl", &["--status"], TIMEOUT).await?;
    let enabled = parse_spctl_status(&format!("{}{}", out.stdout, out.stderr))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Ok(Some(Antivirus {
        product: match version {
            Some(v) => format!("XProtect {v}"),
            None => "XProtect".into(),
        },
        realtime: enabled,
        signature_age_days: cmd::mtime_ms(&info).map(|m| ((now - m).max(0) / 86_400_000) as u32),
    }))
}

/// `CFBundleShortVersionString` of an XML Info.plist.
pub fn parse_bundle_version(plist: &str) -> Option<String> {
    let events = xml_events(plist).ok()?;
    let mut key = String::new();
    let mut text: Option<String> = None;
    let mut after_key = false;
    for ev in events {
        match ev {
            XmlEvent::Start { name, .. } if name == "key" || name == "string" => {
                text = Some(String::new())
            }
            XmlEvent::Text(t) => {
                if let Some(b) = text.as_mut() {
                    b.push_str(&t);
                }
            }
            XmlEvent::End("key") => {
                key = text.take().unwrap_or_default().trim().to_string();
                after_key = true;
            }
            XmlEvent::End("string") => {
                let v = text.take().unwrap_or_default();
                if after_key && key == "CFBundleShortVersionString" {
                    return Some(v.trim().to_string());
                }
                after_key = false;
            }
            XmlEvent::End(_) => after_key = false,
            _ => {}
        }
    }
    None
}

/// `spctl --status`: `assessments enabled` or `assessments disabled`.
pub fn parse_spctl_status(text: &str) -> Result<bool, PlatformError> {
    match first_line(text).as_str() {
        "assessments enabled" => Ok(true),
        "assessments disabled" => Ok(false),
        other => Err(PlatformError::parse(
            "spctl --status",
            format!("expected 'assessments enabled/disabled', got {other:?}"),
        )),
    }
}

// --- administrators -------------------------------------------------------------------------

pub async fn read_admins() -> Result<Vec<String>, PlatformError> {
    parse_dscl_group_membership(
        &cmd::run_ok(
            "dscl",
            &[".", "-read", "/Groups/admin", "GroupMembership"],
            TIMEOUT,
        )
        .await?,
    )
}

/// `dscl . -read /Groups/admin GroupMembership`: `GroupMembership: root alice`, or with
/// the values on the next line(s) when they are long. Sorted, without duplicates.
pub fn parse_dscl_group_membership(text: &str) -> Result<Vec<String>, PlatformError> {
    let Some(i) = text.find("GroupMembership:") else {
        return Err(PlatformError::parse(
            "dscl GroupMembership",
            format!(
                "no 'GroupMembership:' attribute; got {:?}",
                first_line(text)
            ),
        ));
    };
    let mut out: Vec<String> = text[i + "GroupMembership:".len()..]
        .split_whitespace()
        .map(String::from)
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

// --- time -----------------------------------------------------------------------------------

pub async fn read_time() -> Result<Finding<bool>, PlatformError> {
    let using = cmd::run_ok("systemsetup", &["-getusingnetworktime"], TIMEOUT).await?;
    let on = parse_systemsetup(&using, "Network Time")?;
    let server = match cmd::run_ok("systemsetup", &["-getnetworktimeserver"], TIMEOUT).await {
        Ok(t) => parse_systemsetup(&t, "Network Time Server").ok(),
        Err(_) => None,
    };
    Ok(network_time(&on, server.as_deref()))
}

/// A `Name: value` answer of `systemsetup -get…` (other lines, such as warnings, are
/// skipped).
pub fn parse_systemsetup(text: &str, name: &str) -> Result<String, PlatformError> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().to_string())
        .ok_or_else(|| {
            PlatformError::parse(
                "systemsetup",
                format!("no '{name}:' line; got {:?}", first_line(text)),
            )
        })
}

/// macOS's `timed` keeps the clock synchronised whenever network time is on; it has no
/// status to ask, so "on" stands for synchronised.
pub fn network_time(using: &str, server: Option<&str>) -> Finding<bool> {
    let on = using.eq_ignore_ascii_case("On");
    let source = match (on, server) {
        (true, Some(s)) if !s.is_empty() => s.to_string(),
        (true, _) => "network time".to_string(),
        (false, _) => "network time off".to_string(),
    };
    Finding::new(on, source)
}

// --- SSH server -----------------------------------------------------------------------------

/// Remote Login is the SSH server on macOS (its sshd binary is always there, so "installed"
/// means switched on). `systemsetup -getremotelogin` needs Full Disk Access since 10.15;
/// without it, the loaded `com.openssh.sshd` launchd job says the same.
pub async fn read_ssh(
    jobs: Option<&[LaunchdJob]>,
) -> Result<Option<super::SshdSettings>, PlatformError> {
    let answer = cmd::run("systemsetup", &["-getremotelogin"], TIMEOUT).await?;
    let text = format!("{}\n{}", answer.stdout, answer.stderr);
    let on = match parse_systemsetup(&text, "Remote Login") {
        Ok(v) => v.eq_ignore_ascii_case("On"),
        Err(e) => match jobs {
            Some(j) => remote_login_from_jobs(j),
            None => return Err(e),
        },
    };
    if !on {
        return Ok(None);
    }
    super::linux::read_sshd_settings("/usr/sbin/sshd", Path::new("/etc/ssh"))
        .await
        .map(Some)
}

/// Whether launchd has the sshd job loaded (socket-activated: usually without a PID).
pub fn remote_login_from_jobs(jobs: &[LaunchdJob]) -> bool {
    jobs.iter().any(|j| j.label == "com.openssh.sshd")
}

/// Labels of the jobs with a running process, sorted.
pub fn running_labels(jobs: &[LaunchdJob]) -> Vec<String> {
    let mut out: Vec<String> = jobs
        .iter()
        .filter(|j| j.pid.is_some())
        .map(|j| j.label.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(name: &str) -> String {
        std::fs::read_to_string(format!("{}/macos/{name}", super::super::tests::FIXTURES))
            .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
    }

    #[test]
    fn filevault() {
        let f = parse_fdesetup_status(&fx("fdesetup-status-on.txt")).unwrap();
        assert!(f.value);
        assert_eq!(f.detail, "FileVault is On.");
        let f = parse_fdesetup_status(&fx("fdesetup-status-encrypting.txt")).unwrap();
        assert!(!f.value);
        assert!(
            f.detail.contains("Percent completed = 45.3"),
            "{}",
            f.detail
        );
        let f = parse_fdesetup_status(
            "FileVault is Off.\nDeferred enablement appears to be active for user 'kim'.\n",
        )
        .unwrap();
        assert!(!f.value && f.detail.contains("Deferred"));
        assert!(parse_fdesetup_status("").is_err());
        assert!(parse_fdesetup_status("fdesetup: command not found").is_err());
    }

    #[test]
    fn application_firewall() {
        let f = parse_socketfilterfw_state(&fx("socketfilterfw-getglobalstate-on.txt")).unwrap();
        assert!(f.value);
        assert_eq!(
            f.detail,
            "application firewall: Firewall is enabled. (State = 1)"
        );
        assert!(
            !parse_socketfilterfw_state("Firewall is disabled. (State = 0)\n")
                .unwrap()
                .value
        );
        assert!(
            parse_socketfilterfw_state(
                "Firewall is blocking all non-essential incoming connections. (State = 2)"
            )
            .unwrap()
            .value
        );
        assert!(
            parse_socketfilterfw_state("Firewall is enabled.\n")
                .unwrap()
                .value
        );
        assert!(parse_socketfilterfw_state("Must be root to change settings.\n").is_err());
    }

    #[test]
    fn screen_lock_parts() {
        assert_eq!(
            parse_sysadminctl_screenlock(&fx("sysadminctl-screenLock-status.txt")).unwrap(),
            Some(5)
        );
        assert_eq!(
            parse_sysadminctl_screenlock(
                "2024-05-16 10:12:31.421 sysadminctl[4711:81234] screenLock is off\n"
            )
            .unwrap(),
            None
        );
        assert_eq!(
            parse_sysadminctl_screenlock(
                "2024-05-16 10:12:31.421 sysadminctl[4711:81234] screenLock delay is immediate\n"
            )
            .unwrap(),
            Some(0)
        );
        assert!(parse_sysadminctl_screenlock("Usage: sysadminctl …\n").is_err());
        assert_eq!(
            parse_pmset_displaysleep(&fx("pmset-g-macbook.txt")).unwrap(),
            Some(10)
        );
        assert!(parse_pmset_displaysleep("pmset: command not found\n").is_err());
        // idleTime 600 s from a profile beats display sleep after 10 min? Both 600: 605.
        let f = screen_lock(Some(5), Some(600), Some(10));
        assert_eq!(f.value, 605);
        assert_eq!(
            f.detail,
            "screen saver idleTime 600 s, display sleep 10 min, password after 5 s"
        );
        assert_eq!(screen_lock(Some(0), None, Some(2)).value, 120);
        assert_eq!(screen_lock(Some(0), Some(1200), Some(0)).value, 1200);
        assert_eq!(screen_lock(None, Some(300), Some(10)).value, 0);
        let never = screen_lock(Some(0), None, Some(0));
        assert_eq!(never.value, 0);
        assert!(never.detail.ends_with("never idles"));
    }

    #[test]
    fn defaults_answers() {
        assert_eq!(
            parse_defaults_output(Some(0), "1\n", "")
                .unwrap()
                .as_deref(),
            Some("1")
        );
        assert_eq!(
            parse_defaults_output(Some(1), "", &fx("defaults-read-missing.txt")).unwrap(),
            None
        );
        assert!(parse_defaults_output(Some(1), "", "Could not write domain\n").is_err());
        assert_eq!(parse_defaults_bool(" 1\n"), Some(true));
        assert_eq!(parse_defaults_bool("NO"), Some(false));
        assert_eq!(parse_defaults_bool("maybe"), None);
    }

    #[test]
    fn automatic_updates() {
        let managed = (
            "/Library/Managed Preferences/com.apple.SoftwareUpdate".to_string(),
            "1".to_string(),
        );
        let local = (
            "/Library/Preferences/com.apple.SoftwareUpdate".to_string(),
            "1".to_string(),
        );
        let f = auto_updates(Some(&managed), Some(&local)).unwrap();
        assert!(f.value);
        assert_eq!(
            f.detail,
            "AutomaticallyInstallMacOSUpdates = 1 (profile), AutomaticDownload = 1"
        );
        let f = auto_updates(None, Some(&local)).unwrap();
        assert!(!f.value);
        assert!(f
            .detail
            .starts_with("AutomaticallyInstallMacOSUpdates not set"));
        let off = (local.0.clone(), "0".to_string());
        assert!(!auto_updates(Some(&off), None).unwrap().value);
        let bad = (local.0, "{\n}".to_string());
        assert!(auto_updates(Some(&bad), None).is_err());
    }

    #[test]
    fn xprotect() {
        assert_eq!(
            parse_bundle_version(&fx("XProtect-Info.plist")).as_deref(),
            Some("5272")
        );
        assert_eq!(parse_bundle_version("<plist><dict/></plist>"), None);
        assert!(parse_spctl_status("assessments enabled\n").unwrap());
        assert!(!parse_spctl_status("assessments disabled\n").unwrap());
        assert!(parse_spctl_status("spctl: unknown option").is_err());
    }

    #[test]
    fn admins() {
        assert_eq!(
            parse_dscl_group_membership(&fx("dscl-admin-GroupMembership.txt")).unwrap(),
            ["_mbsetupuser", "kim", "root"]
        );
        assert_eq!(
            parse_dscl_group_membership("GroupMembership:\n root jamfadmin kim\n").unwrap(),
            ["jamfadmin", "kim", "root"]
        );
        assert!(parse_dscl_group_membership("No such key: GroupMembership\n").is_err());
    }

    #[test]
    fn time_and_remote_login() {
        let on =
            parse_systemsetup(&fx("systemsetup-getusingnetworktime.txt"), "Network Time").unwrap();
        let server = parse_systemsetup(
            &fx("systemsetup-getnetworktimeserver.txt"),
            "Network Time Server",
        )
        .unwrap();
        let f = network_time(&on, Some(&server));
        assert!(f.value);
        assert_eq!(f.detail, "time.euro.apple.com");
        assert!(!network_time("Off", Some("time.apple.com")).value);
        let err = parse_systemsetup(&fx("systemsetup-getremotelogin-no-fda.txt"), "Remote Login")
            .unwrap_err();
        assert!(err.to_string().contains("Full Disk Access"), "{err}");
        assert_eq!(
            parse_systemsetup("Remote Login: Off\n", "Remote Login").unwrap(),
            "Off"
        );
        let jobs = parse_launchctl_list(&fx("launchctl-list-sshd.txt")).unwrap();
        assert!(remote_login_from_jobs(&jobs));
        let labels = running_labels(&jobs);
        assert!(
            !labels.contains(&"com.openssh.sshd".to_string()),
            "socket-activated, not running"
        );
        assert!(labels.contains(&"com.apple.Finder".to_string()));
        assert!(labels.windows(2).all(|w| w[0] < w[1]));
    }
}
