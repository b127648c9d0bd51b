//! Security facts on Windows: `winapi::facts_object` reads every part from
//! Windows' own APIs (registry, SCM, netapi32, WMI over COM) into one object whose parts
//! carry the field names the former PowerShell script printed (the recorded outputs under
//! `agent/tests/fixtures/` stay the fixtures), `w32tm /query /status` adds the time part,
//! and [`facts_from_object`] turns it into [`Facts`] plus errors.
//!
//! A part that cannot be read is `{ "Error": "…" }` and does not lose the rest (BitLocker's
//! WMI provider is missing on Home editions; under Wine most parts say "not supported").
//!
//! Enums arrive as numbers (WMI) or names; the mapper accepts both:
//! - BitLocker `ProtectionStatus`: 0 Off, 1 On, 2 Unknown; `VolumeStatus` (WMI's
//!   `ConversionStatus`): 0 FullyDecrypted, 1 FullyEncrypted, 2 EncryptionInProgress, 3
//!   DecryptionInProgress, 4 EncryptionPaused, 5 DecryptionPaused; `EncryptionMethod`: 0
//!   None, 1 Aes128Diffuser, 2 Aes256Diffuser, 3 Aes128, 4 Aes256, 5 Hardware, 6 XtsAes128,
//!   7 XtsAes256.
//! - Firewall `Enabled` (GpoBoolean): 0 False, 1 True, 2 NotConfigured;
//!   `DefaultInboundAction`: 0 NotConfigured, 2 Allow, 4 Block ([`firewall_profile`] maps
//!   the registry's 0/1 onto these).

use serde_json::{Map, Value};
use tilsyn_proto::v1::Facts;

use super::super::windows::{bool_field, items, u64_field};
use super::super::PlatformError;
use super::{first_line, some, Antivirus, Finding, IncludeResolver, Readings};

const FACTS: &str = "Windows facts";

/// A firewall profile from the registry: the local setting
/// (`…\SharedAccess\Parameters\FirewallPolicy\<Profile>`) unless Group Policy sets the
/// value (`SOFTWARE\Policies\Microsoft\WindowsFirewall\<Profile>`). `EnableFirewall`
/// absent means on (Windows' default); `DefaultInboundAction` 1 or absent blocks, 0 allows.
/// With the firewall service stopped nothing is enforced: the profile counts as off.
pub fn firewall_profile(
    name: &str,
    local: &Map<String, Value>,
    policy: &Map<String, Value>,
    service_running: bool,
) -> Value {
    let get = |k: &str| {
        policy
            .get(k)
            .or_else(|| local.get(k))
            .and_then(Value::as_u64)
    };
    let enabled = service_running && get("EnableFirewall").unwrap_or(1) == 1;
    let inbound = match get("DefaultInboundAction").unwrap_or(1) {
        0 => 2,
        _ => 4,
    };
    serde_json::json!({ "Name": name, "Enabled": u64::from(enabled), "DefaultInboundAction": inbound })
}

/// One user's screen saver settings from `HKU\<sid>\Control Panel\Desktop` and its policy
/// key, in the fields the screen-lock mapper reads.
pub fn screen_saver_user(
    sid: &str,
    desktop: &Map<String, Value>,
    policy: &Map<String, Value>,
) -> Value {
    let g = |m: &Map<String, Value>, k: &str| m.get(k).cloned().unwrap_or(Value::Null);
    serde_json::json!({
        "Sid": sid,
        "ScreenSaveActive": g(desktop, "ScreenSaveActive"),
        "ScreenSaveTimeOut": g(desktop, "ScreenSaveTimeOut"),
        "ScreenSaverIsSecure": g(desktop, "ScreenSaverIsSecure"),
        "ScreenSaver": g(desktop, "SCRNSAVE.EXE"),
        "PolicyScreenSaveActive": g(policy, "ScreenSaveActive"),
        "PolicyScreenSaveTimeOut": g(policy, "ScreenSaveTimeOut"),
        "PolicyScreenSaverIsSecure": g(policy, "ScreenSaverIsSecure"),
        "PolicyScreenSaver": g(policy, "SCRNSAVE.EXE"),
    })
}

