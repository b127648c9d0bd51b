//! TOPdesk: incidents through the TOPdesk REST API, Incident Management API 3.x under
//! `<url>/tas/api` (developers.topdesk.com, explorer page "incident"; the FIQL `query`
//! parameter of the incident list exists from API version 3.4.0).
//!
//! Authentication: HTTP Basic with an operator's login name and an *application password*
//! (created in TOPdesk under the operator's settings › Application passwords). The operator
//! needs read/write/create rights on first- and second-line incidents.
//!
//! | operation | TOPdesk call |
//! |-----------|--------------|
//! | create    | `POST /tas/api/incidents` with `briefDescription` (≤ 80 characters, cut), `request`, `externalNumber` = key, and the optional `callType`, `category`, `subcategory`, `operatorGroup`, `entryType`, `status`, `caller`/`callerLookup`, `priority`, `impact`, `urgency` |
//! | find_open | `GET /tas/api/incidents?query=externalNumber==<key>;completed==false;closed==false&fields=…&pageStart=…&pageSize=…` (204 = none, 206 Partial Content = more pages) |
//! | note      | `PATCH /tas/api/incidents/id/{id}` with `action` and `actionInvisibleForCaller: true` |
//! | resolve   | `GET /tas/api/incidents/id/{id}`; unless completed/closed: `PATCH` with `processingStatus` (when `resolve_status` is set) or `completed: true`, optionally `closed: true` and `closureCode`, plus the text as an invisible action |
//! | reopen    | `PATCH` with `processingStatus` (when `reopen_status` is set) or `completed: false, closed: false`, plus the text as an invisible action |
//! | read_back | `GET /tas/api/incidents/id/{id}`: `processingStatus.name`, `responded`/`responseDate`, `completed`/`completedDate`, `closed`/`closedDate` |
//!
//! The correlation key lives in `externalNumber`, which the incident API limits to 60
//! characters; a key (`tilsyn-` + 32 hex digits = 39 characters) fits, so it is stored as
//! is and searched with an exact FIQL `==`. The answer is checked again on this side
//! (exact, case-sensitive match, not completed, not closed), because TOPdesk compares text
//! case-insensitively. A key longer than 60 characters is refused before anything is sent.
//!
//! TOPdesk dates look like `2026-11-22T10:15:30.000+0000`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::http::{self, client, send};
use crate::Page;
use crate::{
    base_url, one_line, resolve_path, Desk, DeskError, DeskFuture, DeskResult, Secret, Ticket,
    TicketRef, TicketStatus,
};

/// `externalNumber`'s length limit in the incident API.
const EXTERNAL_NUMBER_MAX: usize = 60;
/// `briefDescription`'s length limit.
const BRIEF_MAX: usize = 80;
/// Incidents per page of a search (TOPdesk allows up to 10000).
const PAGE_SIZE: u32 = 100;
/// A search reads at most this many pages.
const MAX_PAGES: u32 = 20;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopdeskConfig {
    /// The TOPdesk address, e.g. `https://company.topdesk.net`; the adapter appends
    /// `/tas/api/…`.
    pub url: String,
    /// The operator's login name (HTTP Basic user).
    pub username: String,
    /// A file holding the operator's application password (preferred; relative to the
    /// config file).
    #[serde(default)]
    pub application_password_file: Option<PathBuf>,
    /// Or an environment variable holding the application password.
    #[serde(default)]
    pub application_password_env: Option<String>,
    /// The caller of new incidents. A UUID is sent as `caller.id` (a registered person),
    /// an e-mail address as `callerLookup.email` (TOPdesk looks the person up), anything
    /// else as `caller.dynamicName` (an unregistered caller). Most TOPdesk installations
    /// require a caller.
    #[serde(default)]
    pub caller: Option<String>,
    /// Call type (e.g. `Malfunction`). For this and the other search-list settings below
    /// a UUID is sent as `{"id": …}`, anything else as `{"name": …}`.
    #[serde(default)]
    pub call_type: Option<String>,
    /// Category of new incidents.
    #[serde(default)]
    pub category: Option<String>,
    /// Subcategory of new incidents (must belong to `category`).
    #[serde(default)]
    pub subcategory: Option<String>,
    /// Operator group the incidents go to.
    #[serde(default)]
    pub operator_group: Option<String>,
    /// Entry type (how the call came in, e.g. `Monitoring`).
    #[serde(default)]
    pub entry_type: Option<String>,
    /// `firstLine` or `secondLine`; unset: TOPdesk's default.
    #[serde(default)]
    pub line: Option<String>,
    /// TOPdesk priority names for Tilsyn priorities 1..5, in that order (5 names, e.g.
    /// `["P1", "P2", "P3", "P4", "P5"]`). Unset: no priority is sent (TOPdesk computes it
    /// from impact and urgency when its priority matrix is on; then leave this unset).
    #[serde(default)]
    pub priorities: Option<Vec<String>>,
    /// TOPdesk impact names for Tilsyn impact 1 (high), 2, 3 (low), in that order.
    /// Unset: no impact is sent.
    #[serde(default)]
    pub impacts: Option<Vec<String>>,
    /// TOPdesk urgency names for Tilsyn urgency 1 (high), 2, 3 (low), in that order.
    /// Unset: no urgency is sent.
    #[serde(default)]
    pub urgencies: Option<Vec<String>>,
    /// Processing status (name or UUID) that resolves an incident, e.g. `Completed`; it
    /// must be one TOPdesk links to "completed". Unset: `completed: true` is sent.
    #[serde(default)]
    pub resolve_status: Option<String>,
    /// Also close the incident (`closed: true`) when resolving. Default false: the
    /// incident is completed and TOPdesk (or a person) closes it.
    #[serde(default)]
    pub close_on_resolve: bool,
    /// Closure code (name or UUID) sent when resolving, if the installation requires one.
    #[serde(default)]
    pub closure_code: Option<String>,
    /// Processing status (name or UUID) for a reopened incident, e.g. `In progress`. Unset:
    /// `completed: false, closed: false` is sent.
    #[serde(default)]
    pub reopen_status: Option<String>,
}

