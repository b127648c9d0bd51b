//! What each adapter makes of a desk's answer, as pure functions over the bytes: the
//! adapters call these on live answers, the fuzz targets and tests on recorded or
//! arbitrary ones.
//!
//! A desk is somebody else's product, and so is whatever stands between it and the
//! collector (a proxy's error page, a truncated body): every reader here takes the body as
//! `&[u8]` plus the few settings its reading depends on (a [`Reading`](servicenow::Reading)
//! per desk, which the adapter builds from its config and whose `Default` is the adapter's
//! default config), and returns the adapter's [`DeskResult`]. An answer that cannot be read
//! is [`DeskError::Transient`] naming what was wrong, as it was before these functions
//! existed; no reader panics, whatever the bytes (see [`read_any`] and the tests).

use serde_json::Value;

use crate::{http, DeskError, DeskResult, TicketRef, TicketStatus};

/// What one page of a desk's search answer says about the key searched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page<N = ()> {
    /// The open ticket for the key.
    Found(TicketRef),
    /// Not on this page; there are more, read with `N` (a page token, a start offset).
    More(N),
    /// Not on this page, and it was the last one.
    End,
}

/// A non-2xx answer: the error naming `what` and quoting the start of the body (any bytes).
/// This is [`http::send`]'s classification, without the network.
pub fn refused(status: u16, what: &str, body: &[u8]) -> DeskResult<DeskError> {
    let status = reqwest::StatusCode::from_u16(status)
        .map_err(|_| DeskError::transient(format!("{what}: HTTP status {status} is not one")))?;
    Ok(http::refused(status, None, what, body))
}

/// ServiceNow's Table API (`{"result": {…}}` or `{"result": [{…}]}`).
pub mod servicenow {
    use super::*;
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

/// Jira's REST API v2 (and the JSM comment answer).
pub mod jira {
    use super::*;
    use crate::jira::{id_of, parse_time, CloudPage, DcPage, Issue, Transition, Transitions};

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

/// Request Tracker 5's REST2.
pub mod rt5 {
    use super::*;
    use crate::rt5::{holds_key, id_string, rt_date, RtTicket, SearchPage, PER_PAGE};

    /// The settings RT's answers are read with.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Reading {
        /// RT's web address, for links to tickets.
        pub web: String,
        pub key_field: String,
        /// Lower case.
        pub responded_statuses: Vec<String>,
        /// Lower case.
        pub closed_statuses: Vec<String>,
    }

    impl Default for Reading {
        /// The adapter's defaults, on `https://rt.invalid`.
        fn default() -> Reading {
            use crate::rt5::{
                default_closed_statuses, default_key_field, default_responded_statuses,
            };
            Reading::new(
                "https://rt.invalid",
                &default_key_field(),
                &default_responded_statuses(),
                &default_closed_statuses(),
            )
        }
    }

    impl Reading {
        /// `web` is RT's checked web address; the statuses are compared in lower case.
        pub fn new(web: &str, key_field: &str, responded: &[String], closed: &[String]) -> Reading {
            let lower = |v: &[String]| -> Vec<String> {
                v.iter().map(|s| s.trim().to_lowercase()).collect()
            };
            Reading {
                web: web.to_string(),
                key_field: key_field.trim().to_string(),
                responded_statuses: lower(responded),
                closed_statuses: lower(closed),
            }
        }

        pub fn tref(&self, id: &str) -> TicketRef {
            TicketRef {
                id: id.to_string(),
                number: Some(format!("#{id}")),
                url: Some(format!("{}/Ticket/Display.html?id={id}", self.web)),
            }
        }

        pub fn is_closed(&self, status: &str) -> bool {
            self.closed_statuses.contains(&status.to_lowercase())
        }

        /// What [`crate::Desk::read_back`] reports for a ticket as RT shows it.
        pub fn status_of(&self, t: &RtTicket) -> TicketStatus {
            let status = t.status.to_lowercase();
            let closed = self.is_closed(&status);
            let owned = t
                .owner
                .as_ref()
                .and_then(|o| o.name())
                .is_some_and(|n| !n.is_empty() && !n.eq_ignore_ascii_case("nobody"));
            let responded = owned || self.responded_statuses.contains(&status);
            TicketStatus {
                state: t.status.clone(),
                responded,
                // Started is set when the status first leaves `new` (RT's
                // acknowledgement). An owner alone does not set it: then the poller
                // records when it first saw it.
                first_response_at_ms: if responded {
                    rt_date(t.started.as_deref())
                } else {
                    None
                },
                // RT keeps `Resolved` when a ticket is reopened, so it only counts while
                // the ticket is closed; LastUpdated stands in if a closed ticket has no
                // date.
                resolved_at_ms: if closed {
                    rt_date(t.resolved.as_deref()).or(rt_date(t.last_updated.as_deref()))
                } else {
                    None
                },
                closed,
            }
        }
    }

