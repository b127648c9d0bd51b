//! Generic webhook adapter: Tilsyn POSTs one JSON document per action to a URL you run
//! (a chat bridge, an in-house desk, an automation platform). There is no product API to
//! follow; this file defines the protocol.
//!
//! ## Requests
//!
//! `POST <url>` with `Content-Type: application/json` and the body
//!
//! ```json
//! {"event": "create", "key": "tilsyn-…", "ticket": { …the Ticket: key, title, body, priority,
//!   impact, urgency, severity, hostname, agent_id, department, check, opened_at_ms… }}
//! {"event": "note" | "resolve" | "reopen", "key": "tilsyn-…", "text": "…",
//!   "ticket_ref": {"id": "<your id, or the key>", "number"?: "…", "url"?: "…"}}
//! ```
//!
//! Headers on every request:
//! * `X-Tilsyn-Event`: `create`, `note`, `resolve`, `reopen` (`search` on the search GET).
//! * `X-Tilsyn-Delivery`: a **stable** id of this event: lowercase hex SHA-256 of
//!   `event` NUL `key` NUL `text`, where `text` is the note/resolution text and, for
//!   `create`, the incident's `opened_at_ms` in decimal. A retry of the same event (after
//!   a timeout or a lost answer) carries the same id, so a receiver can drop duplicates
//!   by it; a new incident for the same key (different `opened_at_ms`) gets a new id.
//!   Two events with identical event, key and text are the same delivery.
//! * `X-Tilsyn-Timestamp`: Unix seconds when the request was signed.
//! * `X-Tilsyn-Signature`: `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` when a
//!   secret is configured (`secret_file`/`secret_env`). The receiver recomputes it over the
//!   raw body bytes, compares in constant time and rejects old timestamps (e.g. > 5 min)
//!   to stop replays. Optional, but without it anyone who can reach the URL can forge
//!   incidents: configure it.
//! * the configured `headers` and `header_files` (e.g. `Authorization`).
//!
//! ## Answers
//!
//! Any 2xx is success. For `create`, the receiver may answer a JSON object
//! `{"id": "…", "number"?: "…", "url"?: "…"}` (id/number as string or number) naming its
//! own record; an empty body (e.g. 204) or an object without `id` means "no id of my
//! own": the key then identifies the ticket. Any other body is unreadable (transient, so
//! Tilsyn retries with the same `X-Tilsyn-Delivery`). 5xx, 408, 409, 429 (with
//! Retry-After) are retried; other 4xx stop and are shown to the operator.
//!
//! ## Finding the open ticket (crash recovery)
//!
//! With `search_url`, `find_open` sends `GET <search_url>?key=<key>` (headers as above,
//! `X-Tilsyn-Event: search`, and the signature over `"<timestamp>.<key>"`). Answer
//! `{"id": …, "number"?, "url"?}` for the open ticket of that key, or 404 / an empty body /
//! `null` / `{}` when there is none. Without `search_url` `find_open` always answers
//! "none": after a lost answer Tilsyn sends the create again, and the receiver must
//! deduplicate by `X-Tilsyn-Delivery` (or by `key`). `read_back` is not supported.
//!
//! The [`TicketRef::id`] this adapter keeps is the key, or `"<key> <receiver id>"` when the
//! receiver named its own id (keys never contain a space); the receiver always sees its
//! own id in `ticket_ref.id`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::{RequestBuilder, StatusCode};
use ring::hmac;
use serde_json::{json, Map, Value};

use crate::http;
use crate::{
    base_url, resolve_path, Desk, DeskError, DeskFuture, DeskResult, Secret, Ticket, TicketRef,
    TicketStatus,
};

/// A generic webhook. Example:
///
/// ```yaml
/// webhook:
///   url: https://hooks.example.org/tilsyn
///   secret_file: /etc/tilsyn/webhook-secret     # HMAC key for X-Tilsyn-Signature
///   search_url: https://hooks.example.org/tilsyn/open   # optional
///   header_files:
///     Authorization: /etc/tilsyn/webhook-auth   # file holding e.g. "Bearer …"
///   headers:
///     X-Source: tilsyn-prod
/// ```
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where every event is POSTed: http or https (https outside a lab), without a query
    /// string, fragment or `user:password@`. The URL may appear in error messages, so
    /// credentials go in `header_files` (e.g. `Authorization`), never in the URL.
    pub url: String,
    /// A file holding the shared secret for `X-Tilsyn-Signature` (HMAC-SHA256 over
    /// `"<timestamp>.<body>"`). Optional but recommended: without a secret requests are
    /// not signed. Set this or `secret_env`, not both.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// An environment variable holding the signing secret, instead of `secret_file`.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Optional URL (same rules as `url`) answering `GET ?key=<key>` with `{"id": …}`
    /// for the open ticket of a key, or 404 / empty for none. Lets Tilsyn find a ticket whose create answer was
    /// lost; without it the receiver must deduplicate creates by `X-Tilsyn-Delivery`.
    #[serde(default)]
    pub search_url: Option<String>,
    /// Extra headers sent with every request, name → value (not for secrets: use
    /// `header_files`). `Content-Type`, `Host`, `Content-Length` and `X-Tilsyn-*` are set
    /// by Tilsyn and cannot be overridden.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Extra headers whose value is read from a file at startup, name → path (relative
    /// paths are relative to the config file), e.g. `Authorization: /etc/tilsyn/hook-auth`
    /// with the file holding `Bearer …`. Never logged.
    #[serde(default)]
    pub header_files: BTreeMap<String, PathBuf>,
}