impl TopdeskConfig {
    /// Makes `application_password_file` absolute, relative to the config file's directory.
    pub fn resolve_paths(&mut self, base: &Path) {
        resolve_path(&mut self.application_password_file, base);
    }
}

pub struct Topdesk {
    api: String,
    username: String,
    password: Secret,
    client: reqwest::Client,
    /// Fields every new incident gets (callType, category …).
    fixed: Map<String, Value>,
    priorities: Option<Vec<String>>,
    impacts: Option<Vec<String>>,
    urgencies: Option<Vec<String>>,
    resolve_status: Option<String>,
    close_on_resolve: bool,
    closure_code: Option<String>,
    reopen_status: Option<String>,
    page_size: u32,
    reading: answers::Reading,
}

impl Topdesk {
    pub fn new(cfg: &TopdeskConfig, timeout: Duration) -> Result<Self, Vec<String>> {
        let mut errs = Vec::new();
        let base = base_url(&cfg.url, "topdesk.url")
            .map_err(|e| errs.push(e))
            .unwrap_or_default();
        if cfg.username.trim().is_empty() {
            errs.push("topdesk.username is empty: set the operator's login name".to_string());
        }
        let password = Secret::load(
            cfg.application_password_file.as_deref(),
            cfg.application_password_env.as_deref(),
            "application_password",
        )
        .map_err(|e| errs.push(format!("topdesk: {e}")))
        .unwrap_or_default();
        for (setting, v) in [
            ("caller", &cfg.caller),
            ("call_type", &cfg.call_type),
            ("category", &cfg.category),
            ("subcategory", &cfg.subcategory),
            ("operator_group", &cfg.operator_group),
            ("entry_type", &cfg.entry_type),
            ("resolve_status", &cfg.resolve_status),
            ("closure_code", &cfg.closure_code),
            ("reopen_status", &cfg.reopen_status),
        ] {
            if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                errs.push(format!(
                    "topdesk.{setting} is empty: give a name or UUID, or remove the setting"
                ));
            }
        }
        if let Some(l) = &cfg.line {
            if l != "firstLine" && l != "secondLine" {
                errs.push(format!(
                    "topdesk.line: {l:?} is neither \"firstLine\" nor \"secondLine\""
                ));
            }
        }
        for (setting, list, n, what) in [
            ("priorities", &cfg.priorities, 5, "priorities 1..5"),
            ("impacts", &cfg.impacts, 3, "impacts 1 (high)..3 (low)"),
            (
                "urgencies",
                &cfg.urgencies,
                3,
                "urgencies 1 (high)..3 (low)",
            ),
        ] {
            if let Some(l) = list {
                if l.len() != n || l.iter().any(|s| s.trim().is_empty()) {
                    errs.push(format!(
                        "topdesk.{setting}: list exactly {n} non-empty TOPdesk names, for Tilsyn {what} in that order (has {})",
                        l.len()
                    ));
                }
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }

        let mut fixed = Map::new();
        for (field, v) in [
            ("callType", &cfg.call_type),
            ("category", &cfg.category),
            ("subcategory", &cfg.subcategory),
            ("operatorGroup", &cfg.operator_group),
            ("entryType", &cfg.entry_type),
        ] {
            if let Some(v) = v {
                fixed.insert(field.to_string(), reference(v));
            }
        }
        if let Some(c) = &cfg.caller {
            let c = c.trim();
            if is_uuid(c) {
                fixed.insert("caller".into(), json!({ "id": c }));
            } else if c.contains('@') {
                fixed.insert("callerLookup".into(), json!({ "email": c }));
            } else {
                fixed.insert("caller".into(), json!({ "dynamicName": c }));
            }
        }
        if let Some(l) = &cfg.line {
            fixed.insert("status".into(), json!(l));
        }
        Ok(Topdesk {
            api: format!("{base}/tas/api"),
            reading: answers::Reading { base },
            username: cfg.username.trim().to_string(),
            password,
            client: client(timeout),
            fixed,
            priorities: cfg.priorities.clone(),
            impacts: cfg.impacts.clone(),
            urgencies: cfg.urgencies.clone(),
            resolve_status: cfg.resolve_status.clone(),
            close_on_resolve: cfg.close_on_resolve,
            closure_code: cfg.closure_code.clone(),
            reopen_status: cfg.reopen_status.clone(),
            page_size: PAGE_SIZE,
        })
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.api))
            .basic_auth(&self.username, Some(self.password.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// The JSON body of a new incident.
    fn create_body(&self, t: &Ticket) -> DeskResult<Value> {
        if t.key.chars().count() > EXTERNAL_NUMBER_MAX {
            return Err(DeskError::permanent(format!(
                "TOPdesk create incident: key {:?} is longer than externalNumber's {EXTERNAL_NUMBER_MAX} characters",
                t.key
            )));
        }
        let mut b = self.fixed.clone();
        b.insert(
            "briefDescription".into(),
            json!(one_line(&t.title, BRIEF_MAX)),
        );
        b.insert("request".into(), json!(t.body));
        b.insert("externalNumber".into(), json!(t.key));
        if let Some(n) = pick(&self.priorities, t.priority) {
            b.insert("priority".into(), reference(n));
        }
        if let Some(n) = pick(&self.impacts, t.impact) {
            b.insert("impact".into(), reference(n));
        }
        if let Some(n) = pick(&self.urgencies, t.urgency) {
            b.insert("urgency".into(), reference(n));
        }
        Ok(Value::Object(b))
    }

    async fn get(&self, t: &TicketRef) -> DeskResult<TicketStatus> {
        let what = format!("TOPdesk read incident {}", t.display());
        let resp = send(
            self.req(reqwest::Method::GET, &format!("/incidents/id/{}", t.id)),
            &what,
        )
        .await?;
        answers::ticket(&http::body(resp, &what).await?, &what)
    }

    async fn patch(&self, t: &TicketRef, body: Value, what: &str) -> DeskResult<()> {
        let what = format!("{what} {}", t.display());
        send(
            self.req(reqwest::Method::PATCH, &format!("/incidents/id/{}", t.id))
                .json(&body),
            &what,
        )
        .await?;
        Ok(())
    }
}

impl Desk for Topdesk {
    fn kind(&self) -> &'static str {
        "topdesk"
    }

    fn create<'a>(&'a self, t: &'a Ticket) -> DeskFuture<'a, TicketRef> {
        Box::pin(async move {
            let what = "TOPdesk create incident";
            let body = self.create_body(t)?;
            let resp = send(
                self.req(reqwest::Method::POST, "/incidents").json(&body),
                what,
            )
            .await?;
            answers::created(&self.reading, &http::body(resp, what).await?)
        })
    }

    fn find_open<'a>(&'a self, key: &'a str) -> DeskFuture<'a, Option<TicketRef>> {
        Box::pin(async move {
            let what = "TOPdesk find incident";
            let query = format!(
                "externalNumber=={};completed==false;closed==false",
                fiql_value(key)
            );
            for page in 0..MAX_PAGES {
                let start = (page * self.page_size).to_string();
                let size = self.page_size.to_string();
                let resp = send(
                    self.req(reqwest::Method::GET, "/incidents").query(&[
                        ("query", query.as_str()),
                        ("fields", "id,number,externalNumber,completed,closed"),
                        ("pageStart", start.as_str()),
                        ("pageSize", size.as_str()),
                    ]),
                    what,
                )
                .await?;
                let status = resp.status().as_u16();
                // 204 has no body; reading it anyway costs nothing.
                let page = http::body(resp, what).await?;
                match answers::search_page(&self.reading, &page, key, status)? {
                    Page::Found(t) => return Ok(Some(t)),
                    Page::More(()) => {}
                    Page::End => return Ok(None),
                }
            }
            Err(DeskError::transient(format!(
                "{what}: more than {} pages of incidents match {key}",
                MAX_PAGES
            )))
        })
    }

    fn note<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            self.patch(
                t,
                json!({ "action": text, "actionInvisibleForCaller": true }),
                "TOPdesk add action to",
            )
            .await
        })
    }

    fn resolve<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            if self.get(t).await?.closed {
                return Ok(());
            }
            let mut b = Map::new();
            b.insert("action".into(), json!(text));
            b.insert("actionInvisibleForCaller".into(), json!(true));
            match &self.resolve_status {
                Some(s) => {
                    b.insert("processingStatus".into(), reference(s));
                }
                None => {
                    b.insert("completed".into(), json!(true));
                }
            }
            if self.close_on_resolve {
                b.insert("closed".into(), json!(true));
            }
            if let Some(c) = &self.closure_code {
                b.insert("closureCode".into(), reference(c));
            }
            self.patch(t, Value::Object(b), "TOPdesk resolve incident")
                .await
        })
    }

    fn reopen<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            let mut b = Map::new();
            b.insert("action".into(), json!(text));
            b.insert("actionInvisibleForCaller".into(), json!(true));
            match &self.reopen_status {
                Some(s) => {
                    b.insert("processingStatus".into(), reference(s));
                }
                None => {
                    b.insert("completed".into(), json!(false));
                    b.insert("closed".into(), json!(false));
                }
            }
            self.patch(t, Value::Object(b), "TOPdesk reopen incident")
                .await
        })
    }

    fn read_back<'a>(&'a self, t: &'a TicketRef) -> DeskFuture<'a, Option<TicketStatus>> {
        Box::pin(async move { self.get(t).await.map(Some) })
    }
}

