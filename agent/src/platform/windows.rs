//! Windows facts through Windows PowerShell 5.1 (`powershell.exe`, present on every
//! supported Windows): each source is a read-only script whose result is piped to
//! `ConvertTo-Json -Depth 4 -Compress`, and a pure parser of that JSON.
//!
//! Notes on the JSON Windows PowerShell writes, which the parsers rely on:
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
use super::{cmd, PlatformError};

const UNINSTALL: &str = "uninstall registry";
const WINDOWS_UPDATE: &str = "Windows Update";
const HARDWARE: &str = "Win32_ComputerSystem/Win32_BIOS/Win32_Processor";
const OS: &str = "Win32_OperatingSystem";
const SERVICES: &str = "Win32_Service";

/// Installed programs as Programs and Features shows them: the machine's 64-bit and
/// 32-bit (WOW6432Node) uninstall keys, and those of every loaded user hive under
/// `HKEY_USERS` (the agent runs as LocalSystem, whose own HKCU holds nothing useful;
/// HKU covers the logged-on users' per-user installs). `Hive` tells the parser which
/// view each entry came from.
pub const UNINSTALL_SCRIPT: &str = r"
$ErrorActionPreference = 'Stop';
$views = @(
  @{ Hive = 'HKLM64'; Path = 'HKLM:\Software\Microsoft\Windows\CurrentVersion\Uninstall\*' },
  @{ Hive = 'HKLM32'; Path = 'HKLM:\Software\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*' },
  @{ Hive = 'HKU'; Path = 'Registry::HKEY_USERS\*\Software\Microsoft\Windows\CurrentVersion\Uninstall\*' }
);
foreach ($v in $views) {
  Get-ItemProperty -Path $v.Path -ErrorAction SilentlyContinue |
    Select-Object DisplayName, DisplayVersion, Publisher, InstallDate, SystemComponent,
      @{ Name = 'Hive'; Expression = { $v.Hive } }
}
";

