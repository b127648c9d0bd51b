//! Placeholder until the dnf source lands.
use super::PlatformError;
use tilsyn_proto::v1::*;
pub fn present() -> bool {
    false
}
#[allow(dead_code)]
fn unused(_: Package, _: PatchLevel) -> PlatformError {
    PlatformError::Unsupported("dnf".into())
}
pub async fn read_patches() -> Result<PatchLevel, PlatformError> {
    Err(PlatformError::Unsupported("dnf".into()))
}
