//! ServiceNow adapter: incidents through the REST **Table API** (`/api/now/table/{table}`,
//! API version "now", default table `incident`), as documented by ServiceNow ("Table API",
//! product documentation → API reference → REST APIs).
//!
//! | action | call |
//! | --- | --- |
//! | create | `POST /api/now/table/incident?sysparm_fields=sys_id,number,state&sysparm_exclude_reference_link=true` with `short_description`, `description`, `impact`, `urgency`, `correlation_id` (= the Tilsyn key), `correlation_display` (`Tilsyn`), and optionally `assignment_group`, `caller_id`, `category` and further fields |
//! | find_open | `GET /api/now/table/incident?sysparm_query=correlation_id=<key>^active=true^state!=6^ORDERBYDESCsys_created_on&sysparm_limit=1` |
//! | note | `PATCH /api/now/table/incident/{sys_id}` with `work_notes` (internal journal; never `comments`, which is customer-visible and e-mails the caller) |
//! | resolve | `GET …/{sys_id}` (already resolved/closed → done), then `PATCH` `state=6`, `close_code`, `close_notes` |
//! | reopen | `GET …/{sys_id}`, then `PATCH` `state=2` + `work_notes` (or only `work_notes` when it is still open) |
//! | read_back | `GET …/{sys_id}?sysparm_fields=state,active,assigned_to,resolved_at,closed_at` |
//!
//! Every call asks for `sysparm_display_value=false` (raw values: states as numbers, dates
//! as `YYYY-MM-DD HH:MM:SS` in UTC, references as sys_ids) and
//! `sysparm_exclude_reference_link=true`. Authentication: HTTP basic (user + password) or
//! an OAuth bearer token obtained elsewhere.
//!
//! A resolved incident stays `active=true` in ServiceNow until it is closed (by the
//! caller or the auto-close job), so "open" here means `active=true` and not in the
//! resolved state.
//!
//! Priority: ServiceNow computes an incident's priority itself from impact × urgency (the
//! Priority Data Lookup rules), so the adapter sends `impact` and `urgency` (both 1–3, the
//! same scale as Tilsyn's) and never writes `priority`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::ACCEPT;
use reqwest::{Method, RequestBuilder};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::http;
use crate::{
    base_url, one_line, resolve_path, Auth, AuthSpec, Desk, DeskError, DeskFuture, DeskResult,
    Ticket, TicketRef, TicketStatus,
};

/// ServiceNow's default length of `short_description`.
const SHORT_DESCRIPTION_MAX: usize = 160;

/// Fields the adapter sets itself; `extra_fields` must not name them.
const MANAGED_FIELDS: &[&str] = &[
    "short_description",
    "description",
    "impact",
    "urgency",
    "priority",
    "correlation_id",
    "correlation_display",
    "assignment_group",
    "caller_id",
    "category",
    "state",
    "close_code",
    "close_notes",
    "work_notes",
    "comments",
    "active",
];

/// `servicenow:` in a desk entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNowConfig {
    /// The instance, e.g. `https://example.service-now.com` (no `/api/...` suffix).
    pub url: String,
    /// The table incidents are written to. Default `incident`; a custom table extending
    /// `task` (e.g. `u_monitoring_incident`) works the same way.
    #[serde(default = "d_table")]
    pub table: String,
    /// The integration user's name, for HTTP basic authentication (with
    /// `password_file`/`password_env`). The user needs the `itil` role (create, update and
    /// resolve incidents) and `rest_service` on instances that restrict REST access.
    #[serde(default)]
    pub username: Option<String>,
    /// File holding the integration user's password (basic authentication).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the integration user's password (basic authentication).
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding an OAuth access token, sent as `Authorization: Bearer …` (instead of
    /// username + password). Tilsyn does not refresh it: use a long-lived token, or a
    /// sidecar that rewrites the file.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Environment variable holding an OAuth access token (instead of username + password).
    #[serde(default)]
    pub token_env: Option<String>,
    /// `assignment_group` of new incidents: the sys_id of a `sys_user_group` (32 hex
    /// digits). Unset: the instance's assignment rules decide.
    #[serde(default)]
    pub assignment_group: Option<String>,
    /// `caller_id` of new incidents: the sys_id of a `sys_user` (e.g. a "Tilsyn
    /// monitoring" user). Unset: left empty (some instances require it).
    #[serde(default)]
    pub caller_id: Option<String>,
    /// `category` of new incidents: a choice value of the instance (e.g. `network`,
    /// `hardware`, `software`). Unset: the instance's default.
    #[serde(default)]
    pub category: Option<String>,
    /// Further fields set on new incidents, as raw values (sys_ids for references, choice
    /// values for choices), e.g. `{subcategory: disk, contact_type: monitoring}`. Must not
    /// name a field the adapter sets itself.
    #[serde(default)]
    pub extra_fields: BTreeMap<String, String>,
    /// `correlation_display` of new incidents (the integration's name shown next to the
    /// correlation id). Default `Tilsyn`.
    #[serde(default = "d_correlation_display")]
    pub correlation_display: String,
    /// The incident state value meaning Resolved. Default `6` (the out-of-the-box state
    /// model: 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled).
    #[serde(default = "d_resolved_state")]
    pub resolved_state: u16,
    /// The state a recurring incident is reopened to. Default `2` (In Progress).
    #[serde(default = "d_reopen_state")]
    pub reopen_state: u16,
    /// States meaning somebody works on the incident (read back as "responded"; so is
    /// any incident with `assigned_to` set). Default `[2, 3]` (In Progress, On Hold).
    #[serde(default = "d_responded_states")]
    pub responded_states: Vec<u16>,
    /// `close_code` (Resolution code) written when Tilsyn resolves an incident. Default
    /// `Solution provided`, the out-of-the-box value on current releases (Utah and later:
    /// Duplicate, Known error, No resolution provided, Resolved by caller, Resolved by
    /// change, Resolved by problem, Resolved by request, Solution provided, Workaround
    /// provided, User error). Instances set up on older releases use `Solved
    /// (Permanently)`, `Solved (Work Around)`, `Solved Remotely (Permanently)` …: set the
    /// value your instance's choice list holds.
    #[serde(default = "d_close_code")]
    pub close_code: String,
}

