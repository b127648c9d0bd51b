//! The API's contract: `openapi.yaml` beside this file (OpenAPI 3.1), served as JSON at
//! `/api/v1/openapi.json`. Every route of [`super::ROUTES`] has its operation there, with
//! the roles that may call it (`x-tilsyn-roles`); a test holds the two together.

use std::sync::LazyLock;

use axum::Json;

/// The document as written.
pub const YAML: &str = include_str!("openapi.yaml");

/// The document as JSON (parsed once; the test makes sure it parses).
pub static DOCUMENT: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let v: serde_yaml::Value = serde_yaml::from_str(YAML).expect("openapi.yaml is YAML");
    serde_json::to_value(v).expect("openapi.yaml converts to JSON")
});

pub async fn serve() -> Json<serde_json::Value> {
    Json(DOCUMENT.clone())
}
