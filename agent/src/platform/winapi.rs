//! The thin half of the Windows sources (DESIGN.md §4): calls into Windows' own APIs
//! (registry, kernel32, the service control manager, netapi32) through `windows-sys`, each
//! returning the raw values as Windows gives them. Everything that interprets them is a
//! pure function in [`super::windows`], tested on recorded data on every OS.
//!
//! Registry values come back as JSON values (`REG_SZ` → string, `REG_DWORD`/`REG_QWORD` →
//! number, `REG_MULTI_SZ` → array) keyed by value name: the same shape PowerShell's
//! `Get-ItemProperty` serialised, so one mapper serves both and the recorded PowerShell
//! outputs stay valid fixtures.
//!
//! Nothing here starts a process: one fact costs a few system calls, not a PowerShell
//! start (hundreds of ms and tens of MB; README "Windows").

#![cfg(windows)]

use std::ffi::OsString;
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::ptr::{null, null_mut};

use serde_json::{Map, Value};
use windows_sys::Win32::Foundation::{
    ERROR_MORE_DATA, ERROR_NO_MORE_ITEMS, ERROR_SUCCESS, FILETIME,
};
use windows_sys::Win32::System::Registry::{
    RegCloseKey, RegEnumKeyExW, RegEnumValueW, RegOpenKeyExW, HKEY, HKEY_LOCAL_MACHINE, HKEY_USERS,
    KEY_READ, KEY_WOW64_32KEY, KEY_WOW64_64KEY, REG_DWORD, REG_EXPAND_SZ, REG_MULTI_SZ, REG_QWORD,
    REG_SZ,
};

use super::PlatformError;

/// `s` as a NUL-terminated UTF-16 string.
pub fn wide(s: &str) -> Vec<u16> {
    std::ffi::OsStr::new(s)
        .encode_wide()
        .chain(std::iter::once(0))
        .collect()
}

/// UTF-16 up to the first NUL (or the end), lossily.
pub fn from_wide(w: &[u16]) -> String {
    let end = w.iter().position(|&c| c == 0).unwrap_or(w.len());
    OsString::from_wide(&w[..end])
        .to_string_lossy()
        .into_owned()
}

fn win_error(what: &str, code: u32) -> PlatformError {
    PlatformError::Failed {
        command: what.to_string(),
        status: Some(code as i32),
        stderr: std::io::Error::from_raw_os_error(code as i32).to_string(),
    }
}

/// The last Win32 error of a call that returned FALSE.
pub fn last_error(what: &str) -> PlatformError {
    let e = std::io::Error::last_os_error();
    PlatformError::Failed {
        command: what.to_string(),
        status: e.raw_os_error(),
        stderr: e.to_string(),
    }
}

// --- Registry --------------------------------------------------------------------------

/// Which registry view to open (64-bit Windows keeps 32-bit programs' HKLM\Software under
/// WOW6432Node).
#[derive(Debug, Clone, Copy)]
pub enum View {
    Native,
    Bits64,
    Bits32,
}

/// An open registry key, closed on drop.
pub struct Key(HKEY);

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: self.0 was opened by RegOpenKeyExW and is closed once.
        unsafe {
            RegCloseKey(self.0);
        }
    }
}

impl Key {
    fn open_in(parent: HKEY, path: &str, view: View) -> Result<Option<Key>, PlatformError> {
        let sam = KEY_READ
            | match view {
                View::Native => 0,
                View::Bits64 => KEY_WOW64_64KEY,
                View::Bits32 => KEY_WOW64_32KEY,
            };
        let p = wide(path);
        let mut h: HKEY = null_mut();
        // SAFETY: p is NUL-terminated and outlives the call; h receives the handle.
        let rc = unsafe { RegOpenKeyExW(parent, p.as_ptr(), 0, sam, &mut h) };
        match rc {
            ERROR_SUCCESS => Ok(Some(Key(h))),
            2 | 3 => Ok(None), // ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND
            code => Err(win_error(&format!("RegOpenKeyExW {path}"), code)),
        }
    }

    /// `HKEY_LOCAL_MACHINE\path`; `None` when the key does not exist.
    pub fn local_machine(path: &str, view: View) -> Result<Option<Key>, PlatformError> {
        Key::open_in(HKEY_LOCAL_MACHINE, path, view)
    }

    /// `HKEY_USERS\path` (the loaded user hives, by SID).
    pub fn users(path: &str) -> Result<Option<Key>, PlatformError> {
        Key::open_in(HKEY_USERS, path, View::Native)
    }

    /// A subkey of this key, in the view this key was opened in.
    pub fn open(&self, path: &str) -> Result<Option<Key>, PlatformError> {
        Key::open_in(self.0, path, View::Native)
    }

    /// The names of the subkeys.
    pub fn subkeys(&self) -> Result<Vec<String>, PlatformError> {
        let mut out = Vec::new();
        let mut name = vec![0u16; 256];
        for i in 0.. {
            let mut len = name.len() as u32;
            // SAFETY: name holds len UTF-16 units; the optional outputs are null.
            let rc = unsafe {
                RegEnumKeyExW(
                    self.0,
                    i,
                    name.as_mut_ptr(),
                    &mut len,
                    null(),
                    null_mut(),
                    null_mut(),
                    null_mut(),
                )
            };
            match rc {
                ERROR_SUCCESS => out.push(from_wide(&name[..len as usize])),
                ERROR_NO_MORE_ITEMS => break,
                code => return Err(win_error("RegEnumKeyExW", code)),
            }
        }
        Ok(out)
    }

