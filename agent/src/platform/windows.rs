//! Placeholder until the Windows sources land.
use super::PlatformError;
use tilsyn_proto::v1::*;
fn no() -> PlatformError {
    PlatformError::Unsupported("windows".into())
}
pub async fn read_software() -> Result<Vec<Package>, PlatformError> {
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
pub async fn read_stopped_services() -> Result<Vec<ServiceStatus>, PlatformError> {
    Err(no())
}
