//! Health: CPU, load, memory, swap, filesystems, uptime, failed services, and the services
//! and processes the settings ask to watch.

use std::collections::HashMap;

use sysinfo::{
    CpuRefreshKind, Disks, MemoryRefreshKind, ProcessRefreshKind, ProcessesToUpdate, RefreshKind,
    System, UpdateKind,
};
use tilsyn_proto::v1::{report::Body, AgentSettings, FilesystemUsage, Health, ProcessStatus};

use super::{err, Collected, ProbeKind};
use crate::platform;

const KIND: ProbeKind = ProbeKind::Health;

/// Pseudo filesystems that say nothing about disk space.
const SKIP_FS: [&str; 10] = [
    "tmpfs", "devtmpfs", "overlay", "squashfs", "proc", "sysfs", "cgroup2", "devpts", "nsfs",
    "ramfs",
];

pub struct HealthProbe {
    sys: System,
    disks: Disks,
    cpu_refreshed: std::time::Instant,
    /// Windows: the previous GetSystemTimes sample (sysinfo's CPU usage goes through PDH,
    /// which is costly to open and aborts under Wine).
    cpu_times: Option<platform::windows::CpuTimes>,
}

impl Default for HealthProbe {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthProbe {
    pub fn new() -> Self {
        let windows = cfg!(target_os = "windows");
        let mut kind = RefreshKind::nothing().with_memory(MemoryRefreshKind::everything());
        if !windows {
            kind = kind.with_cpu(CpuRefreshKind::nothing().with_cpu_usage());
        }
        HealthProbe {
            sys: System::new_with_specifics(kind),
            disks: if windows {
                Disks::new()
            } else {
                Disks::new_with_refreshed_list()
            },
            cpu_refreshed: std::time::Instant::now(),
            cpu_times: platform::winsource::cpu_times().ok(),
        }
    }

    pub async fn collect(&mut self, settings: &AgentSettings) -> Collected {
        let mut errors = Vec::new();
        // CPU usage is measured since the previous refresh, i.e. over the last interval; the
        // very first sample right after start needs a short window to mean anything.
        let since = self.cpu_refreshed.elapsed();
        if since < sysinfo::MINIMUM_CPU_UPDATE_INTERVAL {
            tokio::time::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL - since).await;
        }
        self.cpu_refreshed = std::time::Instant::now();
        let cpu_usage_ratio = if cfg!(target_os = "windows") {
            self.windows_cpu(&mut errors)
        } else {
            self.sys.refresh_cpu_usage();
            (self.sys.global_cpu_usage() as f64 / 100.0).clamp(0.0, 1.0)
        };
        self.sys.refresh_memory();
        let load = System::load_average();
        let filesystems = if cfg!(target_os = "windows") {
            platform::winsource::fixed_volumes()
                .into_iter()
                .map(|v| FilesystemUsage {
                    mount_point: v.root,
                    filesystem: v.filesystem,
                    total_bytes: v.total_bytes,
                    used_bytes: v.total_bytes.saturating_sub(v.free_bytes),
                    available_bytes: v.free_bytes,
                })
                .collect()
        } else {
            self.disks.refresh(true);
            self.disks
                .iter()
                .filter(|d| !SKIP_FS.contains(&d.file_system().to_string_lossy().as_ref()))
                .map(|d| FilesystemUsage {
                    mount_point: d.mount_point().to_string_lossy().into_owned(),
                    filesystem: d.file_system().to_string_lossy().into_owned(),
                    total_bytes: d.total_space(),
                    used_bytes: d.total_space().saturating_sub(d.available_space()),
                    available_bytes: d.available_space(),
                })
                .collect()
        };

        let (failed, watched) = read_services(&settings.watched_services).await;
        let failed_services = failed.unwrap_or_else(|e| {
            errors.push(err(KIND, format!("failed services: {e}")));
            Vec::new()
        });
        let watched_services = watched.unwrap_or_else(|e| {
            errors.push(err(KIND, format!("watched services: {e}")));
            Vec::new()
        });
        let watched_processes = self.watched_processes(&settings.watched_processes);

        let health = Health {
            cpu_usage_ratio,
            load1: load.one,
            load5: load.five,
            load15: load.fifteen,
            memory_total_bytes: self.sys.total_memory(),
            memory_used_bytes: self.sys.used_memory(),
            swap_total_bytes: self.sys.total_swap(),
            swap_used_bytes: self.sys.used_swap(),
            filesystems,
            uptime_seconds: System::uptime(),
            failed_services,
            watched_services,
            watched_processes,
        };
        Collected {
            body: Some(Body::Health(health)),
            errors,
        }
    }

    /// The CPU's busy share since the previous sample (GetSystemTimes).
    fn windows_cpu(&mut self, errors: &mut Vec<tilsyn_proto::v1::ProbeError>) -> f64 {
        match platform::winsource::cpu_times() {
            Ok(now) => {
                let ratio = self
                    .cpu_times
                    .and_then(|before| platform::windows::cpu_busy_ratio(before, now));
                self.cpu_times = Some(now);
                ratio.unwrap_or(0.0)
            }
            Err(e) => {
                errors.push(err(KIND, format!("cpu: {e}")));
                0.0
            }
        }
    }

    /// Counts processes by name; only refreshed when something is watched, since listing
    /// every process is the most expensive part of a cycle.
    fn watched_processes(&mut self, names: &[String]) -> Vec<ProcessStatus> {
        if names.is_empty() {
            return Vec::new();
        }
        self.sys.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing().with_exe(UpdateKind::OnlyIfNotSet),
        );
        let mut counts: HashMap<&str, u32> = names.iter().map(|n| (n.as_str(), 0)).collect();
        for p in self.sys.processes().values() {
            let name = p.name().to_string_lossy();
            if let Some(c) = counts.get_mut(name.as_ref()) {
                *c += 1;
            }
        }
        names
            .iter()
            .map(|n| ProcessStatus {
                name: n.clone(),
                count: counts[n.as_str()],
            })
            .collect()
    }
}

type Services = Result<Vec<tilsyn_proto::v1::ServiceStatus>, platform::PlatformError>;

/// The failed services and the watched ones' states. Where one listing answers both (the
/// Windows service control manager, launchd) it is read once per cycle; a failure to read
/// it is the error of both.
async fn read_services(watched: &[String]) -> (Services, Services) {
    let none_watched = watched.is_empty();
    let both = |r: Result<(Vec<_>, Vec<_>), platform::PlatformError>| match r {
        Ok((failed, states)) => (Ok(failed), Ok(states)),
        Err(e) if none_watched => (Err(e), Ok(Vec::new())),
        Err(e) => (Err(e.clone()), Err(e)),
    };
    if cfg!(target_os = "windows") {
        both(platform::winsource::read_services(watched).await)
    } else if cfg!(target_os = "macos") {
        both(platform::macos::read_launchd().await.map(|jobs| {
            (
                platform::macos::failed_jobs(&jobs),
                platform::macos::watched_jobs(&jobs, watched),
            )
        }))
    } else {
        let failed = platform::systemd::read_failed().await;
        let states = if watched.is_empty() {
            Ok(Vec::new())
        } else {
            platform::systemd::read_watched(watched).await
        };
        (failed, states)
    }
}
