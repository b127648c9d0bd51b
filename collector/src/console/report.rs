//! The SLA report for people in HTML, in any console language: the console's SLA page
//! and `tilsyn-collector report sla --format html --lang da|en` render the same template
//! (`templates/console/sla_body.html`) from the same [`ReportView`], so they say the same
//! thing in the same words. The download is one self-contained, printable file (its style
//! inline, charts as inline SVG, no script, nothing fetched).
//!
//! Figures follow the report's conventions (`tilsyn_collector_core::sla::render`): shares
//! truncated, not rounded; targets exact; "no data" never 0 % or 100 %; a running period
//! says "so far".

use askama::Template;
use tilsyn_collector_core::sla::report::{
    Breach, DepartmentReport, PriorityAttainment, ServiceAvailability, SlaReport,
};

use super::charts::{bar_chart, Bar, Judged};
use super::i18n::Tr;
use super::safe_url;

/// A verdict for people: its word and its style class.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub word: String,
    pub class: &'static str,
}

fn verdict(t: &Tr, met: Option<bool>, pending: bool) -> Verdict {
    let (id, class) = match met {
        Some(true) => ("verdict-met", "met"),
        Some(false) => ("verdict-missed", "missed"),
        None if pending => ("verdict-pending", "pending"),
        None => ("no-data", "nodata"),
    };
    Verdict {
        word: t.t(id),
        class,
    }
}

pub struct OverviewRow {
    pub anchor: String,
    pub name: String,
    pub id: String,
    pub tier: String,
    pub services: String,
    pub response: Verdict,
    pub resolution: Verdict,
    pub breaches: usize,
}

pub struct ServiceRow {
    pub name: String,
    pub hosts: usize,
    pub target: String,
    pub availability: String,
    pub down: String,
    pub planned: String,
    pub unmonitored: String,
    pub verdict: Verdict,
}

pub struct AttainmentRow {
    pub kind: String,
    pub priority: String,
    pub target: String,
    pub met: u32,
    pub breached: u32,
    pub pending: u32,
    pub attainment: String,
    pub verdict: Verdict,
}

pub struct BreachRow {
    pub incident: i64,
    pub host: String,
    pub check: String,
    pub priority: String,
    pub kind: String,
    pub target: String,
    pub elapsed: String,
    pub opened: String,
    pub breached_at: String,
    pub ticket: String,
    pub ticket_url: Option<String>,
}

pub struct OutageRow {
    pub start: String,
    pub end: String,
    pub down: String,
    pub incidents: String,
}

pub struct ComplianceRow {
    pub measure: String,
    pub share: String,
    pub hosts: String,
    pub as_of: String,
}

pub struct DepartmentView {
    pub anchor: String,
    pub name: String,
    pub id: String,
    pub tier: String,
    pub summary: String,
    pub services: Vec<ServiceRow>,
    pub unmonitored: bool,
    pub availability_chart: String,
    pub availability_caption: String,
    pub attainment: Vec<AttainmentRow>,
    pub attainment_chart: String,
    pub attainment_caption: String,
    pub breaches: Vec<BreachRow>,
    /// (service name, its outages) for services with some.
    pub outages: Vec<(String, Vec<OutageRow>)>,
    pub compliance: Vec<ComplianceRow>,
}

/// Everything the report shows, in one language.
pub struct ReportView {
    pub title: String,
    pub month: String,
    pub meta: Vec<(String, String)>,
    pub incomplete: Option<String>,
    pub overview: Vec<OverviewRow>,
    pub departments: Vec<DepartmentView>,
}

/// A fragment id for the `i`th department: unique and plain whatever the id holds .
fn anchor(i: usize, id: &str) -> String {
    let clean: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("dept-{}-{clean}", i + 1)
}

