//! How facts are read on each OS (DESIGN.md §4).
//!
//! Every source has two halves that compile on every OS: *how to obtain* the raw text (run
//! a command through [`cmd`] or read a file) and a *pure parser* from that text to typed
//! facts, unit-tested on recorded real outputs under `agent/tests/fixtures/`. `cfg` only
//! chooses which sources are active by default ([`software_sources`], [`patch_sources`]).

use std::path::{Path, PathBuf};

pub mod apt;
pub mod cmd;
pub mod dnf;
pub mod dpkg;
pub mod facts;
pub mod first_seen;
pub mod linux;
pub mod macos;
pub mod os_release;
pub mod rpm;
pub mod systemd;
pub use tilsyn_proto::time;
pub mod winapi;
pub mod windows;
pub mod winsource;
pub mod xml;
pub mod zypper;

/// Why a platform source could not deliver.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlatformError {
    #[error("command {0:?} not found on PATH")]
    CommandMissing(String),
    #[error("permission denied reading {}", .0.display())]
    PermissionDenied(PathBuf),
    #[error("{} not found", .0.display())]
    NotFound(PathBuf),
    #[error("{command:?} timed out after {seconds} s")]
    Timeout { command: String, seconds: u64 },
    #[error("{command:?} failed with status {status:?}: {stderr}")]
    Failed {
        command: String,
        status: Option<i32>,
        stderr: String,
    },
    #[error("cannot parse output of {source_name}: {detail}")]
    Parse { source_name: String, detail: String },
    #[error("reading {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("not supported on this platform: {0}")]
    Unsupported(String),
}

impl PlatformError {
    pub fn from_io(path: &Path, e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::NotFound => PlatformError::NotFound(path.to_path_buf()),
            std::io::ErrorKind::PermissionDenied => {
                PlatformError::PermissionDenied(path.to_path_buf())
            }
            _ => PlatformError::Io {
                path: path.to_path_buf(),
                message: e.to_string(),
            },
        }
    }

    pub fn parse(source_name: &str, detail: impl Into<String>) -> Self {
        PlatformError::Parse {
            source_name: source_name.to_string(),
            detail: detail.into(),
        }
    }
}

/// The patch level from a manager's pending updates: counts and the oldest pending
/// security update are derived here, the same way for every package manager.
pub fn patch_level(
    manager: &str,
    updates: Vec<tilsyn_proto::v1::PendingUpdate>,
    last_refresh_ms: Option<i64>,
    last_install_ms: Option<i64>,
    reboot_required: bool,
) -> tilsyn_proto::v1::PatchLevel {
    let security = updates.iter().filter(|u| u.security);
    tilsyn_proto::v1::PatchLevel {
        manager: manager.to_string(),
        pending_count: updates.len() as u32,
        pending_security_count: security.clone().count() as u32,
        oldest_security_since_ms: security.filter_map(|u| u.since_ms).min(),
        last_refresh_ms,
        last_install_ms,
        reboot_required,
        updates,
    }
}

/// Installed-software sources, tried in order; every one present on the machine is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoftwareSource {
    Dpkg,
    Rpm,
    WindowsRegistry,
    MacApps,
    MacPkgutil,
}

/// Pending-update sources; the first one present on the machine is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchSource {
    Apt,
    Dnf,
    Zypper,
    WindowsUpdate,
    SoftwareUpdate,
}

/// The software sources active by default on this OS.
pub fn software_sources() -> &'static [SoftwareSource] {
    if cfg!(target_os = "windows") {
        &[SoftwareSource::WindowsRegistry]
    } else if cfg!(target_os = "macos") {
        &[SoftwareSource::MacApps, SoftwareSource::MacPkgutil]
    } else {
        &[SoftwareSource::Dpkg, SoftwareSource::Rpm]
    }
}

/// The patch sources active by default on this OS.
pub fn patch_sources() -> &'static [PatchSource] {
    if cfg!(target_os = "windows") {
        &[PatchSource::WindowsUpdate]
    } else if cfg!(target_os = "macos") {
        &[PatchSource::SoftwareUpdate]
    } else {
        &[PatchSource::Apt, PatchSource::Dnf, PatchSource::Zypper]
    }
}

/// Makes the state directory readable by the machine's administrators only. Files in it
/// are written 0600 on Unix (`tilsyn_proto::files::write_private`); on Windows the
/// directory gets a protected DACL for SYSTEM and Administrators, inherited by what is
/// written in it. A failure is logged: the agent still runs.
pub fn secure_dir(dir: &Path) {
    #[cfg(windows)]
    if let Err(e) = winapi::restrict_to_admins(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot restrict the state directory to SYSTEM and Administrators");
    }
    #[cfg(not(windows))]
    let _ = dir;
}

/// Returns freed heap memory to the OS. glibc keeps freed memory mapped, so after parsing a
/// large package database the agent's RSS would stay at its peak for hours.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::os::raw::c_int;
        }
        // SAFETY: malloc_trim only releases free heap pages; it has no preconditions.
        unsafe {
            malloc_trim(0);
        }
    }
}
