//! The operations console: HTML pages served on the HTTP listener beside the API (the
//! fleet at `/`, a host, compliance, incidents and problems, the SLA), rendered on the
//! server with askama templates (`collector/templates/console/`, checked at compile time,
//! escaping by default) in the languages of `collector/locales/*.ftl` ([`i18n`]).
//!
//! Who may read: the API's tokens and roles ([`crate::access`]). A browser signs in once
//! with its token at `/login` (kept in an HttpOnly, SameSite=Strict cookie); a request
//! with `Authorization: Bearer` works too; without `http.auth.required` (loopback only)
//! the caller is the local admin, as for the API. A department reader sees only its
//! departments: another's host is "not found".
//!
//! Every page is sent with a strict Content-Security-Policy (no script at all, styles only
//! from `/static/`), `nosniff` and no framing. The console changes nothing but its own
//! session and language; its two forms (sign in, sign out) refuse cross-site posts.

use std::sync::Arc;

use askama::Template;
use axum::extract::{ConnectInfo, Form, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::access::{Caller, Gate, Need, Role};
use crate::metrics::Metrics;
use crate::services::compliance::Compliance;
use crate::services::incidents::Incidents;
use crate::services::sla::Sla;
use crate::store_handle::StoreHandle;
use tilsyn_collector_core::incidents::records::{DeskSide, IncidentRow};

mod charts;
mod compliance;
mod fleet;
mod host;
pub mod i18n;
mod incidents;
pub mod report;
mod sla;

use i18n::Tr;

/// What the console's pages use.
#[derive(Clone)]
pub struct Console {
    pub store: StoreHandle,
    pub metrics: Arc<Metrics>,
    pub compliance: Arc<Compliance>,
    pub incidents: Arc<Incidents>,
    pub sla: Option<Arc<Sla>>,
    pub gate: Arc<Gate>,
    pub clock: fn() -> i64,
    /// For a browser that asks for no language we have.
    pub default_lang: &'static str,
    pub tz: TimeZone,
    /// Cookies only over HTTPS (`http.tls` set).
    pub secure_cookies: bool,
    /// (id, name) of every department, as configured.
    pub departments: Vec<(String, String)>,
}

impl Console {
    /// (id, name) of the departments the caller sees, by name: a filter's choices.
    fn department_choices(&self, caller: &Caller) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .departments
            .iter()
            .filter(|(d, _)| caller.sees(d))
            .cloned()
            .collect();
        v.sort_by(|a, b| a.1.cmp(&b.1));
        v
    }

    /// A department's name, or its id.
    fn department_name(&self, id: &str) -> String {
        self.departments
            .iter()
            .find(|(d, _)| d == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| id.to_string())
    }
}

const SESSION_COOKIE: &str = "tilsyn_session";
const LANG_COOKIE: &str = "tilsyn_lang";

/// No script, styles and images only from here, forms only to here, never in a frame.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What every page's frame needs: the language, the caller, where we are.
#[derive(Clone)]
pub struct Ctx {
    pub tr: Tr,
    pub caller: Caller,
    /// The path and query of this request (for the language links and sign-in's return).
    pub here: String,
    /// Signed in with a cookie (then a sign-out form is shown).
    pub session: Option<String>,
}

pub fn routes(c: Console) -> Router {
    let metrics = c.metrics.clone();
    Router::new()
        .route("/", get(fleet::page))
        .route("/hosts/{agent_id}", get(host::page))
        .route("/compliance", get(compliance::overview))
        .route("/compliance/{standard}", get(compliance::standard))
        .route("/compliance/{standard}/{rule}", get(compliance::rule))
        .route("/incidents", get(incidents::page))
        .route("/problems/{id}", get(incidents::problem))
        .route("/sla", get(sla::page))
        .route("/sla/report", get(sla::download))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/lang/{code}", get(set_lang))
        .route("/static/{file}", get(asset))
        .layer(middleware::from_fn_with_state(c.clone(), gate))
        .layer(middleware::from_fn_with_state(metrics, crate::api::observe))
        .with_state(c)
}

