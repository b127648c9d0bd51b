//! GLPI: tickets through GLPI's legacy REST API (`apirest.php`, GLPI 9.5/10; documented in
//! GLPI's `apirest.md`).
//!
//! Authentication: `GET apirest.php/initSession` with `Authorization: user_token <token>`
//! (the API user's "API token" from its preferences) and, when the API client is set up
//! with one, `App-Token: <token>`; the answer's `session_token` goes into `Session-Token`
//! on every later call. A session is kept between calls. When GLPI answers 401
//! `ERROR_SESSION_TOKEN_INVALID` (the session expired or GLPI restarted) the adapter opens
//! a new session and sends that one refused request again; GLPI did not act on it, so this
//! is part of the same logical action, not a retry.
//!
//! | operation | GLPI call |
//! |-----------|-----------|
//! | create    | `POST apirest.php/Ticket` `{"input": {name, content, type: 1, urgency, impact, priority, entities_id?, itilcategories_id?, requesttypes_id?, _groups_id_assign?}}` → `{"id": …}` |
//! | find_open | `GET apirest.php/search/Ticket?criteria[0][field]=1&…[searchtype]=contains&…[value]=<key>&criteria[1][link]=AND&criteria[1][field]=12&…[searchtype]=equals&…[value]=notold&forcedisplay[]=1,2,12&range=a-b` (field 1 = title, 2 = id, 12 = status; `notold` = new, assigned, planned, pending); paginated by `range`, `totalcount` / `Content-Range`, 206 Partial Content (`ERROR_RANGE_EXCEED_TOTAL` on a later page, when the list shrank meanwhile, ends the list) |
//! | note      | `POST apirest.php/ITILFollowup` `{"input": {itemtype: "Ticket", items_id, content, is_private: 1}}` |
//! | resolve   | `GET apirest.php/Ticket/{id}`; unless solved (5) or closed (6): `POST apirest.php/ITILSolution` `{"input": {itemtype, items_id, content, solutiontypes_id?}}`, then `PUT apirest.php/Ticket/{id}` `{"input": {status: 5}}` only if GLPI did not already mark it solved/closed |
//! | reopen    | `PUT apirest.php/Ticket/{id}` `{"input": {status: 2}}` and a private follow-up |
//! | read_back | `GET apirest.php/Ticket/{id}`: `status`, `takeintoaccountdate` (or `date` + `takeintoaccount_delay_stat`), `solvedate`, `closedate` |
//!
//! GLPI tickets have no external-id field, so the correlation key is the end of the title:
//! `<title> [tilsyn-…]`. The search is `contains` on the title (SQL LIKE, case-insensitive);
//! the adapter then keeps only a ticket whose title ends with exactly `[<key>]`.
//! Texts are sent as simple HTML (GLPI 10's rich text), escaped, lines joined with `<br>`.
//! Tickets, follow-ups and status changes made by the adapter carry
//! `_do_not_compute_takeintoaccount`, so GLPI's "taken into account" date stays that of
//! a person. GLPI dates are `YYYY-MM-DD HH:MM:SS` in the API user's time zone (`time_zone`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::http::{self, client, send};
use crate::Page;
use crate::{
    base_url, one_line, resolve_path, Desk, DeskError, DeskFuture, DeskResult, Secret, Ticket,
    TicketRef, TicketStatus,
};

/// GLPI's ticket title is a VARCHAR(255).
const NAME_MAX: usize = 255;
/// Rows per search page (GLPI's default list limit is 50).
const PAGE_SIZE: u64 = 50;
/// A search reads at most this many pages.
const MAX_PAGES: u64 = 20;

pub(crate) const SOLVED: i64 = 5;
const ASSIGNED: i64 = 2;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlpiConfig {
    /// GLPI's REST API, e.g. `https://glpi.example.org/apirest.php`; a GLPI address without
    /// `apirest.php` gets it appended.
    pub url: String,
    /// A file holding the API user's token ("API token" / "Remote access key" in the
    /// user's preferences; preferred, relative to the config file).
    #[serde(default)]
    pub user_token_file: Option<PathBuf>,
    /// Or an environment variable holding the user token.
    #[serde(default)]
    pub user_token_env: Option<String>,
    /// A file holding the API client's application token (Setup › General › API › API
    /// client). Leave both `app_token_*` unset when the API client has no token.
    #[serde(default)]
    pub app_token_file: Option<PathBuf>,
    /// Or an environment variable holding the application token.
    #[serde(default)]
    pub app_token_env: Option<String>,
    /// Entity of new tickets (`entities_id`); unset: the API user's active entity.
    #[serde(default)]
    pub entities_id: Option<u64>,
    /// ITIL category of new tickets (`itilcategories_id`).
    #[serde(default)]
    pub itilcategories_id: Option<u64>,
    /// Request source of new tickets (`requesttypes_id`, e.g. the id of "Monitoring").
    #[serde(default)]
    pub requesttypes_id: Option<u64>,
    /// Group new tickets are assigned to (GLPI's `_groups_id_assign`).
    #[serde(default)]
    pub groups_id_assign: Option<u64>,
    /// Solution type of the solutions the adapter adds (`solutiontypes_id`).
    #[serde(default)]
    pub solutiontypes_id: Option<u64>,
    /// GLPI priority (1 very low … 5 very high, 6 major) for Tilsyn priorities 1..5, in
    /// that order. Default `[5, 4, 3, 2, 1]`.
    #[serde(default)]
    pub priorities: Option<Vec<u8>>,
    /// GLPI impact (1 very low … 5 very high) for Tilsyn impact 1 (high), 2, 3 (low).
    /// Default `[5, 3, 2]` (very high, medium, low). GLPI only accepts levels enabled in
    /// Setup › General › Assistance.
    #[serde(default)]
    pub impacts: Option<Vec<u8>>,
    /// GLPI urgency (1 very low … 5 very high) for Tilsyn urgency 1 (high), 2, 3 (low).
    /// Default `[5, 3, 2]`.
    #[serde(default)]
    pub urgencies: Option<Vec<u8>>,
    /// Time zone of the dates GLPI returns (IANA name such as `Europe/Oslo`): the GLPI
    /// server's, or the API user's own time zone when GLPI has time zones enabled.
    /// Default `UTC`.
    #[serde(default)]
    pub time_zone: Option<String>,
}

