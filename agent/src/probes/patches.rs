//! Patch level from the first package manager present: pending and security updates, age
//! of the oldest pending security update, last refresh / install, reboot required.

use std::path::Path;

use tilsyn_proto::v1::{report::Body, PatchLevel};

use super::{err, Collected, ProbeKind};
use crate::platform::{self, first_seen, PatchSource, PlatformError};

const KIND: ProbeKind = ProbeKind::Patches;
const FIRST_SEEN_FILE: &str = "patch-first-seen.json";

pub async fn collect(state_dir: &Path) -> Collected {
    let mut result = None;
    for &src in platform::patch_sources() {
        if let Some(r) = read(src).await {
            result = Some(r);
            break;
        }
    }
    let mut level = match result {
        None => return Collected::error(KIND, "no supported package manager found"),
        Some(Err(e)) => return Collected::error(KIND, e.to_string()),
        Some(Ok(l)) => l,
    };
    let mut errors = Vec::new();
    // Updates whose publication date the manager does not give get the date this agent
    // first saw them pending (remembered across restarts).
    let path = state_dir.join(FIRST_SEEN_FILE);
    let mut seen: first_seen::FirstSeen = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    first_seen::apply(&mut level.updates, &mut seen, crate::now_ms());
    level.oldest_security_since_ms = level
        .updates
        .iter()
        .filter(|u| u.security)
        .filter_map(|u| u.since_ms)
        .min();
    if let Err(e) =
        crate::state::write_private(&path, &serde_json::to_vec(&seen).unwrap_or_default())
    {
        errors.push(err(
            KIND,
            format!("remembering first-seen dates in {}: {e}", path.display()),
        ));
    }
    Collected {
        body: Some(Body::Patches(level)),
        errors,
    }
}

async fn read(src: PatchSource) -> Option<Result<PatchLevel, PlatformError>> {
    Some(match src {
        PatchSource::Apt if platform::apt::present() => platform::apt::read_patches().await,
        PatchSource::Dnf if platform::dnf::present() => platform::dnf::read_patches().await,
        PatchSource::Zypper if platform::zypper::present() => {
            platform::zypper::read_patches().await
        }
        PatchSource::WindowsUpdate => platform::winsource::read_patches().await,
        PatchSource::SoftwareUpdate => platform::macos::read_patches().await,
        _ => return None,
    })
}
