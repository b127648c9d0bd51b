//! systemd units: failed units and the state of watched services, via `systemctl`.

use tilsyn_proto::v1::ServiceStatus;

use super::{cmd, PlatformError};

/// Whether systemd manages this machine (sd_booted(3): the directory exists only then).
pub fn booted() -> bool {
    std::path::Path::new("/run/systemd/system").is_dir()
}

fn not_booted() -> PlatformError {
    PlatformError::Unsupported(
        "systemd is not running on this host (no /run/systemd/system), so its units cannot be checked".into(),
    )
}

pub async fn read_failed() -> Result<Vec<ServiceStatus>, PlatformError> {
    if !booted() {
        return Err(not_booted());
    }
    let out = cmd::run_ok(
        "systemctl",
        &[
            "list-units",
            "--state=failed",
            "--no-legend",
            "--plain",
            "--no-pager",
        ],
        cmd::DEFAULT_TIMEOUT,
    )
    .await?;
    Ok(parse_failed(&out))
}

/// `systemctl is-active a b c` prints one state per name, in order; its exit status is
/// non-zero whenever any is inactive, so only the text counts.
pub async fn read_watched(names: &[String]) -> Result<Vec<ServiceStatus>, PlatformError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    if !booted() {
        return Err(not_booted());
    }
    let mut args = vec!["is-active"];
    args.extend(names.iter().map(String::as_str));
    let out = cmd::run("systemctl", &args, cmd::DEFAULT_TIMEOUT).await?;
    parse_is_active(names, &out.stdout).ok_or_else(|| {
        PlatformError::parse(
            "systemctl is-active",
            format!("expected {} lines, got: {}", names.len(), out.stderr.trim()),
        )
    })
}

/// Parses `UNIT LOAD ACTIVE SUB DESCRIPTION` lines (the `--plain --no-legend` format).
pub fn parse_failed(text: &str) -> Vec<ServiceStatus> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let unit = f.next()?.trim_start_matches('●');
            let unit = if unit.is_empty() { f.next()? } else { unit };
            let _load = f.next()?;
            let active = f.next()?;
            Some(ServiceStatus {
                name: unit.to_string(),
                active: false,
                state: active.to_string(),
            })
        })
        .collect()
}

/// Pairs names with `is-active` answers; `None` when the counts differ.
pub fn parse_is_active(names: &[String], text: &str) -> Option<Vec<ServiceStatus>> {
    let states: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if states.len() != names.len() {
        return None;
    }
    Some(
        names
            .iter()
            .zip(states)
            .map(|(n, s)| ServiceStatus {
                name: n.clone(),
                active: s == "active" || s == "reloading",
                state: s.to_string(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_units() {
        let f = parse_failed(include_str!(
            "../../tests/fixtures/linux/systemctl-failed.txt"
        ));
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].name, "logrotate.service");
        assert_eq!(f[0].state, "failed");
        assert!(f.iter().all(|s| !s.active));
        assert_eq!(
            parse_failed("● x.service loaded failed failed X")[0].name,
            "x.service"
        );
        assert!(parse_failed("").is_empty());
    }

    #[test]
    fn watched_states_pair_with_names() {
        let names: Vec<String> = ["sshd", "cups", "nfs-server", "nope"]
            .map(String::from)
            .into();
        let s = parse_is_active(
            &names,
            include_str!("../../tests/fixtures/linux/systemctl-is-active.txt"),
        )
        .unwrap();
        assert!(s[0].active);
        assert!(!s[1].active && s[2].state == "failed" && s[3].state == "unknown");
        assert!(parse_is_active(&names, "active\n").is_none());
    }
}
