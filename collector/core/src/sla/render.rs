//! The SLA report for people: [`markdown`] (mail, wikis, tickets), [`csv`] (one long
//! table for spreadsheets) and [`html`] (one self-contained, printable file with charts).
//! All three are made from the same [`SlaReport`], so they agree.
//!
//! Shared conventions:
//! - Instants are shown in the caller's time zone as `YYYY-MM-DD HH:MM`; durations of
//!   service time as [`human`] (`1h30m`).
//! - Shares are percentages: availability with 3 decimals (`99.512 %`), attainment and
//!   compliance with 1. Measured figures are truncated, not rounded, so a figure just short
//!   of its target never shows as the target itself (0.998996 is `99.899 %`, not
//!   `99.900 %`). Targets are shown exactly (`99.950 %` for 0.9995).
//! - A share that could not be measured (`None`) is "no data", never 0 % or 100 %.
//! - A period that is still running says "so far, until …".
//!
//! # CSV
//!
//! RFC 4180 with LF line ends (`\n`, also after the last row), UTF-8 without a byte order
//! mark; a field is quoted when it holds a comma, a quote, CR or LF, and quotes inside are
//! doubled. Text fields that a spreadsheet would take for a formula (starting with `=`,
//! `+`, `-`, `@`, tab or CR) get a leading `'`. One header row:
//!
//! `period,department,department_name,tier,kind,subject,target,value,met,breached,pending,status,detail`
//!
//! `period` is the period's label; while the period runs it reads
//! `2026-11 (so far, until 2026-11-10 00:00)` so partial figures never pass for a month's.
//! `tier` is the tier's id. Numbers are plain (`0.99512`, `3600`): shares 0-1 with up to 6
//! decimals, durations in seconds; an empty field is "no data" / not applicable.
//!
//! | kind | subject | target | value | met / breached / pending | status |
//! |------|---------|--------|-------|--------------------------|--------|
//! | `availability` | service name | target share | availability | 1/0 when met, 0/1 when missed, empty without data / empty | `met`, `missed`, `no_data` |
//! | `response`, `resolution` | priority (`P1` …) | attainment target share | attainment | incident counts | `met`, `missed`, `pending` (no outcome yet, some open), `no_data` |
//! | `breach` | incident id | target, s | elapsed, s | empty (the breaches are counted in the `response`/`resolution` rows) | `breached`, `breached_open` (still not answered/resolved) |
//! | `compliance` | `hosts` | empty | compliant share | compliant / noncompliant / unknown hosts | `measured`, `no_data` |
//! | `patch_currency` | `hosts` | empty | current share | current / overdue / unknown hosts | `measured`, `no_data` |
//!
//! `detail` holds the rest as `key=value; …` (service id, downtime, the breach's host,
//! check, times and ticket, the compliance figures' date). An availability row whose
//! service had unmonitored time (the collector's own gaps, left out of `counted_s`) or
//! unmonitored hosts at the end also holds `unmonitored_s` and `hosts_unmonitored`.
//!
//! # Unmonitored time
//!
//! Markdown and HTML show an "Unmonitored" column in a department's availability table,
//! and a line saying what it is, only when one of its services had some: a report without
//! the collector's gaps looks as it always did.

use std::fmt::Write as _;

use jiff::tz::TimeZone;

use super::config::human;
use super::report::{
    Breach, ComplianceFigures, DepartmentReport, Outage, PriorityAttainment, ServiceAvailability,
    SlaReport,
};
use crate::incidents::ticket::TicketRef;

/// Writing to a `String` cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

const NO_DATA: &str = "no data";

// ---------------------------------------------------------------------------------------
// Shared formatting

/// An instant in `tz` as `YYYY-MM-DD HH:MM`.
fn when(ms: i64, tz: &TimeZone) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => {
            let d = tz.to_datetime(t);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                d.year(),
                d.month(),
                d.day(),
                d.hour(),
                d.minute()
            )
        }
        Err(_) => format!("{ms} ms since 1970"),
    }
}

/// The time zone's name, or its offset at `at_ms` when it has none.
fn tz_name(tz: &TimeZone, at_ms: i64) -> String {
    match tz.iana_name() {
        Some(n) => n.to_string(),
        None => {
            let t = jiff::Timestamp::from_millisecond(at_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            format!("UTC{}", tz.to_offset(t))
        }
    }
}

/// A measured share as a percentage with `decimals`, truncated (see the module docs).
fn pct(share: f64, decimals: usize) -> String {
    if !share.is_finite() {
        return NO_DATA.into();
    }
    let scale = 10f64.powi(decimals as i32);
    // The small nudge keeps float noise (0.29 × 1000 = 289.99999…) from losing a digit.
    let v = ((share * 100.0 * scale) + 1e-6).floor() / scale;
    format!("{v:.decimals$} %")
}

fn pct_opt(share: Option<f64>, decimals: usize) -> String {
    share.map_or_else(|| NO_DATA.into(), |s| pct(s, decimals))
}

/// A target share as a percentage with at least `min_decimals`, more if it needs them.
fn pct_target(share: f64, min_decimals: usize) -> String {
    if !share.is_finite() {
        return NO_DATA.into();
    }
    let p = share * 100.0;
    let mut d = min_decimals;
    while d < 6 {
        let scaled = p * 10f64.powi(d as i32);
        if (scaled.round() - scaled).abs() < 1e-6 {
            break;
        }
        d += 1;
    }
    format!("{p:.d$} %")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Met,
    Missed,
    Pending,
    NoData,
}

impl Status {
    fn of(met: Option<bool>) -> Status {
        match met {
            Some(true) => Status::Met,
            Some(false) => Status::Missed,
            None => Status::NoData,
        }
    }

    fn of_priority(p: &PriorityAttainment) -> Status {
        match p.achieved {
            None if p.pending > 0 => Status::Pending,
            a => Status::of(a),
        }
    }

    /// For people.
    fn word(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::Missed => "missed",
            Status::Pending => "pending",
            Status::NoData => NO_DATA,
        }
    }

    /// For the CSV.
    fn code(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::Missed => "missed",
            Status::Pending => "pending",
            Status::NoData => "no_data",
        }
    }

    /// HTML class.
    fn class(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::Missed => "missed",
            Status::Pending => "pending",
            Status::NoData => "nodata",
        }
    }

    /// Bar colour in the charts.
    fn fill(self) -> &'static str {
        match self {
            Status::Met => "#2e7d32",
            Status::Missed => "#c62828",
            Status::Pending | Status::NoData => "#78909c",
        }
    }
}

/// A ticket URL fit for a link: http or https only.
fn safe_url(u: &str) -> Option<&str> {
    let u = u.trim();
    let l = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    ((l.starts_with("http://") && u.len() > 7) || (l.starts_with("https://") && u.len() > 8))
        .then_some(u)
}

fn ticket_url(t: &TicketRef) -> Option<&str> {
    t.url.as_deref().and_then(safe_url)
}