    /// Every value of the key as JSON (see the module's note); types other than strings
    /// and numbers (binary) are left out.
    pub fn values(&self) -> Result<Map<String, Value>, PlatformError> {
        let mut out = Map::new();
        // Value names are at most 16383 characters.
        let mut name = vec![0u16; 16384];
        let mut data = vec![0u8; 1024];
        let mut i = 0;
        loop {
            let mut name_len = name.len() as u32;
            let mut data_len = data.len() as u32;
            let mut kind = 0u32;
            // SAFETY: the buffers hold the lengths passed; Windows writes within them.
            let rc = unsafe {
                RegEnumValueW(
                    self.0,
                    i,
                    name.as_mut_ptr(),
                    &mut name_len,
                    null(),
                    &mut kind,
                    data.as_mut_ptr(),
                    &mut data_len,
                )
            };
            match rc {
                ERROR_SUCCESS => {}
                ERROR_MORE_DATA => {
                    data.resize((data_len as usize).max(data.len() * 2), 0);
                    continue;
                }
                ERROR_NO_MORE_ITEMS => break,
                code => return Err(win_error("RegEnumValueW", code)),
            }
            i += 1;
            let bytes = &data[..data_len as usize];
            let v = match kind {
                REG_SZ | REG_EXPAND_SZ => Value::String(utf16_bytes(bytes)),
                REG_MULTI_SZ => Value::Array(
                    utf16_bytes_all(bytes)
                        .split('\0')
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                ),
                REG_DWORD if bytes.len() >= 4 => Value::from(u32::from_le_bytes(
                    bytes[..4].try_into().unwrap_or_default(),
                )),
                REG_QWORD if bytes.len() >= 8 => Value::from(u64::from_le_bytes(
                    bytes[..8].try_into().unwrap_or_default(),
                )),
                _ => continue,
            };
            out.insert(from_wide(&name[..name_len as usize]), v);
        }
        Ok(out)
    }
}