    /// The create answer `{"id": "1", …}` (with the `Location` header, which names the
    /// ticket too): the new ticket's id, digits only.
    pub fn created(body: &[u8], location: Option<&str>) -> DeskResult<String> {
        let what = "RT create ticket";
        let location = location.and_then(|l| {
            l.trim_end_matches('/')
                .rsplit('/')
                .next()
                .map(str::to_string)
        });
        let answer: Value = http::parse(body, what)?;
        answer
            .get("id")
            .and_then(id_string)
            .or(location)
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                DeskError::transient(format!(
                    "{what}: RT answered without a ticket id (no \"id\" in the body, no Location)"
                ))
            })
    }

    /// `GET /ticket/:id`.
    pub fn ticket(body: &[u8], what: &str) -> DeskResult<RtTicket> {
        http::parse(body, what)
    }

    /// The read-back answer (`GET /ticket/:id`).
    pub fn status(rd: &Reading, body: &[u8], what: &str) -> DeskResult<TicketStatus> {
        Ok(rd.status_of(&ticket(body, what)?))
    }

    /// Page `page` of `GET /tickets?query='CF.{…}' = '<key>' AND Status = '__Active__'`:
    /// the ticket whose key field holds `key` exactly (RT matches case-insensitively), or
    /// whether another page follows.
    pub fn search_page(rd: &Reading, body: &[u8], key: &str, page: u32) -> DeskResult<Page> {
        let what = "RT search ticket by key";
        let p: SearchPage = http::parse(body, what)?;
        for item in &p.items {
            let Some(id) = id_string(&item.id).filter(|id| id.bytes().all(|b| b.is_ascii_digit()))
            else {
                return Err(DeskError::transient(format!(
                    "{what}: a search result has no ticket id (digits), but {:.40}",
                    item.id.to_string()
                )));
            };
            // Without the field in the answer, trust RT's match.
            let exact = item
                .custom_fields
                .as_deref()
                .and_then(|cfs| holds_key(cfs, &rd.key_field, key))
                .unwrap_or(true);
            if exact {
                return Ok(Page::Found(rd.tref(&id)));
            }
        }
        let per_page = p.per_page.unwrap_or(f64::from(PER_PAGE));
        let this = p.page.unwrap_or(f64::from(page));
        let last = (p.items.len() as f64) < per_page || p.pages.is_none_or(|pages| this >= pages);
        Ok(if last { Page::End } else { Page::More(()) })
    }

    /// A comment / update answer: RT's messages (`["Comments added", "Status changed …"]`),
    /// which only explain a refused status; anything else is no messages.
    pub fn messages(body: &[u8]) -> Vec<String> {
        serde_json::from_slice::<Vec<Value>>(body)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }
}

/// GLPI's legacy REST API (`apirest.php`).
pub mod glpi {
    use super::*;
    use crate::glpi::{int, SOLVED};
    use serde::Deserialize;

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

/// TOPdesk's incident API.
pub mod topdesk {
    use super::*;
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

/// Zammad's REST API v1.
pub mod zammad {
    use super::*;

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

/// The generic webhook's receiver (the protocol is in [`crate::webhook`]).
pub mod webhook {
    use super::*;
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

/// The file desk's own JSON lines file (written by it, but also by whoever edits it, and
/// torn by a crash mid-write).
pub mod file {
    use super::*;

    /// Replays one line onto `open`, the open ticket id for `key`: a `create` or `reopen`
    /// opens, a `resolve` of the open id closes. A line that is not a JSON object (torn,
    /// not UTF-8, edited) is skipped.
    pub fn replay_line(open: &mut Option<String>, line: &[u8], key: &str) {
        let Ok(v) = serde_json::from_slice::<Value>(line) else {
            return;
        };
        if v["key"] != key {
            return;
        }
        let id = v["id"].as_str().unwrap_or_default().to_string();
        match v["event"].as_str() {
            Some("create" | "reopen") => *open = Some(id),
            Some("resolve") if open.as_deref() == Some(id.as_str()) => *open = None,
            _ => {}
        }
    }