impl WebhookConfig {
    /// Makes `secret_file` and the `header_files` paths absolute, relative to the config
    /// file's directory `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        resolve_path(&mut self.secret_file, base);
        for p in self.header_files.values_mut() {
            let mut o = Some(std::mem::take(p));
            resolve_path(&mut o, base);
            *p = o.unwrap_or_default();
        }
    }
}

/// The generic webhook desk.
pub struct Webhook {
    http: reqwest::Client,
    url: reqwest::Url,
    search_url: Option<reqwest::Url>,
    secret: Option<hmac::Key>,
    headers: HeaderMap,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url.as_str())
            .field("search_url", &self.search_url.as_ref().map(|u| u.as_str()))
            .field("signed", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

/// The stable `X-Tilsyn-Delivery` id: hex SHA-256 of `event` NUL `key` NUL `text`.
pub fn delivery_id(event: &str, key: &str, text: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(event.as_bytes());
    ctx.update(&[0]);
    ctx.update(key.as_bytes());
    ctx.update(&[0]);
    ctx.update(text.as_bytes());
    hex::encode(ctx.finish().as_ref())
}

/// `X-Tilsyn-Signature` value for `payload` (the raw body, or the key on a search) signed
/// at `timestamp`: `sha256=` + hex HMAC-SHA256(secret, `"<timestamp>.<payload>"`).
pub fn signature(secret: &[u8], timestamp: u64, payload: &[u8]) -> String {
    sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret),
        timestamp,
        payload,
    )
}

fn sign(key: &hmac::Key, timestamp: u64, payload: &[u8]) -> String {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(payload);
    format!("sha256={}", hex::encode(ctx.sign().as_ref()))
}

/// Checks a webhook URL: `base_url`'s rules, and no credentials in it.
fn check_url(url: &str, what: &str) -> Result<reqwest::Url, String> {
    base_url(url, what)?;
    let u = reqwest::Url::parse(url).map_err(|e| format!("{what}: {e}"))?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err(format!(
            "{what}: do not put credentials in the URL; use header_files (e.g. Authorization)"
        ));
    }
    Ok(u)
}

fn header_name(name: &str, setting: &str) -> Result<HeaderName, String> {
    let n = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("{setting}: {name:?} is not a valid HTTP header name"))?;
    let s = n.as_str();
    if s.starts_with("x-tilsyn-") || ["content-type", "content-length", "host"].contains(&s) {
        return Err(format!(
            "{setting}: {name:?} is set by Tilsyn itself; remove it"
        ));
    }
    Ok(n)
}