/// "met (target 90.0 %)", "missed (target 90.0 %) for P2, P3", "no data" …
fn attainment_phrase(rows: &[PriorityAttainment], target: f64) -> (Status, String) {
    let t = pct_target(target, 1);
    if rows.is_empty() {
        return (Status::NoData, "no targets in this tier".into());
    }
    let judged = rows.iter().filter(|p| p.achieved.is_some()).count();
    let pending: u32 = rows.iter().map(|p| p.pending).sum();
    let missed: Vec<&str> = rows
        .iter()
        .filter(|p| p.achieved == Some(false))
        .map(|p| p.priority.as_str())
        .collect();
    let pending_note = if pending > 0 {
        format!(", {pending} pending")
    } else {
        String::new()
    };
    if judged == 0 {
        let s = if pending > 0 {
            Status::Pending
        } else {
            Status::NoData
        };
        (s, format!("no data (no outcome yet{pending_note})"))
    } else if missed.is_empty() {
        (Status::Met, format!("met (target {t}{pending_note})"))
    } else {
        (
            Status::Missed,
            format!(
                "missed (target {t}) for {}{pending_note}",
                missed.join(", ")
            ),
        )
    }
}

struct ServiceCount {
    met: usize,
    missed: usize,
    no_data: usize,
}

fn service_count(d: &DepartmentReport) -> ServiceCount {
    let n = |want: Option<bool>| d.services.iter().filter(|s| s.met == want).count();
    ServiceCount {
        met: n(Some(true)),
        missed: n(Some(false)),
        no_data: n(None),
    }
}

/// "2 of 3 services met their availability target, 1 no data"
fn services_phrase(d: &DepartmentReport) -> String {
    if d.services.is_empty() {
        return "no services in the catalogue for this department".into();
    }
    let c = service_count(d);
    let total = d.services.len();
    let mut s = format!(
        "{} of {} service{} met {} availability target",
        c.met,
        total,
        if total == 1 { "" } else { "s" },
        if total == 1 { "its" } else { "their" }
    );
    if c.missed > 0 {
        w!(s, ", {} missed", c.missed);
    }
    if c.no_data > 0 {
        w!(s, ", {} with no data", c.no_data);
    }
    s
}

/// The department's summary, as plain text.
fn summary(d: &DepartmentReport, complete: bool) -> String {
    let (_, resp) = attainment_phrase(&d.response, d.attainment_target);
    let (_, reso) = attainment_phrase(&d.resolution, d.attainment_target);
    let mut s = String::new();
    if !complete {
        s.push_str("So far: ");
    }
    let sp = services_phrase(d);
    if complete {
        let mut c = sp.chars();
        if let Some(f) = c.next() {
            s.extend(f.to_uppercase());
            s.push_str(c.as_str());
        }
    } else {
        s.push_str(&sp);
    }
    w!(s, ". Response: {resp}. Resolution: {reso}.");
    match d.breaches.len() {
        0 => s.push_str(" No breaches."),
        1 => s.push_str(" 1 breach."),
        n => w!(s, " {n} breaches."),
    }
    s
}

/// The report's header as (label, plain text).
fn header(r: &SlaReport, tz: &TimeZone) -> Vec<(&'static str, String)> {
    let measured = if r.complete {
        format!("the whole period (until {})", when(r.measured_until_ms, tz))
    } else {
        format!(
            "so far, until {} (the period is not complete)",
            when(r.measured_until_ms, tz)
        )
    };
    vec![
        (
            "Period",
            format!(
                "{} – {} ({})",
                when(r.period.from_ms, tz),
                when(r.period.to_ms, tz),
                tz_name(tz, r.period.from_ms)
            ),
        ),
        ("Measured", measured),
        ("Generated", when(r.generated_at_ms, tz)),
    ]
}

// ---------------------------------------------------------------------------------------
// Tables, shared by Markdown and HTML

enum Cell {
    Text(String),
    /// Right-aligned.
    Num(String),
    Status(Status),
    NoData,
    /// A ticket: a link when the URL is http(s).
    Ticket(Option<TicketRef>),
    /// A link within the document (HTML only; plain text in Markdown).
    Anchor(String, String),
}

fn share_cell(v: Option<f64>, decimals: usize) -> Cell {
    match v {
        Some(v) if v.is_finite() => Cell::Num(pct(v, decimals)),
        _ => Cell::NoData,
    }
}

struct Table {
    head: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
}

fn overview_table(r: &SlaReport) -> Table {
    let rows = r
        .departments
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let c = service_count(d);
            let services = if d.services.is_empty() {
                Cell::Text("–".into())
            } else {
                Cell::Text(format!("{} of {}", c.met, d.services.len()))
            };
            let judged = |rows: &[PriorityAttainment]| {
                if rows.is_empty() {
                    Cell::Text("no targets".into())
                } else {
                    Cell::Status(attainment_phrase(rows, d.attainment_target).0)
                }
            };
            vec![
                Cell::Anchor(format!("{} ({})", d.name, d.id), anchor(i, &d.id)),
                Cell::Text(d.tier_name.clone()),
                services,
                judged(&d.response),
                judged(&d.resolution),
                Cell::Num(d.breaches.len().to_string()),
            ]
        })
        .collect();
    Table {
        head: vec![
            "Department",
            "Tier",
            "Services met",
            "Response",
            "Resolution",
            "Breaches",
        ],
        rows,
    }
}

/// Did any of the department's services have unmonitored time?
fn any_unmonitored(d: &DepartmentReport) -> bool {
    d.services
        .iter()
        .any(|s| s.unmonitored_ms > 0 || s.hosts_unmonitored > 0)
}

const UNMONITORED_NOTE: &str = "Unmonitored: time in which the monitoring itself was away (the collector could not hear the hosts) and the service's state depended on hosts nobody watched. It is the operations centre's outage, not the service's: it counts neither as up nor as down and is left out of the availability, like planned maintenance.";

fn services_table(d: &DepartmentReport) -> Table {
    let unmonitored = any_unmonitored(d);
    let rows = d
        .services
        .iter()
        .map(|s| {
            let measured = s.availability.is_some_and(f64::is_finite);
            let dur = |ms: i64| {
                if measured {
                    Cell::Num(human(ms))
                } else {
                    Cell::Num("–".into())
                }
            };
            let mut row = vec![
                Cell::Text(s.name.clone()),
                Cell::Num(s.hosts.to_string()),
                Cell::Num(pct_target(s.target, 3)),
                share_cell(s.availability, 3),
                dur(s.down_ms),
                dur(s.planned_ms),
            ];
            if unmonitored {
                // Unmonitored time is shown even when it left nothing counted.
                row.push(if measured || s.unmonitored_ms > 0 {
                    Cell::Num(human(s.unmonitored_ms))
                } else {
                    Cell::Num("–".into())
                });
            }
            row.push(Cell::Status(Status::of(s.met)));
            row
        })
        .collect();
    let mut head = vec![
        "Service",
        "Hosts",
        "Target",
        "Availability",
        "Downtime (service hours)",
        "Planned maintenance",
    ];
    if unmonitored {
        head.push("Unmonitored");
    }
    head.push("Status");
    Table { head, rows }
}

fn attainment_table(d: &DepartmentReport) -> Table {
    let mut rows = Vec::new();
    for (kind, list) in [("Response", &d.response), ("Resolution", &d.resolution)] {
        for p in list {
            rows.push(vec![
                Cell::Text(kind.into()),
                Cell::Text(p.priority.clone()),
                Cell::Num(human(p.target_ms)),
                Cell::Num(p.met.to_string()),
                Cell::Num(p.breached.to_string()),
                Cell::Num(p.pending.to_string()),
                share_cell(p.attainment, 1),
                Cell::Status(Status::of_priority(p)),
            ]);
        }
    }
    Table {
        head: vec![
            "Target kind",
            "Priority",
            "Target",
            "Met",
            "Breached",
            "Pending",
            "Attainment",
            "Status",
        ],
        rows,
    }
}

