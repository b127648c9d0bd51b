//! HTTP side: `/metrics`, the JSON API under `/api/v1`, `/healthz` and `/readyz`. Every
//! route is listed in [`ROUTES`] with what it needs of its caller; the [`authorize`] layer
//! refuses what the caller's token may not reach, and handlers filter what a department
//! reader sees to its departments (another department's object is 404, as if absent).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Extension, MatchedPath, Path, Query, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::access::{Caller, Gate, Need};
use crate::metrics::Metrics;
use crate::services::compliance::Compliance;
use crate::services::incidents::Incidents;
use crate::services::sla::Sla;
use crate::store_handle::StoreHandle;
use tilsyn_collector_store::{HostFilter, Store, StoreError};

mod actions;
pub mod admin;
mod compliance;
mod incidents;
pub mod openapi;
mod sla;

/// One route: its method, its path as the router spells it, and what it needs.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub need: Need,
}

const fn r(method: &'static str, path: &'static str, need: Need) -> RouteSpec {
    RouteSpec { method, path, need }
}

/// Every route the HTTP listener serves. A request whose route is not here is refused
/// (fail closed); `tests` check this table against the router and the OpenAPI document.
pub const ROUTES: &[RouteSpec] = &[
    r("GET", "/healthz", Need::Public),
    r("GET", "/readyz", Need::Public),
    r("GET", "/api/v1/openapi.json", Need::Public),
    r("GET", "/metrics", Need::Metrics),
    r("GET", "/api/v1/whoami", Need::Any),
    r("GET", "/api/v1/hosts", Need::Read),
    r("GET", "/api/v1/hosts/{agent_id}", Need::Read),
    r("GET", "/api/v1/hosts/{agent_id}/health", Need::Read),
    r("GET", "/api/v1/hosts/{agent_id}/health/rollups", Need::Read),
    r("GET", "/api/v1/hosts/{agent_id}/events", Need::Read),
    r("GET", "/api/v1/hosts/{agent_id}/compliance", Need::Read),
    r("GET", "/api/v1/hosts/{agent_id}/facts", Need::Read),
    r("POST", "/api/v1/hosts/{agent_id}/retire", Need::Act),
    r("POST", "/api/v1/hosts/{agent_id}/move", Need::Act),
    r("POST", "/api/v1/hosts/{agent_id}/revoke", Need::Act),
    r("GET", "/api/v1/summary", Need::Read),
    r("GET", "/api/v1/compliance/standards", Need::Read),
    r("GET", "/api/v1/compliance/standards/{id}", Need::Read),
    r("GET", "/api/v1/compliance/departments", Need::Read),
    r("GET", "/api/v1/compliance/findings", Need::Read),
    r("GET", "/api/v1/compliance/waivers", Need::Read),
    r("POST", "/api/v1/compliance/waivers", Need::Act),
    r("POST", "/api/v1/compliance/waivers/{id}/end", Need::Act),
    r("GET", "/api/v1/compliance/status", Need::Read),
    r("GET", "/api/v1/incidents", Need::Read),
    r("GET", "/api/v1/incidents/{id}", Need::Read),
    r("GET", "/api/v1/problems", Need::Read),
    r("GET", "/api/v1/outbox", Need::ReadAll),
    r("GET", "/api/v1/maintenance", Need::Read),
    r("POST", "/api/v1/maintenance", Need::Act),
    r("POST", "/api/v1/maintenance/{id}/extend", Need::Act),
    r("POST", "/api/v1/maintenance/{id}/end", Need::Act),
    r("GET", "/api/v1/sla", Need::Read),
    r("GET", "/api/v1/tokens", Need::Admin),
    r("POST", "/api/v1/tokens", Need::Admin),
    r("POST", "/api/v1/tokens/{id}/revoke", Need::Admin),
    r("GET", "/api/v1/audit", Need::Admin),
];