impl Webhook {
    /// Checks the whole config and returns every problem at once.
    pub fn new(cfg: &WebhookConfig, timeout: Duration) -> Result<Webhook, Vec<String>> {
        let mut errs = Vec::new();
        let url = check_url(&cfg.url, "url").map_err(|e| errs.push(e)).ok();
        let search_url = match &cfg.search_url {
            Some(s) => check_url(s, "search_url").map_err(|e| errs.push(e)).ok(),
            None => None,
        };
        let secret = if cfg.secret_file.is_some() || cfg.secret_env.is_some() {
            match Secret::load(
                cfg.secret_file.as_deref(),
                cfg.secret_env.as_deref(),
                "secret",
            ) {
                Ok(s) => Some(hmac::Key::new(hmac::HMAC_SHA256, s.expose().as_bytes())),
                Err(e) => {
                    errs.push(e);
                    None
                }
            }
        } else {
            None
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &cfg.headers {
            let setting = format!("headers.{name}");
            match header_name(name, "headers") {
                Ok(n) => match HeaderValue::from_str(value.trim()) {
                    Ok(v) => {
                        headers.insert(n, v);
                    }
                    Err(_) => errs.push(format!(
                        "{setting}: the value is not a valid HTTP header value"
                    )),
                },
                Err(e) => errs.push(e),
            }
        }
        for (name, path) in &cfg.header_files {
            let setting = format!("header_files.{name}");
            let n = match header_name(name, "header_files") {
                Ok(n) => n,
                Err(e) => {
                    errs.push(e);
                    continue;
                }
            };
            if headers.contains_key(&n) {
                errs.push(format!(
                    "{setting}: {name:?} is also in headers; set it in one place"
                ));
                continue;
            }
            match std::fs::read_to_string(path) {
                Ok(s) if !s.trim().is_empty() => match HeaderValue::from_str(s.trim()) {
                    Ok(mut v) => {
                        v.set_sensitive(true);
                        headers.insert(n, v);
                    }
                    Err(_) => errs.push(format!(
                        "{setting}: {} does not hold a valid HTTP header value (one line)",
                        path.display()
                    )),
                },
                Ok(_) => errs.push(format!("{setting}: {} is empty", path.display())),
                Err(e) => errs.push(format!("{setting}: {}: {e}", path.display())),
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Webhook {
            http: http::client(timeout),
            url: url.expect("checked"),
            search_url,
            secret,
            headers,
        })
    }

    /// Adds the configured headers, the event, timestamp and (with a secret) signature.
    fn signed(&self, rb: RequestBuilder, event: &str, payload: &[u8]) -> RequestBuilder {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut rb = rb
            .headers(self.headers.clone())
            .header("X-Tilsyn-Event", event)
            .header("X-Tilsyn-Timestamp", ts.to_string());
        if let Some(k) = &self.secret {
            rb = rb.header("X-Tilsyn-Signature", sign(k, ts, payload));
        }
        rb
    }

    async fn post(
        &self,
        event: &str,
        key: &str,
        text: &str,
        body: &Value,
    ) -> DeskResult<reqwest::Response> {
        let bytes = serde_json::to_vec(body).expect("JSON");
        let rb = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("X-Tilsyn-Delivery", delivery_id(event, key, text))
            .body(bytes.clone());
        http::send(self.signed(rb, event, &bytes), &format!("webhook {event}")).await
    }

    async fn event(&self, event: &str, t: &TicketRef, text: &str) -> DeskResult<()> {
        let (key, rid) = split_ref(&t.id)?;
        let mut r = json!({ "id": rid });
        if let Some(n) = &t.number {
            r["number"] = Value::from(n.as_str());
        }
        if let Some(u) = &t.url {
            r["url"] = Value::from(u.as_str());
        }
        let body = json!({ "event": event, "key": key, "text": text, "ticket_ref": r });
        self.post(event, key, text, &body).await.map(|_| ())
    }
}

/// `(key, receiver id)` of a ref made by this adapter.
fn split_ref(id: &str) -> DeskResult<(&str, &str)> {
    let id = id.trim();
    if id.is_empty() {
        return Err(DeskError::permanent("webhook: empty ticket reference"));
    }
    Ok(id.split_once(' ').unwrap_or((id, id)))
}

pub(crate) fn id_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A receiver's answer: empty / `null` → `None`, a JSON object → `Some`, anything else is
/// unreadable (transient).
pub(crate) fn answer(bytes: &[u8], what: &str) -> DeskResult<Option<Map<String, Value>>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(Value::Null) => Ok(None),
        _ => {
            let head: String = String::from_utf8_lossy(bytes).chars().take(200).collect();
            Err(DeskError::transient(format!(
                "{what}: unreadable answer (expected nothing or a JSON object like {{\"id\": \"…\"}}): {}",
                head.replace(['\n', '\r'], " ")
            )))
        }
    }
}

/// The ref for the receiver's `{"id", "number", "url"}` (its id missing → the key).
pub(crate) fn ref_from(key: &str, m: &Map<String, Value>) -> TicketRef {
    let number = id_string(m.get("number"));
    let url = m
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| !u.trim().is_empty())
        .map(str::to_string);
    match id_string(m.get("id")).filter(|rid| rid != key) {
        Some(rid) => TicketRef {
            id: format!("{key} {rid}"),
            number: number.or(Some(rid)),
            url,
        },
        None => TicketRef {
            id: key.to_string(),
            number,
            url,
        },
    }
}

fn transport_error(e: reqwest::Error, what: &str) -> DeskError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut msg = format!("{what}: {kind}");
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    DeskError::transient(msg)
}

impl Desk for Webhook {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn create<'a>(&'a self, t: &'a Ticket) -> DeskFuture<'a, TicketRef> {
        Box::pin(async move {
            let what = "webhook create";
            if t.key.is_empty() || t.key.contains(' ') {
                return Err(DeskError::permanent(format!(
                    "{what}: the key {:?} is empty or contains a space",
                    t.key
                )));
            }
            let body = json!({ "event": "create", "key": t.key, "ticket": t });
            let resp = self
                .post("create", &t.key, &t.opened_at_ms.to_string(), &body)
                .await?;
            answers::created(&t.key, &http::body(resp, what).await?)
        })
    }

