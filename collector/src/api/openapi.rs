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

#[cfg(test)]
mod tests {
    use super::*;

    /// The document and the route table describe the same routes with the same roles: a
    /// route without an operation, or an operation without a route, fails here.
    #[test]
    fn every_route_has_its_operation_with_its_roles_and_no_other() {
        let doc = &*DOCUMENT;
        assert_eq!(doc["openapi"], "3.1.0");
        let mut in_doc = std::collections::BTreeSet::new();
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            for (method, op) in ops.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let roles: Vec<&str> = op["x-tilsyn-roles"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{method} {path}: no x-tilsyn-roles"))
                    .iter()
                    .map(|r| r.as_str().unwrap())
                    .collect();
                in_doc.insert((method.to_uppercase(), path.clone(), roles));
            }
        }
        let in_table: std::collections::BTreeSet<_> = super::super::ROUTES
            .iter()
            .map(|r| {
                let roles = if r.need == crate::access::Need::Public {
                    vec![]
                } else {
                    r.need.roles()
                };
                (r.method.to_string(), r.path.to_string(), roles)
            })
            .collect();
        assert_eq!(
            in_doc.difference(&in_table).collect::<Vec<_>>(),
            Vec::<&(String, String, Vec<&str>)>::new(),
            "operations of the document not in ROUTES (or with other roles)"
        );
        assert_eq!(
            in_table.difference(&in_doc).collect::<Vec<_>>(),
            Vec::<&(String, String, Vec<&str>)>::new(),
            "routes of ROUTES not in the document (or with other roles)"
        );
    }
}
