//! Debian/Ubuntu installed packages: `/var/lib/dpkg/status`, read directly (no dpkg-query
//! process, no lock) — the cheapest complete source there is.

use std::path::Path;

use tilsyn_proto::v1::Package;

use super::time::parse_timestamp_ms;
use super::{cmd, PlatformError};

pub const STATUS: &str = "/var/lib/dpkg/status";
pub const LOG: &str = "/var/log/dpkg.log";

pub fn present() -> bool {
    Path::new(STATUS).is_file()
}

pub fn read_software() -> Result<Vec<Package>, PlatformError> {
    let text = cmd::read(Path::new(STATUS))?;
    parse_status(&text)
}

/// Parses the dpkg status database: RFC-822 stanzas separated by blank lines. Only
/// packages whose `Status:` ends in `installed` count (not `config-files`, `half-installed`).
pub fn parse_status(text: &str) -> Result<Vec<Package>, PlatformError> {
    let mut out = Vec::new();
    let mut saw_package = false;
    for stanza in text.split("\n\n") {
        let mut name = "";
        let mut version = "";
        let mut arch = "";
        let mut installed = false;
        for line in stanza.lines() {
            // Continuation lines (descriptions, conffiles) start with a space.
            if line.starts_with(' ') || line.starts_with('\t') {
                continue;
            }
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim();
            match k {
                "Package" => name = v,
                "Version" => version = v,
                "Architecture" => arch = v,
                "Status" => installed = v.split_whitespace().last() == Some("installed"),
                _ => {}
            }
        }
        if name.is_empty() {
            continue;
        }
        saw_package = true;
        if installed {
            out.push(Package {
                name: name.to_string(),
                version: version.to_string(),
                arch: arch.to_string(),
                source: "dpkg".into(),
            });
        }
    }
    if !saw_package && !text.trim().is_empty() {
        return Err(PlatformError::parse(
            STATUS,
            "no 'Package:' stanza found; is this a dpkg status file?",
        ));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.arch.cmp(&b.arch)));
    Ok(out)
}

/// Time of the last package install/upgrade from `/var/log/dpkg.log` lines such as
/// `2026-09-22 04:51:30 status installed osslsigncode:amd64 2.9-1~bpo12+1` (local time;
/// taken as UTC, which is close enough for "days since last install").
pub fn parse_last_install(log: &str) -> Option<i64> {
    log.lines()
        .rev()
        .find(|l| l.contains(" status installed "))
        .and_then(|l| parse_timestamp_ms(l.get(..19)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_real_status_file() {
        let pkgs = parse_status(include_str!("../../tests/fixtures/debian/dpkg-status")).unwrap();
        assert!(pkgs.len() >= 30, "{}", pkgs.len());
        assert!(pkgs
            .iter()
            .all(|p| p.source == "dpkg" && !p.version.is_empty()));
        assert!(pkgs.windows(2).all(|w| w[0].name <= w[1].name));
    }

    #[test]
    fn only_installed_packages_count() {
        let text = "Package: a\nStatus: install ok installed\nVersion: 1:2.0-1\nArchitecture: amd64\nDescription: x\n multi\n line\n\nPackage: b\nStatus: deinstall ok config-files\nVersion: 1\n";
        let pkgs = parse_status(text).unwrap();
        assert_eq!(pkgs.len(), 1);
        assert_eq!(pkgs[0].version, "1:2.0-1");
        assert_eq!(pkgs[0].arch, "amd64");
    }

    #[test]
    fn garbage_is_an_error_and_empty_is_empty() {
        assert!(parse_status("this is not\na status file").is_err());
        assert!(parse_status("").unwrap().is_empty());
    }

    #[test]
    fn last_install_from_the_log() {
        let t = parse_last_install(include_str!("../../tests/fixtures/debian/dpkg.log")).unwrap();
        assert_eq!(t, parse_timestamp_ms("2026-09-22 04:51:30").unwrap());
        assert_eq!(parse_timestamp_ms("1970-01-02 00:00:00"), Some(86_400_000));
        assert_eq!(
            parse_timestamp_ms("2024-02-29 12:00:00"),
            Some(1_709_208_000_000)
        );
        assert_eq!(parse_timestamp_ms("2024-13-01 00:00:00"), None);
        // Years beyond four digits would overflow: no date (found by the fuzzer).
        assert_eq!(parse_timestamp_ms("20222527314-08-08T05:32:10Z"), None);
        assert_eq!(parse_timestamp_ms("0-01-01"), None);
        assert!(parse_timestamp_ms("9999-12-31T23:59:59Z").is_some());
    }
}
