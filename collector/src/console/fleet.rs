//! The fleet, the console's start page: hosts by department, class, OS and state, each
//! count a link to its list; a search by hostname, serial, IP, installed software and
//! version, or pending update; the list paginated and searched on the server.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Extension, Query, State};
use axum::response::Response;
use serde::Deserialize;
use tilsyn_collector_store::{HostFilter, HostSummary, SoftwareVersionCount};

use super::i18n::Tr;
use super::{html, query_string, store, Chrome, Console, Ctx, Pager};

const PER_PAGE: u64 = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetQuery {
    q: Option<String>,
    software: Option<String>,
    version: Option<String>,
    update: Option<String>,
    security: Option<String>,
    department: Option<String>,
    class: Option<String>,
    os: Option<String>,
    state: Option<String>,
    page: Option<u64>,
}

const PARAMS: &str = "q, software, version, update, security, department, class, os, state, page";

/// One row of a count table: its name, its link and its figures.
pub struct Group {
    pub name: String,
    pub link: String,
    pub hosts: i64,
    pub online: i64,
    pub offline: i64,
    pub new: i64,
    pub security: i64,
    pub reboot: i64,
}

#[derive(Template)]
#[template(path = "console/fleet.html")]
struct FleetPage<'a> {
    t: &'a Tr,
    c: Chrome,
    q: FleetQuery,
    departments: Vec<Group>,
    classes: Vec<Group>,
    oses: Vec<Group>,
    total: Group,
    /// (value, label) for the filters' choices.
    department_choices: Vec<(String, String)>,
    class_choices: Vec<String>,
    os_choices: Vec<String>,
    hosts: Vec<HostSummary>,
    names: BTreeMap<String, String>,
    pager: Pager,
    versions: Vec<SoftwareVersionCount>,
    searching: bool,
}

impl FleetPage<'_> {
    fn dept(&self, id: &str) -> String {
        self.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    fn v<'b>(&self, x: &'b Option<String>) -> &'b str {
        x.as_deref().unwrap_or("")
    }

    fn selected(&self, x: &Option<String>, v: &str) -> bool {
        x.as_deref() == Some(v)
    }

    fn state_word(&self, s: &str) -> String {
        self.t.t(&format!("state-{s}"))
    }

    fn version_link(&self, v: &SoftwareVersionCount) -> String {
        format!(
            "/?{}",
            query_string(&[
                ("software", Some(&v.name)),
                ("version", Some(&v.version)),
                ("department", self.q.department.as_deref()),
            ])
        )
    }
}

fn add(g: &mut Group, c: &tilsyn_collector_store::HostCount) {
    g.hosts += c.hosts;
    match c.state.as_str() {
        "online" => g.online += c.hosts,
        "offline" => g.offline += c.hosts,
        "new" => g.new += c.hosts,
        _ => {}
    }
    g.security += c.pending_security_updates;
    g.reboot += c.reboot_required;
}

fn group(name: String, link: String) -> Group {
    Group {
        name,
        link,
        hosts: 0,
        online: 0,
        offline: 0,
        new: 0,
        security: 0,
        reboot: 0,
    }
}

pub async fn page(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    q: Result<Query<FleetQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let tr = &ctx.tr;
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return super::bad_query(tr, e, PARAMS),
    };
    if let Some(s) = q.state.as_deref().filter(|s| !s.is_empty()) {
        if !["new", "online", "offline"].contains(&s) {
            return super::bad_query(tr, format!("state {s:?}"), "new, online, offline");
        }
    }
    let scope = ctx.caller.scope().map(<[String]>::to_vec);
    let nonempty = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let page_no = q.page.unwrap_or(0).min(100_000);
    let f = HostFilter {
        departments: scope.clone(),
        department: nonempty(&q.department),
        class: nonempty(&q.class),
        state: nonempty(&q.state),
        os_family: nonempty(&q.os),
        text: nonempty(&q.q),
        software: nonempty(&q.software),
        software_version: nonempty(&q.version),
        update: nonempty(&q.update),
        security_only: q.security.is_some(),
        limit: PER_PAGE as u32,
        offset: (page_no * PER_PAGE) as u32,
        ..HostFilter::default()
    };
    let searching = f.text.is_some()
        || f.software.is_some()
        || f.update.is_some()
        || f.security_only
        || f.department.is_some()
        || f.class.is_some()
        || f.state.is_some()
        || f.os_family.is_some();
    let sw = f.software.clone();
    let sw_scope = scope.clone();
    let (mut counts, hosts, total, versions) = match store(&c, tr, "console_fleet", move |st| {
        let counts = st.host_counts()?;
        let hosts = st.list_hosts(&f)?;
        let total = st.count_hosts(&f)?;
        let versions = match &sw {
            Some(name) => st.software_versions(name, sw_scope.as_deref(), 200)?,
            None => vec![],
        };
        Ok((counts, hosts, total, versions))
    })
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    counts.retain(|g| ctx.caller.sees(&g.department) && g.state != "retired");

    let names: BTreeMap<String, String> = c.departments.iter().cloned().collect();
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let mut by_dept: BTreeMap<String, Group> = BTreeMap::new();
    let mut by_class: BTreeMap<String, Group> = BTreeMap::new();
    let mut by_os: BTreeMap<String, Group> = BTreeMap::new();
    let mut total_g = group(tr.t("fleet-all"), "/?page=0".into());
    for g in &counts {
        let link = |k: &str, v: &str| format!("/?{}", query_string(&[(k, Some(v))]));
        add(
            by_dept
                .entry(g.department.clone())
                .or_insert_with(|| group(name(&g.department), link("department", &g.department))),
            g,
        );
        add(
            by_class
                .entry(g.class.clone())
                .or_insert_with(|| group(g.class.clone(), link("class", &g.class))),
            g,
        );
        add(
            by_os
                .entry(g.os_family.clone())
                .or_insert_with(|| group(g.os_family.clone(), link("os", &g.os_family))),
            g,
        );
        add(&mut total_g, g);
    }
    let base = query_string(&[
        ("q", q.q.as_deref()),
        ("software", q.software.as_deref()),
        ("version", q.version.as_deref()),
        ("update", q.update.as_deref()),
        ("security", q.security.as_deref()),
        ("department", q.department.as_deref()),
        ("class", q.class.as_deref()),
        ("os", q.os.as_deref()),
        ("state", q.state.as_deref()),
    ]);
    let pager = Pager::new("/", &base, page_no, PER_PAGE, hosts.len() as u64, total);
    let department_choices = c.department_choices(&ctx.caller);
    let class_choices = by_class.keys().cloned().collect();
    let os_choices = by_os.keys().cloned().collect();
    html(FleetPage {
        t: tr,
        c: Chrome::new(&ctx, "fleet"),
        q,
        departments: by_dept.into_values().collect(),
        classes: by_class.into_values().collect(),
        oses: by_os.into_values().collect(),
        total: total_g,
        department_choices,
        class_choices,
        os_choices,
        hosts,
        names,
        pager,
        versions,
        searching,
    })
}