/// Parses the object (as JSON text: the recorded fixtures) into facts and per-part errors.
/// Only text that is not the object at all is an error of the whole.
pub fn parse_facts_json(text: &str) -> Result<(Facts, Vec<String>), PlatformError> {
    let t = text.trim_start_matches('\u{feff}').trim();
    let v: Value = serde_json::from_str(t).map_err(|e| {
        PlatformError::parse(
            FACTS,
            format!("invalid JSON ({e}); got {:?}", first_line(t)),
        )
    })?;
    facts_from_object(&v)
}

/// The facts from the object of parts (see the module's note).
pub fn facts_from_object(v: &Value) -> Result<(Facts, Vec<String>), PlatformError> {
    if !v.is_object() || v.get("BitLocker").is_none() {
        return Err(PlatformError::parse(FACTS, "expected the facts object"));
    }
    let mut r = Readings {
        auto_updates: some(part(v, "WindowsUpdate").and_then(windows_update)),
        disk_encryption: some(part(v, "BitLocker").and_then(bitlocker)),
        firewall: some(part(v, "Firewall").and_then(firewall)),
        screen_lock: part(v, "ScreenLock").and_then(screen_lock),
        antivirus: antivirus(part(v, "Defender"), part(v, "SecurityCenter")),
        local_admins: some(part(v, "Admins").and_then(admins)),
        time: some(part(v, "Time").and_then(time)),
        secure_boot: part(v, "SecureBoot").map(secure_boot),
        running_services: some(part(v, "Services").map(|s| {
            let mut names = strings(s.get("Running"));
            names.sort_by_key(|n| n.to_lowercase());
            names.dedup();
            names
        })),
        ..Default::default()
    };
    match part(v, "Ssh") {
        Err(e) => r.ssh_installed = Err(e),
        Ok(s) => {
            let installed = bool_field(&s, "Installed");
            r.ssh_installed = Ok(Some(installed));
            if installed {
                r.ssh = some(ssh_settings(&s));
            }
        }
    }
    Ok(r.into_facts())
}

/// One part of the object: its `Error` when the part failed.
fn part(v: &Value, key: &str) -> Result<Value, PlatformError> {
    match v.get(key) {
        None => Err(PlatformError::parse(FACTS, format!("no {key} part"))),
        Some(p) => match (
            p.get("Error").and_then(Value::as_str),
            p.get("Unsupported").and_then(Value::as_str),
        ) {
            (Some(e), _) => Err(PlatformError::Failed {
                command: format!("{FACTS} ({key})"),
                status: None,
                stderr: e.trim().to_string(),
            }),
            (None, Some(why)) => Err(PlatformError::Unsupported(why.trim().to_string())),
            (None, None) => Ok(p.clone()),
        },
    }
}

/// An enum field as its number; names (PowerShell 7 with `-EnumsAsStrings`, or a
/// `[string]` cast) are looked up in `names`, whose index is the value.
fn enum_field(v: &Value, key: &str, names: &[&str]) -> Option<u64> {
    match v.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s.trim()))
            .map(|i| i as u64)
            .or_else(|| s.trim().parse().ok()),
        Value::Bool(b) => Some(*b as u64),
        _ => None,
    }
}

fn str_field(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// A string or an array of strings (a one-element pipeline arrives unwrapped).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(s)) if !s.trim().is_empty() => vec![s.trim().to_string()],
        _ => Vec::new(),
    }
}

const PROTECTION: [&str; 3] = ["Off", "On", "Unknown"];
const VOLUME_STATUS: [&str; 6] = [
    "FullyDecrypted",
    "FullyEncrypted",
    "EncryptionInProgress",
    "DecryptionInProgress",
    "EncryptionPaused",
    "DecryptionPaused",
];
const METHOD: [&str; 8] = [
    "None",
    "Aes128Diffuser",
    "Aes256Diffuser",
    "Aes128",
    "Aes256",
    "Hardware",
    "XtsAes128",
    "XtsAes256",
];