impl GlpiConfig {
    /// Makes the `*_file` paths absolute, relative to the config file's directory.
    pub fn resolve_paths(&mut self, base: &Path) {
        resolve_path(&mut self.user_token_file, base);
        resolve_path(&mut self.app_token_file, base);
    }
}

pub struct Glpi {
    /// `…/apirest.php`
    api: String,
    user_token: Secret,
    app_token: Option<Secret>,
    client: reqwest::Client,
    session: Mutex<Option<String>>,
    fixed: Map<String, Value>,
    solutiontypes_id: Option<u64>,
    priorities: Vec<u8>,
    impacts: Vec<u8>,
    urgencies: Vec<u8>,
    page_size: u64,
    /// GLPI's web root (for links) and time zone.
    reading: answers::Reading,
}

impl Glpi {
    pub fn new(cfg: &GlpiConfig, timeout: Duration) -> Result<Self, Vec<String>> {
        let mut errs = Vec::new();
        let api = match base_url(&cfg.url, "glpi.url") {
            Ok(u) if u.ends_with("/apirest.php") => u,
            Ok(u) => format!("{u}/apirest.php"),
            Err(e) => {
                errs.push(e);
                String::new()
            }
        };
        let user_token = Secret::load(
            cfg.user_token_file.as_deref(),
            cfg.user_token_env.as_deref(),
            "user_token",
        )
        .map_err(|e| errs.push(format!("glpi: {e}")))
        .unwrap_or_default();
        let app_token = if cfg.app_token_file.is_some() || cfg.app_token_env.is_some() {
            Secret::load(
                cfg.app_token_file.as_deref(),
                cfg.app_token_env.as_deref(),
                "app_token",
            )
            .map_err(|e| errs.push(format!("glpi: {e}")))
            .ok()
        } else {
            None
        };
        let mut levels = |setting: &str, list: &Option<Vec<u8>>, default: &[u8], max: u8, what| {
            match list {
                None => default.to_vec(),
                Some(l) if l.len() == default.len() && l.iter().all(|v| (1..=max).contains(v)) => {
                    l.clone()
                }
                Some(l) => {
                    errs.push(format!(
                        "glpi.{setting}: list exactly {} GLPI levels between 1 and {max}, for Tilsyn {what} in that order (got {l:?})",
                        default.len()
                    ));
                    default.to_vec()
                }
            }
        };
        let priorities = levels(
            "priorities",
            &cfg.priorities,
            &[5, 4, 3, 2, 1],
            6,
            "priorities 1..5",
        );
        let impacts = levels(
            "impacts",
            &cfg.impacts,
            &[5, 3, 2],
            5,
            "impacts 1 (high)..3 (low)",
        );
        let urgencies = levels(
            "urgencies",
            &cfg.urgencies,
            &[5, 3, 2],
            5,
            "urgencies 1 (high)..3 (low)",
        );
        let tz = match cfg.time_zone.as_deref().map(str::trim) {
            None | Some("UTC") => jiff::tz::TimeZone::UTC,
            Some(name) => jiff::tz::TimeZone::get(name).unwrap_or_else(|e| {
                errs.push(format!(
                    "glpi.time_zone: {name:?} is not a known time zone ({e}); use an IANA name such as Europe/Oslo, or UTC"
                ));
                jiff::tz::TimeZone::UTC
            }),
        };
        if !errs.is_empty() {
            return Err(errs);
        }
        let mut fixed = Map::new();
        for (field, v) in [
            ("entities_id", cfg.entities_id),
            ("itilcategories_id", cfg.itilcategories_id),
            ("requesttypes_id", cfg.requesttypes_id),
            ("_groups_id_assign", cfg.groups_id_assign),
        ] {
            if let Some(v) = v {
                fixed.insert(field.to_string(), json!(v));
            }
        }
        Ok(Glpi {
            reading: answers::Reading {
                web: api.trim_end_matches("/apirest.php").to_string(),
                tz,
            },
            api,
            user_token,
            app_token,
            client: client(timeout),
            session: Mutex::new(None),
            fixed,
            solutiontypes_id: cfg.solutiontypes_id,
            priorities,
            impacts,
            urgencies,
            page_size: PAGE_SIZE,
        })
    }

    /// Opens a session and keeps its token.
    async fn login(&self) -> DeskResult<String> {
        let what = "GLPI initSession";
        let mut rb = self
            .client
            .get(format!("{}/initSession", self.api))
            .header(
                reqwest::header::AUTHORIZATION,
                format!("user_token {}", self.user_token.expose()),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(a) = &self.app_token {
            rb = rb.header("App-Token", a.expose());
        }
        let token = answers::session(&http::body(send(rb, what).await?, what).await?)?;
        *self.session.lock().expect("glpi session") = Some(token.clone());
        Ok(token)
    }

    /// One API request in the current session (opening one when needed); a request
    /// refused with ERROR_SESSION_TOKEN_INVALID is sent once more in a new session.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
        what: &str,
    ) -> DeskResult<Response> {
        let cached = self.session.lock().expect("glpi session").clone();
        let mut token = match cached {
            Some(t) => t,
            None => self.login().await?,
        };
        let mut renewed = false;
        loop {
            let mut rb = self
                .client
                .request(method.clone(), format!("{}{path}", self.api))
                .header("Session-Token", &token)
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(a) = &self.app_token {
                rb = rb.header("App-Token", a.expose());
            }
            if !query.is_empty() {
                rb = rb.query(query);
            }
            // GLPI asks for a Content-Type on every call, GETs included.
            rb = match body {
                Some(b) => rb.json(b),
                None => rb.header(reqwest::header::CONTENT_TYPE, "application/json"),
            };
            match send(rb, what).await {
                Err(DeskError::Permanent { message })
                    if !renewed && message.contains("ERROR_SESSION_TOKEN_INVALID") =>
                {
                    {
                        let mut s = self.session.lock().expect("glpi session");
                        if s.as_deref() == Some(token.as_str()) {
                            *s = None;
                        }
                    }
                    token = self.login().await?;
                    renewed = true;
                }
                r => return r,
            }
        }
    }