    fn find_open<'a>(&'a self, key: &'a str) -> DeskFuture<'a, Option<TicketRef>> {
        Box::pin(async move {
            let what = "webhook search";
            let Some(base) = &self.search_url else {
                return Ok(None);
            };
            let mut u = base.clone();
            u.query_pairs_mut().append_pair("key", key);
            let rb = self.signed(self.http.get(u), "search", key.as_bytes());
            let resp = rb.send().await.map_err(|e| transport_error(e, what))?;
            let status = resp.status();
            if status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if !status.is_success() {
                let retry = http::retry_after(resp.headers(), SystemTime::now());
                return Err(http::refused(status, retry, what, &http::head(resp).await));
            }
            answers::found(key, &http::body(resp, what).await?)
        })
    }

    fn note<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(self.event("note", t, text))
    }

    fn resolve<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(self.event("resolve", t, text))
    }

    fn reopen<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(self.event("reopen", t, text))
    }

    fn read_back<'a>(&'a self, _t: &'a TicketRef) -> DeskFuture<'a, Option<TicketStatus>> {
        Box::pin(async { Ok(None) })
    }
}

/// The generic webhook's receiver (the protocol is in [`crate::webhook`]).
pub mod answers {
    use crate::{DeskResult, TicketRef};

    use crate::webhook::{answer, id_string, ref_from};

    /// The create answer: the receiver's own record, or (empty, `null`, `{}`) the key.
    pub fn created(key: &str, body: &[u8]) -> DeskResult<TicketRef> {
        Ok(match answer(body, "webhook create")? {
            Some(m) => ref_from(key, &m),
            None => TicketRef::new(key),
        })
    }