fn tz_name(t: &Tr, at_ms: i64) -> String {
    match t.tz.iana_name() {
        Some(n) => n.to_string(),
        None => {
            let at =
                jiff::Timestamp::from_millisecond(at_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            format!("UTC{}", t.tz.to_offset(at))
        }
    }
}

fn attainment_verdict(rows: &[PriorityAttainment]) -> (Option<bool>, bool) {
    let judged = rows.iter().filter(|p| p.achieved.is_some()).count();
    let pending = rows.iter().any(|p| p.pending > 0);
    if judged == 0 {
        (None, pending)
    } else {
        (
            Some(rows.iter().all(|p| p.achieved != Some(false))),
            pending,
        )
    }
}

/// "met (target 90.0 %)", "missed (target 90.0 %) for P2, P3", "no data" …
fn attainment_phrase(t: &Tr, rows: &[PriorityAttainment], target: f64) -> String {
    if rows.is_empty() {
        return t.t("sla-no-targets");
    }
    let tgt = t.pct_target(target, 1);
    let pending: u32 = rows.iter().map(|p| p.pending).sum();
    let missed: Vec<&str> = rows
        .iter()
        .filter(|p| p.achieved == Some(false))
        .map(|p| p.priority.as_str())
        .collect();
    let (met, _) = attainment_verdict(rows);
    let pending_note = if pending > 0 {
        t.n("sla-pending-note", pending as i64)
    } else {
        String::new()
    };
    match met {
        None => t.a1("sla-attainment-none", "pending", pending_note),
        Some(true) => t.a2("sla-attainment-met", "target", tgt, "pending", pending_note),
        Some(false) => t.a3(
            "sla-attainment-missed",
            "target",
            tgt,
            "priorities",
            missed.join(", "),
            "pending",
            pending_note,
        ),
    }
}

fn summary(t: &Tr, d: &DepartmentReport, complete: bool) -> String {
    let services = if d.services.is_empty() {
        t.t("sla-no-services-phrase")
    } else {
        let n = |want: Option<bool>| d.services.iter().filter(|s| s.met == want).count() as i64;
        let mut s = t.ta(
            "sla-services-met",
            &[
                ("met", super::i18n::Arg::N(n(Some(true)) as f64)),
                ("n", super::i18n::Arg::N(d.services.len() as f64)),
            ],
        );
        if n(Some(false)) > 0 {
            s.push_str(&t.n("sla-services-missed", n(Some(false))));
        }
        if n(None) > 0 {
            s.push_str(&t.n("sla-services-no-data", n(None)));
        }
        s
    };
    // A sentence of its own when complete: its first letter capitalised.
    let services = if complete {
        let mut c = services.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    } else {
        services
    };
    let id = if complete {
        "sla-summary"
    } else {
        "sla-summary-so-far"
    };
    t.ta(
        id,
        &[
            ("services", services.into()),
            (
                "response",
                attainment_phrase(t, &d.response, d.attainment_target).into(),
            ),
            (
                "resolution",
                attainment_phrase(t, &d.resolution, d.attainment_target).into(),
            ),
            ("breaches", super::i18n::Arg::N(d.breaches.len() as f64)),
        ],
    )
}

/// Axis bottom for availability: 90 %, or lower to show the lowest value or target.
fn availability_axis(services: &[ServiceAvailability]) -> (f64, f64) {
    let mut lo: f64 = 90.0;
    for s in services {
        if let Some(a) = s.availability.filter(|a| a.is_finite()) {
            lo = lo.min(a * 100.0);
        }
        if s.target.is_finite() {
            lo = lo.min(s.target * 100.0);
        }
    }
    let lo = lo.floor().clamp(0.0, 90.0);
    let span = 100.0 - lo;
    let step = [2.0, 5.0, 10.0, 20.0, 25.0]
        .into_iter()
        .find(|s| span / s <= 6.0)
        .unwrap_or(25.0);
    (lo, step)
}

fn judged(met: Option<bool>) -> Judged {
    match met {
        Some(true) => Judged::Met,
        Some(false) => Judged::Missed,
        None => Judged::Neutral,
    }
}

fn availability_chart(t: &Tr, d: &DepartmentReport) -> (String, f64) {
    let (lo, step) = availability_axis(&d.services);
    let bars: Vec<Bar> = d
        .services
        .iter()
        .map(|s| {
            let v = verdict(t, s.met, false);
            Bar {
                label: s.name.clone(),
                value: s.availability.map(|a| a * 100.0),
                target: Some(s.target * 100.0),
                judged: judged(s.met),
                value_text: match s.availability {
                    Some(a) => format!("{} {}", t.pct(Some(a), 3), v.word),
                    None => t.t("no-data"),
                },
                title: t.a3(
                    "sla-bar-title",
                    "name",
                    &s.name,
                    "value",
                    t.pct(s.availability, 3),
                    "target",
                    t.pct_target(s.target, 3),
                ),
                no_data_text: t.t("no-data"),
            }
        })
        .collect();
    let svg = bar_chart(
        t,
        &bars,
        lo,
        step,
        None,
        &t.a1("sla-availability-chart", "department", &d.name),
    );
    (svg, lo)
}

fn kinds(t: &Tr, d: &DepartmentReport) -> [(String, Vec<PriorityAttainment>); 2] {
    [
        (t.t("sla-kind-response"), d.response.clone()),
        (t.t("sla-kind-resolution"), d.resolution.clone()),
    ]
}

fn attainment_chart(t: &Tr, d: &DepartmentReport) -> String {
    let mut bars = Vec::new();
    for (kind, list) in kinds(t, d) {
        for p in &list {
            let v = verdict(t, p.achieved, p.pending > 0);
            let no_data_text = if p.pending > 0 {
                format!(
                    "{}{}",
                    t.t("no-data"),
                    t.n("sla-pending-note", p.pending as i64)
                )
            } else {
                t.t("no-data")
            };
            bars.push(Bar {
                label: format!("{kind} {}", p.priority),
                value: p.attainment.map(|a| a * 100.0),
                target: None,
                judged: judged(p.achieved),
                value_text: match p.attainment {
                    Some(a) => t.a3(
                        "sla-attainment-bar",
                        "value",
                        format!("{} {}", t.pct(Some(a), 1), v.word),
                        "met",
                        t.int(p.met as i64),
                        "judged",
                        t.int((p.met + p.breached) as i64),
                    ),
                    None => no_data_text.clone(),
                },
                title: format!(
                    "{kind} {}: {}",
                    p.priority,
                    t.a3(
                        "sla-attainment-title",
                        "met",
                        p.met.to_string(),
                        "breached",
                        p.breached.to_string(),
                        "pending",
                        p.pending.to_string()
                    )
                ),
                no_data_text,
            });
        }
    }
    bar_chart(
        t,
        &bars,
        0.0,
        20.0,
        Some((
            d.attainment_target * 100.0,
            t.a1(
                "sla-target-line",
                "target",
                t.pct_target(d.attainment_target, 1),
            ),
        )),
        &t.a1("sla-attainment-chart", "department", &d.name),
    )
}

fn breach_row(t: &Tr, b: &Breach) -> BreachRow {
    let elapsed = if b.done {
        t.span(b.elapsed_ms)
    } else {
        t.a1("sla-still-open", "span", t.span(b.elapsed_ms))
    };
    BreachRow {
        incident: b.incident_id,
        host: b.hostname.clone(),
        check: b.check.clone(),
        priority: b.priority.clone(),
        kind: t.t(&format!("sla-kind-{}", b.target)),
        target: t.span(b.target_ms),
        elapsed,
        opened: t.when(b.opened_at_ms),
        breached_at: t.when(b.breached_at_ms),
        ticket: b
            .ticket
            .as_ref()
            .map(|k| k.display().to_string())
            .unwrap_or_else(|| "–".into()),
        ticket_url: safe_url(b.ticket.as_ref().and_then(|k| k.url.as_deref())),
    }
}

fn department(t: &Tr, i: usize, d: &DepartmentReport, complete: bool) -> DepartmentView {
    let unmonitored = d
        .services
        .iter()
        .any(|s| s.unmonitored_ms > 0 || s.hosts_unmonitored > 0);
    let services = d
        .services
        .iter()
        .map(|s| {
            let measured = s.availability.is_some_and(f64::is_finite);
            let dur = |ms: i64| if measured { t.span(ms) } else { "–".into() };
            ServiceRow {
                name: s.name.clone(),
                hosts: s.hosts,
                target: t.pct_target(s.target, 3),
                availability: t.pct(s.availability, 3),
                down: dur(s.down_ms),
                planned: dur(s.planned_ms),
                unmonitored: if measured || s.unmonitored_ms > 0 {
                    t.span(s.unmonitored_ms)
                } else {
                    "–".into()
                },
                verdict: verdict(t, s.met, false),
            }
        })
        .collect();
    let (availability_chart, lo) = if d.services.is_empty() {
        (String::new(), 90.0)
    } else {
        availability_chart(t, d)
    };
    let availability_caption = t.a1(
        if unmonitored {
            "sla-availability-caption-unmonitored"
        } else {
            "sla-availability-caption"
        },
        "lo",
        t.pct_target(lo / 100.0, 0),
    );
    let mut attainment = vec![];
    for (kind, list) in kinds(t, d) {
        for p in &list {
            attainment.push(AttainmentRow {
                kind: kind.clone(),
                priority: p.priority.clone(),
                target: t.span(p.target_ms),
                met: p.met,
                breached: p.breached,
                pending: p.pending,
                attainment: t.pct(p.attainment, 1),
                verdict: verdict(t, p.achieved, p.pending > 0),
            });
        }
    }
    let has_attainment = !attainment.is_empty();
    let outages = d
        .services
        .iter()
        .filter(|s| !s.outages.is_empty())
        .map(|s| {
            (
                s.name.clone(),
                s.outages
                    .iter()
                    .map(|o| OutageRow {
                        start: t.when(o.start_ms),
                        end: if o.ongoing {
                            t.t("sla-ongoing")
                        } else {
                            t.when(o.end_ms)
                        },
                        down: t.span(o.down_ms),
                        incidents: o.incident_refs(),
                    })
                    .collect(),
            )
        })
        .collect();
    let compliance = d
        .compliance
        .as_ref()
        .map(|c| {
            let k = &c.counts;
            let as_of = t.when(k.as_of_ms);
            vec![
                ComplianceRow {
                    measure: t.t("sla-compliance"),
                    share: t.pct(c.compliance_ratio, 1),
                    hosts: t.a3(
                        "sla-compliance-hosts",
                        "ok",
                        t.int(k.compliant),
                        "bad",
                        t.int(k.noncompliant),
                        "unknown",
                        t.int(k.unknown),
                    ),
                    as_of: as_of.clone(),
                },
                ComplianceRow {
                    measure: t.t("sla-patch-currency"),
                    share: t.pct(c.patch_current_ratio, 1),
                    hosts: t.a3(
                        "sla-patch-hosts",
                        "ok",
                        t.int(k.patch_current),
                        "bad",
                        t.int(k.patch_overdue),
                        "unknown",
                        t.int(k.patch_unknown),
                    ),
                    as_of,
                },
            ]
        })
        .unwrap_or_default();
    DepartmentView {
        anchor: anchor(i, &d.id),
        name: d.name.clone(),
        id: d.id.clone(),
        tier: d.tier_name.clone(),
        summary: summary(t, d, complete),
        services,
        unmonitored,
        availability_chart,
        availability_caption,
        attainment_chart: if has_attainment {
            attainment_chart(t, d)
        } else {
            String::new()
        },
        attainment_caption: t.a1(
            "sla-attainment-caption",
            "target",
            t.pct_target(d.attainment_target, 1),
        ),
        attainment,
        breaches: d.breaches.iter().map(|b| breach_row(t, b)).collect(),
        outages,
        compliance,
    }
}

impl ReportView {
    pub fn new(t: &Tr, r: &SlaReport) -> ReportView {
        let month = t.month(&r.period.label);
        let measured = if r.complete {
            t.a1("sla-measured-whole", "until", t.when(r.measured_until_ms))
        } else {
            t.a1("sla-measured-so-far", "until", t.when(r.measured_until_ms))
        };
        let meta = vec![
            (
                t.t("sla-period"),
                format!(
                    "{} – {} ({})",
                    t.when(r.period.from_ms),
                    t.when(r.period.to_ms),
                    tz_name(t, r.period.from_ms)
                ),
            ),
            (t.t("sla-measured"), measured),
            (t.t("sla-generated"), t.when(r.generated_at_ms)),
        ];
        let incomplete = (!r.complete).then(|| {
            t.a2(
                "sla-incomplete",
                "end",
                t.when(r.period.to_ms),
                "until",
                t.when(r.measured_until_ms),
            )
        });
        let overview = r
            .departments
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let met = d.services.iter().filter(|s| s.met == Some(true)).count();
                let (resp, resp_pending) = attainment_verdict(&d.response);
                let (reso, reso_pending) = attainment_verdict(&d.resolution);
                OverviewRow {
                    anchor: anchor(i, &d.id),
                    name: d.name.clone(),
                    id: d.id.clone(),
                    tier: d.tier_name.clone(),
                    services: if d.services.is_empty() {
                        "–".into()
                    } else {
                        t.a2(
                            "sla-of",
                            "met",
                            met.to_string(),
                            "n",
                            d.services.len().to_string(),
                        )
                    },
                    response: if d.response.is_empty() {
                        Verdict {
                            word: t.t("sla-no-targets"),
                            class: "nodata",
                        }
                    } else {
                        verdict(t, resp, resp_pending)
                    },
                    resolution: if d.resolution.is_empty() {
                        Verdict {
                            word: t.t("sla-no-targets"),
                            class: "nodata",
                        }
                    } else {
                        verdict(t, reso, reso_pending)
                    },
                    breaches: d.breaches.len(),
                }
            })
            .collect();
        ReportView {
            title: t.a1("sla-report-title", "month", &month),
            month,
            meta,
            incomplete,
            overview,
            departments: r
                .departments
                .iter()
                .enumerate()
                .map(|(i, d)| department(t, i, d, r.complete))
                .collect(),
        }
    }
}

