//! Windows sources: the pure mappers from what Windows' APIs return (registry values, the
//! service control manager's records, GetSystemTimes, the SMBIOS table) to typed facts,
//! tested on recorded data on every OS. The calls themselves are in [`super::winapi`]
//! (registry, kernel32, SCM: no process started per fact).
//!
//! The Windows Update Agent is a COM automation API: `winapi::windows_update` calls
//! it directly (the `windows` crate) and builds the object the former PowerShell script
//! printed. The recorded outputs of the former PowerShell sources stay the fixtures: the
//! API readers produce objects with the same field names. Notes on that JSON:
//! - A pipeline of one object serialises as that object, not a one-element array, and of
//!   none as nothing at all; [`items`] accepts all three.
//! - `DateTime` values become `"\/Date(1715644800000)\/"` (ms since the epoch, UTC);
//!   PowerShell 7 writes ISO 8601 instead. [`ps_date_ms`] reads both.
//! - `&`, `'`, `<` and `>` are written as `\u0026` etc., which any JSON parser decodes.
//!
//! The scripts contain no double quotes (so no command-line quoting can mangle them) and
//! set the console's output encoding to UTF-8, so non-ASCII names survive the pipe.

use std::collections::HashSet;

use serde_json::Value;
use tilsyn_proto::v1::{Hardware, OsInfo, Package, PatchLevel, PendingUpdate, ServiceStatus};

use super::time::parse_timestamp_ms;
use super::PlatformError;

const UNINSTALL: &str = "uninstall registry";
const WINDOWS_UPDATE: &str = "Windows Update";
const OS: &str = "Win32_OperatingSystem";
const SERVICES: &str = "Win32_Service";

/// An OLE automation date (days since 1899-12-30, the fraction the time of day, UTC as the
/// Windows Update Agent gives it) as ms since the epoch; `None` before 1970-01-02 (the
/// API's "never").
pub fn ole_date_ms(days: f64) -> Option<i64> {
    let ms = ((days - 25_569.0) * 86_400_000.0).round();
    (ms.is_finite() && ms > 86_400_000.0 && ms < 1e15).then_some(ms as i64)
}

/// Pairs each watched name with `Get-Service`'s answer (case-insensitive, as Windows
/// service names are); a service that does not exist is reported as `not-found`.
pub fn parse_services_json(
    names: &[String],
    text: &str,
) -> Result<Vec<ServiceStatus>, PlatformError> {
    Ok(watched_services(
        names,
        &items(SERVICES, parse_json(SERVICES, text)?)?,
    ))
}

/// Pairs each watched name with a service record (`Name`, `Status`).
pub fn watched_services(names: &[String], found: &[Value]) -> Vec<ServiceStatus> {
    names
        .iter()
        .map(|n| {
            let hit = found
                .iter()
                .find(|s| str_field(s, "Name").eq_ignore_ascii_case(n));
            let state = hit
                .map(|s| str_field(s, "Status"))
                .unwrap_or_else(|| "not-found".into());
            ServiceStatus {
                name: n.clone(),
                active: state.eq_ignore_ascii_case("Running"),
                state,
            }
        })
        .collect()
}

/// Parses uninstall entries into packages (source `windows-registry`). Entries without a
/// `DisplayName` (leftover keys such as `AddressBook`) and those with `SystemComponent=1`
/// (hidden from Programs and Features, e.g. the VC++ minimum runtimes under their bundle)
/// are skipped. Arch follows the registry view: `x64` for the 64-bit key, `x86` for
/// WOW6432Node, empty for per-user entries. The same name and version seen twice (two
/// users, or both views) is kept once, first view wins. Sorted by name.
pub fn parse_uninstall_json(text: &str) -> Result<Vec<Package>, PlatformError> {
    Ok(uninstall_packages(items(
        UNINSTALL,
        parse_json(UNINSTALL, text)?,
    )?))
}

/// The packages of uninstall entries (registry values plus `Hive`); see
/// [`parse_uninstall_json`].
pub fn uninstall_packages(entries: Vec<Value>) -> Vec<Package> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for e in entries {
        if !e.is_object() {
            continue;
        }
        let name = str_field(&e, "DisplayName");
        if name.is_empty() || u64_field(&e, "SystemComponent") == Some(1) {
            continue;
        }
        let version = str_field(&e, "DisplayVersion");
        if !seen.insert((name.clone(), version.clone())) {
            continue;
        }
        let arch = match str_field(&e, "Hive").as_str() {
            "HKLM64" => "x64",
            "HKLM32" => "x86",
            _ => "",
        };
        out.push(Package {
            name,
            version,
            arch: arch.into(),
            source: "windows-registry".into(),
        });
    }
    out.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then_with(|| a.version.cmp(&b.version))
    });
    out
}

