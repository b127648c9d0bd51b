//! Incident endpoints: incidents and problems (filter by state, department, priority,
//! host), one incident with its desk actions, the outbox, and the maintenance windows
//! (published so the SLA clock can exclude them).

use std::sync::Arc;

use axum::extract::{Path, Query, State as Handles};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::{store, ApiError};
use crate::services::incidents::Incidents;
use crate::store_handle::StoreHandle;
use tilsyn_collector_core::incidents::records::IncidentFilter;

/// What the incident routes use.
#[derive(Clone)]
pub struct State {
    pub incidents: Arc<Incidents>,
    pub store: StoreHandle,
    pub clock: fn() -> i64,
}

pub fn routes(state: State) -> Router {
    Router::new()
        .route("/api/v1/incidents", get(list))
        .route("/api/v1/incidents/{id}", get(one))
        .route("/api/v1/problems", get(problems))
        .route("/api/v1/outbox", get(outbox))
        .route("/api/v1/maintenance", get(maintenance))
        .with_state(state)
}

fn bad(e: impl std::fmt::Display, allowed: &str) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, format!("{e}; filters: {allowed}"))
}

type Q<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

async fn list(
    Handles(s): Handles<State>,
    q: Q<IncidentFilter>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(f) = q.map_err(|e| {
        bad(
            e,
            "state, department, priority, host, check, problem_id, limit, offset",
        )
    })?;
    if let Some(st) = &f.state {
        if !["open", "suppressed", "resolved"].contains(&st.as_str()) {
            return Err(bad(
                format!("unknown state {st:?}"),
                "state is open, suppressed or resolved",
            ));
        }
    }
    let rows = store(&s.store, "list_incidents", move |st| st.list_incidents(&f)).await?;
    Ok(Json(serde_json::json!({ "incidents": rows })))
}

async fn one(
    Handles(s): Handles<State>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let row = store(&s.store, "get_incident", move |st| st.get_incident(id)).await?;
    let Some(row) = row else {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no incident {id}")));
    };
    let subject = format!("incident:{id}");
    let actions = store(&s.store, "outbox_list", move |st| {
        st.outbox_list(None, Some(&subject), 1000)
    })
    .await?;
    Ok(Json(
        serde_json::json!({ "incident": row, "desk_actions": actions }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateQuery {
    state: Option<String>,
    limit: Option<u32>,
}

async fn problems(
    Handles(s): Handles<State>,
    q: Q<StateQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = q.map_err(|e| bad(e, "state, limit"))?;
    let rows = store(&s.store, "list_problems", move |st| {
        st.list_problems(q.state.as_deref(), q.limit.unwrap_or(100))
    })
    .await?;
    Ok(Json(serde_json::json!({ "problems": rows })))
}

async fn outbox(
    Handles(s): Handles<State>,
    q: Q<StateQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = q.map_err(|e| {
        bad(
            e,
            "state (pending, failed, done, abandoned, skipped), limit",
        )
    })?;
    let rows = store(&s.store, "outbox_list", move |st| {
        st.outbox_list(q.state.as_deref(), None, q.limit.unwrap_or(100))
    })
    .await?;
    let stats = store(&s.store, "outbox_stats", |st| st.outbox_stats()).await?;
    Ok(Json(serde_json::json!({ "backlog": stats, "items": rows })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Range {
    /// RFC 3339 or ms since the epoch; default now … now + 7 days.
    from: Option<String>,
    to: Option<String>,
}

fn instant(s: &str) -> Result<i64, String> {
    s.parse::<i64>()
        .ok()
        .or_else(|| tilsyn_proto::time::parse_timestamp_ms(s))
        .ok_or_else(|| format!("{s:?} is not a time (RFC 3339 like 2026-11-22T00:00:00Z, a date, or ms since the epoch)"))
}

async fn maintenance(
    Handles(s): Handles<State>,
    q: Q<Range>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = q.map_err(|e| bad(e, "from, to"))?;
    let now = (s.clock)();
    let from = q
        .from
        .as_deref()
        .map(instant)
        .transpose()
        .map_err(|e| bad(e, "from, to"))?
        .unwrap_or(now);
    let to =
        q.to.as_deref()
            .map(instant)
            .transpose()
            .map_err(|e| bad(e, "from, to"))?
            .unwrap_or(now + 7 * 86_400_000);
    if to <= from || to - from > 400 * 86_400_000 {
        return Err(bad(
            "to must be after from, at most 400 days later",
            "from, to",
        ));
    }
    let occ: Vec<serde_json::Value> = s
        .incidents
        .maintenance(from, to)
        .into_iter()
        .map(|(id, start, end)| serde_json::json!({ "window": id, "start_ms": start, "end_ms": end }))
        .collect();
    Ok(Json(
        serde_json::json!({ "from_ms": from, "to_ms": to, "occurrences": occ }),
    ))
}