/// The system drive is encrypted when BitLocker protection is On: a fully encrypted
/// volume whose protection is suspended (firmware update, `Suspend-BitLocker`) has its key
/// in the clear on disk. Without the BitLocker module (Home editions' device encryption)
/// the Shell's `System.Volume.BitLockerProtection` property says the same: 1 on, 2 off,
/// 3 encrypting, 4 decrypting, 5 suspended, 6 on (locked), 8 waiting for activation.
fn bitlocker(b: Value) -> Result<Finding<bool>, PlatformError> {
    let drive = str_field(&b, "MountPoint");
    if let Some(shell) = u64_field(&b, "ShellProtection") {
        let (on, words) = match shell {
            1 => (true, "on"),
            6 => (true, "on (locked)"),
            2 => (false, "off"),
            3 => (false, "encryption in progress"),
            4 => (false, "decryption in progress"),
            5 => (false, "suspended"),
            8 => (false, "waiting for activation"),
            _ => (false, "unknown"),
        };
        return Ok(Finding::new(
            on,
            format!("{drive} BitLocker (device encryption) {words}"),
        ));
    }
    let Some(protection) = enum_field(&b, "ProtectionStatus", &PROTECTION) else {
        return Err(PlatformError::parse(
            FACTS,
            "BitLocker: no ProtectionStatus",
        ));
    };
    let name = |names: &[&str], v: Option<u64>| match v {
        Some(i) => names
            .get(i as usize)
            .map(|s| s.to_string())
            .unwrap_or_else(|| format!("{i}")),
        None => "?".into(),
    };
    let volume = name(
        &VOLUME_STATUS,
        enum_field(&b, "VolumeStatus", &VOLUME_STATUS),
    );
    let method = name(&METHOD, enum_field(&b, "EncryptionMethod", &METHOD));
    let pct = u64_field(&b, "EncryptionPercentage")
        .map(|p| format!(", {p}% encrypted"))
        .unwrap_or_default();
    Ok(Finding::new(
        protection == 1,
        format!(
            "{drive} BitLocker protection {}, {volume} ({method}){pct}",
            name(&PROTECTION, Some(protection))
        ),
    ))
}

/// Enabled when every profile (Domain, Private, Public) is enabled and does not allow
/// unsolicited inbound traffic by default.
fn firewall(fw: Value) -> Result<Finding<bool>, PlatformError> {
    let profiles = items(FACTS, fw.get("Profiles").cloned().unwrap_or(Value::Null))?;
    if profiles.is_empty() {
        return Err(PlatformError::parse(
            FACTS,
            "Get-NetFirewallProfile returned no profile",
        ));
    }
    let mut all = true;
    let mut words = Vec::new();
    for p in &profiles {
        let enabled = enum_field(p, "Enabled", &["False", "True", "NotConfigured"]);
        let inbound = enum_field(
            p,
            "DefaultInboundAction",
            &["NotConfigured", "", "Allow", "", "Block"],
        );
        let on = enabled == Some(1);
        let allow_in = inbound == Some(2);
        all &= on && !allow_in;
        words.push(format!(
            "{} {}",
            str_field(p, "Name"),
            match (enabled, allow_in) {
                (Some(1), true) => "on but allows inbound by default",
                (Some(1), false) => "on",
                (Some(0), _) => "off",
                (Some(2), _) => "not configured",
                _ => "unknown",
            }
        ));
    }
    Ok(Finding::new(
        all,
        format!("Windows Firewall: {}", words.join(", ")),
    ))
}

/// Real-time protection from Defender, unless Defender is passive or off because another
/// product registered with Security Center protects the machine (its `productState` bits
/// 12–15 are 1 when its real-time scanner is on). No readable source at all: the errors.
fn antivirus(
    defender: Result<Value, PlatformError>,
    center: Result<Value, PlatformError>,
) -> Result<Option<Antivirus>, PlatformError> {
    let defender_av = defender.as_ref().ok().map(|d| {
        let mode = str_field(d, "AMRunningMode");
        let passive = mode.to_ascii_lowercase().contains("passive");
        let version = str_field(d, "AMProductVersion");
        Antivirus {
            product: format!("Microsoft Defender Antivirus {version}")
                .trim()
                .to_string(),
            realtime: bool_field(d, "RealTimeProtectionEnabled")
                && bool_field(d, "AntivirusEnabled")
                && !passive,
            signature_age_days: u64_field(d, "AntivirusSignatureAge")
                .map(|a| a.min(u32::MAX as u64) as u32),
        }
    });
    if let Some(d) = &defender_av {
        if d.realtime {
            return Ok(Some(d.clone()));
        }
    }
    let products = match &center {
        Ok(c) => items(FACTS, c.get("Products").cloned().unwrap_or(Value::Null))?,
        Err(_) => Vec::new(),
    };
    let third_party: Vec<(String, bool)> = products
        .iter()
        .map(|p| {
            let state = u64_field(p, "productState").unwrap_or(0);
            (str_field(p, "displayName"), (state >> 12) & 0xF == 1)
        })
        .filter(|(n, _)| !n.is_empty() && !n.eq_ignore_ascii_case("Windows Defender"))
        .collect();
    if let Some((name, _)) = third_party.iter().find(|(_, rt)| *rt) {
        return Ok(Some(Antivirus {
            product: name.clone(),
            realtime: true,
            signature_age_days: None,
        }));
    }
    if let Some(d) = defender_av {
        return Ok(Some(d));
    }
    if let Some((name, _)) = third_party.first() {
        return Ok(Some(Antivirus {
            product: name.clone(),
            realtime: false,
            signature_age_days: None,
        }));
    }
    match (defender, center) {
        (Err(e), Err(c)) => Err(PlatformError::Unsupported(format!(
            "Defender: {e}; Security Center: {c}"
        ))),
        (Err(e), Ok(_)) => Err(e),
        _ => Ok(None),
    }
}