/// Parses the Windows Update object into a patch level (manager `windows-update`). An
/// update is a security update when it is classified "Security Updates" or carries an
/// MSRC severity; its `since_ms` is `LastDeploymentChangeTime` (when Microsoft published
/// this revision), its origin the KB number(s). `last_refresh_ms` is the last successful
/// scan, `last_install_ms` the last successful installation.
pub fn parse_windows_update_json(text: &str) -> Result<PatchLevel, PlatformError> {
    windows_update_level(&parse_json(WINDOWS_UPDATE, text)?)
}

/// The patch level from the Windows Update object (see [`parse_windows_update_json`]).
pub fn windows_update_level(v: &Value) -> Result<PatchLevel, PlatformError> {
    if !v.is_object() {
        return Err(PlatformError::parse(
            WINDOWS_UPDATE,
            "expected one JSON object",
        ));
    }
    let mut updates = Vec::new();
    for u in items(
        WINDOWS_UPDATE,
        v.get("Updates").cloned().unwrap_or(Value::Null),
    )? {
        let categories: Vec<String> = strings(u.get("Categories"));
        let severity = str_field(&u, "MsrcSeverity");
        let kbs: Vec<String> = strings(u.get("KBArticleIDs"))
            .into_iter()
            .map(|k| {
                if k.starts_with("KB") {
                    k
                } else {
                    format!("KB{k}")
                }
            })
            .collect();
        updates.push(PendingUpdate {
            name: str_field(&u, "Title"),
            current_version: String::new(),
            new_version: String::new(),
            security: !severity.is_empty()
                || categories
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case("Security Updates")),
            origin: kbs.join(", "),
            since_ms: u.get("LastDeploymentChangeTime").and_then(ps_date_ms),
        });
    }
    Ok(super::patch_level(
        "windows-update",
        updates,
        v.get("LastSearchSuccessDate").and_then(ps_date_ms),
        v.get("LastInstallationSuccessDate").and_then(ps_date_ms),
        bool_field(v, "RebootRequired"),
    ))
}

fn is_placeholder_serial(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.is_empty()
        || l == "0"
        || l == "none"
        || l.contains("to be filled")
        || l == "default string"
        || l == "system serial number"
        || l.chars().all(|c| c == '0' || c == ' ')
}

/// What `winapi::hardware` reads: the registry's `HARDWARE\DESCRIPTION\System\BIOS`
/// values, the first CPU's name, cores, threads, physical memory and the raw SMBIOS
/// table. (GetFirmwareType is not used: Wine 8 aborts on it.)
#[derive(Debug, Default)]
pub struct HardwareRaw {
    pub bios: serde_json::Map<String, Value>,
    pub cpu_name: String,
    pub cores: u32,
    pub threads: u32,
    pub memory_bytes: u64,
    /// GetSystemFirmwareTable('RSMB'): an 8-byte RawSMBIOSData header, then the table.
    pub smbios: Vec<u8>,
    pub errors: Vec<PlatformError>,
}

/// Hardware from the raw reads. Vendor and model: SMBIOS's system structure (type 1), else
/// the registry's copy (`SystemManufacturer`, `SystemProductName`); the serial only
/// SMBIOS has (OEM placeholders such as "To Be Filled By O.E.M." dropped).
pub fn hardware_from(raw: HardwareRaw) -> (Hardware, Vec<PlatformError>) {
    let smbios = smbios_system(&raw.smbios);
    let pick = |a: &str, key: &str| {
        if a.is_empty() {
            raw.bios
                .get(key)
                .and_then(Value::as_str)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        } else {
            a.to_string()
        }
    };
    let serial = smbios.serial.trim().to_string();
    (
        Hardware {
            vendor: pick(&smbios.manufacturer, "SystemManufacturer"),
            model: pick(&smbios.product, "SystemProductName"),
            serial: if is_placeholder_serial(&serial) {
                String::new()
            } else {
                serial
            },
            cpu_model: raw.cpu_name,
            cpu_cores: raw.cores,
            cpu_threads: raw.threads,
            memory_bytes: raw.memory_bytes,
        },
        raw.errors,
    )
}

/// The system and firmware identity from an SMBIOS table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SmbiosSystem {
    pub bios_vendor: String,
    pub bios_version: String,
    pub manufacturer: String,
    pub product: String,
    pub serial: String,
}

/// Reads the BIOS (type 0) and system (type 1) structures of an SMBIOS table as
/// GetSystemFirmwareTable('RSMB') returns it (an 8-byte RawSMBIOSData header: calling
/// method, major, minor, DMI revision, u32 length) or as Linux exposes it in
/// `/sys/firmware/dmi/tables/DMI` (no header: pass `&table[..]` with [`smbios_structures`]).
/// A truncated or malformed table yields what was read before the damage.
pub fn smbios_system(raw: &[u8]) -> SmbiosSystem {
    if raw.len() < 8 {
        return SmbiosSystem::default();
    }
    let len = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]) as usize;
    let table = &raw[8..raw.len().min(8usize.saturating_add(len))];
    let mut out = SmbiosSystem::default();
    for (kind, formatted, strings) in smbios_structures(table) {
        // A string field is a 1-based index into the structure's strings, 0 for none.
        let s = |at: usize| -> String {
            formatted
                .get(at)
                .and_then(|&i| (i as usize).checked_sub(1))
                .and_then(|i| strings.get(i))
                .map(|x| x.trim().to_string())
                .unwrap_or_default()
        };
        match kind {
            0 if out.bios_vendor.is_empty() => {
                out.bios_vendor = s(0x04);
                out.bios_version = s(0x05);
            }
            1 if out.manufacturer.is_empty() => {
                out.manufacturer = s(0x04);
                out.product = s(0x05);
                out.serial = s(0x07);
            }
            127 => break,
            _ => {}
        }
    }
    out
}

