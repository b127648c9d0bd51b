//! `GET /api/v1/sla`: the SLA report of a month (`?month=2026-11`, default the current
//! one) or of the last 30 days (`?period=30d`), for every department or one
//! (`?department=`) — the same figures as `tilsyn-collector report sla` and the
//! `tilsyn_sla_*` metrics. Each service shows, beside its availability, `counted_ms`,
//! `down_ms`, `planned_ms` and `unmonitored_ms` (the collector's own gaps that the hosts'
//! spooled health does not cover: neither up nor down), its `state` at the end of what
//! was measured (`up`, `down`, `planned`, `unmonitored`, `no_hosts`) and its hosts
//! unhealthy / in maintenance / unmonitored then.

use std::sync::Arc;

use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::ApiError;
use crate::access::Caller;
use crate::services::sla::Sla;
use tilsyn_collector_core::sla::report::Period;

/// The SLA route uses the evaluator alone (`None`: no SLA file configured).
pub fn routes(sla: Option<Arc<Sla>>) -> Router {
    Router::new()
        .route("/api/v1/sla", get(report))
        .with_state(sla)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlaQuery {
    month: Option<String>,
    period: Option<String>,
    department: Option<String>,
}

async fn report(
    State(sla): State<Option<Arc<Sla>>>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<SlaQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let bad = |m: String| ApiError(StatusCode::BAD_REQUEST, m);
    let Query(q) = q.map_err(|e| bad(format!("{e}; parameters: month, period, department")))?;
    let Some(sla) = sla else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "no SLA configured: set sla.file in the collector config (see configs/sla.md)".into(),
        ));
    };
    let now = sla.now_ms();
    let policy = sla.policy();
    let period = Period::chosen(
        q.month.as_deref(),
        q.period.as_deref(),
        &policy.time_zone,
        now,
    )
    .map_err(bad)?;
    if let Some(d) = &q.department {
        if !caller.sees(d) {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("no department {d:?}"),
            ));
        }
        policy.check_department(d).map_err(bad)?;
    }
    let report = tokio::task::spawn_blocking(move || {
        crate::services::sla::report(
            &**sla.store(),
            &sla.catalogue(),
            &period,
            q.department.as_deref(),
            now,
        )
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unavailable: {e}"),
        )
    })?;
    let mut report = report;
    report.departments.retain(|d| caller.sees(&d.id));
    Ok(Json(serde_json::to_value(report).unwrap_or_default()))
}
