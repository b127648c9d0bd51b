//! The SLA: per department the month so far and past months (a link to each neighbour),
//! availability per service with outages, attainment per priority with breaches; the
//! month's report downloadable as one HTML file in any language.

use askama::Template;
use axum::extract::{Extension, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tilsyn_collector_core::sla::report::{Period, SlaReport};

use super::i18n::{self, Tr};
use super::report::ReportView;
use super::{html, not_found, query_string, Chrome, Console, Ctx};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaQuery {
    month: Option<String>,
    department: Option<String>,
    lang: Option<String>,
}

const PARAMS: &str = "month (YYYY-MM), department, lang";

/// The month before or after `label` (`YYYY-MM`).
fn neighbour(label: &str, step: i32) -> Option<String> {
    let (y, m) = label.split_once('-')?;
    let (y, m): (i32, i32) = (y.parse().ok()?, m.parse().ok()?);
    let i = y * 12 + (m - 1) + step;
    Some(format!(
        "{:04}-{:02}",
        i.div_euclid(12),
        i.rem_euclid(12) + 1
    ))
}

/// The report the caller may see, or the page saying why not.
async fn report_for(c: &Console, ctx: &Ctx, q: &SlaQuery) -> Result<(SlaReport, Period), Response> {
    let tr = &ctx.tr;
    let Some(sla) = c.sla.clone() else {
        return Err(super::page_error(
            tr,
            axum::http::StatusCode::NOT_FOUND,
            "error-no-sla",
        ));
    };
    let now = sla.now_ms();
    let policy = sla.policy();
    let month = q.month.as_deref().filter(|m| !m.is_empty());
    let period = Period::chosen(month, None, &policy.time_zone, now)
        .map_err(|e| super::bad_query(tr, e, PARAMS))?;
    let department = q.department.clone().filter(|d| !d.is_empty());
    if let Some(d) = &department {
        if !ctx.caller.sees(d) || policy.check_department(d).is_err() {
            return Err(not_found(tr, d));
        }
    }
    let p = period.clone();
    let built = tokio::task::spawn_blocking(move || {
        crate::services::sla::report(
            &**sla.store(),
            &sla.catalogue(),
            &p,
            department.as_deref(),
            now,
        )
    })
    .await;
    let mut r = match built {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(super::unavailable(tr, e)),
        Err(e) => return Err(super::unavailable(tr, e)),
    };
    r.departments.retain(|d| ctx.caller.sees(&d.id));
    Ok((r, period))
}

#[derive(Template)]
#[template(path = "console/sla.html")]
struct SlaPage<'a> {
    t: &'a Tr,
    c: Chrome,
    r: ReportView,
    month: String,
    prev_link: String,
    prev_name: String,
    next: Option<(String, String)>,
    department: Option<String>,
    choices: Vec<(String, String)>,
    downloads: Vec<(String, String, String)>,
}

impl SlaPage<'_> {
    fn selected(&self, id: &str) -> bool {
        self.department.as_deref() == Some(id)
    }
}

pub async fn page(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    q: Result<Query<SlaQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let tr = &ctx.tr;
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return super::bad_query(tr, e, PARAMS),
    };
    let (r, period) = match report_for(&c, &ctx, &q).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let month = period.label.clone();
    let dept = q.department.as_deref().filter(|d| !d.is_empty());
    let link = |m: &str| {
        format!(
            "/sla?{}",
            query_string(&[("month", Some(m)), ("department", dept)])
        )
    };
    let prev = neighbour(&month, -1).unwrap_or_else(|| month.clone());
    // No link into months that have not begun.
    let this_month = Period::month_of(r.generated_at_ms, &tr.tz).label;
    let next = neighbour(&month, 1)
        .filter(|n| n.as_str() <= this_month.as_str())
        .map(|n| (link(&n), tr.month(&n)));
    let downloads = i18n::languages()
        .into_iter()
        .map(|l| {
            (
                l.to_string(),
                Tr::new(l, tr.tz.clone()).t("language-name"),
                format!(
                    "/sla/report?{}",
                    query_string(&[
                        ("month", Some(&month)),
                        ("department", dept),
                        ("lang", Some(l))
                    ])
                ),
            )
        })
        .collect();
    let choices = c.department_choices(&ctx.caller);
    html(SlaPage {
        t: tr,
        c: Chrome::new(&ctx, "sla"),
        r: ReportView::new(tr, &r),
        prev_link: link(&prev),
        prev_name: tr.month(&prev),
        next,
        month,
        department: dept.map(str::to_string),
        choices,
        downloads,
    })
}

/// The month's report as a file (`lang`: its language, else the page's).
pub async fn download(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    q: Result<Query<SlaQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return super::bad_query(&ctx.tr, e, PARAMS),
    };
    let (r, period) = match report_for(&c, &ctx, &q).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let lang = q
        .lang
        .as_deref()
        .and_then(i18n::known)
        .unwrap_or(ctx.tr.lang());
    let tr = Tr::new(lang, ctx.tr.tz.clone());
    let body = super::report::html(&tr, &r);
    let name = format!(
        "sla-{}{}-{lang}.html",
        period.label,
        q.department
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(|d| format!(
                "-{}",
                d.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_")
            ))
            .unwrap_or_default()
    );
    let mut resp = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    // The file carries its own style inline and no script at all.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_step_across_years() {
        assert_eq!(neighbour("2026-01", -1).as_deref(), Some("2025-12"));
        assert_eq!(neighbour("2026-12", 1).as_deref(), Some("2027-01"));
        assert_eq!(neighbour("2026-06", 1).as_deref(), Some("2026-07"));
        assert_eq!(neighbour("nope", 1), None);
    }
}