pub(crate) fn d_table() -> String {
    "incident".into()
}
fn d_correlation_display() -> String {
    "Tilsyn".into()
}
pub(crate) fn d_resolved_state() -> u16 {
    6
}
fn d_reopen_state() -> u16 {
    2
}
pub(crate) fn d_responded_states() -> Vec<u16> {
    vec![2, 3]
}
fn d_close_code() -> String {
    "Solution provided".into()
}

impl ServiceNowConfig {
    /// Makes `*_file` paths relative to the config file's directory absolute.
    pub fn resolve_paths(&mut self, base: &Path) {
        resolve_path(&mut self.password_file, base);
        resolve_path(&mut self.token_file, base);
    }
}

/// The ServiceNow desk.
pub struct ServiceNow {
    http: reqwest::Client,
    base: String,
    table: String,
    auth: Auth,
    assignment_group: Option<String>,
    caller_id: Option<String>,
    category: Option<String>,
    extra_fields: BTreeMap<String, String>,
    correlation_display: String,
    resolved_state: String,
    reopen_state: String,
    close_code: String,
    reading: answers::Reading,
}

impl ServiceNow {
    /// Checks the whole config and returns every problem at once.
    pub fn new(cfg: &ServiceNowConfig, timeout: Duration) -> Result<ServiceNow, Vec<String>> {
        let mut errs = Vec::new();
        let base = base_url(&cfg.url, "servicenow.url")
            .map_err(|e| errs.push(e))
            .ok();
        if cfg.url.contains("/api/") {
            errs.push(format!(
                "servicenow.url: {:?} must be the instance URL only (e.g. https://example.service-now.com), without /api/…",
                cfg.url
            ));
        }
        if !is_name(&cfg.table) {
            errs.push(format!(
                "servicenow.table: {:?} is not a table name (lower-case letters, digits and _)",
                cfg.table
            ));
        }
        let auth = load_auth(cfg).map_err(|e| errs.extend(e)).ok();
        for (what, v) in [
            ("assignment_group", &cfg.assignment_group),
            ("caller_id", &cfg.caller_id),
        ] {
            if let Some(v) = v {
                if !is_sys_id(v) {
                    errs.push(format!(
                        "servicenow.{what}: {v:?} is not a sys_id (32 hex digits; copy it from the record's context menu → Copy sys_id)"
                    ));
                }
            }
        }
        if cfg.category.as_deref().is_some_and(|c| c.trim().is_empty()) {
            errs.push("servicenow.category: empty; remove it or give a choice value".into());
        }
        for k in cfg.extra_fields.keys() {
            if MANAGED_FIELDS.contains(&k.as_str()) {
                errs.push(format!(
                    "servicenow.extra_fields.{k}: set by the adapter itself; remove it (use assignment_group/caller_id/category for those)"
                ));
            } else if !is_name(k) {
                errs.push(format!(
                    "servicenow.extra_fields.{k}: not a field name (lower-case letters, digits and _)"
                ));
            }
        }
        if cfg.correlation_display.trim().is_empty() {
            errs.push("servicenow.correlation_display: must not be empty".into());
        }
        if cfg.close_code.trim().is_empty() {
            errs.push(
                "servicenow.close_code: must not be empty (ServiceNow requires a resolution code to resolve)"
                    .into(),
            );
        }
        if cfg.reopen_state == cfg.resolved_state {
            errs.push(format!(
                "servicenow.reopen_state: {} is the resolved_state; use an active state such as 2 (In Progress)",
                cfg.reopen_state
            ));
        }
        if cfg.responded_states.contains(&cfg.resolved_state) {
            errs.push(format!(
                "servicenow.responded_states: must not contain the resolved_state {}",
                cfg.resolved_state
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let base = base.expect("checked");
        Ok(ServiceNow {
            http: http::client(timeout),
            reading: answers::Reading::new(
                &base,
                &cfg.table,
                cfg.resolved_state,
                &cfg.responded_states,
            ),
            base,
            table: cfg.table.clone(),
            auth: auth.expect("checked"),
            assignment_group: cfg.assignment_group.clone(),
            caller_id: cfg.caller_id.clone(),
            category: cfg.category.clone(),
            extra_fields: cfg.extra_fields.clone(),
            correlation_display: cfg.correlation_display.clone(),
            resolved_state: cfg.resolved_state.to_string(),
            reopen_state: cfg.reopen_state.to_string(),
            close_code: cfg.close_code.clone(),
        })
    }

    fn request(
        &self,
        method: Method,
        sys_id: Option<&str>,
        params: &[(&str, &str)],
    ) -> RequestBuilder {
        let mut url = format!("{}/api/now/table/{}", self.base, self.table);
        if let Some(id) = sys_id {
            url.push('/');
            url.push_str(id);
        }
        let rb = self
            .http
            .request(method, url)
            .header(ACCEPT, "application/json")
            .query(&[
                ("sysparm_display_value", "false"),
                ("sysparm_exclude_reference_link", "true"),
            ])
            .query(params);
        self.auth.apply(rb)
    }

    fn create_body(&self, t: &Ticket) -> Value {
        let mut m = Map::new();
        for (k, v) in &self.extra_fields {
            m.insert(k.clone(), json!(v));
        }
        m.insert(
            "short_description".into(),
            json!(one_line(&t.title, SHORT_DESCRIPTION_MAX)),
        );
        m.insert("description".into(), json!(t.body));
        m.insert("impact".into(), json!(level(t.impact)));
        m.insert("urgency".into(), json!(level(t.urgency)));
        m.insert("correlation_id".into(), json!(t.key));
        m.insert(
            "correlation_display".into(),
            json!(self.correlation_display),
        );
        if let Some(g) = &self.assignment_group {
            m.insert("assignment_group".into(), json!(g));
        }
        if let Some(c) = &self.caller_id {
            m.insert("caller_id".into(), json!(c));
        }
        if let Some(c) = &self.category {
            m.insert("category".into(), json!(c));
        }
        Value::Object(m)
    }

    /// The answer's bytes.
    async fn call(&self, rb: RequestBuilder, what: &str) -> DeskResult<Vec<u8>> {
        http::body(http::send(rb, what).await?, what).await
    }

    async fn get(&self, sys_id: &str, fields: &str, what: &str) -> DeskResult<Vec<u8>> {
        let rb = self.request(Method::GET, Some(sys_id), &[("sysparm_fields", fields)]);
        self.call(rb, what).await
    }

    async fn patch(
        &self,
        sys_id: &str,
        body: Value,
        fields: &str,
        what: &str,
    ) -> DeskResult<Record> {
        let rb = self
            .request(Method::PATCH, Some(sys_id), &[("sysparm_fields", fields)])
            .json(&body);
        answers::updated(&self.call(rb, what).await?, what)
    }

    /// The state of an incident: `GET` with `sys_id,state,active`.
    async fn state(&self, sys_id: &str) -> DeskResult<Record> {
        let what = "ServiceNow read incident state";
        answers::record(&self.get(sys_id, "sys_id,state,active", what).await?, what)
    }
}

fn load_auth(cfg: &ServiceNowConfig) -> Result<Auth, Vec<String>> {
    Auth::load(&AuthSpec {
        desk: "servicenow",
        user_key: "username",
        user: cfg.username.as_deref(),
        user_is: "a user name",
        user_needed: "the password needs the integration user's name",
        secret_key: "password",
        secret_file: cfg.password_file.as_deref(),
        secret_env: cfg.password_env.as_deref(),
        basic_is: "basic authentication",
        token_key: "token",
        token_file: cfg.token_file.as_deref(),
        token_env: cfg.token_env.as_deref(),
        bearer_is: "an OAuth bearer token",
    })
}

/// ServiceNow's impact/urgency values are 1 (high) … 3 (low), like Tilsyn's.
fn level(v: u8) -> String {
    v.clamp(1, 3).to_string()
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_sys_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The key goes into an encoded query, where `^` separates conditions: only plain
/// characters are accepted.
fn check_key(key: &str) -> DeskResult<()> {
    if crate::plain_key(key, 100) {
        Ok(())
    } else {
        Err(DeskError::permanent(format!(
            "ServiceNow: correlation key {key:?} has characters an encoded query cannot carry"
        )))
    }
}

fn check_id(t: &TicketRef) -> DeskResult<&str> {
    if !t.id.is_empty() && t.id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(&t.id)
    } else {
        Err(DeskError::permanent(format!(
            "ServiceNow: {:?} is not a sys_id",
            t.id
        )))
    }
}

#[derive(Deserialize)]
pub(crate) struct Envelope<T> {
    pub(crate) result: T,
}

/// An incident as the Table API answers it: the fields the adapter reads, all raw strings
/// (with `sysparm_display_value=false`; dates `YYYY-MM-DD HH:MM:SS` in UTC). Read by
/// [`answers`].
#[derive(Deserialize, Default, Debug)]
pub struct Record {
    #[serde(default)]
    pub(crate) sys_id: Option<String>,
    #[serde(default)]
    pub(crate) number: Option<String>,
    #[serde(default, deserialize_with = "raw")]
    pub(crate) state: Option<String>,
    #[serde(default, deserialize_with = "raw")]
    pub(crate) active: Option<String>,
    #[serde(default, deserialize_with = "raw")]
    pub(crate) assigned_to: Option<String>,
    #[serde(default, deserialize_with = "raw")]
    pub(crate) resolved_at: Option<String>,
    #[serde(default, deserialize_with = "raw")]
    pub(crate) closed_at: Option<String>,
}

impl Record {
    pub(crate) fn is_active(&self) -> bool {
        self.active.as_deref() != Some("false")
    }
}

/// A field as a string: `"x"`, a number or boolean, or a reference `{"value": "x", "link":
/// …}` (when the instance ignores `sysparm_exclude_reference_link`). Empty → None.
fn raw<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    let s = match v {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Object(m) => match m.get("value") {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    Ok(Some(s).filter(|s| !s.is_empty()))
}

impl Desk for ServiceNow {
    fn kind(&self) -> &'static str {
        "servicenow"
    }

    fn create<'a>(&'a self, t: &'a Ticket) -> DeskFuture<'a, TicketRef> {
        Box::pin(async move {
            check_key(&t.key)?;
            let what = "ServiceNow create incident";
            let rb = self
                .request(
                    Method::POST,
                    None,
                    &[("sysparm_fields", "sys_id,number,state")],
                )
                .json(&self.create_body(t));
            answers::created(&self.reading, &self.call(rb, what).await?)
        })
    }

    fn find_open<'a>(&'a self, key: &'a str) -> DeskFuture<'a, Option<TicketRef>> {
        Box::pin(async move {
            check_key(key)?;
            let what = "ServiceNow find open incident";
            let q = format!(
                "correlation_id={key}^active=true^state!={}^ORDERBYDESCsys_created_on",
                self.resolved_state
            );
            let rb = self.request(
                Method::GET,
                None,
                &[
                    ("sysparm_query", &q),
                    ("sysparm_fields", "sys_id,number"),
                    ("sysparm_limit", "1"),
                    ("sysparm_no_count", "true"),
                ],
            );
            answers::found(&self.reading, &self.call(rb, what).await?)
        })
    }

    fn note<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            let id = check_id(t)?;
            self.patch(
                id,
                json!({ "work_notes": text }),
                "sys_id",
                "ServiceNow add work note",
            )
            .await?;
            Ok(())
        })
    }