/// What a route needs; `None` for a method and path not in [`ROUTES`].
pub fn need_of(method: &Method, path: &str) -> Option<Need> {
    ROUTES
        .iter()
        .find(|r| r.path == path && r.method == method.as_str())
        .map(|r| r.need)
}

pub use crate::listener::Peer;

/// What the HTTP side is given. Each group of routes takes only the handles it uses (its
/// own state type), not the ingest's shared state.
#[derive(Clone)]
pub struct Api {
    pub store: StoreHandle,
    pub metrics: Arc<Metrics>,
    pub compliance: Arc<Compliance>,
    pub incidents: Arc<Incidents>,
    /// The SLA evaluator, when an SLA file is configured.
    pub sla: Option<Arc<Sla>>,
    pub clock: fn() -> i64,
    /// Fleet-wide metrics come from the leading collector only.
    pub leader: Arc<crate::services::leader::Leadership>,
    /// Who may call.
    pub gate: Arc<Gate>,
    /// For the actions (retire, move, revoke, change windows): the engines to tell.
    pub shared: Arc<crate::ingest::Shared>,
}

/// What `/metrics` needs: the fleet counts from the store and the services' gauges.
#[derive(Clone)]
struct Scrape {
    store: StoreHandle,
    metrics: Arc<Metrics>,
    compliance: Arc<Compliance>,
    incidents: Arc<Incidents>,
    clock: fn() -> i64,
    leader: Arc<crate::services::leader::Leadership>,
}

pub fn router(api: Api) -> Router {
    let hosts = Router::new()
        .route("/readyz", get(readyz))
        .route("/api/v1/hosts", get(list_hosts))
        .route("/api/v1/hosts/{agent_id}", get(get_host))
        .route("/api/v1/hosts/{agent_id}/health", get(health_history))
        .route(
            "/api/v1/hosts/{agent_id}/health/rollups",
            get(health_rollups),
        )
        .route("/api/v1/hosts/{agent_id}/events", get(host_events))
        .route("/api/v1/summary", get(summary))
        .with_state(api.store.clone());
    let scrape = Router::new()
        .route("/metrics", get(metrics))
        .with_state(Scrape {
            store: api.store.clone(),
            metrics: api.metrics.clone(),
            compliance: api.compliance.clone(),
            incidents: api.incidents.clone(),
            clock: api.clock,
            leader: api.leader.clone(),
        });
    let console = console(&api);
    let api_routes = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .merge(hosts)
        .merge(scrape)
        .merge(compliance::routes(compliance::State {
            compliance: api.compliance.clone(),
            store: api.store.clone(),
            clock: api.clock,
        }))
        .merge(incidents::routes(incidents::State {
            incidents: api.incidents.clone(),
            store: api.store.clone(),
            clock: api.clock,
        }))
        .merge(sla::routes(api.sla.clone()))
        .merge(actions::routes(api.shared.clone()))
        .merge(admin::routes(admin::State {
            store: api.store.clone(),
            gate: api.gate.clone(),
            clock: api.clock,
            departments: api.shared.cfg.department_ids(),
        }))
        .fallback(|| async {
            ApiError(
                StatusCode::NOT_FOUND,
                "no such endpoint; see /api/v1/openapi.json".into(),
            )
        })
        .layer(middleware::from_fn_with_state(api.gate.clone(), authorize))
        .layer(middleware::from_fn_with_state(api.metrics.clone(), observe));
    // The console's pages have their own gate (sign-in by cookie, HTML answers); the API
    // keeps its table of routes and JSON errors.
    crate::console::routes(console).merge(api_routes)
}

