//! Jira adapter (Jira Cloud, Jira Service Management, and Jira / JSM Data Center) through
//! the Jira platform **REST API version 2** and, for internal comments on service
//! projects, the JSM REST API (`/rest/servicedeskapi`).
//!
//! Why version 2: it is the one version both Jira Cloud and Data Center serve, and it
//! takes descriptions and comments as plain strings. Version 3 exists on Cloud only and
//! needs every text as an Atlassian Document Format tree. On Cloud, v2 and v3 are the same
//! API apart from that body format. (The strings are rendered as Jira wiki markup, so a
//! `*` or `{` in a title or description may show as formatting.)
//!
//! | action | call |
//! | --- | --- |
//! | create | `POST /rest/api/2/issue` with `project`, `issuetype`, `summary`, `description`, `priority` (by name), `labels: ["tilsyn", <key>]` (or the key in a custom field) |
//! | find_open | Cloud: `GET /rest/api/2/search/jql?jql=…&fields=…&nextPageToken=…` (the enhanced search; the old `/rest/api/{2,3}/search` was removed from Cloud in 2025). Data Center: `GET /rest/api/2/search?jql=…&startAt=…` (the only search there). JQL: `project = "OPS" AND labels = "<key>" AND statusCategory != Done ORDER BY created DESC`; every page is read until a match |
//! | note | `service_desk: true`: `POST /rest/servicedeskapi/request/{id}/comment` with `public: false` (an internal comment). Otherwise `POST /rest/api/2/issue/{id}/comment` with the comment property `sd.public.comment = {"internal": true}` (what JSM itself sets on internal comments; ignored by plain Jira projects) and, if configured, a role/group `visibility` |
//! | resolve | `GET /rest/api/2/issue/{id}?fields=status` (already in the Done category → done), `GET …/transitions?expand=transitions.fields`, pick a transition by name, add the text as an internal comment, `POST …/transitions` (with `resolution` when the transition's screen has it) |
//! | reopen | `GET …?fields=status` (not Done → only the note), `GET …/transitions`, `POST …/transitions`, then the text as an internal comment |
//! | read_back | `GET /rest/api/2/issue/{id}?fields=status,assignee,created,resolutiondate` |
//!
//! Authentication: HTTP basic with an Atlassian account's e-mail and API token (Cloud), or
//! a personal access token as `Authorization: Bearer` (Data Center).
//!
//! Jira Cloud's enhanced search is eventually consistent: an issue created a moment ago may
//! be missing from a search for a few seconds. `find_open` is used for crash recovery (a
//! create whose answer was lost), where the outbox retries later anyway.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::ACCEPT;
use reqwest::{Method, RequestBuilder};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::http;
use crate::Page;
use crate::{
    base_url, one_line, resolve_path, utc_ms, Auth, AuthSpec, Desk, DeskError, DeskFuture,
    DeskResult, Ticket, TicketRef, TicketStatus,
};

/// Jira's limit on `summary`.
const SUMMARY_MAX: usize = 255;
/// Issues per search page.
const PAGE: usize = 50;
/// Pages read by one `find_open` at most (a search matching more is misconfigured).
const MAX_PAGES: usize = 20;

/// Fields the adapter sets itself; `extra_fields` must not name them.
const MANAGED_FIELDS: &[&str] = &[
    "project",
    "issuetype",
    "summary",
    "description",
    "priority",
    "labels",
];

/// Which Jira serves the site (it decides the search endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deployment {
    /// Jira Cloud (`https://<site>.atlassian.net`): `/rest/api/2/search/jql`.
    #[default]
    Cloud,
    /// Jira Data Center / Server: `/rest/api/2/search`.
    DataCenter,
}

/// Who may see a comment on a project that is not a service project.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentVisibility {
    /// `role` (a project role, e.g. `Developers`) or `group` (e.g. `jira-software-users`).
    #[serde(rename = "type")]
    pub kind: VisibilityKind,
    /// The role's or group's name.
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisibilityKind {
    /// A project role of the issue's project.
    Role,
    /// A group of the site.
    Group,
}

/// `jira:` in a desk entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraConfig {
    /// The site: `https://example.atlassian.net`, or a Data Center base URL including its
    /// context path (`https://jira.example.org/jira`), without `/rest/...`.
    pub url: String,
    /// `cloud` (default) or `data_center`: decides the search endpoint.
    #[serde(default)]
    pub deployment: Deployment,
    /// The Atlassian account's e-mail, for basic authentication with
    /// `api_token_file`/`api_token_env` (Jira Cloud; on Data Center, a user name and its
    /// password work the same way).
    #[serde(default)]
    pub email: Option<String>,
    /// File holding the account's API token (id.atlassian.com → Security → API tokens).
    #[serde(default)]
    pub api_token_file: Option<PathBuf>,
    /// Environment variable holding the account's API token.
    #[serde(default)]
    pub api_token_env: Option<String>,
    /// File holding a Data Center personal access token, sent as `Authorization: Bearer`
    /// (instead of email + api_token).
    #[serde(default)]
    pub pat_file: Option<PathBuf>,
    /// Environment variable holding a Data Center personal access token.
    #[serde(default)]
    pub pat_env: Option<String>,
    /// The project key issues are created in (e.g. `OPS`); `find_open` searches it.
    pub project: String,
    /// The issue type's name. Default `Incident` (JSM's ITSM projects); e.g. `Task` or
    /// `Bug` in other projects.
    #[serde(default = "d_issue_type")]
    pub issue_type: String,
    /// Priority names for Tilsyn priorities P1 … P5, in that order. Default `[Highest,
    /// High, Medium, Low, Lowest]` (Jira's default priority scheme). An empty list sends
    /// no priority (for projects whose create screen lacks the field).
    #[serde(default = "d_priorities")]
    pub priorities: Vec<String>,
    /// A custom field holding the correlation key (e.g. `customfield_10050`, a text
    /// field), instead of the key as a label. Issues still get the label `tilsyn`.
    #[serde(default)]
    pub key_field: Option<String>,
    /// A Jira Service Management project: notes are JSM internal comments
    /// (`/rest/servicedeskapi`, `public: false`). Otherwise notes are ordinary comments
    /// marked internal with the `sd.public.comment` property.
    #[serde(default)]
    pub service_desk: bool,
    /// Restricts notes to a project role or group (only with `service_desk: false`), e.g.
    /// `{type: role, value: Developers}`.
    #[serde(default)]
    pub comment_visibility: Option<CommentVisibility>,
    /// Transition names (or target status names) that resolve, tried in order, case
    /// insensitive; the first one the issue's current status offers is taken. Default
    /// `[Resolve, Resolve Issue, Resolve this issue, Resolved, Done, Close, Close Issue,
    /// Closed]`.
    #[serde(default = "d_resolve_transitions")]
    pub resolve_transitions: Vec<String>,
    /// Transition names (or target status names) that reopen, tried in order. Default
    /// `[Reopen, Reopen Issue, Back to open, To Do, Open, In Progress, Work in
    /// progress]`.
    #[serde(default = "d_reopen_transitions")]
    pub reopen_transitions: Vec<String>,
    /// The resolution set when the resolve transition's screen has a Resolution field.
    /// Default `Done`; `null` sends none.
    #[serde(default = "d_resolution")]
    pub resolution: Option<String>,
    /// A select-list custom field for Tilsyn's impact (JSM's "Impact", e.g.
    /// `customfield_10004`). Unset: impact is only in the description.
    #[serde(default)]
    pub impact_field: Option<String>,
    /// Option names of `impact_field` for impact 1 (high), 2, 3 (low). Default JSM's
    /// `[Extensive / Widespread, Significant / Large, Moderate / Limited]`.
    #[serde(default = "d_impact_values")]
    pub impact_values: Vec<String>,
    /// A select-list custom field for Tilsyn's urgency (JSM's "Urgency").
    #[serde(default)]
    pub urgency_field: Option<String>,
    /// Option names of `urgency_field` for urgency 1 (high), 2, 3 (low). Default JSM's
    /// `[Critical, High, Medium]`.
    #[serde(default = "d_urgency_values")]
    pub urgency_values: Vec<String>,
    /// Further fields set on new issues, as Jira's REST API expects them, e.g.
    /// `{components: [{name: Servers}], customfield_10010: "…"}`.
    #[serde(default)]
    pub extra_fields: BTreeMap<String, Value>,
}

fn d_issue_type() -> String {
    "Incident".into()
}
fn d_priorities() -> Vec<String> {
    ["Highest", "High", "Medium", "Low", "Lowest"]
        .map(String::from)
        .to_vec()
}
fn d_resolve_transitions() -> Vec<String> {
    [
        "Resolve",
        "Resolve Issue",
        "Resolve this issue",
        "Resolved",
        "Done",
        "Close",
        "Close Issue",
        "Closed",
    ]
    .map(String::from)
    .to_vec()
}
fn d_reopen_transitions() -> Vec<String> {
    [
        "Reopen",
        "Reopen Issue",
        "Back to open",
        "To Do",
        "Open",
        "In Progress",
        "Work in progress",
    ]
    .map(String::from)
    .to_vec()
}
fn d_resolution() -> Option<String> {
    Some("Done".into())
}
fn d_impact_values() -> Vec<String> {
    [
        "Extensive / Widespread",
        "Significant / Large",
        "Moderate / Limited",
    ]
    .map(String::from)
    .to_vec()
}
fn d_urgency_values() -> Vec<String> {
    ["Critical", "High", "Medium"].map(String::from).to_vec()
}