    /// The search answer (2xx): the open ticket of `key`, or none (empty, `null`, `{}`).
    pub fn found(key: &str, body: &[u8]) -> DeskResult<Option<TicketRef>> {
        Ok(answer(body, "webhook search")?
            .filter(|m| id_string(m.get("id")).is_some())
            .map(|m| ref_from(key, &m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{Fault, Mock};
    use axum::body::Bytes;
    use axum::extract::{Query, State};
    use axum::http::HeaderMap as AxHeaders;
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::Router;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    const KEY: &str = "tilsyn-6dee80ce0a6577af06bdbee7c79975d2";
    const SECRET: &str = "hook-secret-0123456789";
    const AUTH: &str = "Bearer receiver-token-42";

    // ---------------------------------------------------------------- the receiver

    #[derive(Clone, Copy, PartialEq)]
    enum Answer {
        /// `{"id": "R-n", "number": "SD-n", "url": …}`
        Ids,
        /// 204 without a body.
        Empty,
        /// `{"ok": true}`
        NoId,
    }

    #[derive(Clone, Debug)]
    struct Got {
        headers: AxHeaders,
        raw: Vec<u8>,
        body: Value,
    }

    impl Got {
        fn h(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|v| v.to_str().ok())
        }
    }

    struct RxTicket {
        id: String,
        key: String,
        open: bool,
    }

    struct Rx {
        secret: Option<&'static str>,
        auth: Option<&'static str>,
        answer: Answer,
        got: Vec<Got>,
        searches: Vec<Got>,
        tickets: Vec<RxTicket>,
        /// X-Tilsyn-Delivery → the answer given (a receiver's dedupe table).
        seen: HashMap<String, Value>,
    }

    type S = Arc<Mutex<Rx>>;

    fn now_s() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// What a receiver should do: check the timestamp is fresh and the HMAC over
    /// "<timestamp>.<payload>" matches, in constant time (ring::hmac::verify).
    fn verify(secret: &str, h: &AxHeaders, payload: &[u8]) -> Result<(), &'static str> {
        let ts: u64 = h
            .get("x-tilsyn-timestamp")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or("no timestamp")?;
        if ts.abs_diff(now_s()) > 300 {
            return Err("stale timestamp");
        }
        let sig = h
            .get("x-tilsyn-signature")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("sha256="))
            .and_then(|v| hex::decode(v).ok())
            .ok_or("no signature")?;
        let mut msg = format!("{ts}.").into_bytes();
        msg.extend_from_slice(payload);
        let k = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        hmac::verify(&k, &msg, &sig).map_err(|_| "bad signature")
    }

    fn check(rx: &Rx, h: &AxHeaders, payload: &[u8]) -> Result<(), (StatusCode, &'static str)> {
        if let Some(a) = rx.auth {
            if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(a) {
                return Err((StatusCode::UNAUTHORIZED, "no auth"));
            }
        }
        if let Some(s) = rx.secret {
            verify(s, h, payload).map_err(|m| (StatusCode::UNAUTHORIZED, m))?;
        }
        Ok(())
    }

    fn ticket_json(t: &RxTicket) -> Value {
        let n = &t.id[2..];
        json!({ "id": t.id, "number": format!("SD-{n}"), "url": format!("https://desk.example/{}", t.id) })
    }

    async fn hook(State(s): State<S>, h: AxHeaders, raw: Bytes) -> Response {
        let mut rx = s.lock().unwrap();
        if let Err(r) = check(&rx, &h, &raw) {
            return r.into_response();
        }
        let body: Value = match serde_json::from_slice(&raw) {
            Ok(v) => v,
            Err(_) => return (StatusCode::BAD_REQUEST, "not JSON").into_response(),
        };
        rx.got.push(Got {
            headers: h.clone(),
            raw: raw.to_vec(),
            body: body.clone(),
        });
        let delivery = h
            .get("x-tilsyn-delivery")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let event = body["event"].as_str().unwrap_or("").to_string();
        let key = body["key"].as_str().unwrap_or("").to_string();
        if let Some(prev) = rx.seen.get(&delivery).cloned() {
            // Already done: answer as before, do nothing again.
            return answer_with(rx.answer, prev);
        }
        let out = match event.as_str() {
            "create" => {
                let id = format!("R-{}", rx.tickets.len() + 1);
                rx.tickets.push(RxTicket {
                    id,
                    key,
                    open: true,
                });
                ticket_json(rx.tickets.last().unwrap())
            }
            "resolve" | "reopen" => {
                let rid = body["ticket_ref"]["id"].as_str().unwrap_or("").to_string();
                if let Some(t) = rx.tickets.iter_mut().find(|t| t.id == rid || t.key == rid) {
                    t.open = event == "reopen";
                }
                Value::Null
            }
            _ => Value::Null,
        };
        rx.seen.insert(delivery, out.clone());
        answer_with(rx.answer, out)
    }

    fn answer_with(a: Answer, v: Value) -> Response {
        if v.is_null() {
            return StatusCode::OK.into_response();
        }
        match a {
            Answer::Ids => (StatusCode::CREATED, axum::Json(v)).into_response(),
            Answer::Empty => StatusCode::NO_CONTENT.into_response(),
            Answer::NoId => axum::Json(json!({"ok": true})).into_response(),
        }
    }

    async fn search(
        State(s): State<S>,
        h: AxHeaders,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        let mut rx = s.lock().unwrap();
        let key = q.get("key").cloned().unwrap_or_default();
        if let Err(r) = check(&rx, &h, key.as_bytes()) {
            return r.into_response();
        }
        rx.searches.push(Got {
            headers: h,
            raw: vec![],
            body: json!(q),
        });
        match rx.tickets.iter().find(|t| t.open && t.key == key) {
            Some(t) => axum::Json(ticket_json(t)).into_response(),
            None => (StatusCode::NOT_FOUND, "no open ticket").into_response(),
        }
    }

    async fn start(
        answer: Answer,
        secret: Option<&'static str>,
        auth: Option<&'static str>,
    ) -> (Mock, S) {
        let s = Arc::new(Mutex::new(Rx {
            secret,
            auth,
            answer,
            got: vec![],
            searches: vec![],
            tickets: vec![],
            seen: HashMap::new(),
        }));
        let r = Router::new()
            .route("/hook", post(hook))
            .route("/open", get(search))
            .with_state(s.clone());
        (Mock::start(r).await, s)
    }

    // ---------------------------------------------------------------- helpers

    struct Setup {
        cfg: WebhookConfig,
        _dir: tempfile::TempDir,
    }

    /// A config with secret_file, header_files.Authorization and search_url.
    fn setup(m: &Mock) -> Setup {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("secret"), format!("{SECRET}\n")).unwrap();
        std::fs::write(d.path().join("auth"), format!("{AUTH}\n")).unwrap();
        let mut cfg: WebhookConfig = serde_json::from_value(json!({
            "url": format!("{}/hook", m.url),
            "search_url": format!("{}/open", m.url),
            "secret_file": "secret",
            "header_files": { "Authorization": "auth" },
            "headers": { "X-Source": "tilsyn-test" },
        }))
        .unwrap();
        cfg.resolve_paths(d.path());
        Setup { cfg, _dir: d }
    }

    fn hook_of(s: &Setup) -> Webhook {
        Webhook::new(&s.cfg, Duration::from_secs(5)).unwrap()
    }

    fn ticket(key: &str) -> Ticket {
        Ticket {
            key: key.into(),
            title: "[Tilsyn P2] web01: filesystem / above 90 %".into(),
            body: "Filesystem / on web01 is 97.2 % full.".into(),
            priority: 2,
            impact: 2,
            urgency: 1,
            severity: "high".into(),
            hostname: "web01".into(),
            agent_id: "agent-1".into(),
            department: "Social services".into(),
            check: "filesystem:/".into(),
            opened_at_ms: 1_767_225_600_000,
        }
    }

    fn transient(e: &DeskError) -> Option<Duration> {
        match e {
            DeskError::Transient { retry_after, .. } => *retry_after,
            DeskError::Permanent { message } => panic!("expected transient: {message}"),
        }
    }

    // ---------------------------------------------------------------- tests

