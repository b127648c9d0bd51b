//! Placeholder until the macOS sources land.
use super::PlatformError;
use tilsyn_proto::v1::*;
fn no() -> PlatformError {
    PlatformError::Unsupported("macos".into())
}
pub async fn read_applications() -> Result<Vec<Package>, PlatformError> {
    Err(no())
}
pub async fn read_pkgutil() -> Result<Vec<Package>, PlatformError> {
    Err(no())
}
pub async fn read_patches() -> Result<PatchLevel, PlatformError> {
    Err(no())
}
pub async fn read_hardware() -> Result<Hardware, PlatformError> {
    Err(no())
}
pub async fn read_os() -> Result<OsInfo, PlatformError> {
    Err(no())
}
