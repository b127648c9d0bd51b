//! The SLA report for people: [`markdown`] (mail, wikis, tickets), [`csv`] (one long
//! table for spreadsheets); the HTML report (one self-contained, printable file with charts,
//! in any console language) is the collector's (`console::report`). All are made from the
//! same [`SlaReport`], so they agree.
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
    Breach, ComplianceFigures, DepartmentReport, PriorityAttainment, ServiceAvailability, SlaReport,
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

/// A measured share in percent, truncated to `decimals` (see the module docs): what every
/// renderer shows, in any language.
pub fn percent_truncated(share: f64, decimals: usize) -> f64 {
    let scale = 10f64.powi(decimals as i32);
    // The small nudge keeps float noise (0.29 × 1000 = 289.99999…) from losing a digit.
    ((share * 100.0 * scale) + 1e-6).floor() / scale
}

/// How many decimals a target share needs in percent: at least `min`, more until it is
/// exact (0.9995 is 99.95 %), at most 6.
pub fn target_decimals(share: f64, min: usize) -> usize {
    let p = share * 100.0;
    let mut d = min;
    while d < 6 {
        let scaled = p * 10f64.powi(d as i32);
        if (scaled.round() - scaled).abs() < 1e-6 {
            break;
        }
        d += 1;
    }
    d
}

/// A measured share as a percentage with `decimals`, truncated (see the module docs).
fn pct(share: f64, decimals: usize) -> String {
    if !share.is_finite() {
        return NO_DATA.into();
    }
    let v = percent_truncated(share, decimals);
    format!("{v:.decimals$} %")
}

/// A target share as a percentage with at least `min_decimals`, more if it needs them.
fn pct_target(share: f64, min_decimals: usize) -> String {
    if !share.is_finite() {
        return NO_DATA.into();
    }
    let d = target_decimals(share, min_decimals);
    format!("{:.d$} %", share * 100.0)
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
        .map(|d| {
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
                Cell::Text(format!("{} ({})", d.name, d.id)),
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
                Cell::Text(o.incident_refs()),
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

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::example::{report, tz, EVIL_HOST, H, ODD, T0};

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
    fn no_data_is_never_a_figure() {
        let r = report();
        let tz = tz();
        for out in [markdown(&r, &tz), csv(&r, &tz)] {
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
        for out in [markdown(&r, &tz), csv(&r, &tz)] {
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
            safe_url(" HTTPS://x.example/a "),
            Some("HTTPS://x.example/a")
        );
        assert_eq!(safe_url("javascript:alert(1)"), None);
        assert_eq!(safe_url("https://"), None);
        assert_eq!(when(T0, &tz()), "2026-11-01 00:00");
    }

    #[test]
    fn unmonitored_time_is_shown_where_there_is_some() {
        let tz = tz();
        // Without any: the reports look as they always did.
        let r = report();
        for out in [markdown(&r, &tz), csv(&r, &tz)] {
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
