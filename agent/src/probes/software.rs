//! Installed software from every package source present on this machine.

use tilsyn_proto::v1::{report::Body, Package, SoftwareList};

use super::{err, Collected, ProbeKind};
use crate::platform::{self, PlatformError, SoftwareSource};

const KIND: ProbeKind = ProbeKind::Software;

pub async fn collect() -> Collected {
    let mut packages = Vec::new();
    let mut errors = Vec::new();
    let mut any_source = false;
    for &src in platform::software_sources() {
        match read(src).await {
            Ok(Some(mut p)) => {
                any_source = true;
                packages.append(&mut p);
            }
            Ok(None) => {}
            Err(e) => {
                any_source = true;
                errors.push(err(KIND, format!("{src:?}: {e}")));
            }
        }
    }
    if !any_source {
        return Collected::error(KIND, "no package database found (dpkg, rpm, ...)");
    }
    if packages.is_empty() && !errors.is_empty() {
        return Collected { body: None, errors };
    }
    packages.sort_by(|a, b| (&a.name, &a.arch, &a.source).cmp(&(&b.name, &b.arch, &b.source)));
    let mut list = SoftwareList {
        content_hash: String::new(),
        packages,
    };
    list.content_hash = crate::report::software_hash(&list);
    Collected {
        body: Some(Body::Software(list)),
        errors,
    }
}

/// `Ok(None)` when the source is not on this machine.
async fn read(src: SoftwareSource) -> Result<Option<Vec<Package>>, PlatformError> {
    Ok(Some(match src {
        SoftwareSource::Dpkg if platform::dpkg::present() => platform::dpkg::read_software()?,
        SoftwareSource::Rpm if platform::rpm::present() => platform::rpm::read_software().await?,
        SoftwareSource::WindowsRegistry => platform::winsource::read_software().await?,
        SoftwareSource::MacApps => platform::macos::read_applications().await?,
        SoftwareSource::MacPkgutil => platform::macos::read_pkgutil().await?,
        _ => return Ok(None),
    }))
}