fn cookie<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The language: the console's setting (cookie), else the browser's preference, else the
/// collector's default.
fn language(h: &HeaderMap, default: &'static str) -> &'static str {
    cookie(h, LANG_COOKIE)
        .and_then(i18n::known)
        .or_else(|| {
            h.get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(i18n::negotiate)
        })
        .unwrap_or(default)
}

/// Finds the caller and the language; refuses what its role may not read. Sign-in,
/// language and style need no caller.
async fn gate(State(c): State<Console>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let here = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let tr = Tr::new(language(req.headers(), c.default_lang), c.tz.clone());
    let peer = req
        .extensions()
        .get::<ConnectInfo<crate::listener::Peer>>()
        .map(|p| p.0 .0.ip());
    if req.method() == Method::POST && !same_origin(req.headers()) {
        return page_error(&tr, StatusCode::FORBIDDEN, "error-cross-site");
    }
    let open = path == "/login" || path.starts_with("/lang/") || path.starts_with("/static/");
    let session = cookie(req.headers(), SESSION_COOKIE).map(str::to_string);
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let auth = bearer
        .clone()
        .or_else(|| session.as_ref().map(|t| format!("Bearer {t}")));
    let anonymous = Caller {
        name: "anonymous".into(),
        role: Role::Reader,
        peer,
    };
    // Sign-in and the style sheet need no caller: asking the gate without a token would
    // count as a failed attempt (and slow the address down).
    let asked = if open && auth.is_none() && c.gate.required {
        Ok(anonymous.clone())
    } else {
        c.gate.caller(auth.as_deref(), peer).await
    };
    let caller = match asked {
        Ok(caller) => caller,
        Err(_) if open => anonymous,
        Err(d) => {
            if bearer.is_some() {
                let mut r = page_error(&tr, StatusCode::UNAUTHORIZED, "error-unauthorized");
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"tilsyn\""),
                );
                return r;
            }
            let why = match d {
                crate::access::Denied::Missing => "",
                _ => "&expired=1",
            };
            let mut r =
                Redirect::to(&format!("/login?next={}{why}", urlencode(&here))).into_response();
            if session.is_some() {
                clear_session(&mut r, c.secure_cookies);
            }
            return r;
        }
    };
    if !open && !caller.role.may(Need::Read) {
        c.gate.forbidden();
        return page_error(&tr, StatusCode::FORBIDDEN, "error-forbidden");
    }
    req.extensions_mut().insert(Ctx {
        tr,
        caller,
        here,
        session: session.filter(|_| bearer.is_none()),
    });
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::VARY,
        HeaderValue::from_static("Cookie, Accept-Language"),
    );
    resp
}

/// A post from a page of ours: the browser's Fetch Metadata (`Sec-Fetch-Site`) or `Origin`
/// says so; a client that sends neither (not a browser) is let through, as the session
/// cookie is SameSite=Strict anyway.
fn same_origin(h: &HeaderMap) -> bool {
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin" || site == "none";
    }
    match (h.get(header::ORIGIN), h.get(header::HOST)) {
        (Some(o), Some(host)) => {
            let o = o.to_str().unwrap_or("");
            let origin_host = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"))
                .unwrap_or("");
            Some(origin_host) == host.to_str().ok()
        }
        (Some(_), None) => false,
        _ => true,
    }
}

pub fn urlencode(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                o.push(b as char)
            }
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

/// A return address of ours: a local path, never another site (`//evil`, `/\evil`).
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.into(),
        _ => "/".into(),
    }
}

/// The frame of every page.
pub struct Chrome {
    pub nav: &'static str,
    pub who: String,
    pub role: String,
    pub signed_in: bool,
    pub csrf: String,
    /// (code, its own name, link) of every language but this one.
    pub langs: Vec<(String, String, String)>,
}

impl Chrome {
    pub fn new(ctx: &Ctx, nav: &'static str) -> Chrome {
        let langs = i18n::languages()
            .into_iter()
            .filter(|l| *l != ctx.tr.lang())
            .map(|l| {
                let name = Tr::new(l, TimeZone::UTC).t("language-name");
                (
                    l.to_string(),
                    name,
                    format!("/lang/{l}?next={}", urlencode(&ctx.here)),
                )
            })
            .collect();
        Chrome {
            nav,
            who: ctx
                .caller
                .name
                .strip_prefix("token:")
                .unwrap_or(&ctx.caller.name)
                .to_string(),
            role: ctx.caller.role.name().to_string(),
            signed_in: ctx.session.is_some(),
            csrf: ctx.session.as_deref().map(csrf_of).unwrap_or_default(),
            langs,
        }
    }
}

