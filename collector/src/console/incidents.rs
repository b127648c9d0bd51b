//! Incidents and problems: the open ones and the recent, with priority, state and the desk
//! ticket; a problem with the hosts behind it; maintenance windows now and in the next
//! seven days.

use askama::Template;
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use tilsyn_collector_core::incidents::records::{IncidentFilter, IncidentRow, ProblemRow};

use super::i18n::Tr;
use super::{
    html, not_found, query_string, store, ticket_link, ticket_text, Chrome, Console, Ctx,
    IncidentRows, Pager,
};

const PER_PAGE: u64 = 50;
const DAY: i64 = 86_400_000;

/// A window occurrence for people.
pub struct Occurrence {
    pub id: String,
    pub title: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub now: bool,
}

#[derive(Template)]
#[template(path = "console/incidents.html")]
struct IncidentsPage<'a> {
    t: &'a Tr,
    c: Chrome,
    state: String,
    list: Vec<IncidentRow>,
    pager: Pager,
    problems: Vec<ProblemRow>,
    windows: Vec<Occurrence>,
    tabs: Vec<(String, String, bool)>,
}

impl IncidentRows for IncidentsPage<'_> {
    fn tr(&self) -> &Tr {
        self.t
    }
}

impl IncidentsPage<'_> {
    fn problem_link(&self, p: &ProblemRow) -> Option<String> {
        ticket_link(&p.desk_side)
    }
    fn problem_ticket(&self, p: &ProblemRow) -> String {
        ticket_text(self.t, &p.desk_side)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentQuery {
    state: Option<String>,
    page: Option<u64>,
}

pub async fn page(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    q: Result<Query<IncidentQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let tr = &ctx.tr;
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return super::bad_query(tr, e, "state, page"),
    };
    let state = q.state.unwrap_or_else(|| "open".into());
    if !["open", "resolved", "suppressed", "all"].contains(&state.as_str()) {
        return super::bad_query(
            tr,
            format!("state {state:?}"),
            "open, resolved, suppressed, all",
        );
    }
    let page = q.page.unwrap_or(0).min(10_000);
    let now = (c.clock)();
    let scope = ctx.caller.scope().map(<[String]>::to_vec);
    let f = IncidentFilter {
        state: (state != "all").then(|| state.clone()),
        limit: Some((PER_PAGE + 1) as u32),
        offset: Some((page * PER_PAGE) as u32),
        departments: scope.clone(),
        ..IncidentFilter::default()
    };
    let (mut list, problems, changes) = match store(&c, tr, "console_incidents", move |st| {
        let list = st.list_incidents(&f)?;
        let problems = if scope.is_none() {
            st.list_problems(None, 50)?
        } else {
            vec![]
        };
        let changes = st.change_windows(now)?;
        Ok((list, problems, changes))
    })
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    // One more than a page was asked for: whether there is a next page.
    let more = list.len() as u64 > PER_PAGE;
    list.truncate(PER_PAGE as usize);
    let shown = list.len() as u64;
    let total = page * PER_PAGE + shown + u64::from(more);
    let base = query_string(&[("state", Some(state.as_str()))]);
    let pager = Pager::new("/incidents", &base, page, PER_PAGE, shown, total);

    let windows = c.incidents.windows();
    let mine = ctx.caller.scope();
    let visible = |id: &str| {
        let Some(mine) = mine else { return true };
        windows.get(id).is_some_and(|w| {
            !w.scope.names_hosts()
                && w.scope.departments().is_none_or(|ds| {
                    ds.iter()
                        .any(|d| mine.iter().any(|m| m.eq_ignore_ascii_case(d)))
                })
        })
    };
    let mut occ: Vec<Occurrence> = windows
        .occurrences(now - DAY, now + 7 * DAY)
        .into_iter()
        .filter(|(id, _, end)| visible(id) && *end > now)
        .map(|(id, start, end)| {
            let title = windows
                .get(&id)
                .map(|w| w.title.clone())
                .or_else(|| changes.iter().find(|c| c.id == id).map(|c| c.title.clone()))
                .unwrap_or_default();
            Occurrence {
                now: start <= now && now < end,
                id,
                title,
                start_ms: start,
                end_ms: end,
            }
        })
        .collect();
    occ.sort_by_key(|o| o.start_ms);
    occ.truncate(50);
    let tabs = ["open", "resolved", "suppressed", "all"]
        .iter()
        .map(|s| (s.to_string(), format!("/incidents?state={s}"), *s == state))
        .collect();
    html(IncidentsPage {
        t: tr,
        c: Chrome::new(&ctx, "incidents"),
        state,
        list,
        pager,
        problems,
        windows: occ,
        tabs,
    })
}

#[derive(Template)]
#[template(path = "console/problem.html")]
struct ProblemPage<'a> {
    t: &'a Tr,
    c: Chrome,
    p: ProblemRow,
    list: Vec<IncidentRow>,
}

impl IncidentRows for ProblemPage<'_> {
    fn tr(&self) -> &Tr {
        self.t
    }
}

impl ProblemPage<'_> {
    fn problem_link(&self) -> Option<String> {
        ticket_link(&self.p.desk_side)
    }
    fn problem_ticket(&self) -> String {
        ticket_text(self.t, &self.p.desk_side)
    }
}

/// A problem with the incidents (hosts) behind it. Problems span departments, so a
/// department reader does not see them.
pub async fn problem(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let tr = &ctx.tr;
    let Ok(pid) = id.parse::<i64>() else {
        return not_found(tr, &id);
    };
    if ctx.caller.scope().is_some() {
        return not_found(tr, &id);
    }
    let found = store(&c, tr, "console_problem", move |st| {
        let p = st
            .list_problems(None, 10_000)?
            .into_iter()
            .find(|p| p.id == pid);
        let list = st.list_incidents(&IncidentFilter {
            problem_id: Some(pid),
            limit: Some(1000),
            ..IncidentFilter::default()
        })?;
        Ok((p, list))
    })
    .await;
    match found {
        Ok((Some(p), list)) => html(ProblemPage {
            t: tr,
            c: Chrome::new(&ctx, "incidents"),
            p,
            list,
        }),
        Ok((None, _)) => not_found(tr, &id),
        Err(r) => r,
    }
}