fn utf16_bytes_all(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// A REG_SZ's bytes as text, up to its NUL.
fn utf16_bytes(b: &[u8]) -> String {
    let s = utf16_bytes_all(b);
    match s.find('\0') {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The values of `HKLM\path` (empty when the key does not exist).
pub fn machine_values(path: &str, view: View) -> Result<Map<String, Value>, PlatformError> {
    match Key::local_machine(path, view)? {
        Some(k) => k.values(),
        None => Ok(Map::new()),
    }
}

/// Deletes the named values of `HKLM\path` (64-bit view); missing ones are no error.
pub fn delete_values(path: &str, names: &[&str]) -> Result<(), PlatformError> {
    use windows_sys::Win32::System::Registry::{RegDeleteValueW, KEY_SET_VALUE};
    let p = wide(path);
    let mut h: HKEY = null_mut();
    // SAFETY: p is NUL-terminated; h receives the handle, closed by Key.
    let rc = unsafe {
        RegOpenKeyExW(
            HKEY_LOCAL_MACHINE,
            p.as_ptr(),
            0,
            KEY_SET_VALUE | KEY_WOW64_64KEY,
            &mut h,
        )
    };
    match rc {
        ERROR_SUCCESS => {}
        2 | 3 => return Ok(()),
        code => return Err(win_error(&format!("RegOpenKeyExW {path}"), code)),
    }
    let key = Key(h);
    for name in names {
        let n = wide(name);
        // SAFETY: an open key and a NUL-terminated name.
        let rc = unsafe { RegDeleteValueW(key.0, n.as_ptr()) };
        if rc != ERROR_SUCCESS && rc != 2 {
            return Err(win_error(&format!("RegDeleteValueW {path}\\{name}"), rc));
        }
    }
    Ok(())
}

/// The SIDs of the loaded user hives of real accounts (`S-1-5-21-…`, not their
/// `_Classes` twins or the service accounts).
pub fn user_sids() -> Result<Vec<String>, PlatformError> {
    let Some(hku) = Key::users("")? else {
        return Ok(Vec::new());
    };
    Ok(hku
        .subkeys()?
        .into_iter()
        .filter(|s| s.starts_with("S-1-5-21-") && !s.ends_with("_Classes"))
        .collect())
}

// --- Software ---------------------------------------------------------------------------

const UNINSTALL_KEY: &str = r"Software\Microsoft\Windows\CurrentVersion\Uninstall";

/// Every uninstall entry of the machine's 64-bit and 32-bit views and of every loaded user
/// hive, each with a `Hive` field naming its view (`HKLM64`, `HKLM32`, `HKU`), as
/// [`super::windows::uninstall_packages`] expects.
pub fn uninstall_entries() -> Result<Vec<Value>, PlatformError> {
    let mut out = Vec::new();
    let mut add = |key: Option<Key>, hive: &str| -> Result<(), PlatformError> {
        let Some(key) = key else { return Ok(()) };
        for sub in key.subkeys()? {
            if let Some(k) = key.open(&sub)? {
                let mut v = k.values()?;
                v.insert("Hive".into(), Value::String(hive.into()));
                out.push(Value::Object(v));
            }
        }
        Ok(())
    };
    add(Key::local_machine(UNINSTALL_KEY, View::Bits64)?, "HKLM64")?;
    add(Key::local_machine(UNINSTALL_KEY, View::Bits32)?, "HKLM32")?;
    for sid in user_sids()? {
        add(Key::users(&format!(r"{sid}\{UNINSTALL_KEY}"))?, "HKU")?;
    }
    Ok(out)
}

// --- OS and hardware ----------------------------------------------------------------------

/// `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`: ProductName, EditionID,
/// CurrentBuildNumber, UBR, DisplayVersion, CurrentMajorVersionNumber, ….
pub fn os_values() -> Result<Map<String, Value>, PlatformError> {
    machine_values(
        r"SOFTWARE\Microsoft\Windows NT\CurrentVersion",
        View::Bits64,
    )
}

/// The raw hardware reads for [`super::windows::hardware_from`].
pub fn hardware() -> super::windows::HardwareRaw {
    use windows_sys::Win32::System::SystemInformation::{
        GetLogicalProcessorInformationEx, GetSystemFirmwareTable, GlobalMemoryStatusEx,
        RelationProcessorCore, MEMORYSTATUSEX, SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX,
    };
    let mut errors = Vec::new();
    let bios =
        machine_values(r"HARDWARE\DESCRIPTION\System\BIOS", View::Native).unwrap_or_else(|e| {
            errors.push(e);
            Map::new()
        });
    let cpu = machine_values(
        r"HARDWARE\DESCRIPTION\System\CentralProcessor\0",
        View::Native,
    )
    .unwrap_or_default();
    let cpu_name = cpu
        .get("ProcessorNameString")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");

    let mut mem: MEMORYSTATUSEX = unsafe { std::mem::zeroed() };
    mem.dwLength = std::mem::size_of::<MEMORYSTATUSEX>() as u32;
    // SAFETY: mem is a MEMORYSTATUSEX with its length set.
    let memory_bytes = if unsafe { GlobalMemoryStatusEx(&mut mem) } != 0 {
        mem.ullTotalPhys
    } else {
        errors.push(last_error("GlobalMemoryStatusEx"));
        0
    };

    // Cores: one RelationProcessorCore record per physical core (variable-length records).
    let mut len = 0u32;
    // SAFETY: a null buffer with length 0 asks for the size needed.
    unsafe { GetLogicalProcessorInformationEx(RelationProcessorCore, null_mut(), &mut len) };
    let mut buf = vec![0u8; len as usize];
    let mut cores = 0u32;
    let mut threads = 0u32;
    // SAFETY: buf holds len bytes; the records are read within what Windows wrote.
    if len > 0
        && unsafe {
            GetLogicalProcessorInformationEx(
                RelationProcessorCore,
                buf.as_mut_ptr()
                    .cast::<SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX>(),
                &mut len,
            )
        } != 0
    {
        let mut off = 0usize;
        while off + 8 <= len as usize {
            // Relationship (u32), Size (u32), then PROCESSOR_RELATIONSHIP whose GroupMask
            // array's first mask (offset 8 + 24 + 8) lists the core's logical processors.
            let size =
                u32::from_le_bytes(buf[off + 4..off + 8].try_into().unwrap_or_default()) as usize;
            if size == 0 {
                break;
            }
            cores += 1;
            let mask_at = off + 8 + 24;
            if mask_at + 8 <= buf.len() {
                let mask =
                    u64::from_le_bytes(buf[mask_at..mask_at + 8].try_into().unwrap_or_default());
                threads += mask.count_ones();
            }
            off += size;
        }
    } else {
        errors.push(last_error("GetLogicalProcessorInformationEx"));
    }

    let rsmb = u32::from_be_bytes(*b"RSMB");
    // SAFETY: a null buffer of size 0 asks for the size; then buf holds that many bytes.
    let need = unsafe { GetSystemFirmwareTable(rsmb, 0, null_mut(), 0) };
    let mut smbios = vec![0u8; need as usize];
    if need > 0 {
        let got = unsafe { GetSystemFirmwareTable(rsmb, 0, smbios.as_mut_ptr(), need) };
        smbios.truncate(got.min(need) as usize);
    } else {
        errors.push(last_error("GetSystemFirmwareTable(RSMB)"));
    }
    super::windows::HardwareRaw {
        bios,
        cpu_name,
        cores,
        threads,
        memory_bytes,
        smbios,
        errors,
    }
}

// --- Health -------------------------------------------------------------------------------

fn filetime(f: FILETIME) -> u64 {
    (u64::from(f.dwHighDateTime) << 32) | u64::from(f.dwLowDateTime)
}

/// System-wide idle, kernel (which includes idle) and user time, in 100 ns units.
pub fn cpu_times() -> Result<super::windows::CpuTimes, PlatformError> {
    use windows_sys::Win32::System::Threading::GetSystemTimes;
    let z = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut idle, mut kernel, mut user) = (z, z, z);
    // SAFETY: three FILETIME outputs.
    if unsafe { GetSystemTimes(&mut idle, &mut kernel, &mut user) } == 0 {
        return Err(last_error("GetSystemTimes"));
    }
    Ok(super::windows::CpuTimes {
        idle: filetime(idle),
        kernel: filetime(kernel),
        user: filetime(user),
    })
}

/// The fixed drives (GetLogicalDriveStringsW, GetDriveTypeW, GetDiskFreeSpaceExW); a drive
/// that does not answer (a card reader without a card) is left out.
pub fn fixed_volumes() -> Vec<super::windows::Volume> {
    use windows_sys::Win32::Storage::FileSystem::{
        GetDiskFreeSpaceExW, GetDriveTypeW, GetLogicalDriveStringsW, GetVolumeInformationW,
    };
    use windows_sys::Win32::System::WindowsProgramming::DRIVE_FIXED;
    let mut buf = vec![0u16; 512];
    // SAFETY: buf holds its length in UTF-16 units.
    let n = unsafe { GetLogicalDriveStringsW(buf.len() as u32, buf.as_mut_ptr()) } as usize;
    if n == 0 || n > buf.len() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for root in buf[..n].split(|&c| c == 0).filter(|r| !r.is_empty()) {
        let mut w: Vec<u16> = root.to_vec();
        w.push(0);
        // SAFETY: w is a NUL-terminated root path.
        if unsafe { GetDriveTypeW(w.as_ptr()) } != DRIVE_FIXED {
            continue;
        }
        let (mut avail, mut total, mut free) = (0u64, 0u64, 0u64);
        // SAFETY: w as above; three u64 outputs.
        if unsafe { GetDiskFreeSpaceExW(w.as_ptr(), &mut avail, &mut total, &mut free) } == 0 {
            continue;
        }
        let mut fs = vec![0u16; 64];
        // SAFETY: fs holds its length; the other outputs are optional (null).
        let ok = unsafe {
            GetVolumeInformationW(
                w.as_ptr(),
                null_mut(),
                0,
                null_mut(),
                null_mut(),
                null_mut(),
                fs.as_mut_ptr(),
                fs.len() as u32,
            )
        };
        out.push(super::windows::Volume {
            root: from_wide(root),
            filesystem: if ok != 0 {
                from_wide(&fs)
            } else {
                String::new()
            },
            total_bytes: total,
            free_bytes: avail,
        });
    }
    out
}

// --- Services -----------------------------------------------------------------------------

/// Every Win32 service as JSON objects {Name, DisplayName, State, StartMode,
/// DelayedAutoStart, TriggerStart, ExitCode}, the fields the service mappers read (the
/// names Win32_Service used, so the recorded outputs stay fixtures). The configuration
/// (start mode, delayed and trigger start: three more calls a service) is read for the
/// services that are not running, and for the running ones too when `config_of_running`:
/// the health probe needs it only to judge stopped services.
pub fn services(config_of_running: bool) -> Result<Vec<Value>, PlatformError> {
    use windows_sys::Win32::System::Services::{
        CloseServiceHandle, EnumServicesStatusExW, OpenSCManagerW, OpenServiceW,
        QueryServiceConfig2W, QueryServiceConfigW, ENUM_SERVICE_STATUS_PROCESSW,
        QUERY_SERVICE_CONFIGW, SC_ENUM_PROCESS_INFO, SC_MANAGER_CONNECT,
        SC_MANAGER_ENUMERATE_SERVICE, SERVICE_CONFIG_DELAYED_AUTO_START_INFO,
        SERVICE_DELAYED_AUTO_START_INFO, SERVICE_QUERY_CONFIG, SERVICE_STATE_ALL, SERVICE_WIN32,
    };
    struct Handle(windows_sys::Win32::System::Services::SC_HANDLE);
    impl Drop for Handle {
        fn drop(&mut self) {
            // SAFETY: an open SCM or service handle, closed once.
            unsafe { CloseServiceHandle(self.0) };
        }
    }
    // SAFETY: local SCM, default database.
    let scm = unsafe {
        OpenSCManagerW(
            null(),
            null(),
            SC_MANAGER_CONNECT | SC_MANAGER_ENUMERATE_SERVICE,
        )
    };
    if scm.is_null() {
        return Err(last_error("OpenSCManagerW"));
    }
    let scm = Handle(scm);
    let mut buf: Vec<u8> = vec![0; 64 * 1024];
    let mut out = Vec::new();
    let mut resume = 0u32;
    loop {
        let (mut needed, mut count) = (0u32, 0u32);
        // SAFETY: buf holds its length in bytes; Windows fills it with
        // ENUM_SERVICE_STATUS_PROCESSW records whose strings point into it.
        let ok = unsafe {
            EnumServicesStatusExW(
                scm.0,
                SC_ENUM_PROCESS_INFO,
                SERVICE_WIN32,
                SERVICE_STATE_ALL,
                buf.as_mut_ptr(),
                buf.len() as u32,
                &mut needed,
                &mut count,
                &mut resume,
                null(),
            )
        };
        let more = ok == 0 && std::io::Error::last_os_error().raw_os_error() == Some(234);
        if ok == 0 && !more {
            return Err(last_error("EnumServicesStatusExW"));
        }
        let records = buf.as_ptr().cast::<ENUM_SERVICE_STATUS_PROCESSW>();
        for i in 0..count as usize {
            // SAFETY: count records were written at the start of buf.
            let r = unsafe { &*records.add(i) };
            let name = unsafe { pwstr(r.lpServiceName) };
            let display = unsafe { pwstr(r.lpDisplayName) };
            let st = r.ServiceStatusProcess;
            let state = match st.dwCurrentState {
                1 => "Stopped",
                2 => "Start Pending",
                3 => "Stop Pending",
                4 => "Running",
                5 => "Continue Pending",
                6 => "Pause Pending",
                7 => "Paused",
                _ => "Unknown",
            };
            // Start mode and delayed start from the service's configuration.
            let mut start_mode = "";
            let mut delayed = false;
            let w = wide(&name);
            let want_config = config_of_running || st.dwCurrentState != 4;
            // SAFETY: w is NUL-terminated; the handle is closed by Handle.
            let svc = if want_config {
                unsafe { OpenServiceW(scm.0, w.as_ptr(), SERVICE_QUERY_CONFIG) }
            } else {
                std::ptr::null_mut()
            };
            if !svc.is_null() {
                let svc = Handle(svc);
                let mut cfg = vec![0u8; 8192];
                let mut need = 0u32;
                // SAFETY: cfg holds its length; a QUERY_SERVICE_CONFIGW is written at its
                // start (u64-aligned by Vec<u8>'s allocator in practice; read unaligned).
                if unsafe {
                    QueryServiceConfigW(
                        svc.0,
                        cfg.as_mut_ptr().cast::<QUERY_SERVICE_CONFIGW>(),
                        cfg.len() as u32,
                        &mut need,
                    )
                } != 0
                {
                    let c = unsafe {
                        std::ptr::read_unaligned(cfg.as_ptr().cast::<QUERY_SERVICE_CONFIGW>())
                    };
                    start_mode = match c.dwStartType {
                        0 => "Boot",
                        1 => "System",
                        2 => "Auto",
                        3 => "Manual",
                        4 => "Disabled",
                        _ => "",
                    };
                }
                let mut d: SERVICE_DELAYED_AUTO_START_INFO = unsafe { std::mem::zeroed() };
                // SAFETY: d is the struct this info level writes.
                if unsafe {
                    QueryServiceConfig2W(
                        svc.0,
                        SERVICE_CONFIG_DELAYED_AUTO_START_INFO,
                        (&mut d as *mut SERVICE_DELAYED_AUTO_START_INFO).cast::<u8>(),
                        std::mem::size_of::<SERVICE_DELAYED_AUTO_START_INFO>() as u32,
                        &mut need,
                    )
                } != 0
                {
                    delayed = d.fDelayedAutostart != 0;
                }
            }
            let trigger = want_config
                && Key::local_machine(
                    &format!(r"SYSTEM\CurrentControlSet\Services\{name}\TriggerInfo"),
                    View::Native,
                )
                .ok()
                .flatten()
                .is_some();
            let exit = if st.dwWin32ExitCode == 1066 {
                st.dwServiceSpecificExitCode
            } else {
                st.dwWin32ExitCode
            };
            out.push(serde_json::json!({
                "Name": name,
                "DisplayName": display,
                "State": state,
                "Status": state,
                "StartMode": start_mode,
                "DelayedAutoStart": delayed,
                "TriggerStart": trigger,
                "ExitCode": exit,
            }));
        }
        if !more {
            break;
        }
        if needed as usize > buf.len() {
            buf.resize(needed as usize, 0);
        }
    }
    Ok(out)
}

/// A NUL-terminated UTF-16 string Windows wrote.
///
/// # Safety
/// `p` is null or points to a NUL-terminated UTF-16 string.
unsafe fn pwstr(p: *const u16) -> String {
    if p.is_null() {
        return String::new();
    }
    let mut n = 0;
    while *p.add(n) != 0 {
        n += 1;
    }
    from_wide(std::slice::from_raw_parts(p, n))
}

/// A COM call's failure; E_NOTIMPL (Wine's stubs, a stripped-down Windows) says "not
/// supported" so the report tells it apart from a fault.
fn com_error(what: &str, e: ::windows::core::Error) -> PlatformError {
    let code = e.code().0 as u32;
    match code {
        0x8000_4001 => {
            return PlatformError::Unsupported(format!(
                "{what} is not implemented by this Windows (E_NOTIMPL)"
            ))
        }
        // WBEM_E_INVALID_NAMESPACE, WBEM_E_INVALID_CLASS: the provider is not installed
        // (BitLocker on Home editions, Defender removed, Security Center on servers).
        0x8004_100E | 0x8004_1010 => {
            return PlatformError::Unsupported(format!(
                "{what}: no such WMI provider on this Windows (0x{code:08X})"
            ))
        }
        _ => {}
    }
    PlatformError::Failed {
        command: what.to_string(),
        status: Some(code as i32),
        stderr: format!("0x{code:08X} {}", e.message()),
    }
}

// --- Windows Update ------------------------------------------------------------------------

/// Pending updates from the Windows Update Agent's COM API (the calls the former PowerShell
/// script made): a search of the catalogue as Windows last downloaded it (`Online` false:
/// no network, seconds instead of minutes), each update's title, KB numbers, MSRC
/// severity, categories and `LastDeploymentChangeTime`; reboot required
/// (ISystemInformation); the last successful scan and installation
/// (IAutomaticUpdates2.Results). As JSON in the shape
/// [`super::windows::windows_update_level`] reads; dates as ms since the epoch. Blocking
/// (a search can take a minute): call from a blocking thread.
pub fn windows_update() -> Result<Value, PlatformError> {
    use ::windows::core::BSTR;
    use ::windows::Win32::Foundation::VARIANT_FALSE;
    use ::windows::Win32::System::Com::{CoCreateInstance, CLSCTX_INPROC_SERVER};
    use ::windows::Win32::System::UpdateAgent::{
        AutomaticUpdates, IAutomaticUpdates2, ISystemInformation, IUpdateSession,
        SystemInformation, UpdateSession,
    };
    let wua = |what: &str| {
        let what = what.to_string();
        move |e: ::windows::core::Error| com_error(&format!("Windows Update Agent: {what}"), e)
    };
    let _com = Com::init();
    // SAFETY: COM calls on interfaces obtained from CoCreateInstance, on this thread.
    unsafe {
        let session: IUpdateSession = CoCreateInstance(&UpdateSession, None, CLSCTX_INPROC_SERVER)
            .map_err(wua("create UpdateSession"))?;
        let searcher = session
            .CreateUpdateSearcher()
            .map_err(wua("CreateUpdateSearcher"))?;
        searcher
            .SetOnline(VARIANT_FALSE)
            .map_err(wua("Online = false"))?;
        let result = searcher
            .Search(&BSTR::from("IsInstalled=0 and IsHidden=0"))
            .map_err(wua("Search"))?;
        let updates = result.Updates().map_err(wua("Updates"))?;
        let mut list = Vec::new();
        for i in 0..updates.Count().map_err(wua("Updates.Count"))? {
            let u = updates.get_Item(i).map_err(wua("Updates.Item"))?;
            let mut kbs = Vec::new();
            if let Ok(ids) = u.KBArticleIDs() {
                for k in 0..ids.Count().unwrap_or(0) {
                    if let Ok(id) = ids.get_Item(k) {
                        kbs.push(id.to_string());
                    }
                }
            }
            let mut categories = Vec::new();
            if let Ok(cats) = u.Categories() {
                for k in 0..cats.Count().unwrap_or(0) {
                    if let Ok(name) = cats.get_Item(k).and_then(|c| c.Name()) {
                        categories.push(name.to_string());
                    }
                }
            }
            list.push(serde_json::json!({
                "Title": u.Title().map(|t| t.to_string()).unwrap_or_default(),
                "KBArticleIDs": kbs,
                "MsrcSeverity": u.MsrcSeverity().map(|t| t.to_string()).unwrap_or_default(),
                "Categories": categories,
                "LastDeploymentChangeTime": u.LastDeploymentChangeTime().ok().and_then(super::windows::ole_date_ms),
            }));
        }
        let reboot = CoCreateInstance::<_, ISystemInformation>(
            &SystemInformation,
            None,
            CLSCTX_INPROC_SERVER,
        )
        .and_then(|s| s.RebootRequired())
        .map(|b| b.0 != 0)
        .unwrap_or(false);
        let au = CoCreateInstance::<_, IAutomaticUpdates2>(
            &AutomaticUpdates,
            None,
            CLSCTX_INPROC_SERVER,
        )
        .and_then(|a| a.Results())
        .ok();
        let date = |v: ::windows::core::Result<::windows::Win32::System::Variant::VARIANT>| -> Option<i64> {
            let v = v.ok()?;
            // VT_DATE: an OLE automation date.
            (v.Anonymous.Anonymous.vt.0 == 7)
                .then(|| v.Anonymous.Anonymous.Anonymous.date)
                .and_then(super::windows::ole_date_ms)
        };
        Ok(serde_json::json!({
            "Updates": list,
            "RebootRequired": reboot,
            "LastSearchSuccessDate": au.as_ref().and_then(|r| date(r.LastSearchSuccessDate())),
            "LastInstallationSuccessDate": au.as_ref().and_then(|r| date(r.LastInstallationSuccessDate())),
        }))
    }
}

// --- WMI -----------------------------------------------------------------------------------

/// Initialises COM (multithreaded) for this thread while alive.
struct Com(bool);

impl Com {
    fn init() -> Com {
        use ::windows::Win32::System::Com::{CoInitializeEx, COINIT_MULTITHREADED};
        // SAFETY: balanced by Drop when it succeeded.
        Com(unsafe { CoInitializeEx(None, COINIT_MULTITHREADED) }.is_ok())
    }
}

impl Drop for Com {
    fn drop(&mut self) {
        if self.0 {
            // SAFETY: balances the successful CoInitializeEx on this thread.
            unsafe { ::windows::Win32::System::Com::CoUninitialize() };
        }
    }
}

/// A VARIANT as JSON: strings, integers, booleans, doubles; anything else is null.
fn variant_json(v: &::windows::Win32::System::Variant::VARIANT) -> Value {
    // SAFETY: the union member read is the one `vt` names.
    unsafe {
        let inner = &v.Anonymous.Anonymous;
        let u = &inner.Anonymous;
        match inner.vt.0 {
            8 => Value::String(u.bstrVal.to_string()), // VT_BSTR
            11 => Value::Bool(u.boolVal.0 != 0),       // VT_BOOL
            2 => Value::from(u.iVal),                  // VT_I2
            3 => Value::from(u.lVal),                  // VT_I4
            16 => Value::from(u.cVal),                 // VT_I1
            17 => Value::from(u.bVal),                 // VT_UI1
            18 => Value::from(u.uiVal),                // VT_UI2
            19 => Value::from(u.ulVal),                // VT_UI4
            20 => Value::from(u.llVal),                // VT_I8
            21 => Value::from(u.ullVal),               // VT_UI8
            5 => serde_json::Number::from_f64(u.dblVal).map_or(Value::Null, Value::Number), // VT_R8
            _ => Value::Null,
        }
    }
}

/// `SELECT props FROM class [WHERE …]` in a WMI namespace, each object as JSON with the
/// named properties (the names PowerShell's CIM cmdlets print, so the mappers are shared).
/// Blocking: call from a blocking thread.
pub fn wmi_query(
    namespace: &str,
    query: &str,
    props: &[&str],
) -> Result<Vec<Value>, PlatformError> {
    use ::windows::core::{BSTR, HSTRING, PCWSTR};
    use ::windows::Win32::System::Com::{
        CoCreateInstance, CoSetProxyBlanket, CLSCTX_INPROC_SERVER, EOAC_NONE,
        RPC_C_AUTHN_LEVEL_CALL, RPC_C_IMP_LEVEL_IMPERSONATE,
    };
    use ::windows::Win32::System::Variant::{VariantClear, VARIANT};
    use ::windows::Win32::System::Wmi::{
        IWbemClassObject, IWbemLocator, WbemLocator, WBEM_FLAG_FORWARD_ONLY,
        WBEM_FLAG_RETURN_IMMEDIATELY, WBEM_INFINITE,
    };
    let _com = Com::init();
    let what = format!("WMI {namespace}");
    let err = |e: ::windows::core::Error| com_error(&what, e);
    // SAFETY: COM calls on interfaces obtained from CoCreateInstance, on this thread.
    unsafe {
        let locator: IWbemLocator =
            CoCreateInstance(&WbemLocator, None, CLSCTX_INPROC_SERVER).map_err(err)?;
        let services = locator
            .ConnectServer(
                &BSTR::from(namespace),
                &BSTR::new(),
                &BSTR::new(),
                &BSTR::new(),
                0,
                &BSTR::new(),
                None,
            )
            .map_err(err)?;
        // RPC_C_AUTHN_WINNT (10), RPC_C_AUTHZ_NONE (0).
        CoSetProxyBlanket(
            &services,
            10,
            0,
            PCWSTR::null(),
            RPC_C_AUTHN_LEVEL_CALL,
            RPC_C_IMP_LEVEL_IMPERSONATE,
            None,
            EOAC_NONE,
        )
        .map_err(err)?;
        let rows = services
            .ExecQuery(
                &BSTR::from("WQL"),
                &BSTR::from(query),
                WBEM_FLAG_FORWARD_ONLY | WBEM_FLAG_RETURN_IMMEDIATELY,
                None,
            )
            .map_err(err)?;
        let mut out = Vec::new();
        loop {
            let mut row: [Option<IWbemClassObject>; 1] = [None];
            let mut got = 0u32;
            rows.Next(WBEM_INFINITE, &mut row, &mut got)
                .ok()
                .map_err(err)?;
            let Some(obj) = row[0].take().filter(|_| got == 1) else {
                break;
            };
            let mut m = Map::new();
            for p in props {
                let mut v = VARIANT::default();
                let name = HSTRING::from(*p);
                if obj.Get(&name, 0, &mut v, None, None).is_ok() {
                    m.insert((*p).to_string(), variant_json(&v));
                    let _ = VariantClear(&mut v);
                }
            }
            out.push(Value::Object(m));
        }
        Ok(out)
    }
}

// --- Security facts ----------------------------------------------------------------------

/// Runs `read`, turning a failure into the `{ "Error": … }` part the facts mapper expects
/// (`{ "Unsupported": … }` when this Windows lacks the source).
fn part(read: impl FnOnce() -> Result<Value, PlatformError>) -> Value {
    match read() {
        Ok(v) => v,
        Err(PlatformError::Unsupported(m)) => serde_json::json!({ "Unsupported": m }),
        Err(e) => serde_json::json!({ "Error": e.to_string() }),
    }
}

/// The security facts as one object with the parts the facts mapper reads
/// (`super::facts::windows::facts_from_object`), each from Windows' own APIs: the registry
/// (firewall, screen lock, update policy, Secure Boot), the SCM (services, sshd), netapi32
/// (administrators) and WMI (BitLocker, Defender, Security Center). `Time` is added by the
/// caller (w32tm is a program). Blocking.
pub fn facts_object() -> Value {
    use super::facts::windows as map;
    let services = services(true);
    let service = |name: &str| -> Option<Value> {
        services
            .as_ref()
            .ok()?
            .iter()
            .find(|s| {
                s["Name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .cloned()
    };
    let firewall = part(|| {
        let svc = service("MpsSvc").ok_or_else(|| {
            PlatformError::Unsupported(
                "no Windows Firewall service (MpsSvc) on this Windows".into(),
            )
        })?;
        let base = r"SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy";
        let policy = r"SOFTWARE\Policies\Microsoft\WindowsFirewall";
        let mut profiles = Vec::new();
        for (name, local_key, policy_key) in [
            ("Domain", "DomainProfile", "DomainProfile"),
            ("Private", "StandardProfile", "PrivateProfile"),
            ("Public", "PublicProfile", "PublicProfile"),
        ] {
            let local = machine_values(&format!(r"{base}\{local_key}"), View::Bits64)?;
            let pol = machine_values(&format!(r"{policy}\{policy_key}"), View::Bits64)?;
            profiles.push(map::firewall_profile(
                name,
                &local,
                &pol,
                svc["State"] == "Running",
            ));
        }
        Ok(serde_json::json!({ "Profiles": profiles }))
    });
    let screen_lock = part(|| {
        let sys = machine_values(
            r"SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System",
            View::Bits64,
        )?;
        let mut users = Vec::new();
        for sid in user_sids()? {
            let desk = Key::users(&format!(r"{sid}\Control Panel\Desktop"))?
                .map(|k| k.values())
                .transpose()?
                .unwrap_or_default();
            let pol = Key::users(&format!(
                r"{sid}\Software\Policies\Microsoft\Windows\Control Panel\Desktop"
            ))?
            .map(|k| k.values())
            .transpose()?
            .unwrap_or_default();
            users.push(map::screen_saver_user(&sid, &desk, &pol));
        }
        Ok(serde_json::json!({
            "InactivityTimeoutSecs": sys.get("InactivityTimeoutSecs").cloned().unwrap_or(Value::Null),
            "Users": users,
        }))
    });
    let windows_update = part(|| {
        let key = Key::local_machine(
            r"SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU",
            View::Bits64,
        )?;
        let au = key
            .as_ref()
            .map(Key::values)
            .transpose()?
            .unwrap_or_default();
        let svc = service("wuauserv").ok_or_else(|| {
            PlatformError::Unsupported(
                "no Windows Update service (wuauserv) on this Windows".into(),
            )
        })?;
        Ok(serde_json::json!({
            "PolicyPresent": key.is_some(),
            "NoAutoUpdate": au.get("NoAutoUpdate").cloned().unwrap_or(Value::Null),
            "AUOptions": au.get("AUOptions").cloned().unwrap_or(Value::Null),
            "ServiceStartType": svc["StartMode"],
        }))
    });
    let admins = part(|| Ok(serde_json::json!({ "Members": local_admins()? })));
    let secure_boot = part(|| {
        let state = Key::local_machine(
            r"SYSTEM\CurrentControlSet\Control\SecureBoot\State",
            View::Native,
        )?;
        Ok(match state {
            // Only UEFI firmware has the key; legacy BIOS cannot do Secure Boot.
            None => serde_json::json!({ "Enabled": null, "Unsupported": true }),
            Some(k) => {
                let v = k.values()?;
                serde_json::json!({ "Enabled": v.get("UEFISecureBootEnabled").and_then(Value::as_u64).map(|x| x == 1) })
            }
        })
    });
    let ssh = part(|| {
        let svc = service("sshd");
        let config = std::env::var_os("ProgramData")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| r"C:\ProgramData".into())
            .join(r"ssh\sshd_config");
        Ok(serde_json::json!({
            "Installed": svc.is_some(),
            "Status": svc.as_ref().map(|s| s["State"].clone()),
            "StartType": svc.as_ref().map(|s| s["StartMode"].clone()),
            "Config": svc.is_some().then(|| std::fs::read_to_string(&config).ok()).flatten(),
        }))
    });
    let running = part(|| {
        let all = services
            .as_ref()
            .map_err(|e| PlatformError::Unsupported(e.to_string()))?;
        let names: Vec<&Value> = all
            .iter()
            .filter(|s| s["State"] == "Running")
            .map(|s| &s["Name"])
            .collect();
        Ok(serde_json::json!({ "Running": names }))
    });
    let bitlocker = part(|| {
        let drive = std::env::var("SystemDrive").unwrap_or_else(|_| "C:".into());
        let rows = wmi_query(
            r"ROOT\CIMV2\Security\MicrosoftVolumeEncryption",
            &format!("SELECT DriveLetter, ProtectionStatus, ConversionStatus, EncryptionMethod FROM Win32_EncryptableVolume WHERE DriveLetter = '{drive}'"),
            &["DriveLetter", "ProtectionStatus", "ConversionStatus", "EncryptionMethod"],
        )?;
        let v = rows.into_iter().next().ok_or_else(|| {
            PlatformError::Unsupported(format!("BitLocker lists no volume {drive}"))
        })?;
        Ok(serde_json::json!({
            "MountPoint": drive,
            "ProtectionStatus": v["ProtectionStatus"],
            "VolumeStatus": v["ConversionStatus"],
            "EncryptionMethod": v["EncryptionMethod"],
        }))
    });
    let defender = part(|| {
        let props = [
            "AMRunningMode",
            "AMServiceEnabled",
            "AntivirusEnabled",
            "RealTimeProtectionEnabled",
            "AntivirusSignatureAge",
            "AMProductVersion",
        ];
        wmi_query(
            r"ROOT\Microsoft\Windows\Defender",
            &format!("SELECT {} FROM MSFT_MpComputerStatus", props.join(", ")),
            &props,
        )?
        .into_iter()
        .next()
        .ok_or_else(|| PlatformError::Unsupported("Defender reports no status".into()))
    });
    let security_center = part(|| {
        Ok(serde_json::json!({ "Products": wmi_query(
            r"ROOT\SecurityCenter2",
            "SELECT displayName, productState FROM AntiVirusProduct",
            &["displayName", "productState"],
        )? }))
    });
    serde_json::json!({
        "BitLocker": bitlocker,
        "Firewall": firewall,
        "Defender": defender,
        "SecurityCenter": security_center,
        "ScreenLock": screen_lock,
        "WindowsUpdate": windows_update,
        "Admins": admins,
        "SecureBoot": secure_boot,
        "Ssh": ssh,
        "Services": running,
    })
}

// --- Accounts -----------------------------------------------------------------------------

/// The members of the local Administrators group (`DOMAIN\name`), the group found by its
/// well-known SID S-1-5-32-544 since its name is localised.
pub fn local_admins() -> Result<Vec<String>, PlatformError> {
    use windows_sys::Win32::NetworkManagement::NetManagement::{
        NetApiBufferFree, NetLocalGroupGetMembers, LOCALGROUP_MEMBERS_INFO_3,
    };
    use windows_sys::Win32::Security::{
        CreateWellKnownSid, LookupAccountSidW, WinBuiltinAdministratorsSid,
    };
    let mut sid = [0u8; 68];
    let mut sid_len = sid.len() as u32;
    // SAFETY: sid holds sid_len bytes.
    if unsafe {
        CreateWellKnownSid(
            WinBuiltinAdministratorsSid,
            null_mut(),
            sid.as_mut_ptr().cast(),
            &mut sid_len,
        )
    } == 0
    {
        return Err(last_error("CreateWellKnownSid"));
    }
    let mut name = vec![0u16; 256];
    let mut domain = vec![0u16; 256];
    let (mut name_len, mut domain_len, mut use_) = (256u32, 256u32, 0i32);
    // SAFETY: the buffers hold the lengths passed.
    if unsafe {
        LookupAccountSidW(
            null(),
            sid.as_ptr() as *mut _,
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut use_,
        )
    } == 0
    {
        return Err(last_error("LookupAccountSidW(S-1-5-32-544)"));
    }
    let group = name.clone();
    let mut members = Vec::new();
    let mut resume = 0usize;
    loop {
        let mut ptr: *mut u8 = null_mut();
        let (mut read, mut total) = (0u32, 0u32);
        // SAFETY: group is NUL-terminated; ptr receives a buffer freed below.
        let rc = unsafe {
            NetLocalGroupGetMembers(
                null(),
                group.as_ptr(),
                3,
                &mut ptr,
                u32::MAX,
                &mut read,
                &mut total,
                &mut resume,
            )
        };
        if rc != 0 && rc != ERROR_MORE_DATA {
            return Err(win_error("NetLocalGroupGetMembers(Administrators)", rc));
        }
        if !ptr.is_null() {
            let list = ptr.cast::<LOCALGROUP_MEMBERS_INFO_3>();
            for i in 0..read as usize {
                // SAFETY: read records in the buffer NetLocalGroupGetMembers returned.
                members.push(unsafe { pwstr((*list.add(i)).lgrmi3_domainandname) });
            }
            // SAFETY: ptr came from NetLocalGroupGetMembers.
            unsafe { NetApiBufferFree(ptr.cast()) };
        }
        if rc != ERROR_MORE_DATA {
            break;
        }
    }
    Ok(members)
}

// --- Files --------------------------------------------------------------------------------

/// Gives `path` a protected DACL: full control to SYSTEM and Administrators, nothing to
/// anyone else (the agent's identity key and spool; the Unix twin is mode 0700).
pub fn restrict_to_admins(path: &std::path::Path) -> Result<(), PlatformError> {
    use windows_sys::Win32::Foundation::LocalFree;
    use windows_sys::Win32::Security::Authorization::ConvertStringSecurityDescriptorToSecurityDescriptorW;
    use windows_sys::Win32::Security::{
        SetFileSecurityW, DACL_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION,
        PSECURITY_DESCRIPTOR,
    };
    // P: protected (no inherited entries); OICI: inherited by files and folders within.
    let sddl = wide("D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)");
    let mut sd: PSECURITY_DESCRIPTOR = null_mut();
    // SAFETY: sddl is NUL-terminated; sd is freed with LocalFree below.
    if unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.as_ptr(), 1, &mut sd, null_mut())
    } == 0
    {
        return Err(last_error(
            "ConvertStringSecurityDescriptorToSecurityDescriptorW",
        ));
    }
    let p: Vec<u16> = path
        .as_os_str()
        .encode_wide()
        .chain(std::iter::once(0))
        .collect();
    // SAFETY: p is NUL-terminated, sd a valid descriptor.
    let ok = unsafe {
        SetFileSecurityW(
            p.as_ptr(),
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            sd,
        )
    };
    let err = (ok == 0).then(|| last_error(&format!("SetFileSecurityW {}", path.display())));
    // SAFETY: sd came from the conversion above.
    unsafe { LocalFree(sd) };
    err.map_or(Ok(()), Err)
}

/// Run under Wine by `packaging/windows/build.sh --tests`: the real calls, on what Wine's
/// Windows 10 provides (and on a real PC the same way: `cargo test --target …` there).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_names_this_windows() {
        let v = os_values().unwrap();
        let os = super::super::windows::os_from_registry(&Value::Object(v)).unwrap();
        assert!(os.name.starts_with("Microsoft Windows"), "{os:?}");
        assert!(os.version.starts_with("10.0."), "{os:?}");
        assert!(Key::local_machine(r"SOFTWARE\No\Such\Key", View::Bits64)
            .unwrap()
            .is_none());
        // Deleting values of a key that does not exist is no error.
        delete_values(r"SOFTWARE\Tilsyn\NoSuchKey", &["x"]).unwrap();
        // The uninstall views read without error, whatever is installed.
        uninstall_entries().unwrap();
    }

    #[test]
    fn cpu_memory_and_drives() {
        let a = cpu_times().unwrap();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        let b = cpu_times().unwrap();
        assert!(b.kernel >= a.kernel && b.user >= a.user && b.idle >= a.idle);
        if let Some(r) = super::super::windows::cpu_busy_ratio(a, b) {
            assert!((0.0..=1.0).contains(&r));
        }
        let hw = hardware();
        assert!(
            hw.memory_bytes > 0 && hw.threads > 0 && hw.cores > 0,
            "{hw:?}"
        );
        assert!(hw.threads >= hw.cores);
        let vols = fixed_volumes();
        let c = vols.iter().find(|v| v.root == r"C:\").expect("a C: drive");
        assert!(c.total_bytes > 0 && c.free_bytes <= c.total_bytes, "{c:?}");
    }

    #[test]
    fn services_and_administrators() {
        let all = services(true).unwrap();
        assert!(
            all.iter().any(|s| s["State"] == "Running"),
            "no running service among {}",
            all.len()
        );
        assert!(all
            .iter()
            .all(|s| s["Name"].as_str().is_some_and(|n| !n.is_empty())));
        // Wine answers for the local Administrators group too; a real PC lists at least
        // the built-in Administrator or the enrolling admin.
        local_admins().unwrap();
    }

    #[test]
    fn the_state_directory_is_restricted() {
        let dir = tempfile::tempdir().unwrap();
        restrict_to_admins(dir.path()).unwrap();
        // Still usable by this process (an administrator, or SYSTEM as the service).
        std::fs::write(dir.path().join("x"), b"1").unwrap();
    }

    // What Wine cannot show: run on a real Windows 10/11 PC as an administrator with
    // `cargo test --target x86_64-pc-windows-gnu -- --ignored` (packaging/README.md,
    // "Check on a real Windows 11 PC").

    #[test]
    #[ignore = "needs a real Windows: Wine's Update Agent does not implement the search"]
    fn windows_update_searches_the_catalogue() {
        let v = windows_update().unwrap();
        let level = super::super::windows::windows_update_level(&v).unwrap();
        assert_eq!(level.manager, "windows-update");
        assert!(
            level.last_refresh_ms.is_some(),
            "Windows has scanned at least once: {v}"
        );
    }

    #[test]
    #[ignore = "needs a real Windows: BitLocker, Defender and Security Center are not in Wine's WMI"]
    fn security_facts_come_from_wmi_and_the_registry() {
        let v = facts_object();
        for part in [
            "BitLocker",
            "Firewall",
            "Defender",
            "ScreenLock",
            "WindowsUpdate",
            "Admins",
            "SecureBoot",
            "Services",
        ] {
            assert!(v[part].get("Error").is_none(), "{part}: {}", v[part]);
        }
        assert!(!v["Admins"]["Members"].as_array().unwrap().is_empty());
    }
}
