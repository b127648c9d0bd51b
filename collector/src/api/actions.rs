//! Acting on the fleet over HTTP (admin and operator tokens): retire, move and revoke a
//! host; make, extend and end a change window; grant and withdraw a waiver. The same code
//! as the command line ([`crate::services::lifecycle`], [`crate::services::waivers`]);
//! each action lands in the audit trail with the caller.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

use super::ApiError;
use crate::access::Caller;
use crate::ingest::Shared;
use crate::services::lifecycle::{self, ActionError, HostAction, NewWindow, WindowEnd};
use crate::services::waivers::{self, NewWaiver, WaiverEnd};

pub fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/hosts/{agent_id}/retire", post(retire))
        .route("/api/v1/hosts/{agent_id}/move", post(move_host))
        .route("/api/v1/hosts/{agent_id}/revoke", post(revoke))
        .route("/api/v1/maintenance", post(create_window))
        .route("/api/v1/maintenance/{id}/extend", post(extend_window))
        .route("/api/v1/maintenance/{id}/end", post(end_window))
        .route("/api/v1/compliance/waivers", post(grant_waiver))
        .route("/api/v1/compliance/waivers/{id}/end", post(withdraw_waiver))
        .with_state(shared)
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        let code = match &e {
            ActionError::NotFound(_) => StatusCode::NOT_FOUND,
            ActionError::Invalid(_) => StatusCode::BAD_REQUEST,
            ActionError::Conflict(_) => StatusCode::CONFLICT,
            ActionError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError(code, e.to_string())
    }
}

/// The JSON body, or a 400 that says what was wrong with it.
pub fn body<T>(b: Result<Json<T>, JsonRejection>, fields: &str) -> Result<T, ApiError> {
    b.map(|Json(v)| v).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("{}; the body is JSON with {fields}", e.body_text()),
        )
    })
}

/// Runs a store action on the blocking pool.
async fn act<T: Send + 'static>(
    s: &Shared,
    f: impl FnOnce(&dyn tilsyn_collector_store::Store) -> Result<T, ActionError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = s.store.clone();
    tokio::task::spawn_blocking(move || f(&*store))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(ApiError::from)
}

/// A department reader never gets here (the route needs admin or operator); the check
/// that the host exists is the action's.
async fn retire(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    b: Result<Json<HostAction>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let a = body(b, "reason")?;
    let (by, now, key) = (caller.actor(), (s.clock)(), id.clone());
    let note = lifecycle::retire_note(&by, &a.reason);
    let before = act(&s, move |st| lifecycle::retire(st, &key, &a, &by, now)).await?;
    s.host_retired(&id, &note);
    tracing::info!(agent_id = %id, hostname = %before.hostname, by = %caller.name, "host retired");
    Ok(Json(
        serde_json::json!({ "agent_id": id, "state": "retired", "retired_at_ms": now, "before": before }),
    ))
}

async fn move_host(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    b: Result<Json<HostAction>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let a = body(b, "reason, department and/or class")?;
    let depts = s.cfg.department_ids();
    let (by, now, key) = (caller.actor(), (s.clock)(), id.clone());
    let a2 = a.clone();
    let before = act(&s, move |st| {
        lifecycle::move_host(st, &depts, &key, &a2, &by, now)
    })
    .await?;
    s.host_moved(&id);
    tracing::info!(agent_id = %id, by = %caller.name, "host moved");
    Ok(Json(serde_json::json!({
        "agent_id": id,
        "department": a.department.unwrap_or(before.department.clone()),
        "class": a.class.unwrap_or(before.class.clone()),
        "before": before,
    })))
}

async fn revoke(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    b: Result<Json<HostAction>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let a = body(b, "reason")?;
    let (by, now, key) = (caller.actor(), (s.clock)(), id.clone());
    let note = lifecycle::revoke_note(&by, &a.reason);
    let before = act(&s, move |st| lifecycle::revoke(st, &key, &a, &by, now)).await?;
    s.host_retired(&id, &note);
    tracing::warn!(agent_id = %id, hostname = %before.hostname, by = %caller.name, "agent credential revoked, host retired");
    Ok(Json(
        serde_json::json!({ "agent_id": id, "state": "retired", "revoked_at_ms": now, "before": before }),
    ))
}

async fn create_window(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    b: Result<Json<NewWindow>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let w = body(
        b,
        "change_ref, reason, end, and optionally title, start, scope",
    )?;
    let (by, now, file) = (caller.actor(), (s.clock)(), s.file_windows.clone());
    let row = act(&s, move |st| {
        lifecycle::create_window(st, &file, &w, &by, now)
    })
    .await?;
    s.refresh_windows().await;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(row).unwrap_or_default()),
    ))
}

async fn extend_window(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    b: Result<Json<WindowEnd>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let e = body(b, "end and optionally reason")?;
    if e.end.is_none() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "extend needs the new end; to end the window now use …/end".into(),
        ));
    }
    window_end(s, caller, id, e).await
}

/// The body is optional here (`{"reason": …}`).
async fn end_window(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    b: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut e: WindowEnd = if b.iter().all(u8::is_ascii_whitespace) {
        WindowEnd::default()
    } else {
        serde_json::from_slice(&b).map_err(|e| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("{e}; the body is empty or JSON with reason"),
            )
        })?
    };
    e.end = None;
    window_end(s, caller, id, e).await
}

async fn window_end(
    s: Arc<Shared>,
    caller: Caller,
    id: String,
    e: WindowEnd,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (by, now) = (caller.actor(), (s.clock)());
    let row = act(&s, move |st| lifecycle::end_window(st, &id, &e, &by, now)).await?;
    s.refresh_windows().await;
    Ok(Json(serde_json::to_value(row).unwrap_or_default()))
}

async fn grant_waiver(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    b: Result<Json<NewWaiver>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let w = body(
        b,
        "standard, rule, hosts and/or department and/or labels, reason, approved_by, expires, and optionally id",
    )?;
    let (by, now, depts) = (caller.actor(), (s.clock)(), s.cfg.department_ids());
    let file = s.compliance.file_set();
    let row = act(&s, move |st| waivers::grant(st, &file, &depts, w, &by, now)).await?;
    s.refresh_waivers().await;
    tracing::info!(waiver = %row.id, by = %caller.name, "waiver granted");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(row).unwrap_or_default()),
    ))
}

async fn withdraw_waiver(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    b: Result<Json<WaiverEnd>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let e = body(b, "reason")?;
    let (by, now) = (caller.actor(), (s.clock)());
    let file = s.compliance.file_set();
    let row = act(&s, move |st| {
        waivers::withdraw(st, &file, &id, &e, &by, now)
    })
    .await?;
    s.refresh_waivers().await;
    tracing::info!(waiver = %row.id, by = %caller.name, "waiver withdrawn");
    Ok(Json(serde_json::to_value(row).unwrap_or_default()))
}