/// The structures of an SMBIOS table: type, formatted area (header included) and strings.
pub fn smbios_structures(table: &[u8]) -> Vec<(u8, &[u8], Vec<String>)> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 4 <= table.len() {
        let kind = table[at];
        let len = table[at + 1] as usize;
        if len < 4 || at + len > table.len() {
            break;
        }
        let formatted = &table[at..at + len];
        // The string set: NUL-terminated strings, ended by an extra NUL.
        let mut strings = Vec::new();
        let mut p = at + len;
        if table.get(p) == Some(&0) && table.get(p + 1) == Some(&0) {
            p += 2;
        } else {
            loop {
                let Some(end) = table[p..].iter().position(|&b| b == 0) else {
                    return out;
                };
                strings.push(String::from_utf8_lossy(&table[p..p + end]).into_owned());
                p += end + 1;
                if table.get(p) == Some(&0) {
                    p += 1;
                    break;
                }
            }
        }
        out.push((kind, formatted, strings));
        at = p;
    }
    out
}

/// A fixed drive: its root (`C:\\`), filesystem, total and free bytes.
#[derive(Debug, Clone, Default)]
pub struct Volume {
    pub root: String,
    pub filesystem: String,
    pub total_bytes: u64,
    pub free_bytes: u64,
}

/// System-wide CPU times from GetSystemTimes, in 100 ns units; `kernel` includes `idle`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub idle: u64,
    pub kernel: u64,
    pub user: u64,
}

/// The share of CPU time not idle between two samples; `None` when no time passed (or the
/// counters went backwards).
pub fn cpu_busy_ratio(before: CpuTimes, after: CpuTimes) -> Option<f64> {
    let idle = after.idle.checked_sub(before.idle)?;
    let total = after.kernel.checked_sub(before.kernel)? + after.user.checked_sub(before.user)?;
    if total == 0 {
        return None;
    }
    Some((1.0 - idle as f64 / total as f64).clamp(0.0, 1.0))
}

/// Parses the OS object: family `windows`, name = the edition caption, version
/// `10.0.22631`, build `22631.3447` (build number and UBR), pretty name with the feature
/// update (`Microsoft Windows 11 Enterprise 23H2`).
pub fn parse_os_json(text: &str) -> Result<OsInfo, PlatformError> {
    os_from_caption(&parse_json(OS, text)?)
}

/// The OS from the registry's `Windows NT\CurrentVersion` values. `ProductName` says
/// "Windows 10 …" on Windows 11 too (Microsoft kept it for compatibility), so a build of
/// 22000 or later names Windows 11, as Win32_OperatingSystem's caption does; the caption is
/// prefixed with "Microsoft " like that one, so standards match either source. The version
/// is `major.minor.build` from `CurrentMajorVersionNumber`/`CurrentMinorVersionNumber`
/// (Windows 10 and later), else from the legacy `CurrentVersion` ("6.3").
pub fn os_from_registry(v: &Value) -> Result<OsInfo, PlatformError> {
    let product = str_field(v, "ProductName");
    let build = str_field(v, "CurrentBuildNumber");
    if product.is_empty() || build.is_empty() {
        return Err(PlatformError::parse(
            OS,
            "the registry's CurrentVersion key lacks ProductName or CurrentBuildNumber",
        ));
    }
    let build_no: u64 = build.parse().unwrap_or(0);
    let mut caption = if product.starts_with("Microsoft ") {
        product.clone()
    } else {
        format!("Microsoft {product}")
    };
    if build_no >= 22000 && caption.starts_with("Microsoft Windows 10") {
        caption = caption.replacen("Windows 10", "Windows 11", 1);
    }
    let major_minor = match (
        u64_field(v, "CurrentMajorVersionNumber"),
        u64_field(v, "CurrentMinorVersionNumber"),
    ) {
        (Some(a), Some(b)) => format!("{a}.{b}"),
        _ => str_field(v, "CurrentVersion"),
    };
    let mut object = serde_json::json!({
        "Caption": caption,
        "Version": format!("{major_minor}.{build}"),
        "BuildNumber": build,
        "DisplayVersion": str_field(v, "DisplayVersion"),
    });
    if let Some(ubr) = u64_field(v, "UBR") {
        object["UBR"] = Value::from(ubr);
    }
    os_from_caption(&object)
}