    /// The whole file: the open ticket id for `key`, if any.
    pub fn replay(bytes: &[u8], key: &str) -> Option<String> {
        let mut open = None;
        for line in bytes.split(|b| *b == b'\n') {
            replay_line(&mut open, line, key);
        }
        open
    }
}

/// The readers [`read_any`] routes to, in selector order.
const READERS: usize = 31;

/// Routes `body` to one answer reader, `selector % 31`, with the adapters' default
/// settings (built once) and the key `tilsyn-0123`; never panics, and the result is
/// dropped. In order:
///
/// | selector | reader | reads |
/// |---|---|---|
/// | 0 | [`servicenow::record`] | a Table API record answer |
/// | 1 | [`servicenow::updated`] | a PATCH answer (record with `sys_id`) |
/// | 2 | [`servicenow::created`] | the create answer |
/// | 3 | [`servicenow::found`] | the search answer |
/// | 4 | [`servicenow::status`] | the read-back answer |
/// | 5 | [`jira::created`] | the create answer |
/// | 6 | [`jira::comment`] | a comment answer |
/// | 7 | [`jira::issue`] | an issue with its status |
/// | 8 | [`jira::status`] | the read-back answer |
/// | 9 | [`jira::transitions`] | the transitions list |
/// | 10 | [`jira::cloud_page`] | a Cloud search page |
/// | 11 | [`jira::dc_page`] | a Data Center search page (from 0) |
/// | 12 | [`rt5::created`] | the create answer (Location `/REST/2.0/ticket/7`) |
/// | 13 | [`rt5::ticket`] | `GET /ticket/:id` |
/// | 14 | [`rt5::status`] | the read-back answer |
/// | 15 | [`rt5::search_page`] | a search page (page 1) |
/// | 16 | [`rt5::messages`] | a comment answer's messages |
/// | 17 | [`glpi::session`] | the `initSession` answer |
/// | 18 | [`glpi::created`] | the create answer |
/// | 19 | [`glpi::search_page`] | a search page (rows 0-49, 206, `Content-Range: 0-49/120`) |
/// | 20 | [`glpi::ticket`] | `GET Ticket/{id}` |
/// | 21 | [`topdesk::created`] | the create answer |
/// | 22 | [`topdesk::search_page`] | a search page (206) |
/// | 23 | [`topdesk::ticket`] | `GET /incidents/id/{id}` |
/// | 24 | [`zammad::created`] | the create answer |
/// | 25 | [`zammad::search_page`] | a search page (50 per page) |
/// | 26 | [`zammad::ticket`] | `GET /tickets/{id}` |
/// | 27 | [`webhook::created`] | the receiver's create answer |
/// | 28 | [`webhook::found`] | the receiver's search answer |
/// | 29 | [`file::replay`] | the file desk's JSON lines |
/// | 30 | [`refused`] | an error body (HTTP 400) |
pub fn read_any(selector: u8, body: &[u8]) {
    let _ = read(usize::from(selector) % READERS, body);
}

/// Settings for [`read_any`], built once.
struct Readings {
    servicenow: servicenow::Reading,
    jira: jira::Reading,
    rt5: rt5::Reading,
    glpi: glpi::Reading,
    topdesk: topdesk::Reading,
    zammad: zammad::Reading,
}

fn readings() -> &'static Readings {
    static R: std::sync::OnceLock<Readings> = std::sync::OnceLock::new();
    R.get_or_init(|| Readings {
        servicenow: Default::default(),
        jira: Default::default(),
        rt5: Default::default(),
        glpi: Default::default(),
        topdesk: Default::default(),
        zammad: Default::default(),
    })
}

const KEY: &str = "tilsyn-0123";

/// Reader `n` on `body`, its result as text (for the tests).
fn read(n: usize, body: &[u8]) -> String {
    let r = readings();
    let what = "reading";
    match n {
        0 => format!("{:?}", servicenow::record(body, what)),
        1 => format!("{:?}", servicenow::updated(body, what)),
        2 => format!("{:?}", servicenow::created(&r.servicenow, body)),
        3 => format!("{:?}", servicenow::found(&r.servicenow, body)),
        4 => format!("{:?}", servicenow::status(&r.servicenow, body)),
        5 => format!("{:?}", jira::created(&r.jira, body)),
        6 => format!("{:?}", jira::comment(body, what)),
        7 => format!("{:?}", jira::issue(body, what)),
        8 => format!("{:?}", jira::status(body)),
        9 => format!("{:?}", jira::transitions(body)),
        10 => format!("{:?}", jira::cloud_page(&r.jira, body, KEY)),
        11 => format!("{:?}", jira::dc_page(&r.jira, body, KEY, 0)),
        12 => format!("{:?}", rt5::created(body, Some("/REST/2.0/ticket/7"))),
        13 => format!("{:?}", rt5::ticket(body, what)),
        14 => format!("{:?}", rt5::status(&r.rt5, body, what)),
        15 => format!("{:?}", rt5::search_page(&r.rt5, body, KEY, 1)),
        16 => format!("{:?}", rt5::messages(body)),
        17 => format!("{:?}", glpi::session(body)),
        18 => format!("{:?}", glpi::created(&r.glpi, body)),
        19 => format!(
            "{:?}",
            glpi::search_page(
                &r.glpi,
                body,
                KEY,
                glpi::Range {
                    start: 0,
                    page_size: 50,
                    partial: true,
                    content_range: Some("0-49/120"),
                }
            )
        ),
        20 => format!("{:?}", glpi::ticket(&r.glpi, body, what)),
        21 => format!("{:?}", topdesk::created(&r.topdesk, body)),
        22 => format!("{:?}", topdesk::search_page(&r.topdesk, body, KEY, 206)),
        23 => format!("{:?}", topdesk::ticket(body, what)),
        24 => format!("{:?}", zammad::created(&r.zammad, body)),
        25 => format!("{:?}", zammad::search_page(&r.zammad, body, 50)),
        26 => format!("{:?}", zammad::ticket(&r.zammad, body, what)),
        27 => format!("{:?}", webhook::created(KEY, body)),
        28 => format!("{:?}", webhook::found(KEY, body)),
        29 => format!("{:?}", file::replay(body, KEY)),
        _ => format!("{:?}", refused(400, what, body)),
    }
}

/// A fixture under `tests/fixtures/desks/`.
macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/desks/", $path)) as &[u8]
    };
}

/// The answer body of a recorded RT exchange: what follows the last `<` line.
fn rt_body(text: &[u8]) -> &[u8] {
    text.windows(3)
        .rposition(|w| w == b"\n<\n")
        .map_or(text, |i| &text[i + 3..])
}

/// Every fixture under `tests/fixtures/desks/` (recorded for RT, reconstructed for the
/// others, see its README), as `(selector, body)` for [`read_any`]: the seed corpus of
/// the `desk_answers` fuzz target.
pub fn seeds() -> Vec<(u8, Vec<u8>)> {
    let rt = |n: u8, text: &[u8]| (n, rt_body(text).to_vec());
    let plain = |n: u8, body: &[u8]| (n, body.to_vec());
    let sn_create = fixture!("servicenow/create.json");
    let sn_state = fixture!("servicenow/read-state.json");
    let sn_back = fixture!("servicenow/read-back-resolved.json");
    let jira_status = fixture!("jira/issue-status.json");
    let jira_done = fixture!("jira/read-back-done.json");
    let rt_tickets: [&[u8]; 5] = [
        fixture!("rt5/08-read-ticket-new.txt"),
        fixture!("rt5/10-read-ticket-after-comment.txt"),
        fixture!("rt5/12-read-ticket-after-take.txt"),
        fixture!("rt5/14-read-ticket-open.txt"),
        fixture!("rt5/18-read-ticket-resolved.txt"),
    ];
    let mut out = vec![
        plain(0, sn_state),
        plain(0, sn_back),
        plain(1, sn_create),
        plain(1, sn_state),
        plain(2, sn_create),
        plain(3, fixture!("servicenow/find.json")),
        plain(3, fixture!("servicenow/find-none.json")),
        plain(4, sn_back),
        plain(4, sn_state),
        plain(5, fixture!("jira/create.json")),
        plain(6, fixture!("jira/comment.json")),
        plain(7, jira_status),
        plain(7, jira_done),
        plain(8, jira_done),
        plain(8, jira_status),
        plain(9, fixture!("jira/transitions.json")),
        plain(10, fixture!("jira/search-cloud.json")),
        plain(11, fixture!("jira/search-dc.json")),
        rt(12, fixture!("rt5/01-create-ticket.txt")),
        rt(12, fixture!("rt5/27-create-second-ticket.txt")),
    ];
    for t in rt_tickets {
        out.push(rt(13, t));
        out.push(rt(14, t));
    }
    for t in [
        fixture!("rt5/02-search-cf-quoted-open.txt"),
        fixture!("rt5/03-search-cf-unquoted.txt"),
        fixture!("rt5/04-search-cf-with-fields.txt"),
        fixture!("rt5/04b-search-customfield-long-form-quoted.txt"),
        fixture!("rt5/04c-search-cf-active.txt"),
        fixture!("rt5/05-search-cf-no-match.txt"),
        fixture!("rt5/19-search-cf-open-after-resolve.txt"),
        fixture!("rt5/19a-search-cf-active-after-resolve.txt"),
        fixture!("rt5/28-search-pagination-page1.txt"),
        fixture!("rt5/28a-search-pagination-page2.txt"),
    ] {
        out.push(rt(15, t));
    }
    for t in [
        fixture!("rt5/09-comment.txt"),
        fixture!("rt5/11-take.txt"),
        fixture!("rt5/13-set-status-open.txt"),
        fixture!("rt5/16-update-cf-and-priority.txt"),
        fixture!("rt5/17-resolve.txt"),
        fixture!("rt5/20-resolve-again.txt"),
    ] {
        out.push(rt(16, t));
    }
    out.extend([
        plain(17, fixture!("glpi/init-session.json")),
        plain(18, fixture!("glpi/create.json")),
        plain(19, fixture!("glpi/search.json")),
        plain(20, fixture!("glpi/ticket.json")),
        plain(21, fixture!("topdesk/create.json")),
        plain(22, fixture!("topdesk/search.json")),
        plain(23, fixture!("topdesk/incident.json")),
        plain(24, fixture!("zammad/create.json")),
        plain(25, fixture!("zammad/search.json")),
        plain(26, fixture!("zammad/ticket.json")),
        plain(27, fixture!("webhook/create.json")),
        plain(28, fixture!("webhook/search.json")),
        plain(29, fixture!("file/incidents.jsonl")),
    ]);
    for t in [
        fixture!("rt5/04a-search-customfield-long-form-unquoted.txt"),
        fixture!("rt5/06-search-cf-without-braces.txt"),
        fixture!("rt5/07-search-invalid-query.txt"),
        fixture!("rt5/21-unauthenticated.txt"),
        fixture!("rt5/22-bad-token.txt"),
        fixture!("rt5/24-create-invalid-queue.txt"),
        fixture!("rt5/25-create-queue-without-rights.txt"),
        fixture!("rt5/26-read-missing-ticket.txt"),
        fixture!("rt5/29-create-non-json.txt"),
    ] {
        out.push(rt(30, t));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        crate::utc_ms(s).unwrap()
    }

    fn rt(text: &[u8]) -> &[u8] {
        rt_body(text)
    }

    #[test]
    fn every_reader_has_a_seed_and_every_seed_reads() {
        let seeds = seeds();
        for n in 0..READERS {
            assert!(
                seeds.iter().any(|(s, _)| usize::from(*s) == n),
                "reader {n} has no seed"
            );
        }
        // Recorded and reconstructed answers are read without an error (the readers that
        // fail on a valid answer do so on purpose: none here).
        for (s, b) in &seeds {
            let out = read(usize::from(*s), b);
            assert!(!out.starts_with("Err"), "seed for reader {s}: {out}");
        }
    }

    #[test]
    fn servicenow_answers() {
        let r = servicenow::Reading::default();
        let t = servicenow::created(&r, fixture!("servicenow/create.json")).unwrap();
        assert_eq!(t.id, "9d385017c611228701d22104cc95c371");
        assert_eq!(t.number.as_deref(), Some("INC0010001"));
        assert_eq!(
            t.url.as_deref(),
            Some("https://servicenow.invalid/nav_to.do?uri=incident.do?sys_id=9d385017c611228701d22104cc95c371")
        );
        let f = servicenow::found(&r, fixture!("servicenow/find.json")).unwrap();
        assert_eq!(f, Some(t));
        assert_eq!(
            servicenow::found(&r, fixture!("servicenow/find-none.json")).unwrap(),
            None
        );
        let s = servicenow::record(fixture!("servicenow/read-state.json"), "x").unwrap();
        assert!(!r.is_done(&s));
        let s = servicenow::status(&r, fixture!("servicenow/read-back-resolved.json")).unwrap();
        assert_eq!(
            s,
            TicketStatus {
                state: "6".into(),
                responded: true,
                first_response_at_ms: None,
                resolved_at_ms: Some(ms("2026-11-22 09:15:30")),
                closed: true,
            }
        );
        let e = servicenow::updated(br#"{"result":{"state":"2"}}"#, "ServiceNow x").unwrap_err();
        assert_eq!(e.to_string(), "ServiceNow x: the answer has no sys_id");
        assert!(!e.is_permanent());
    }

    #[test]
    fn jira_answers() {
        let r = jira::Reading::default();
        let t = jira::created(&r, fixture!("jira/create.json")).unwrap();
        assert_eq!(
            (t.id.as_str(), t.number.as_deref()),
            ("10042", Some("OPS-7"))
        );
        assert_eq!(t.url.as_deref(), Some("https://jira.invalid/browse/OPS-7"));
        jira::comment(fixture!("jira/comment.json"), "x").unwrap();
        assert!(jira::comment(b"{}", "x").is_err());
        let i = jira::issue(fixture!("jira/issue-status.json"), "x").unwrap();
        assert_eq!(i.category(), "indeterminate");
        let s = jira::status(fixture!("jira/issue-status.json")).unwrap();
        assert!(s.responded && !s.closed && s.state == "In Progress");
        let s = jira::status(fixture!("jira/read-back-done.json")).unwrap();
        assert!(s.closed && s.responded);
        assert_eq!(s.resolved_at_ms, Some(ms("2026-11-22T09:15:30Z")));
        assert_eq!(
            jira::transitions(fixture!("jira/transitions.json"))
                .unwrap()
                .len(),
            2
        );
        // The done OPS-6 is passed over.
        assert_eq!(
            jira::cloud_page(&r, fixture!("jira/search-cloud.json"), KEY).unwrap(),
            Page::Found(t.clone())
        );
        assert_eq!(
            jira::cloud_page(&r, fixture!("jira/search-cloud.json"), "tilsyn-other").unwrap(),
            Page::More("CAEaAggD".to_string())
        );
        assert_eq!(
            jira::dc_page(&r, fixture!("jira/search-dc.json"), KEY, 0).unwrap(),
            Page::Found(t)
        );
        assert_eq!(
            jira::dc_page(&r, fixture!("jira/search-dc.json"), "tilsyn-other", 0).unwrap(),
            Page::End
        );
    }

    #[test]
    fn rt5_recorded_answers() {
        let r = rt5::Reading::default();
        assert_eq!(
            rt5::created(rt(fixture!("rt5/01-create-ticket.txt")), None).unwrap(),
            "1"
        );
        assert_eq!(
            rt5::created(b"{}", Some("/REST/2.0/ticket/7")).unwrap(),
            "7"
        );
        assert!(rt5::created(b"{}", None).is_err());
        // The same read-backs as rt5.rs's recorded_tickets_read_back.
        let st = |f: &[u8]| rt5::status(&r, rt(f), "x").unwrap();
        assert_eq!(
            st(fixture!("rt5/08-read-ticket-new.txt")),
            TicketStatus {
                state: "new".into(),
                ..Default::default()
            }
        );
        let s = st(fixture!("rt5/12-read-ticket-after-take.txt"));
        assert!(s.responded && !s.closed && s.first_response_at_ms.is_none());
        let s = st(fixture!("rt5/14-read-ticket-open.txt"));
        assert_eq!(s.state, "open");
        assert_eq!(s.first_response_at_ms, Some(ms("2026-11-22T11:38:58Z")));
        let s = st(fixture!("rt5/18-read-ticket-resolved.txt"));
        assert!(s.closed && s.responded);
        assert_eq!(s.resolved_at_ms, Some(ms("2026-11-22T11:38:59Z")));
        // Searches (the recorded key is abc123; RT matched ABC123 too).
        let page = |f: &[u8], key: &str| rt5::search_page(&r, rt(f), key, 1).unwrap();
        let with_fields = fixture!("rt5/04-search-cf-with-fields.txt");
        assert_eq!(page(with_fields, "abc123"), Page::Found(r.tref("1")));
        assert_eq!(page(with_fields, "ABC123"), Page::End);
        assert_eq!(
            page(fixture!("rt5/05-search-cf-no-match.txt"), "abc123"),
            Page::End
        );
        assert_eq!(
            page(fixture!("rt5/02-search-cf-quoted-open.txt"), "abc123"),
            Page::Found(r.tref("1"))
        );
        assert_eq!(
            rt5::messages(rt(fixture!("rt5/17-resolve.txt"))),
            vec!["Ticket 1: Status changed from 'open' to 'resolved'".to_string()]
        );
        assert!(rt5::messages(rt(fixture!("rt5/20-resolve-again.txt"))).is_empty());
        let e = refused(401, "RT read", rt(fixture!("rt5/21-unauthenticated.txt"))).unwrap();
        assert!(e.is_permanent());
        assert!(
            e.to_string().contains("\"message\": \"Unauthorized\""),
            "{e}"
        );
    }

    #[test]
    fn rt5_search_pages_past_a_case_insensitive_match() {
        let r = rt5::Reading::default();
        // Page 1 of 2 with per_page 1: a lookalike, then more.
        let p = br#"{"count":1,"items":[{"id":"1","CustomFields":[{"name":"Tilsyn-Key","values":["ABC"]}]}],"page":1,"pages":2,"per_page":1,"total":2}"#;
        assert_eq!(rt5::search_page(&r, p, "abc", 1).unwrap(), Page::More(()));
        // An id that is not a ticket number is an error, not a ref no action can use.
        let p = br#"{"items":[{"id":1.5e300}],"page":1,"pages":1,"per_page":20}"#;
        let e = rt5::search_page(&r, p, "abc", 1).unwrap_err();
        assert!(e.to_string().contains("no ticket id"), "{e}");
    }

    #[test]
    fn glpi_answers() {
        let r = glpi::Reading::default();
        assert_eq!(
            glpi::session(fixture!("glpi/init-session.json")).unwrap(),
            "83af7e620c83a50a18d3eac2f6ed05a3ca0bea62"
        );
        let t = glpi::created(&r, fixture!("glpi/create.json")).unwrap();
        assert_eq!(t.id, "15");
        let range = glpi::Range {
            start: 0,
            page_size: 50,
            ..Default::default()
        };
        assert_eq!(
            glpi::search_page(&r, fixture!("glpi/search.json"), KEY, range).unwrap(),
            Page::Found(t)
        );
        assert_eq!(
            glpi::search_page(&r, fixture!("glpi/search.json"), "tilsyn-9", range).unwrap(),
            Page::End
        );
        let more = glpi::Range {
            start: 0,
            page_size: 1,
            content_range: Some("0-0/2"),
            ..Default::default()
        };
        assert_eq!(
            glpi::search_page(&r, br#"{"data":[{"1":"x","2":3}]}"#, KEY, more).unwrap(),
            Page::More(1)
        );
        let s = glpi::ticket(&r, fixture!("glpi/ticket.json"), "x").unwrap();
        assert_eq!(
            s,
            TicketStatus {
                state: "solved".into(),
                responded: true,
                first_response_at_ms: Some(ms("2026-11-22 10:05:00")),
                resolved_at_ms: Some(ms("2026-11-22 10:15:30")),
                closed: true,
            }
        );
    }

    #[test]
    fn glpi_delay_too_large_for_a_date_is_no_date() {
        // Found by these tests: `date + delay * 1000` overflowed (a panic in debug builds,
        // a wrapped date in release) for a huge takeintoaccount_delay_stat.
        let r = glpi::Reading::default();
        for d in [i64::MAX, i64::MAX / 1000, 9_223_372_036_854_775] {
            let b = format!(
                r#"{{"status":2,"date":"2026-11-22 10:00:00","takeintoaccount_delay_stat":{d}}}"#
            );
            let s = glpi::ticket(&r, b.as_bytes(), "x").unwrap();
            assert_eq!(s.first_response_at_ms, None, "{d}");
        }
        let b = br#"{"status":2,"date":"2026-11-22 10:00:00","takeintoaccount_delay_stat":"300"}"#;
        assert_eq!(
            glpi::ticket(&r, b, "x").unwrap().first_response_at_ms,
            Some(ms("2026-11-22 10:05:00"))
        );
    }

    #[test]
    fn topdesk_answers() {
        let r = topdesk::Reading::default();
        let t = topdesk::created(&r, fixture!("topdesk/create.json")).unwrap();
        assert_eq!(t.id, "a1b2c3d4-1111-2222-3333-444455556666");
        assert_eq!(t.number.as_deref(), Some("I 2611 001"));
        // TOPdesk matched TILSYN-0123 case-insensitively: the exact one is taken.
        let p = topdesk::search_page(&r, fixture!("topdesk/search.json"), KEY, 206).unwrap();
        assert!(matches!(p, Page::Found(t) if t.id.starts_with("b2c3")));
        assert_eq!(
            topdesk::search_page(&r, fixture!("topdesk/search.json"), "x", 206).unwrap(),
            Page::More(())
        );
        assert_eq!(
            topdesk::search_page(&r, fixture!("topdesk/search.json"), "x", 200).unwrap(),
            Page::End
        );
        assert_eq!(topdesk::search_page(&r, b"", KEY, 204).unwrap(), Page::End);
        let s = topdesk::ticket(fixture!("topdesk/incident.json"), "x").unwrap();
        assert_eq!(
            s,
            TicketStatus {
                state: "Completed".into(),
                responded: true,
                first_response_at_ms: Some(ms("2026-11-22T10:05:00Z")),
                resolved_at_ms: Some(ms("2026-11-22T10:15:30Z")),
                closed: true,
            }
        );
    }

    #[test]
    fn zammad_answers() {
        let r = zammad::Reading::default();
        let t = zammad::created(&r, fixture!("zammad/create.json")).unwrap();
        assert_eq!((t.id.as_str(), t.number.as_deref()), ("42", Some("31042")));
        assert_eq!(
            zammad::search_page(&r, fixture!("zammad/search.json"), 50).unwrap(),
            Page::Found(t)
        );
        assert_eq!(
            zammad::search_page(&r, br#"[{"id":41,"state":"closed"}]"#, 1).unwrap(),
            Page::More(())
        );
        let s = zammad::ticket(&r, fixture!("zammad/ticket.json"), "x").unwrap();
        assert_eq!(
            s,
            TicketStatus {
                state: "closed".into(),
                responded: true,
                first_response_at_ms: Some(ms("2026-11-22T10:05:00Z")),
                resolved_at_ms: Some(ms("2026-11-22T10:15:30Z")),
                closed: true,
            }
        );
    }

    #[test]
    fn webhook_and_file_answers() {
        let t = webhook::created(KEY, fixture!("webhook/create.json")).unwrap();
        assert_eq!(t.id, format!("{KEY} R-17"));
        assert_eq!(t.number.as_deref(), Some("17"));
        assert_eq!(webhook::created(KEY, b" ").unwrap(), TicketRef::new(KEY));
        assert_eq!(webhook::created(KEY, b"null").unwrap(), TicketRef::new(KEY));
        assert!(webhook::created(KEY, b"[]").is_err());
        let f = webhook::found(KEY, fixture!("webhook/search.json"))
            .unwrap()
            .unwrap();
        assert_eq!(f.id, format!("{KEY} 17"));
        assert_eq!(webhook::found(KEY, b"{}").unwrap(), None);
        // Created, resolved, reopened, then a torn line.
        assert_eq!(
            file::replay(fixture!("file/incidents.jsonl"), KEY).as_deref(),
            Some("F-1795338900000-tilsyn-0123")
        );
        // A line torn inside a multi-byte character is skipped like any torn line.
        let mut b = fixture!("file/incidents.jsonl").to_vec();
        b.extend_from_slice(b"\n{\"event\":\"resolve\",\"text\":\"\xc3");
        assert!(file::replay(&b, KEY).is_some());
    }

    /// Bodies no desk should send.
    fn hostile() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = [
            "",
            " ",
            "null",
            "[]",
            "{}",
            "0",
            "-1",
            "\"\"",
            "true",
            "[null]",
            "[{}]",
            "[[]]",
            "1e999",
            "-1e999",
            "18446744073709551616",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "{\"a\":",
            "{\"a\":1}{\"b\":2}",
            "\u{feff}{}",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let deep = |open: &str, close: &str| {
            let mut s = open.repeat(10_000);
            s.push_str(&close.repeat(10_000));
            s.into_bytes()
        };
        v.push(deep("[", "]"));
        v.push(deep("{\"a\":", "}"));
        v.push(b"[".repeat(10_000));
        v.push(vec![0xff, 0xfe, b'{', 0x80]);
        v.push(b"{\"id\":\"\xff\xfe\"}".to_vec());
        v.push(b"<html><body>502 Bad Gateway</body></html>".to_vec());
        v.push(vec![b'x'; 1 << 20]);
        // Every field the readers look at, with each wrong type.
        let fields = [
            "result",
            "sys_id",
            "number",
            "state",
            "active",
            "assigned_to",
            "resolved_at",
            "closed_at",
            "id",
            "key",
            "fields",
            "status",
            "statusCategory",
            "issues",
            "nextPageToken",
            "isLast",
            "total",
            "transitions",
            "name",
            "to",
            "Status",
            "Owner",
            "Started",
            "Resolved",
            "LastUpdated",
            "CustomFields",
            "values",
            "items",
            "page",
            "pages",
            "per_page",
            "session_token",
            "totalcount",
            "data",
            "1",
            "2",
            "12",
            "date",
            "takeintoaccountdate",
            "takeintoaccount_delay_stat",
            "solvedate",
            "closedate",
            "externalNumber",
            "responded",
            "responseDate",
            "completed",
            "completedDate",
            "closed",
            "closedDate",
            "processingStatus",
            "state_id",
            "owner_id",
            "first_response_at",
            "close_at",
            "url",
            "event",
        ];
        let wrong = [
            "null",
            "true",
            "-1",
            "0",
            "1.5",
            "1e308",
            "18446744073709551615",
            "-9223372036854775808",
            "\"\"",
            "\"x\"",
            "\"9999-99-99 99:99:99\"",
            "\"0000-00-00 00:00:00\"",
            "\"-99999-01-01T00:00:00Z\"",
            "[]",
            "[1]",
            "{}",
            "{\"value\":1}",
            "{\"key\":[]}",
        ];
        for f in fields {
            for w in wrong {
                v.push(format!("{{\"{f}\":{w}}}").into_bytes());
                v.push(format!("{{\"result\":{{\"{f}\":{w}}}}}").into_bytes());
                v.push(format!("[{{\"{f}\":{w}}}]").into_bytes());
                v.push(format!("{{\"issues\":[{{\"fields\":{{\"{f}\":{w}}}}}]}}").into_bytes());
                v.push(format!("{{\"items\":[{{\"{f}\":{w}}}],\"pages\":{w}}}").into_bytes());
                v.push(format!("{{\"data\":[{{\"{f}\":{w}}}],\"totalcount\":{w}}}").into_bytes());
            }
        }
        v
    }

    #[test]
    fn hostile_bodies_are_errors_or_values_never_panics() {
        for b in hostile() {
            for n in 0..READERS {
                let r = std::panic::catch_unwind(|| read(n, &b));
                assert!(
                    r.is_ok(),
                    "reader {n} panicked on {:?}",
                    String::from_utf8_lossy(&b[..b.len().min(200)])
                );
            }
        }
        // Through the dispatch too, every selector.
        for s in 0..=u8::MAX {
            read_any(s, b"[[[[");
        }
    }

    #[test]
    fn unreadable_answers_say_what_was_wrong() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let e = jira::created(&jira::Reading::default(), deep.as_bytes()).unwrap_err();
        assert!(!e.is_permanent());
        assert!(e.to_string().contains("recursion limit exceeded"), "{e}");
        let e = servicenow::record(b"\xff\xfe", "ServiceNow read").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("ServiceNow read: unreadable answer"),
            "{e}"
        );
        let e = rt5::ticket(br#"{"Status": 5}"#, "RT read").unwrap_err();
        assert!(e.to_string().contains("invalid type: integer `5`"), "{e}");
        let e = topdesk::ticket(br#"{"completed": "yes"}"#, "TOPdesk read").unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
        assert!(refused(0, "x", b"").is_err());
    }
}
