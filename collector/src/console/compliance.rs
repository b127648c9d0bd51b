//! Compliance: per standard and department the hosts' standing, the rules by failing
//! hosts, a rule's rationale and remedy with the hosts that fail it, and the waivers with
//! their expiry.

use askama::Template;
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use tilsyn_collector_core::compliance::report::{
    DepartmentView, Finding, FindingFilter, RuleRate, StandardView, WaiverView,
};

use super::host::serde_plain;
use super::i18n::Tr;
use super::{html, not_found, query_string, Chrome, Console, Ctx, Pager};

const PER_PAGE: u64 = 100;

fn standards_for(c: &Console, ctx: &Ctx, department: Option<&str>) -> Vec<StandardView> {
    match (ctx.caller.scope(), department) {
        (_, Some(d)) if ctx.caller.sees(d) => c.compliance.standards_in(&[d.to_string()]),
        (None, _) => c.compliance.standards(),
        (Some(mine), _) => c.compliance.standards_in(mine),
    }
}

fn words(t: &Tr, prefix: &str, v: &str) -> String {
    t.t(&format!("{prefix}-{v}"))
}

#[derive(Template)]
#[template(path = "console/compliance.html")]
struct Overview<'a> {
    t: &'a Tr,
    c: Chrome,
    standards: Vec<StandardView>,
    departments: Vec<(String, DepartmentView)>,
    waivers: Vec<WaiverView>,
}

impl Overview<'_> {
    fn waiver_state(&self, w: &WaiverView) -> String {
        words(self.t, "waiver", w.state.as_str())
    }
    fn rate(&self, s: &StandardView) -> String {
        let all = s.hosts.compliant + s.hosts.noncompliant + s.hosts.unknown;
        self.t
            .pct((all > 0).then(|| s.hosts.compliant as f64 / all as f64), 1)
    }
}