/// The console over the same handles as the API.
fn console(api: &Api) -> crate::console::Console {
    let cfg = &api.shared.cfg;
    let tz = cfg
        .console
        .time_zone
        .as_deref()
        .and_then(|z| jiff::tz::TimeZone::get(z).ok())
        .or_else(|| api.sla.as_ref().map(|s| s.policy().time_zone.clone()))
        .unwrap_or_else(|| jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC));
    crate::console::Console {
        store: api.store.clone(),
        metrics: api.metrics.clone(),
        compliance: api.compliance.clone(),
        incidents: api.incidents.clone(),
        sla: api.sla.clone(),
        gate: api.gate.clone(),
        clock: api.clock,
        default_lang: cfg.console.language(),
        tz,
        secure_cookies: cfg.http.tls.is_some(),
        departments: cfg
            .departments
            .iter()
            .map(|d| (d.id.clone(), d.name.clone()))
            .collect(),
    }
}

/// Finds the caller (its token, or `local` where no token is required) and refuses what
/// its role may not reach: 401 without a valid token, 403 for a route beyond its role.
/// The caller goes to the handlers as an extension.
pub async fn authorize(State(gate): State<Arc<Gate>>, mut req: Request, next: Next) -> Response {
    let need = match req.extensions().get::<MatchedPath>() {
        Some(p) => match need_of(req.method(), p.as_str()) {
            Some(n) => n,
            None => {
                return ApiError(
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!(
                        "{} is not served on this path; see /api/v1/openapi.json",
                        req.method()
                    ),
                )
                .into_response()
            }
        },
        // Unmatched: the fallback's 404.
        None => Need::Public,
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|c| c.0 .0.ip());
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("?"));
    let caller = if need == Need::Public {
        Caller {
            name: "anonymous".into(),
            role: crate::access::Role::Reader,
            peer,
        }
    } else {
        match gate.caller(auth, peer).await {
            Ok(c) => c,
            Err(d) => {
                let mut resp =
                    ApiError(StatusCode::UNAUTHORIZED, d.message().into()).into_response();
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer realm=\"tilsyn\""),
                );
                return resp;
            }
        }
    };
    if !caller.role.may(need) {
        gate.forbidden();
        return ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "role {} may not do this (it needs one of: {})",
                caller.role.name(),
                need.roles().join(", ")
            ),
        )
        .into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

pub(crate) async fn observe(
    State(metrics): State<Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    let resp = next.run(req).await;
    metrics
        .http_requests
        .with_label_values(&[&route, resp.status().as_str()])
        .observe(started.elapsed().as_secs_f64());
    resp
}

/// An error answered as `{"error": "..."}`.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

async fn store<T: Send + 'static>(
    s: &StoreHandle,
    op: &'static str,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    s.call(op, f).await.map_err(|e| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unavailable: {e}"),
        )
    })
}

async fn readyz(State(s): State<StoreHandle>) -> Result<&'static str, ApiError> {
    store(&s, "ping", |st| st.ping()).await?;
    Ok("ready\n")
}

async fn metrics(State(s): State<Scrape>) -> Result<Response, ApiError> {
    if s.leader.is_leader() {
        let counts = store(&s.store, "host_counts", |st| st.host_counts()).await?;
        s.metrics.set_fleet(&counts, (s.clock)());
        let c = s.compliance.clone();
        let _ = tokio::task::spawn_blocking(move || c.export_metrics()).await;
        let i = s.incidents.clone();
        let _ = tokio::task::spawn_blocking(move || i.export_metrics()).await;
    } else {
        s.metrics.clear_fleet();
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostQuery {
    department: Option<String>,
    class: Option<String>,
    state: Option<String>,
    os_family: Option<String>,
    hostname: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn list_hosts(
    State(s): State<StoreHandle>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<HostQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = q.map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("{e}; filters: department, class, state, os_family, hostname, limit, offset"),
        )
    })?;
    if let Some(st) = &q.state {
        if !["new", "online", "offline", "retired"].contains(&st.as_str()) {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("state {st:?}: use new, online, offline or retired"),
            ));
        }
    }
    if let Some(st) = &q.state {
        if st == "retired" && caller.scope().is_some() {
            // Retired hosts are the operations centre's history, not a department's fleet.
            return Ok(Json(
                serde_json::json!({ "hosts": [], "count": 0, "limit": q.limit.unwrap_or(1000), "offset": q.offset.unwrap_or(0) }),
            ));
        }
    }
    let f = HostFilter {
        departments: caller.scope().map(<[String]>::to_vec),
        department: q.department,
        class: q.class,
        state: q.state,
        os_family: q.os_family,
        hostname: q.hostname,
        limit: q.limit.unwrap_or(1000).min(10_000),
        offset: q.offset.unwrap_or(0),
        ..HostFilter::default()
    };
    let (limit, offset) = (f.limit, f.offset);
    let hosts = store(&s, "list_hosts", move |st| st.list_hosts(&f)).await?;
    Ok(Json(
        serde_json::json!({ "hosts": hosts, "count": hosts.len(), "limit": limit, "offset": offset }),
    ))
}

