//! Compliance endpoints: one host's results and facts, pass rates per standard, standing
//! per department, findings, waivers, and the state of the loaded standards.

use std::sync::Arc;

use axum::extract::{Extension, Path, Query, State as Handles};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use super::{visible_host, ApiError};
use crate::access::Caller;
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
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    visible_host(&s.store, &caller, &id).await?;
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
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    visible_host(&s.store, &caller, &id).await?;
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

/// Pass rates over the fleet, or over a department reader's departments.
fn standards_for(
    s: &State,
    caller: &Caller,
) -> Vec<tilsyn_collector_core::compliance::report::StandardView> {
    match caller.scope() {
        None => s.compliance.standards(),
        Some(d) => s.compliance.standards_in(d),
    }
}

async fn standards(
    Handles(s): Handles<State>,
    Extension(caller): Extension<Caller>,
) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "standards": standards_for(&s, &caller) }))
}

async fn standard(
    Handles(s): Handles<State>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    standards_for(&s, &caller)
        .into_iter()
        .find(|v| v.standard == id)
        .map(|v| Json(serde_json::to_value(v).unwrap_or_default()))
        .ok_or_else(|| {
            not_found(format!(
                "no standard {id:?} loaded; see /api/v1/compliance/standards"
            ))
        })
}

async fn departments(
    Handles(s): Handles<State>,
    Extension(caller): Extension<Caller>,
) -> Json<serde_json::Value> {
    let mut d = s.compliance.departments();
    d.retain(|v| caller.sees(&v.department));
    Json(serde_json::json!({ "departments": d }))
}

async fn findings(
    Handles(s): Handles<State>,
    Extension(caller): Extension<Caller>,
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
    let mut list = tokio::task::spawn_blocking(move || c.findings(&q))
        .await
        .unwrap_or_default();
    list.retain(|f| caller.sees(&f.department));
    Ok(Json(
        serde_json::json!({ "count": list.len(), "findings": list }),
    ))
}

/// A department reader sees the waivers made for its departments (not those naming hosts
/// of any department, which would tell it other departments' hostnames).
async fn waivers(
    Handles(s): Handles<State>,
    Extension(caller): Extension<Caller>,
) -> Json<serde_json::Value> {
    let mut w = s.compliance.waivers();
    if caller.scope().is_some() {
        w.retain(|v| {
            v.waiver
                .department
                .as_deref()
                .is_some_and(|d| caller.sees(d))
        });
    }
    Json(serde_json::json!({ "waivers": w }))
}

async fn status(Handles(s): Handles<State>) -> Json<serde_json::Value> {
    Json(serde_json::to_value(s.compliance.status()).unwrap_or_default())
}
