//! Zammad: tickets through Zammad's REST API v1 (`<url>/api/v1`, docs.zammad.org › API:
//! Tickets, Ticket articles, Tags; Zammad 5/6).
//!
//! Authentication: `Authorization: Token token=<access token>` (a personal access token
//! of an agent with `ticket.agent` on the group) or, with `auth_scheme: bearer`,
//! `Authorization: Bearer <OAuth2 access token>`.
//!
//! | operation | Zammad call |
//! |-----------|-------------|
//! | create    | `POST /api/v1/tickets` `{title, group, customer_id: "guess:<e-mail>" \| customer, priority_id, tags: "<key>,…", article: {subject, body, type: "note", internal: true, content_type: "text/plain"}}`; Zammad adds the `tags` in the same transaction as the ticket |
//! | find_open | `GET /api/v1/tickets/search?query=tags:"<key>" AND state.name:("new" OR "open" OR …)&expand=true&page=N&per_page=50&sort_by=created_at&order_by=asc`; pages until a page is short; the states of the answer (read from the database, not the index) are checked again |
//! | note      | `POST /api/v1/ticket_articles` `{ticket_id, body, type: "note", internal: true, content_type: "text/plain"}` |
//! | resolve   | `GET /api/v1/tickets/{id}?expand=true`; if still in an open state: `PUT /api/v1/tickets/{id}` `{state: "closed", article: {…internal note…}}` |
//! | reopen    | `PUT /api/v1/tickets/{id}` `{state: "open", article: {…internal note…}}` |
//! | read_back | `GET /api/v1/tickets/{id}?expand=true`: `state`, `owner_id`, `first_response_at`, `close_at` |
//!
//! The correlation key is a ticket tag. Finding it uses Zammad's search, which needs the
//! Elasticsearch index (without it Zammad only does a text search of titles and articles)
//! and is updated asynchronously, a few seconds after a change: a ticket created moments
//! ago may not be found yet. Zammad dates are ISO 8601 in UTC.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::{self, client, send};
use crate::Page;
use crate::{
    base_url, one_line, resolve_path, Desk, DeskError, DeskFuture, DeskResult, Secret, Ticket,
    TicketRef, TicketStatus,
};