/// The screen-lock timeout: the machine inactivity limit (`InactivityTimeoutSecs`, which
/// locks every session) and each logged-on user's secure screen saver (policy values over
/// the user's own). A screen saver only runs when one is chosen (`SCRNSAVE.EXE`) and
/// active; it only locks when `ScreenSaverIsSecure` is 1. The machine's value is the
/// weakest user's (0 = some session never locks), bounded by the inactivity limit.
/// `None` with neither a limit nor a loaded user hive.
fn screen_lock(s: Value) -> Result<Option<Finding<u32>>, PlatformError> {
    let machine = u64_field(&s, "InactivityTimeoutSecs")
        .filter(|v| *v > 0)
        .map(|v| v.min(u32::MAX as u64) as u32);
    let users = items(FACTS, s.get("Users").cloned().unwrap_or(Value::Null))?;
    let mut worst: Option<Option<u32>> = None; // None = no user; Some(None) = never locks
    let mut words = Vec::new();
    for u in &users {
        let pick = |policy: &str, user: &str| {
            let p = str_field(u, policy);
            if p.is_empty() {
                str_field(u, user)
            } else {
                p
            }
        };
        let active = pick("PolicyScreenSaveActive", "ScreenSaveActive") == "1";
        let exe = !pick("PolicyScreenSaver", "ScreenSaver").is_empty();
        let secure = pick("PolicyScreenSaverIsSecure", "ScreenSaverIsSecure") == "1";
        let timeout: u32 = pick("PolicyScreenSaveTimeOut", "ScreenSaveTimeOut")
            .parse()
            .unwrap_or(0);
        let locks = (active && exe && secure && timeout > 0).then_some(timeout);
        words.push(match locks {
            Some(t) => format!("{} secure screen saver after {t} s", str_field(u, "Sid")),
            None if !active || !exe => format!("{} no screen saver", str_field(u, "Sid")),
            None => format!("{} screen saver does not lock", str_field(u, "Sid")),
        });
        worst = Some(match (worst, locks) {
            (None, l) => l,
            (Some(None), _) | (_, None) => None,
            (Some(Some(a)), Some(b)) => Some(a.max(b)),
        });
    }
    let effective = match (machine, worst) {
        (None, None) => return Ok(None),
        (Some(m), None) | (Some(m), Some(None)) => Some(m),
        (Some(m), Some(Some(u))) => Some(m.min(u)),
        (None, Some(u)) => u,
    };
    let mut detail = match machine {
        Some(m) => format!("machine inactivity limit {m} s"),
        None => "no machine inactivity limit".to_string(),
    };
    if !words.is_empty() {
        detail.push_str("; ");
        detail.push_str(&words.join("; "));
    }
    Ok(Some(Finding::new(effective.unwrap_or(0), detail)))
}