impl JiraConfig {
    /// Makes `*_file` paths relative to the config file's directory absolute.
    pub fn resolve_paths(&mut self, base: &Path) {
        resolve_path(&mut self.api_token_file, base);
        resolve_path(&mut self.pat_file, base);
    }
}

/// The Jira desk.
pub struct Jira {
    http: reqwest::Client,
    base: String,
    reading: answers::Reading,
    deployment: Deployment,
    auth: Auth,
    project: String,
    issue_type: String,
    priorities: Vec<String>,
    key_field: Option<String>,
    service_desk: bool,
    comment_visibility: Option<CommentVisibility>,
    resolve_transitions: Vec<String>,
    reopen_transitions: Vec<String>,
    resolution: Option<String>,
    impact: Option<(String, Vec<String>)>,
    urgency: Option<(String, Vec<String>)>,
    extra_fields: BTreeMap<String, Value>,
}

impl Jira {
    /// Checks the whole config and returns every problem at once.
    pub fn new(cfg: &JiraConfig, timeout: Duration) -> Result<Jira, Vec<String>> {
        let mut errs = Vec::new();
        let base = base_url(&cfg.url, "jira.url")
            .map_err(|e| errs.push(e))
            .ok();
        if cfg.url.contains("/rest/") {
            errs.push(format!(
                "jira.url: {:?} must be the site's base URL (e.g. https://example.atlassian.net), without /rest/…",
                cfg.url
            ));
        }
        let auth = load_auth(cfg).map_err(|e| errs.extend(e)).ok();
        let p = cfg.project.as_str();
        if p.len() < 2
            || !p.starts_with(|c: char| c.is_ascii_uppercase())
            || !p
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            errs.push(format!(
                "jira.project: {p:?} is not a project key (upper-case letters, digits and _, e.g. OPS)"
            ));
        }
        if cfg.issue_type.trim().is_empty() {
            errs.push("jira.issue_type: must not be empty (e.g. Incident)".into());
        }
        if !(cfg.priorities.is_empty() || cfg.priorities.len() == 5) {
            errs.push(format!(
                "jira.priorities: {} names given; give 5 (for P1 … P5) or none (send no priority)",
                cfg.priorities.len()
            ));
        }
        if cfg.priorities.iter().any(|n| n.trim().is_empty()) {
            errs.push("jira.priorities: a priority name is empty".into());
        }
        if let Some(f) = &cfg.key_field {
            if custom_field_number(f).is_none() {
                errs.push(format!(
                    "jira.key_field: {f:?} is not a custom field id (customfield_ and digits, e.g. customfield_10050)"
                ));
            }
        }
        if cfg.service_desk && cfg.comment_visibility.is_some() {
            errs.push(
                "jira.comment_visibility: only for service_desk: false (JSM internal comments are already hidden from customers)"
                    .into(),
            );
        }
        if cfg
            .comment_visibility
            .as_ref()
            .is_some_and(|v| v.value.trim().is_empty())
        {
            errs.push("jira.comment_visibility.value: must name a role or group".into());
        }
        for (what, names) in [
            ("resolve_transitions", &cfg.resolve_transitions),
            ("reopen_transitions", &cfg.reopen_transitions),
        ] {
            if names.is_empty() || names.iter().any(|n| n.trim().is_empty()) {
                errs.push(format!(
                    "jira.{what}: give at least one transition name, none empty"
                ));
            }
        }
        if cfg
            .resolution
            .as_deref()
            .is_some_and(|r| r.trim().is_empty())
        {
            errs.push("jira.resolution: empty; give a resolution name or null".into());
        }
        let mut level_field = |what: &str, field: &Option<String>, values: &Vec<String>| {
            let f = field.as_ref()?;
            if custom_field_number(f).is_none() {
                errs.push(format!(
                    "jira.{what}_field: {f:?} is not a custom field id (e.g. customfield_10004)"
                ));
            }
            if values.len() != 3 || values.iter().any(|v| v.trim().is_empty()) {
                errs.push(format!(
                    "jira.{what}_values: give 3 option names (for {what} 1, 2, 3)"
                ));
            }
            Some((f.clone(), values.clone()))
        };
        let impact = level_field("impact", &cfg.impact_field, &cfg.impact_values);
        let urgency = level_field("urgency", &cfg.urgency_field, &cfg.urgency_values);
        for k in cfg.extra_fields.keys() {
            let managed = MANAGED_FIELDS.contains(&k.as_str())
                || Some(k) == cfg.key_field.as_ref()
                || Some(k) == cfg.impact_field.as_ref()
                || Some(k) == cfg.urgency_field.as_ref();
            if managed {
                errs.push(format!(
                    "jira.extra_fields.{k}: set by the adapter itself; remove it"
                ));
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let base = base.expect("checked");
        Ok(Jira {
            http: http::client(timeout),
            reading: answers::Reading {
                base: base.clone(),
                key_field: cfg.key_field.clone(),
            },
            base,
            deployment: cfg.deployment,
            auth: auth.expect("checked"),
            project: cfg.project.clone(),
            issue_type: cfg.issue_type.clone(),
            priorities: cfg.priorities.clone(),
            key_field: cfg.key_field.clone(),
            service_desk: cfg.service_desk,
            comment_visibility: cfg.comment_visibility.clone(),
            resolve_transitions: cfg.resolve_transitions.clone(),
            reopen_transitions: cfg.reopen_transitions.clone(),
            resolution: cfg.resolution.clone(),
            impact,
            urgency,
            extra_fields: cfg.extra_fields.clone(),
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let rb = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(ACCEPT, "application/json");
        self.auth.apply(rb)
    }

    fn priority_name(&self, p: u8) -> Option<&str> {
        if self.priorities.is_empty() {
            return None;
        }
        let i = usize::from(p.clamp(1, 5)) - 1;
        Some(self.priorities[i].as_str())
    }

    fn create_body(&self, t: &Ticket) -> Value {
        let mut f = Map::new();
        for (k, v) in &self.extra_fields {
            f.insert(k.clone(), v.clone());
        }
        f.insert("project".into(), json!({ "key": self.project }));
        f.insert("issuetype".into(), json!({ "name": self.issue_type }));
        f.insert("summary".into(), json!(one_line(&t.title, SUMMARY_MAX)));
        f.insert("description".into(), json!(t.body));
        if let Some(p) = self.priority_name(t.priority) {
            f.insert("priority".into(), json!({ "name": p }));
        }
        match &self.key_field {
            Some(k) => {
                f.insert("labels".into(), json!(["tilsyn"]));
                f.insert(k.clone(), json!(t.key));
            }
            None => {
                f.insert("labels".into(), json!(["tilsyn", t.key]));
            }
        }
        for (level, setting) in [(t.impact, &self.impact), (t.urgency, &self.urgency)] {
            if let Some((field, names)) = setting {
                let i = usize::from(level.clamp(1, 3)) - 1;
                f.insert(field.clone(), json!({ "value": names[i] }));
            }
        }
        json!({ "fields": f })
    }

    fn jql(&self, key: &str) -> String {
        let by_key = match self.key_field.as_deref().and_then(custom_field_number) {
            // A text field is searched with `~`; the quotes inside make it a phrase. The
            // matches are checked exactly below.
            Some(n) => format!("cf[{n}] ~ \"\\\"{key}\\\"\""),
            None => format!("labels = \"{key}\""),
        };
        format!(
            "project = \"{}\" AND {by_key} AND statusCategory != Done ORDER BY created DESC",
            self.project
        )
    }

    async fn add_note(&self, id: &str, text: &str, what: &str) -> DeskResult<()> {
        let (path, body) = if self.service_desk {
            (
                format!("/rest/servicedeskapi/request/{id}/comment"),
                json!({ "body": text, "public": false }),
            )
        } else {
            let mut b = json!({
                "body": text,
                "properties": [{ "key": "sd.public.comment", "value": { "internal": true } }],
            });
            if let Some(v) = &self.comment_visibility {
                let kind = match v.kind {
                    VisibilityKind::Role => "role",
                    VisibilityKind::Group => "group",
                };
                b["visibility"] = json!({ "type": kind, "value": v.value });
            }
            (format!("/rest/api/2/issue/{id}/comment"), b)
        };
        let resp = http::send(self.request(Method::POST, &path).json(&body), what).await?;
        answers::comment(&http::body(resp, what).await?, what)
    }

    async fn status(&self, id: &str) -> DeskResult<Issue> {
        let what = "Jira read issue status";
        let rb = self
            .request(Method::GET, &format!("/rest/api/2/issue/{id}"))
            .query(&[("fields", "status")]);
        answers::issue(&http::body(http::send(rb, what).await?, what).await?, what)
    }

    async fn transitions(&self, id: &str) -> DeskResult<Vec<Transition>> {
        let what = "Jira list transitions";
        let rb = self
            .request(Method::GET, &format!("/rest/api/2/issue/{id}/transitions"))
            .query(&[("expand", "transitions.fields")]);
        answers::transitions(&http::body(http::send(rb, what).await?, what).await?)
    }

    async fn transition(&self, id: &str, body: Value, what: &str) -> DeskResult<()> {
        let rb = self
            .request(Method::POST, &format!("/rest/api/2/issue/{id}/transitions"))
            .json(&body);
        http::send(rb, what).await?;
        Ok(())
    }

    /// One page of the search for `key`: the match, or where the next page starts.
    async fn search_page(
        &self,
        jql: &str,
        fields: &str,
        key: &str,
        cursor: &Cursor,
        what: &str,
    ) -> DeskResult<Page<Cursor>> {
        let max = PAGE.to_string();
        match self.deployment {
            Deployment::Cloud => {
                let mut q = vec![("jql", jql), ("fields", fields), ("maxResults", &max)];
                if let Cursor::Token(t) = cursor {
                    q.push(("nextPageToken", t));
                }
                let rb = self
                    .request(Method::GET, "/rest/api/2/search/jql")
                    .query(&q);
                let body = http::body(http::send(rb, what).await?, what).await?;
                Ok(match answers::cloud_page(&self.reading, &body, key)? {
                    Page::Found(t) => Page::Found(t),
                    Page::More(token) => Page::More(Cursor::Token(token)),
                    Page::End => Page::End,
                })
            }
            Deployment::DataCenter => {
                let start = match cursor {
                    Cursor::Start(n) => *n,
                    _ => 0,
                };
                let s = start.to_string();
                let q = [
                    ("jql", jql),
                    ("fields", fields),
                    ("startAt", &s),
                    ("maxResults", &max),
                ];
                let rb = self.request(Method::GET, "/rest/api/2/search").query(&q);
                let body = http::body(http::send(rb, what).await?, what).await?;
                Ok(match answers::dc_page(&self.reading, &body, key, start)? {
                    Page::Found(t) => Page::Found(t),
                    Page::More(end) => Page::More(Cursor::Start(end)),
                    Page::End => Page::End,
                })
            }
        }
    }
}

enum Cursor {
    First,
    Token(String),
    Start(usize),
}

fn load_auth(cfg: &JiraConfig) -> Result<Auth, Vec<String>> {
    Auth::load(&AuthSpec {
        desk: "jira",
        user_key: "email",
        user: cfg.email.as_deref(),
        user_is: "the account's e-mail",
        user_needed: "the API token needs the account's e-mail",
        secret_key: "api_token",
        secret_file: cfg.api_token_file.as_deref(),
        secret_env: cfg.api_token_env.as_deref(),
        basic_is: "Jira Cloud",
        token_key: "pat",
        token_file: cfg.pat_file.as_deref(),
        token_env: cfg.pat_env.as_deref(),
        bearer_is: "a Data Center personal access token",
    })
}

fn custom_field_number(f: &str) -> Option<&str> {
    let n = f.strip_prefix("customfield_")?;
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(n)
}

/// The key goes into a JQL string and a label (which cannot hold spaces): only plain
/// characters are accepted.
fn check_key(key: &str) -> DeskResult<()> {
    if crate::plain_key(key, 255) {
        Ok(())
    } else {
        Err(DeskError::permanent(format!(
            "Jira: correlation key {key:?} cannot be a label or JQL value"
        )))
    }
}

/// An issue id (`10042`) or key (`OPS-7`) as a path segment.
fn check_id(t: &TicketRef) -> DeskResult<&str> {
    if !t.id.is_empty()
        && t.id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(&t.id)
    } else {
        Err(DeskError::permanent(format!(
            "Jira: {:?} is not an issue id or key",
            t.id
        )))
    }
}

pub(crate) fn id_of(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Jira's date-time, e.g. `2026-11-22T10:15:30.000+0100` (or RFC 3339).
pub(crate) fn parse_time(v: Option<&Value>) -> Option<i64> {
    utc_ms(v?.as_str()?)
}

/// An issue as Jira answers it (read by [`answers`]); dates are Jira's, e.g.
/// `2026-11-22T10:15:30.000+0100` (or RFC 3339).
#[derive(Deserialize, Debug)]
pub struct Issue {
    #[serde(default)]
    pub(crate) id: Value,
    #[serde(default)]
    pub(crate) key: Option<String>,
    #[serde(default)]
    pub(crate) fields: Map<String, Value>,
}

impl Issue {
    fn status(&self) -> &Value {
        self.fields.get("status").unwrap_or(&Value::Null)
    }
    /// `new`, `indeterminate` or `done`.
    pub(crate) fn category(&self) -> &str {
        self.status()["statusCategory"]["key"]
            .as_str()
            .unwrap_or("")
    }
    pub(crate) fn status_name(&self) -> &str {
        self.status()["name"].as_str().unwrap_or("")
    }
    pub(crate) fn id(&self) -> Option<String> {
        match &self.id {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct CloudPage {
    #[serde(default)]
    pub(crate) issues: Vec<Issue>,
    #[serde(default, rename = "nextPageToken")]
    pub(crate) next_page_token: Option<String>,
    #[serde(default, rename = "isLast")]
    pub(crate) is_last: Option<bool>,
}

#[derive(Deserialize)]
pub(crate) struct DcPage {
    #[serde(default)]
    pub(crate) issues: Vec<Issue>,
    #[serde(default)]
    pub(crate) total: Option<usize>,
}

#[derive(Deserialize)]
pub(crate) struct Transitions {
    #[serde(default)]
    pub(crate) transitions: Vec<Transition>,
}

/// A workflow transition as Jira lists it (read by [`answers::transitions`]).
#[derive(Deserialize, Debug)]
pub struct Transition {
    id: Value,
    #[serde(default)]
    name: String,
    #[serde(default)]
    to: Value,
    #[serde(default)]
    fields: Map<String, Value>,
}

impl Transition {
    fn is_named(&self, want: &str) -> bool {
        let to = self.to["name"].as_str().unwrap_or("");
        self.name.eq_ignore_ascii_case(want) || to.eq_ignore_ascii_case(want)
    }
}

/// The first transition matching a wanted name, in the order of `wanted`.
fn pick<'t>(ts: &'t [Transition], wanted: &[String]) -> Option<&'t Transition> {
    wanted
        .iter()
        .find_map(|w| ts.iter().find(|t| t.is_named(w.trim())))
}

fn names(ts: &[Transition]) -> String {
    if ts.is_empty() {
        return "none".into();
    }
    ts.iter()
        .map(|t| format!("{:?}", t.name))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Desk for Jira {
    fn kind(&self) -> &'static str {
        "jira"
    }

    fn create<'a>(&'a self, t: &'a Ticket) -> DeskFuture<'a, TicketRef> {
        Box::pin(async move {
            check_key(&t.key)?;
            let what = "Jira create issue";
            let rb = self
                .request(Method::POST, "/rest/api/2/issue")
                .json(&self.create_body(t));
            let body = http::body(http::send(rb, what).await?, what).await?;
            answers::created(&self.reading, &body)
        })
    }

    fn find_open<'a>(&'a self, key: &'a str) -> DeskFuture<'a, Option<TicketRef>> {
        Box::pin(async move {
            check_key(key)?;
            let what = "Jira search open issue";
            let jql = self.jql(key);
            let fields = match &self.key_field {
                Some(f) => format!("status,labels,{f}"),
                None => "status,labels".to_string(),
            };
            let mut cursor = Cursor::First;
            for _ in 0..MAX_PAGES {
                match self.search_page(&jql, &fields, key, &cursor, what).await? {
                    Page::Found(t) => return Ok(Some(t)),
                    Page::More(c) => cursor = c,
                    Page::End => return Ok(None),
                }
            }
            Err(DeskError::permanent(format!(
                "{what}: more than {} issues match {jql:?}; check jira.key_field",
                PAGE * MAX_PAGES
            )))
        })
    }

    fn note<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            let id = check_id(t)?;
            self.add_note(id, text, "Jira add internal comment").await
        })
    }

    fn resolve<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            let id = check_id(t)?;
            let what = "Jira resolve issue";
            let issue = self.status(id).await?;
            if issue.category() == "done" {
                return Ok(());
            }
            let ts = self.transitions(id).await?;
            let Some(tr) = pick(&ts, &self.resolve_transitions) else {
                return Err(DeskError::permanent(format!(
                    "{what}: {} is in status {:?}, which has no transition named {:?}; available: {} (set jira.resolve_transitions)",
                    t.display(),
                    issue.status_name(),
                    self.resolve_transitions,
                    names(&ts)
                )));
            };
            let mut body = json!({ "transition": { "id": tr.id } });
            if let (Some(f), Some(res)) = (tr.fields.get("resolution"), &self.resolution) {
                let allowed: Vec<&str> = f["allowedValues"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|v| v["name"].as_str()).collect())
                    .unwrap_or_default();
                let name = if allowed.is_empty() {
                    Some(res.as_str())
                } else {
                    allowed
                        .iter()
                        .copied()
                        .find(|n| n.eq_ignore_ascii_case(res))
                };
                let Some(name) = name else {
                    return Err(DeskError::permanent(format!(
                        "{what}: transition {:?} does not offer the resolution {res:?}; it offers {} (set jira.resolution)",
                        tr.name,
                        allowed.join(", ")
                    )));
                };
                body["fields"] = json!({ "resolution": { "name": name } });
            }
            self.add_note(id, text, "Jira add resolution comment")
                .await?;
            self.transition(id, body, what).await
        })
    }

    fn reopen<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            let id = check_id(t)?;
            let what = "Jira reopen issue";
            let issue = self.status(id).await?;
            if issue.category() != "done" {
                return self.add_note(id, text, "Jira add internal comment").await;
            }
            let ts = self.transitions(id).await?;
            let Some(tr) = pick(&ts, &self.reopen_transitions) else {
                return Err(DeskError::permanent(format!(
                    "{what}: {} is in status {:?}, which has no transition named {:?}; available: {} (set jira.reopen_transitions)",
                    t.display(),
                    issue.status_name(),
                    self.reopen_transitions,
                    names(&ts)
                )));
            };
            self.transition(id, json!({ "transition": { "id": tr.id } }), what)
                .await?;
            self.add_note(id, text, "Jira add internal comment").await
        })
    }

    fn read_back<'a>(&'a self, t: &'a TicketRef) -> DeskFuture<'a, Option<TicketStatus>> {
        Box::pin(async move {
            let id = check_id(t)?;
            let what = "Jira read issue";
            let rb = self
                .request(Method::GET, &format!("/rest/api/2/issue/{id}"))
                .query(&[("fields", "status,assignee,created,resolutiondate")]);
            answers::status(&http::body(http::send(rb, what).await?, what).await?).map(Some)
        })
    }
}

