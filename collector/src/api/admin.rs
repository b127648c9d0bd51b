//! Tokens and the audit trail (admin), and `whoami` (any token).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, Query, State as Handles};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::actions::body;
use super::{store, ApiError};
use crate::access::{Caller, Gate, Role};
use crate::store_handle::StoreHandle;
use tilsyn_collector_store::{ApiToken, AuditFilter};

#[derive(Clone)]
pub struct State {
    pub store: StoreHandle,
    pub gate: Arc<Gate>,
    pub clock: fn() -> i64,
    /// The configured department ids (a department token must name known ones).
    pub departments: Vec<String>,
}

pub fn routes(state: State) -> Router {
    Router::new()
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/tokens", get(list).post(create))
        .route("/api/v1/tokens/{id}/revoke", post(revoke))
        .route("/api/v1/audit", get(audit))
        .with_state(state)
}

async fn whoami(Extension(caller): Extension<Caller>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "name": caller.name,
        "role": caller.role.name(),
        "departments": caller.scope().unwrap_or_default(),
    }))
}

async fn list(Handles(s): Handles<State>) -> Result<Json<serde_json::Value>, ApiError> {
    let t = store(&s.store, "list_tokens", |st| st.list_tokens()).await?;
    Ok(Json(serde_json::json!({ "tokens": t })))
}

/// A token to make.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    pub role: String,
    #[serde(default)]
    pub departments: Vec<String>,
    /// Last day it is accepted (YYYY-MM-DD, UTC); omitted: no expiry.
    #[serde(default)]
    pub expires: Option<String>,
}

/// Checks a token request and makes the token: `(its record, the token itself)`. The
/// token is shown once; the store keeps its hash.
pub fn make_token(
    t: &NewToken,
    departments: &[String],
    created_by: &str,
    now: i64,
) -> Result<(ApiToken, String, String), String> {
    if !tilsyn_collector_core::text::valid_id(&t.name) {
        return Err(format!(
            "name {:?} must be 1-64 characters of a-z, 0-9, '-' or '_'",
            t.name
        ));
    }
    Role::parse(&t.role, &t.departments)?;
    for d in &t.departments {
        if !departments.contains(d) {
            return Err(format!(
                "unknown department {d:?} (known: {})",
                departments.join(", ")
            ));
        }
    }
    let expires_at_ms = match &t.expires {
        None => None,
        Some(e) => {
            let at = crate::config::token_expiry(e)
                .ok_or_else(|| format!("expires {e:?} is not a date (YYYY-MM-DD)"))?;
            if at <= now {
                return Err(format!("expires {e:?} is in the past"));
            }
            Some(at)
        }
    };
    let (id, token) = crate::access::new_token();
    let rec = ApiToken {
        id,
        name: t.name.clone(),
        role: t.role.clone(),
        departments: t.departments.clone(),
        created_at_ms: now,
        created_by: created_by.to_string(),
        expires_at_ms,
        revoked_at_ms: None,
        last_used_ms: None,
    };
    let hash = crate::auth::hash_secret(&token);
    Ok((rec, token, hash))
}

async fn create(
    Handles(s): Handles<State>,
    Extension(caller): Extension<Caller>,
    b: Result<Json<NewToken>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let t = body(b, "name, role, and optionally departments, expires")?;
    let (rec, token, hash) = make_token(&t, &s.departments, &caller.name, (s.clock)())
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
    let (r, by) = (rec.clone(), caller.actor());
    store(&s.store, "create_token", move |st| {
        st.create_token(&r, &hash, &by)
    })
    .await?;
    tracing::info!(token = %rec.name, role = %rec.role, by = %caller.name, "API token created");
    let mut v = serde_json::to_value(&rec).unwrap_or_default();
    v["token"] = token.into();
    Ok((StatusCode::CREATED, Json(v)))
}

async fn revoke(
    Handles(s): Handles<State>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (key, by, now) = (id.clone(), caller.actor(), (s.clock)());
    match store(&s.store, "revoke_token", move |st| {
        st.revoke_token(&key, now, &by)
    })
    .await?
    {
        Some(t) => {
            s.gate.forget(&id);
            tracing::info!(token = %t.name, by = %caller.name, "API token revoked");
            Ok(Json(serde_json::to_value(t).unwrap_or_default()))
        }
        None => Err(ApiError(StatusCode::NOT_FOUND, format!("no token {id:?}"))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    since: Option<String>,
    until: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    subject: Option<String>,
    limit: Option<u32>,
}

async fn audit(
    Handles(s): Handles<State>,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let fields = "since, until, actor, action, subject, limit";
    let bad = |m: String| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("{m}; parameters: {fields}"),
        )
    };
    let Query(q) = q.map_err(|e| bad(e.to_string()))?;
    let t = |v: &Option<String>| {
        v.as_deref()
            .map(crate::services::lifecycle::instant)
            .transpose()
    };
    let f = AuditFilter {
        since_ms: t(&q.since).map_err(bad)?,
        until_ms: t(&q.until).map_err(bad)?,
        actor: q.actor,
        action: q.action,
        subject: q.subject,
        limit: q.limit.unwrap_or(200),
    };
    let entries = store(&s.store, "audit_entries", move |st| st.audit_entries(&f)).await?;
    Ok(Json(serde_json::json!({ "entries": entries })))
}