/// Automatic installation per Windows Update policy: none means Windows' default
/// (download and install automatically); `NoAutoUpdate=1` turns it off; `AUOptions` 2
/// (notify before download), 3 (download, notify to install) and 7 (notify to install and
/// to restart) leave installation to a person; 4 (scheduled install) and 5 (local
/// administrators choose, which Windows 10 and later resolve to automatic) install. A
/// disabled Windows Update service installs nothing.
fn windows_update(w: Value) -> Result<Finding<bool>, PlatformError> {
    let start = str_field(&w, "ServiceStartType");
    if start.eq_ignore_ascii_case("Disabled") || start == "4" {
        return Ok(Finding::new(
            false,
            "the Windows Update service (wuauserv) is disabled",
        ));
    }
    if u64_field(&w, "NoAutoUpdate") == Some(1) {
        return Ok(Finding::new(
            false,
            "Automatic Updates disabled by policy (NoAutoUpdate=1)",
        ));
    }
    let (on, words) = match u64_field(&w, "AUOptions") {
        None if !bool_field(&w, "PolicyPresent") => (
            true,
            "no Windows Update policy: Windows installs updates automatically".to_string(),
        ),
        None => (
            true,
            "Windows Update policy without AUOptions: automatic".to_string(),
        ),
        Some(2) => (
            false,
            "policy AUOptions=2: notify before downloading".to_string(),
        ),
        Some(3) => (
            false,
            "policy AUOptions=3: download automatically, notify to install".to_string(),
        ),
        Some(4) => (
            true,
            "policy AUOptions=4: download and install on a schedule".to_string(),
        ),
        Some(5) => (
            true,
            "policy AUOptions=5: local administrators choose (automatic on Windows 10 and later)"
                .to_string(),
        ),
        Some(7) => (
            false,
            "policy AUOptions=7: notify to install and to restart".to_string(),
        ),
        Some(o) => (false, format!("policy AUOptions={o}: unknown option")),
    };
    Ok(Finding::new(on, words))
}

/// Members of the Administrators group (`DOMAIN\name`, `AzureAD\name`, or a bare SID for
/// an account Windows can no longer resolve), sorted case-insensitively.
fn admins(a: Value) -> Result<Vec<String>, PlatformError> {
    let mut m: Vec<String> = strings(a.get("Members"))
        .into_iter()
        .map(|s| s.trim_start_matches('\\').to_string())
        .collect();
    m.sort_by_key(|s| s.to_lowercase());
    m.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    Ok(m)
}

fn time(t: Value) -> Result<Finding<bool>, PlatformError> {
    let output = str_field(&t, "Output");
    // A failure exits with the HRESULT, negative as a signed 32-bit number.
    match t.get("ExitCode").and_then(Value::as_i64) {
        Some(0) | None => parse_w32tm_status(&output),
        Some(code) => Err(PlatformError::Failed {
            command: "w32tm /query /status".into(),
            status: i32::try_from(code).ok(),
            stderr: first_line(&output),
        }),
    }
}

/// Parses `w32tm /query /status` (English):
///
/// ```text
/// Leap Indicator: 0(no warning)
/// Last Successful Sync Time: 5/16/2024 9:41:12 AM
/// Source: time.windows.com,0x9
/// ```
///
/// Synchronised when the leap indicator is not 3 (not synchronised), the source is not
/// the free-running local clock, and a sync has happened. The source loses its `,0x9`
/// flags.
pub fn parse_w32tm_status(text: &str) -> Result<Finding<bool>, PlatformError> {
    const W32TM: &str = "w32tm /query /status";
    let mut leap = None;
    let mut source = None;
    let mut last_sync = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "Leap Indicator" => {
                leap = v
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|d| d.parse::<u8>().ok())
            }
            "Source" => source = Some(v.split(",0x").next().unwrap_or(v).trim().to_string()),
            "Last Successful Sync Time" => last_sync = Some(v.to_string()),
            _ => {}
        }
    }
    let (Some(leap), Some(source)) = (leap, source) else {
        return Err(PlatformError::parse(
            W32TM,
            format!(
                "no 'Leap Indicator:'/'Source:' lines (only English output is understood); got {:?}",
                first_line(text)
            ),
        ));
    };
    let local = matches!(
        source.as_str(),
        "Local CMOS Clock" | "Free-running System Clock"
    );
    let never = last_sync
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case("unspecified"));
    Ok(Finding::new(leap != 3 && !local && !never, source))
}

