//! The Windows sources the probes call (DESIGN.md §4): each obtains the raw values through
//! Windows' own APIs ([`super::winapi`], the thin half) and turns them into typed facts with
//! the pure mappers of [`super::windows`] and [`super::facts::windows`]. Off Windows each
//! says "not supported", so the probes compile and choose at run time on every OS.

use tilsyn_proto::v1::{Facts, Hardware, OsInfo, Package, PatchLevel, ServiceStatus};

#[cfg(windows)]
use super::{facts, winapi, windows};
use super::{windows::CpuTimes, windows::Volume, PlatformError};

#[cfg(not(windows))]
fn not_windows() -> PlatformError {
    PlatformError::Unsupported("Windows' APIs exist only on Windows".into())
}

/// Installed programs from the uninstall registry keys.
pub async fn read_software() -> Result<Vec<Package>, PlatformError> {
    #[cfg(windows)]
    return Ok(windows::uninstall_packages(winapi::uninstall_entries()?));
    #[cfg(not(windows))]
    Err(not_windows())
}

/// Pending updates, last scan and install, and the reboot flag, from the Windows Update
/// Agent's COM API on a blocking thread (a search can take a minute).
pub async fn read_patches() -> Result<PatchLevel, PlatformError> {
    #[cfg(windows)]
    return match tokio::task::spawn_blocking(winapi::windows_update).await {
        Ok(v) => windows::windows_update_level(&v?),
        Err(e) => Err(PlatformError::Unsupported(format!(
            "the Windows Update search stopped: {e}"
        ))),
    };
    #[cfg(not(windows))]
    Err(not_windows())
}

/// Vendor, model, serial, CPU and memory, with what could not be read.
pub async fn read_hardware() -> Result<(Hardware, Vec<PlatformError>), PlatformError> {
    #[cfg(windows)]
    return Ok(windows::hardware_from(winapi::hardware()));
    #[cfg(not(windows))]
    Err(not_windows())
}

/// Edition, version and build from the registry.
pub async fn read_os() -> Result<OsInfo, PlatformError> {
    #[cfg(windows)]
    return windows::os_from_registry(&serde_json::Value::Object(winapi::os_values()?));
    #[cfg(not(windows))]
    Err(not_windows())
}

/// One read of the service control manager for both health answers: the automatic
/// services that stopped when they should run, and the watched ones' states.
pub async fn read_services(
    watched: &[String],
) -> Result<(Vec<ServiceStatus>, Vec<ServiceStatus>), PlatformError> {
    #[cfg(windows)]
    return winapi::services(false).and_then(|all| {
        let states = windows::watched_services(watched, &all);
        Ok((windows::stopped_services(all)?, states))
    });
    #[cfg(not(windows))]
    {
        let _ = watched;
        Err(not_windows())
    }
}

/// The fixed drives; none off Windows.
pub fn fixed_volumes() -> Vec<Volume> {
    #[cfg(windows)]
    return winapi::fixed_volumes();
    #[cfg(not(windows))]
    Vec::new()
}

/// The CPU times now.
pub fn cpu_times() -> Result<CpuTimes, PlatformError> {
    #[cfg(windows)]
    return winapi::cpu_times();
    #[cfg(not(windows))]
    Err(not_windows())
}

/// The security facts: `winapi::facts_object` on a blocking thread, then `w32tm` (a
/// program, not an API), mapped by `facts::windows::facts_from_object`.
pub async fn read_facts() -> (Facts, Vec<String>) {
    #[cfg(windows)]
    {
        let mut v = match tokio::task::spawn_blocking(winapi::facts_object).await {
            Ok(v) => v,
            Err(e) => return (Facts::default(), vec![format!("facts: {e}")]),
        };
        v["Time"] = match super::cmd::run(
            "w32tm",
            &["/query", "/status"],
            std::time::Duration::from_secs(30),
        )
        .await
        {
            Ok(out) => serde_json::json!({ "ExitCode": out.status, "Output": out.stdout }),
            Err(PlatformError::CommandMissing(_)) => {
                serde_json::json!({ "Unsupported": "w32tm is not on this Windows" })
            }
            Err(e) => serde_json::json!({ "Error": e.to_string() }),
        };
        match facts::windows::facts_from_object(&v) {
            Ok(r) => r,
            Err(e) => (Facts::default(), vec![format!("facts: {e}")]),
        }
    }
    #[cfg(not(windows))]
    (Facts::default(), vec![format!("facts: {}", not_windows())])
}