/// The OS from Win32_OperatingSystem's fields (Caption, Version, BuildNumber) and the
/// registry's UBR and DisplayVersion.
fn os_from_caption(v: &Value) -> Result<OsInfo, PlatformError> {
    if !v.is_object() {
        return Err(PlatformError::parse(OS, "expected one JSON object"));
    }
    let name = str_field(v, "Caption");
    let version = str_field(v, "Version");
    if name.is_empty() && version.is_empty() {
        return Err(PlatformError::parse(
            OS,
            "neither Caption nor Version present",
        ));
    }
    let mut build = str_field(v, "BuildNumber");
    if build.is_empty() {
        build = version.rsplit('.').next().unwrap_or_default().to_string();
    }
    if let Some(ubr) = u64_field(v, "UBR") {
        build = format!("{build}.{ubr}");
    }
    let display = str_field(v, "DisplayVersion");
    let pretty_name = if display.is_empty() {
        name.clone()
    } else {
        format!("{name} {display}")
    };
    Ok(OsInfo {
        family: "windows".into(),
        name,
        version,
        build,
        id: String::new(),
        id_like: Vec::new(),
        pretty_name,
    })
}

/// Parses stopped automatic services into failed-service statuses (`active` false,
/// `state` as WMI says it, e.g. `Stopped`). Delayed-start and trigger-start services stop
/// by design once their work is done (Edge/Google updaters, Software Protection, Maps
/// Broker), so they count only when they exited with an error: exit code 0 or 1077
/// (ERROR_SERVICE_NEVER_STARTED, a trigger that never fired) is not a failure for them.
/// A plain automatic service that is not running counts whatever its exit code: it was
/// meant to run since boot. Sorted by name.
pub fn parse_stopped_services_json(text: &str) -> Result<Vec<ServiceStatus>, PlatformError> {
    stopped_services(items(SERVICES, parse_json(SERVICES, text)?)?)
}

/// The failed services among service records (see [`parse_stopped_services_json`]); a
/// record whose `StartMode` is given and is not `Auto` is not expected to run.
pub fn stopped_services(records: Vec<Value>) -> Result<Vec<ServiceStatus>, PlatformError> {
    let mut out = Vec::new();
    for s in records {
        let name = str_field(&s, "Name");
        let state = str_field(&s, "State");
        if name.is_empty() {
            return Err(PlatformError::parse(SERVICES, "a service without a Name"));
        }
        let mode = str_field(&s, "StartMode");
        if !mode.is_empty() && !mode.eq_ignore_ascii_case("Auto") {
            continue;
        }
        if state.eq_ignore_ascii_case("Running") {
            continue;
        }
        let on_demand = bool_field(&s, "DelayedAutoStart") || bool_field(&s, "TriggerStart");
        let exit = u64_field(&s, "ExitCode").unwrap_or(0);
        if on_demand && (exit == 0 || exit == 1077) {
            continue;
        }
        out.push(ServiceStatus {
            name,
            active: false,
            state,
        });
    }
    out.sort_by_key(|s| s.name.to_lowercase());
    Ok(out)
}

#[cfg(test)]
mod watched_tests {
    use super::*;