fn elapsed_text(b: &Breach) -> String {
    if b.done {
        human(b.elapsed_ms)
    } else {
        format!("{} (still open)", human(b.elapsed_ms))
    }
}

fn breaches_table(d: &DepartmentReport, tz: &TimeZone) -> Table {
    let rows = d
        .breaches
        .iter()
        .map(|b| {
            vec![
                Cell::Num(format!("#{}", b.incident_id)),
                Cell::Text(b.hostname.clone()),
                Cell::Text(b.check.clone()),
                Cell::Text(b.priority.clone()),
                Cell::Text(b.target.to_string()),
                Cell::Num(human(b.target_ms)),
                Cell::Num(elapsed_text(b)),
                Cell::Num(when(b.opened_at_ms, tz)),
                Cell::Num(when(b.breached_at_ms, tz)),
                Cell::Ticket(b.ticket.clone()),
            ]
        })
        .collect();
    Table {
        head: vec![
            "Incident",
            "Host",
            "Check",
            "Priority",
            "Target kind",
            "Target",
            "Elapsed",
            "Opened",
            "Breached at",
            "Ticket",
        ],
        rows,
    }
}

fn incidents_text(o: &Outage) -> String {
    if o.incidents.is_empty() {
        "–".into()
    } else {
        o.incidents
            .iter()
            .map(|i| format!("#{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn outages_table(s: &ServiceAvailability, tz: &TimeZone) -> Table {
    let rows = s
        .outages
        .iter()
        .map(|o| {
            vec![
                Cell::Num(when(o.start_ms, tz)),
                if o.ongoing {
                    Cell::Text("ongoing".into())
                } else {
                    Cell::Num(when(o.end_ms, tz))
                },
                Cell::Num(human(o.down_ms)),
                Cell::Text(incidents_text(o)),
            ]
        })
        .collect();
    Table {
        head: vec!["Start", "End", "Downtime (service hours)", "Incidents"],
        rows,
    }
}

fn compliance_table(c: &ComplianceFigures, tz: &TimeZone) -> Table {
    let k = &c.counts;
    let as_of = when(k.as_of_ms, tz);
    Table {
        head: vec!["Measure", "Share", "Hosts", "As of"],
        rows: vec![
            vec![
                Cell::Text("Compliance".into()),
                share_cell(c.compliance_ratio, 1),
                Cell::Text(format!(
                    "{} compliant, {} noncompliant, {} unknown",
                    k.compliant, k.noncompliant, k.unknown
                )),
                Cell::Num(as_of.clone()),
            ],
            vec![
                Cell::Text("Patch currency".into()),
                share_cell(c.patch_current_ratio, 1),
                Cell::Text(format!(
                    "{} current, {} overdue, {} unknown",
                    k.patch_current, k.patch_overdue, k.patch_unknown
                )),
                Cell::Num(as_of),
            ],
        ],
    }
}

// ---------------------------------------------------------------------------------------
// Markdown

/// Text safe in a GitHub-flavoured Markdown paragraph or table cell: no table breaks,
/// no raw HTML, no links or emphasis from user-supplied names.
fn md(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '|' | '<' | '>' | '[' | ']' | '*' | '_' | '`' | '&' | '~' => {
                o.push('\\');
                o.push(c);
            }
            '\r' | '\n' => o.push(' '),
            c if c.is_control() => {}
            c => o.push(c),
        }
    }
    o
}

/// A link destination: `<…>` with what could end it or break the table percent-encoded.
fn md_url(u: &str) -> String {
    let mut o = String::from("<");
    for c in u.chars() {
        match c {
            '<' => o.push_str("%3C"),
            '>' => o.push_str("%3E"),
            '|' => o.push_str("%7C"),
            '\\' => o.push_str("%5C"),
            ' ' => o.push_str("%20"),
            c if c.is_control() => {}
            c => o.push(c),
        }
    }
    o.push('>');
    o
}

fn md_cell(c: &Cell) -> String {
    match c {
        Cell::Text(t) | Cell::Num(t) => md(t),
        Cell::Status(Status::Missed) => "**missed**".into(),
        Cell::Status(s) => s.word().into(),
        Cell::NoData => NO_DATA.into(),
        Cell::Ticket(None) => "–".into(),
        Cell::Ticket(Some(t)) => match ticket_url(t) {
            Some(u) => format!("[{}]({})", md(t.display()), md_url(u)),
            None => md(t.display()),
        },
        Cell::Anchor(t, _) => md(t),
    }
}

fn md_table(o: &mut String, t: &Table) {
    o.push('|');
    for h in &t.head {
        w!(o, " {} |", md(h));
    }
    o.push_str("\n|");
    for (i, _) in t.head.iter().enumerate() {
        let right = t
            .rows
            .first()
            .is_some_and(|r| matches!(r.get(i), Some(Cell::Num(_))));
        o.push_str(if right { " ---: |" } else { " --- |" });
    }
    o.push('\n');
    for r in &t.rows {
        o.push('|');
        for c in r {
            w!(o, " {} |", md_cell(c));
        }
        o.push('\n');
    }
    o.push('\n');
}

/// The report as GitHub-flavoured Markdown.
pub fn markdown(r: &SlaReport, tz: &TimeZone) -> String {
    let mut o = String::with_capacity(8 * 1024);
    w!(o, "# SLA report {}\n\n", md(&r.period.label));
    for (k, v) in header(r, tz) {
        w!(o, "- **{k}:** {}\n", md(&v));
    }
    o.push('\n');
    if r.departments.is_empty() {
        o.push_str("No departments in this report.\n");
        return o;
    }
    md_table(&mut o, &overview_table(r));

    for d in &r.departments {
        w!(
            o,
            "## {} ({}) — tier {}\n\n",
            md(&d.name),
            md(&d.id),
            md(&d.tier_name)
        );
        w!(o, "{}\n\n", md(&summary(d, r.complete)));

        o.push_str("### Availability\n\n");
        if d.services.is_empty() {
            o.push_str("No services in the catalogue for this department.\n\n");
        } else {
            md_table(&mut o, &services_table(d));
            if any_unmonitored(d) {
                w!(o, "{}\n\n", md(UNMONITORED_NOTE));
            }
        }

        o.push_str("### Response and resolution\n\n");
        if d.response.is_empty() && d.resolution.is_empty() {
            o.push_str("No response or resolution targets in this tier.\n\n");
        } else {
            w!(
                o,
                "Targets in service hours; attainment (met ÷ (met + breached)) must reach {}.\n\n",
                md(&pct_target(d.attainment_target, 1))
            );
            md_table(&mut o, &attainment_table(d));
        }

        o.push_str("### Breaches\n\n");
        if d.breaches.is_empty() {
            o.push_str("No breaches.\n\n");
        } else {
            md_table(&mut o, &breaches_table(d, tz));
        }

        o.push_str("### Outages\n\n");
        let mut any = false;
        for s in d.services.iter().filter(|s| !s.outages.is_empty()) {
            any = true;
            w!(o, "#### {}\n\n", md(&s.name));
            md_table(&mut o, &outages_table(s, tz));
        }
        if !any {
            o.push_str("No outages in service hours.\n\n");
        }

        o.push_str("### Compliance\n\n");
        match &d.compliance {
            Some(c) => md_table(&mut o, &compliance_table(c, tz)),
            None => o.push_str("Compliance and patch currency: no data.\n\n"),
        }
    }
    o
}

// ---------------------------------------------------------------------------------------
// CSV

const CSV_HEADER: [&str; 13] = [
    "period",
    "department",
    "department_name",
    "tier",
    "kind",
    "subject",
    "target",
    "value",
    "met",
    "breached",
    "pending",
    "status",
    "detail",
];

/// One field: quoted when needed, quotes doubled.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A text field a spreadsheet must not take for a formula.
fn csv_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// A plain number with at most `decimals`, trailing zeros dropped; empty when not finite.
fn num(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(t);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

fn share(v: Option<f64>) -> String {
    v.map(|v| num(v, 6)).unwrap_or_default()
}

fn secs(ms: i64) -> String {
    num(ms as f64 / 1000.0, 3)
}

#[derive(Default)]
struct CsvRow {
    kind: &'static str,
    subject: String,
    target: String,
    value: String,
    met: String,
    breached: String,
    pending: String,
    status: &'static str,
    detail: String,
}

/// The report as one long CSV table (see the module docs for the columns).
pub fn csv(r: &SlaReport, tz: &TimeZone) -> String {
    let mut o = String::with_capacity(8 * 1024);
    o.push_str(&CSV_HEADER.join(","));
    o.push('\n');
    let period = if r.complete {
        r.period.label.clone()
    } else {
        format!(
            "{} (so far, until {})",
            r.period.label,
            when(r.measured_until_ms, tz)
        )
    };
    for d in &r.departments {
        let mut rows: Vec<CsvRow> = Vec::new();
        for s in &d.services {
            let (met, breached) = match s.met {
                Some(true) => ("1", "0"),
                Some(false) => ("0", "1"),
                None => ("", ""),
            };
            let mut detail = format!(
                "service={}; hosts={}; counted_s={}; down_s={}; planned_s={}; outages={}; state={}; hosts_unhealthy={}; hosts_in_maintenance={}",
                s.service,
                s.hosts,
                secs(s.counted_ms),
                secs(s.down_ms),
                secs(s.planned_ms),
                s.outages.len(),
                s.state.as_str(),
                s.hosts_unhealthy,
                s.hosts_in_maintenance
            );
            if s.unmonitored_ms > 0 || s.hosts_unmonitored > 0 {
                w!(
                    detail,
                    "; unmonitored_s={}; hosts_unmonitored={}",
                    secs(s.unmonitored_ms),
                    s.hosts_unmonitored
                );
            }
            rows.push(CsvRow {
                kind: "availability",
                subject: s.name.clone(),
                target: share(Some(s.target)),
                value: share(s.availability),
                met: met.into(),
                breached: breached.into(),
                status: Status::of(s.met).code(),
                detail,
                ..CsvRow::default()
            });
        }
        for (kind, list) in [("response", &d.response), ("resolution", &d.resolution)] {
            for p in list {
                rows.push(CsvRow {
                    kind,
                    subject: p.priority.clone(),
                    target: share(Some(d.attainment_target)),
                    value: share(p.attainment),
                    met: p.met.to_string(),
                    breached: p.breached.to_string(),
                    pending: p.pending.to_string(),
                    status: Status::of_priority(p).code(),
                    detail: format!(
                        "time_target_s={}; time_target={}",
                        secs(p.target_ms),
                        human(p.target_ms)
                    ),
                });
            }
        }
        for b in &d.breaches {
            let mut detail = format!(
                "target={}; priority={}; host={}; check={}; opened={}; breached_at={}",
                b.target,
                b.priority,
                b.hostname,
                b.check,
                when(b.opened_at_ms, tz),
                when(b.breached_at_ms, tz)
            );
            if let Some(t) = &b.ticket {
                w!(detail, "; ticket={}", t.display());
                if let Some(u) = &t.url {
                    w!(detail, "; url={u}");
                }
            }
            rows.push(CsvRow {
                kind: "breach",
                subject: b.incident_id.to_string(),
                target: secs(b.target_ms),
                value: secs(b.elapsed_ms),
                status: if b.done { "breached" } else { "breached_open" },
                detail,
                ..CsvRow::default()
            });
        }
        for kind in ["compliance", "patch_currency"] {
            let row = match &d.compliance {
                None => CsvRow {
                    kind,
                    subject: "hosts".into(),
                    status: "no_data",
                    detail: "no compliance figures".into(),
                    ..CsvRow::default()
                },
                Some(c) => {
                    let k = &c.counts;
                    let (v, a, b, u, names) = if kind == "compliance" {
                        (
                            c.compliance_ratio,
                            k.compliant,
                            k.noncompliant,
                            k.unknown,
                            ["compliant", "noncompliant", "unknown"],
                        )
                    } else {
                        (
                            c.patch_current_ratio,
                            k.patch_current,
                            k.patch_overdue,
                            k.patch_unknown,
                            ["current", "overdue", "unknown"],
                        )
                    };
                    CsvRow {
                        kind,
                        subject: "hosts".into(),
                        value: share(v),
                        met: a.to_string(),
                        breached: b.to_string(),
                        pending: u.to_string(),
                        status: if v.is_some() { "measured" } else { "no_data" },
                        detail: format!(
                            "as_of={}; {}={a}; {}={b}; {}={u}",
                            when(k.as_of_ms, tz),
                            names[0],
                            names[1],
                            names[2]
                        ),
                        ..CsvRow::default()
                    }
                }
            };
            rows.push(row);
        }
        for row in rows {
            let fields = [
                csv_text(&period),
                csv_text(&d.id),
                csv_text(&d.name),
                csv_text(&d.tier),
                row.kind.to_string(),
                csv_text(&row.subject),
                row.target,
                row.value,
                row.met,
                row.breached,
                row.pending,
                row.status.to_string(),
                csv_text(&row.detail),
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            o.push_str(&line.join(","));
            o.push('\n');
        }
    }
    o
}

// ---------------------------------------------------------------------------------------
// HTML

/// Text safe in HTML content and in quoted attributes.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => o.push(c),
        }
    }
    o
}