    #[test]
    fn hmac_matches_rfc_4231() {
        // ring's HMAC-SHA256 against RFC 4231 test case 2.
        let k = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        let tag = hmac::sign(&k, b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(tag.as_ref()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // signature() = HMAC over "<ts>.<payload>".
        let mut msg = b"1767225600.".to_vec();
        msg.extend_from_slice(b"{\"a\":1}");
        let want = hex::encode(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"s"), &msg).as_ref());
        assert_eq!(
            signature(b"s", 1_767_225_600, b"{\"a\":1}"),
            format!("sha256={want}")
        );
        // The delivery id: SHA-256 of "note\0<key>\0text".
        let d = ring::digest::digest(
            &ring::digest::SHA256,
            format!("note\0{KEY}\0still failing").as_bytes(),
        );
        assert_eq!(
            delivery_id("note", KEY, "still failing"),
            hex::encode(d.as_ref())
        );
    }

    #[tokio::test]
    async fn lifecycle_with_receiver_ids_signatures_and_search() {
        let (m, s) = start(Answer::Ids, Some(SECRET), Some(AUTH)).await;
        let w = hook_of(&setup(&m));
        let t = ticket(KEY);

        let r = w.create(&t).await.unwrap();
        assert_eq!(r.id, format!("{KEY} R-1"));
        assert_eq!(r.display(), "SD-1");
        assert_eq!(r.url.as_deref(), Some("https://desk.example/R-1"));
        {
            let rx = s.lock().unwrap();
            let g = &rx.got[0];
            assert_eq!(
                g.body,
                json!({ "event": "create", "key": KEY, "ticket": serde_json::to_value(&t).unwrap() })
            );
            assert_eq!(g.h("content-type"), Some("application/json"));
            assert_eq!(g.h("x-tilsyn-event"), Some("create"));
            assert_eq!(
                g.h("x-tilsyn-delivery"),
                Some(&*delivery_id("create", KEY, "1767225600000"))
            );
            assert_eq!(g.h("authorization"), Some(AUTH));
            assert_eq!(g.h("x-source"), Some("tilsyn-test"));
            // The signature the receiver got, recomputed independently.
            let ts: u64 = g.h("x-tilsyn-timestamp").unwrap().parse().unwrap();
            assert!(ts.abs_diff(now_s()) < 60);
            let mut msg = format!("{ts}.").into_bytes();
            msg.extend_from_slice(&g.raw);
            let k = hmac::Key::new(hmac::HMAC_SHA256, SECRET.as_bytes());
            let want = format!("sha256={}", hex::encode(hmac::sign(&k, &msg).as_ref()));
            assert_eq!(g.h("x-tilsyn-signature"), Some(&*want));
        }

        assert_eq!(w.find_open(KEY).await.unwrap(), Some(r.clone()));
        {
            let rx = s.lock().unwrap();
            let q = &rx.searches[0];
            assert_eq!(q.body, json!({ "key": KEY }));
            assert_eq!(q.h("x-tilsyn-event"), Some("search"));
            assert!(q.h("x-tilsyn-delivery").is_none());
        }

        w.note(&r, "still failing at 00:05").await.unwrap();
        {
            let rx = s.lock().unwrap();
            let g = rx.got.last().unwrap();
            assert_eq!(
                g.body,
                json!({ "event": "note", "key": KEY, "text": "still failing at 00:05",
                        "ticket_ref": { "id": "R-1", "number": "SD-1", "url": "https://desk.example/R-1" } })
            );
            assert_eq!(
                g.h("x-tilsyn-delivery"),
                Some(&*delivery_id("note", KEY, "still failing at 00:05"))
            );
        }

        w.resolve(&r, "recovered at 00:20").await.unwrap();
        assert_eq!(
            s.lock().unwrap().got.last().unwrap().body["event"],
            "resolve"
        );
        assert!(!s.lock().unwrap().tickets[0].open);
        assert_eq!(w.find_open(KEY).await.unwrap(), None, "404 = none");

        w.reopen(&r, "failing again at 01:00").await.unwrap();
        {
            let rx = s.lock().unwrap();
            let g = rx.got.last().unwrap();
            assert_eq!(g.body["event"], "reopen");
            assert_eq!(g.body["text"], "failing again at 01:00");
            assert_eq!(g.h("x-tilsyn-event"), Some("reopen"));
        }
        assert_eq!(w.find_open(KEY).await.unwrap(), Some(r.clone()));
        assert_eq!(w.read_back(&r).await.unwrap(), None);
        assert_eq!(s.lock().unwrap().got.len(), 4);
    }