/// Jira's REST API v2 (and the JSM comment answer).
pub mod answers {
    use crate::jira::{id_of, parse_time, CloudPage, DcPage, Issue, Transition, Transitions};
    use crate::{http, DeskError, DeskResult, Page, TicketRef, TicketStatus};
    use serde_json::Value;

    /// The settings Jira's answers are read with.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Reading {
        /// The site URL, for links to issues.
        pub base: String,
        /// The custom field holding the key; `None`: the key is a label.
        pub key_field: Option<String>,
    }

    impl Default for Reading {
        /// The adapter's defaults (the key in a label), on `https://jira.invalid`.
        fn default() -> Reading {
            Reading {
                base: "https://jira.invalid".into(),
                key_field: None,
            }
        }
    }

    impl Reading {
        pub fn ticket_ref(&self, id: String, key: String) -> TicketRef {
            let url = format!("{}/browse/{key}", self.base);
            TicketRef {
                id,
                number: Some(key),
                url: Some(url),
            }
        }

        /// A search hit is taken when the key field it carries holds `key` exactly (a
        /// text field's `~` search is fuzzy) and its status is not done (the search index
        /// may lag behind a transition). A hit whose answer omits the field is trusted to
        /// the JQL.
        pub fn is_open_match(&self, issue: &Issue, key: &str) -> bool {
            let field = self.key_field.as_deref().unwrap_or("labels");
            let carries = match issue.fields.get(field) {
                None => true,
                Some(Value::String(s)) => s.trim() == key,
                Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(key)),
                Some(_) => false,
            };
            carries && issue.category() != "done"
        }

        /// The first open match among `issues`, if any.
        fn first_match(&self, issues: &[Issue], key: &str) -> DeskResult<Option<TicketRef>> {
            for i in issues {
                if self.is_open_match(i, key) {
                    return match (i.id(), i.key.clone()) {
                        (Some(id), Some(k)) => Ok(Some(self.ticket_ref(id, k))),
                        _ => Err(DeskError::transient(format!(
                            "{SEARCH}: an issue without id or key"
                        ))),
                    };
                }
            }
            Ok(None)
        }
    }

    const SEARCH: &str = "Jira search open issue";

    /// The create answer `{"id", "key", "self"}`: the new issue.
    pub fn created(rd: &Reading, body: &[u8]) -> DeskResult<TicketRef> {
        let what = "Jira create issue";
        let v: Value = http::parse(body, what)?;
        let key = v["key"].as_str().filter(|k| !k.is_empty());
        match (id_of(&v), key) {
            (Some(id), Some(key)) => Ok(rd.ticket_ref(id, key.to_string())),
            _ => Err(DeskError::transient(format!(
                "{what}: the answer has no issue id and key"
            ))),
        }
    }

    /// A comment answer (platform or JSM): it must name the comment's id.
    pub fn comment(body: &[u8], what: &str) -> DeskResult<()> {
        let c: Value = http::parse(body, what)?;
        if id_of(&c).is_none() {
            return Err(DeskError::transient(format!(
                "{what}: the answer has no comment id"
            )));
        }
        Ok(())
    }

    /// An issue read with its status (`GET /issue/{id}?fields=status,…`).
    pub fn issue(body: &[u8], what: &str) -> DeskResult<Issue> {
        let issue: Issue = http::parse(body, what)?;
        if issue.fields.get("status").is_none() {
            return Err(DeskError::transient(format!(
                "{what}: the answer has no status"
            )));
        }
        Ok(issue)
    }

    /// The read-back answer (`status,assignee,created,resolutiondate`).
    pub fn status(body: &[u8]) -> DeskResult<TicketStatus> {
        let issue = issue(body, "Jira read issue")?;
        let category = issue.category();
        let closed = category == "done";
        let assigned = !issue.fields.get("assignee").is_none_or(Value::is_null);
        Ok(TicketStatus {
            state: issue.status_name().to_string(),
            responded: assigned || category == "indeterminate",
            // Jira records no first-response time (JSM keeps it in an SLA field whose id
            // differs per site); the poller uses the time it first sees `responded`.
            first_response_at_ms: None,
            resolved_at_ms: if closed {
                parse_time(issue.fields.get("resolutiondate"))
            } else {
                None
            },
            closed,
        })
    }

    /// The transitions answer (`GET /issue/{id}/transitions`).
    pub fn transitions(body: &[u8]) -> DeskResult<Vec<Transition>> {
        let t: Transitions = http::parse(body, "Jira list transitions")?;
        Ok(t.transitions)
    }

    /// A page of Cloud's enhanced search: the match, or the next page token.
    pub fn cloud_page(rd: &Reading, body: &[u8], key: &str) -> DeskResult<Page<String>> {
        let page: CloudPage = http::parse(body, SEARCH)?;
        if let Some(t) = rd.first_match(&page.issues, key)? {
            return Ok(Page::Found(t));
        }
        Ok(match page.next_page_token {
            Some(t) if !t.is_empty() && !page.is_last.unwrap_or(false) => Page::More(t),
            _ => Page::End,
        })
    }

    /// A page of Data Center's search read from `start`: the match, or the next start.
    pub fn dc_page(rd: &Reading, body: &[u8], key: &str, start: usize) -> DeskResult<Page<usize>> {
        let page: DcPage = http::parse(body, SEARCH)?;
        if let Some(t) = rd.first_match(&page.issues, key)? {
            return Ok(Page::Found(t));
        }
        let end = start.saturating_add(page.issues.len());
        Ok(
            if !page.issues.is_empty() && page.total.is_some_and(|t| end < t) {
                Page::More(end)
            } else {
                Page::End
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{Fault, Mock};
    use axum::extract::{Path as UrlPath, Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use std::sync::{Arc, Mutex};

    const KEY: &str = "tilsyn-0123456789abcdef0123456789abcdef";
    const OTHER: &str = "tilsyn-fedcba9876543210fedcba9876543210";

    #[derive(Debug, Clone)]
    struct Comment {
        body: String,
        internal: bool,
        via: &'static str,
        visibility: Option<Value>,
    }

    #[derive(Debug, Clone)]
    struct MockIssue {
        id: u64,
        key: String,
        status: String,
        fields: Map<String, Value>,
        comments: Vec<Comment>,
    }

    /// A Jira site with one project `OPS` and a small JSM-like workflow.
    #[derive(Default)]
    struct Db {
        issues: Vec<MockIssue>,
        bodies: Vec<(String, Value)>,
        auth: String,
        data_center: bool,
        page_size: usize,
        no_id: bool,
    }
    type S = Arc<Mutex<Db>>;

    /// (status, category) of the workflow.
    fn category(status: &str) -> &'static str {
        match status {
            "Open" => "new",
            "In Progress" | "Waiting for support" => "indeterminate",
            "Resolved" | "Closed" => "done",
            s => panic!("mock: unknown status {s}"),
        }
    }

    /// (id, name, to) transitions out of a status.
    fn workflow(status: &str) -> Vec<(&'static str, &'static str, &'static str)> {
        match status {
            "Open" => vec![
                ("11", "Start Progress", "In Progress"),
                ("21", "Resolve", "Resolved"),
            ],
            "In Progress" => vec![
                ("31", "Stop Progress", "Open"),
                ("21", "Resolve", "Resolved"),
            ],
            "Waiting for support" => vec![("51", "Respond to customer", "In Progress")],
            "Resolved" => vec![("41", "Reopen", "Open"), ("61", "Close", "Closed")],
            _ => vec![],
        }
    }

    fn jira_now() -> String {
        let z = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(1)));
        z.strftime("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
    }

    fn error(code: StatusCode, messages: &[&str], errors: Value) -> Response {
        (
            code,
            Json(json!({"errorMessages": messages, "errors": errors})),
        )
            .into_response()
    }

    fn unauthorized(db: &Db, h: &HeaderMap) -> Option<Response> {
        match h.get("authorization").and_then(|v| v.to_str().ok()) {
            Some(a) if a == db.auth => None,
            _ => Some(error(
                StatusCode::UNAUTHORIZED,
                &["You are not authenticated. Authentication required to perform this operation."],
                json!({}),
            )),
        }
    }

    fn status_json(status: &str) -> Value {
        json!({"name": status, "statusCategory": {"key": category(status)}})
    }

    fn issue_json(i: &MockIssue, fields: Option<&str>) -> Value {
        let mut all = i.fields.clone();
        all.insert("status".into(), status_json(&i.status));
        let mut f = Map::new();
        match fields {
            Some(list) => {
                for k in list.split(',') {
                    f.insert(k.into(), all.get(k).cloned().unwrap_or(Value::Null));
                }
            }
            None => f = all,
        }
        json!({"id": i.id.to_string(), "key": i.key, "self": format!("/rest/api/2/issue/{}", i.id), "fields": f})
    }

    fn find<'a>(db: &'a mut Db, id: &str) -> Option<&'a mut MockIssue> {
        db.issues
            .iter_mut()
            .find(|i| i.id.to_string() == id || i.key == id)
    }

    fn not_found() -> Response {
        error(
            StatusCode::NOT_FOUND,
            &["Issue does not exist or you do not have permission to see it."],
            json!({}),
        )
    }

    async fn create(State(s): State<S>, h: HeaderMap, Json(body): Json<Value>) -> Response {
        let mut db = s.lock().unwrap();
        if let Some(r) = unauthorized(&db, &h) {
            return r;
        }
        db.bodies.push(("create".into(), body.clone()));
        let f = body["fields"].as_object().cloned().unwrap_or_default();
        if f.get("project") != Some(&json!({"key": "OPS"})) {
            return error(
                StatusCode::BAD_REQUEST,
                &[],
                json!({"project": "valid project is required"}),
            );
        }
        if !matches!(f["issuetype"]["name"].as_str(), Some("Incident" | "Task")) {
            return error(
                StatusCode::BAD_REQUEST,
                &[],
                json!({"issuetype": "Specify a valid issue type"}),
            );
        }
        if let Some(p) = f.get("priority") {
            if !matches!(
                p["name"].as_str(),
                Some("Highest" | "High" | "Medium" | "Low" | "Lowest")
            ) {
                return error(
                    StatusCode::BAD_REQUEST,
                    &[],
                    json!({"priority": "Specify a valid priority"}),
                );
            }
        }
        let summary = f["summary"].as_str().unwrap_or("");
        if summary.is_empty() || summary.contains('\n') || summary.chars().count() > 255 {
            return error(
                StatusCode::BAD_REQUEST,
                &[],
                json!({"summary": "Summary is invalid"}),
            );
        }
        if db.no_id {
            return (StatusCode::CREATED, Json(json!({}))).into_response();
        }
        let n = db.issues.len() as u64 + 1;
        let mut fields = f.clone();
        fields.insert("created".into(), json!(jira_now()));
        fields.insert("resolutiondate".into(), Value::Null);
        fields.insert("resolution".into(), Value::Null);
        fields.entry("assignee").or_insert(Value::Null);
        let issue = MockIssue {
            id: 10_000 + n,
            key: format!("OPS-{n}"),
            status: "Open".into(),
            fields,
            comments: vec![],
        };
        let out = json!({"id": issue.id.to_string(), "key": issue.key, "self": format!("/rest/api/2/issue/{}", issue.id)});
        db.issues.push(issue);
        (StatusCode::CREATED, Json(out)).into_response()
    }

    async fn read(
        State(s): State<S>,
        h: HeaderMap,
        UrlPath(id): UrlPath<String>,
        Query(q): Query<BTreeMap<String, String>>,
    ) -> Response {
        let mut db = s.lock().unwrap();
        if let Some(r) = unauthorized(&db, &h) {
            return r;
        }
        match find(&mut db, &id) {
            Some(i) => Json(issue_json(i, q.get("fields").map(String::as_str))).into_response(),
            None => not_found(),
        }
    }

    async fn comment(
        State(s): State<S>,
        h: HeaderMap,
        UrlPath(id): UrlPath<String>,
        Json(body): Json<Value>,
    ) -> Response {
        let mut db = s.lock().unwrap();
        if let Some(r) = unauthorized(&db, &h) {
            return r;
        }
        db.bodies.push(("comment".into(), body.clone()));
        let internal = body["properties"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p["key"] == "sd.public.comment" && p["value"]["internal"] == true)
        });
        let Some(i) = find(&mut db, &id) else {
            return not_found();
        };
        i.comments.push(Comment {
            body: body["body"].as_str().unwrap().into(),
            internal,
            via: "platform",
            visibility: body.get("visibility").cloned(),
        });
        let n = 20_000 + i.comments.len();
        (
            StatusCode::CREATED,
            Json(json!({"id": n.to_string(), "body": body["body"]})),
        )
            .into_response()
    }

    async fn sd_comment(
        State(s): State<S>,
        h: HeaderMap,
        UrlPath(id): UrlPath<String>,
        Json(body): Json<Value>,
    ) -> Response {
        let mut db = s.lock().unwrap();
        if let Some(r) = unauthorized(&db, &h) {
            return r;
        }
        db.bodies.push(("sd_comment".into(), body.clone()));
        let Some(i) = find(&mut db, &id) else {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"errorMessage": "Request not found"})),
            )
                .into_response();
        };
        i.comments.push(Comment {
            body: body["body"].as_str().unwrap().into(),
            internal: body["public"] == false,
            via: "servicedesk",
            visibility: None,
        });
        let n = 20_000 + i.comments.len();
        (
            StatusCode::CREATED,
            Json(json!({"id": n.to_string(), "body": body["body"], "public": body["public"]})),
        )
            .into_response()
    }

    async fn list_transitions(
        State(s): State<S>,
        h: HeaderMap,
        UrlPath(id): UrlPath<String>,
        Query(q): Query<BTreeMap<String, String>>,
    ) -> Response {
        let mut db = s.lock().unwrap();
        if let Some(r) = unauthorized(&db, &h) {
            return r;
        }
        let Some(i) = find(&mut db, &id) else {
            return not_found();
        };
        let with_fields = q
            .get("expand")
            .is_some_and(|e| e.contains("transitions.fields"));
        let ts: Vec<Value> = workflow(&i.status)
            .into_iter()
            .map(|(id, name, to)| {
                let mut t = json!({"id": id, "name": name, "to": status_json(to)});
                if with_fields {
                    t["fields"] = if to == "Resolved" {
                        json!({"resolution": {"required": true, "name": "Resolution",
                            "allowedValues": [{"id": "10000", "name": "Done"}, {"id": "10001", "name": "Won't Do"}]}})
                    } else {
                        json!({})
                    };
                }
                t
            })
            .collect();
        Json(json!({"expand": "transitions", "transitions": ts})).into_response()
    }

    async fn do_transition(
        State(s): State<S>,
        h: HeaderMap,
        UrlPath(id): UrlPath<String>,
        Json(body): Json<Value>,
    ) -> Response {
        let mut db = s.lock().unwrap();
        if let Some(r) = unauthorized(&db, &h) {
            return r;
        }
        db.bodies.push(("transition".into(), body.clone()));
        let Some(i) = find(&mut db, &id) else {
            return not_found();
        };
        let want = body["transition"]["id"].as_str().unwrap_or("");
        let Some((_, _, to)) = workflow(&i.status)
            .into_iter()
            .find(|(tid, _, _)| *tid == want)
        else {
            return error(
                StatusCode::BAD_REQUEST,
                &[&format!(
                    "Transition id '{want}' is not valid for this issue."
                )],
                json!({}),
            );
        };
        if to == "Resolved" {
            let Some(r) = body["fields"]["resolution"]["name"].as_str() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    &[],
                    json!({"resolution": "Resolution is required."}),
                );
            };
            i.fields.insert("resolution".into(), json!({"name": r}));
            i.fields.insert("resolutiondate".into(), json!(jira_now()));
        }
        if category(to) != "done" {
            i.fields.insert("resolution".into(), Value::Null);
            i.fields.insert("resolutiondate".into(), Value::Null);
        }
        i.status = to.into();
        StatusCode::NO_CONTENT.into_response()
    }

    /// Evaluates the JQL this adapter writes (and refuses anything else, like Jira's
    /// parser would refuse nonsense).
    fn jql_matches(jql: &str, i: &MockIssue) -> Result<bool, String> {
        let (cond, order) = jql.split_once(" ORDER BY ").unwrap_or((jql, ""));
        if !order.is_empty() && order != "created DESC" {
            return Err(format!("unsupported order {order}"));
        }
        for c in cond.split(" AND ") {
            let ok = if let Some(p) = c.strip_prefix("project = ") {
                i.key.starts_with(&format!("{}-", p.trim_matches('"')))
            } else if let Some(l) = c.strip_prefix("labels = ") {
                let l = l.trim_matches('"');
                i.fields["labels"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == l))
            } else if c == "statusCategory != Done" {
                category(&i.status) != "done"
            } else if let Some(rest) = c.strip_prefix("cf[") {
                let (n, phrase) = rest.split_once("] ~ ").ok_or("bad ~")?;
                // A loose text index: any token of the phrase matches (so every Tilsyn
                // issue matches "tilsyn-…"; the adapter must check exactly).
                let phrase = phrase.trim_matches(|c| c == '"' || c == '\\');
                let value = i
                    .fields
                    .get(&format!("customfield_{n}"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                phrase
                    .split('-')
                    .any(|tok| !tok.is_empty() && value.split('-').any(|v| v == tok))
            } else {
                return Err(format!("Error in the JQL Query: cannot parse {c:?}"));
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn search(db: &Db, q: &BTreeMap<String, String>) -> Result<Vec<Value>, String> {
        let jql = q.get("jql").map(String::as_str).unwrap_or("");
        let mut out = Vec::new();
        for i in db.issues.iter().rev() {
            match jql_matches(jql, i) {
                Ok(true) => out.push(issue_json(i, q.get("fields").map(String::as_str))),
                Ok(false) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn page_size(db: &Db, q: &BTreeMap<String, String>) -> usize {
        let max: usize = q.get("maxResults").map_or(50, |m| m.parse().unwrap());
        max.min(if db.page_size == 0 { 100 } else { db.page_size })
    }

    async fn search_jql(
        State(s): State<S>,
        h: HeaderMap,
        Query(q): Query<BTreeMap<String, String>>,
    ) -> Response {
        let db = s.lock().unwrap();
        if let Some(r) = unauthorized(&db, &h) {
            return r;
        }
        if db.data_center {
            return StatusCode::NOT_FOUND.into_response();
        }
        let all = match search(&db, &q) {
            Ok(a) => a,
            Err(e) => return error(StatusCode::BAD_REQUEST, &[&e], json!({})),
        };
        let start: usize = q.get("nextPageToken").map_or(0, |t| {
            t.strip_prefix("tok-")
                .expect("a token we gave")
                .parse()
                .unwrap()
        });
        let size = page_size(&db, &q);
        let page: Vec<Value> = all.iter().skip(start).take(size).cloned().collect();
        let end = start + page.len();
        let mut out = json!({"issues": page, "isLast": end >= all.len()});
        if end < all.len() {
            out["nextPageToken"] = json!(format!("tok-{end}"));
        }
        Json(out).into_response()
    }

    async fn search_old(
        State(s): State<S>,
        h: HeaderMap,
        Query(q): Query<BTreeMap<String, String>>,
    ) -> Response {
        let db = s.lock().unwrap();
        if let Some(r) = unauthorized(&db, &h) {
            return r;
        }
        if !db.data_center {
            return error(StatusCode::GONE, &["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."], json!({}));
        }
        let all = match search(&db, &q) {
            Ok(a) => a,
            Err(e) => return error(StatusCode::BAD_REQUEST, &[&e], json!({})),
        };
        let start: usize = q.get("startAt").map_or(0, |v| v.parse().unwrap());
        let size = page_size(&db, &q);
        let page: Vec<Value> = all.iter().skip(start).take(size).cloned().collect();
        Json(json!({"startAt": start, "maxResults": size, "total": all.len(), "issues": page}))
            .into_response()
    }

    async fn start(auth: &str, data_center: bool) -> (Mock, S) {
        let db = S::default();
        {
            let mut g = db.lock().unwrap();
            g.auth = auth.into();
            g.data_center = data_center;
        }
        let app = Router::new()
            .route("/rest/api/2/issue", post(create))
            .route("/rest/api/2/issue/{id}", get(read))
            .route("/rest/api/2/issue/{id}/comment", post(comment))
            .route(
                "/rest/api/2/issue/{id}/transitions",
                get(list_transitions).post(do_transition),
            )
            .route("/rest/api/2/search/jql", get(search_jql))
            .route("/rest/api/2/search", get(search_old))
            .route(
                "/rest/servicedeskapi/request/{id}/comment",
                post(sd_comment),
            )
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

    fn config(url: &str, dir: &tempfile::TempDir, extra: Value) -> JiraConfig {
        let mut v = json!({
            "url": url,
            "email": "tilsyn@example.org",
            "api_token_file": secret_file(dir, "token", "atl-token-1"),
            "project": "OPS",
        });
        for (k, x) in extra.as_object().unwrap() {
            if x.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = x.clone();
            }
        }
        serde_json::from_value(v).unwrap()
    }

    async fn setup(extra: Value) -> (Mock, S, Jira, tempfile::TempDir) {
        let (mock, db) = start(&basic("tilsyn@example.org", "atl-token-1"), false).await;
        let dir = tempfile::tempdir().unwrap();
        let j = Jira::new(&config(&mock.url, &dir, extra), Duration::from_secs(5)).unwrap();
        (mock, db, j, dir)
    }

    fn ticket(key: &str, priority: u8) -> Ticket {
        Ticket {
            key: key.into(),
            title: "[Tilsyn P2] web01: filesystem / above 90 %".into(),
            body: "web01 (agent a-1, department schools): / is 93 % full since 10:00.".into(),
            priority,
            impact: 2,
            urgency: 1,
            severity: "high".into(),
            hostname: "web01".into(),
            agent_id: "a-1".into(),
            department: "schools".into(),
            check: "filesystem:/".into(),
            opened_at_ms: 1_700_000_000_000,
        }
    }

    fn issue(db: &S, id: &str) -> MockIssue {
        find(&mut db.lock().unwrap(), id).unwrap().clone()
    }

    fn bodies(db: &S, kind: &str) -> Vec<Value> {
        db.lock()
            .unwrap()
            .bodies
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, b)| b.clone())
            .collect()
    }

    #[tokio::test]
    async fn lifecycle_create_find_note_resolve_reopen() {
        let (mock, db, j, _d) = setup(json!({})).await;
        assert_eq!(j.kind(), "jira");
        assert_eq!(j.find_open(KEY).await.unwrap(), None, "empty search result");

        let r = j.create(&ticket(KEY, 2)).await.unwrap();
        assert_eq!(r.id, "10001");
        assert_eq!(r.number.as_deref(), Some("OPS-1"));
        assert_eq!(
            r.url.as_deref().unwrap(),
            format!("{}/browse/OPS-1", mock.url)
        );
        assert_eq!(
            bodies(&db, "create")[0],
            json!({"fields": {
                "project": {"key": "OPS"},
                "issuetype": {"name": "Incident"},
                "summary": "[Tilsyn P2] web01: filesystem / above 90 %",
                "description": "web01 (agent a-1, department schools): / is 93 % full since 10:00.",
                "priority": {"name": "High"},
                "labels": ["tilsyn", KEY],
            }})
        );

        // An unrelated Tilsyn issue must not be found for KEY.
        j.create(&ticket(OTHER, 3)).await.unwrap();
        assert_eq!(j.find_open(KEY).await.unwrap(), Some(r.clone()));
        let search = mock
            .requests()
            .into_iter()
            .rfind(|l| l.contains("/search"))
            .unwrap();
        assert!(
            search.starts_with("GET /rest/api/2/search/jql?"),
            "{search}"
        );
        assert!(
            search.contains("jql=project+%3D+%22OPS%22+AND+labels+%3D+%22tilsyn-0123456789abcdef0123456789abcdef%22+AND+statusCategory+%21%3D+Done+ORDER+BY+created+DESC"),
            "{search}"
        );

        j.note(&r, "still 93 %").await.unwrap();
        let c = &issue(&db, "OPS-1").comments[0];
        assert_eq!(
            (c.body.as_str(), c.internal, c.via),
            ("still 93 %", true, "platform")
        );

        j.resolve(&r, "back below 85 % since 10:40").await.unwrap();
        let i = issue(&db, "OPS-1");
        assert_eq!(i.status, "Resolved");
        assert_eq!(i.fields["resolution"], json!({"name": "Done"}));
        let c = i.comments.last().unwrap();
        assert_eq!(
            (c.body.as_str(), c.internal),
            ("back below 85 % since 10:40", true)
        );
        assert_eq!(
            bodies(&db, "transition")[0],
            json!({"transition": {"id": "21"}, "fields": {"resolution": {"name": "Done"}}})
        );
        assert_eq!(j.find_open(KEY).await.unwrap(), None);

        // Resolving again: success, nothing written.
        let writes = |m: &Mock| {
            m.requests()
                .iter()
                .filter(|l| l.starts_with("POST"))
                .count()
        };
        let before = writes(&mock);
        j.resolve(&r, "again").await.unwrap();
        assert_eq!(writes(&mock), before);

        j.reopen(&r, "recurred at 11:02").await.unwrap();
        let i = issue(&db, "OPS-1");
        assert_eq!(i.status, "Open");
        assert_eq!(i.fields["resolutiondate"], Value::Null);
        assert_eq!(i.comments.last().unwrap().body, "recurred at 11:02");
        assert_eq!(
            bodies(&db, "transition")[1],
            json!({"transition": {"id": "41"}})
        );
        assert_eq!(j.find_open(KEY).await.unwrap(), Some(r.clone()));

        // Reopening an open issue only comments.
        j.reopen(&r, "recurred again").await.unwrap();
        assert_eq!(bodies(&db, "transition").len(), 2);
        let i = issue(&db, "OPS-1");
        assert_eq!(i.comments.len(), 4);
        assert!(i.comments.iter().all(|c| c.internal), "{:?}", i.comments);
    }

    #[tokio::test]
    async fn service_desk_notes_are_jsm_internal_comments() {
        let (mock, db, j, _d) = setup(json!({"service_desk": true})).await;
        let r = j.create(&ticket(KEY, 1)).await.unwrap();
        j.note(&r, "internal only").await.unwrap();
        j.resolve(&r, "fixed").await.unwrap();
        assert_eq!(
            bodies(&db, "sd_comment"),
            vec![
                json!({"body": "internal only", "public": false}),
                json!({"body": "fixed", "public": false})
            ]
        );
        assert!(bodies(&db, "comment").is_empty());
        assert!(mock
            .requests()
            .iter()
            .any(|l| l == "POST /rest/servicedeskapi/request/10001/comment"));
        assert!(issue(&db, "OPS-1")
            .comments
            .iter()
            .all(|c| c.via == "servicedesk" && c.internal));
    }

    #[tokio::test]
    async fn comment_visibility_is_sent_on_plain_projects() {
        let (_mock, db, j, _d) =
            setup(json!({"comment_visibility": {"type": "role", "value": "Developers"}})).await;
        let r = j.create(&ticket(KEY, 1)).await.unwrap();
        j.note(&r, "x").await.unwrap();
        let c = &issue(&db, "OPS-1").comments[0];
        assert_eq!(
            c.visibility,
            Some(json!({"type": "role", "value": "Developers"}))
        );
        assert!(c.internal);
    }

    #[tokio::test]
    async fn data_center_with_pat_key_field_and_pagination() {
        let (mock, db) = start("Bearer dc-pat-1", true).await;
        db.lock().unwrap().page_size = 1;
        let d = tempfile::tempdir().unwrap();
        let cfg = config(
            &mock.url,
            &d,
            json!({
                "deployment": "data_center",
                "email": null,
                "api_token_file": null,
                "pat_file": secret_file(&d, "pat", "dc-pat-1"),
                "key_field": "customfield_10050",
            }),
        );
        let j = Jira::new(&cfg, Duration::from_secs(5)).unwrap();
        let r = j.create(&ticket(KEY, 1)).await.unwrap();
        let body = &bodies(&db, "create")[0]["fields"];
        assert_eq!(body["labels"], json!(["tilsyn"]));
        assert_eq!(body["customfield_10050"], json!(KEY));
        // Newer Tilsyn issues come first in the search (ORDER BY created DESC) and match the
        // loose text search too.
        for n in 0..3 {
            j.create(&ticket(&format!("tilsyn-{n:032x}"), 3))
                .await
                .unwrap();
        }
        assert_eq!(j.find_open(KEY).await.unwrap(), Some(r.clone()));
        let pages: Vec<String> = mock
            .requests()
            .into_iter()
            .filter(|l| l.contains("/search"))
            .collect();
        assert_eq!(pages.len(), 4, "{pages:?}");
        assert!(pages
            .iter()
            .all(|l| l.starts_with("GET /rest/api/2/search?")));
        assert!(
            pages[0].contains("startAt=0") && pages[3].contains("startAt=3"),
            "{pages:?}"
        );
        assert!(
            pages[0].contains(
                "cf%5B10050%5D+%7E+%22%5C%22tilsyn-0123456789abcdef0123456789abcdef%5C%22%22"
            ),
            "{}",
            pages[0]
        );
        assert_eq!(
            j.find_open("tilsyn-99999999999999999999999999999999")
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn cloud_pagination_follows_next_page_token() {
        let (mock, db, j, _d) = setup(json!({"key_field": "customfield_10050"})).await;
        db.lock().unwrap().page_size = 2;
        let r = j.create(&ticket(KEY, 1)).await.unwrap();
        for n in 0..4 {
            j.create(&ticket(&format!("tilsyn-{n:032x}"), 3))
                .await
                .unwrap();
        }
        assert_eq!(j.find_open(KEY).await.unwrap(), Some(r));
        let pages: Vec<String> = mock
            .requests()
            .into_iter()
            .filter(|l| l.contains("/search"))
            .collect();
        assert_eq!(pages.len(), 3, "{pages:?}");
        assert!(!pages[0].contains("nextPageToken"));
        assert!(
            pages[1].contains("nextPageToken=tok-2") && pages[2].contains("nextPageToken=tok-4"),
            "{pages:?}"
        );
    }

    #[tokio::test]
    async fn read_back_uses_jira_dates() {
        let (_mock, db, j, _d) = setup(json!({})).await;
        let r = j.create(&ticket(KEY, 2)).await.unwrap();
        let st = j.read_back(&r).await.unwrap().unwrap();
        assert_eq!(
            st,
            TicketStatus {
                state: "Open".into(),
                responded: false,
                first_response_at_ms: None,
                resolved_at_ms: None,
                closed: false,
            }
        );
        let set = |f: &dyn Fn(&mut MockIssue)| f(find(&mut db.lock().unwrap(), "OPS-1").unwrap());
        set(&|i| {
            i.fields.insert(
                "assignee".into(),
                json!({"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia"}),
            );
        });
        let st = j.read_back(&r).await.unwrap().unwrap();
        assert!(st.responded && !st.closed);
        set(&|i| {
            i.fields.insert("assignee".into(), Value::Null);
            i.status = "Waiting for support".into();
        });
        let st = j.read_back(&r).await.unwrap().unwrap();
        assert_eq!(st.state, "Waiting for support");
        assert!(st.responded, "indeterminate category");
        set(&|i| {
            i.status = "Resolved".into();
            i.fields
                .insert("created".into(), json!("2026-11-22T10:15:30.000+0100"));
            i.fields.insert(
                "resolutiondate".into(),
                json!("2026-11-22T12:00:00.000+0100"),
            );
        });
        let st = j.read_back(&r).await.unwrap().unwrap();
        assert_eq!(st.state, "Resolved");
        assert!(st.closed);
        assert_eq!(st.resolved_at_ms, Some(1_795_345_200_000)); // 2026-11-22T11:00:00Z
        assert_eq!(
            parse_time(Some(&json!("2026-11-22T10:15:30.000+0100"))),
            Some(1_795_338_930_000)
        );
        assert_eq!(
            parse_time(Some(&json!("2026-11-22T09:15:30Z"))),
            Some(1_795_338_930_000)
        );
        assert_eq!(parse_time(Some(&json!("22/Nov/26"))), None);
    }

    #[test]
    fn priority_mapping() {
        let d = tempfile::tempdir().unwrap();
        let j = Jira::new(
            &config("https://x.atlassian.net", &d, json!({})),
            Duration::from_secs(1),
        )
        .unwrap();
        let name =
            |j: &Jira, p| j.create_body(&ticket(KEY, p))["fields"]["priority"]["name"].clone();
        for (p, want) in [
            (1, "Highest"),
            (2, "High"),
            (3, "Medium"),
            (4, "Low"),
            (5, "Lowest"),
            (0, "Highest"),
            (9, "Lowest"),
        ] {
            assert_eq!(name(&j, p), json!(want), "P{p}");
        }
        let custom = Jira::new(
            &config(
                "https://x.atlassian.net",
                &d,
                json!({"priorities": ["Blocker", "Critical", "Major", "Minor", "Trivial"]}),
            ),
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(name(&custom, 1), json!("Blocker"));
        assert_eq!(name(&custom, 4), json!("Minor"));
        let none = Jira::new(
            &config("https://x.atlassian.net", &d, json!({"priorities": []})),
            Duration::from_secs(1),
        )
        .unwrap();
        assert!(none.create_body(&ticket(KEY, 1))["fields"]
            .get("priority")
            .is_none());

        // JSM impact/urgency select lists, when configured.
        let jsm = Jira::new(
            &config(
                "https://x.atlassian.net",
                &d,
                json!({"impact_field": "customfield_10004", "urgency_field": "customfield_10005",
                       "extra_fields": {"components": [{"name": "Servers"}]}}),
            ),
            Duration::from_secs(1),
        )
        .unwrap();
        let f = jsm.create_body(&ticket(KEY, 2))["fields"].clone();
        assert_eq!(
            f["customfield_10004"],
            json!({"value": "Significant / Large"})
        );
        assert_eq!(f["customfield_10005"], json!({"value": "Critical"}));
        assert_eq!(f["components"], json!([{"name": "Servers"}]));
        // Summaries are one line of at most 255 characters.
        let mut t = ticket(KEY, 1);
        t.title = format!("a\r\nb{}", "x".repeat(400));
        let s = j.create_body(&t)["fields"]["summary"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(s.chars().count(), 255);
        assert!(s.starts_with("a  b"));
    }

    #[test]
    fn search_hits_are_checked_exactly() {
        let d = tempfile::tempdir().unwrap();
        let cfg = config(
            "https://x.atlassian.net",
            &d,
            json!({"key_field": "customfield_10050"}),
        );
        let j = Jira::new(&cfg, Duration::from_secs(1)).unwrap();
        let hit = |key: Value, cat: &str| {
            let mut f = json!({"status": {"name": "X", "statusCategory": {"key": cat}}});
            if !key.is_null() {
                f["customfield_10050"] = key;
            }
            serde_json::from_value::<Issue>(json!({"id": "10001", "key": "OPS-1", "fields": f}))
                .unwrap()
        };
        assert!(j.reading.is_open_match(&hit(json!(KEY), "new"), KEY));
        assert!(j
            .reading
            .is_open_match(&hit(json!(KEY), "indeterminate"), KEY));
        assert!(
            !j.reading.is_open_match(&hit(json!(OTHER), "new"), KEY),
            "fuzzy text hit"
        );
        assert!(
            !j.reading.is_open_match(&hit(json!(KEY), "done"), KEY),
            "stale index"
        );
        assert!(!j.reading.is_open_match(&hit(json!(7), "new"), KEY));
        assert!(
            j.reading.is_open_match(&hit(Value::Null, "new"), KEY),
            "field not in the answer: trust the JQL"
        );
    }

    #[tokio::test]
    async fn missing_transitions_are_permanent_with_the_names() {
        let (_mock, db, j, _d) = setup(json!({})).await;
        let r = j.create(&ticket(KEY, 1)).await.unwrap();
        find(&mut db.lock().unwrap(), "OPS-1").unwrap().status = "Waiting for support".into();
        let e = j.resolve(&r, "x").await.unwrap_err();
        assert!(e.is_permanent(), "{e:?}");
        let m = e.to_string();
        assert!(
            m.contains("\"Respond to customer\"")
                && m.contains("jira.resolve_transitions")
                && m.contains("OPS-1"),
            "{m}"
        );
        assert!(
            issue(&db, "OPS-1").comments.is_empty(),
            "nothing written when it cannot resolve"
        );

        find(&mut db.lock().unwrap(), "OPS-1").unwrap().status = "Closed".into();
        let e = j.reopen(&r, "x").await.unwrap_err();
        assert!(
            e.is_permanent() && e.to_string().contains("available: none"),
            "{e}"
        );
        // Resolving a closed issue is a success.
        j.resolve(&r, "x").await.unwrap();
    }

    #[tokio::test]
    async fn a_resolution_the_screen_does_not_offer_is_permanent() {
        let (_mock, _db, j, _d) = setup(json!({"resolution": "Fixed"})).await;
        let r = j.create(&ticket(KEY, 1)).await.unwrap();
        let e = j.resolve(&r, "x").await.unwrap_err();
        assert!(
            e.is_permanent() && e.to_string().contains("Done, Won't Do"),
            "{e}"
        );
        // Without a resolution the desk's own 400 comes back as permanent.
        let (m2, _db2) = start(&basic("tilsyn@example.org", "atl-token-1"), false).await;
        let d2 = tempfile::tempdir().unwrap();
        let mut cfg = config(&m2.url, &d2, json!({}));
        cfg.resolution = None;
        let j2 = Jira::new(&cfg, Duration::from_secs(5)).unwrap();
        let r2 = j2.create(&ticket(KEY, 1)).await.unwrap();
        let e = j2.resolve(&r2, "x").await.unwrap_err();
        assert!(
            e.is_permanent() && e.to_string().contains("Resolution is required"),
            "{e}"
        );
    }

    #[test]
    fn config_errors_are_all_reported() {
        let cfg: JiraConfig = serde_json::from_value(json!({
            "url": "ftp://jira.example.org",
            "project": "ops",
            "priorities": ["A", "B"],
            "key_field": "Correlation",
            "resolve_transitions": [],
        }))
        .unwrap();
        let errs = Jira::new(&cfg, Duration::from_secs(1)).err().unwrap();
        let all = errs.join("\n");
        assert_eq!(errs.len(), 6, "{all}");
        for want in [
            "jira.url",
            "missing credential",
            "jira.project",
            "jira.priorities",
            "jira.key_field",
            "jira.resolve_transitions",
        ] {
            assert!(all.contains(want), "{want}: {all}");
        }
        assert!(
            all.contains("api_token_file") && all.contains("pat_file"),
            "{all}"
        );

        let d = tempfile::tempdir().unwrap();
        let both = config(
            "https://x.atlassian.net/rest/api/2",
            &d,
            json!({"pat_env": "X", "service_desk": true, "comment_visibility": {"type": "group", "value": "staff"},
                   "impact_field": "customfield_1", "impact_values": ["a"], "extra_fields": {"labels": []}}),
        );
        let errs = Jira::new(&both, Duration::from_secs(1)).err().unwrap();
        let all = errs.join("\n");
        assert_eq!(errs.len(), 5, "{all}");
        for want in [
            "without /rest/",
            "not both",
            "jira.comment_visibility",
            "jira.impact_values",
            "jira.extra_fields.labels",
        ] {
            assert!(all.contains(want), "{want}: {all}");
        }

        let no_email = config("https://x.atlassian.net", &d, json!({"email": null}));
        assert!(
            Jira::new(&no_email, Duration::from_secs(1)).err().unwrap()[0].contains("jira.email")
        );
        let unset = config(
            "https://x.atlassian.net",
            &d,
            json!({"api_token_file": null, "api_token_env": "TILSYN_JIRA_SURELY_UNSET"}),
        );
        let errs = Jira::new(&unset, Duration::from_secs(1)).err().unwrap();
        assert!(errs[0].contains("TILSYN_JIRA_SURELY_UNSET"), "{errs:?}");
        assert!(serde_json::from_value::<JiraConfig>(
            json!({"url": "https://x", "project": "OPS", "token": "x"})
        )
        .is_err());
        assert!(serde_json::from_value::<JiraConfig>(
            json!({"url": "https://x", "project": "OPS", "deployment": "server"})
        )
        .is_err());
    }

    #[test]
    fn relative_secret_files_resolve_against_the_config_dir() {
        let mut cfg: JiraConfig = serde_json::from_value(json!({
            "url": "https://x.atlassian.net", "project": "OPS", "email": "a@b", "api_token_file": "jira.token",
        }))
        .unwrap();
        cfg.resolve_paths(Path::new("/etc/tilsyn"));
        assert_eq!(
            cfg.api_token_file.as_deref(),
            Some(Path::new("/etc/tilsyn/jira.token"))
        );
    }

    #[tokio::test]
    async fn wrong_token_is_permanent() {
        let (mock, _db) = start(&basic("tilsyn@example.org", "other"), false).await;
        let d = tempfile::tempdir().unwrap();
        let j = Jira::new(&config(&mock.url, &d, json!({})), Duration::from_secs(5)).unwrap();
        let e = j.find_open(KEY).await.unwrap_err();
        assert!(e.is_permanent() && e.to_string().contains("401"), "{e:?}");
        assert!(!e.to_string().contains("atl-token-1"));
    }

    #[tokio::test]
    async fn failures_are_classified() {
        let (mock, _db, j, _d) = setup(json!({})).await;
        let r = j.create(&ticket(KEY, 1)).await.unwrap();

        mock.fail_next("/rest/api/2/issue", Fault::Status(500, None));
        let e = j.create(&ticket(KEY, 1)).await.unwrap_err();
        assert!(!e.is_permanent() && e.to_string().contains("500"), "{e:?}");

        mock.fail_next("/search", Fault::Status(429, Some(30)));
        match j.find_open(KEY).await.unwrap_err() {
            DeskError::Transient { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(30)))
            }
            e => panic!("{e:?}"),
        }

        for code in [401, 403, 404] {
            mock.fail_next("/comment", Fault::Status(code, None));
            let e = j.note(&r, "x").await.unwrap_err();
            assert!(e.is_permanent(), "{code}: {e:?}");
        }
        let e = j.read_back(&TicketRef::new("99999")).await.unwrap_err();
        assert!(
            e.is_permanent() && e.to_string().contains("Issue does not exist"),
            "{e}"
        );

        mock.fail_next("/search", Fault::Garbage);
        assert!(!j.find_open(KEY).await.unwrap_err().is_permanent());
        mock.fail_next("/transitions", Fault::Garbage);
        let e = j.resolve(&r, "x").await.unwrap_err();
        assert!(
            !e.is_permanent() && e.to_string().contains("unreadable"),
            "{e:?}"
        );

        let n = mock.requests().len();
        assert!(j
            .find_open("tilsyn-x\" OR project = \"HR")
            .await
            .unwrap_err()
            .is_permanent());
        assert_eq!(mock.requests().len(), n, "refused before any request");
    }

    #[tokio::test]
    async fn timeout_is_transient() {
        let (mock, _db) = start(&basic("tilsyn@example.org", "atl-token-1"), false).await;
        let d = tempfile::tempdir().unwrap();
        let j = Jira::new(
            &config(&mock.url, &d, json!({})),
            Duration::from_millis(200),
        )
        .unwrap();
        mock.fail_next("", Fault::Delay(Duration::from_millis(1500)));
        let e = j.create(&ticket(KEY, 1)).await.unwrap_err();
        assert!(
            !e.is_permanent() && e.to_string().contains("timed out"),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn an_answer_without_id_is_transient() {
        let (_mock, db, j, _d) = setup(json!({})).await;
        db.lock().unwrap().no_id = true;
        let e = j.create(&ticket(KEY, 1)).await.unwrap_err();
        assert!(
            !e.is_permanent() && e.to_string().contains("no issue id"),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn a_lost_create_answer_is_recovered_by_find_open() {
        let (mock, db, j, _d) = setup(json!({})).await;
        mock.fail_next("/rest/api/2/issue", Fault::LoseAnswer);
        let e = j.create(&ticket(KEY, 1)).await.unwrap_err();
        assert!(!e.is_permanent(), "{e:?}");
        assert_eq!(db.lock().unwrap().issues.len(), 1, "the desk created it");
        let found = j
            .find_open(KEY)
            .await
            .unwrap()
            .expect("found after a lost answer");
        assert_eq!(
            (found.id.as_str(), found.number.as_deref()),
            ("10001", Some("OPS-1"))
        );
    }
}