/// An incident as TOPdesk answers it (read by [`answers`]).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) number: Option<String>,
    #[serde(default)]
    pub(crate) external_number: Option<String>,
    #[serde(default)]
    pub(crate) responded: Option<bool>,
    #[serde(default)]
    pub(crate) response_date: Option<String>,
    #[serde(default)]
    pub(crate) completed: Option<bool>,
    #[serde(default)]
    pub(crate) completed_date: Option<String>,
    #[serde(default)]
    pub(crate) closed: Option<bool>,
    #[serde(default)]
    pub(crate) closed_date: Option<String>,
    #[serde(default)]
    pub(crate) processing_status: Option<Named>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Named {
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// `{"id": …}` for a UUID, `{"name": …}` otherwise.
fn reference(v: &str) -> Value {
    let v = v.trim();
    if is_uuid(v) {
        json!({ "id": v })
    } else {
        json!({ "name": v })
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The configured name for a 1-based level (clamped into the list).
fn pick(list: &Option<Vec<String>>, level: u8) -> Option<&str> {
    let l = list.as_ref()?;
    let i = (level.max(1) as usize).min(l.len()) - 1;
    l.get(i).map(String::as_str)
}

/// A FIQL argument: bare when it holds only unreserved characters, else double-quoted.
fn fiql_value(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// TOPdesk's incident API.
pub mod answers {
    use crate::{http, DeskError, DeskResult, Page, TicketRef, TicketStatus};

    use crate::topdesk::Incident;

    /// The settings TOPdesk's answers are read with.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Reading {
        /// TOPdesk's URL, for links to incidents.
        pub base: String,
    }

    impl Default for Reading {
        /// On `https://topdesk.invalid`.
        fn default() -> Reading {
            Reading {
                base: "https://topdesk.invalid".into(),
            }
        }
    }

    impl Reading {
        pub fn ticket_ref(&self, inc: Incident, what: &str) -> DeskResult<TicketRef> {
            let id = inc.id.filter(|s| !s.is_empty()).ok_or_else(|| {
                DeskError::transient(format!("{what}: the answer has no incident id"))
            })?;
            Ok(TicketRef {
                url: Some(format!(
                    "{}/tas/secure/incident?action=show&unid={id}",
                    self.base
                )),
                number: inc.number.filter(|s| !s.is_empty()),
                id,
            })
        }
    }

    /// The create answer: the new incident.
    pub fn created(rd: &Reading, body: &[u8]) -> DeskResult<TicketRef> {
        let what = "TOPdesk create incident";
        rd.ticket_ref(http::parse(body, what)?, what)
    }

    /// A page of `GET /incidents?query=externalNumber==<key>;…` answered with HTTP
    /// `status` (204: none; 206: more pages): the incident carrying exactly `key`.
    pub fn search_page(rd: &Reading, body: &[u8], key: &str, status: u16) -> DeskResult<Page> {
        let what = "TOPdesk find incident";
        if status == 204 {
            return Ok(Page::End);
        }
        let list: Vec<Incident> = http::parse(body, what)?;
        let more = status == 206 && !list.is_empty();
        if let Some(inc) = list.into_iter().find(|i| {
            i.external_number.as_deref() == Some(key)
                && i.completed != Some(true)
                && i.closed != Some(true)
        }) {
            return rd.ticket_ref(inc, what).map(Page::Found);
        }
        Ok(if more { Page::More(()) } else { Page::End })
    }

    /// `GET /incidents/id/{id}`: what a person did.
    pub fn ticket(body: &[u8], what: &str) -> DeskResult<TicketStatus> {
        let inc: Incident = http::parse(body, what)?;
        let completed = inc.completed == Some(true);
        let closed = inc.closed == Some(true);
        let first_response_at_ms = inc.response_date.as_deref().and_then(crate::utc_ms);
        let state = inc
            .processing_status
            .as_ref()
            .and_then(|p| p.name.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                if closed {
                    "closed"
                } else if completed {
                    "completed"
                } else {
                    "open"
                }
                .to_string()
            });
        Ok(TicketStatus {
            state,
            responded: inc.responded == Some(true) || first_response_at_ms.is_some(),
            first_response_at_ms,
            resolved_at_ms: inc
                .completed_date
                .as_deref()
                .and_then(crate::utc_ms)
                .or_else(|| inc.closed_date.as_deref().and_then(crate::utc_ms)),
            closed: completed || closed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{Fault, Mock};
    use crate::utc_ms;

    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path as UrlPath, Query, State};
    use axum::http::{HeaderMap, StatusCode as Code};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::{Json, Router};

    /// `Basic base64("tilsyn:app-pass-1")`
    const AUTH: &str = "Basic dGlsc3luOmFwcC1wYXNzLTE=";
    const KEY: &str = "tilsyn-0123456789abcdef0123456789abcdef";

    #[derive(Default)]
    struct Db {
        incidents: Vec<Inc>,
        /// Decoded `query` parameters of the searches received.
        searches: Vec<String>,
        /// Bodies of the PATCHes received, in order.
        patches: Vec<Value>,
        created: Vec<Value>,
    }

    #[derive(Clone, Default)]
    struct Inc {
        id: String,
        number: String,
        brief: String,
        request: String,
        external: String,
        status: String,
        completed: bool,
        completed_date: Option<String>,
        closed: bool,
        closed_date: Option<String>,
        responded: bool,
        response_date: Option<String>,
        actions: Vec<(String, bool)>,
        extra: Map<String, Value>,
    }

    impl Inc {
        fn json(&self) -> Value {
            let mut v = json!({
                "id": self.id,
                "number": self.number,
                "status": "firstLine",
                "briefDescription": self.brief,
                "request": self.request,
                "externalNumber": self.external,
                "processingStatus": {"id": "9b5f1a43-0000-4000-8000-00000000000a", "name": self.status},
                "responded": self.responded,
                "responseDate": self.response_date,
                "completed": self.completed,
                "completedDate": self.completed_date,
                "closed": self.closed,
                "closedDate": self.closed_date,
                "action": format!("/tas/api/incidents/id/{}/actions", self.id),
                "callDate": "2026-11-22T09:00:00.000+0000",
            });
            for (k, x) in &self.extra {
                v[k] = x.clone();
            }
            v
        }
    }

    type Shared = Arc<Mutex<Db>>;

    /// The 401 TOPdesk answers to wrong credentials, if they are wrong.
    fn refused(h: &HeaderMap) -> Option<Response> {
        (h.get("authorization").and_then(|v| v.to_str().ok()) != Some(AUTH)).then(|| {
            (
                Code::UNAUTHORIZED,
                Json(json!({"message": "Invalid credentials"})),
            )
                .into_response()
        })
    }

    const NOW: &str = "2026-11-22T10:15:30.000+0000";

    async fn create(State(s): State<Shared>, h: HeaderMap, Json(b): Json<Value>) -> Response {
        if let Some(r) = refused(&h) {
            return r;
        }
        let brief = b["briefDescription"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let external = b["externalNumber"].as_str().unwrap_or_default().to_string();
        if brief.chars().count() > BRIEF_MAX || external.chars().count() > EXTERNAL_NUMBER_MAX {
            return (
                Code::BAD_REQUEST,
                Json(json!([{"message": "field too long"}])),
            )
                .into_response();
        }
        let mut d = s.lock().unwrap();
        let n = d.incidents.len() + 1;
        let inc = Inc {
            id: format!("00000000-0000-4000-8000-{n:012}"),
            number: format!("I 2611 {n:03}"),
            brief,
            request: b["request"].as_str().unwrap_or_default().to_string(),
            external,
            status: "Registered".into(),
            ..Inc::default()
        };
        d.created.push(b);
        d.incidents.push(inc.clone());
        (Code::CREATED, Json(inc.json())).into_response()
    }

    /// TOPdesk's list: FIQL `query` with `;` as AND, text compared case-insensitively,
    /// pageStart/pageSize, 204 when nothing matches, 206 when more pages follow.
    async fn list(
        State(s): State<Shared>,
        h: HeaderMap,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        if let Some(r) = refused(&h) {
            return r;
        }
        let mut d = s.lock().unwrap();
        let query = q.get("query").cloned().unwrap_or_default();
        d.searches.push(query.clone());
        let start: usize = q.get("pageStart").map_or(0, |v| v.parse().unwrap());
        let size: usize = q.get("pageSize").map_or(10, |v| v.parse().unwrap());
        let mut hits: Vec<&Inc> = d.incidents.iter().collect();
        for cond in query.split(';').filter(|c| !c.is_empty()) {
            let Some((field, value)) = cond.split_once("==") else {
                return (Code::BAD_REQUEST, "bad FIQL").into_response();
            };
            let value = value.trim_matches('"').to_string();
            hits.retain(|i| match field {
                "externalNumber" => i.external.eq_ignore_ascii_case(&value),
                "completed" => i.completed.to_string() == value,
                "closed" => i.closed.to_string() == value,
                _ => false,
            });
        }
        if hits.is_empty() {
            return Code::NO_CONTENT.into_response();
        }
        let page: Vec<Value> = hits
            .iter()
            .skip(start)
            .take(size)
            .map(|i| i.json())
            .collect();
        let code = if start + size < hits.len() {
            Code::PARTIAL_CONTENT
        } else {
            Code::OK
        };
        (code, Json(Value::Array(page))).into_response()
    }

    async fn read(State(s): State<Shared>, h: HeaderMap, UrlPath(id): UrlPath<String>) -> Response {
        if let Some(r) = refused(&h) {
            return r;
        }
        let d = s.lock().unwrap();
        match d.incidents.iter().find(|i| i.id == id) {
            Some(i) => Json(i.json()).into_response(),
            None => (Code::NOT_FOUND, Json(json!([{"message": "not found"}]))).into_response(),
        }
    }

    async fn patch(
        State(s): State<Shared>,
        h: HeaderMap,
        UrlPath(id): UrlPath<String>,
        Json(b): Json<Value>,
    ) -> Response {
        if let Some(r) = refused(&h) {
            return r;
        }
        let mut d = s.lock().unwrap();
        d.patches.push(b.clone());
        let Some(i) = d.incidents.iter_mut().find(|i| i.id == id) else {
            return (Code::NOT_FOUND, Json(json!([{"message": "not found"}]))).into_response();
        };
        if let Some(a) = b["action"].as_str() {
            i.actions.push((
                a.to_string(),
                b["actionInvisibleForCaller"].as_bool().unwrap_or(false),
            ));
        }
        if let Some(c) = b["completed"].as_bool() {
            i.completed = c;
            i.completed_date = c.then(|| NOW.to_string());
            i.status = if c { "Completed" } else { "In progress" }.into();
        }
        if let Some(c) = b["closed"].as_bool() {
            i.closed = c;
            i.closed_date = c.then(|| NOW.to_string());
            if c {
                i.status = "Closed".into();
            }
        }
        if let Some(n) = b["processingStatus"]["name"].as_str() {
            i.status = n.to_string();
            if n == "Completed" {
                i.completed = true;
                i.completed_date = Some(NOW.to_string());
            }
        }
        Json(i.json()).into_response()
    }

    async fn start() -> (Mock, Shared) {
        let s: Shared = Arc::default();
        let r = Router::new()
            .route("/tas/api/incidents", post(create).get(list))
            .route("/tas/api/incidents/id/{id}", get(read).patch(patch))
            .with_state(s.clone());
        (Mock::start(r).await, s)
    }

    fn config(url: &str, dir: &tempfile::TempDir) -> TopdeskConfig {
        let f = dir.path().join("pw");
        std::fs::write(&f, "app-pass-1\n").unwrap();
        TopdeskConfig {
            url: url.to_string(),
            username: "tilsyn".into(),
            application_password_file: Some(f),
            application_password_env: None,
            caller: Some("monitoring@example.org".into()),
            call_type: Some("Malfunction".into()),
            category: Some("Infrastructure".into()),
            subcategory: None,
            operator_group: Some("5d3a8f3e-1c2b-4d5e-8f90-123456789abc".into()),
            entry_type: None,
            line: Some("secondLine".into()),
            priorities: Some(vec![
                "P1 Critical".into(),
                "P2 High".into(),
                "P3 Normal".into(),
                "P4 Low".into(),
                "P5 Planning".into(),
            ]),
            impacts: Some(vec!["Company".into(), "Department".into(), "Person".into()]),
            urgencies: Some(vec!["High".into(), "Medium".into(), "Low".into()]),
            resolve_status: None,
            close_on_resolve: false,
            closure_code: None,
            reopen_status: None,
        }
    }

    fn desk(url: &str, dir: &tempfile::TempDir, timeout: Duration) -> Topdesk {
        Topdesk::new(&config(url, dir), timeout).unwrap()
    }

    fn ticket() -> Ticket {
        Ticket {
            key: KEY.into(),
            title: "[Tilsyn P2] web01.example.org: filesystem / above 90 % for the last fifteen minutes and rising"
                .into(),
            body: "Observed on web01 since 10:00.\nFree some space.".into(),
            priority: 2,
            impact: 1,
            urgency: 3,
            severity: "high".into(),
            hostname: "web01".into(),
            agent_id: "a1".into(),
            department: "IT".into(),
            check: "filesystem:/".into(),
            opened_at_ms: 1_700_000_000_000,
        }
    }

    fn ts(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[tokio::test]
    async fn lifecycle_create_find_note_resolve_reopen() {
        let (m, s) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = desk(&m.url, &dir, Duration::from_secs(5));
        assert_eq!(d.kind(), "topdesk");

        assert_eq!(d.find_open(KEY).await.unwrap(), None, "empty search");
        let r = d.create(&ticket()).await.unwrap();
        assert_eq!(r.id, "00000000-0000-4000-8000-000000000001");
        assert_eq!(r.number.as_deref(), Some("I 2611 001"));
        assert_eq!(
            r.url.as_deref(),
            Some(format!("{}/tas/secure/incident?action=show&unid={}", m.url, r.id).as_str())
        );
        {
            let d = s.lock().unwrap();
            let b = &d.created[0];
            let brief = b["briefDescription"].as_str().unwrap();
            assert_eq!(brief.chars().count(), 80);
            assert!(brief.starts_with("[Tilsyn P2] web01.example.org") && brief.ends_with('…'));
            assert_eq!(
                b["request"],
                "Observed on web01 since 10:00.\nFree some space."
            );
            assert_eq!(b["externalNumber"], KEY);
            assert_eq!(b["callType"], json!({"name": "Malfunction"}));
            assert_eq!(b["category"], json!({"name": "Infrastructure"}));
            assert_eq!(
                b["operatorGroup"],
                json!({"id": "5d3a8f3e-1c2b-4d5e-8f90-123456789abc"})
            );
            assert_eq!(
                b["callerLookup"],
                json!({"email": "monitoring@example.org"})
            );
            assert_eq!(b["status"], "secondLine");
            assert_eq!(b["priority"], json!({"name": "P2 High"}));
            assert_eq!(b["impact"], json!({"name": "Company"}));
            assert_eq!(b["urgency"], json!({"name": "Low"}));
            assert!(b.get("subcategory").is_none());
        }

        let found = d.find_open(KEY).await.unwrap().expect("found");
        assert_eq!(found, r);
        assert_eq!(
            s.lock().unwrap().searches.last().unwrap(),
            &format!("externalNumber=={KEY};completed==false;closed==false")
        );

        d.note(&r, "Still above 90 %.").await.unwrap();
        d.resolve(&r, "Back below 80 %.").await.unwrap();
        {
            let d = s.lock().unwrap();
            assert_eq!(
                d.patches[0],
                json!({"action": "Still above 90 %.", "actionInvisibleForCaller": true})
            );
            assert_eq!(
                d.patches[1],
                json!({"action": "Back below 80 %.", "actionInvisibleForCaller": true, "completed": true})
            );
            let i = &d.incidents[0];
            assert!(i.completed && !i.closed);
            assert_eq!(i.actions.len(), 2);
            assert!(i.actions.iter().all(|(_, invisible)| *invisible));
        }
        assert_eq!(d.find_open(KEY).await.unwrap(), None);

        // Already completed: nothing more is sent.
        d.resolve(&r, "again").await.unwrap();
        assert_eq!(s.lock().unwrap().patches.len(), 2);

        d.reopen(&r, "It came back.").await.unwrap();
        assert_eq!(
            s.lock().unwrap().patches[2],
            json!({"action": "It came back.", "actionInvisibleForCaller": true, "completed": false, "closed": false})
        );
        assert_eq!(d.find_open(KEY).await.unwrap(), Some(r.clone()));
        assert_eq!(s.lock().unwrap().incidents.len(), 1);
    }

    #[tokio::test]
    async fn configured_statuses_are_sent_by_name() {
        let (m, s) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(&m.url, &dir);
        c.resolve_status = Some("Completed".into());
        c.close_on_resolve = true;
        c.closure_code = Some("Solved by monitoring".into());
        c.reopen_status = Some("In progress".into());
        c.caller = Some("Tilsyn monitoring".into());
        let d = Topdesk::new(&c, Duration::from_secs(5)).unwrap();
        let r = d.create(&ticket()).await.unwrap();
        assert_eq!(
            s.lock().unwrap().created[0]["caller"],
            json!({"dynamicName": "Tilsyn monitoring"})
        );
        d.resolve(&r, "ok").await.unwrap();
        d.reopen(&r, "again").await.unwrap();
        let st = s.lock().unwrap();
        assert_eq!(
            st.patches[0],
            json!({"action": "ok", "actionInvisibleForCaller": true,
                   "processingStatus": {"name": "Completed"}, "closed": true,
                   "closureCode": {"name": "Solved by monitoring"}})
        );
        assert_eq!(
            st.patches[1],
            json!({"action": "again", "actionInvisibleForCaller": true,
                   "processingStatus": {"name": "In progress"}})
        );
    }

    #[tokio::test]
    async fn find_open_reads_further_pages_and_matches_exactly() {
        let (m, s) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let mut d = desk(&m.url, &dir, Duration::from_secs(5));
        d.page_size = 2;
        {
            // Hand-made incidents whose externalNumber differs only in case: TOPdesk's
            // search returns them too, the adapter must skip them.
            let mut st = s.lock().unwrap();
            for n in 1..=3 {
                st.incidents.push(Inc {
                    id: format!("00000000-0000-4000-8000-00000000010{n}"),
                    number: format!("I 2611 10{n}"),
                    external: KEY.to_uppercase(),
                    status: "Registered".into(),
                    ..Inc::default()
                });
            }
        }
        let r = d.create(&ticket()).await.unwrap();
        assert_eq!(d.find_open(KEY).await.unwrap(), Some(r));
        let pages: Vec<String> = m
            .requests()
            .into_iter()
            .filter(|l| l.starts_with("GET /tas/api/incidents?"))
            .collect();
        assert_eq!(pages.len(), 2, "{pages:?}");
        assert!(pages[0].contains("pageStart=0") && pages[0].contains("pageSize=2"));
        assert!(pages[1].contains("pageStart=2"));
    }

    #[tokio::test]
    async fn read_back_uses_topdesk_dates() {
        let (m, s) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = desk(&m.url, &dir, Duration::from_secs(5));
        let r = d.create(&ticket()).await.unwrap();

        let st = d.read_back(&r).await.unwrap().unwrap();
        assert_eq!(
            st,
            TicketStatus {
                state: "Registered".into(),
                responded: false,
                first_response_at_ms: None,
                resolved_at_ms: None,
                closed: false,
            }
        );
        {
            let mut st = s.lock().unwrap();
            let i = &mut st.incidents[0];
            i.status = "In progress".into();
            i.responded = true;
            i.response_date = Some("2026-11-22T10:15:30.000+0000".into());
        }
        let st = d.read_back(&r).await.unwrap().unwrap();
        assert_eq!(st.state, "In progress");
        assert!(st.responded && !st.closed);
        assert_eq!(st.first_response_at_ms, Some(ts("2026-11-22T10:15:30Z")));
        {
            let mut st = s.lock().unwrap();
            let i = &mut st.incidents[0];
            i.status = "Completed".into();
            i.completed = true;
            i.completed_date = Some("2026-11-22T12:20:00.500+0100".into());
        }
        let st = d.read_back(&r).await.unwrap().unwrap();
        assert!(st.closed);
        assert_eq!(st.resolved_at_ms, Some(ts("2026-11-22T11:20:00.5Z")));
        assert_eq!(st.state, "Completed");
    }

    #[test]
    fn mapping_and_helpers() {
        let dir = tempfile::tempdir().unwrap();
        let d = desk("https://td.example.org", &dir, Duration::from_secs(5));
        // Tilsyn priority → configured TOPdesk priority name.
        for (p, name) in [
            (1, "P1 Critical"),
            (2, "P2 High"),
            (3, "P3 Normal"),
            (4, "P4 Low"),
            (5, "P5 Planning"),
            (0, "P1 Critical"),
            (9, "P5 Planning"),
        ] {
            let mut t = ticket();
            t.priority = p;
            assert_eq!(d.create_body(&t).unwrap()["priority"]["name"], name, "P{p}");
        }
        for (level, imp, urg) in [
            (1, "Company", "High"),
            (2, "Department", "Medium"),
            (3, "Person", "Low"),
        ] {
            let mut t = ticket();
            t.impact = level;
            t.urgency = level;
            let b = d.create_body(&t).unwrap();
            assert_eq!(b["impact"]["name"], imp);
            assert_eq!(b["urgency"]["name"], urg);
        }
        // Without maps nothing is sent (TOPdesk's priority matrix decides).
        let mut c = config("https://td.example.org", &dir);
        c.priorities = None;
        c.impacts = None;
        c.urgencies = None;
        let b = Topdesk::new(&c, Duration::from_secs(5))
            .unwrap()
            .create_body(&ticket())
            .unwrap();
        assert!(
            b.get("priority").is_none() && b.get("impact").is_none() && b.get("urgency").is_none()
        );
        // A key too long for externalNumber is refused.
        let mut t = ticket();
        t.key = format!("tilsyn-{}", "a".repeat(60));
        assert!(d.create_body(&t).unwrap_err().is_permanent());

        assert_eq!(one_line("short", 80), "short");
        assert_eq!(one_line(&"é".repeat(100), 80).chars().count(), 80);
        assert_eq!(fiql_value(KEY), KEY);
        assert_eq!(fiql_value("a;b"), "\"a;b\"");
        assert!(is_uuid("5d3a8f3e-1c2b-4d5e-8f90-123456789abc"));
        assert!(!is_uuid("Infrastructure"));
        assert_eq!(
            utc_ms("2026-11-22T10:15:30.000+0000"),
            Some(ts("2026-11-22T10:15:30Z"))
        );
        assert_eq!(
            utc_ms("2026-11-22T10:15:30Z"),
            Some(ts("2026-11-22T10:15:30Z"))
        );
        assert_eq!(utc_ms("yesterday"), None);
    }

    #[test]
    fn config_errors_are_all_reported() {
        let c = TopdeskConfig {
            url: "td.example.org".into(),
            username: " ".into(),
            application_password_file: None,
            application_password_env: None,
            caller: None,
            call_type: Some("".into()),
            category: None,
            subcategory: None,
            operator_group: None,
            entry_type: None,
            line: Some("thirdLine".into()),
            priorities: Some(vec!["P1".into(), "P2".into()]),
            impacts: None,
            urgencies: Some(vec!["a".into(), "".into(), "c".into()]),
            resolve_status: None,
            close_on_resolve: false,
            closure_code: None,
            reopen_status: None,
        };
        let errs = Topdesk::new(&c, Duration::from_secs(5)).err().unwrap();
        let all = errs.join("\n");
        assert_eq!(errs.len(), 7, "{all}");
        for needle in [
            "topdesk.url",
            "topdesk.username",
            "application_password_file",
            "topdesk.call_type",
            "topdesk.line",
            "topdesk.priorities",
            "topdesk.urgencies",
        ] {
            assert!(all.contains(needle), "{needle} in {all}");
        }

        let mut cfg: TopdeskConfig = serde_json::from_value(json!({
            "url": "https://td.example.org",
            "username": "tilsyn",
            "application_password_file": "secrets/td"
        }))
        .unwrap();
        cfg.resolve_paths(Path::new("/etc/tilsyn"));
        assert_eq!(
            cfg.application_password_file.as_deref(),
            Some(Path::new("/etc/tilsyn/secrets/td"))
        );
        assert!(serde_json::from_value::<TopdeskConfig>(json!({
            "url": "https://td.example.org", "username": "x", "password": "y"
        }))
        .is_err());
    }

    #[tokio::test]
    async fn failures_are_classified() {
        let (m, _s) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = desk(&m.url, &dir, Duration::from_secs(5));
        let r = d.create(&ticket()).await.unwrap();

        m.fail_next("/incidents", Fault::Status(500, None));
        let e = d.find_open(KEY).await.unwrap_err();
        assert!(!e.is_permanent(), "{e}");

        m.fail_next("/incidents", Fault::Status(429, Some(7)));
        match d.note(&r, "x").await.unwrap_err() {
            DeskError::Transient { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(7)))
            }
            e => panic!("{e:?}"),
        }

        m.fail_next("/incidents", Fault::Status(403, None));
        assert!(d.read_back(&r).await.unwrap_err().is_permanent());

        let gone = TicketRef::new("00000000-0000-4000-8000-000000000999");
        let e = d.read_back(&gone).await.unwrap_err();
        assert!(e.is_permanent() && e.to_string().contains("404"), "{e}");

        let mut c = config(&m.url, &dir);
        let f = dir.path().join("wrong");
        std::fs::write(&f, "wrong-password").unwrap();
        c.application_password_file = Some(f);
        let wrong = Topdesk::new(&c, Duration::from_secs(5)).unwrap();
        let e = wrong.find_open(KEY).await.unwrap_err();
        assert!(e.is_permanent() && e.to_string().contains("401"), "{e}");
        assert!(!e.to_string().contains("wrong-password"));

        m.fail_next("/incidents", Fault::Garbage);
        assert!(!d.find_open(KEY).await.unwrap_err().is_permanent());
        m.fail_next("/incidents", Fault::Garbage);
        assert!(!d.create(&ticket()).await.unwrap_err().is_permanent());

        let slow = desk(&m.url, &dir, Duration::from_millis(300));
        m.fail_next("/incidents", Fault::Delay(Duration::from_millis(1500)));
        let e = slow.read_back(&r).await.unwrap_err();
        assert!(
            !e.is_permanent() && e.to_string().contains("timed out"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_lost_create_answer_is_recovered_by_find_open() {
        let (m, s) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = desk(&m.url, &dir, Duration::from_secs(5));
        m.fail_next("/tas/api/incidents", Fault::LoseAnswer);
        let e = d.create(&ticket()).await.unwrap_err();
        assert!(!e.is_permanent(), "{e}");
        let found = d
            .find_open(KEY)
            .await
            .unwrap()
            .expect("the incident exists");
        assert_eq!(found.number.as_deref(), Some("I 2611 001"));
        assert_eq!(s.lock().unwrap().incidents.len(), 1);
    }
}