/// Zammad's ticket title column holds 250 characters.
const TITLE_MAX: usize = 250;
/// Search results per page (Zammad allows up to 200).
const PER_PAGE: u32 = 50;
/// A search reads at most this many pages.
const MAX_PAGES: u32 = 20;
/// The open states when `open_states` is not set.
pub(crate) const DEFAULT_OPEN_STATES: [&str; 4] =
    ["new", "open", "pending reminder", "pending close"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZammadConfig {
    /// The Zammad address, e.g. `https://helpdesk.example.org`; the adapter appends
    /// `/api/v1/…`.
    pub url: String,
    /// A file holding the access token (preferred; relative to the config file).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Or an environment variable holding the access token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// `token` (default): a Zammad personal access token, sent as
    /// `Authorization: Token token=…`; `bearer`: an OAuth2 access token.
    #[serde(default)]
    pub auth_scheme: Option<String>,
    /// The group (by name) new tickets go to, e.g. `Users` or `2nd Level`.
    pub group: String,
    /// The customer of new tickets. An e-mail address is sent as
    /// `customer_id: "guess:<address>"` (Zammad creates the customer when unknown), a
    /// number as `customer_id`, anything else as `customer` (a login).
    pub customer: String,
    /// Zammad `priority_id` for Tilsyn priorities 1..5, in that order. Default
    /// `[3, 3, 2, 1, 1]` (Zammad's defaults: 1 low, 2 normal, 3 high).
    #[serde(default)]
    pub priority_ids: Option<Vec<u64>>,
    /// More tags for every new ticket, besides the correlation key (e.g. `["tilsyn"]`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// State names that count as open (searched for by find_open; any other state is
    /// "no longer active" for read_back). Default `["new", "open", "pending reminder",
    /// "pending close"]`.
    #[serde(default)]
    pub open_states: Option<Vec<String>>,
    /// The state resolve sets. Default `closed`.
    #[serde(default)]
    pub resolve_state: Option<String>,
    /// The state reopen sets. Default `open`.
    #[serde(default)]
    pub reopen_state: Option<String>,
}

impl ZammadConfig {
    /// Makes `token_file` absolute, relative to the config file's directory.
    pub fn resolve_paths(&mut self, base: &Path) {
        resolve_path(&mut self.token_file, base);
    }
}

pub struct Zammad {
    base: String,
    /// The base (for links) and the open states.
    reading: answers::Reading,
    authorization: Secret,
    client: reqwest::Client,
    group: String,
    customer: (&'static str, Value),
    priority_ids: Vec<u64>,
    tags: Vec<String>,
    resolve_state: String,
    reopen_state: String,
    per_page: u32,
}

impl Zammad {
    pub fn new(cfg: &ZammadConfig, timeout: Duration) -> Result<Self, Vec<String>> {
        let mut errs = Vec::new();
        let base = base_url(&cfg.url, "zammad.url")
            .map_err(|e| errs.push(e))
            .unwrap_or_default();
        let token = Secret::load(cfg.token_file.as_deref(), cfg.token_env.as_deref(), "token")
            .map_err(|e| errs.push(format!("zammad: {e}")))
            .unwrap_or_default();
        let authorization = match cfg.auth_scheme.as_deref().unwrap_or("token") {
            "token" => Secret::new(format!("Token token={}", token.expose())),
            "bearer" => Secret::new(format!("Bearer {}", token.expose())),
            other => {
                errs.push(format!(
                    "zammad.auth_scheme: {other:?} is neither \"token\" nor \"bearer\""
                ));
                Secret::default()
            }
        };
        let group = cfg.group.trim().to_string();
        if group.is_empty() {
            errs.push("zammad.group is empty: name the group new tickets go to".into());
        }
        let c = cfg.customer.trim();
        let customer = if c.is_empty() {
            errs.push(
                "zammad.customer is empty: give the customer's e-mail address (or login or id)"
                    .into(),
            );
            ("customer_id", Value::Null)
        } else if let Ok(id) = c.parse::<u64>() {
            ("customer_id", json!(id))
        } else if c.starts_with("guess:") {
            ("customer_id", json!(c))
        } else if c.contains('@') {
            ("customer_id", json!(format!("guess:{c}")))
        } else {
            ("customer", json!(c))
        };
        let priority_ids = match &cfg.priority_ids {
            None => vec![3, 3, 2, 1, 1],
            Some(l) if l.len() == 5 && l.iter().all(|p| *p > 0) => l.clone(),
            Some(l) => {
                errs.push(format!(
                    "zammad.priority_ids: list exactly 5 Zammad priority ids (1 or more), for Tilsyn priorities 1..5 in that order (got {l:?})"
                ));
                Vec::new()
            }
        };
        for t in &cfg.tags {
            if t.trim().is_empty() || t.contains(',') {
                errs.push(format!(
                    "zammad.tags: {t:?} is not a usable tag (empty, or has a comma)"
                ));
            }
        }
        let open_states = match &cfg.open_states {
            None => DEFAULT_OPEN_STATES.map(String::from).to_vec(),
            Some(l)
                if !l.is_empty() && l.iter().all(|s| !s.trim().is_empty() && !s.contains('"')) =>
            {
                l.iter().map(|s| s.trim().to_string()).collect()
            }
            Some(l) => {
                errs.push(format!(
                    "zammad.open_states: list the names of the open states, e.g. [\"new\", \"open\"] (got {l:?})"
                ));
                Vec::new()
            }
        };
        let state = |setting: &str, v: &Option<String>, default: &str, errs: &mut Vec<String>| {
            match v.as_deref().map(str::trim) {
                None => default.to_string(),
                Some("") => {
                    errs.push(format!(
                        "zammad.{setting} is empty: name a state, or remove the setting for {default:?}"
                    ));
                    String::new()
                }
                Some(s) => s.to_string(),
            }
        };
        let resolve_state = state("resolve_state", &cfg.resolve_state, "closed", &mut errs);
        let reopen_state = state("reopen_state", &cfg.reopen_state, "open", &mut errs);
        if !reopen_state.is_empty()
            && !open_states.is_empty()
            && !open_states.contains(&reopen_state)
        {
            errs.push(format!(
                "zammad.reopen_state {reopen_state:?} is not one of open_states {open_states:?}"
            ));
        }
        if open_states.contains(&resolve_state) {
            errs.push(format!(
                "zammad.resolve_state {resolve_state:?} is one of open_states {open_states:?}"
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Zammad {
            reading: answers::Reading {
                base: base.clone(),
                open_states,
            },
            base,
            authorization,
            client: client(timeout),
            group,
            customer,
            priority_ids,
            tags: cfg.tags.iter().map(|t| t.trim().to_string()).collect(),
            resolve_state,
            reopen_state,
            per_page: PER_PAGE,
        })
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}/api/v1{path}", self.base))
            .header(reqwest::header::AUTHORIZATION, self.authorization.expose())
            .header(reqwest::header::ACCEPT, "application/json")
    }

    fn create_body(&self, t: &Ticket) -> Value {
        let title = one_line(&t.title, TITLE_MAX);
        let tags: Vec<&str> = std::iter::once(t.key.as_str())
            .chain(self.tags.iter().map(String::as_str))
            .collect();
        let mut b = json!({
            "title": title,
            "group": self.group,
            "priority_id": self.priority_ids[(t.priority.max(1) as usize).min(5) - 1],
            "tags": tags.join(","),
            "article": {
                "subject": title,
                "body": t.body,
                "type": "note",
                "internal": true,
                "content_type": "text/plain",
            },
        });
        b[self.customer.0] = self.customer.1.clone();
        b
    }

    fn search_query(&self, key: &str) -> String {
        let states: Vec<String> = self
            .reading
            .open_states
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect();
        format!(
            "tags:\"{}\" AND state.name:({})",
            key.replace('\\', "\\\\").replace('"', "\\\""),
            states.join(" OR ")
        )
    }

    async fn get(&self, t: &TicketRef) -> DeskResult<TicketStatus> {
        let what = format!("Zammad read ticket {}", t.display());
        let resp = send(
            self.req(Method::GET, &format!("/tickets/{}", t.id))
                .query(&[("expand", "true")]),
            &what,
        )
        .await?;
        answers::ticket(&self.reading, &http::body(resp, &what).await?, &what)
    }

    async fn set_state(
        &self,
        t: &TicketRef,
        state: &str,
        text: &str,
        what: &str,
    ) -> DeskResult<()> {
        let what = format!("{what} {}", t.display());
        let body = json!({
            "state": state,
            "article": { "body": text, "type": "note", "internal": true, "content_type": "text/plain" },
        });
        send(
            self.req(Method::PUT, &format!("/tickets/{}", t.id))
                .json(&body),
            &what,
        )
        .await?;
        Ok(())
    }
}

impl Desk for Zammad {
    fn kind(&self) -> &'static str {
        "zammad"
    }

    fn create<'a>(&'a self, t: &'a Ticket) -> DeskFuture<'a, TicketRef> {
        Box::pin(async move {
            let what = "Zammad create ticket";
            let resp = send(
                self.req(Method::POST, "/tickets")
                    .json(&self.create_body(t)),
                what,
            )
            .await?;
            answers::created(&self.reading, &http::body(resp, what).await?)
        })
    }

    fn find_open<'a>(&'a self, key: &'a str) -> DeskFuture<'a, Option<TicketRef>> {
        Box::pin(async move {
            let what = "Zammad search tickets";
            let query = self.search_query(key);
            let per_page = self.per_page.to_string();
            for page in 1..=MAX_PAGES {
                let page = page.to_string();
                let resp = send(
                    self.req(Method::GET, "/tickets/search").query(&[
                        ("query", query.as_str()),
                        ("expand", "true"),
                        ("page", page.as_str()),
                        ("per_page", per_page.as_str()),
                        ("sort_by", "created_at"),
                        ("order_by", "asc"),
                    ]),
                    what,
                )
                .await?;
                let page = http::body(resp, what).await?;
                match answers::search_page(&self.reading, &page, self.per_page)? {
                    Page::Found(t) => return Ok(Some(t)),
                    Page::More(()) => {}
                    Page::End => return Ok(None),
                }
            }
            Err(DeskError::transient(format!(
                "{what}: more than {MAX_PAGES} pages of tickets tagged {key}"
            )))
        })
    }

    fn note<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            let what = format!("Zammad add note to ticket {}", t.display());
            let id: u64 = t.id.parse().map_err(|_| {
                DeskError::permanent(format!("{what}: {:?} is not a Zammad ticket id", t.id))
            })?;
            let body = json!({
                "ticket_id": id,
                "body": text,
                "type": "note",
                "internal": true,
                "content_type": "text/plain",
            });
            send(
                self.req(Method::POST, "/ticket_articles").json(&body),
                &what,
            )
            .await?;
            Ok(())
        })
    }

    fn resolve<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            if self.get(t).await?.closed {
                return Ok(());
            }
            self.set_state(t, &self.resolve_state, text, "Zammad close ticket")
                .await
        })
    }

    fn reopen<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            self.set_state(t, &self.reopen_state, text, "Zammad reopen ticket")
                .await
        })
    }

    fn read_back<'a>(&'a self, t: &'a TicketRef) -> DeskFuture<'a, Option<TicketStatus>> {
        Box::pin(async move { self.get(t).await.map(Some) })
    }
}