/// Pending updates from the Windows Update Agent's COM API. `Online = $false` searches
/// the catalogue from the last scan Windows itself made (like `dnf -C`: no network, and
/// seconds instead of minutes). Dates from the API are UTC but come back without a kind,
/// so they are marked UTC before serialising. Reboot pending: Windows Update's
/// `RebootRequired` key or component servicing's `RebootPending`.
pub const WINDOWS_UPDATE_SCRIPT: &str = r"
$ErrorActionPreference = 'Stop';
function Utc($d) { if ($d -is [DateTime]) { [DateTime]::SpecifyKind($d, 'Utc') } else { $null } };
$searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher();
$searcher.Online = $false;
$result = $searcher.Search('IsInstalled=0 and IsHidden=0');
$updates = @(foreach ($u in $result.Updates) {
  [pscustomobject]@{
    Title = $u.Title;
    KBArticleIDs = @($u.KBArticleIDs | ForEach-Object { [string]$_ });
    MsrcSeverity = $u.MsrcSeverity;
    Categories = @($u.Categories | ForEach-Object { $_.Name });
    LastDeploymentChangeTime = Utc $u.LastDeploymentChangeTime
  }
});
$au = (New-Object -ComObject Microsoft.Update.AutoUpdate).Results;
[pscustomobject]@{
  Updates = $updates;
  RebootRequired = (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') -or
    (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending');
  LastSearchSuccessDate = Utc $au.LastSearchSuccessDate;
  LastInstallationSuccessDate = Utc $au.LastInstallationSuccessDate
}
";

/// Vendor, model and memory (Win32_ComputerSystem), serial (Win32_BIOS) and every CPU
/// socket (Win32_Processor).
pub const HARDWARE_SCRIPT: &str = r"
$ErrorActionPreference = 'Stop';
$cs = Get-CimInstance -ClassName Win32_ComputerSystem;
$bios = Get-CimInstance -ClassName Win32_BIOS;
[pscustomobject]@{
  Manufacturer = $cs.Manufacturer;
  Model = $cs.Model;
  TotalPhysicalMemory = $cs.TotalPhysicalMemory;
  SerialNumber = $bios.SerialNumber;
  Processors = @(Get-CimInstance -ClassName Win32_Processor | Select-Object Name, NumberOfCores, NumberOfLogicalProcessors)
}
";

/// Edition and version (Win32_OperatingSystem) plus the update revision (UBR) and
/// feature-update name (DisplayVersion, e.g. 23H2), which only the registry has.
pub const OS_SCRIPT: &str = r"
$ErrorActionPreference = 'Stop';
$os = Get-CimInstance -ClassName Win32_OperatingSystem;
$cv = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion';
[pscustomobject]@{
  Caption = $os.Caption;
  Version = $os.Version;
  BuildNumber = $os.BuildNumber;
  OSArchitecture = $os.OSArchitecture;
  UBR = $cv.UBR;
  DisplayVersion = $cv.DisplayVersion
}
";

/// Automatic services that are not running, with their exit code and whether they are
/// delayed-start or trigger-start (a `TriggerInfo` key; WMI does not expose triggers).
pub const STOPPED_SERVICES_SCRIPT: &str = r"
$ErrorActionPreference = 'Stop';
Get-CimInstance -ClassName Win32_Service -Filter 'StartMode=''Auto'' AND State<>''Running''' |
  ForEach-Object {
    [pscustomobject]@{
      Name = $_.Name;
      DisplayName = $_.DisplayName;
      State = $_.State;
      ExitCode = $_.ExitCode;
      DelayedAutoStart = $_.DelayedAutoStart;
      TriggerStart = Test-Path ('HKLM:\SYSTEM\CurrentControlSet\Services\' + $_.Name + '\TriggerInfo')
    }
  }
";

/// The state of named services. Names come from the central settings, so each is quoted
/// as a PowerShell literal (`'` doubled); `Status` is forced to its name because Windows
/// PowerShell 5.1 serialises enums as numbers.
pub fn watched_services_script(names: &[String]) -> String {
    let quoted: Vec<String> = names
        .iter()
        .map(|n| format!("'{}'", n.replace('\'', "''")))
        .collect();
    format!(
        "Get-Service -Name {} -ErrorAction SilentlyContinue | Select-Object Name, @{{ Name = 'Status'; Expression = {{ [string]$_.Status }} }}",
        quoted.join(", ")
    )
}

/// Whether Windows PowerShell is reachable (always, on Windows).
pub fn present() -> bool {
    cmd::on_path("powershell.exe")
}

/// The `-Command` argument for `script`: UTF-8 output, the script in a script block, and
/// its output piped to `ConvertTo-Json`. Lines are joined with spaces (the scripts end
/// each statement with `;`), so the command line holds a single line.
pub fn command_line(script: &str) -> String {
    let body: Vec<&str> = script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    format!(
        "[Console]::OutputEncoding = [System.Text.Encoding]::UTF8; & {{ {} }} | ConvertTo-Json -Depth 4 -Compress",
        body.join(" ")
    )
}

/// Runs `powershell.exe -NoProfile -NonInteractive -Command <script | ConvertTo-Json>`.
async fn powershell(script: &str) -> Result<String, PlatformError> {
    let command = command_line(script);
    cmd::run_ok(
        "powershell.exe",
        &["-NoProfile", "-NonInteractive", "-Command", &command],
        std::time::Duration::from_secs(120),
    )
    .await
}

/// Installed programs from the uninstall registry keys ([`UNINSTALL_SCRIPT`]).
pub async fn read_software() -> Result<Vec<Package>, PlatformError> {
    parse_uninstall_json(&powershell(UNINSTALL_SCRIPT).await?)
}

/// Pending updates, last scan and install, and the reboot flag ([`WINDOWS_UPDATE_SCRIPT`]).
pub async fn read_patches() -> Result<PatchLevel, PlatformError> {
    parse_windows_update_json(&powershell(WINDOWS_UPDATE_SCRIPT).await?)
}

/// Vendor, model, serial, CPU and memory ([`HARDWARE_SCRIPT`]).
pub async fn read_hardware() -> Result<Hardware, PlatformError> {
    parse_hardware_json(&powershell(HARDWARE_SCRIPT).await?)
}

/// Edition, version and build ([`OS_SCRIPT`]).
pub async fn read_os() -> Result<OsInfo, PlatformError> {
    parse_os_json(&powershell(OS_SCRIPT).await?)
}

/// Automatic services that are not running and did not stop on purpose
/// ([`STOPPED_SERVICES_SCRIPT`], [`parse_stopped_services_json`]).
pub async fn read_stopped_services() -> Result<Vec<ServiceStatus>, PlatformError> {
    parse_stopped_services_json(&powershell(STOPPED_SERVICES_SCRIPT).await?)
}

/// The watched services' states ([`watched_services_script`]).
pub async fn read_watched_services(names: &[String]) -> Result<Vec<ServiceStatus>, PlatformError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    parse_services_json(names, &powershell(&watched_services_script(names)).await?)
}

/// Pairs each watched name with `Get-Service`'s answer (case-insensitive, as Windows
/// service names are); a service that does not exist is reported as `not-found`.
pub fn parse_services_json(
    names: &[String],
    text: &str,
) -> Result<Vec<ServiceStatus>, PlatformError> {
    let found = items(SERVICES, parse_json(SERVICES, text)?)?;
    Ok(names
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
        .collect())
}

/// Parses uninstall entries into packages (source `windows-registry`). Entries without a
/// `DisplayName` (leftover keys such as `AddressBook`) and those with `SystemComponent=1`
/// (hidden from Programs and Features, e.g. the VC++ minimum runtimes under their bundle)
/// are skipped. Arch follows the registry view: `x64` for the 64-bit key, `x86` for
/// WOW6432Node, empty for per-user entries. The same name and version seen twice (two
/// users, or both views) is kept once, first view wins. Sorted by name.
pub fn parse_uninstall_json(text: &str) -> Result<Vec<Package>, PlatformError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for e in items(UNINSTALL, parse_json(UNINSTALL, text)?)? {
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
    Ok(out)
}

/// Parses the Windows Update object into a patch level (manager `windows-update`). An
/// update is a security update when it is classified "Security Updates" or carries an
/// MSRC severity; its `since_ms` is `LastDeploymentChangeTime` (when Microsoft published
/// this revision), its origin the KB number(s). `last_refresh_ms` is the last successful
/// scan, `last_install_ms` the last successful installation.
pub fn parse_windows_update_json(text: &str) -> Result<PatchLevel, PlatformError> {
    let v = parse_json(WINDOWS_UPDATE, text)?;
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
        bool_field(&v, "RebootRequired"),
    ))
}