    fn resolve<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            let id = check_id(t)?;
            let now = self.state(id).await?;
            if self.reading.is_done(&now) {
                return Ok(());
            }
            let what = "ServiceNow resolve incident";
            let body = json!({
                "state": self.resolved_state,
                "close_code": self.close_code,
                "close_notes": text,
            });
            let after = self.patch(id, body, "sys_id,state,active", what).await?;
            if self.reading.is_done(&after) {
                Ok(())
            } else {
                Err(DeskError::permanent(format!(
                    "{what}: the incident stayed in state {} (a business rule or data policy refused state {}; check servicenow.close_code and resolved_state)",
                    after.state.as_deref().unwrap_or("?"),
                    self.resolved_state
                )))
            }
        })
    }

    fn reopen<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            let id = check_id(t)?;
            let now = self.state(id).await?;
            let what = "ServiceNow reopen incident";
            if !self.reading.is_done(&now) {
                // Still open: only the note (setting the state would turn New into In
                // Progress and look like a person's response).
                self.patch(id, json!({ "work_notes": text }), "sys_id", what)
                    .await?;
                return Ok(());
            }
            let body = json!({ "state": self.reopen_state, "work_notes": text });
            let after = self.patch(id, body, "sys_id,state,active", what).await?;
            if after.state.as_deref() == Some(self.reopen_state.as_str()) && after.is_active() {
                Ok(())
            } else {
                Err(DeskError::permanent(format!(
                    "{what}: the incident stayed in state {} (closed incidents cannot be reopened by the integration user)",
                    after.state.as_deref().unwrap_or("?")
                )))
            }
        })
    }

    fn read_back<'a>(&'a self, t: &'a TicketRef) -> DeskFuture<'a, Option<TicketStatus>> {
        Box::pin(async move {
            let id = check_id(t)?;
            let what = "ServiceNow read incident";
            let fields = "sys_id,state,active,assigned_to,resolved_at,closed_at";
            let body = self.get(id, fields, what).await?;
            answers::status(&self.reading, &body).map(Some)
        })
    }
}