/// Zammad's REST API v1.
pub mod answers {
    use crate::{http, DeskError, DeskResult, Page, TicketRef, TicketStatus};
    use serde_json::Value;

    /// The settings Zammad's answers are read with.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Reading {
        /// Zammad's URL, for links to tickets.
        pub base: String,
        /// The names of the states in which a ticket is open.
        pub open_states: Vec<String>,
    }

    impl Default for Reading {
        /// The adapter's defaults, on `https://zammad.invalid`.
        fn default() -> Reading {
            Reading {
                base: "https://zammad.invalid".into(),
                open_states: crate::zammad::DEFAULT_OPEN_STATES
                    .map(String::from)
                    .to_vec(),
            }
        }
    }

    impl Reading {
        pub fn ticket_ref(&self, v: &Value, what: &str) -> DeskResult<TicketRef> {
            let id = v["id"]
                .as_u64()
                .or_else(|| v["id"].as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    DeskError::transient(format!("{what}: the answer has no ticket id"))
                })?;
            Ok(TicketRef {
                id: id.to_string(),
                number: v["number"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(String::from),
                url: Some(format!("{}/#ticket/zoom/{id}", self.base)),
            })
        }

        /// In an open state, or the answer does not say (`state` not expanded).
        pub fn is_open(&self, v: &Value) -> bool {
            v["state"]
                .as_str()
                .is_none_or(|s| self.open_states.iter().any(|o| o == s))
        }

        pub fn status_of(&self, v: &Value) -> TicketStatus {
            let state = v["state"]
                .as_str()
                .map(String::from)
                .or_else(|| v["state_id"].as_u64().map(|id| id.to_string()))
                .unwrap_or_default();
            let date = |v: &Value| crate::utc_ms(v.as_str()?);
            let first = date(&v["first_response_at"]);
            // Owner 1 is Zammad's "-" (nobody).
            let owned = v["owner_id"].as_u64().is_some_and(|o| o > 1);
            TicketStatus {
                closed: v["state"].is_string() && !self.is_open(v),
                state,
                responded: first.is_some() || owned,
                first_response_at_ms: first,
                resolved_at_ms: date(&v["close_at"]),
            }
        }
    }

    /// The create answer: the new ticket.
    pub fn created(rd: &Reading, body: &[u8]) -> DeskResult<TicketRef> {
        let what = "Zammad create ticket";
        rd.ticket_ref(&http::parse(body, what)?, what)
    }

    /// A page of `GET /tickets/search?…&expand=true` of `per_page` asked for: the first
    /// ticket in an open state, or whether another page follows (this one was full).
    pub fn search_page(rd: &Reading, body: &[u8], per_page: u32) -> DeskResult<Page> {
        let what = "Zammad search tickets";
        let list: Vec<Value> = http::parse(body, what)?;
        if let Some(v) = list.iter().find(|v| rd.is_open(v)) {
            return rd.ticket_ref(v, what).map(Page::Found);
        }
        Ok(if list.len() < per_page as usize {
            Page::End
        } else {
            Page::More(())
        })
    }

    /// `GET /tickets/{id}?expand=true`: state, owner and dates.
    pub fn ticket(rd: &Reading, body: &[u8], what: &str) -> DeskResult<TicketStatus> {
        let v: Value = http::parse(body, what)?;
        Ok(rd.status_of(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{Fault, Mock};

    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path as UrlPath, Query, State};
    use axum::http::{HeaderMap, StatusCode as Code};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post, put};
    use axum::{Json, Router};

    const TOKEN: &str = "zammad-tok-1";
    const KEY: &str = "tilsyn-0123456789abcdef0123456789abcdef";
    const STATES: [(u64, &str); 6] = [
        (1, "new"),
        (2, "open"),
        (3, "pending reminder"),
        (4, "closed"),
        (5, "merged"),
        (7, "pending close"),
    ];

    #[derive(Default)]
    struct Db {
        tickets: Vec<ZTicket>,
        created: Vec<Value>,
        updates: Vec<Value>,
        articles: Vec<Value>,
        searches: Vec<String>,
        /// Accept `Bearer` instead of `Token token=`.
        bearer: bool,
    }

    #[derive(Clone, Default)]
    struct ZTicket {
        id: u64,
        title: String,
        state: String,
        /// The state the search index knows (it lags behind the database).
        indexed_state: String,
        tags: Vec<String>,
        owner_id: u64,
        priority_id: u64,
        first_response_at: Option<String>,
        close_at: Option<String>,
    }

    impl ZTicket {
        fn state_id(&self) -> u64 {
            STATES.iter().find(|(_, n)| *n == self.state).unwrap().0
        }
        /// `attributes_with_association_ids`
        fn json(&self) -> Value {
            json!({
                "id": self.id, "group_id": 1, "priority_id": self.priority_id,
                "state_id": self.state_id(), "number": format!("{}", 31000 + self.id),
                "title": self.title, "owner_id": self.owner_id, "customer_id": 10,
                "first_response_at": self.first_response_at, "close_at": self.close_at,
                "created_at": "2026-11-22T10:00:00.000Z", "updated_at": "2026-11-22T10:00:00.000Z",
            })
        }
        /// `attributes_with_association_names` (`expand=true`)
        fn expanded(&self) -> Value {
            let mut v = self.json();
            v["state"] = json!(self.state);
            v["group"] = json!("Users");
            v["priority"] = json!(format!("{} x", self.priority_id));
            v["owner"] = json!(if self.owner_id == 1 {
                "-"
            } else {
                "agent@example.org"
            });
            v
        }
    }

    type Shared = Arc<Mutex<Db>>;

    /// Zammad's 401, if the Authorization header is not the expected one.
    fn refused(d: &Db, h: &HeaderMap) -> Option<Response> {
        let want = if d.bearer {
            format!("Bearer {TOKEN}")
        } else {
            format!("Token token={TOKEN}")
        };
        (h.get("authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str())).then(|| {
            (
                Code::UNAUTHORIZED,
                Json(json!({"error": "authentication failed"})),
            )
                .into_response()
        })
    }

    fn unprocessable(msg: &str) -> Response {
        (Code::UNPROCESSABLE_ENTITY, Json(json!({"error": msg}))).into_response()
    }

    async fn create(State(s): State<Shared>, h: HeaderMap, Json(b): Json<Value>) -> Response {
        let mut d = s.lock().unwrap();
        if let Some(r) = refused(&d, &h) {
            return r;
        }
        if b["group"] != "Users" {
            return unprocessable(&format!(
                "No lookup value found for 'group': {}",
                b["group"]
            ));
        }
        if b["customer_id"].is_null() && b["customer"].is_null() {
            return unprocessable("Customer can't be blank");
        }
        let id = d.tickets.len() as u64 + 1;
        let t = ZTicket {
            id,
            title: b["title"].as_str().unwrap_or_default().into(),
            state: "new".into(),
            indexed_state: "new".into(),
            tags: b["tags"]
                .as_str()
                .unwrap_or_default()
                .split(',')
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect(),
            owner_id: 1,
            priority_id: b["priority_id"].as_u64().unwrap_or(2),
            ..ZTicket::default()
        };
        d.articles
            .push(json!({"ticket_id": id, "from_create": b["article"].clone()}));
        d.created.push(b);
        d.tickets.push(t.clone());
        (Code::CREATED, Json(t.json())).into_response()
    }

    /// The search as Zammad's Elasticsearch query does it, for `tags:"…" AND
    /// state.name:("…" OR …)`; results come from the database (current state), in the
    /// order of creation, `page`/`per_page`, expanded.
    async fn search(
        State(s): State<Shared>,
        h: HeaderMap,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        let mut d = s.lock().unwrap();
        if let Some(r) = refused(&d, &h) {
            return r;
        }
        let query = q.get("query").cloned().unwrap_or_default();
        d.searches.push(query.clone());
        let Some(rest) = query.strip_prefix("tags:\"") else {
            return (Code::OK, Json(json!([]))).into_response();
        };
        let (tag, rest) = rest.split_once('"').unwrap();
        let states: Vec<String> = rest
            .strip_prefix(" AND state.name:(")
            .and_then(|r| r.strip_suffix(')'))
            .map(|r| {
                r.split(" OR ")
                    .map(|s| s.trim_matches('"').to_string())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(q.get("expand").map(String::as_str), Some("true"));
        let page: usize = q.get("page").map_or(1, |p| p.parse().unwrap());
        let per_page: usize = q.get("per_page").map_or(50, |p| p.parse().unwrap());
        let hits: Vec<Value> = d
            .tickets
            .iter()
            .filter(|t| t.tags.iter().any(|x| x == tag))
            .filter(|t| states.is_empty() || states.contains(&t.indexed_state))
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(ZTicket::expanded)
            .collect();
        Json(Value::Array(hits)).into_response()
    }

    async fn show(
        State(s): State<Shared>,
        h: HeaderMap,
        UrlPath(id): UrlPath<u64>,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        let d = s.lock().unwrap();
        if let Some(r) = refused(&d, &h) {
            return r;
        }
        match d.tickets.iter().find(|t| t.id == id) {
            Some(t) if q.get("expand").map(String::as_str) == Some("true") => {
                Json(t.expanded()).into_response()
            }
            Some(t) => Json(t.json()).into_response(),
            None => (
                Code::NOT_FOUND,
                Json(json!({"error": format!("Couldn't find Ticket with 'id'={id}")})),
            )
                .into_response(),
        }
    }

    async fn update(
        State(s): State<Shared>,
        h: HeaderMap,
        UrlPath(id): UrlPath<u64>,
        Json(b): Json<Value>,
    ) -> Response {
        let mut d = s.lock().unwrap();
        if let Some(r) = refused(&d, &h) {
            return r;
        }
        d.updates.push(b.clone());
        let Some(t) = d.tickets.iter_mut().find(|t| t.id == id) else {
            return (Code::NOT_FOUND, Json(json!({"error": "not found"}))).into_response();
        };
        if let Some(st) = b["state"].as_str() {
            if !STATES.iter().any(|(_, n)| *n == st) {
                return unprocessable(&format!("No lookup value found for 'state': {st:?}"));
            }
            t.state = st.to_string();
            t.indexed_state = st.to_string();
            t.close_at = (st == "closed").then(|| "2026-11-22T12:00:00.000Z".to_string());
        }
        let v = t.json();
        if !b["article"].is_null() {
            d.articles
                .push(json!({"ticket_id": id, "from_update": b["article"].clone()}));
        }
        Json(v).into_response()
    }

    async fn article(State(s): State<Shared>, h: HeaderMap, Json(b): Json<Value>) -> Response {
        let mut d = s.lock().unwrap();
        if let Some(r) = refused(&d, &h) {
            return r;
        }
        let id = b["ticket_id"].as_u64().unwrap_or(0);
        if !d.tickets.iter().any(|t| t.id == id) {
            return unprocessable("ticket not found");
        }
        d.articles.push(b);
        let n = d.articles.len();
        (
            Code::CREATED,
            Json(json!({"id": n, "ticket_id": id, "internal": true})),
        )
            .into_response()
    }

    async fn start() -> (Mock, Shared) {
        let s: Shared = Arc::default();
        let r = Router::new()
            .route("/api/v1/tickets", post(create))
            .route("/api/v1/tickets/search", get(search))
            .route("/api/v1/tickets/{id}", get(show).merge(put(update)))
            .route("/api/v1/ticket_articles", post(article))
            .with_state(s.clone());
        (Mock::start(r).await, s)
    }

    fn config(url: &str, dir: &tempfile::TempDir) -> ZammadConfig {
        let f = dir.path().join("token");
        std::fs::write(&f, format!("{TOKEN}\n")).unwrap();
        ZammadConfig {
            url: url.to_string(),
            token_file: Some(f),
            token_env: None,
            auth_scheme: None,
            group: "Users".into(),
            customer: "monitoring@example.org".into(),
            priority_ids: None,
            tags: vec!["tilsyn".into()],
            open_states: None,
            resolve_state: None,
            reopen_state: None,
        }
    }

    fn desk(url: &str, dir: &tempfile::TempDir, timeout: Duration) -> Zammad {
        Zammad::new(&config(url, dir), timeout).unwrap()
    }

    fn ticket() -> Ticket {
        Ticket {
            key: KEY.into(),
            title: "[Tilsyn P2] web01: filesystem / above 90 %".into(),
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
        assert_eq!(d.kind(), "zammad");

        assert_eq!(d.find_open(KEY).await.unwrap(), None, "empty search");
        let r = d.create(&ticket()).await.unwrap();
        assert_eq!(r.id, "1");
        assert_eq!(r.number.as_deref(), Some("31001"));
        assert_eq!(
            r.url.as_deref(),
            Some(format!("{}/#ticket/zoom/1", m.url).as_str())
        );
        {
            let st = s.lock().unwrap();
            assert_eq!(
                st.created[0],
                json!({
                    "title": "[Tilsyn P2] web01: filesystem / above 90 %",
                    "group": "Users",
                    "customer_id": "guess:monitoring@example.org",
                    "priority_id": 3,
                    "tags": format!("{KEY},tilsyn"),
                    "article": {
                        "subject": "[Tilsyn P2] web01: filesystem / above 90 %",
                        "body": "Observed on web01 since 10:00.\nFree some space.",
                        "type": "note", "internal": true, "content_type": "text/plain",
                    },
                })
            );
            assert_eq!(st.tickets[0].tags, vec![KEY.to_string(), "tilsyn".into()]);
        }

        assert_eq!(d.find_open(KEY).await.unwrap(), Some(r.clone()));
        assert_eq!(
            s.lock().unwrap().searches.last().unwrap(),
            &format!(
                "tags:\"{KEY}\" AND state.name:(\"new\" OR \"open\" OR \"pending reminder\" OR \"pending close\")"
            )
        );

        d.note(&r, "Still above 90 %.").await.unwrap();
        d.resolve(&r, "Back below 80 %.").await.unwrap();
        {
            let st = s.lock().unwrap();
            assert_eq!(
                st.articles[1],
                json!({"ticket_id": 1, "body": "Still above 90 %.", "type": "note",
                       "internal": true, "content_type": "text/plain"})
            );
            assert_eq!(
                st.updates[0],
                json!({"state": "closed", "article": {"body": "Back below 80 %.", "type": "note",
                       "internal": true, "content_type": "text/plain"}})
            );
            assert_eq!(st.tickets[0].state, "closed");
        }
        assert_eq!(d.find_open(KEY).await.unwrap(), None);

        // Already closed: nothing is sent.
        d.resolve(&r, "again").await.unwrap();
        assert_eq!(s.lock().unwrap().updates.len(), 1);

        d.reopen(&r, "It came back.").await.unwrap();
        {
            let st = s.lock().unwrap();
            assert_eq!(st.updates[1]["state"], "open");
            assert_eq!(st.updates[1]["article"]["internal"], true);
            assert_eq!(st.updates[1]["article"]["body"], "It came back.");
            assert_eq!(st.tickets[0].state, "open");
        }
        assert_eq!(d.find_open(KEY).await.unwrap(), Some(r));
    }

    #[tokio::test]
    async fn find_open_pages_past_stale_index_entries() {
        let (m, s) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let mut d = desk(&m.url, &dir, Duration::from_secs(5));
        d.per_page = 2;
        for _ in 0..3 {
            let r = d.create(&ticket()).await.unwrap();
            // Closed in the database; the index still says open.
            let mut st = s.lock().unwrap();
            let t = st
                .tickets
                .iter_mut()
                .find(|t| t.id.to_string() == r.id)
                .unwrap();
            t.state = "closed".into();
            t.indexed_state = "open".into();
        }
        let r = d.create(&ticket()).await.unwrap();
        assert_eq!(d.find_open(KEY).await.unwrap(), Some(r.clone()));
        let pages: Vec<String> = m
            .requests()
            .into_iter()
            .filter(|l| l.starts_with("GET /api/v1/tickets/search"))
            .collect();
        assert_eq!(pages.len(), 2, "{pages:?}");
        assert!(pages[0].contains("page=1") && pages[0].contains("per_page=2"));
        assert!(pages[1].contains("page=2"));
        // Only stale entries: the last, short page ends the search.
        s.lock()
            .unwrap()
            .tickets
            .retain(|t| t.id.to_string() != r.id);
        assert_eq!(d.find_open(KEY).await.unwrap(), None);
    }

    #[tokio::test]
    async fn read_back_uses_zammad_dates() {
        let (m, s) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = desk(&m.url, &dir, Duration::from_secs(5));
        let r = d.create(&ticket()).await.unwrap();
        assert_eq!(
            d.read_back(&r).await.unwrap().unwrap(),
            TicketStatus {
                state: "new".into(),
                responded: false,
                first_response_at_ms: None,
                resolved_at_ms: None,
                closed: false,
            }
        );
        s.lock().unwrap().tickets[0].owner_id = 3;
        let st = d.read_back(&r).await.unwrap().unwrap();
        assert!(st.responded, "an owner was set");
        assert_eq!(st.first_response_at_ms, None);
        {
            let mut st = s.lock().unwrap();
            let t = &mut st.tickets[0];
            t.state = "pending close".into();
            t.first_response_at = Some("2026-11-22T10:15:30.123Z".into());
        }
        let st = d.read_back(&r).await.unwrap().unwrap();
        assert_eq!(st.state, "pending close");
        assert!(!st.closed);
        assert_eq!(
            st.first_response_at_ms,
            Some(ts("2026-11-22T10:15:30.123Z"))
        );
        {
            let mut st = s.lock().unwrap();
            let t = &mut st.tickets[0];
            t.state = "closed".into();
            t.close_at = Some("2026-11-22T12:30:00.000Z".into());
        }
        let st = d.read_back(&r).await.unwrap().unwrap();
        assert!(st.closed);
        assert_eq!(st.resolved_at_ms, Some(ts("2026-11-22T12:30:00Z")));
    }

    #[test]
    fn priority_mapping_and_customers() {
        let dir = tempfile::tempdir().unwrap();
        let d = desk("https://zammad.example.org", &dir, Duration::from_secs(5));
        for (p, id) in [(1, 3), (2, 3), (3, 2), (4, 1), (5, 1), (0, 3), (9, 1)] {
            let mut t = ticket();
            t.priority = p;
            assert_eq!(d.create_body(&t)["priority_id"], id, "P{p}");
        }
        let mut c = config("https://zammad.example.org", &dir);
        c.priority_ids = Some(vec![5, 4, 3, 2, 1]);
        c.customer = "42".into();
        c.tags = Vec::new();
        let d = Zammad::new(&c, Duration::from_secs(5)).unwrap();
        let mut t = ticket();
        t.priority = 1;
        let b = d.create_body(&t);
        assert_eq!(b["priority_id"], 5);
        assert_eq!(b["customer_id"], 42);
        assert_eq!(b["tags"], KEY);
        for (given, field, sent) in [
            ("jdoe", "customer", json!("jdoe")),
            (
                "guess:a@b.example",
                "customer_id",
                json!("guess:a@b.example"),
            ),
            ("a@b.example", "customer_id", json!("guess:a@b.example")),
        ] {
            c.customer = given.into();
            let b = Zammad::new(&c, Duration::from_secs(5))
                .unwrap()
                .create_body(&t);
            assert_eq!(b[field], sent, "{given}");
        }
        t.title = "x".repeat(300);
        assert_eq!(
            d.create_body(&t)["title"].as_str().unwrap().chars().count(),
            250
        );
    }

    #[test]
    fn config_errors_are_all_reported() {
        let c = ZammadConfig {
            url: "ftp://zammad.example.org".into(),
            token_file: None,
            token_env: None,
            auth_scheme: Some("basic".into()),
            group: "".into(),
            customer: " ".into(),
            priority_ids: Some(vec![3, 2, 1]),
            tags: vec!["a,b".into()],
            open_states: None,
            resolve_state: Some("open".into()),
            reopen_state: Some("closed".into()),
        };
        let errs = Zammad::new(&c, Duration::from_secs(5)).err().unwrap();
        let all = errs.join("\n");
        assert_eq!(errs.len(), 9, "{all}");
        for needle in [
            "zammad.url",
            "token_file",
            "zammad.auth_scheme",
            "zammad.group",
            "zammad.customer",
            "zammad.priority_ids",
            "zammad.tags",
            "zammad.reopen_state",
            "zammad.resolve_state",
        ] {
            assert!(all.contains(needle), "{needle} in {all}");
        }
        let mut cfg: ZammadConfig = serde_json::from_value(json!({
            "url": "https://zammad.example.org", "token_file": "tok",
            "group": "Users", "customer": "a@b.example"
        }))
        .unwrap();
        cfg.resolve_paths(Path::new("/etc/tilsyn"));
        assert_eq!(
            cfg.token_file.as_deref(),
            Some(Path::new("/etc/tilsyn/tok"))
        );
        assert!(serde_json::from_value::<ZammadConfig>(json!({
            "url": "x", "group": "g", "customer": "c", "state": "closed"
        }))
        .is_err());
    }

    #[tokio::test]
    async fn bearer_tokens_and_failures() {
        let (m, s) = start().await;
        let dir = tempfile::tempdir().unwrap();
        s.lock().unwrap().bearer = true;
        let mut c = config(&m.url, &dir);
        c.auth_scheme = Some("bearer".into());
        let d = Zammad::new(&c, Duration::from_secs(5)).unwrap();
        let r = d.create(&ticket()).await.unwrap();

        // The same token as `Token token=` is refused by this desk: 401, permanent.
        let e = desk(&m.url, &dir, Duration::from_secs(5))
            .find_open(KEY)
            .await
            .unwrap_err();
        assert!(e.is_permanent() && e.to_string().contains("401"), "{e}");
        assert!(!e.to_string().contains(TOKEN));

        m.fail_next("/tickets/search", Fault::Status(503, None));
        assert!(!d.find_open(KEY).await.unwrap_err().is_permanent());

        m.fail_next("/ticket_articles", Fault::Status(429, Some(12)));
        match d.note(&r, "x").await.unwrap_err() {
            DeskError::Transient { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(12)))
            }
            e => panic!("{e:?}"),
        }

        m.fail_next("/tickets/", Fault::Status(403, None));
        assert!(d.read_back(&r).await.unwrap_err().is_permanent());
        let e = d.read_back(&TicketRef::new("999")).await.unwrap_err();
        assert!(e.is_permanent() && e.to_string().contains("404"), "{e}");

        // A group Zammad does not know: 422, permanent.
        let mut c2 = c.clone();
        c2.group = "Nowhere".into();
        let e = Zammad::new(&c2, Duration::from_secs(5))
            .unwrap()
            .create(&ticket())
            .await
            .unwrap_err();
        assert!(e.is_permanent() && e.to_string().contains("422"), "{e}");

        m.fail_next("/tickets/search", Fault::Garbage);
        assert!(!d.find_open(KEY).await.unwrap_err().is_permanent());

        let slow = Zammad::new(&c, Duration::from_millis(300)).unwrap();
        m.fail_next("/api/v1/tickets", Fault::Delay(Duration::from_millis(1500)));
        let e = slow.create(&ticket()).await.unwrap_err();
        assert!(
            !e.is_permanent() && e.to_string().contains("timed out"),
            "{e}"
        );

        // A 2xx without an id.
        let odd = Router::new().route(
            "/api/v1/tickets",
            post(|| async { (Code::CREATED, Json(json!({"title": "?"}))) }),
        );
        let m2 = Mock::start(odd).await;
        let e = desk(&m2.url, &dir, Duration::from_secs(5))
            .create(&ticket())
            .await
            .unwrap_err();
        assert!(
            !e.is_permanent() && e.to_string().contains("no ticket id"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_lost_create_answer_is_recovered_by_find_open() {
        let (m, s) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = desk(&m.url, &dir, Duration::from_secs(5));
        m.fail_next("/api/v1/tickets", Fault::LoseAnswer);
        assert!(!d.create(&ticket()).await.unwrap_err().is_permanent());
        let found = d.find_open(KEY).await.unwrap().expect("the ticket exists");
        assert_eq!(found.number.as_deref(), Some("31001"));
        assert_eq!(s.lock().unwrap().tickets.len(), 1);
    }
}