/// Parses the hardware object. Cores and threads are summed over sockets; the CPU model
/// is the first socket's name with its padding squeezed out. OEM placeholder serials
/// ("To Be Filled By O.E.M.", "Default string", …) become empty.
pub fn parse_hardware_json(text: &str) -> Result<Hardware, PlatformError> {
    let v = parse_json(HARDWARE, text)?;
    if !v.is_object() {
        return Err(PlatformError::parse(HARDWARE, "expected one JSON object"));
    }
    let cpus = items(
        HARDWARE,
        v.get("Processors").cloned().unwrap_or(Value::Null),
    )?;
    let sum = |key: &str| -> u32 {
        cpus.iter()
            .filter_map(|c| u64_field(c, key))
            .sum::<u64>()
            .min(u32::MAX as u64) as u32
    };
    let serial = str_field(&v, "SerialNumber");
    Ok(Hardware {
        vendor: str_field(&v, "Manufacturer"),
        model: str_field(&v, "Model"),
        serial: if is_placeholder_serial(&serial) {
            String::new()
        } else {
            serial
        },
        cpu_model: cpus
            .first()
            .map(|c| {
                str_field(c, "Name")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
        cpu_cores: sum("NumberOfCores"),
        cpu_threads: sum("NumberOfLogicalProcessors"),
        memory_bytes: u64_field(&v, "TotalPhysicalMemory").unwrap_or(0),
    })
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

/// Parses the OS object: family `windows`, name = the edition caption, version
/// `10.0.22631`, build `22631.3447` (build number and UBR), pretty name with the feature
/// update (`Microsoft Windows 11 Enterprise 23H2`).
pub fn parse_os_json(text: &str) -> Result<OsInfo, PlatformError> {
    let v = parse_json(OS, text)?;
    if !v.is_object() {
        return Err(PlatformError::parse(OS, "expected one JSON object"));
    }
    let name = str_field(&v, "Caption");
    let version = str_field(&v, "Version");
    if name.is_empty() && version.is_empty() {
        return Err(PlatformError::parse(
            OS,
            "neither Caption nor Version present",
        ));
    }
    let mut build = str_field(&v, "BuildNumber");
    if build.is_empty() {
        build = version.rsplit('.').next().unwrap_or_default().to_string();
    }
    if let Some(ubr) = u64_field(&v, "UBR") {
        build = format!("{build}.{ubr}");
    }
    let display = str_field(&v, "DisplayVersion");
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
    let mut out = Vec::new();
    for s in items(SERVICES, parse_json(SERVICES, text)?)? {
        let name = str_field(&s, "Name");
        let state = str_field(&s, "State");
        if name.is_empty() {
            return Err(PlatformError::parse(SERVICES, "a service without a Name"));
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

    #[test]
    fn watched_names_are_quoted_literals() {
        let script =
            watched_services_script(&["Spooler".into(), "x'; Remove-Item C:\\ -Recurse; '".into()]);
        assert!(script.contains("'Spooler', 'x''; Remove-Item"), "{script}");
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
        _ => return None,
    };
    (ms > 86_400_000).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNINSTALL_JSON: &str = include_str!("../../tests/fixtures/windows/uninstall-win11.json");
    const WU_JSON: &str = include_str!("../../tests/fixtures/windows/windows-update-win11.json");
    const HW_JSON: &str = include_str!("../../tests/fixtures/windows/hardware-win11.json");
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

    #[test]
    fn parses_hardware() {
        let h = parse_hardware_json(HW_JSON).unwrap();
        assert_eq!(h.vendor, "Dell Inc.");
        assert_eq!(h.model, "Latitude 7440");
        assert_eq!(h.serial, "7HXK8Z3");
        assert_eq!(h.cpu_model, "13th Gen Intel(R) Core(TM) i7-1365U");
        assert_eq!((h.cpu_cores, h.cpu_threads), (10, 12));
        assert_eq!(h.memory_bytes, 16_856_113_152);
        // Two sockets as a list, a padded CPU name, a placeholder serial.
        let t = r#"{"Manufacturer":"HPE","Model":"ProLiant DL380 Gen10","TotalPhysicalMemory":"274877906944","SerialNumber":"To Be Filled By O.E.M.","Processors":[{"Name":"Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz   ","NumberOfCores":20,"NumberOfLogicalProcessors":40},{"Name":"Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz","NumberOfCores":20,"NumberOfLogicalProcessors":40}]}"#;
        let h = parse_hardware_json(t).unwrap();
        assert_eq!((h.cpu_cores, h.cpu_threads), (40, 80));
        assert_eq!(h.cpu_model, "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz");
        assert_eq!(h.serial, "");
        assert_eq!(h.memory_bytes, 274_877_906_944);
        // A single socket may arrive as an object.
        let t = r#"{"Manufacturer":"LENOVO","Model":"21HM","TotalPhysicalMemory":1,"SerialNumber":"PF4ABCDE","Processors":{"Name":"AMD Ryzen 7 PRO 7840U","NumberOfCores":8,"NumberOfLogicalProcessors":16}}"#;
        assert_eq!(parse_hardware_json(t).unwrap().cpu_threads, 16);
        assert!(parse_hardware_json("[]").is_err());
        assert!(parse_hardware_json("{not json").is_err());
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
    }

    #[test]
    fn scripts_survive_the_command_line() {
        for s in [
            UNINSTALL_SCRIPT,
            WINDOWS_UPDATE_SCRIPT,
            HARDWARE_SCRIPT,
            OS_SCRIPT,
            STOPPED_SERVICES_SCRIPT,
        ] {
            assert!(
                !s.contains('"'),
                "double quotes get mangled on the command line"
            );
            let c = command_line(s);
            assert!(!c.contains('\n'));
            assert!(c.ends_with("} | ConvertTo-Json -Depth 4 -Compress"), "{c}");
            assert!(c.starts_with("[Console]::OutputEncoding"));
        }
    }
}