/// The sign-out form's token: bound to the session, so another site cannot make it.
fn csrf_of(session: &str) -> String {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("tilsyn-console-csrf:{session}").as_bytes(),
    );
    hex::encode(&d.as_ref()[..16])
}

/// An HTML page.
pub fn html(t: impl Template) -> Response {
    match t.render() {
        Ok(body) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "page failed to render").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    t: &'a Tr,
    title: String,
    detail: String,
}

/// A page saying what went wrong (`id`: the message, `id.detail` its explanation).
pub fn page_error(tr: &Tr, status: StatusCode, id: &str) -> Response {
    let mut r = html(ErrorPage {
        t: tr,
        title: tr.t(id),
        detail: tr.t(&format!("{id}.detail")),
    });
    *r.status_mut() = status;
    r
}

/// "Not found" with what was asked for.
pub fn not_found(tr: &Tr, what: &str) -> Response {
    let mut r = html(ErrorPage {
        t: tr,
        title: tr.t("error-not-found"),
        detail: tr.ta("error-not-found.detail", &[("what", what.into())]),
    });
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// The store could not answer.
pub fn unavailable(tr: &Tr, e: impl std::fmt::Display) -> Response {
    let mut r = html(ErrorPage {
        t: tr,
        title: tr.t("error-unavailable"),
        detail: format!("{}: {e}", tr.t("error-unavailable.detail")),
    });
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    r
}

/// A store call for a page: its error is the "unavailable" page.
pub async fn store<T: Send + 'static>(
    c: &Console,
    tr: &Tr,
    op: &'static str,
    f: impl FnOnce(&dyn tilsyn_collector_store::Store) -> tilsyn_collector_store::Result<T>
        + Send
        + 'static,
) -> Result<T, Response> {
    c.store.call(op, f).await.map_err(|e| unavailable(tr, e))
}

/// Turns a query-string rejection into a "bad request" page naming the parameters.
pub fn bad_query(tr: &Tr, e: impl std::fmt::Display, params: &str) -> Response {
    let mut r = html(ErrorPage {
        t: tr,
        title: tr.t("error-bad-request"),
        detail: format!("{e} ({params})"),
    });
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage<'a> {
    t: &'a Tr,
    c: Chrome,
    next: String,
    message: Option<String>,
    required: bool,
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
}