    fn create_body(&self, t: &Ticket) -> Value {
        let suffix = format!(" [{}]", t.key);
        let mut input = self.fixed.clone();
        input.insert(
            "name".into(),
            json!(format!(
                "{}{suffix}",
                one_line(&t.title, NAME_MAX.saturating_sub(suffix.chars().count()))
            )),
        );
        input.insert("content".into(), json!(html(&t.body)));
        input.insert("type".into(), json!(1));
        input.insert("urgency".into(), json!(level(&self.urgencies, t.urgency)));
        input.insert("impact".into(), json!(level(&self.impacts, t.impact)));
        input.insert(
            "priority".into(),
            json!(level(&self.priorities, t.priority)),
        );
        input.insert("_do_not_compute_takeintoaccount".into(), json!(true));
        json!({ "input": input })
    }

    async fn get(&self, t: &TicketRef) -> DeskResult<TicketStatus> {
        let what = format!("GLPI read ticket {}", t.id);
        let resp = self
            .call(Method::GET, &format!("/Ticket/{}", t.id), &[], None, &what)
            .await?;
        answers::ticket(&self.reading, &http::body(resp, &what).await?, &what)
    }

    async fn followup(&self, t: &TicketRef, text: &str, what: &str) -> DeskResult<()> {
        let body = json!({"input": {
            "itemtype": "Ticket",
            "items_id": ticket_id(t)?,
            "content": html(text),
            "is_private": 1,
            "_do_not_compute_takeintoaccount": true,
        }});
        self.call(Method::POST, "/ITILFollowup", &[], Some(&body), what)
            .await?;
        Ok(())
    }

    async fn set_status(&self, t: &TicketRef, status: i64, what: &str) -> DeskResult<()> {
        let body = json!({"input": {
            "status": status,
            "_do_not_compute_takeintoaccount": true,
        }});
        self.call(
            Method::PUT,
            &format!("/Ticket/{}", t.id),
            &[],
            Some(&body),
            what,
        )
        .await?;
        Ok(())
    }
}

impl Desk for Glpi {
    fn kind(&self) -> &'static str {
        "glpi"
    }

    fn create<'a>(&'a self, t: &'a Ticket) -> DeskFuture<'a, TicketRef> {
        Box::pin(async move {
            let what = "GLPI create ticket";
            let body = self.create_body(t);
            let resp = self
                .call(Method::POST, "/Ticket", &[], Some(&body), what)
                .await?;
            answers::created(&self.reading, &http::body(resp, what).await?)
        })
    }

    fn find_open<'a>(&'a self, key: &'a str) -> DeskFuture<'a, Option<TicketRef>> {
        Box::pin(async move {
            let what = "GLPI search tickets";
            let mut start = 0u64;
            for _ in 0..MAX_PAGES {
                let end = start + self.page_size - 1;
                let query: Vec<(String, String)> = [
                    ("criteria[0][field]", "1"),
                    ("criteria[0][searchtype]", "contains"),
                    ("criteria[0][value]", key),
                    ("criteria[1][link]", "AND"),
                    ("criteria[1][field]", "12"),
                    ("criteria[1][searchtype]", "equals"),
                    ("criteria[1][value]", "notold"),
                    ("forcedisplay[0]", "1"),
                    ("forcedisplay[1]", "2"),
                    ("forcedisplay[2]", "12"),
                    ("range", &format!("{start}-{end}")),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
                let resp = match self
                    .call(Method::GET, "/search/Ticket", &query, None, what)
                    .await
                {
                    // Fewer rows than when the previous page was read (one was solved
                    // meanwhile): the list ended.
                    Err(DeskError::Permanent { message })
                        if start > 0 && message.contains("ERROR_RANGE_EXCEED_TOTAL") =>
                    {
                        return Ok(None)
                    }
                    r => r?,
                };
                let partial = resp.status() == StatusCode::PARTIAL_CONTENT;
                let content_range = resp
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let page = http::body(resp, what).await?;
                let range = answers::Range {
                    start,
                    page_size: self.page_size,
                    partial,
                    content_range: content_range.as_deref(),
                };
                match answers::search_page(&self.reading, &page, key, range)? {
                    Page::Found(t) => return Ok(Some(t)),
                    Page::More(next) => start = next,
                    Page::End => return Ok(None),
                }
            }
            Err(DeskError::transient(format!(
                "{what}: more than {MAX_PAGES} pages of tickets mention {key}"
            )))
        })
    }

    fn note<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            self.followup(t, text, &format!("GLPI add follow-up to ticket {}", t.id))
                .await
        })
    }

    fn resolve<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            let what = format!("GLPI solve ticket {}", t.id);
            if self.get(t).await?.closed {
                return Ok(());
            }
            let mut input = json!({
                "itemtype": "Ticket",
                "items_id": ticket_id(t)?,
                "content": html(text),
            });
            if let Some(s) = self.solutiontypes_id {
                input["solutiontypes_id"] = json!(s);
            }
            self.call(
                Method::POST,
                "/ITILSolution",
                &[],
                Some(&json!({ "input": input })),
                &what,
            )
            .await?;
            // GLPI marks the ticket solved (or closed) when a solution is added; set it
            // only where that did not happen.
            if !self.get(t).await?.closed {
                self.set_status(t, SOLVED, &what).await?;
            }
            Ok(())
        })
    }

    fn reopen<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            let what = format!("GLPI reopen ticket {}", t.id);
            self.set_status(t, ASSIGNED, &what).await?;
            self.followup(t, text, &what).await
        })
    }

    fn read_back<'a>(&'a self, t: &'a TicketRef) -> DeskFuture<'a, Option<TicketStatus>> {
        Box::pin(async move { self.get(t).await.map(Some) })
    }
}

fn ticket_id(t: &TicketRef) -> DeskResult<u64> {
    t.id.parse()
        .map_err(|_| DeskError::permanent(format!("GLPI: {:?} is not a GLPI ticket id", t.id)))
}

/// A JSON number or a string of digits.
pub(crate) fn int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The configured GLPI level for a 1-based Tilsyn level (clamped into the list).
fn level(map: &[u8], v: u8) -> u8 {
    map[(v.max(1) as usize).min(map.len()) - 1]
}

/// Plain text as GLPI rich text.
fn html(text: &str) -> String {
    let esc = text
        .trim_end()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace("\r\n", "\n")
        .replace('\n', "<br>");
    format!("<p>{esc}</p>")
}

/// GLPI's legacy REST API (`apirest.php`).
pub mod answers {
    use crate::glpi::{int, SOLVED};
    use crate::{http, DeskError, DeskResult, Page, TicketRef, TicketStatus};
    use serde::Deserialize;
    use serde_json::Value;

