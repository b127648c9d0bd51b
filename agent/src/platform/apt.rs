//! Debian/Ubuntu pending updates from apt's *cached* package lists.
//!
//! `apt-get -s dist-upgrade` simulates an upgrade from the lists already on disk: it never
//! refreshes them over the network (the OS's apt timers do that) and, with
//! `Debug::NoLocking`, runs without root and without taking dpkg's lock.

use std::path::Path;

use tilsyn_proto::v1::{PatchLevel, PendingUpdate};

use super::{cmd, dpkg, PlatformError};

pub fn present() -> bool {
    cmd::on_path("apt-get") && dpkg::present()
}

/// Reads pending updates, list-refresh and install times, and the reboot flag.
pub async fn read_patches() -> Result<PatchLevel, PlatformError> {
    let out = cmd::run_ok(
        "apt-get",
        &[
            "-s",
            "-q",
            "-o",
            "Debug::NoLocking=true",
            "-o",
            "APT::Get::Show-User-Simulation-Note=false",
            "dist-upgrade",
        ],
        cmd::DEFAULT_TIMEOUT,
    )
    .await?;
    let updates = parse_simulation(&out);
    // update-notifier's stamp is the most precise; otherwise the lists' own mtime.
    let last_refresh_ms = cmd::mtime_ms(Path::new("/var/lib/apt/periodic/update-success-stamp"))
        .or_else(|| newest_list_mtime(Path::new("/var/lib/apt/lists")));
    let last_install_ms = cmd::read(Path::new(dpkg::LOG))
        .ok()
        .and_then(|l| dpkg::parse_last_install(&l))
        .or_else(|| cmd::mtime_ms(Path::new(dpkg::STATUS)));
    let reboot_required = Path::new("/var/run/reboot-required").exists();
    Ok(super::patch_level(
        "apt",
        updates,
        last_refresh_ms,
        last_install_ms,
        reboot_required,
    ))
}

fn newest_list_mtime(dir: &Path) -> Option<i64> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.ends_with("Release") || n.contains("_Packages")
        })
        .filter_map(|e| cmd::mtime_ms(&e.path()))
        .max()
}

/// Parses `Inst` lines of an apt simulation:
/// `Inst libssl3 [3.0.15-1~deb12u1] (3.0.17-1~deb12u2 Debian-Security:12/oldstable-security [amd64]) []`.
/// An update is a security update when any origin it comes from is a security archive.
pub fn parse_simulation(text: &str) -> Vec<PendingUpdate> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("Inst ") else {
            continue;
        };
        let mut parts = rest.splitn(2, ' ');
        let name = parts.next().unwrap_or_default().to_string();
        let mut rest = parts.next().unwrap_or_default().trim_start();
        let mut current = String::new();
        if let Some(r) = rest.strip_prefix('[') {
            if let Some(end) = r.find(']') {
                current = r[..end].to_string();
                rest = r[end + 1..].trim_start();
            }
        }
        let Some(r) = rest.strip_prefix('(') else {
            continue;
        };
        let inner = &r[..r.find(')').unwrap_or(r.len())];
        let (new_version, origins) = inner.split_once(' ').unwrap_or((inner, ""));
        // Drop the trailing "[arch]" and split multiple origins ("A, B").
        let origins = origins.split(" [").next().unwrap_or_default().trim();
        let security = origins
            .split(", ")
            .any(|o| o.to_ascii_lowercase().contains("security"));
        out.push(PendingUpdate {
            name,
            current_version: current,
            new_version: new_version.to_string(),
            security,
            origin: origins.to_string(),
            since_ms: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOKWORM: &str =
        include_str!("../../tests/fixtures/debian/apt-get-s-dist-upgrade-bookworm.txt");

    #[test]
    fn parses_a_recorded_simulation() {
        let ups = parse_simulation(BOOKWORM);
        assert_eq!(ups.len(), 80);
        let bash = ups.iter().find(|u| u.name == "bash").unwrap();
        assert_eq!(bash.current_version, "5.2.15-2+b8");
        assert_eq!(bash.new_version, "5.2.15-2+b13");
        assert!(!bash.security);
        assert_eq!(bash.origin, "Debian:12.14/oldstable");
        let gnutls = ups.iter().find(|u| u.name == "libgnutls30").unwrap();
        assert!(gnutls.security, "{gnutls:?}");
        let login = ups.iter().find(|u| u.name == "login").unwrap();
        assert_eq!(login.current_version, "1:4.13+dfsg1-1+deb12u1");
        let n_sec = ups.iter().filter(|u| u.security).count();
        assert!(n_sec > 0 && n_sec < 80, "{n_sec}");
    }

    #[test]
    fn multiple_origins_and_new_installs() {
        let t = "Inst libfoo [1.0] (1.1 Debian:12.14/oldstable, Debian-Security:12/oldstable-security [amd64])\nInst newpkg (2.0 Debian:12/stable [all])\nConf libfoo (1.1 Debian:12/stable [amd64])\n";
        let ups = parse_simulation(t);
        assert_eq!(ups.len(), 2);
        assert!(ups[0].security);
        assert_eq!(ups[1].current_version, "");
        assert_eq!(ups[1].new_version, "2.0");
    }

    #[test]
    fn counts_and_oldest_security() {
        let mut ups = parse_simulation(BOOKWORM);
        for (i, u) in ups.iter_mut().enumerate() {
            u.since_ms = Some(1_000 + i as i64);
        }
        let first_sec = ups.iter().find(|u| u.security).unwrap().since_ms;
        let p = super::super::patch_level("apt", ups, Some(5), None, true);
        assert_eq!(p.pending_count, 80);
        assert_eq!(p.oldest_security_since_ms, first_sec);
        assert!(p.reboot_required);
        assert!(parse_simulation("Reading package lists...\n0 upgraded").is_empty());
    }
}