    #[test]
    fn watched_services_pair_with_names() {
        let names: Vec<String> = ["spooler", "wuauserv", "NoSuchSvc"]
            .map(String::from)
            .into();
        let s = parse_services_json(
            &names,
            include_str!("../../tests/fixtures/windows/services-watched-win11.json"),
        )
        .unwrap();
        assert!(s[0].active && s[0].state == "Running");
        assert!(!s[1].active && s[1].state == "Stopped");
        assert_eq!(s[2].state, "not-found");
        // One service comes back as a single object, none as empty output.
        assert!(
            parse_services_json(&names[..1], r#"{"Name":"Spooler","Status":"Running"}"#).unwrap()
                [0]
            .active
        );
        assert_eq!(
            parse_services_json(&names[..1], "").unwrap()[0].state,
            "not-found"
        );
    }
}

// --- JSON helpers for PowerShell's output ---------------------------------------------------

/// Parses PowerShell's JSON; empty output (an empty pipeline) is `null`.
fn parse_json(source: &str, text: &str) -> Result<Value, PlatformError> {
    let t = text.trim_start_matches('\u{feff}').trim();
    if t.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(t).map_err(|e| PlatformError::parse(source, format!("invalid JSON: {e}")))
}

/// The objects of a pipeline: an array, one object on its own, or nothing.
pub fn items(source: &str, v: Value) -> Result<Vec<Value>, PlatformError> {
    let list = match v {
        Value::Null => Vec::new(),
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        other => {
            return Err(PlatformError::parse(
                source,
                format!("expected JSON objects, got {}", kind(&other)),
            ))
        }
    };
    if let Some(bad) = list.iter().find(|i| !i.is_object()) {
        return Err(PlatformError::parse(
            source,
            format!("expected JSON objects, got {}", kind(bad)),
        ));
    }
    Ok(list)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A field as trimmed text (numbers and booleans as written); missing or null → "".
fn str_field(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// A field as an unsigned number, also from numeric text.
pub(crate) fn u64_field(v: &Value, key: &str) -> Option<u64> {
    match v.get(key)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn bool_field(v: &Value, key: &str) -> bool {
    match v.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(s)) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1"),
        _ => false,
    }
}

/// A JSON string, or an array of them (a one-element array may arrive unwrapped).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.trim().to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(s)) if !s.trim().is_empty() => vec![s.trim().to_string()],
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// A PowerShell date as ms since the epoch: `/Date(1715644800000)/` (Windows PowerShell;
/// an offset suffix such as `+0200` is ignored, the number is already UTC), ISO 8601
/// (PowerShell 7), or an object whose `value` is one of those (a `DateTime` that carried
/// extra properties). Dates before 1970-01-02 (e.g. `DateTime.MinValue` for "never") are
/// treated as absent.
pub fn ps_date_ms(v: &Value) -> Option<i64> {
    let ms = match v {
        Value::String(s) => {
            let s = s.trim();
            if let Some(inner) = s
                .strip_prefix("/Date(")
                .or_else(|| s.strip_prefix("\\/Date("))
            {
                let end = inner.find(|c: char| !(c.is_ascii_digit() || c == '-'))?;
                let digits = &inner[..end];
                // "-62135596800000-0000": a sign can only lead.
                let (sign, digits) = match digits.strip_prefix('-') {
                    Some(d) => (-1, d),
                    None => (1, digits),
                };
                let n: i64 = digits.split('-').next()?.parse().ok()?;
                sign * n
            } else {
                parse_timestamp_ms(s)?
            }
        }
        Value::Object(o) => return o.get("value").and_then(ps_date_ms),
        // Already ms since the epoch (the COM reader, `winapi::windows_update`).
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    (ms > 86_400_000).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNINSTALL_JSON: &str = include_str!("../../tests/fixtures/windows/uninstall-win11.json");
    const WU_JSON: &str = include_str!("../../tests/fixtures/windows/windows-update-win11.json");
    const OS_JSON: &str = include_str!("../../tests/fixtures/windows/os-win11.json");
    const SVC_JSON: &str = include_str!("../../tests/fixtures/windows/stopped-services-win11.json");

    #[test]
    fn parses_installed_programs() {
        let p = parse_uninstall_json(UNINSTALL_JSON).unwrap();
        // 34 entries: 4 without a name, 3 named system components, OneDrive twice.
        assert_eq!(p.len(), 26, "{p:#?}");
        assert!(p
            .iter()
            .all(|p| p.source == "windows-registry" && !p.name.is_empty()));
        let ff = p
            .iter()
            .find(|p| p.name == "Mozilla Firefox (x64 en-US)")
            .unwrap();
        assert_eq!((ff.version.as_str(), ff.arch.as_str()), ("125.0.3", "x64"));
        let edge = p.iter().find(|p| p.name == "Microsoft Edge").unwrap();
        assert_eq!(edge.arch, "x86");
        let code = p
            .iter()
            .find(|p| p.name == "Microsoft Visual Studio Code (User)")
            .unwrap();
        assert_eq!(code.arch, "");
        assert_eq!(
            p.iter().filter(|p| p.name == "Microsoft OneDrive").count(),
            1
        );
        assert!(!p.iter().any(|p| p.name.contains("Minimum Runtime")));
        // SystemComponent = 0 is visible; names are trimmed.
        assert!(p
            .iter()
            .any(|p| p.name == "Microsoft Intune Management Extension"));
        assert!(p
            .iter()
            .any(|p| p.name == "Cisco Secure Client - AnyConnect VPN"));
        assert!(p
            .windows(2)
            .all(|w| w[0].name.to_lowercase() <= w[1].name.to_lowercase()));
    }

    #[test]
    fn uninstall_single_object_empty_and_garbage() {
        // One entry: ConvertTo-Json writes the object itself. DWORD versions are numbers.
        let one = "{\"DisplayName\":\"AT\\u0026T Client\",\"DisplayVersion\":42,\"Publisher\":null,\"InstallDate\":null,\"SystemComponent\":null,\"Hive\":\"HKLM64\"}\r\n";
        let p = parse_uninstall_json(one).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "AT&T Client");
        assert_eq!(p[0].version, "42");
        assert!(parse_uninstall_json("").unwrap().is_empty());
        assert!(parse_uninstall_json("\u{feff}[]").unwrap().is_empty());
        let err = parse_uninstall_json("Get-ItemProperty : Access is denied").unwrap_err();
        assert!(err.to_string().contains("uninstall registry"), "{err}");
        assert!(parse_uninstall_json("[1,2]").is_err());
    }

    #[test]
    fn parses_windows_update() {
        let p = parse_windows_update_json(WU_JSON).unwrap();
        assert_eq!(p.manager, "windows-update");
        assert_eq!(p.pending_count, 5);
        assert_eq!(p.pending_security_count, 2);
        let cu = &p.updates[0];
        assert_eq!(
            cu.name,
            "2024-05 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5037771)"
        );
        assert!(cu.security);
        assert_eq!(cu.origin, "KB5037771");
        // 2024-05-14T00:00:00Z
        assert_eq!(cu.since_ms, Some(1_715_644_800_000));
        let defender = p
            .updates
            .iter()
            .find(|u| u.name.starts_with("Security Intelligence"))
            .unwrap();
        assert!(
            !defender.security,
            "definition updates are not security updates"
        );
        let driver = p
            .updates
            .iter()
            .find(|u| u.name.starts_with("Intel"))
            .unwrap();
        assert_eq!(driver.origin, "");
        assert_eq!(p.oldest_security_since_ms, Some(1_715_644_800_000));
        assert_eq!(p.last_refresh_ms, Some(1_715_839_951_000));
        assert_eq!(p.last_install_ms, Some(1_712_718_312_000));
        assert!(!p.reboot_required);
    }

    #[test]
    fn windows_update_variants() {
        // PowerShell 7 dates, one update with unwrapped arrays, a severity without the
        // Security Updates category, a never-run install date, reboot pending.
        let t = r#"{"Updates":{"Title":"Some fix","KBArticleIDs":"5030000","MsrcSeverity":"Important","Categories":"Updates","LastDeploymentChangeTime":"2024-05-14T00:00:00"},"RebootRequired":true,"LastSearchSuccessDate":"2024-05-16T08:12:31+02:00","LastInstallationSuccessDate":"\/Date(-62135596800000)\/"}"#;
        let p = parse_windows_update_json(t).unwrap();
        assert_eq!(p.pending_count, 1);
        assert!(p.updates[0].security);
        assert_eq!(p.updates[0].origin, "KB5030000");
        assert_eq!(p.updates[0].since_ms, Some(1_715_644_800_000));
        assert_eq!(p.last_refresh_ms, Some(1_715_839_951_000));
        assert_eq!(p.last_install_ms, None);
        assert!(p.reboot_required);
        // Nothing pending.
        let p = parse_windows_update_json(r#"{"Updates":[],"RebootRequired":false,"LastSearchSuccessDate":null,"LastInstallationSuccessDate":null}"#).unwrap();
        assert_eq!((p.pending_count, p.oldest_security_since_ms), (0, None));
        assert!(parse_windows_update_json("").is_err());
        assert!(parse_windows_update_json("Exception from HRESULT: 0x8024402C").is_err());
    }

    #[test]
    fn powershell_dates() {
        let d = |s: &str| ps_date_ms(&Value::String(s.into()));
        assert_eq!(d("/Date(1715644800000)/"), Some(1_715_644_800_000));
        assert_eq!(d("/Date(1715644800000+0200)/"), Some(1_715_644_800_000));
        assert_eq!(d("2024-05-14T00:00:00Z"), Some(1_715_644_800_000));
        assert_eq!(
            d("2024-05-14T02:00:00.0000000+02:00"),
            Some(1_715_644_800_000)
        );
        assert_eq!(d("/Date(-62135596800000)/"), None);
        assert_eq!(d("soon"), None);
        let obj: Value = serde_json::from_str(r#"{"value":"\/Date(1715644800000)\/","DisplayHint":2,"DateTime":"Tuesday, May 14, 2024 2:00:00 AM"}"#).unwrap();
        assert_eq!(ps_date_ms(&obj), Some(1_715_644_800_000));
        assert_eq!(ps_date_ms(&Value::Null), None);
    }

    /// An SMBIOS structure: type, formatted fields after the 4-byte header, strings.
    fn structure(kind: u8, fields: &[u8], strings: &[&str]) -> Vec<u8> {
        let mut v = vec![kind, 4 + fields.len() as u8, 0, 0];
        v.extend_from_slice(fields);
        if strings.is_empty() {
            v.extend_from_slice(&[0, 0]);
        } else {
            for s in strings {
                v.extend_from_slice(s.as_bytes());
                v.push(0);
            }
            v.push(0);
        }
        v
    }

    /// A table laid out as the SMBIOS 3.x specification says (no real machine's bytes:
    /// the real API's output is read in `winapi`'s tests under Wine).
    fn rsmb(structures: &[Vec<u8>]) -> Vec<u8> {
        let table: Vec<u8> = structures.concat();
        let mut v = vec![0, 3, 4, 0];
        v.extend_from_slice(&(table.len() as u32).to_le_bytes());
        v.extend_from_slice(&table);
        v
    }

    #[test]
    fn hardware_from_smbios_and_the_registry() {
        // Type 0: vendor (1), version (2), segment, date (3). Type 1: manufacturer (1),
        // product (2), no version (0), serial (3); an SMBIOS string is never empty.
        let bios = structure(0, &[1, 2, 0, 0, 3], &["Dell Inc.", "1.18.0", "03/14/2024"]);
        let system = structure(1, &[1, 2, 0, 3], &["Dell Inc.", "Latitude 7440", "7HXK8Z3"]);
        let table = rsmb(&[bios, system.clone(), structure(127, &[], &[])]);
        let s = smbios_system(&table);
        assert_eq!(s.bios_vendor, "Dell Inc.");
        assert_eq!(s.bios_version, "1.18.0");
        assert_eq!(
            (
                s.manufacturer.as_str(),
                s.product.as_str(),
                s.serial.as_str()
            ),
            ("Dell Inc.", "Latitude 7440", "7HXK8Z3")
        );
        let raw = HardwareRaw {
            cpu_name: "13th Gen Intel(R) Core(TM) i7-1365U".into(),
            cores: 10,
            threads: 12,
            memory_bytes: 16_856_113_152,
            smbios: table,
            ..Default::default()
        };
        let (h, errors) = hardware_from(raw);
        assert!(errors.is_empty());
        assert_eq!(
            (h.vendor.as_str(), h.model.as_str(), h.serial.as_str()),
            ("Dell Inc.", "Latitude 7440", "7HXK8Z3")
        );
        assert_eq!(
            (h.cpu_cores, h.cpu_threads, h.memory_bytes),
            (10, 12, 16_856_113_152)
        );

        // No SMBIOS (refused, or Wine without DMI): the registry's copy, no serial; an OEM
        // placeholder serial is no serial.
        let mut bios = serde_json::Map::new();
        bios.insert("SystemManufacturer".into(), "LENOVO".into());
        bios.insert("SystemProductName".into(), "21HM".into());
        let (h, _) = hardware_from(HardwareRaw {
            bios,
            ..Default::default()
        });
        assert_eq!(
            (h.vendor.as_str(), h.model.as_str(), h.serial.as_str()),
            ("LENOVO", "21HM", "")
        );
        let placeholder = structure(
            1,
            &[1, 2, 0, 3],
            &["ASUS", "PN51", "To Be Filled By O.E.M."],
        );
        let (h, _) = hardware_from(HardwareRaw {
            smbios: rsmb(&[placeholder]),
            ..Default::default()
        });
        assert_eq!((h.vendor.as_str(), h.serial.as_str()), ("ASUS", ""));

        // Damage: a length that overruns, a structure whose length is below its header,
        // strings without their end; what was read before stays, nothing panics.
        let mut cut = rsmb(std::slice::from_ref(&system));
        cut.truncate(cut.len() - 3);
        assert_eq!(smbios_system(&cut).manufacturer, "");
        let mut bad = rsmb(&[system.clone(), vec![1, 2, 0, 0]]);
        bad[4] = 0xff;
        assert_eq!(smbios_system(&bad).product, "Latitude 7440");
        assert_eq!(smbios_system(&[1, 2, 3]), SmbiosSystem::default());
        // A string index past the strings is no string.
        let wild = structure(1, &[9, 2, 0, 0], &["x", "y"]);
        assert_eq!(smbios_system(&rsmb(&[wild])).manufacturer, "");
    }

    #[test]
    fn smbios_fixture() {
        let s = smbios_system(include_bytes!(
            "../../tests/fixtures/windows/smbios-rsmb.bin"
        ));
        assert_eq!(
            (
                s.manufacturer.as_str(),
                s.product.as_str(),
                s.serial.as_str()
            ),
            ("Dell Inc.", "Latitude 7440", "7HXK8Z3")
        );
        assert_eq!(
            (s.bios_vendor.as_str(), s.bios_version.as_str()),
            ("Dell Inc.", "1.18.0")
        );
    }

    #[test]
    fn cpu_busy_from_two_samples() {
        let a = CpuTimes {
            idle: 1_000,
            kernel: 3_000,
            user: 1_000,
        };
        // 1000 units passed in kernel+user (kernel includes idle), 250 of them idle.
        let b = CpuTimes {
            idle: 1_250,
            kernel: 3_600,
            user: 1_400,
        };
        assert_eq!(cpu_busy_ratio(a, b), Some(0.75));
        assert_eq!(cpu_busy_ratio(a, a), None);
        assert_eq!(cpu_busy_ratio(b, a), None);
    }

    #[test]
    fn os_from_the_registry() {
        // Windows 11 23H2 Enterprise: ProductName still says Windows 10.
        let v = serde_json::json!({"ProductName": "Windows 10 Enterprise", "EditionID": "Enterprise",
            "CurrentBuildNumber": "22631", "UBR": 3447, "DisplayVersion": "23H2",
            "CurrentMajorVersionNumber": 10, "CurrentMinorVersionNumber": 0, "CurrentVersion": "6.3"});
        let o = os_from_registry(&v).unwrap();
        assert_eq!(o.name, "Microsoft Windows 11 Enterprise");
        assert_eq!(o.version, "10.0.22631");
        assert_eq!(o.build, "22631.3447");
        assert_eq!(o.pretty_name, "Microsoft Windows 11 Enterprise 23H2");
        // The same as the Win32_OperatingSystem source says, so standards match either.
        assert_eq!(o, parse_os_json(OS_JSON).unwrap());
        // Windows 10 22H2 stays Windows 10; Server 2016 has no DisplayVersion.
        let v = serde_json::json!({"ProductName": "Windows 10 Pro", "CurrentBuildNumber": "19045",
            "UBR": 4291, "DisplayVersion": "22H2", "CurrentMajorVersionNumber": 10, "CurrentMinorVersionNumber": 0});
        assert_eq!(
            os_from_registry(&v).unwrap().name,
            "Microsoft Windows 10 Pro"
        );
        let v = serde_json::json!({"ProductName": "Windows Server 2016 Standard", "CurrentBuildNumber": "14393",
            "UBR": 6897, "CurrentMajorVersionNumber": 10, "CurrentMinorVersionNumber": 0});
        let o = os_from_registry(&v).unwrap();
        assert_eq!(
            (o.name.as_str(), o.version.as_str(), o.pretty_name.as_str()),
            (
                "Microsoft Windows Server 2016 Standard",
                "10.0.14393",
                "Microsoft Windows Server 2016 Standard"
            )
        );
        // Windows 8.1 and older: the legacy CurrentVersion.
        let v = serde_json::json!({"ProductName": "Windows 8.1 Pro", "CurrentBuildNumber": "9600", "CurrentVersion": "6.3"});
        assert_eq!(os_from_registry(&v).unwrap().version, "6.3.9600");
        assert!(os_from_registry(&serde_json::json!({"ProductName": "Windows 10 Pro"})).is_err());
    }

    #[test]
    fn parses_os() {
        let o = parse_os_json(OS_JSON).unwrap();
        assert_eq!(o.family, "windows");
        assert_eq!(o.name, "Microsoft Windows 11 Enterprise");
        assert_eq!(o.version, "10.0.22631");
        assert_eq!(o.build, "22631.3447");
        assert_eq!(o.pretty_name, "Microsoft Windows 11 Enterprise 23H2");
        // Windows Server 2016 has no DisplayVersion.
        let t = r#"{"Caption":"Microsoft Windows Server 2016 Standard","Version":"10.0.14393","BuildNumber":"14393","OSArchitecture":"64-bit","UBR":6897,"DisplayVersion":null}"#;
        let o = parse_os_json(t).unwrap();
        assert_eq!(o.build, "14393.6897");
        assert_eq!(o.pretty_name, "Microsoft Windows Server 2016 Standard");
        assert!(parse_os_json("{}").is_err());
        assert!(parse_os_json("").is_err());
    }

    #[test]
    fn parses_stopped_services() {
        let s = parse_stopped_services_json(SVC_JSON).unwrap();
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["IntelAudioService", "Spooler"]);
        assert!(s.iter().all(|s| !s.active && s.state == "Stopped"));
        // One service: a bare object. None: empty output.
        let one = r#"{"Name":"MapsBroker","DisplayName":"Downloaded Maps Manager","State":"Stopped","ExitCode":1067,"DelayedAutoStart":true,"TriggerStart":false}"#;
        assert_eq!(parse_stopped_services_json(one).unwrap().len(), 1);
        assert!(parse_stopped_services_json("").unwrap().is_empty());
        assert!(parse_stopped_services_json("\"Stopped\"").is_err());
        // The SCM lists every service: a manual or disabled one that is stopped is fine.
        let all: Vec<Value> = serde_json::from_str(
            r#"[{"Name":"Spooler","State":"Stopped","StartMode":"Auto","ExitCode":0},
            {"Name":"Fax","State":"Stopped","StartMode":"Manual","ExitCode":0},
            {"Name":"RemoteRegistry","State":"Stopped","StartMode":"Disabled","ExitCode":1077}]"#,
        )
        .unwrap();
        let s = stopped_services(all).unwrap();
        assert_eq!(
            s.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["Spooler"]
        );
    }

    #[test]
    fn ole_dates_and_the_com_readers_object() {
        // 2024-05-14 00:00 UTC is OLE day 45426.
        assert_eq!(ole_date_ms(45_426.0), Some(1_715_644_800_000));
        assert_eq!(ole_date_ms(45_426.5), Some(1_715_644_800_000 + 43_200_000));
        // DATE 0 (1899-12-30) is the API's "never"; NaN is nothing.
        assert_eq!(ole_date_ms(0.0), None);
        assert_eq!(ole_date_ms(f64::NAN), None);
        // The object winapi::windows_update builds: dates already in ms.
        let v = serde_json::json!({"Updates": [{"Title": "2024-05 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5037771)",
            "KBArticleIDs": ["5037771"], "MsrcSeverity": "Critical", "Categories": ["Security Updates"],
            "LastDeploymentChangeTime": 1_715_644_800_000i64}],
            "RebootRequired": true, "LastSearchSuccessDate": 1_715_700_000_000i64, "LastInstallationSuccessDate": null});
        let p = windows_update_level(&v).unwrap();
        assert_eq!((p.pending_count, p.pending_security_count), (1, 1));
        assert_eq!(p.oldest_security_since_ms, Some(1_715_644_800_000));
        assert_eq!(p.updates[0].origin, "KB5037771");
        assert_eq!(p.last_refresh_ms, Some(1_715_700_000_000));
        assert_eq!(p.last_install_ms, None);
        assert!(p.reboot_required);
    }
}
