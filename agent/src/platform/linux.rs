//! Linux-only facts that have no package manager behind them: DMI/SMBIOS identity, the
//! machine id, the FQDN.

use std::path::Path;
use std::time::Duration;

use super::{cmd, PlatformError};

const DMI: &str = "/sys/class/dmi/id";

/// Hardware vendor, model and serial from sysfs DMI. The serial is readable by root only;
/// each unreadable field comes back as an error next to the fields that were read.
pub fn read_dmi() -> (String, String, String, Vec<PlatformError>) {
    let mut errors = Vec::new();
    let mut field = |name: &str| match cmd::read(&Path::new(DMI).join(name)) {
        Ok(v) => clean_dmi(&v),
        Err(e) => {
            errors.push(e);
            String::new()
        }
    };
    let vendor = field("sys_vendor");
    let model = field("product_name");
    let serial = field("product_serial");
    // No DMI at all (containers, some ARM boards) is one error, not three.
    if !Path::new(DMI).exists() {
        errors = vec![PlatformError::NotFound(DMI.into())];
    }
    (vendor, model, serial, errors)
}

/// Firmware fills unset DMI fields with placeholders; those are no information.
pub fn clean_dmi(v: &str) -> String {
    let v = v.trim();
    let lower = v.to_ascii_lowercase();
    const PLACEHOLDERS: [&str; 6] = [
        "to be filled by o.e.m.",
        "default string",
        "system serial number",
        "not specified",
        "none",
        "0123456789",
    ];
    if PLACEHOLDERS.contains(&lower.as_str()) {
        String::new()
    } else {
        v.to_string()
    }
}

/// `/etc/machine-id` (systemd), falling back to D-Bus's copy.
pub fn machine_id() -> Option<String> {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| cmd::read(Path::new(p)).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The FQDN as the resolver sees it (`hostname -f`, which GNU and BSD/macOS hostname both
/// understand), bounded: a slow DNS must not stall the inventory.
pub async fn fqdn() -> Result<String, PlatformError> {
    let out = cmd::run_ok("hostname", &["-f"], Duration::from_secs(3)).await?;
    Ok(out.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_empty() {
        assert_eq!(clean_dmi("To Be Filled By O.E.M.\n"), "");
        assert_eq!(clean_dmi(" LENOVO \n"), "LENOVO");
        assert_eq!(clean_dmi("Default string"), "");
    }
}
