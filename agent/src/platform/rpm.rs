//! Placeholder until the rpm source lands.
use super::PlatformError;
use tilsyn_proto::v1::*;
pub fn present() -> bool {
    false
}
#[allow(dead_code)]
fn unused(_: Package, _: PatchLevel) -> PlatformError {
    PlatformError::Unsupported("rpm".into())
}
pub async fn read_software() -> Result<Vec<Package>, PlatformError> {
    Err(PlatformError::Unsupported("rpm".into()))
}
