//! Placeholder until the zypper source lands.
use super::PlatformError;
use tilsyn_proto::v1::*;
pub fn present() -> bool {
    false
}
#[allow(dead_code)]
fn unused(_: Package, _: PatchLevel) -> PlatformError {
    PlatformError::Unsupported("zypper".into())
}
pub async fn read_patches() -> Result<PatchLevel, PlatformError> {
    Err(PlatformError::Unsupported("zypper".into()))
}