/// A fragment id for the `i`th department: unique and plain whatever the id holds.
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

const CSS: &str = r#"@page { size: A4; margin: 14mm 12mm; }
html { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 10.5pt; line-height: 1.4; color: #1a1a1a; background: #fff;
  max-width: 186mm; margin: 0 auto; padding: 1em; }
h1 { font-size: 18pt; margin: 0 0 .3em; }
h2 { font-size: 14pt; margin: 1.4em 0 .4em; padding-bottom: .15em; border-bottom: 2px solid #333; }
h2 .id { font-weight: normal; color: #555; }
h3 { font-size: 11.5pt; margin: 1.1em 0 .3em; }
h4 { font-size: 10.5pt; margin: .8em 0 .2em; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; margin: .3em 0 1em; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; }
.notice { border-left: 4px solid #e65100; background: #fff3e0; padding: .35em .7em; }
.summary { border-left: 4px solid #546e7a; background: #f3f5f6; padding: .35em .7em; }
.caption { font-size: 9pt; color: #555; margin: 0 0 .6em; }
table { border-collapse: collapse; width: 100%; margin: .3em 0 .9em; font-size: 9.5pt; }
th, td { border: 1px solid #bbb; padding: 2px 5px; text-align: left; vertical-align: top; }
th { background: #eceff1; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
.met { color: #1b5e20; }
.missed { color: #b71c1c; font-weight: 600; }
.nodata, .pending { color: #666; font-style: italic; }
svg.chart { display: block; width: 100%; max-width: 180mm; height: auto; margin: .4em 0 .2em; break-inside: avoid; }
svg.chart text { font-family: inherit; font-size: 11px; fill: #222; }
section.department { break-before: page; }
a { color: #0d47a1; }
@media print {
  body { padding: 0; max-width: none; font-size: 10pt; }
  a { color: inherit; text-decoration: none; }
}
"#;

fn html_cell(o: &mut String, c: &Cell) {
    match c {
        Cell::Text(t) => w!(o, "<td>{}</td>", esc(t)),
        Cell::Num(t) => w!(o, "<td class=\"num\">{}</td>", esc(t)),
        Cell::Status(s) => w!(o, "<td class=\"{}\">{}</td>", s.class(), s.word()),
        Cell::NoData => w!(o, "<td class=\"nodata\">{NO_DATA}</td>"),
        Cell::Ticket(None) => o.push_str("<td>–</td>"),
        Cell::Ticket(Some(t)) => match ticket_url(t) {
            Some(u) => w!(
                o,
                "<td><a href=\"{}\" rel=\"noreferrer\">{}</a></td>",
                esc(u),
                esc(t.display())
            ),
            None => w!(o, "<td>{}</td>", esc(t.display())),
        },
        Cell::Anchor(t, a) => w!(o, "<td><a href=\"#{}\">{}</a></td>", esc(a), esc(t)),
    }
}

fn html_table(o: &mut String, t: &Table) {
    o.push_str("<table>\n<thead><tr>");
    for h in &t.head {
        w!(o, "<th>{}</th>", esc(h));
    }
    o.push_str("</tr></thead>\n<tbody>\n");
    for r in &t.rows {
        o.push_str("<tr>");
        for c in r {
            html_cell(o, c);
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody>\n</table>\n");
}

/// One bar of a chart; values and targets in percent.
struct Bar {
    label: String,
    value: Option<f64>,
    /// The row's own target marker.
    target: Option<f64>,
    status: Status,
    /// Right of the plot: the value and its status.
    value_text: String,
    /// The tooltip.
    title: String,
    /// In place of the bar when there is no value.
    no_data_text: String,
}

fn label_fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// A horizontal bar chart from `lo` % to 100 %, gridlines every `step` %, a marker per
/// row at its target and, when given, one across all rows at `common_target`.
fn bar_chart(bars: &[Bar], lo: f64, step: f64, common_target: Option<f64>, aria: &str) -> String {
    const W: f64 = 700.0;
    const X0: f64 = 190.0;
    const X1: f64 = 540.0;
    const ROW: f64 = 22.0;
    const BAR: f64 = 14.0;
    let top = if common_target.is_some() { 22.0 } else { 8.0 };
    let bottom = top + ROW * bars.len() as f64;
    let h = bottom + 24.0;
    let x = |p: f64| X0 + ((p - lo) / (100.0 - lo)).clamp(0.0, 1.0) * (X1 - X0);
    let mut o = String::new();
    w!(
        o,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">\n",
        esc(aria)
    );
    // Grid and axis.
    let mut t = (lo / step).ceil() * step;
    while t <= 100.0 + 1e-9 {
        let xt = x(t);
        w!(
            o,
            "<line x1=\"{xt:.1}\" y1=\"{:.1}\" x2=\"{xt:.1}\" y2=\"{bottom:.1}\" stroke=\"#d0d0d0\" stroke-width=\"1\"/>\n",
            top - 4.0
        );
        w!(
            o,
            "<text x=\"{xt:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{} %</text>\n",
            bottom + 15.0,
            num(t, 1)
        );
        t += step;
    }
    w!(
        o,
        "<line x1=\"{X0}\" y1=\"{:.1}\" x2=\"{X0}\" y2=\"{bottom:.1}\" stroke=\"#555\" stroke-width=\"1\"/>\n",
        top - 4.0
    );
    for (i, b) in bars.iter().enumerate() {
        let y = top + ROW * i as f64;
        let yb = y + (ROW - BAR) / 2.0;
        let ty = y + ROW / 2.0 + 4.0;
        w!(o, "<g><title>{}</title>\n", esc(&b.title));
        w!(
            o,
            "<text x=\"{:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{}</text>\n",
            X0 - 8.0,
            esc(&label_fit(&b.label, 30))
        );
        match b.value.filter(|v| v.is_finite()) {
            Some(v) => {
                let wv = (x(v) - X0).max(1.5);
                w!(
                    o,
                    "<rect x=\"{X0}\" y=\"{yb:.1}\" width=\"{wv:.1}\" height=\"{BAR}\" fill=\"{}\"/>\n",
                    b.status.fill()
                );
                let weight = if b.status == Status::Missed {
                    " font-weight=\"bold\""
                } else {
                    ""
                };
                w!(
                    o,
                    "<text x=\"{:.1}\" y=\"{ty:.1}\"{weight}>{}</text>\n",
                    X1 + 10.0,
                    esc(&b.value_text)
                );
            }
            None => {
                w!(
                    o,
                    "<text x=\"{:.1}\" y=\"{ty:.1}\" font-style=\"italic\" style=\"fill:#777\">{}</text>\n",
                    X0 + 6.0,
                    esc(&b.no_data_text)
                );
            }
        }
        if let Some(tg) = b.target.filter(|t| t.is_finite() && b.value.is_some()) {
            let xt = x(tg);
            w!(
                o,
                "<line x1=\"{xt:.1}\" y1=\"{:.1}\" x2=\"{xt:.1}\" y2=\"{:.1}\" stroke=\"#111\" stroke-width=\"2.5\"/>\n",
                yb - 3.0,
                yb + BAR + 3.0
            );
        }
        o.push_str("</g>\n");
    }
    if let Some(tg) = common_target.filter(|t| t.is_finite()) {
        let xt = x(tg);
        w!(
            o,
            "<line x1=\"{xt:.1}\" y1=\"{:.1}\" x2=\"{xt:.1}\" y2=\"{bottom:.1}\" stroke=\"#111\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/>\n",
            top - 6.0
        );
        w!(
            o,
            "<text x=\"{xt:.1}\" y=\"{:.1}\" text-anchor=\"middle\">target {}</text>\n",
            top - 9.0,
            esc(&pct_target(tg / 100.0, 1))
        );
    }
    o.push_str("</svg>\n");
    o
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

fn availability_chart(d: &DepartmentReport) -> (String, f64) {
    let (lo, step) = availability_axis(&d.services);
    let bars: Vec<Bar> = d
        .services
        .iter()
        .map(|s| {
            let status = Status::of(s.met);
            Bar {
                label: s.name.clone(),
                value: s.availability.map(|a| a * 100.0),
                target: Some(s.target * 100.0),
                status,
                value_text: match s.availability {
                    Some(a) => format!("{} {}", pct(a, 3), status.word()),
                    None => NO_DATA.into(),
                },
                title: format!(
                    "{}: {}, target {}",
                    s.name,
                    pct_opt(s.availability, 3),
                    pct_target(s.target, 3)
                ),
                no_data_text: NO_DATA.into(),
            }
        })
        .collect();
    let svg = bar_chart(
        &bars,
        lo,
        step,
        None,
        &format!("Availability per service of {}", d.name),
    );
    (svg, lo)
}

fn attainment_chart(d: &DepartmentReport) -> String {
    let mut bars = Vec::new();
    for (kind, list) in [("Response", &d.response), ("Resolution", &d.resolution)] {
        for p in list {
            let status = Status::of_priority(p);
            let no_data_text = if p.pending > 0 {
                format!("{NO_DATA} ({} pending)", p.pending)
            } else {
                NO_DATA.into()
            };
            bars.push(Bar {
                label: format!("{kind} {}", p.priority),
                value: p.attainment.map(|a| a * 100.0),
                target: None,
                status,
                value_text: match p.attainment {
                    Some(a) => format!(
                        "{} {} ({} of {})",
                        pct(a, 1),
                        status.word(),
                        p.met,
                        p.met + p.breached
                    ),
                    None => no_data_text.clone(),
                },
                title: format!(
                    "{kind} {}: {}, {} met, {} breached, {} pending",
                    p.priority,
                    pct_opt(p.attainment, 1),
                    p.met,
                    p.breached,
                    p.pending
                ),
                no_data_text,
            });
        }
    }
    bar_chart(
        &bars,
        0.0,
        20.0,
        Some(d.attainment_target * 100.0),
        &format!("Attainment per priority of {}", d.name),
    )
}

/// The report as one self-contained HTML file (no scripts, no external resources),
/// readable on screen and printable on A4.
pub fn html(r: &SlaReport, tz: &TimeZone) -> String {
    let mut o = String::with_capacity(32 * 1024);
    o.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    w!(o, "<title>SLA report {}</title>\n", esc(&r.period.label));
    w!(o, "<style>\n{CSS}</style>\n</head>\n<body>\n");

    w!(
        o,
        "<header>\n<h1>SLA report {}</h1>\n<dl class=\"meta\">\n",
        esc(&r.period.label)
    );
    for (k, v) in header(r, tz) {
        w!(o, "<dt>{}</dt><dd>{}</dd>\n", esc(k), esc(&v));
    }
    o.push_str("</dl>\n");
    if !r.complete {
        w!(
            o,
            "<p class=\"notice\"><strong>Not complete:</strong> the period ends {}; these figures are so far, until {}, and will change.</p>\n",
            esc(&when(r.period.to_ms, tz)),
            esc(&when(r.measured_until_ms, tz))
        );
    }
    o.push_str("</header>\n");

    o.push_str("<nav>\n<h2>Contents</h2>\n");
    if r.departments.is_empty() {
        o.push_str("<p>No departments in this report.</p>\n");
    } else {
        html_table(&mut o, &overview_table(r));
    }
    o.push_str("</nav>\n");

    for (i, d) in r.departments.iter().enumerate() {
        w!(
            o,
            "<section class=\"department\" id=\"{}\">\n<h2>{} <span class=\"id\">({})</span> — tier {}</h2>\n",
            esc(&anchor(i, &d.id)),
            esc(&d.name),
            esc(&d.id),
            esc(&d.tier_name)
        );
        w!(
            o,
            "<p class=\"summary\">{}</p>\n",
            esc(&summary(d, r.complete))
        );

        o.push_str("<h3>Availability</h3>\n");
        if d.services.is_empty() {
            o.push_str("<p>No services in the catalogue for this department.</p>\n");
        } else {
            let (svg, lo) = availability_chart(d);
            o.push_str(&svg);
            let left_out = if any_unmonitored(d) {
                "planned maintenance and unmonitored time"
            } else {
                "planned maintenance"
            };
            w!(
                o,
                "<p class=\"caption\">Availability per service in service hours, {left_out} left out. Axis from {} % to 100 %; the black mark is the service's target.</p>\n",
                num(lo, 1)
            );
            html_table(&mut o, &services_table(d));
            if any_unmonitored(d) {
                w!(o, "<p class=\"caption\">{}</p>\n", esc(UNMONITORED_NOTE));
            }
        }

        o.push_str("<h3>Response and resolution</h3>\n");
        if d.response.is_empty() && d.resolution.is_empty() {
            o.push_str("<p>No response or resolution targets in this tier.</p>\n");
        } else {
            o.push_str(&attainment_chart(d));
            w!(
                o,
                "<p class=\"caption\">Attainment per priority: met ÷ (met + breached), targets in service hours. The dashed line is the required {}.</p>\n",
                esc(&pct_target(d.attainment_target, 1))
            );
            html_table(&mut o, &attainment_table(d));
        }

        o.push_str("<h3>Breaches</h3>\n");
        if d.breaches.is_empty() {
            o.push_str("<p>No breaches.</p>\n");
        } else {
            html_table(&mut o, &breaches_table(d, tz));
        }

        o.push_str("<h3>Outages</h3>\n");
        let mut any = false;
        for s in d.services.iter().filter(|s| !s.outages.is_empty()) {
            any = true;
            w!(o, "<h4>{}</h4>\n", esc(&s.name));
            html_table(&mut o, &outages_table(s, tz));
        }
        if !any {
            o.push_str("<p>No outages in service hours.</p>\n");
        }

        o.push_str("<h3>Compliance</h3>\n");
        match &d.compliance {
            Some(c) => html_table(&mut o, &compliance_table(c, tz)),
            None => o.push_str(
                "<p>Compliance and patch currency: <span class=\"nodata\">no data</span>.</p>\n",
            ),
        }
        o.push_str("</section>\n");
    }
    o.push_str("</body>\n</html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::super::report::{DepartmentCompliance, Period, ServiceState};
    use super::*;

    const H: i64 = 3_600_000;
    const T0: i64 = 1_793_487_600_000; // 2026-10-31T23:00Z: 1 Nov 2026 00:00 in Copenhagen

    const ODD: &str = "Case management, \"core\"";
    const EVIL_HOST: &str = "web<script>alert(1)</script>";

    fn tz() -> TimeZone {
        TimeZone::get("Europe/Copenhagen").unwrap()
    }

    fn prio(p: &str, target_ms: i64, met: u32, breached: u32, pending: u32) -> PriorityAttainment {
        let attainment = (met + breached > 0).then(|| met as f64 / (met + breached) as f64);
        PriorityAttainment {
            priority: p.into(),
            target_ms,
            met,
            breached,
            pending,
            attainment,
            achieved: attainment.map(|a| a >= 0.9),
        }
    }

    fn report() -> SlaReport {
        let social = DepartmentReport {
            id: "social".into(),
            name: "Social Services".into(),
            tier: "critical".into(),
            tier_name: "Critical".into(),
            services: vec![
                ServiceAvailability {
                    service: "case".into(),
                    name: ODD.into(),
                    hosts: 2,
                    target: 0.999,
                    counted_ms: 216 * H,
                    down_ms: 2 * H,
                    planned_ms: H,
                    unmonitored_ms: 0,
                    availability: Some(1.0 - 2.0 / 216.0),
                    met: Some(false),
                    outages: vec![
                        Outage {
                            start_ms: T0 + 33 * H,
                            end_ms: T0 + 35 * H,
                            ongoing: false,
                            down_ms: 2 * H,
                            incidents: vec![1, 2],
                        },
                        Outage {
                            start_ms: T0 + 215 * H,
                            end_ms: T0 + 216 * H,
                            ongoing: true,
                            down_ms: 0,
                            incidents: vec![],
                        },
                    ],
                    state: ServiceState::Down,
                    hosts_unhealthy: 2,
                    hosts_in_maintenance: 0,
                    hosts_unmonitored: 0,
                },
                ServiceAvailability {
                    service: "archive".into(),
                    name: "Archive".into(),
                    hosts: 0,
                    target: 0.995,
                    counted_ms: 0,
                    down_ms: 0,
                    planned_ms: 0,
                    unmonitored_ms: 0,
                    availability: None,
                    met: None,
                    outages: vec![],
                    state: ServiceState::NoHosts,
                    hosts_unhealthy: 0,
                    hosts_in_maintenance: 0,
                    hosts_unmonitored: 0,
                },
            ],
            attainment_target: 0.9,
            response: vec![prio("P1", H / 2, 3, 1, 0), prio("P2", H, 0, 0, 2)],
            resolution: vec![prio("P1", 4 * H, 4, 0, 0), prio("P2", 8 * H, 0, 0, 0)],
            breaches: vec![Breach {
                incident_id: 1,
                hostname: EVIL_HOST.into(),
                check: "health/service:nginx".into(),
                priority: "P1".into(),
                target: "response",
                target_ms: H / 2,
                elapsed_ms: 90 * 60_000,
                opened_at_ms: T0 + 33 * H,
                breached_at_ms: T0 + 33 * H + H / 2,
                done: true,
                ticket: Some(TicketRef {
                    id: "abc123".into(),
                    number: Some("INC0010001".into()),
                    url: Some("https://desk.example/ticket?id=1&view=2".into()),
                }),
            }],
            compliance: Some(ComplianceFigures {
                counts: DepartmentCompliance {
                    as_of_ms: T0 + 200 * H,
                    compliant: 12,
                    noncompliant: 1,
                    unknown: 3,
                    patch_current: 0,
                    patch_overdue: 0,
                    patch_unknown: 4,
                },
                compliance_ratio: Some(12.0 / 13.0),
                patch_current_ratio: None,
            }),
        };
        let schools = DepartmentReport {
            id: "schools".into(),
            name: "Schools".into(),
            tier: "basic".into(),
            tier_name: "Basic".into(),
            services: vec![ServiceAvailability {
                service: "mail".into(),
                name: "Mail".into(),
                hosts: 1,
                target: 0.95,
                counted_ms: 48 * H,
                down_ms: 0,
                planned_ms: 0,
                unmonitored_ms: 0,
                availability: Some(0.9999),
                met: Some(true),
                outages: vec![],
                state: ServiceState::Up,
                hosts_unhealthy: 0,
                hosts_in_maintenance: 0,
                hosts_unmonitored: 0,
            }],
            attainment_target: 0.5,
            response: vec![prio("P2", H, 1, 0, 0)],
            resolution: vec![],
            breaches: vec![Breach {
                incident_id: 7,
                hostname: "pc-17".into(),
                check: "offline".into(),
                priority: "P2".into(),
                target: "resolution",
                target_ms: 8 * H,
                elapsed_ms: 9 * H,
                opened_at_ms: T0,
                breached_at_ms: T0 + 8 * H,
                done: false,
                ticket: Some(TicketRef {
                    id: "77".into(),
                    number: None,
                    url: Some("javascript:alert(1)".into()),
                }),
            }],
            compliance: None,
        };
        SlaReport {
            period: Period {
                label: "2026-11".into(),
                from_ms: T0,
                to_ms: T0 + 720 * H,
            },
            measured_until_ms: T0 + 216 * H,
            complete: false,
            generated_at_ms: T0 + 216 * H,
            departments: vec![social, schools],
        }
    }

    /// A small RFC 4180 reader: rows of fields.
    fn parse_csv(s: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => quoted = false,
                    c => field.push(c),
                }
            } else {
                match c {
                    '"' => {
                        assert!(field.is_empty(), "quote inside an unquoted field: {field}");
                        quoted = true;
                    }
                    ',' => row.push(std::mem::take(&mut field)),
                    '\n' => {
                        row.push(std::mem::take(&mut field));
                        rows.push(std::mem::take(&mut row));
                    }
                    '\r' => panic!("CR in an LF file"),
                    c => field.push(c),
                }
            }
        }
        assert!(!quoted, "unterminated quote");
        assert!(
            field.is_empty() && row.is_empty(),
            "no LF after the last row"
        );
        rows
    }

    #[test]
    fn markdown_rows_and_no_data() {
        let m = markdown(&report(), &tz());
        let row = |name: &str| -> String {
            let rows: Vec<&str> = m
                .lines()
                .filter(|l| l.starts_with(&format!("| {name} |")))
                .collect();
            assert_eq!(rows.len(), 1, "one row for {name}: {m}");
            rows[0].to_string()
        };
        let odd = row(ODD);
        assert!(odd.contains("99.074 %") && odd.contains("99.900 %") && odd.contains("**missed**"));
        let archive = row("Archive");
        assert!(archive.contains("no data"), "{archive}");
        assert!(
            !archive.contains('%') || archive.contains("99.500 %"),
            "{archive}"
        );
        assert!(row("Mail").contains("99.990 %"));
        assert!(m.contains("so far, until 2026-11-10 00:00"), "{m}");
        assert!(m.contains("web\\<script\\>alert(1)\\</script\\>"), "{m}");
        // Every `<` is escaped, or opens a link destination.
        for (i, _) in m.match_indices('<') {
            assert!(
                m[..i].ends_with('\\') || m[..i].ends_with("]("),
                "{}",
                &m[i..]
            );
        }
        assert!(m.contains("[INC0010001](<https://desk.example/ticket?id=1&view=2>)"));
        assert!(!m.contains("](<javascript"));
        assert!(m.contains("| 2026-11-09 23:00 | ongoing |"));
        assert!(m.contains("#1, #2"));
        assert!(m.contains("Compliance and patch currency: no data."));
        assert!(m.contains("| Patch currency | no data |"));
        // Every table row has as many cells as its header.
        let mut cols = 0;
        for l in m.lines() {
            if !l.starts_with('|') {
                cols = 0;
                continue;
            }
            let n = l.replace("\\|", "").matches('|').count();
            if cols == 0 {
                cols = n;
            }
            assert_eq!(n, cols, "{l}");
        }
    }

    #[test]
    fn csv_round_trips() {
        let r = report();
        let c = csv(&r, &tz());
        assert!(!c.contains('\r'));
        let rows = parse_csv(&c);
        assert_eq!(rows[0], CSV_HEADER);
        for row in &rows {
            assert_eq!(row.len(), CSV_HEADER.len(), "{row:?}");
        }
        let find = |kind: &str, subject: &str| -> &Vec<String> {
            rows.iter()
                .find(|r| r[4] == kind && r[5] == subject)
                .unwrap_or_else(|| panic!("no {kind} row for {subject}: {c}"))
        };
        let odd = find("availability", ODD);
        assert_eq!(odd[0], "2026-11 (so far, until 2026-11-10 00:00)");
        assert_eq!((odd[1].as_str(), odd[3].as_str()), ("social", "critical"));
        assert_eq!(&odd[6..12], ["0.999", "0.990741", "0", "1", "", "missed"]);
        assert!(odd[12].contains("down_s=7200"), "{odd:?}");
        let archive = find("availability", "Archive");
        assert_eq!(&archive[7..12], ["", "", "", "", "no_data"]);
        let p2 = rows
            .iter()
            .find(|r| r[1] == "social" && r[4] == "response" && r[5] == "P2")
            .unwrap();
        assert_eq!(&p2[6..12], ["0.9", "", "0", "0", "2", "pending"]);
        let b = find("breach", "1");
        assert_eq!(&b[6..8], ["1800", "5400"]);
        assert!(b[12].contains(EVIL_HOST) && b[12].contains("ticket=INC0010001"));
        assert_eq!(find("breach", "7")[11], "breached_open");
        let comp: Vec<_> = rows
            .iter()
            .filter(|r| r[1] == "social" && r[4] == "compliance")
            .collect();
        assert_eq!(&comp[0][7..12], ["0.923077", "12", "1", "3", "measured"]);
        let patch = rows
            .iter()
            .find(|r| r[1] == "social" && r[4] == "patch_currency")
            .unwrap();
        assert_eq!((patch[7].as_str(), patch[11].as_str()), ("", "no_data"));
        assert_eq!(
            rows.iter()
                .filter(|r| r[1] == "schools" && r[11] == "no_data")
                .count(),
            2
        );
    }

    #[test]
    fn html_is_self_contained_and_escaped() {
        let h = html(&report(), &tz());
        assert!(h.starts_with("<!doctype html>"));
        assert!(h.contains("<meta charset=\"utf-8\">"));
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
        assert!(h.contains("web&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(h.contains("Case management, &quot;core&quot;"));
        assert!(h.contains(
            "<a href=\"https://desk.example/ticket?id=1&amp;view=2\" rel=\"noreferrer\">INC0010001</a>"
        ));
        assert!(
            h.contains("<td>77</td>"),
            "a non-http ticket URL is no link"
        );
        assert_eq!(h.matches("<svg").count(), 4);
        assert_eq!(h.matches("<svg").count(), h.matches("</svg>").count());
        assert_eq!(h.matches("<table").count(), h.matches("</table>").count());
        assert!(h.contains("href=\"#dept-1-social\"") && h.contains("id=\"dept-1-social\""));
        assert!(h.contains("so far, until 2026-11-10 00:00"));
        let archive_row = h
            .lines()
            .find(|l| l.starts_with("<tr><td>Archive</td>"))
            .expect("a row for Archive");
        assert!(
            archive_row.contains("<td class=\"nodata\">no data</td>"),
            "{archive_row}"
        );
        // In the chart: a "no data" label, and no bar for Archive.
        let g = h
            .split("<g><title>Archive: no data, target 99.500 %</title>")
            .nth(1)
            .unwrap();
        let g = &g[..g.find("</g>").unwrap()];
        assert!(g.contains(">no data</text>") && !g.contains("<rect"), "{g}");
    }

    #[test]
    fn no_data_is_never_a_figure() {
        let r = report();
        let tz = tz();
        for out in [markdown(&r, &tz), csv(&r, &tz), html(&r, &tz)] {
            assert!(!out.contains("100.000 %"));
            assert!(!out.contains(" 0.000 %") && !out.contains(">0.000 %"));
            assert!(!out.contains("NaN"));
        }
        let c = csv(&r, &tz);
        assert!(!c
            .lines()
            .any(|l| l.contains(",Archive,") && l.contains(",1,")));
    }

    #[test]
    fn a_complete_period_says_so() {
        let mut r = report();
        r.complete = true;
        r.measured_until_ms = r.period.to_ms;
        let tz = tz();
        for out in [markdown(&r, &tz), html(&r, &tz), csv(&r, &tz)] {
            assert!(!out.contains("so far"));
        }
        assert!(markdown(&r, &tz).contains("the whole period (until 2026-12-01 00:00)"));
        assert!(csv(&r, &tz)
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("2026-11,social,"));
    }

    #[test]
    fn formatting() {
        assert_eq!(pct(0.998996, 3), "99.899 %");
        assert_eq!(pct(0.99512, 3), "99.512 %");
        assert_eq!(pct(0.29, 1), "29.0 %");
        assert_eq!(pct(2.0 / 3.0, 1), "66.6 %");
        assert_eq!(pct(1.0, 3), "100.000 %");
        assert_eq!(pct_opt(None, 3), "no data");
        assert_eq!(pct_target(0.999, 3), "99.900 %");
        assert_eq!(pct_target(0.9995, 1), "99.95 %");
        assert_eq!(pct_target(0.9, 1), "90.0 %");
        assert_eq!(num(0.5, 6), "0.5");
        assert_eq!(num(1.0, 6), "1");
        assert_eq!(num(3600.0, 3), "3600");
        assert_eq!(secs(1_500), "1.5");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_text("=cmd()"), "'=cmd()");
        assert_eq!(md("a|b <c>"), "a\\|b \\<c\\>");
        assert_eq!(
            esc("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
        assert_eq!(
            safe_url(" HTTPS://x.example/a "),
            Some("HTTPS://x.example/a")
        );
        assert_eq!(safe_url("javascript:alert(1)"), None);
        assert_eq!(safe_url("https://"), None);
        assert_eq!(when(T0, &tz()), "2026-11-01 00:00");
        assert_eq!(anchor(0, "a b\"<"), "dept-1-a-b--");
        let (lo, step) = availability_axis(&report().departments[0].services);
        assert_eq!((lo, step), (90.0, 2.0));
    }

    #[test]
    fn unmonitored_time_is_shown_where_there_is_some() {
        let tz = tz();
        // Without any: the reports look as they always did.
        let r = report();
        for out in [markdown(&r, &tz), html(&r, &tz), csv(&r, &tz)] {
            assert!(!out.to_lowercase().contains("unmonitored"), "{out}");
        }
        // Social's case management had 1h30m of it: a column and a note in its
        // department, none in schools'.
        let mut r = report();
        let s = &mut r.departments[0].services[0];
        s.unmonitored_ms = 3 * H / 2;
        s.counted_ms -= 3 * H / 2;
        let m = markdown(&r, &tz);
        let social = &m[m.find("## Social").unwrap()..m.find("## Schools").unwrap()];
        assert!(
            social.contains("| Planned maintenance | Unmonitored | Status |"),
            "{m}"
        );
        let row = social
            .lines()
            .find(|l| l.starts_with(&format!("| {} |", md(ODD))))
            .unwrap();
        assert!(row.contains("| 2h | 1h | 1h30m | **missed** |"), "{row}");
        assert!(
            social.contains("| Archive | 0 | 99.500 % | no data | – | – | – | no data |"),
            "{social}"
        );
        assert!(social.contains("Unmonitored: time in which the monitoring itself was away"));
        let schools = &m[m.find("## Schools").unwrap()..];
        assert!(!schools.contains("Unmonitored"), "{schools}");
        // Every table row still has as many cells as its header.
        let mut cols = 0;
        for l in m.lines() {
            if !l.starts_with('|') {
                cols = 0;
                continue;
            }
            let n = l.replace("\\|", "").matches('|').count();
            if cols == 0 {
                cols = n;
            }
            assert_eq!(n, cols, "{l}");
        }
        let h = html(&r, &tz);
        assert_eq!(h.matches("<th>Unmonitored</th>").count(), 1);
        assert_eq!(
            h.matches("planned maintenance and unmonitored time left out")
                .count(),
            1
        );
        assert!(h.contains("<td class=\"num\">1h30m</td>"));
        let rows = parse_csv(&csv(&r, &tz));
        let odd = rows
            .iter()
            .find(|r| r[4] == "availability" && r[5] == ODD)
            .unwrap();
        assert!(
            odd[12].ends_with("; unmonitored_s=5400; hosts_unmonitored=0"),
            "{odd:?}"
        );
        let mail = rows
            .iter()
            .find(|r| r[4] == "availability" && r[5] == "Mail")
            .unwrap();
        assert!(!mail[12].contains("unmonitored"), "{mail:?}");
    }
}