/// The report as one self-contained HTML file.
#[derive(Template)]
#[template(path = "console/sla_report.html")]
struct Standalone<'a> {
    t: &'a Tr,
    r: ReportView,
    css: &'static str,
}

/// The report's own style: the console's print rules for a file opened on its own.
pub const REPORT_CSS: &str = include_str!("../../static/report.css");

/// `report sla --format html --lang <code>`, and the console's download.
pub fn html(t: &Tr, r: &SlaReport) -> String {
    Standalone {
        t,
        r: ReportView::new(t, r),
        css: REPORT_CSS,
    }
    .render()
    .unwrap_or_else(|e| format!("<!doctype html><p>report failed to render: {e}</p>"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilsyn_collector_core::sla::example::{report, tz, H};

    #[test]
    fn the_report_is_self_contained_and_escaped() {
        let h = html(&Tr::new("en", tz()), &report());
        assert!(h.starts_with("<!doctype html>"));
        assert!(h.contains("<html lang=\"en\">") && h.contains("<meta charset=\"utf-8\">"));
        for bad in [
            "<script",
            "src=\"http",
            "<link",
            "<img",
            "@import",
            "url(",
            "javascript:",
        ] {
            assert!(!h.to_lowercase().contains(bad), "{bad}");
        }
        assert!(
            h.contains("web&#60;script&#62;alert(1)&#60;/script&#62;")
                || h.contains("web&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{h}"
        );
        assert!(
            h.contains("Case management, &#34;core&#34;")
                || h.contains("Case management, &quot;core&quot;")
        );
        assert!(
            h.contains("href=\"https://desk.example/ticket?id=1&#38;view=2\"")
                || h.contains("href=\"https://desk.example/ticket?id=1&amp;view=2\""),
            "the ticket links"
        );
        assert!(
            h.contains("<td>77</td>"),
            "a non-http ticket URL is no link"
        );
        assert_eq!(h.matches("<svg").count(), 4);
        assert_eq!(h.matches("<table").count(), h.matches("</table>").count());
        assert!(h.contains("href=\"#dept-1-social\"") && h.contains("id=\"dept-1-social\""));
        assert!(h.contains("so far, until 2026-11-10 00:00"));
        assert!(h.contains("SLA report November 2026"));
        let archive_row = h
            .lines()
            .find(|l| l.starts_with("<tr><td>Archive</td>"))
            .expect("a row for Archive");
        assert!(
            archive_row.contains("<td class=\"num\">no data</td>"),
            "{archive_row}"
        );
        // In the chart: a "no data" label, and no bar for Archive.
        let g = h
            .split("<g><title>Archive: no data, target 99.500 %</title>")
            .nth(1)
            .expect("Archive's bar");
        let g = &g[..g.find("</g>").unwrap()];
        assert!(g.contains(">no data</text>") && !g.contains("<rect"), "{g}");
        assert!(!h.to_lowercase().contains("unmonitored"), "none: no column");
        assert_eq!(anchor(0, "a b\"<"), "dept-1-a-b--");
    }

    #[test]
    fn danish_says_it_in_danish_with_the_same_figures() {
        let en = html(&Tr::new("en", tz()), &report());
        let da = html(&Tr::new("da", tz()), &report());
        assert!(da.contains("<html lang=\"da\">"));
        assert!(da.contains("SLA-rapport november 2026"), "{da}");
        assert!(da.contains("indtil videre, til 10.11.2026 00:00"));
        assert!(da.contains("Tilgængelighed") && da.contains("ingen data"));
        // The same figures, Danish decimal commas.
        assert!(en.contains("99.074 %") && da.contains("99,074 %"), "{da}");
        assert_eq!(en.matches("<svg").count(), da.matches("<svg").count());
        assert_eq!(en.matches("<tr>").count(), da.matches("<tr>").count());
    }

    #[test]
    fn unmonitored_time_gets_its_column_and_note() {
        let mut r = report();
        let s = &mut r.departments[0].services[0];
        s.unmonitored_ms = 3 * H / 2;
        s.counted_ms -= 3 * H / 2;
        let h = html(&Tr::new("en", tz()), &r);
        assert_eq!(h.matches(">Unmonitored</th>").count(), 1);
        assert_eq!(
            h.matches("planned maintenance and unmonitored time left out")
                .count(),
            1
        );
        assert!(h.contains("<td class=\"num\">1 h 30 min</td>"), "{h}");
    }
}