pub async fn overview(State(c): State<Console>, Extension(ctx): Extension<Ctx>) -> Response {
    let standards = standards_for(&c, &ctx, None);
    let mut departments: Vec<(String, DepartmentView)> = c
        .compliance
        .departments()
        .into_iter()
        .filter(|d| ctx.caller.sees(&d.department))
        .map(|d| (c.department_name(&d.department), d))
        .collect();
    departments.sort_by(|a, b| a.0.cmp(&b.0));
    let mut waivers = c.compliance.waivers();
    if ctx.caller.scope().is_some() {
        waivers.retain(|v| {
            v.waiver
                .department
                .as_deref()
                .is_some_and(|d| ctx.caller.sees(d))
        });
    }
    waivers.sort_by_key(|w| w.waiver.expires_at_ms);
    html(Overview {
        t: &ctx.tr,
        c: Chrome::new(&ctx, "compliance"),
        standards,
        departments,
        waivers,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeptQuery {
    department: Option<String>,
}

#[derive(Template)]
#[template(path = "console/standard.html")]
struct StandardPage<'a> {
    t: &'a Tr,
    c: Chrome,
    s: StandardView,
    rules: Vec<RuleRate>,
    department: Option<String>,
    department_name: String,
    choices: Vec<(String, String)>,
}

impl StandardPage<'_> {
    fn severity(&self, r: &RuleRate) -> String {
        words(self.t, "severity", &serde_plain(&r.severity))
    }
    fn rule_link(&self, r: &RuleRate) -> String {
        let q = query_string(&[("department", self.department.as_deref())]);
        format!(
            "/compliance/{}/{}{}{q}",
            super::urlencode(&self.s.standard),
            super::urlencode(&r.rule),
            if q.is_empty() { "" } else { "?" }
        )
    }
    fn selected(&self, id: &str) -> bool {
        self.department.as_deref() == Some(id)
    }
}

pub async fn standard(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    q: Result<Query<DeptQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let tr = &ctx.tr;
    let Ok(Query(q)) = q else {
        return super::bad_query(tr, "unknown parameter", "department");
    };
    let department = q.department.filter(|d| !d.is_empty() && ctx.caller.sees(d));
    let Some(mut s) = standards_for(&c, &ctx, department.as_deref())
        .into_iter()
        .find(|s| s.standard == id)
    else {
        return not_found(tr, &id);
    };
    let mut rules = std::mem::take(&mut s.rules);
    // The rules most hosts fail first.
    rules.sort_by(|a, b| b.fail.cmp(&a.fail).then(b.unknown.cmp(&a.unknown)));
    let choices = c.department_choices(&ctx.caller);
    let department_name = department
        .as_deref()
        .map(|d| c.department_name(d))
        .unwrap_or_default();
    html(StandardPage {
        t: tr,
        c: Chrome::new(&ctx, "compliance"),
        s,
        rules,
        department,
        department_name,
        choices,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleQuery {
    department: Option<String>,
    state: Option<String>,
    page: Option<u64>,
}

#[derive(Template)]
#[template(path = "console/rule.html")]
struct RulePage<'a> {
    t: &'a Tr,
    c: Chrome,
    standard: String,
    standard_title: String,
    rule: String,
    title: String,
    severity: String,
    rationale: String,
    remediation: String,
    references: Vec<String>,
    state: String,
    findings: Vec<(Finding, String)>,
    pager: Pager,
    tabs: Vec<(String, String, bool)>,
}

impl RulePage<'_> {
    fn word(&self, prefix: &str, v: &str) -> String {
        words(self.t, prefix, v)
    }
}

pub async fn rule(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path((standard, rule)): Path<(String, String)>,
    q: Result<Query<RuleQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let tr = &ctx.tr;
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return super::bad_query(tr, e, "department, state, page"),
    };
    let state = q.state.clone().unwrap_or_else(|| "fail".into());
    if !["fail", "unknown", "waived"].contains(&state.as_str()) {
        return super::bad_query(tr, format!("state {state:?}"), "fail, unknown, waived");
    }
    let set = c.compliance.file_set();
    let Some(std_def) = set.standards.iter().find(|s| s.id == standard) else {
        return not_found(tr, &standard);
    };
    let Some(def) = std_def.rules.iter().find(|r| r.id == rule) else {
        return not_found(tr, &format!("{standard}/{rule}"));
    };
    let department = q
        .department
        .clone()
        .filter(|d| !d.is_empty() && ctx.caller.sees(d));
    let filter = FindingFilter {
        state: Some(state.clone()),
        department: department.clone(),
        standard: Some(standard.clone()),
        ..FindingFilter::default()
    };
    let comp = c.compliance.clone();
    let mut findings = tokio::task::spawn_blocking(move || comp.findings(&filter))
        .await
        .unwrap_or_default();
    findings.retain(|f| f.rule == rule && ctx.caller.sees(&f.department));
    findings.sort_by(|a, b| a.hostname.cmp(&b.hostname));
    let total = findings.len() as u64;
    let page = q.page.unwrap_or(0);
    let shown: Vec<(Finding, String)> = findings
        .into_iter()
        .skip((page * PER_PAGE) as usize)
        .take(PER_PAGE as usize)
        .map(|f| {
            let d = c.department_name(&f.department);
            (f, d)
        })
        .collect();
    let path = format!(
        "/compliance/{}/{}",
        super::urlencode(&standard),
        super::urlencode(&rule)
    );
    let base = query_string(&[
        ("department", department.as_deref()),
        ("state", Some(state.as_str())),
    ]);
    let pager = Pager::new(&path, &base, page, PER_PAGE, shown.len() as u64, total);
    let tabs = ["fail", "unknown", "waived"]
        .iter()
        .map(|s| {
            (
                s.to_string(),
                format!(
                    "{path}?{}",
                    query_string(&[("department", department.as_deref()), ("state", Some(s))])
                ),
                *s == state,
            )
        })
        .collect();
    html(RulePage {
        t: tr,
        c: Chrome::new(&ctx, "compliance"),
        standard: standard.clone(),
        standard_title: std_def.title.clone(),
        rule: rule.clone(),
        title: def.title.clone(),
        severity: serde_plain(&def.severity),
        rationale: def.rationale.clone(),
        remediation: def.remediation.clone(),
        references: def.references.clone(),
        state,
        findings: shown,
        pager,
        tabs,
    })
}