async fn get_host(
    State(s): State<StoreHandle>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let key = id.clone();
    match store(&s, "get_host", move |st| st.get_host(&key)).await? {
        Some(h) if caller.sees(&h.summary.department) => {
            Ok(Json(serde_json::to_value(h).unwrap_or_default()))
        }
        _ => Err(no_host(&id)),
    }
}

pub fn no_host(id: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("no host with agent id {id:?}"),
    )
}

/// For a department reader: 404 unless the host is one of its departments' (for the
/// others nothing to check: an unknown host shows empty lists, as before).
pub async fn visible_host(s: &StoreHandle, caller: &Caller, id: &str) -> Result<(), ApiError> {
    if caller.scope().is_none() {
        return Ok(());
    }
    let key = id.to_string();
    match store(s, "host_lifecycle", move |st| st.host_lifecycle(&key)).await? {
        Some(h) if caller.sees(&h.department) => Ok(()),
        _ => Err(no_host(id)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    since_ms: Option<i64>,
    limit: Option<u32>,
}

async fn health_history(
    State(s): State<StoreHandle>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    visible_host(&s, &caller, &id).await?;
    let Query(q) = q.map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("{e}; parameters: since_ms, limit"),
        )
    })?;
    let since = q.since_ms.unwrap_or(0);
    let limit = q.limit.unwrap_or(1440);
    let samples = store(&s, "health_history", move |st| {
        st.health_history(&id, since, limit)
    })
    .await?;
    Ok(Json(serde_json::json!({ "samples": samples })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollupQuery {
    resolution: Option<String>,
    since_ms: Option<i64>,
    limit: Option<u32>,
}

/// 5-minute (`resolution=5m`, the default) or hourly (`1h`) minimum/mean/maximum of the
/// host's health, newest first: the history kept for months.
async fn health_rollups(
    State(s): State<StoreHandle>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<RollupQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    visible_host(&s, &caller, &id).await?;
    let bad = |m: String| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("{m}; parameters: resolution (5m or 1h), since_ms, limit"),
        )
    };
    let Query(q) = q.map_err(|e| bad(e.to_string()))?;
    let resolution = match q.resolution.as_deref().unwrap_or("5m") {
        "5m" => 300_000,
        "1h" => 3_600_000,
        other => return Err(bad(format!("resolution {other:?}"))),
    };
    let since = q.since_ms.unwrap_or(0);
    let limit = q.limit.unwrap_or(2016);
    let rollups = store(&s, "health_rollups", move |st| {
        st.health_rollups(&id, resolution, since, limit)
    })
    .await?;
    Ok(Json(serde_json::json!({ "rollups": rollups })))
}

async fn host_events(
    State(s): State<StoreHandle>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    visible_host(&s, &caller, &id).await?;
    let events = store(&s, "host_events", move |st| st.host_events(&id, 500)).await?;
    Ok(Json(serde_json::json!({ "events": events })))
}

/// Host counts and patch backlog per department/class/OS/state.
async fn summary(
    State(s): State<StoreHandle>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut counts = store(&s, "host_counts", |st| st.host_counts()).await?;
    counts.retain(|c| caller.sees(&c.department));
    Ok(Json(serde_json::json!({ "groups": counts })))
}