/// ServiceNow's Table API (`{"result": {…}}` or `{"result": [{…}]}`).
pub mod answers {
    use crate::{http, DeskError, DeskResult, TicketRef, TicketStatus};

    use crate::servicenow::{Envelope, Record};

    /// The settings ServiceNow's answers are read with.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Reading {
        /// The instance URL, for links to incidents.
        pub base: String,
        pub table: String,
        /// `state` values, as the raw strings the answers carry.
        pub resolved_state: String,
        pub responded_states: Vec<String>,
    }

    impl Default for Reading {
        /// The adapter's defaults, on `https://servicenow.invalid`.
        fn default() -> Reading {
            use crate::servicenow::{d_resolved_state, d_responded_states, d_table};
            Reading::new(
                "https://servicenow.invalid",
                &d_table(),
                d_resolved_state(),
                &d_responded_states(),
            )
        }
    }

    impl Reading {
        /// `base` is the checked instance URL.
        pub fn new(
            base: &str,
            table: &str,
            resolved_state: u16,
            responded_states: &[u16],
        ) -> Reading {
            Reading {
                base: base.to_string(),
                table: table.to_string(),
                resolved_state: resolved_state.to_string(),
                responded_states: responded_states.iter().map(u16::to_string).collect(),
            }
        }

        pub fn ticket_ref(&self, sys_id: String, number: Option<String>) -> TicketRef {
            let url = format!(
                "{}/nav_to.do?uri={}.do?sys_id={sys_id}",
                self.base, self.table
            );
            TicketRef {
                id: sys_id,
                number: number.filter(|n| !n.is_empty()),
                url: Some(url),
            }
        }

        /// Resolved (state) or no longer active (closed, canceled).
        pub fn is_done(&self, r: &Record) -> bool {
            !r.is_active() || r.state.as_deref() == Some(self.resolved_state.as_str())
        }
    }

    /// One record (`GET`, `PATCH` answers): a transient error when there is no `result`
    /// object.
    pub fn record(body: &[u8], what: &str) -> DeskResult<Record> {
        let env: Envelope<Option<Record>> = http::parse(body, what)?;
        env.result
            .ok_or_else(|| DeskError::transient(format!("{what}: the answer has no result")))
    }

    /// A record written (`POST`, `PATCH`): one record that has a `sys_id`.
    pub fn updated(body: &[u8], what: &str) -> DeskResult<Record> {
        let r = record(body, what)?;
        if r.sys_id.as_deref().is_none_or(str::is_empty) {
            return Err(DeskError::transient(format!(
                "{what}: the answer has no sys_id"
            )));
        }
        Ok(r)
    }

    /// The create answer: the new incident.
    pub fn created(rd: &Reading, body: &[u8]) -> DeskResult<TicketRef> {
        let r = updated(body, "ServiceNow create incident")?;
        Ok(rd.ticket_ref(r.sys_id.unwrap_or_default(), r.number))
    }

    /// The search answer (`sysparm_limit=1`, the query already asks for open ones): the
    /// open incident, if any.
    pub fn found(rd: &Reading, body: &[u8]) -> DeskResult<Option<TicketRef>> {
        let what = "ServiceNow find open incident";
        let env: Envelope<Vec<Record>> = http::parse(body, what)?;
        let Some(r) = env.result.into_iter().next() else {
            return Ok(None);
        };
        match r.sys_id {
            Some(id) if !id.is_empty() => Ok(Some(rd.ticket_ref(id, r.number))),
            _ => Err(DeskError::transient(format!(
                "{what}: a record without sys_id"
            ))),
        }
    }

    /// The read-back answer (`state,active,assigned_to,resolved_at,closed_at`).
    pub fn status(rd: &Reading, body: &[u8]) -> DeskResult<TicketStatus> {
        let r = record(body, "ServiceNow read incident")?;
        let state = r.state.clone().unwrap_or_default();
        let closed = rd.is_done(&r);
        let responded = r.assigned_to.is_some() || rd.responded_states.contains(&state);
        let time = |s: Option<&str>| crate::utc_ms(s?);
        let resolved_at_ms = if closed {
            time(r.resolved_at.as_deref()).or(time(r.closed_at.as_deref()))
        } else {
            None
        };
        Ok(TicketStatus {
            state,
            responded,
            // The incident table records no first-response time; the poller uses the
            // time it first sees `responded`.
            first_response_at_ms: None,
            resolved_at_ms,
            closed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{Fault, Mock};
    use axum::extract::{Path as UrlPath, Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use axum::{Json, Router};
    use std::sync::{Arc, Mutex};

    const KEY: &str = "tilsyn-0123456789abcdef0123456789abcdef";
    const GROUP: &str = "287ebd7da9fe198100f92cc8d1d2154e";
    const CALLER: &str = "6816f79cc0a8016401c5a33be04be441";

    /// A ServiceNow instance: the incident table, its journal, and the documented
    /// behaviour of the Table API.
    #[derive(Default)]
    struct Db {
        records: Vec<BTreeMap<String, String>>,
        /// (sys_id, field, text) for the journal fields work_notes and comments.
        journal: Vec<(String, String, String)>,
        /// Bodies of POST/PATCH requests, as received.
        bodies: Vec<Value>,
        /// Expected Authorization header.
        auth: String,
        /// Answer POST with an empty result (a misbehaving proxy or instance).
        no_sys_id: bool,
        seq: u32,
    }
    type S = Arc<Mutex<Db>>;

    fn sn_now() -> String {
        jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    fn failure(code: StatusCode, message: &str, detail: &str) -> Response {
        (
            code,
            Json(json!({"error": {"message": message, "detail": detail}, "status": "failure"})),
        )
            .into_response()
    }

    fn unauthorized(db: &Db, h: &HeaderMap) -> Option<Response> {
        let got = h.get("authorization").and_then(|v| v.to_str().ok());
        (got != Some(db.auth.as_str())).then(|| {
            failure(
                StatusCode::UNAUTHORIZED,
                "User Not Authenticated",
                "Required to provide Auth information",
            )
        })
    }

    fn pick(rec: &BTreeMap<String, String>, q: &BTreeMap<String, String>) -> Value {
        let mut m = Map::new();
        match q.get("sysparm_fields") {
            Some(f) => {
                for k in f.split(',') {
                    m.insert(k.into(), json!(rec.get(k).cloned().unwrap_or_default()));
                }
            }
            None => {
                for (k, v) in rec {
                    m.insert(k.clone(), json!(v));
                }
            }
        }
        Value::Object(m)
    }

    fn matches(rec: &BTreeMap<String, String>, cond: &str) -> bool {
        let val = |k: &str| rec.get(k).cloned().unwrap_or_default();
        if let Some((k, v)) = cond.split_once("!=") {
            val(k) != v
        } else if let Some((k, v)) = cond.split_once('=') {
            val(k) == v
        } else {
            panic!("mock: unsupported query condition {cond:?}")
        }
    }

    async fn list(
        State(s): State<S>,
        h: HeaderMap,
        Query(q): Query<BTreeMap<String, String>>,
    ) -> Response {
        let db = s.lock().unwrap();
        if let Some(r) = unauthorized(&db, &h) {
            return r;
        }
        let mut rows: Vec<&BTreeMap<String, String>> = db.records.iter().collect();
        let mut order: Option<(String, bool)> = None;
        for cond in q
            .get("sysparm_query")
            .map(String::as_str)
            .unwrap_or("")
            .split('^')
        {
            if cond.is_empty() {
                continue;
            }
            if let Some(f) = cond.strip_prefix("ORDERBYDESC") {
                order = Some((f.into(), true));
            } else if let Some(f) = cond.strip_prefix("ORDERBY") {
                order = Some((f.into(), false));
            } else {
                rows.retain(|r| matches(r, cond));
            }
        }
        if let Some((f, desc)) = order {
            rows.sort_by(|a, b| a.get(&f).cmp(&b.get(&f)));
            if desc {
                rows.reverse();
            }
        }
        let total = rows.len();
        let offset: usize = q.get("sysparm_offset").map_or(0, |v| v.parse().unwrap());
        let limit: usize = q
            .get("sysparm_limit")
            .map_or(10_000, |v| v.parse().unwrap());
        let page: Vec<Value> = rows
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|r| pick(r, &q))
            .collect();
        let mut resp = Json(json!({ "result": page })).into_response();
        resp.headers_mut()
            .insert("x-total-count", total.to_string().parse().unwrap());
        resp
    }

    async fn insert(
        State(s): State<S>,
        h: HeaderMap,
        Query(q): Query<BTreeMap<String, String>>,
        Json(body): Json<Value>,
    ) -> Response {
        let mut db = s.lock().unwrap();
        if let Some(r) = unauthorized(&db, &h) {
            return r;
        }
        db.bodies.push(body.clone());
        if db.no_sys_id {
            return (StatusCode::CREATED, Json(json!({"result": {}}))).into_response();
        }
        db.seq += 1;
        let sys_id = format!("{:032x}", 0x9d38_5017_u64 * 1_000_003 + u64::from(db.seq));
        let mut rec = BTreeMap::new();
        rec.insert("sys_id".into(), sys_id.clone());
        rec.insert("number".into(), format!("INC{:07}", 10_000 + db.seq));
        rec.insert("state".into(), "1".into());
        rec.insert("active".into(), "true".into());
        rec.insert("assigned_to".into(), String::new());
        rec.insert("opened_at".into(), sn_now());
        rec.insert("resolved_at".into(), String::new());
        rec.insert("closed_at".into(), String::new());
        // Keep creation order sortable even within one second.
        rec.insert(
            "sys_created_on".into(),
            format!("{} {:04}", sn_now(), db.seq),
        );
        for (k, v) in body.as_object().unwrap() {
            let v = v
                .as_str()
                .expect("the Table API gets string values")
                .to_string();
            if k == "work_notes" || k == "comments" {
                db.journal.push((sys_id.clone(), k.clone(), v));
            } else {
                rec.insert(k.clone(), v);
            }
        }
        let out = pick(&rec, &q);
        db.records.push(rec);
        (StatusCode::CREATED, Json(json!({ "result": out }))).into_response()
    }

    async fn read(
        State(s): State<S>,
        h: HeaderMap,
        UrlPath(id): UrlPath<String>,
        Query(q): Query<BTreeMap<String, String>>,
    ) -> Response {
        let db = s.lock().unwrap();
        if let Some(r) = unauthorized(&db, &h) {
            return r;
        }
        match db.records.iter().find(|r| r["sys_id"] == id) {
            Some(r) => Json(json!({ "result": pick(r, &q) })).into_response(),
            None => failure(
                StatusCode::NOT_FOUND,
                "No Record found",
                "Record doesn't exist or ACL restricts the record retrieval",
            ),
        }
    }

    async fn update(
        State(s): State<S>,
        h: HeaderMap,
        UrlPath(id): UrlPath<String>,
        Query(q): Query<BTreeMap<String, String>>,
        Json(body): Json<Value>,
    ) -> Response {
        let mut db = s.lock().unwrap();
        if let Some(r) = unauthorized(&db, &h) {
            return r;
        }
        db.bodies.push(body.clone());
        let Some(i) = db.records.iter().position(|r| r["sys_id"] == id) else {
            return failure(
                StatusCode::NOT_FOUND,
                "No Record found",
                "Record doesn't exist or ACL restricts the record retrieval",
            );
        };
        if db.records[i]["active"] == "false" {
            return failure(
                StatusCode::FORBIDDEN,
                "Operation Failed",
                "ACL Exception Update Failed due to security constraints",
            );
        }
        let obj = body.as_object().unwrap();
        let s = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let new_state = s("state");
        if new_state == "6" {
            let have = |k: &str| !s(k).is_empty() || !db.records[i][k].is_empty();
            if !have("close_code") || !have("close_notes") {
                return failure(
                    StatusCode::FORBIDDEN,
                    "Operation Failed",
                    "Data Policy Exception: the following fields are mandatory: Resolution code, Resolution notes",
                );
            }
        }
        for (k, v) in obj {
            let v = v.as_str().unwrap().to_string();
            if k == "work_notes" || k == "comments" {
                db.journal.push((id.clone(), k.clone(), v));
            } else {
                db.records[i].insert(k.clone(), v);
            }
        }
        let rec = &mut db.records[i];
        match new_state.as_str() {
            "6" => {
                rec.insert("resolved_at".into(), sn_now());
            }
            "7" | "8" => {
                rec.insert("closed_at".into(), sn_now());
                rec.insert("active".into(), "false".into());
            }
            "" => {}
            _ => {
                rec.insert("resolved_at".into(), String::new());
            }
        }
        Json(json!({ "result": pick(rec, &q) })).into_response()
    }

    async fn start(auth: &str) -> (Mock, S) {
        let db = S::default();
        db.lock().unwrap().auth = auth.to_string();
        let app = Router::new()
            .route("/api/now/table/incident", get(list).post(insert))
            .route("/api/now/table/incident/{id}", get(read).patch(update))
            .with_state(db.clone());
        (Mock::start(app).await, db)
    }

    fn basic(user: &str, pass: &str) -> String {
        let r = reqwest::Client::new()
            .get("http://x/")
            .basic_auth(user, Some(pass))
            .build()
            .unwrap();
        r.headers()["authorization"].to_str().unwrap().to_string()
    }

    fn secret_file(dir: &tempfile::TempDir, name: &str, value: &str) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("{value}\n")).unwrap();
        p
    }

    fn config(url: &str, dir: &tempfile::TempDir) -> ServiceNowConfig {
        serde_json::from_value(json!({
            "url": url,
            "username": "tilsyn.integration",
            "password_file": secret_file(dir, "pw", "hunter2"),
            "assignment_group": GROUP,
            "caller_id": CALLER,
            "category": "network",
            "extra_fields": {"subcategory": "monitoring"},
        }))
        .unwrap()
    }

    async fn setup() -> (Mock, S, ServiceNow, tempfile::TempDir) {
        let (mock, db) = start(&basic("tilsyn.integration", "hunter2")).await;
        let dir = tempfile::tempdir().unwrap();
        let sn = ServiceNow::new(&config(&mock.url, &dir), Duration::from_secs(5)).unwrap();
        (mock, db, sn, dir)
    }

    fn ticket(key: &str, impact: u8, urgency: u8) -> Ticket {
        Ticket {
            key: key.into(),
            title: "[Tilsyn P2] web01: filesystem / above 90 %".into(),
            body: "web01 (agent a-1, department schools): / is 93 % full since 10:00.\nFree space or grow the volume.".into(),
            priority: 2,
            impact,
            urgency,
            severity: "high".into(),
            hostname: "web01".into(),
            agent_id: "a-1".into(),
            department: "schools".into(),
            check: "filesystem:/".into(),
            opened_at_ms: 1_700_000_000_000,
        }
    }

    fn record(db: &S, id: &str) -> BTreeMap<String, String> {
        db.lock()
            .unwrap()
            .records
            .iter()
            .find(|r| r["sys_id"] == id)
            .unwrap()
            .clone()
    }

    #[tokio::test]
    async fn lifecycle_create_find_note_resolve_reopen() {
        let (mock, db, sn, _d) = setup().await;
        assert_eq!(sn.kind(), "servicenow");
        assert_eq!(sn.find_open(KEY).await.unwrap(), None, "empty result");

        let r = sn.create(&ticket(KEY, 2, 1)).await.unwrap();
        assert_eq!(r.number.as_deref(), Some("INC0010001"));
        assert_eq!(r.id.len(), 32);
        assert_eq!(
            r.url.as_deref().unwrap(),
            format!("{}/nav_to.do?uri=incident.do?sys_id={}", mock.url, r.id)
        );
        let body = db.lock().unwrap().bodies[0].clone();
        assert_eq!(
            body,
            json!({
                "short_description": "[Tilsyn P2] web01: filesystem / above 90 %",
                "description": ticket(KEY, 2, 1).body,
                "impact": "2",
                "urgency": "1",
                "correlation_id": KEY,
                "correlation_display": "Tilsyn",
                "assignment_group": GROUP,
                "caller_id": CALLER,
                "category": "network",
                "subcategory": "monitoring",
            })
        );
        let create_line = &mock.requests()[1];
        assert!(
            create_line.starts_with("POST /api/now/table/incident?"),
            "{create_line}"
        );
        assert!(create_line.contains("sysparm_exclude_reference_link=true"));

        let found = sn.find_open(KEY).await.unwrap().unwrap();
        assert_eq!(found, r);
        let q = mock.requests()[2].clone();
        assert!(
            q.contains("sysparm_query=correlation_id%3Dtilsyn-0123456789abcdef0123456789abcdef%5Eactive%3Dtrue%5Estate%21%3D6"),
            "{q}"
        );
        assert!(q.contains("sysparm_limit=1"), "{q}");
        assert_eq!(
            sn.find_open("tilsyn-ffffffffffffffffffffffffffffffff")
                .await
                .unwrap(),
            None
        );

        sn.note(&r, "still 93 %").await.unwrap();
        assert_eq!(
            db.lock().unwrap().journal,
            vec![(
                r.id.clone(),
                "work_notes".to_string(),
                "still 93 %".to_string()
            )]
        );

        sn.resolve(&r, "back below 85 % since 10:40").await.unwrap();
        let rec = record(&db, &r.id);
        assert_eq!(rec["state"], "6");
        assert_eq!(rec["close_code"], "Solution provided");
        assert_eq!(rec["close_notes"], "back below 85 % since 10:40");
        assert_eq!(
            rec["active"], "true",
            "resolved incidents stay active until closed"
        );
        assert!(!rec["resolved_at"].is_empty());
        assert_eq!(sn.find_open(KEY).await.unwrap(), None);

        // Resolving again is a success and writes nothing.
        let patches = |m: &Mock| {
            m.requests()
                .iter()
                .filter(|l| l.starts_with("PATCH"))
                .count()
        };
        let before = patches(&mock);
        sn.resolve(&r, "again").await.unwrap();
        assert_eq!(patches(&mock), before);

        sn.reopen(&r, "recurred at 11:02").await.unwrap();
        let rec = record(&db, &r.id);
        assert_eq!(rec["state"], "2");
        assert_eq!(rec["resolved_at"], "");
        assert_eq!(sn.find_open(KEY).await.unwrap(), Some(r.clone()));

        // Reopening an open incident only adds the note.
        sn.reopen(&r, "recurred again").await.unwrap();
        assert_eq!(record(&db, &r.id)["state"], "2");

        let journal = db.lock().unwrap().journal.clone();
        assert_eq!(journal.len(), 3);
        assert!(
            journal.iter().all(|(_, f, _)| f == "work_notes"),
            "never comments: {journal:?}"
        );
        assert_eq!(journal[1].2, "recurred at 11:02");
        assert_eq!(journal[2].2, "recurred again");
        // No request ever asked for display values.
        assert!(mock
            .requests()
            .iter()
            .all(|l| l.contains("sysparm_display_value=false")));
    }

    #[tokio::test]
    async fn resolving_a_closed_incident_succeeds_and_reopening_it_is_permanent() {
        let (_mock, db, sn, _d) = setup().await;
        let r = sn.create(&ticket(KEY, 1, 1)).await.unwrap();
        {
            let mut g = db.lock().unwrap();
            let rec = g.records.iter_mut().next().unwrap();
            rec.insert("state".into(), "7".into());
            rec.insert("active".into(), "false".into());
        }
        sn.resolve(&r, "x").await.unwrap();
        assert_eq!(record(&db, &r.id)["state"], "7");
        let e = sn.reopen(&r, "recurred").await.unwrap_err();
        assert!(e.is_permanent(), "{e:?}");
        assert!(e.to_string().contains("403"), "{e}");
    }

    #[tokio::test]
    async fn read_back_uses_servicenow_dates() {
        let (_mock, db, sn, _d) = setup().await;
        let r = sn.create(&ticket(KEY, 2, 2)).await.unwrap();
        let st = sn.read_back(&r).await.unwrap().unwrap();
        assert_eq!(
            st,
            TicketStatus {
                state: "1".into(),
                responded: false,
                first_response_at_ms: None,
                resolved_at_ms: None,
                closed: false,
            }
        );
        let set = |k: &str, v: &str| {
            db.lock().unwrap().records[0].insert(k.into(), v.into());
        };
        set("assigned_to", "5137153cc611227c000bbd1bd8cd2005");
        let st = sn.read_back(&r).await.unwrap().unwrap();
        assert!(st.responded && !st.closed);
        set("assigned_to", "");
        set("state", "3");
        assert!(
            sn.read_back(&r).await.unwrap().unwrap().responded,
            "On Hold"
        );

        set("state", "6");
        set("resolved_at", "2026-11-22 10:15:30");
        let st = sn.read_back(&r).await.unwrap().unwrap();
        assert_eq!(st.state, "6");
        assert!(st.closed);
        assert_eq!(st.resolved_at_ms, Some(1_795_342_530_000)); // 2026-11-22T10:15:30Z

        set("state", "7");
        set("active", "false");
        set("resolved_at", "");
        set("closed_at", "2026-11-23 00:00:01");
        let st = sn.read_back(&r).await.unwrap().unwrap();
        assert!(st.closed);
        assert_eq!(st.resolved_at_ms, Some(1_795_392_001_000));
    }

    #[test]
    fn impact_and_urgency_map_one_to_one() {
        let sn_of = |i, u| {
            let d = tempfile::tempdir().unwrap();
            let sn = ServiceNow::new(
                &config("https://x.service-now.com", &d),
                Duration::from_secs(1),
            )
            .unwrap();
            let b = sn.create_body(&ticket(KEY, i, u));
            (
                b["impact"].as_str().unwrap().to_string(),
                b["urgency"].as_str().unwrap().to_string(),
            )
        };
        for (i, u, want) in [
            (1, 1, ("1", "1")),
            (1, 3, ("1", "3")),
            (2, 2, ("2", "2")),
            (3, 1, ("3", "1")),
            (0, 9, ("1", "3")), // out of range: clamped
        ] {
            let got = sn_of(i, u);
            assert_eq!(
                (got.0.as_str(), got.1.as_str()),
                want,
                "impact {i} urgency {u}"
            );
        }
        // Priority is ServiceNow's to compute.
        let d = tempfile::tempdir().unwrap();
        let sn = ServiceNow::new(
            &config("https://x.service-now.com", &d),
            Duration::from_secs(1),
        )
        .unwrap();
        assert!(sn.create_body(&ticket(KEY, 1, 1)).get("priority").is_none());
        // A long title is cut to ServiceNow's 160 characters, on one line.
        let mut t = ticket(KEY, 1, 1);
        t.title = format!("a\nb{}", "x".repeat(300));
        let sd = sn.create_body(&t)["short_description"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(sd.chars().count(), 160);
        assert!(sd.starts_with("a b") && sd.ends_with('…'));
    }

    #[test]
    fn config_errors_are_all_reported() {
        let cfg: ServiceNowConfig = serde_json::from_value(json!({
            "url": "example.service-now.com",
            "assignment_group": "Service Desk",
            "extra_fields": {"state": "2"},
            "close_code": " ",
        }))
        .unwrap();
        let errs = ServiceNow::new(&cfg, Duration::from_secs(1)).err().unwrap();
        let all = errs.join("\n");
        assert_eq!(errs.len(), 5, "{all}");
        assert!(
            all.contains("servicenow.url") && all.contains("not a URL"),
            "{all}"
        );
        assert!(
            all.contains("missing credential")
                && all.contains("password_file")
                && all.contains("token_file"),
            "{all}"
        );
        assert!(
            all.contains("servicenow.assignment_group") && all.contains("sys_id"),
            "{all}"
        );
        assert!(all.contains("servicenow.extra_fields.state"), "{all}");
        assert!(all.contains("servicenow.close_code"), "{all}");

        let d = tempfile::tempdir().unwrap();
        let mut both = config("https://x.service-now.com/api/now", &d);
        both.token_env = Some("TILSYN_SN_TOKEN_UNSET".into());
        both.reopen_state = 6;
        let errs = ServiceNow::new(&both, Duration::from_secs(1))
            .err()
            .unwrap();
        let all = errs.join("\n");
        assert_eq!(errs.len(), 3, "{all}");
        assert!(all.contains("without /api/"), "{all}");
        assert!(all.contains("not both"), "{all}");
        assert!(all.contains("servicenow.reopen_state"), "{all}");

        let no_user: ServiceNowConfig = serde_json::from_value(json!({
            "url": "https://x.service-now.com",
            "password_env": "TILSYN_SN_PW_UNSET",
        }))
        .unwrap();
        let errs = ServiceNow::new(&no_user, Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(errs[0].contains("servicenow.username"), "{errs:?}");

        let missing_pw: ServiceNowConfig = serde_json::from_value(json!({
            "url": "https://x.service-now.com",
            "username": "u",
            "password_env": "TILSYN_SN_PW_SURELY_UNSET",
        }))
        .unwrap();
        let errs = ServiceNow::new(&missing_pw, Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(errs[0].contains("TILSYN_SN_PW_SURELY_UNSET"), "{errs:?}");
        assert!(!format!("{errs:?}").contains("hunter2"));

        // Unknown settings are refused by serde.
        assert!(serde_json::from_value::<ServiceNowConfig>(
            json!({"url": "https://x", "pasword_env": "X"})
        )
        .is_err());
    }

    #[test]
    fn relative_secret_files_resolve_against_the_config_dir() {
        let mut cfg: ServiceNowConfig = serde_json::from_value(json!({
            "url": "https://x.service-now.com",
            "token_file": "secrets/sn-token",
        }))
        .unwrap();
        cfg.resolve_paths(Path::new("/etc/tilsyn"));
        assert_eq!(
            cfg.token_file.as_deref(),
            Some(Path::new("/etc/tilsyn/secrets/sn-token"))
        );
    }

    #[tokio::test]
    async fn bearer_token_auth() {
        let (mock, db) = start("Bearer tok-123").await;
        let d = tempfile::tempdir().unwrap();
        let cfg: ServiceNowConfig = serde_json::from_value(json!({
            "url": format!("{}/", mock.url),
            "token_file": secret_file(&d, "tok", "tok-123"),
        }))
        .unwrap();
        let sn = ServiceNow::new(&cfg, Duration::from_secs(5)).unwrap();
        let r = sn.create(&ticket(KEY, 3, 3)).await.unwrap();
        assert_eq!(sn.find_open(KEY).await.unwrap(), Some(r));
        let body = db.lock().unwrap().bodies[0].clone();
        assert!(body.get("assignment_group").is_none() && body.get("caller_id").is_none());
    }

    #[tokio::test]
    async fn wrong_password_is_permanent() {
        let (mock, _db) = start(&basic("tilsyn.integration", "other")).await;
        let d = tempfile::tempdir().unwrap();
        let sn = ServiceNow::new(&config(&mock.url, &d), Duration::from_secs(5)).unwrap();
        let e = sn.create(&ticket(KEY, 1, 1)).await.unwrap_err();
        assert!(e.is_permanent(), "{e:?}");
        assert!(
            e.to_string().contains("401") && e.to_string().contains("credentials"),
            "{e}"
        );
        assert!(!e.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn failures_are_classified() {
        let (mock, _db, sn, _d) = setup().await;
        let r = sn.create(&ticket(KEY, 1, 1)).await.unwrap();

        mock.fail_next("/api/now/table/incident", Fault::Status(500, None));
        let e = sn.create(&ticket(KEY, 1, 1)).await.unwrap_err();
        assert!(!e.is_permanent() && e.to_string().contains("500"), "{e:?}");

        mock.fail_next("/api/now/table/incident", Fault::Status(429, Some(7)));
        match sn.find_open(KEY).await.unwrap_err() {
            DeskError::Transient { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(7)))
            }
            e => panic!("{e:?}"),
        }

        for code in [401, 403, 404] {
            mock.fail_next(&r.id, Fault::Status(code, None));
            let e = sn.note(&r, "x").await.unwrap_err();
            assert!(e.is_permanent(), "{code}: {e:?}");
        }
        // A real 404: the incident was deleted.
        let gone = TicketRef::new("0".repeat(32));
        let e = sn.read_back(&gone).await.unwrap_err();
        assert!(
            e.is_permanent() && e.to_string().contains("No Record found"),
            "{e}"
        );

        mock.fail_next("/api/now/table/incident", Fault::Garbage);
        let e = sn.find_open(KEY).await.unwrap_err();
        assert!(
            !e.is_permanent() && e.to_string().contains("unreadable"),
            "{e:?}"
        );

        mock.fail_next(&r.id, Fault::Garbage);
        assert!(!sn.read_back(&r).await.unwrap_err().is_permanent());

        // A key that would break the encoded query is refused before any request.
        let n = mock.requests().len();
        let e = sn.find_open("tilsyn-x^active=false").await.unwrap_err();
        assert!(e.is_permanent());
        assert_eq!(mock.requests().len(), n);
    }

    #[tokio::test]
    async fn timeout_is_transient() {
        let (mock, _db) = start(&basic("tilsyn.integration", "hunter2")).await;
        let d = tempfile::tempdir().unwrap();
        let sn = ServiceNow::new(&config(&mock.url, &d), Duration::from_millis(200)).unwrap();
        mock.fail_next("", Fault::Delay(Duration::from_millis(1500)));
        let e = sn.find_open(KEY).await.unwrap_err();
        assert!(
            !e.is_permanent() && e.to_string().contains("timed out"),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn an_answer_without_sys_id_is_transient() {
        let (_mock, db, sn, _d) = setup().await;
        db.lock().unwrap().no_sys_id = true;
        let e = sn.create(&ticket(KEY, 1, 1)).await.unwrap_err();
        assert!(
            !e.is_permanent() && e.to_string().contains("no sys_id"),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn a_lost_create_answer_is_recovered_by_find_open() {
        let (mock, db, sn, _d) = setup().await;
        mock.fail_next("/api/now/table/incident", Fault::LoseAnswer);
        let e = sn.create(&ticket(KEY, 1, 2)).await.unwrap_err();
        assert!(!e.is_permanent(), "{e:?}");
        assert_eq!(db.lock().unwrap().records.len(), 1, "the desk created it");
        let found = sn
            .find_open(KEY)
            .await
            .unwrap()
            .expect("found after a lost answer");
        assert_eq!(found.number.as_deref(), Some("INC0010001"));
        assert_eq!(record(&db, &found.id)["correlation_id"], KEY);
    }
}
