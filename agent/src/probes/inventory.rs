//! Inventory: identity, OS, hardware, disks and network interfaces of this machine.

use sysinfo::{Disks, Networks, System};
use tilsyn_proto::v1::{report::Body, Disk, Hardware, Inventory, NetInterface, OsInfo};

use super::{err, Collected, ProbeKind};
use crate::platform::{self, PlatformError};

const KIND: ProbeKind = ProbeKind::Inventory;

pub async fn collect() -> Collected {
    let mut errors = Vec::new();
    let hostname = System::host_name().unwrap_or_default();
    let os = match read_os().await {
        Ok(os) => os,
        Err(e) => {
            errors.push(err(KIND, format!("os: {e}")));
            OsInfo {
                family: std::env::consts::OS.into(),
                name: System::name().unwrap_or_default(),
                version: System::os_version().unwrap_or_default(),
                ..Default::default()
            }
        }
    };
    let fqdn = if cfg!(target_os = "windows") {
        hostname.clone()
    } else {
        match platform::linux::fqdn().await {
            Ok(f) if !f.is_empty() => f,
            Ok(_) => hostname.clone(),
            Err(e) => {
                errors.push(err(KIND, format!("fqdn: {e}")));
                hostname.clone()
            }
        }
    };

    let (hardware, disks) = if cfg!(target_os = "windows") {
        windows_hardware(&mut errors).await
    } else {
        (hardware(&mut errors).await, sysinfo_disks())
    };

    let mut interfaces: Vec<NetInterface> = Networks::new_with_refreshed_list()
        .iter()
        .map(|(name, data)| {
            let mut addresses: Vec<String> = data
                .ip_networks()
                .iter()
                .map(|n| format!("{}/{}", n.addr, n.prefix))
                .collect();
            addresses.sort();
            NetInterface {
                name: name.clone(),
                mac: data.mac_address().to_string(),
                addresses,
            }
        })
        .collect();
    interfaces.sort_by(|a, b| a.name.cmp(&b.name));

    let mut inv = Inventory {
        content_hash: String::new(),
        hostname,
        fqdn,
        os: Some(os),
        kernel_version: System::kernel_version().unwrap_or_default(),
        arch: std::env::consts::ARCH.into(),
        hardware: Some(hardware),
        disks,
        interfaces,
        boot_time_ms: Some(System::boot_time() as i64 * 1000),
        agent_version: env!("CARGO_PKG_VERSION").into(),
        machine_id: machine_id().unwrap_or_default(),
    };
    inv.content_hash = crate::report::inventory_hash(&inv);
    Collected {
        body: Some(Body::Inventory(inv)),
        errors,
    }
}

/// CPU, memory and disks through sysinfo, the machine's identity from the platform.
async fn hardware(errors: &mut Vec<tilsyn_proto::v1::ProbeError>) -> Hardware {
    let mut sys = System::new();
    sys.refresh_cpu_all();
    sys.refresh_memory();
    let cpus = sys.cpus();
    let mut hardware = Hardware {
        cpu_model: cpus
            .first()
            .map(|c| c.brand().trim().to_string())
            .unwrap_or_default(),
        cpu_cores: System::physical_core_count().unwrap_or(cpus.len()) as u32,
        cpu_threads: cpus.len() as u32,
        memory_bytes: sys.total_memory(),
        ..Default::default()
    };
    match read_identity().await {
        Ok((vendor, model, serial, partial)) => {
            hardware.vendor = vendor;
            hardware.model = model;
            hardware.serial = serial;
            errors.extend(
                partial
                    .into_iter()
                    .map(|e| err(KIND, format!("hardware: {e}"))),
            );
        }
        Err(e) => errors.push(err(KIND, format!("hardware: {e}"))),
    }
    hardware
}

fn sysinfo_disks() -> Vec<Disk> {
    Disks::new_with_refreshed_list()
        .iter()
        .map(|d| Disk {
            device: d.name().to_string_lossy().into_owned(),
            mount_point: d.mount_point().to_string_lossy().into_owned(),
            filesystem: d.file_system().to_string_lossy().into_owned(),
            total_bytes: d.total_space(),
            removable: d.is_removable(),
        })
        .collect()
}

/// On Windows everything from Windows' own APIs (`platform::winapi`): sysinfo's CPU
/// refresh goes through PDH, which is slow to open and missing under Wine.
async fn windows_hardware(errors: &mut Vec<tilsyn_proto::v1::ProbeError>) -> (Hardware, Vec<Disk>) {
    let hardware = match platform::winsource::read_hardware().await {
        Ok((h, partial)) => {
            errors.extend(
                partial
                    .into_iter()
                    .map(|e| err(KIND, format!("hardware: {e}"))),
            );
            h
        }
        Err(e) => {
            errors.push(err(KIND, format!("hardware: {e}")));
            Hardware::default()
        }
    };
    let disks = platform::winsource::fixed_volumes()
        .into_iter()
        .map(|v| Disk {
            device: v.root.clone(),
            mount_point: v.root,
            filesystem: v.filesystem,
            total_bytes: v.total_bytes,
            removable: false,
        })
        .collect();
    (hardware, disks)
}

async fn read_os() -> Result<OsInfo, PlatformError> {
    if cfg!(target_os = "windows") {
        platform::winsource::read_os().await
    } else if cfg!(target_os = "macos") {
        platform::macos::read_os().await
    } else {
        platform::os_release::read()
    }
}

type Identity = (String, String, String, Vec<PlatformError>);

async fn read_identity() -> Result<Identity, PlatformError> {
    if cfg!(target_os = "macos") {
        let h = platform::macos::read_hardware().await?;
        Ok((h.vendor, h.model, h.serial, Vec::new()))
    } else {
        Ok(platform::linux::read_dmi())
    }
}

pub fn machine_id() -> Option<String> {
    if cfg!(target_os = "linux") {
        platform::linux::machine_id()
    } else {
        None
    }
}