    #[tokio::test]
    async fn without_body_search_or_secret_the_key_is_the_id() {
        let (m, s) = start(Answer::Empty, None, None).await;
        let cfg: WebhookConfig =
            serde_json::from_value(json!({ "url": format!("{}/hook", m.url) })).unwrap();
        let w = Webhook::new(&cfg, Duration::from_secs(5)).unwrap();
        let r = w.create(&ticket(KEY)).await.unwrap();
        assert_eq!(r, TicketRef::new(KEY));
        let n = m.requests().len();
        assert_eq!(w.find_open(KEY).await.unwrap(), None);
        assert_eq!(m.requests().len(), n, "no search without search_url");
        w.resolve(&r, "ok").await.unwrap();
        {
            let rx = s.lock().unwrap();
            assert!(
                rx.got[0].h("x-tilsyn-signature").is_none(),
                "no secret, no signature"
            );
            assert!(rx.got[0].h("x-tilsyn-timestamp").is_some());
            assert_eq!(
                rx.got[1].body,
                json!({ "event": "resolve", "key": KEY, "text": "ok", "ticket_ref": { "id": KEY } })
            );
        }
        // An object without "id" also means "no id of my own".
        s.lock().unwrap().answer = Answer::NoId;
        let r = w.create(&ticket("tilsyn-other")).await.unwrap();
        assert_eq!(r, TicketRef::new("tilsyn-other"));
    }

    #[tokio::test]
    async fn deliveries_are_stable_and_let_the_receiver_dedupe() {
        let (m, s) = start(Answer::Ids, Some(SECRET), Some(AUTH)).await;
        let w = hook_of(&setup(&m));
        let t = ticket(KEY);
        let a = w.create(&t).await.unwrap();
        let b = w.create(&t).await.unwrap();
        assert_eq!(a, b, "the receiver recognised the same delivery");
        assert_eq!(s.lock().unwrap().tickets.len(), 1);
        // A new incident for the same key (a later opened_at) is a new delivery.
        let mut later = t.clone();
        later.opened_at_ms += 3_600_000;
        w.create(&later).await.unwrap();
        assert_eq!(s.lock().unwrap().tickets.len(), 2);

        w.note(&a, "x").await.unwrap();
        w.note(&a, "x").await.unwrap();
        w.note(&a, "y").await.unwrap();
        w.resolve(&a, "x").await.unwrap();
        let rx = s.lock().unwrap();
        let ids: Vec<&str> = rx
            .got
            .iter()
            .map(|g| g.h("x-tilsyn-delivery").unwrap())
            .collect();
        assert_eq!(ids[0], ids[1]);
        assert_ne!(ids[1], ids[2]);
        assert_eq!(ids[3], ids[4], "same note, same delivery");
        assert_ne!(ids[4], ids[5], "different text");
        assert_ne!(ids[3], ids[6], "different event");
        // Timestamps and signatures differ per request, deliveries do not.
        assert!(ids.iter().all(|i| i.len() == 64));
    }

    #[tokio::test]
    async fn signatures_and_credentials_are_checked_by_the_receiver() {
        let (m, s) = start(Answer::Ids, Some("another-secret"), Some(AUTH)).await;
        let w = hook_of(&setup(&m));
        let e = w.create(&ticket(KEY)).await.unwrap_err();
        assert!(
            e.is_permanent() && e.to_string().contains("HTTP 401"),
            "{e}"
        );
        assert!(s.lock().unwrap().got.is_empty());
        let e = w.find_open(KEY).await.unwrap_err();
        assert!(
            e.is_permanent() && e.to_string().contains("HTTP 401"),
            "{e}"
        );

        // Right secret, missing Authorization header.
        let (m, _s) = start(Answer::Ids, Some(SECRET), Some(AUTH)).await;
        let mut st = setup(&m);
        st.cfg.header_files.clear();
        let e = hook_of(&st)
            .note(&TicketRef::new(KEY), "x")
            .await
            .unwrap_err();
        assert!(e.is_permanent(), "{e}");
        // The secret and header values never show in Debug or errors.
        let w = hook_of(&setup(&m));
        let dbg = format!("{w:?}");
        assert!(
            !dbg.contains(SECRET) && !dbg.contains("receiver-token"),
            "{dbg}"
        );
    }

