//! Incident endpoints: incidents and problems (filter by state, department, priority,
//! host), one incident with its desk actions, the outbox, and the maintenance windows
//! (published so the SLA clock can exclude them).

use std::sync::Arc;

use axum::extract::{Extension, Path, Query, State as Handles};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::{store, ApiError};
use crate::access::Caller;
use crate::services::incidents::Incidents;
use crate::services::lifecycle::instant;
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
    Extension(caller): Extension<Caller>,
    q: Q<IncidentFilter>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(mut f) = q.map_err(|e| {
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
    f.departments = caller.scope().map(<[String]>::to_vec);
    let rows = store(&s.store, "list_incidents", move |st| st.list_incidents(&f)).await?;
    Ok(Json(serde_json::json!({ "incidents": rows })))
}

async fn one(
    Handles(s): Handles<State>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(id) = id.map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("{e}: an incident id is a number"),
        )
    })?;
    let row = store(&s.store, "get_incident", move |st| st.get_incident(id)).await?;
    let Some(row) = row.filter(|r| caller.sees(&r.department)) else {
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

/// A department reader sees the problems of its departments (`department:<id>`), not the
/// fleet-wide ones, which span other departments' hosts.
async fn problems(
    Handles(s): Handles<State>,
    Extension(caller): Extension<Caller>,
    q: Q<StateQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = q.map_err(|e| bad(e, "state, limit"))?;
    let limit = q.limit.unwrap_or(100);
    let scoped = caller.scope().is_some();
    let mut rows = store(&s.store, "list_problems", move |st| {
        st.list_problems(q.state.as_deref(), if scoped { 10_000 } else { limit })
    })
    .await?;
    if scoped {
        rows.retain(|p| {
            p.scope
                .strip_prefix("department:")
                .is_some_and(|d| caller.sees(d))
        });
        rows.truncate(limit as usize);
    }
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

async fn maintenance(
    Handles(s): Handles<State>,
    Extension(caller): Extension<Caller>,
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
    let changes = store(&s.store, "change_windows", move |st| {
        st.change_windows(from)
    })
    .await?;
    let windows = s.incidents.windows();
    // A department reader sees the windows of its departments and of everyone, not those
    // naming hosts or other departments only.
    let visible = |id: &str| {
        let Some(mine) = caller.scope() else {
            return true;
        };
        windows.get(id).is_some_and(|w| {
            !w.scope.names_hosts()
                && w.scope.departments().is_none_or(|ds| {
                    ds.iter()
                        .any(|d| mine.iter().any(|m| m.eq_ignore_ascii_case(d)))
                })
        })
    };
    let occ: Vec<serde_json::Value> = windows
        .occurrences(from, to)
        .into_iter()
        .filter(|(id, _, _)| visible(id))
        .map(|(id, start, end)| {
            let mut v = serde_json::json!({ "window": id, "start_ms": start, "end_ms": end });
            if let Some(c) = changes.iter().find(|c| c.id == id) {
                v["change"] = serde_json::json!({
                    "change_ref": c.change_ref, "reason": c.reason, "title": c.title,
                    "created_by": c.created_by, "created_at_ms": c.created_at_ms,
                });
            }
            v
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "from_ms": from, "to_ms": to, "occurrences": occ }),
    ))
}