    /// The settings GLPI's answers are read with.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Reading {
        /// GLPI's web root, for links to tickets.
        pub web: String,
        /// The API user's time zone, which GLPI's dates are in.
        pub tz: jiff::tz::TimeZone,
    }

    impl Default for Reading {
        /// The adapter's defaults (UTC), on `https://glpi.invalid`.
        fn default() -> Reading {
            Reading {
                web: "https://glpi.invalid".into(),
                tz: jiff::tz::TimeZone::UTC,
            }
        }
    }

    impl Reading {
        pub fn ticket_ref(&self, id: u64) -> TicketRef {
            TicketRef {
                id: id.to_string(),
                number: None,
                url: Some(format!("{}/front/ticket.form.php?id={id}", self.web)),
            }
        }

        /// A GLPI date (`YYYY-MM-DD HH:MM:SS` in the API user's zone) as ms.
        pub fn date(&self, v: &Value) -> Option<i64> {
            let s = v.as_str()?.trim();
            if s.is_empty() || s.starts_with("0000") {
                return None;
            }
            let dt = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", s)
                .or_else(|_| s.parse::<jiff::civil::DateTime>())
                .ok()?;
            dt.to_zoned(self.tz.clone())
                .ok()
                .map(|z| z.timestamp().as_millisecond())
        }

        /// What a person did, from a ticket as GLPI returns it.
        pub fn status_of(&self, v: &Value) -> TicketStatus {
            let status = int(&v["status"]).unwrap_or(0);
            let first = self.date(&v["takeintoaccountdate"]).or_else(|| {
                // Seconds after the opening date; a delay too large for a date is none.
                let delay = int(&v["takeintoaccount_delay_stat"]).filter(|d| *d > 0)?;
                self.date(&v["date"])?.checked_add(delay.checked_mul(1000)?)
            });
            let resolved = self
                .date(&v["solvedate"])
                .or_else(|| self.date(&v["closedate"]));
            TicketStatus {
                state: match status {
                    1 => "new",
                    2 => "processing (assigned)",
                    3 => "processing (planned)",
                    4 => "pending",
                    5 => "solved",
                    6 => "closed",
                    _ => "",
                }
                .to_string(),
                responded: first.is_some() || status >= 3,
                first_response_at_ms: first,
                resolved_at_ms: resolved,
                closed: status >= SOLVED,
            }
        }
    }

    /// The `initSession` answer: the session token.
    pub fn session(body: &[u8]) -> DeskResult<String> {
        let what = "GLPI initSession";
        #[derive(Deserialize)]
        struct Session {
            #[serde(default)]
            session_token: Option<String>,
        }
        let s: Session = http::parse(body, what)?;
        s.session_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| DeskError::transient(format!("{what}: the answer has no session_token")))
    }

    /// The create answer `{"id": …, "message": …}`: the new ticket.
    pub fn created(rd: &Reading, body: &[u8]) -> DeskResult<TicketRef> {
        let what = "GLPI create ticket";
        let v: Value = http::parse(body, what)?;
        let id = int(&v["id"])
            .filter(|id| *id > 0)
            .ok_or_else(|| DeskError::transient(format!("{what}: the answer has no ticket id")))?;
        Ok(rd.ticket_ref(id as u64))
    }

    /// Where a search page stands: the rows it asked for and how GLPI answered.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Range<'a> {
        /// The first row asked for, and rows per page.
        pub start: u64,
        pub page_size: u64,
        /// GLPI answered 206 Partial Content.
        pub partial: bool,
        /// The `Content-Range` header (`0-49/120`), if any.
        pub content_range: Option<&'a str>,
    }

    /// A page of `GET search/Ticket` (title contains the key, status not old): the ticket
    /// whose title ends with exactly `[<key>]`, or the start of the next page.
    pub fn search_page(
        rd: &Reading,
        body: &[u8],
        key: &str,
        r: Range<'_>,
    ) -> DeskResult<Page<u64>> {
        let what = "GLPI search tickets";
        let suffix = format!("[{key}]");
        let range_total = r
            .content_range
            .and_then(|v| v.rsplit('/').next()?.trim().parse::<u64>().ok());
        let page: Value = http::parse(body, what)?;
        let total = int(&page["totalcount"])
            .map(|t| t.max(0) as u64)
            .or(range_total)
            .unwrap_or(0);
        let rows: Vec<&Value> = match &page["data"] {
            Value::Array(a) => a.iter().collect(),
            Value::Object(o) => o.values().collect(),
            _ => Vec::new(),
        };
        let count = rows.len();
        for row in rows {
            let name = row["1"].as_str().unwrap_or_default().trim_end();
            let open = int(&row["12"]).is_none_or(|s| (1..SOLVED).contains(&s));
            if name.ends_with(&suffix) && open {
                if let Some(id) = int(&row["2"]).filter(|id| *id > 0) {
                    return Ok(Page::Found(rd.ticket_ref(id as u64)));
                }
            }
        }
        let next = r.start.saturating_add(r.page_size);
        Ok(if count == 0 || (next >= total && !r.partial) {
            Page::End
        } else {
            Page::More(next)
        })
    }

    /// `GET Ticket/{id}`: status and dates.
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
    use axum::routing::{get, post};
    use axum::{Json, Router};

    const USER_TOKEN: &str = "user-tok-1";
    const APP_TOKEN: &str = "app-tok-1";
    const KEY: &str = "tilsyn-0123456789abcdef0123456789abcdef";

    #[derive(Default)]
    struct Db {
        tickets: Vec<GTicket>,
        sessions: Vec<String>,
        logins: usize,
        created: Vec<Value>,
        followups: Vec<Value>,
        solutions: Vec<Value>,
        updates: Vec<Value>,
        /// Refuse every session token (as after a GLPI restart, again and again).
        refuse_sessions: bool,
        /// Right after answering the next search, a person solves every ticket.
        solve_all_after_search: bool,
    }

    #[derive(Clone, Default)]
    struct GTicket {
        id: u64,
        name: String,
        status: i64,
        date: String,
        takeintoaccountdate: Option<String>,
        takeintoaccount_delay_stat: i64,
        solvedate: Option<String>,
        closedate: Option<String>,
    }

    impl GTicket {
        fn json(&self) -> Value {
            json!({
                "id": self.id,
                "entities_id": 0,
                "name": self.name,
                "date": self.date,
                "closedate": self.closedate,
                "solvedate": self.solvedate,
                "takeintoaccountdate": self.takeintoaccountdate,
                "takeintoaccount_delay_stat": self.takeintoaccount_delay_stat,
                "status": self.status,
                "type": 1,
                "links": [],
            })
        }
    }

    type Shared = Arc<Mutex<Db>>;

    fn err(code: Code, e: &str, msg: &str) -> Response {
        (code, Json(json!([e, msg]))).into_response()
    }

    fn header<'a>(h: &'a HeaderMap, k: &str) -> Option<&'a str> {
        h.get(k).and_then(|v| v.to_str().ok())
    }

    /// GLPI's checks on every call after initSession: the error answer, if one fails.
    fn refused(d: &Db, h: &HeaderMap) -> Option<Response> {
        if header(h, "app-token") != Some(APP_TOKEN) {
            return Some(err(
                Code::BAD_REQUEST,
                "ERROR_WRONG_APP_TOKEN_PARAMETER",
                "parameter app_token seems wrong",
            ));
        }
        match header(h, "session-token") {
            Some(t) if !d.refuse_sessions && d.sessions.iter().any(|s| s == t) => None,
            _ => Some(err(
                Code::UNAUTHORIZED,
                "ERROR_SESSION_TOKEN_INVALID",
                "session_token seems invalid",
            )),
        }
    }

    async fn init_session(State(s): State<Shared>, h: HeaderMap) -> Response {
        if header(&h, "app-token") != Some(APP_TOKEN) {
            return err(
                Code::BAD_REQUEST,
                "ERROR_WRONG_APP_TOKEN_PARAMETER",
                "parameter app_token seems wrong",
            );
        }
        if header(&h, "authorization") != Some(&format!("user_token {USER_TOKEN}")) {
            return err(
                Code::UNAUTHORIZED,
                "ERROR_GLPI_LOGIN_USER_TOKEN",
                "parameter user_token seems invalid",
            );
        }
        let mut d = s.lock().unwrap();
        d.logins += 1;
        let t = format!("sess{}", d.logins);
        d.sessions.push(t.clone());
        Json(json!({ "session_token": t })).into_response()
    }

    async fn add_ticket(State(s): State<Shared>, h: HeaderMap, Json(b): Json<Value>) -> Response {
        let mut d = s.lock().unwrap();
        if let Some(r) = refused(&d, &h) {
            return r;
        }
        let id = 100 + d.tickets.len() as u64;
        d.tickets.push(GTicket {
            id,
            name: b["input"]["name"].as_str().unwrap_or_default().to_string(),
            status: 1,
            date: "2026-11-22 10:00:00".into(),
            ..GTicket::default()
        });
        d.created.push(b);
        (Code::CREATED, Json(json!({"id": id, "message": ""}))).into_response()
    }

    async fn get_ticket(
        State(s): State<Shared>,
        h: HeaderMap,
        UrlPath(id): UrlPath<u64>,
    ) -> Response {
        let d = s.lock().unwrap();
        if let Some(r) = refused(&d, &h) {
            return r;
        }
        match d.tickets.iter().find(|t| t.id == id) {
            Some(t) => Json(t.json()).into_response(),
            None => err(Code::NOT_FOUND, "ERROR_ITEM_NOT_FOUND", "Item not found"),
        }
    }

    async fn put_ticket(
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
            return err(Code::BAD_REQUEST, "ERROR_GLPI_UPDATE", "Item not found");
        };
        if let Some(st) = b["input"]["status"].as_i64() {
            t.status = st;
            if st == 5 {
                t.solvedate = Some("2026-11-22 12:00:00".into());
            } else if st < 5 {
                t.solvedate = None;
                t.closedate = None;
            }
        }
        Json(json!([{ id.to_string(): true, "message": "" }])).into_response()
    }

    async fn add_followup(State(s): State<Shared>, h: HeaderMap, Json(b): Json<Value>) -> Response {
        let mut d = s.lock().unwrap();
        if let Some(r) = refused(&d, &h) {
            return r;
        }
        let id = b["input"]["items_id"].as_u64().unwrap_or(0);
        if !d.tickets.iter().any(|t| t.id == id) {
            return err(Code::BAD_REQUEST, "ERROR_GLPI_ADD", "Item not found");
        }
        d.followups.push(b);
        let n = d.followups.len();
        (Code::CREATED, Json(json!({"id": n, "message": ""}))).into_response()
    }

    /// Adding a solution marks the ticket solved, as GLPI does.
    async fn add_solution(State(s): State<Shared>, h: HeaderMap, Json(b): Json<Value>) -> Response {
        let mut d = s.lock().unwrap();
        if let Some(r) = refused(&d, &h) {
            return r;
        }
        let id = b["input"]["items_id"].as_u64().unwrap_or(0);
        let Some(t) = d.tickets.iter_mut().find(|t| t.id == id) else {
            return err(Code::BAD_REQUEST, "ERROR_GLPI_ADD", "Item not found");
        };
        t.status = 5;
        t.solvedate = Some("2026-11-22 12:00:00".into());
        d.solutions.push(b);
        let n = d.solutions.len();
        (Code::CREATED, Json(json!({"id": n, "message": ""}))).into_response()
    }

    /// GLPI's search engine, for the criteria the adapter uses: title `contains`
    /// (case-insensitive) and status `equals notold`; `range`, `totalcount`,
    /// Content-Range, 206 when the range does not cover all rows, no `data` when empty.
    async fn search(
        State(s): State<Shared>,
        h: HeaderMap,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        let mut d = s.lock().unwrap();
        if let Some(r) = refused(&d, &h) {
            return r;
        }
        let answer = search_answer(&d, &q);
        if std::mem::take(&mut d.solve_all_after_search) {
            d.tickets.iter_mut().for_each(|t| t.status = 5);
        }
        answer
    }

    fn search_answer(d: &Db, q: &HashMap<String, String>) -> Response {
        let mut rows: Vec<&GTicket> = d.tickets.iter().collect();
        for i in 0.. {
            let Some(field) = q.get(&format!("criteria[{i}][field]")) else {
                break;
            };
            let st = &q[&format!("criteria[{i}][searchtype]")];
            let value = q[&format!("criteria[{i}][value]")].to_lowercase();
            match (field.as_str(), st.as_str(), value.as_str()) {
                ("1", "contains", v) => rows.retain(|t| t.name.to_lowercase().contains(v)),
                ("12", "equals", "notold") => rows.retain(|t| t.status < 5),
                _ => return err(Code::BAD_REQUEST, "ERROR", "unsupported criteria"),
            }
        }
        let (start, end) = q
            .get("range")
            .map(|r| {
                let (a, b) = r.split_once('-').unwrap();
                (a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap())
            })
            .unwrap_or((0, 49));
        let total = rows.len();
        if start > total {
            return err(
                Code::BAD_REQUEST,
                "ERROR_RANGE_EXCEED_TOTAL",
                "Provided range exceed total count of data",
            );
        }
        let page: Vec<Value> = rows
            .iter()
            .skip(start)
            .take(end + 1 - start)
            .map(|t| json!({"1": t.name, "2": t.id, "12": t.status, "80": "Root entity"}))
            .collect();
        let last = (end).min(total.saturating_sub(1));
        let range = format!("{start}-{last}/{total}");
        let mut body = json!({
            "totalcount": total, "count": page.len(), "sort": [1], "order": ["ASC"],
            "content-range": range,
        });
        if !page.is_empty() {
            body["data"] = Value::Array(page.clone());
        }
        let code = if start + page.len() < total {
            Code::PARTIAL_CONTENT
        } else {
            Code::OK
        };
        (code, [("content-range", range)], Json(body)).into_response()
    }

    async fn start() -> (Mock, Shared) {
        let s: Shared = Arc::default();
        let r = Router::new()
            .route("/apirest.php/initSession", get(init_session))
            .route("/apirest.php/Ticket", post(add_ticket))
            .route("/apirest.php/Ticket/{id}", get(get_ticket).put(put_ticket))
            .route("/apirest.php/ITILFollowup", post(add_followup))
            .route("/apirest.php/ITILSolution", post(add_solution))
            .route("/apirest.php/search/Ticket", get(search))
            .with_state(s.clone());
        (Mock::start(r).await, s)
    }

    fn config(url: &str, dir: &tempfile::TempDir) -> GlpiConfig {
        let u = dir.path().join("user");
        std::fs::write(&u, format!("{USER_TOKEN}\n")).unwrap();
        let a = dir.path().join("app");
        std::fs::write(&a, APP_TOKEN).unwrap();
        GlpiConfig {
            url: url.to_string(),
            user_token_file: Some(u),
            user_token_env: None,
            app_token_file: Some(a),
            app_token_env: None,
            entities_id: Some(3),
            itilcategories_id: Some(12),
            requesttypes_id: None,
            groups_id_assign: Some(7),
            solutiontypes_id: Some(2),
            priorities: None,
            impacts: None,
            urgencies: None,
            time_zone: None,
        }
    }

    fn desk(url: &str, dir: &tempfile::TempDir, timeout: Duration) -> Glpi {
        Glpi::new(&config(url, dir), timeout).unwrap()
    }

    fn ticket() -> Ticket {
        Ticket {
            key: KEY.into(),
            title: "[Tilsyn P2] web01: filesystem / above 90 %".into(),
            body: "Observed on web01 since 10:00.\nUse < 80 % & rotate logs.".into(),
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
        // The GLPI address without apirest.php works too.
        let d = desk(&format!("{}/", m.url), &dir, Duration::from_secs(5));
        assert_eq!(d.kind(), "glpi");

        assert_eq!(d.find_open(KEY).await.unwrap(), None, "empty search");
        let r = d.create(&ticket()).await.unwrap();
        assert_eq!(r.id, "100");
        assert_eq!(r.display(), "100");
        assert_eq!(
            r.url.as_deref(),
            Some(format!("{}/front/ticket.form.php?id=100", m.url).as_str())
        );
        {
            let st = s.lock().unwrap();
            let i = &st.created[0]["input"];
            assert_eq!(
                i["name"],
                format!("[Tilsyn P2] web01: filesystem / above 90 % [{KEY}]")
            );
            assert_eq!(
                i["content"],
                "<p>Observed on web01 since 10:00.<br>Use &lt; 80 % &amp; rotate logs.</p>"
            );
            assert_eq!(i["type"], 1);
            assert_eq!(i["priority"], 4);
            assert_eq!(i["impact"], 5);
            assert_eq!(i["urgency"], 2);
            assert_eq!(i["entities_id"], 3);
            assert_eq!(i["itilcategories_id"], 12);
            assert_eq!(i["_groups_id_assign"], 7);
            assert_eq!(i["_do_not_compute_takeintoaccount"], true);
            assert!(i.get("requesttypes_id").is_none());
            assert_eq!(st.logins, 1);
        }

        assert_eq!(d.find_open(KEY).await.unwrap(), Some(r.clone()));
        let searches: Vec<String> = m
            .requests()
            .into_iter()
            .filter(|l| l.contains("/search/Ticket"))
            .collect();
        assert!(
            searches[1].contains(&format!("criteria%5B0%5D%5Bvalue%5D={KEY}")),
            "{searches:?}"
        );
        assert!(searches[1].contains("criteria%5B1%5D%5Bvalue%5D=notold"));
        assert!(searches[1].contains("range=0-49"));

        d.note(&r, "Still above 90 %.").await.unwrap();
        d.resolve(&r, "Back below 80 %.").await.unwrap();
        {
            let st = s.lock().unwrap();
            assert_eq!(
                st.followups[0]["input"],
                json!({"itemtype": "Ticket", "items_id": 100, "content": "<p>Still above 90 %.</p>",
                       "is_private": 1, "_do_not_compute_takeintoaccount": true})
            );
            assert_eq!(
                st.solutions[0]["input"],
                json!({"itemtype": "Ticket", "items_id": 100, "content": "<p>Back below 80 %.</p>",
                       "solutiontypes_id": 2})
            );
            assert_eq!(st.tickets[0].status, 5);
            // The solution solved it: no extra status update.
            assert!(st.updates.is_empty());
        }
        assert_eq!(d.find_open(KEY).await.unwrap(), None);

        // Already solved: nothing is added.
        d.resolve(&r, "again").await.unwrap();
        assert_eq!(s.lock().unwrap().solutions.len(), 1);

        d.reopen(&r, "It came back.").await.unwrap();
        {
            let st = s.lock().unwrap();
            assert_eq!(st.updates[0]["input"]["status"], 2);
            assert_eq!(st.followups[1]["input"]["content"], "<p>It came back.</p>");
            assert_eq!(st.followups[1]["input"]["is_private"], 1);
            assert_eq!(st.tickets[0].status, 2);
            assert_eq!(st.logins, 1, "one session for all of it");
        }
        assert_eq!(d.find_open(KEY).await.unwrap(), Some(r));
    }

    #[tokio::test]
    async fn resolve_sets_the_status_when_the_solution_did_not() {
        // A GLPI where adding a solution leaves the status as it was: the adapter sets 5.
        let s: Shared = Arc::default();
        let r = Router::new()
            .route(
                "/apirest.php/ITILSolution",
                post(|State(s): State<Shared>, Json(b): Json<Value>| async move {
                    s.lock().unwrap().solutions.push(b);
                    (Code::CREATED, Json(json!({"id": 1, "message": ""})))
                }),
            )
            .route("/apirest.php/initSession", get(init_session))
            .route("/apirest.php/Ticket", post(add_ticket))
            .route("/apirest.php/Ticket/{id}", get(get_ticket).put(put_ticket))
            .with_state(s.clone());
        let m = Mock::start(r).await;
        let dir = tempfile::tempdir().unwrap();
        let d = desk(&m.url, &dir, Duration::from_secs(5));
        let t = d.create(&ticket()).await.unwrap();
        d.resolve(&t, "done").await.unwrap();
        let st = s.lock().unwrap();
        assert_eq!(st.solutions.len(), 1);
        assert_eq!(st.updates.len(), 1);
        assert_eq!(st.updates[0]["input"]["status"], 5);
        assert_eq!(st.tickets[0].status, 5);
    }

    #[tokio::test]
    async fn an_expired_session_is_renewed_once() {
        let (m, s) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = desk(&m.url, &dir, Duration::from_secs(5));
        let r = d.create(&ticket()).await.unwrap();
        s.lock().unwrap().sessions.clear(); // GLPI forgot the session
        d.note(&r, "after expiry").await.unwrap();
        {
            let st = s.lock().unwrap();
            assert_eq!(st.logins, 2);
            assert_eq!(st.followups.len(), 1, "the note was added once");
        }
        let posts = m
            .requests()
            .into_iter()
            .filter(|l| l.starts_with("POST /apirest.php/ITILFollowup"))
            .count();
        assert_eq!(posts, 2, "refused once, then sent in the new session");

        // Any other 401 is permanent at once, without a new login.
        m.fail_next("/ITILFollowup", Fault::Status(401, None));
        assert!(d.note(&r, "x").await.unwrap_err().is_permanent());
        assert_eq!(s.lock().unwrap().logins, 2);

        // A session refused again right after a new login is not chased further.
        s.lock().unwrap().refuse_sessions = true;
        let e = d.note(&r, "y").await.unwrap_err();
        assert!(
            e.is_permanent() && e.to_string().contains("ERROR_SESSION_TOKEN_INVALID"),
            "{e}"
        );
        let st = s.lock().unwrap();
        assert_eq!(st.logins, 3, "exactly one new session");
        assert_eq!(st.followups.len(), 1);
    }

    #[tokio::test]
    async fn find_open_pages_through_lookalikes() {
        let (m, s) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let mut d = desk(&m.url, &dir, Duration::from_secs(5));
        d.page_size = 2;
        {
            let mut st = s.lock().unwrap();
            for n in 0..3 {
                st.tickets.push(GTicket {
                    id: 50 + n,
                    name: format!("Follow-up of [{KEY}] by hand"),
                    status: 2,
                    ..GTicket::default()
                });
            }
        }
        let r = d.create(&ticket()).await.unwrap();
        assert_eq!(d.find_open(KEY).await.unwrap(), Some(r.clone()));
        let ranges: Vec<String> = m
            .requests()
            .into_iter()
            .filter(|l| l.contains("/search/Ticket"))
            .collect();
        assert_eq!(ranges.len(), 2);
        assert!(ranges[0].contains("range=0-1") && ranges[1].contains("range=2-3"));
        // The list shrinks between two pages: GLPI refuses the next range, which ends
        // the list rather than failing.
        s.lock().unwrap().solve_all_after_search = true;
        assert_eq!(d.find_open(KEY).await.unwrap(), None);
        assert!(m.requests().last().unwrap().contains("range=2-3"));
        s.lock()
            .unwrap()
            .tickets
            .iter_mut()
            .for_each(|t| t.status = 2);

        // Only lookalikes: pages until the end, then None.
        s.lock()
            .unwrap()
            .tickets
            .retain(|t| t.id.to_string() != r.id);
        assert_eq!(d.find_open(KEY).await.unwrap(), None);
    }

    #[tokio::test]
    async fn read_back_uses_glpi_dates_in_the_configured_zone() {
        let (m, s) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(&m.url, &dir);
        c.time_zone = Some("Europe/Oslo".into());
        let d = Glpi::new(&c, Duration::from_secs(5)).unwrap();
        let r = d.create(&ticket()).await.unwrap();

        let st = d.read_back(&r).await.unwrap().unwrap();
        assert_eq!(
            st,
            TicketStatus {
                state: "new".into(),
                responded: false,
                first_response_at_ms: None,
                resolved_at_ms: None,
                closed: false,
            }
        );
        {
            let mut st = s.lock().unwrap();
            let t = &mut st.tickets[0];
            t.status = 2;
            t.takeintoaccountdate = Some("2026-11-22 10:15:30".into());
        }
        let st = d.read_back(&r).await.unwrap().unwrap();
        assert_eq!(st.state, "processing (assigned)");
        assert!(st.responded && !st.closed);
        // Oslo is UTC+1 in November.
        assert_eq!(st.first_response_at_ms, Some(ts("2026-11-22T09:15:30Z")));
        {
            let mut st = s.lock().unwrap();
            let t = &mut st.tickets[0];
            t.status = 6;
            t.takeintoaccountdate = None;
            t.takeintoaccount_delay_stat = 600;
            t.solvedate = None;
            t.closedate = Some("2026-11-22 13:00:00".into());
        }
        let st = d.read_back(&r).await.unwrap().unwrap();
        assert_eq!(st.state, "closed");
        assert!(st.closed && st.responded);
        assert_eq!(st.first_response_at_ms, Some(ts("2026-11-22T09:10:00Z")));
        assert_eq!(st.resolved_at_ms, Some(ts("2026-11-22T12:00:00Z")));
    }

    #[test]
    fn priority_impact_urgency_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let d = desk(
            "https://glpi.example.org/apirest.php",
            &dir,
            Duration::from_secs(5),
        );
        for (p, glpi) in [(1, 5), (2, 4), (3, 3), (4, 2), (5, 1), (0, 5), (9, 1)] {
            let mut t = ticket();
            t.priority = p;
            assert_eq!(d.create_body(&t)["input"]["priority"], glpi, "P{p}");
        }
        for (l, glpi) in [(1, 5), (2, 3), (3, 2)] {
            let mut t = ticket();
            t.impact = l;
            t.urgency = l;
            let b = d.create_body(&t);
            assert_eq!(b["input"]["impact"], glpi);
            assert_eq!(b["input"]["urgency"], glpi);
        }
        let mut c = config("https://glpi.example.org", &dir);
        c.priorities = Some(vec![6, 5, 3, 2, 2]);
        c.urgencies = Some(vec![4, 3, 1]);
        let d = Glpi::new(&c, Duration::from_secs(5)).unwrap();
        assert_eq!(d.api, "https://glpi.example.org/apirest.php");
        let mut t = ticket();
        t.priority = 1;
        t.urgency = 3;
        let b = d.create_body(&t);
        assert_eq!(b["input"]["priority"], 6);
        assert_eq!(b["input"]["urgency"], 1);
        // A very long title is cut so the key still fits in 255 characters.
        t.title = "x".repeat(400);
        let name = d.create_body(&t)["input"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(name.chars().count(), 255);
        assert!(name.ends_with(&format!("… [{KEY}]")));
    }

    #[test]
    fn config_errors_are_all_reported() {
        let c = GlpiConfig {
            url: "glpi.example.org".into(),
            user_token_file: None,
            user_token_env: None,
            app_token_file: None,
            app_token_env: Some("TILSYN_SURELY_UNSET_GLPI_APP".into()),
            entities_id: None,
            itilcategories_id: None,
            requesttypes_id: None,
            groups_id_assign: None,
            solutiontypes_id: None,
            priorities: Some(vec![5, 4, 3, 2]),
            impacts: Some(vec![5, 3, 9]),
            urgencies: None,
            time_zone: Some("Mars/Olympus".into()),
        };
        let errs = Glpi::new(&c, Duration::from_secs(5)).err().unwrap();
        let all = errs.join("\n");
        assert_eq!(errs.len(), 6, "{all}");
        for needle in [
            "glpi.url",
            "user_token_file",
            "TILSYN_SURELY_UNSET_GLPI_APP",
            "glpi.priorities",
            "glpi.impacts",
            "glpi.time_zone",
        ] {
            assert!(all.contains(needle), "{needle} in {all}");
        }
        let mut cfg: GlpiConfig = serde_json::from_value(json!({
            "url": "https://glpi.example.org",
            "user_token_file": "u", "app_token_file": "/abs/a"
        }))
        .unwrap();
        cfg.resolve_paths(Path::new("/etc/tilsyn"));
        assert_eq!(
            cfg.user_token_file.as_deref(),
            Some(Path::new("/etc/tilsyn/u"))
        );
        assert_eq!(cfg.app_token_file.as_deref(), Some(Path::new("/abs/a")));
        assert!(serde_json::from_value::<GlpiConfig>(json!({"url": "x", "token": "y"})).is_err());
    }

    #[tokio::test]
    async fn failures_are_classified() {
        let (m, _s) = start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = desk(&m.url, &dir, Duration::from_secs(5));
        let r = d.create(&ticket()).await.unwrap();

        m.fail_next("/search/Ticket", Fault::Status(500, None));
        assert!(!d.find_open(KEY).await.unwrap_err().is_permanent());

        m.fail_next("/ITILFollowup", Fault::Status(429, Some(30)));
        match d.note(&r, "x").await.unwrap_err() {
            DeskError::Transient { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(30)))
            }
            e => panic!("{e:?}"),
        }

        m.fail_next("/Ticket/", Fault::Status(403, None));
        assert!(d.read_back(&r).await.unwrap_err().is_permanent());

        let e = d.read_back(&TicketRef::new("999")).await.unwrap_err();
        assert!(e.is_permanent() && e.to_string().contains("404"), "{e}");

        // A wrong user token: initSession answers 401 ERROR_GLPI_LOGIN_USER_TOKEN.
        let mut c = config(&m.url, &dir);
        c.user_token_file = None;
        c.user_token_env = Some("TILSYN_TEST_GLPI_WRONG_TOKEN".into());
        std::env::set_var("TILSYN_TEST_GLPI_WRONG_TOKEN", "nope-secret");
        let wrong = Glpi::new(&c, Duration::from_secs(5)).unwrap();
        let e = wrong.find_open(KEY).await.unwrap_err();
        assert!(
            e.is_permanent() && e.to_string().contains("ERROR_GLPI_LOGIN_USER_TOKEN"),
            "{e}"
        );
        assert!(!e.to_string().contains("nope-secret"));

        m.fail_next("/Ticket", Fault::Garbage);
        assert!(!d.create(&ticket()).await.unwrap_err().is_permanent());
        m.fail_next("/initSession", Fault::Garbage);
        let fresh = desk(&m.url, &dir, Duration::from_secs(5));
        assert!(!fresh.read_back(&r).await.unwrap_err().is_permanent());

        // A 2xx without an id.
        let odd = Router::new().route(
            "/apirest.php/{*rest}",
            get(|| async { Json(json!({"session_token": "s"})) })
                .post(|| async { (Code::CREATED, Json(json!({"id": false, "message": "?"}))) }),
        );
        let m3 = Mock::start(odd).await;
        let e = desk(&m3.url, &dir, Duration::from_secs(5))
            .create(&ticket())
            .await
            .unwrap_err();
        assert!(
            !e.is_permanent() && e.to_string().contains("no ticket id"),
            "{e}"
        );

        let slow = desk(&m.url, &dir, Duration::from_millis(300));
        m.fail_next("/initSession", Fault::Delay(Duration::from_millis(1500)));
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
        m.fail_next("/apirest.php/Ticket", Fault::LoseAnswer);
        assert!(!d.create(&ticket()).await.unwrap_err().is_permanent());
        let found = d.find_open(KEY).await.unwrap().expect("the ticket exists");
        assert_eq!(found.id, "100");
        assert_eq!(s.lock().unwrap().tickets.len(), 1);
    }
}