    #[test]
    fn config_errors_are_reported_together() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("empty"), "\n").unwrap();
        let mut cfg: WebhookConfig = serde_json::from_value(json!({
            "url": "ftp://hooks.example.org/x",
            "search_url": "https://user:pw@hooks.example.org/open",
            "secret_file": "nope", "secret_env": "ALSO",
            "headers": { "Bad Header": "x", "X-Tilsyn-Event": "x", "X-Ok": "line\nbreak" },
            "header_files": { "Authorization": "missing", "X-Empty": "empty" },
        }))
        .unwrap();
        cfg.resolve_paths(d.path());
        assert_eq!(cfg.header_files["X-Empty"], d.path().join("empty"));
        let errs = Webhook::new(&cfg, Duration::from_secs(1)).unwrap_err();
        let all = errs.join("\n");
        for want in [
            "url:",
            "search_url: do not put credentials",
            "not both",
            "\"Bad Header\" is not a valid",
            "\"X-Tilsyn-Event\" is set by Tilsyn",
            "headers.X-Ok",
            "header_files.Authorization",
            "header_files.X-Empty",
        ] {
            assert!(all.contains(want), "no {want:?} in:\n{all}");
        }
        assert_eq!(errs.len(), 8, "{all}");
        let e =
            serde_json::from_value::<WebhookConfig>(json!({ "url": "https://x", "secret": "s" }))
                .unwrap_err();
        assert!(e.to_string().contains("unknown field `secret`"), "{e}");
    }

    #[tokio::test]
    async fn failures_are_classified() {
        let (m, _s) = start(Answer::Ids, Some(SECRET), Some(AUTH)).await;
        let st = setup(&m);
        let w = hook_of(&st);
        let r = TicketRef::new(KEY);

        m.fail_next("/hook", Fault::Status(500, None));
        assert_eq!(transient(&w.note(&r, "x").await.unwrap_err()), None);
        m.fail_next("/hook", Fault::Status(429, Some(9)));
        assert_eq!(
            transient(&w.resolve(&r, "x").await.unwrap_err()),
            Some(Duration::from_secs(9))
        );
        m.fail_next("/open", Fault::Status(503, Some(4)));
        assert_eq!(
            transient(&w.find_open(KEY).await.unwrap_err()),
            Some(Duration::from_secs(4))
        );
        for code in [400, 403, 404] {
            m.fail_next("/hook", Fault::Status(code, None));
            let e = w.reopen(&r, "x").await.unwrap_err();
            assert!(
                e.is_permanent() && e.to_string().contains(&format!("HTTP {code}")),
                "{e}"
            );
        }
        m.fail_next("/open", Fault::Status(403, None));
        assert!(w.find_open(KEY).await.unwrap_err().is_permanent());

        m.fail_next("/hook", Fault::Garbage);
        let e = w.create(&ticket(KEY)).await.unwrap_err();
        transient(&e);
        assert!(e.to_string().contains("unreadable answer"), "{e}");
        m.fail_next("/open", Fault::Garbage);
        transient(&w.find_open(KEY).await.unwrap_err());

        let slow = Webhook::new(&st.cfg, Duration::from_millis(300)).unwrap();
        m.fail_next("/hook", Fault::Delay(Duration::from_secs(2)));
        let e = slow.note(&r, "x").await.unwrap_err();
        transient(&e);
        assert!(e.to_string().contains("timed out"), "{e}");
        m.fail_next("/open", Fault::Delay(Duration::from_secs(2)));
        let e = slow.find_open(KEY).await.unwrap_err();
        assert!(e.to_string().contains("timed out"), "{e}");
        transient(&e);
    }

    #[tokio::test]
    async fn a_lost_create_answer_is_recovered() {
        let (m, s) = start(Answer::Ids, Some(SECRET), Some(AUTH)).await;
        let st = setup(&m);
        let w = hook_of(&st);
        m.fail_next("/hook", Fault::LoseAnswer);
        transient(&w.create(&ticket(KEY)).await.unwrap_err());
        // With search_url: the outbox finds the ticket the receiver made.
        let found = w.find_open(KEY).await.unwrap().unwrap();
        assert_eq!(found.id, format!("{KEY} R-1"));
        // Without: the create is sent again with the same delivery id, and the receiver
        // answers with the same ticket.
        let mut cfg = st.cfg.clone();
        cfg.search_url = None;
        let w2 = Webhook::new(&cfg, Duration::from_secs(5)).unwrap();
        assert_eq!(w2.find_open(KEY).await.unwrap(), None);
        assert_eq!(w2.create(&ticket(KEY)).await.unwrap(), found);
        let rx = s.lock().unwrap();
        assert_eq!(rx.tickets.len(), 1);
        assert_eq!(rx.got.len(), 2);
        assert_eq!(
            rx.got[0].h("x-tilsyn-delivery"),
            rx.got[1].h("x-tilsyn-delivery")
        );
    }

    #[tokio::test]
    async fn search_answers_none_in_several_ways() {
        async fn serve(body: &'static str, code: u16) -> Mock {
            Mock::start(Router::new().route(
                "/open",
                get(move || async move { (StatusCode::from_u16(code).unwrap(), body) }),
            ))
            .await
        }
        for (body, code, want) in [
            ("", 200, None),
            ("null", 200, None),
            ("{}", 200, None),
            ("{\"id\": null}", 200, None),
            ("nothing here", 404, None),
            ("{\"id\": 17}", 200, Some("tilsyn-k 17")),
            ("{\"id\": \"tilsyn-k\"}", 200, Some("tilsyn-k")),
        ] {
            let m = serve(body, code).await;
            let cfg: WebhookConfig = serde_json::from_value(json!({
                "url": format!("{}/hook", m.url), "search_url": format!("{}/open", m.url),
            }))
            .unwrap();
            let w = Webhook::new(&cfg, Duration::from_secs(5)).unwrap();
            let got = w.find_open("tilsyn-k").await.unwrap();
            assert_eq!(got.as_ref().map(|r| r.id.as_str()), want, "{body}");
            assert!(m.requests()[0].ends_with("/open?key=tilsyn-k"));
        }
    }
}