fn secure_boot(s: Value) -> Option<bool> {
    match s.get("Enabled") {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// Windows' OpenSSH reads `%ProgramData%\ssh\sshd_config`; the script returns its text but
/// not the files an `Include` would name.
struct NoIncludes;

impl IncludeResolver for NoIncludes {
    fn resolve(&mut self, pattern: &str) -> Result<Vec<String>, PlatformError> {
        Err(PlatformError::Unsupported(format!(
            "sshd_config includes {pattern:?}, which the agent does not follow on Windows"
        )))
    }
}

fn ssh_settings(s: &Value) -> Result<super::SshdSettings, PlatformError> {
    match s.get("Config").and_then(Value::as_str) {
        Some(cfg) => super::parse_sshd_config(cfg, &mut NoIncludes),
        None => Err(PlatformError::NotFound(
            r"C:\ProgramData\ssh\sshd_config".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(name: &str) -> String {
        std::fs::read_to_string(format!("{}/windows/{name}", super::super::tests::FIXTURES))
            .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
    }

    #[test]
    fn parses_a_managed_windows_11_laptop() {
        let (f, errors) = parse_facts_json(&fx("facts-win11-managed.json")).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(f.disk_encrypted, Some(true));
        assert_eq!(
            f.disk_encryption_detail,
            "C: BitLocker protection On, FullyEncrypted (XtsAes128), 100% encrypted"
        );
        assert_eq!(f.firewall_enabled, Some(true));
        assert_eq!(
            f.firewall_detail,
            "Windows Firewall: Domain on, Private on, Public on"
        );
        assert_eq!(f.antivirus_realtime, Some(true));
        assert_eq!(
            f.antivirus_product,
            "Microsoft Defender Antivirus 4.18.24040.4"
        );
        assert_eq!(f.antivirus_signature_age_days, Some(0));
        // Machine limit 900 s; one user with a 600 s secure screen saver by policy.
        assert_eq!(f.screen_lock_timeout_seconds, Some(600));
        assert!(
            f.screen_lock_detail
                .contains("machine inactivity limit 900 s"),
            "{}",
            f.screen_lock_detail
        );
        assert_eq!(f.auto_updates_enabled, Some(true));
        assert!(f.auto_updates_detail.contains("AUOptions=4"));
        assert_eq!(
            f.local_admins.unwrap().values,
            [
                "AzureAD\\ITAdmin",
                "CORP\\Domain Admins",
                "PC-4711\\Administrator"
            ]
        );
        assert_eq!(f.time_synchronized, Some(true));
        assert_eq!(f.time_source, "dc01.corp.example.com");
        assert_eq!(f.secure_boot, Some(true));
        assert_eq!(f.ssh_server_installed, Some(false));
        assert!(f.ssh_permit_root_login.is_empty());
        let svc = f.running_services.unwrap().values;
        assert!(svc.contains(&"WinDefend".to_string()) && svc.contains(&"wuauserv".to_string()));
        assert!(svc
            .windows(2)
            .all(|w| w[0].to_lowercase() <= w[1].to_lowercase()));
    }

    #[test]
    fn parts_fail_alone_on_a_home_pc() {
        // Home edition: no BitLocker module (Shell property instead), a third-party AV
        // with Defender passive, Get-LocalGroupMember's orphaned-SID failure answered by
        // ADSI, legacy BIOS, OpenSSH server installed, w32tm's stopped service, and
        // single-element pipelines unwrapped.
        let (f, errors) = parse_facts_json(&fx("facts-win11-home-errors.json")).unwrap();
        assert_eq!(f.disk_encrypted, Some(false));
        assert_eq!(
            f.disk_encryption_detail,
            "C: BitLocker (device encryption) off"
        );
        assert_eq!(f.firewall_enabled, Some(false));
        assert!(
            f.firewall_detail.contains("Public off"),
            "{}",
            f.firewall_detail
        );
        assert_eq!(f.antivirus_product, "Bitdefender Antivirus Plus");
        assert_eq!(f.antivirus_realtime, Some(true));
        assert_eq!(f.antivirus_signature_age_days, None);
        assert_eq!(f.screen_lock_timeout_seconds, Some(0));
        assert_eq!(f.auto_updates_enabled, Some(true));
        assert_eq!(
            f.local_admins.unwrap().values,
            [
                "PC-HOME\\Administrator",
                "PC-HOME\\kim",
                "S-1-12-1-1234567890-1234567890-1234567890-1234567890"
            ]
        );
        assert_eq!(f.secure_boot, None);
        assert_eq!(f.ssh_server_installed, Some(true));
        assert_eq!(f.ssh_permit_root_login, "prohibit-password");
        assert_eq!(f.ssh_password_authentication, Some(false));
        let svc = f.running_services.unwrap().values;
        assert!(svc.contains(&"sshd".to_string()) && svc.contains(&"VSSERV".to_string()));
        assert_eq!(f.time_synchronized, None);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("time: ") && errors[0].contains("0x80070426"),
            "{errors:?}"
        );
    }

    #[test]
    fn failed_parts_become_errors() {
        let t = r#"{"BitLocker":{"Error":"Access denied"},"Firewall":{"Error":"x"},"Defender":{"Error":"0x800106ba"},"SecurityCenter":{"Error":"Invalid namespace"},"ScreenLock":{"InactivityTimeoutSecs":null,"Users":[]},"WindowsUpdate":{"PolicyPresent":true,"NoAutoUpdate":1,"AUOptions":null,"ServiceStartType":"Manual"},"Admins":{"Error":"y"},"Time":{"ExitCode":0,"Output":"Sprungindikator: 0(keine Warnung)\nQuelle: time.windows.com"},"SecureBoot":{"Error":"Access was denied."},"Ssh":{"Installed":true,"Status":"Running","StartType":"Automatic","Config":"Include C:/ProgramData/ssh/conf.d/*\n"},"Services":{"Running":"Dnscache"}}"#;
        let (f, errors) = parse_facts_json(t).unwrap();
        let names: Vec<&str> = errors
            .iter()
            .map(|e| e.split(':').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "disk_encryption",
                "firewall",
                "antivirus",
                "local_admins",
                "time",
                "secure_boot",
                "ssh"
            ]
        );
        assert!(errors[0].contains("Access denied"));
        assert!(errors[4].contains("English"), "{}", errors[4]);
        assert_eq!(f.screen_lock_timeout_seconds, None);
        assert_eq!(f.auto_updates_enabled, Some(false));
        assert_eq!(f.ssh_server_installed, Some(true));
        assert_eq!(f.ssh_password_authentication, None);
        assert!(parse_facts_json("").is_err());
        assert!(parse_facts_json("powershell.exe : The term is not recognized").is_err());
        assert!(parse_facts_json("[]").is_err());
    }

    #[test]
    fn bitlocker_states() {
        let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        let f = bitlocker(v(r#"{"MountPoint":"C:","ProtectionStatus":0,"VolumeStatus":1,"EncryptionMethod":7,"EncryptionPercentage":100}"#)).unwrap();
        assert!(!f.value, "suspended protection is not encryption");
        assert_eq!(
            f.detail,
            "C: BitLocker protection Off, FullyEncrypted (XtsAes256), 100% encrypted"
        );
        let f = bitlocker(v(r#"{"MountPoint":"C:","ProtectionStatus":"On","VolumeStatus":"FullyEncrypted","EncryptionMethod":"XtsAes128"}"#)).unwrap();
        assert!(f.value);
        let f = bitlocker(v(r#"{"MountPoint":"C:","ProtectionStatus":0,"VolumeStatus":2,"EncryptionMethod":6,"EncryptionPercentage":37.5}"#)).unwrap();
        assert!(
            f.detail.contains("EncryptionInProgress") && f.detail.contains("37%"),
            "{}",
            f.detail
        );
        assert!(bitlocker(v(r#"{"MountPoint":"C:"}"#)).is_err());
    }

    #[test]
    fn firewall_profiles() {
        let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        let f = firewall(v(r#"{"Profiles":[{"Name":"Domain","Enabled":1,"DefaultInboundAction":4},{"Name":"Private","Enabled":true,"DefaultInboundAction":0},{"Name":"Public","Enabled":1,"DefaultInboundAction":2}]}"#)).unwrap();
        assert!(!f.value);
        assert!(
            f.detail.contains("Public on but allows inbound by default"),
            "{}",
            f.detail
        );
        let f = firewall(v(
            r#"{"Profiles":{"Name":"Public","Enabled":"True","DefaultInboundAction":"Block"}}"#,
        ))
        .unwrap();
        assert!(f.value);
        assert!(firewall(v(r#"{"Profiles":[]}"#)).is_err());
    }

    #[test]
    fn update_policies() {
        let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        let f = windows_update(v(r#"{"PolicyPresent":false,"NoAutoUpdate":null,"AUOptions":null,"ServiceStartType":"Manual"}"#)).unwrap();
        assert!(f.value);
        for (opt, on) in [
            (2, false),
            (3, false),
            (4, true),
            (5, true),
            (7, false),
            (9, false),
        ] {
            let f = windows_update(v(&format!(
                r#"{{"PolicyPresent":true,"AUOptions":{opt},"ServiceStartType":"Manual"}}"#
            )))
            .unwrap();
            assert_eq!(f.value, on, "AUOptions {opt}");
        }
        let f = windows_update(v(
            r#"{"PolicyPresent":false,"ServiceStartType":"Disabled"}"#,
        ))
        .unwrap();
        assert!(!f.value && f.detail.contains("wuauserv"));
    }

    #[test]
    fn w32tm_outputs() {
        let f = parse_w32tm_status(&fx("w32tm-status-unsynced.txt")).unwrap();
        assert!(!f.value);
        assert_eq!(f.detail, "Local CMOS Clock");
        let f = parse_w32tm_status("Leap Indicator: 0(no warning)\r\nStratum: 4 (secondary reference - syncd by (S)NTP)\r\nLast Successful Sync Time: 5/16/2024 9:41:12 AM\r\nSource: time.windows.com,0x9\r\n").unwrap();
        assert!(f.value);
        assert_eq!(f.detail, "time.windows.com");
        let f = parse_w32tm_status("Leap Indicator: 0(no warning)\nLast Successful Sync Time: 5/16/2024 9:41:12 AM\nSource: VM IC Time Synchronization Provider\n").unwrap();
        assert!(f.value);
    }

    #[test]
    fn a_missing_source_says_not_supported() {
        let v = serde_json::json!({"BitLocker": {"Unsupported": "WMI ROOT\\CIMV2\\Security\\MicrosoftVolumeEncryption: no such WMI provider on this Windows (0x8004100E)"},
            "Firewall": {"Error": "access denied"}});
        let e = part(&v, "BitLocker").unwrap_err();
        assert!(matches!(e, PlatformError::Unsupported(_)), "{e}");
        assert!(
            e.to_string()
                .starts_with("not supported on this platform: WMI"),
            "{e}"
        );
        assert!(matches!(
            part(&v, "Firewall").unwrap_err(),
            PlatformError::Failed { .. }
        ));
    }

    #[test]
    fn firewall_profiles_from_the_registry() {
        let m = |j: &str| -> Map<String, Value> { serde_json::from_str(j).unwrap() };
        let none = Map::new();
        // Local on and blocking; a policy that turns the Public profile off wins.
        let on = firewall_profile(
            "Domain",
            &m(r#"{"EnableFirewall":1,"DefaultInboundAction":1}"#),
            &none,
            true,
        );
        assert_eq!(
            on,
            serde_json::json!({"Name":"Domain","Enabled":1,"DefaultInboundAction":4})
        );
        let off = firewall_profile(
            "Public",
            &m(r#"{"EnableFirewall":1}"#),
            &m(r#"{"EnableFirewall":0}"#),
            true,
        );
        assert_eq!(off["Enabled"], 0);
        // Nothing set: Windows' defaults (on, block); allowing inbound by default shows.
        assert_eq!(
            firewall_profile("Private", &none, &none, true)["Enabled"],
            1
        );
        assert_eq!(
            firewall_profile("Private", &m(r#"{"DefaultInboundAction":0}"#), &none, true)
                ["DefaultInboundAction"],
            2
        );
        // The service stopped: nothing enforced.
        assert_eq!(
            firewall_profile("Domain", &none, &none, false)["Enabled"],
            0
        );
        // Through the mapper: one profile off fails the whole.
        let v = serde_json::json!({"Profiles": [on, off]});
        let f = firewall(v).unwrap();
        assert!(!f.value);
        assert_eq!(f.detail, "Windows Firewall: Domain on, Public off");
    }

    #[test]
    fn screen_saver_users_from_the_registry() {
        let m = |j: &str| -> Map<String, Value> { serde_json::from_str(j).unwrap() };
        let user = screen_saver_user(
            "S-1-5-21-1-2-3-1001",
            &m(
                r#"{"ScreenSaveActive":"1","ScreenSaveTimeOut":"1200","ScreenSaverIsSecure":"1","SCRNSAVE.EXE":"C:\\Windows\\system32\\scrnsave.scr"}"#,
            ),
            &m(r#"{"ScreenSaveTimeOut":"600"}"#),
        );
        let v = serde_json::json!({"InactivityTimeoutSecs": null, "Users": [user]});
        // The policy's 600 s wins over the user's 1200 s.
        let f = screen_lock(v).unwrap().unwrap();
        assert_eq!(f.value, 600);
    }
}