async fn login_page(
    State(c): State<Console>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Query(q): Query<LoginQuery>,
) -> Response {
    html(LoginPage {
        t: &ctx.tr,
        c: Chrome::new(&ctx, "login"),
        next: local_path(q.next.as_deref()),
        message: q.expired.map(|_| ctx.tr.t("login-expired")),
        required: c.gate.required,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(
    State(c): State<Console>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Form(f): Form<LoginForm>,
) -> Response {
    let token = f.token.trim().to_string();
    let next = local_path(f.next.as_deref());
    let refused = |msg: String| {
        let mut r = html(LoginPage {
            t: &ctx.tr,
            c: Chrome::new(&ctx, "login"),
            next: next.clone(),
            message: Some(msg),
            required: c.gate.required,
        });
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        r
    };
    // Tokens are printable ASCII: anything else cannot be one (and cannot go in a cookie).
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return refused(ctx.tr.t("login-refused"));
    }
    match c
        .gate
        .caller(Some(&format!("Bearer {token}")), ctx.caller.peer)
        .await
    {
        Ok(who) if who.role.may(Need::Read) => {
            tracing::info!(caller = %who.name, "console sign-in");
            let mut r = Redirect::to(&next).into_response();
            let secure = if c.secure_cookies { "; Secure" } else { "" };
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"
            )) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Ok(_) => refused(ctx.tr.t("error-forbidden")),
        Err(_) => refused(ctx.tr.t("login-refused")),
    }
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf: String,
}

async fn logout(
    State(c): State<Console>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Form(f): Form<LogoutForm>,
) -> Response {
    let Some(s) = &ctx.session else {
        return Redirect::to("/login").into_response();
    };
    if !crate::auth::ct_eq(csrf_of(s).as_bytes(), f.csrf.as_bytes()) {
        return page_error(&ctx.tr, StatusCode::FORBIDDEN, "error-cross-site");
    }
    let mut r = Redirect::to("/login").into_response();
    clear_session(&mut r, c.secure_cookies);
    r
}

fn clear_session(r: &mut Response, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// The language setting: a cookie for a year, then back where the link was.
async fn set_lang(
    State(c): State<Console>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(code): Path<String>,
    Query(q): Query<NextQuery>,
) -> Response {
    let Some(code) = i18n::known(&code) else {
        return not_found(&ctx.tr, &code);
    };
    let mut r = Redirect::to(&local_path(q.next.as_deref())).into_response();
    let secure = if c.secure_cookies { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={code}; Path=/; Max-Age=31536000; SameSite=Lax{secure}"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The stylesheet, embedded in the binary.
async fn asset(axum::Extension(ctx): axum::Extension<Ctx>, Path(file): Path<String>) -> Response {
    match file.as_str() {
        "console.css" => (
            [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            include_str!("../../static/console.css"),
        )
            .into_response(),
        _ => not_found(&ctx.tr, &file),
    }
}

/// What `incident_rows.html` asks of the page that includes it.
pub trait IncidentRows {
    fn tr(&self) -> &Tr;

    /// A word of a kind: `word("incident", "open")` is the message `incident-open`.
    fn word(&self, prefix: &str, v: &str) -> String {
        self.tr().t(&format!("{prefix}-{v}"))
    }

    fn ticket_link(&self, i: &IncidentRow) -> Option<String> {
        ticket_link(&i.desk_side)
    }

    fn ticket_text(&self, i: &IncidentRow) -> String {
        ticket_text(self.tr(), &i.desk_side)
    }
}

/// A desk ticket's address, when it is one a browser may follow (http or https).
pub fn ticket_link(d: &DeskSide) -> Option<String> {
    safe_url(d.ticket.as_ref().and_then(|t| t.url.as_deref()))
}

/// A desk ticket's number or id, or "no ticket yet".
pub fn ticket_text(t: &Tr, d: &DeskSide) -> String {
    d.ticket
        .as_ref()
        .map(|t| t.display().to_string())
        .unwrap_or_else(|| t.t("ticket-none"))
}

/// Pages of a list: `(first, last, total)` shown, links to the previous and next.
pub struct Pager {
    pub first: i64,
    pub last: i64,
    pub total: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `base`: the list's query string without `page` (may be empty).
    pub fn new(path: &str, base: &str, page: u64, per: u64, shown: u64, total: u64) -> Pager {
        let link = |p: u64| {
            let sep = if base.is_empty() { "" } else { "&" };
            format!("{path}?{base}{sep}page={p}")
        };
        let first = if shown == 0 { 0 } else { page * per + 1 };
        Pager {
            first: first as i64,
            last: (page * per + shown) as i64,
            total: total as i64,
            prev: (page > 0).then(|| link(page - 1)),
            next: ((page + 1) * per < total).then(|| link(page + 1)),
        }
    }
}

/// A query string from its non-empty pairs.
pub fn query_string(pairs: &[(&str, Option<&str>)]) -> String {
    pairs
        .iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", urlencode(v)))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A ticket link fit for `href`: http or https only.
pub fn safe_url(u: Option<&str>) -> Option<String> {
    let u = u?.trim();
    let l = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    ((l.starts_with("http://") && u.len() > 7) || (l.starts_with("https://") && u.len() > 8))
        .then(|| u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_addresses_stay_on_this_site() {
        assert_eq!(local_path(Some("/hosts/ag_1?x=1")), "/hosts/ag_1?x=1");
        for evil in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "evil",
        ] {
            assert_eq!(local_path(Some(evil)), "/", "{evil}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h), "no browser headers: not a browser");
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&h));
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:7480"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:7480"),
        );
        assert!(same_origin(&h));
    }

    #[test]
    fn ticket_links_are_http_only() {
        assert_eq!(
            safe_url(Some("https://desk/t/1")).as_deref(),
            Some("https://desk/t/1")
        );
        assert_eq!(safe_url(Some("javascript:alert(1)")), None);
        assert_eq!(safe_url(Some("JaVaScRiPt:alert(1)")), None);
        assert_eq!(safe_url(Some("http://")), None);
    }

    #[test]
    fn pager_links_neighbours() {
        let p = Pager::new("/", "state=online", 1, 50, 50, 160);
        assert_eq!((p.first, p.last, p.total), (51, 100, 160));
        assert_eq!(p.prev.as_deref(), Some("/?state=online&page=0"));
        assert_eq!(p.next.as_deref(), Some("/?state=online&page=2"));
        let p = Pager::new("/", "", 0, 50, 0, 0);
        assert_eq!((p.first, p.prev, p.next), (0, None, None));
    }
}
