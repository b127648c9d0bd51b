//! Compliance endpoints: one host's results and facts, pass rates per standard, standing
//! per department, findings, waivers, and the state of the loaded standards.

use std::sync::Arc;

use axum::extract::{Path, Query, State as Handles};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use super::ApiError;
use crate::services::compliance::Compliance;
use crate::store_handle::StoreHandle;
use tilsyn_collector_core::compliance::report::FindingFilter;

/// What the compliance routes use.
#[derive(Clone)]
pub struct State {
    pub compliance: Arc<Compliance>,
    pub store: StoreHandle,
    pub clock: fn() -> i64,
}

pub fn routes(state: State) -> Router {
    Router::new()
        .route("/api/v1/hosts/{agent_id}/compliance", get(host))
        .route("/api/v1/hosts/{agent_id}/facts", get(facts))
        .route("/api/v1/compliance/standards", get(standards))
        .route("/api/v1/compliance/standards/{id}", get(standard))
        .route("/api/v1/compliance/departments", get(departments))
        .route("/api/v1/compliance/findings", get(findings))
        .route("/api/v1/compliance/waivers", get(waivers))
        .route("/api/v1/compliance/status", get(status))
        .with_state(state)
}

fn not_found(what: String) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, what)
}

async fn host(
    Handles(s): Handles<State>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    match s.compliance.host(&id) {
        Some(v) => Ok(Json(serde_json::json!({ "agent_id": id, "standards": v }))),
        None => Err(not_found(format!(
            "no compliance results for agent id {id:?} (unknown host, or not evaluated yet)"
        ))),
    }
}

/// The host's facts as a facts file: save it and try a standard with `standards test`.
async fn facts(
    Handles(s): Handles<State>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (key, now) = (id.clone(), (s.clock)());
    match super::store(&s.store, "host_facts", move |st| {
        crate::services::compliance::host_facts(st, &key, now)
    })
    .await?
    {
        Some(f) => Ok(Json(serde_json::to_value(f).unwrap_or_default())),
        None => Err(not_found(format!("no host with agent id {id:?}"))),
    }
}

async fn standards(Handles(s): Handles<State>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "standards": s.compliance.standards() }))
}

async fn standard(
    Handles(s): Handles<State>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    s.compliance
        .standards()
        .into_iter()
        .find(|v| v.standard == id)
        .map(|v| Json(serde_json::to_value(v).unwrap_or_default()))
        .ok_or_else(|| {
            not_found(format!(
                "no standard {id:?} loaded; see /api/v1/compliance/standards"
            ))
        })
}

async fn departments(Handles(s): Handles<State>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "departments": s.compliance.departments() }))
}

async fn findings(
    Handles(s): Handles<State>,
    q: Result<Query<FindingFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = q.map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("{e}; filters: state, department, standard, severity, agent_id"),
        )
    })?;
    if let Some(st) = &q.state {
        if !["fail", "unknown", "waived"].contains(&st.as_str()) {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("state {st:?}: findings are fail, unknown or waived"),
            ));
        }
    }
    let c = s.compliance.clone();
    let list = tokio::task::spawn_blocking(move || c.findings(&q))
        .await
        .unwrap_or_default();
    Ok(Json(
        serde_json::json!({ "count": list.len(), "findings": list }),
    ))
}

async fn waivers(Handles(s): Handles<State>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "waivers": s.compliance.waivers() }))
}

async fn status(Handles(s): Handles<State>) -> Json<serde_json::Value> {
    Json(serde_json::to_value(s.compliance.status()).unwrap_or_default())
}
