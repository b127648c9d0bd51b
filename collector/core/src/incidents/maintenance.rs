//! Maintenance windows (ITIL change management).
//!
//! A maintenance window is a planned period in which some conditions on some
//! hosts are expected and must not page anyone: the collector asks
//! [`Windows::active_for`] before raising a condition, and publishes
//! [`Windows::occurrences`] so the SLA clock can leave planned downtime out.
//!
//! # Document
//!
//! ```yaml
//! windows:
//!   - id: patch-tuesday-servers       # unique, a-z 0-9 _ -
//!     title: Monthly server patching  # optional, defaults to the id
//!     time_zone: Europe/Copenhagen    # IANA name, required
//!     # exactly one of once, weekly, monthly_nth, cron:
//!     once: {start: "2026-12-05T22:00", end: "2026-12-06T04:00"}
//!     weekly: {days: [tue, thu], start: "22:00", duration: 3h}
//!     monthly_nth: {weekday: tue, nth: 2, start: "22:00", duration: 4h}
//!     cron: {expr: "0 22 * * 2", duration: 3h}
//!     scope:                          # every key given must match; omitted = all
//!       department: [schools]         # any of, case-insensitive
//!       class: [server]               # any of, case-insensitive
//!       labels: {role: db}            # all of, exact
//!       hosts: ["srv-db-*"]           # any of, globs (* ?), case-insensitive
//!       checks: ["offline", "health/*"]  # any of, globs on check ids, case-sensitive
//!     until: "2027-06-30"             # recurring only: last day an occurrence may start
//! ```
//!
//! Deserialize a [`WindowsDoc`] (unknown keys are rejected by serde), then
//! [`Windows::compile`] it: that validates everything and returns *all*
//! problems at once as `(path, message)` pairs such as
//! `("windows[2].weekly.days[1]", "\"Mon\" is not a day: use mon, tue, ...")`.
//!
//! # Time semantics (decisions)
//!
//! * All civil times (`once`, `start`, cron fields, `until`) are wall-clock
//!   times in the window's `time_zone`.
//! * An occurrence is the half-open interval `[start, start + duration)`.
//! * A civil start time is turned into an instant with jiff's **compatible**
//!   disambiguation (the RFC 5545 / Temporal default):
//!   - in a DST *gap* the start moves forward by the length of the gap:
//!     a 02:30 window in Europe/Copenhagen on 2026-03-29 (02:00 → 03:00)
//!     starts at 03:30 CEST (01:30Z). The window is shifted, not skipped,
//!     and keeps its full duration;
//!   - in a DST *fold* the earlier instant (the summer-time offset) is used,
//!     so a 02:30 window on 2026-10-25 starts once, at 02:30 CEST (00:30Z),
//!     not twice.
//! * `duration` is elapsed time: a 3h window that crosses a DST change lasts
//!   3 real hours, so its wall-clock end moves by the DST delta (01:00 + 3h
//!   on 2026-10-25 ends at 03:00 CET, two wall-clock hours later).
//! * A window may run past midnight (22:00 + 6h covers 04:00 the next day)
//!   even when the next day is not one of its `days`: `days` selects the
//!   days on which occurrences *start*.
//! * `until` is the last civil date on which a recurring occurrence may
//!   start; that occurrence still runs its full duration.
//! * `once.end` is a civil time too, so a `once` window's length is the
//!   real time between the two resolved instants.
//!
//! # Cron
//!
//! The `cron:` schedule's dialect and day matching are described in [`super::cron`].
//!
//! # Efficiency
//!
//! [`Windows::active_for`] runs for every condition evaluation, so it never
//! walks a window's history. An occurrence containing `at` must have started
//! in `(at - duration, at]`, and `duration` is at most 7 days. That instant
//! range maps to a small range of *civil* start times (widened by the UTC
//! offsets the zone uses around it, see [`Window::is_active`]), so only the
//! at most ~9 calendar days in that range are examined, and the check stops
//! at the first occurrence that contains `at`. The cost is independent of
//! how long ago the window was defined or how far `until` lies.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;
use serde::Deserialize;

use super::cron::Cron;
use crate::text::glob_with;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Longest allowed recurring duration. It also bounds how far back
/// [`Window::is_active`] has to look.
pub const MAX_DURATION_MS: i64 = 7 * DAY_MS;
/// Recurring windows are evaluated for instants within about ±6,300 years
/// of 1970: well inside jiff's range, so the bound arithmetic below (a week
/// and a day either side) can never leave it.
const SAFE_MS: i64 = 200_000_000_000_000;
/// How long before an instant a DST gap may have begun and still have moved
/// a civil start onto that instant. One day covers every real gap, the
/// longest being the date-line skips (Pacific/Apia lost 2011-12-30).
const GAP_LOOKBACK_MS: i64 = DAY_MS;
const MAX_ID_LEN: usize = 64;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WEEKDAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];
const SCHEDULE_KINDS: &str = "once, weekly, monthly_nth, cron";

// ---------------------------------------------------------------------------
// Document (what serde reads)
// ---------------------------------------------------------------------------

/// The maintenance document as written. Required values are `Option`s so
/// that [`Windows::compile`] can report every missing one with its path,
/// instead of serde stopping at the first.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsDoc {
    #[serde(default)]
    pub windows: Vec<WindowDoc>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowDoc {
    pub id: Option<String>,
    pub title: Option<String>,
    pub time_zone: Option<String>,
    pub once: Option<OnceDoc>,
    pub weekly: Option<WeeklyDoc>,
    pub monthly_nth: Option<MonthlyNthDoc>,
    pub cron: Option<CronDoc>,
    pub scope: Option<ScopeDoc>,
    pub until: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnceDoc {
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyDoc {
    pub days: Option<Vec<String>>,
    pub start: Option<String>,
    pub duration: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthlyNthDoc {
    pub weekday: Option<String>,
    pub nth: Option<i64>,
    pub start: Option<String>,
    pub duration: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronDoc {
    pub expr: Option<String>,
    pub duration: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScopeDoc {
    pub department: Option<Vec<String>>,
    pub class: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub hosts: Option<Vec<String>>,
    pub checks: Option<Vec<String>>,
}

// ---------------------------------------------------------------------------
// Compiled model
// ---------------------------------------------------------------------------

/// The host a condition is about, as seen by scope matching.
#[derive(Debug, Clone, Copy)]
pub struct HostRef<'a> {
    pub hostname: &'a str,
    pub department: &'a str,
    pub class: &'a str,
    pub labels: &'a BTreeMap<String, String>,
}

/// Which hosts and checks a window covers. `None` means "not restricted".
/// Department and class compare case-insensitively (Unicode lower case),
/// host globs case-insensitively (`text::glob`), labels exactly and
/// check globs case-sensitively. In globs `*` matches any run of characters
/// (including `/` and `.`) and `?` exactly one character.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    departments: Option<Vec<String>>,
    classes: Option<Vec<String>>,
    labels: BTreeMap<String, String>,
    hosts: Option<Vec<String>>,
    checks: Option<Vec<String>>,
}

impl Scope {
    /// The departments it is limited to (lower case), if any.
    pub fn departments(&self) -> Option<&[String]> {
        self.departments.as_deref()
    }

    /// Is it limited to named hosts (or labels), which say more than a department?
    pub fn names_hosts(&self) -> bool {
        self.hosts.is_some() || !self.labels.is_empty()
    }

    /// Does the window cover this host? (Every restriction given must hold.)
    pub fn matches_host(&self, host: &HostRef) -> bool {
        any_or_all(&self.departments, |d| eq_fold(host.department, d))
            && any_or_all(&self.classes, |c| eq_fold(host.class, c))
            && self
                .labels
                .iter()
                .all(|(k, v)| host.labels.get(k).is_some_and(|hv| hv == v))
            && any_or_all(&self.hosts, |g| glob_with(g, host.hostname, true))
    }

    /// Does the window suppress this check id? (No `checks` = every check.)
    pub fn matches_check(&self, check: &str) -> bool {
        any_or_all(&self.checks, |g| glob_with(g, check, false))
    }

    pub fn matches(&self, host: &HostRef, check: &str) -> bool {
        self.matches_check(check) && self.matches_host(host)
    }
}

fn any_or_all(list: &Option<Vec<String>>, pred: impl Fn(&str) -> bool) -> bool {
    list.as_ref().is_none_or(|l| l.iter().any(|p| pred(p)))
}

/// `pattern` is stored already folded with [`fold`].
fn eq_fold(value: &str, pattern: &str) -> bool {
    value
        .chars()
        .flat_map(char::to_lowercase)
        .eq(pattern.chars())
}

fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// When a window recurs. Times are civil times in the window's zone;
/// durations are elapsed milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Resolved instants (Unix ms), `end_ms > start_ms`.
    Once {
        start_ms: i64,
        end_ms: i64,
    },
    /// `days[0]` is Monday.
    Weekly {
        days: [bool; 7],
        start: Time,
        duration_ms: i64,
    },
    /// `nth` is 1..=4, or -1 for the last such weekday of the month.
    MonthlyNth {
        weekday: Weekday,
        nth: i8,
        start: Time,
        duration_ms: i64,
    },
    Cron {
        cron: Cron,
        duration_ms: i64,
    },
}

impl Schedule {
    /// Length of one occurrence.
    pub fn duration_ms(&self) -> i64 {
        match *self {
            Schedule::Once { start_ms, end_ms } => end_ms - start_ms,
            Schedule::Weekly { duration_ms, .. }
            | Schedule::MonthlyNth { duration_ms, .. }
            | Schedule::Cron { duration_ms, .. } => duration_ms,
        }
    }
}

/// One compiled window.
#[derive(Debug, Clone)]
pub struct Window {
    pub id: String,
    pub title: String,
    pub time_zone: TimeZone,
    pub schedule: Schedule,
    pub scope: Scope,
    /// Last civil date (in `time_zone`) on which a recurring occurrence may start.
    pub until: Option<Date>,
}

/// A validated set of windows, in document order.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    windows: Vec<Window>,
}

impl Windows {
    /// Validates the whole document. On failure returns every problem found
    /// as `(path, message)`, in document order.
    pub fn compile(doc: WindowsDoc) -> Result<Windows, Vec<(String, String)>> {
        let mut errs = Vec::new();
        let mut ids: BTreeMap<String, String> = BTreeMap::new();
        let mut windows = Vec::with_capacity(doc.windows.len());
        for (i, w) in doc.windows.into_iter().enumerate() {
            if let Some(w) = compile_window(&format!("windows[{i}]"), w, &mut ids, &mut errs) {
                windows.push(w);
            }
        }
        if errs.is_empty() {
            Ok(Windows { windows })
        } else {
            Err(errs)
        }
    }

    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// These windows followed by one-off windows made as changes (through the API or
    /// CLI rather than the file): `(id, title, start_ms, end_ms, scope)`. They act exactly
    /// as a file's `once:` windows. Every problem is returned as `(path, message)`.
    pub fn with_changes(
        &self,
        changes: Vec<(String, String, i64, i64, ScopeDoc)>,
    ) -> Result<Windows, Errors> {
        let mut errs = Vec::new();
        let mut out = self.clone();
        for (id, title, start_ms, end_ms, scope) in changes {
            let p = format!("change window {id}");
            if self.get(&id).is_some() {
                push(&mut errs, p.clone(), "its id is a window of the file too");
            }
            if end_ms <= start_ms {
                push(&mut errs, p.clone(), "ends before it starts");
            }
            let scope = compile_scope(&format!("{p}.scope"), scope, &mut errs);
            out.windows.push(Window {
                id,
                title,
                time_zone: TimeZone::UTC,
                schedule: Schedule::Once { start_ms, end_ms },
                scope,
                until: None,
            });
        }
        if errs.is_empty() {
            Ok(out)
        } else {
            Err(errs)
        }
    }

    pub fn get(&self, id: &str) -> Option<&Window> {
        self.windows.iter().find(|w| w.id == id)
    }

    /// Is `check` on `host` inside a window at `at_ms` (Unix ms)? Returns
    /// the id of the first matching window in document order.
    ///
    /// Scope is tested first (cheap string work), then time via
    /// [`Window::is_active`], which looks back at most one duration instead
    /// of enumerating occurrences; see the module docs.
    pub fn active_for(&self, host: &HostRef, check: &str, at_ms: i64) -> Option<&str> {
        self.windows
            .iter()
            .find(|w| w.scope.matches(host, check) && w.is_active(at_ms))
            .map(|w| w.id.as_str())
    }

    /// Every occurrence overlapping `[from_ms, to_ms)` as
    /// `(window id, start_ms, end_ms)`, sorted by start, end, id. Occurrences
    /// are not clipped to the range (one that began before `from_ms` keeps
    /// its real start) and are listed per window even when they overlap;
    /// the caller unions them for SLA exclusion. The result grows with the
    /// range, so ask for the period being published, not for years of
    /// minute-level cron windows.
    pub fn occurrences(&self, from_ms: i64, to_ms: i64) -> Vec<(String, i64, i64)> {
        let mut out = Vec::new();
        for w in &self.windows {
            for (s, e) in w.occurrences(from_ms, to_ms) {
                out.push((w.id.clone(), s, e));
            }
        }
        out.sort_by(|a, b| (a.1, a.2, &a.0).cmp(&(b.1, b.2, &b.0)));
        out
    }
}

impl Window {
    pub fn applies_to(&self, host: &HostRef, check: &str) -> bool {
        self.scope.matches(host, check)
    }

    /// Is an occurrence of this window running at `at_ms`?
    ///
    /// An occurrence containing `at` started at an instant `s` with
    /// `at - duration < s <= at`. A civil start `c` resolves to `s = c - o`
    /// where `o` is the UTC offset in force at `s`, or (inside a DST gap)
    /// the one in force just before the gap, less than a day earlier. So
    /// `c` lies within `(at - duration + min_o, at + max_o]`, taking the
    /// extreme offsets the zone uses in `[at - duration - 1 day, at]`. Only
    /// the calendar days of that civil range are examined, latest first,
    /// stopping at the first hit: O(duration), never O(history).
    pub fn is_active(&self, at_ms: i64) -> bool {
        let d = match self.schedule {
            Schedule::Once { start_ms, end_ms } => return start_ms <= at_ms && at_ms < end_ms,
            ref s => s.duration_ms(),
        };
        if !(-SAFE_MS..=SAFE_MS).contains(&at_ms) {
            return false;
        }
        let lo = at_ms - d; // exclusive
        let Some((c_lo, c_hi)) = self.civil_bounds(lo, at_ms) else {
            return false;
        };
        let mut hit = false;
        self.each_start(c_lo, c_hi, true, &mut |c| match self.resolve(c) {
            Some(s) if s <= at_ms && at_ms < s + d => {
                hit = true;
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        });
        hit
    }

    /// This window's occurrences overlapping `[from_ms, to_ms)`, sorted,
    /// without duplicates, not clipped.
    pub fn occurrences(&self, from_ms: i64, to_ms: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        if from_ms >= to_ms {
            return out;
        }
        let d = match self.schedule {
            Schedule::Once { start_ms, end_ms } => {
                if start_ms < to_ms && end_ms > from_ms {
                    out.push((start_ms, end_ms));
                }
                return out;
            }
            ref s => s.duration_ms(),
        };
        let from_ms = from_ms.clamp(-SAFE_MS, SAFE_MS);
        let to_ms = to_ms.clamp(-SAFE_MS, SAFE_MS);
        let lo = from_ms - d; // starts must be > lo to end after from_ms
        let Some((c_lo, c_hi)) = self.civil_bounds(lo, to_ms) else {
            return out;
        };
        self.each_start(c_lo, c_hi, false, &mut |c| {
            if let Some(s) = self.resolve(c).filter(|&s| s > lo && s < to_ms) {
                out.push((s, s + d));
            }
            ControlFlow::Continue(())
        });
        // Gap shifts can reorder or merge civil starts.
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Civil datetime range that can hold the civil starts of every
    /// occurrence starting in `(lo_ms, hi_ms]` (see [`Window::is_active`]).
    fn civil_bounds(&self, lo_ms: i64, hi_ms: i64) -> Option<(DateTime, DateTime)> {
        let (min_o, max_o) = offset_range(&self.time_zone, lo_ms - GAP_LOOKBACK_MS, hi_ms)?;
        Some((min_o.to_datetime(ts(lo_ms)?), max_o.to_datetime(ts(hi_ms)?)))
    }

    /// Compatible disambiguation: gap → shifted forward, fold → earlier.
    fn resolve(&self, c: DateTime) -> Option<i64> {
        self.time_zone
            .to_timestamp(c)
            .ok()
            .map(|t| t.as_millisecond())
    }

    /// Calls `f` with every civil start time in `[lo, hi]` (and on or
    /// before `until`), ascending or descending, until `f` breaks.
    fn each_start(
        &self,
        lo: DateTime,
        hi: DateTime,
        descending: bool,
        f: &mut dyn FnMut(DateTime) -> ControlFlow<()>,
    ) {
        let first = lo.date();
        let last = match self.until {
            Some(u) if u < hi.date() => u,
            _ => hi.date(),
        };
        if first > last {
            return;
        }
        let mut day = if descending { last } else { first };
        loop {
            if self.each_start_on(day, lo, hi, descending, f).is_break() {
                return;
            }
            let next = if descending {
                if day <= first {
                    return;
                }
                day.yesterday()
            } else {
                if day >= last {
                    return;
                }
                day.tomorrow()
            };
            match next {
                Ok(d) => day = d,
                Err(_) => return,
            }
        }
    }

    fn each_start_on(
        &self,
        day: Date,
        lo: DateTime,
        hi: DateTime,
        descending: bool,
        f: &mut dyn FnMut(DateTime) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let mut visit = |c: DateTime| {
            if c < lo || c > hi {
                ControlFlow::Continue(())
            } else {
                f(c)
            }
        };
        match &self.schedule {
            Schedule::Once { .. } => ControlFlow::Continue(()),
            Schedule::Weekly { days, start, .. } => {
                if days[day.weekday().to_monday_zero_offset() as usize] {
                    visit(day.to_datetime(*start))
                } else {
                    ControlFlow::Continue(())
                }
            }
            Schedule::MonthlyNth {
                weekday,
                nth,
                start,
                ..
            } => {
                if is_nth_weekday(day, *weekday, *nth) {
                    visit(day.to_datetime(*start))
                } else {
                    ControlFlow::Continue(())
                }
            }
            Schedule::Cron { cron, .. } => {
                if !cron.day_matches(day) {
                    return ControlFlow::Continue(());
                }
                for h in Bits::new(cron.hours, descending) {
                    if (day == lo.date() && h < lo.hour()) || (day == hi.date() && h > hi.hour()) {
                        continue;
                    }
                    for m in Bits::new(cron.minutes, descending) {
                        visit(day.at(h, m, 0, 0))?;
                    }
                }
                ControlFlow::Continue(())
            }
        }
    }
}

fn is_nth_weekday(day: Date, weekday: Weekday, nth: i8) -> bool {
    day.weekday() == weekday
        && if nth > 0 {
            (day.day() - 1) / 7 + 1 == nth
        } else {
            day.day() + 7 > day.days_in_month()
        }
}

fn ts(ms: i64) -> Option<Timestamp> {
    Timestamp::from_millisecond(ms).ok()
}

/// Smallest and largest UTC offset `tz` uses at any instant in `[from, to]`.
fn offset_range(tz: &TimeZone, from_ms: i64, to_ms: i64) -> Option<(Offset, Offset)> {
    let (from, to) = (ts(from_ms)?, ts(to_ms)?);
    let (a, b) = (tz.to_offset(from), tz.to_offset(to));
    let (mut min, mut max) = if a.seconds() <= b.seconds() {
        (a, b)
    } else {
        (b, a)
    };
    for t in tz.preceding(to) {
        if t.timestamp() <= from {
            break;
        }
        let o = t.offset();
        if o.seconds() < min.seconds() {
            min = o;
        }
        if o.seconds() > max.seconds() {
            max = o;
        }
    }
    Some((min, max))
}

/// Iterates the set bits of a mask, low to high or high to low.
struct Bits {
    mask: u64,
    descending: bool,
}

impl Bits {
    fn new(mask: u64, descending: bool) -> Bits {
        Bits { mask, descending }
    }
}

impl Iterator for Bits {
    type Item = i8;
    fn next(&mut self) -> Option<i8> {
        if self.mask == 0 {
            return None;
        }
        let b = if self.descending {
            63 - self.mask.leading_zeros()
        } else {
            self.mask.trailing_zeros()
        };
        self.mask &= !(1u64 << b);
        Some(b as i8)
    }
}

// ---------------------------------------------------------------------------
// Compilation
// ---------------------------------------------------------------------------

pub type Errors = Vec<(String, String)>;

fn push(errs: &mut Errors, path: impl Into<String>, msg: impl Into<String>) {
    errs.push((path.into(), msg.into()));
}

/// A required string value run through `parse`; errors go to `path`.
fn required<T>(
    errs: &mut Errors,
    path: String,
    value: Option<String>,
    missing: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<T> {
    match value {
        None => {
            push(errs, path, format!("required: {missing}"));
            None
        }
        Some(v) => match parse(&v) {
            Ok(t) => Some(t),
            Err(m) => {
                push(errs, path, m);
                None
            }
        },
    }
}

fn compile_window(
    p: &str,
    w: WindowDoc,
    ids: &mut BTreeMap<String, String>,
    errs: &mut Errors,
) -> Option<Window> {
    let errors_before = errs.len();

    let id = w.id.unwrap_or_default();
    let id_path = format!("{p}.id");
    if id.is_empty() {
        push(errs, id_path, "required: a unique id of a-z, 0-9, _ and -");
    } else if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        push(
            errs,
            id_path,
            format!("{id:?} contains {c:?}: use only a-z, 0-9, _ and -"),
        );
    } else if id.len() > MAX_ID_LEN {
        push(
            errs,
            id_path,
            format!("{id:?} is longer than {MAX_ID_LEN} characters"),
        );
    } else if let Some(first) = ids.get(&id) {
        push(
            errs,
            id_path,
            format!("{id:?} is already the id of {first}"),
        );
    } else {
        ids.insert(id.clone(), p.to_string());
    }

    let title = match w.title {
        Some(t) if t.trim().is_empty() => {
            push(
                errs,
                format!("{p}.title"),
                "must not be empty (leave it out to use the id)",
            );
            String::new()
        }
        Some(t) => t,
        None => id.clone(),
    };

    let time_zone = required(
        errs,
        format!("{p}.time_zone"),
        w.time_zone,
        "an IANA time zone name, like Europe/Copenhagen",
        |name| {
            TimeZone::get(name).map_err(|_| {
                format!(
                    "unknown time zone {name:?}: use an IANA name, like Europe/Copenhagen or UTC"
                )
            })
        },
    );

    let given: Vec<&str> = [
        ("once", w.once.is_some()),
        ("weekly", w.weekly.is_some()),
        ("monthly_nth", w.monthly_nth.is_some()),
        ("cron", w.cron.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, g)| g.then_some(k))
    .collect();
    match given.len() {
        0 => push(
            errs,
            p,
            format!("no schedule: give exactly one of {SCHEDULE_KINDS}"),
        ),
        1 => {}
        _ => push(
            errs,
            p,
            format!(
                "{} given: give exactly one of {SCHEDULE_KINDS}",
                given.join(" and ")
            ),
        ),
    }
    let is_once = w.once.is_some();

    let mut schedule = None;
    if let Some(o) = w.once {
        schedule = schedule.or(compile_once(
            &format!("{p}.once"),
            o,
            time_zone.as_ref(),
            errs,
        ));
    }
    if let Some(wk) = w.weekly {
        schedule = schedule.or(compile_weekly(&format!("{p}.weekly"), wk, errs));
    }
    if let Some(m) = w.monthly_nth {
        schedule = schedule.or(compile_monthly_nth(&format!("{p}.monthly_nth"), m, errs));
    }
    if let Some(c) = w.cron {
        let cp = format!("{p}.cron");
        let cron = required(
            errs,
            format!("{cp}.expr"),
            c.expr,
            "a 5-field cron expression, like \"0 22 * * 2\"",
            Cron::parse,
        );
        let duration_ms = required(
            errs,
            format!("{cp}.duration"),
            c.duration,
            "like 30m, 3h or 1h30m",
            parse_duration,
        );
        if let (Some(cron), Some(duration_ms)) = (cron, duration_ms) {
            schedule = schedule.or(Some(Schedule::Cron { cron, duration_ms }));
        }
    }

    let until = match w.until {
        None => None,
        Some(_) if is_once => {
            push(
                errs,
                format!("{p}.until"),
                "until is for recurring windows (weekly, monthly_nth, cron); a once window has its own end",
            );
            None
        }
        Some(u) => match parse_date(&u) {
            Ok(d) => Some(d),
            Err(m) => {
                push(errs, format!("{p}.until"), m);
                None
            }
        },
    };

    let scope = compile_scope(&format!("{p}.scope"), w.scope.unwrap_or_default(), errs);

    if errs.len() != errors_before {
        return None;
    }
    Some(Window {
        id,
        title,
        time_zone: time_zone?,
        schedule: schedule?,
        scope,
        until,
    })
}

fn compile_once(p: &str, o: OnceDoc, tz: Option<&TimeZone>, errs: &mut Errors) -> Option<Schedule> {
    const HINT: &str = "a date and time, like 2026-12-05T22:00";
    let start = required(errs, format!("{p}.start"), o.start, HINT, parse_datetime);
    let end = required(errs, format!("{p}.end"), o.end, HINT, parse_datetime);
    let (start, end) = (start?, end?);
    if end <= start {
        push(
            errs,
            format!("{p}.end"),
            format!("end {end} is not after start {start}"),
        );
        return None;
    }
    let tz = tz?;
    let resolve = |c: DateTime| tz.to_timestamp(c).ok().map(|t| t.as_millisecond());
    match (resolve(start), resolve(end)) {
        (Some(start_ms), Some(end_ms)) if end_ms > start_ms => {
            Some(Schedule::Once { start_ms, end_ms })
        }
        (Some(_), Some(_)) => {
            push(
                errs,
                format!("{p}.end"),
                format!("end {end} is not after start {start} once the daylight-saving change between them is applied"),
            );
            None
        }
        _ => {
            push(errs, p, "outside the supported range of dates");
            None
        }
    }
}

fn compile_weekly(p: &str, wk: WeeklyDoc, errs: &mut Errors) -> Option<Schedule> {
    let days = match wk.days {
        None => {
            push(
                errs,
                format!("{p}.days"),
                "required: a list of days, like [tue, thu]",
            );
            None
        }
        Some(list) if list.is_empty() => {
            push(
                errs,
                format!("{p}.days"),
                "must list at least one day, like [tue, thu]",
            );
            None
        }
        Some(list) => {
            let mut mask = [false; 7];
            let mut ok = true;
            for (j, name) in list.iter().enumerate() {
                match parse_day(name) {
                    Ok(k) if mask[k] => {
                        push(
                            errs,
                            format!("{p}.days[{j}]"),
                            format!("{name} is listed twice"),
                        );
                        ok = false;
                    }
                    Ok(k) => mask[k] = true,
                    Err(m) => {
                        push(errs, format!("{p}.days[{j}]"), m);
                        ok = false;
                    }
                }
            }
            ok.then_some(mask)
        }
    };
    let start = required(
        errs,
        format!("{p}.start"),
        wk.start,
        "a time of day, like 22:00",
        parse_hhmm,
    );
    let duration_ms = required(
        errs,
        format!("{p}.duration"),
        wk.duration,
        "like 30m, 3h or 1h30m",
        parse_duration,
    );
    Some(Schedule::Weekly {
        days: days?,
        start: start?,
        duration_ms: duration_ms?,
    })
}

fn compile_monthly_nth(p: &str, m: MonthlyNthDoc, errs: &mut Errors) -> Option<Schedule> {
    let weekday = required(
        errs,
        format!("{p}.weekday"),
        m.weekday,
        "a day, like tue",
        |s| parse_day(s).map(|k| WEEKDAYS[k]),
    );
    let nth = match m.nth {
        None => {
            push(
                errs,
                format!("{p}.nth"),
                "required: 1, 2, 3, 4 or -1 (last)",
            );
            None
        }
        Some(n @ (1..=4 | -1)) => Some(n as i8),
        Some(n) => {
            push(
                errs,
                format!("{p}.nth"),
                format!(
                    "{n} is not allowed: use 1, 2, 3, 4 or -1 (last); not every month has a 5th"
                ),
            );
            None
        }
    };
    let start = required(
        errs,
        format!("{p}.start"),
        m.start,
        "a time of day, like 22:00",
        parse_hhmm,
    );
    let duration_ms = required(
        errs,
        format!("{p}.duration"),
        m.duration,
        "like 30m, 3h or 1h30m",
        parse_duration,
    );
    Some(Schedule::MonthlyNth {
        weekday: weekday?,
        nth: nth?,
        start: start?,
        duration_ms: duration_ms?,
    })
}

pub fn compile_scope(p: &str, s: ScopeDoc, errs: &mut Errors) -> Scope {
    let mut list =
        |key: &str, v: Option<Vec<String>>, norm: fn(&str) -> String| -> Option<Vec<String>> {
            let v = v?;
            if v.is_empty() {
                push(
                    errs,
                    format!("{p}.{key}"),
                    format!("an empty list matches nothing: leave {key} out to match everything"),
                );
            }
            for (j, item) in v.iter().enumerate() {
                if item.trim().is_empty() {
                    push(errs, format!("{p}.{key}[{j}]"), "must not be empty");
                }
            }
            Some(v.iter().map(|i| norm(i)).collect())
        };
    let departments = list("department", s.department, fold);
    let classes = list("class", s.class, fold);
    let hosts = list("hosts", s.hosts, str::to_string);
    let checks = list("checks", s.checks, str::to_string);
    let labels = s.labels.unwrap_or_default();
    if labels.keys().any(|k| k.trim().is_empty()) {
        push(errs, format!("{p}.labels"), "label names must not be empty");
    }
    Scope {
        departments,
        classes,
        labels,
        hosts,
        checks,
    }
}

fn parse_day(s: &str) -> Result<usize, String> {
    DAY_NAMES
        .iter()
        .position(|d| *d == s)
        .ok_or_else(|| format!("{s:?} is not a day: use {}", DAY_NAMES.join(", ")))
}

fn digits(s: &str) -> Option<i32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `H:MM` or `HH:MM`, 00:00 to 23:59.
fn parse_hhmm(s: &str) -> Result<Time, String> {
    let bad = || format!("{s:?} is not a time of day: use HH:MM, like 22:00");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m) = (digits(h).ok_or_else(bad)?, digits(m).ok_or_else(bad)?);
    Time::new(h as i8, m as i8, 0, 0).map_err(|_| bad())
}

/// `YYYY-MM-DD`.
fn parse_date(s: &str) -> Result<Date, String> {
    let bad = || format!("{s:?} is not a date: use YYYY-MM-DD, like 2027-06-30");
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts[..] else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (y, m, d) = (
        digits(y).ok_or_else(bad)?,
        digits(m).ok_or_else(bad)?,
        digits(d).ok_or_else(bad)?,
    );
    Date::new(y as i16, m as i8, d as i8).map_err(|_| bad())
}

/// `YYYY-MM-DDTHH:MM` (a space instead of `T` is accepted). No offset:
/// the window's time zone applies.
fn parse_datetime(s: &str) -> Result<DateTime, String> {
    let bad =
        || format!("{s:?} is not a date and time: use YYYY-MM-DDTHH:MM, like 2026-12-05T22:00");
    let (d, t) = s.split_once(['T', ' ']).ok_or_else(bad)?;
    let date = parse_date(d).map_err(|_| bad())?;
    let time = parse_hhmm(t).map_err(|_| bad())?;
    Ok(date.to_datetime(time))
}

/// A duration in the syntax every Tilsyn config uses (`30m`, `3h`, `1h30m`, `2d`; see
/// `tilsyn_proto::duration`), more than zero and at most 7d.
fn parse_duration(s: &str) -> Result<i64, String> {
    if s.trim_start().starts_with('-') {
        return Err(format!("{s:?}: a duration must be positive"));
    }
    let d =
        tilsyn_proto::duration::parse(s).map_err(|e| format!("{s:?} is not a duration: {e}"))?;
    let total = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    if total == 0 {
        return Err(format!("{s:?}: a duration must be longer than zero"));
    }
    if total > MAX_DURATION_MS {
        return Err(format!("{s:?} is too long: at most 7d"));
    }
    Ok(total)
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    const CPH: &str = "Europe/Copenhagen";

    fn doc(yaml: &str) -> WindowsDoc {
        serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("yaml: {e}"))
    }

    fn compile(yaml: &str) -> Windows {
        Windows::compile(doc(yaml)).unwrap_or_else(|e| panic!("compile errors: {e:#?}"))
    }

    fn errors(yaml: &str) -> Vec<(String, String)> {
        match Windows::compile(doc(yaml)) {
            Ok(_) => panic!("expected errors"),
            Err(e) => e,
        }
    }

    fn has_error(errs: &[(String, String)], path: &str, needle: &str) -> bool {
        errs.iter().any(|(p, m)| p == path && m.contains(needle))
    }

    #[track_caller]
    fn assert_error(errs: &[(String, String)], path: &str, needle: &str) {
        assert!(
            has_error(errs, path, needle),
            "no error at {path} containing {needle:?} in {errs:#?}"
        );
    }

    fn utc(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn change_windows_act_as_once_windows_beside_the_files() {
        let file = compile("windows:\n  - {id: nightly, time_zone: UTC, weekly: {days: [mon], start: \"02:00\", duration: 1h}}\n");
        let scope = ScopeDoc {
            department: Some(vec!["Schools".into()]),
            ..Default::default()
        };
        let (from, to) = (utc("2026-12-05T10:00:00Z"), utc("2026-12-05T12:00:00Z"));
        let w = file
            .with_changes(vec![("chg-1".into(), "SQL patch".into(), from, to, scope)])
            .unwrap();
        let labels = BTreeMap::new();
        let host = |d: &'static str| HostRef {
            hostname: "pc1",
            department: d,
            class: "server",
            labels: &labels,
        };
        assert_eq!(w.windows().len(), 2);
        assert_eq!(
            w.active_for(&host("schools"), "offline", from + 1),
            Some("chg-1")
        );
        assert_eq!(w.active_for(&host("social"), "offline", from + 1), None);
        assert_eq!(w.active_for(&host("schools"), "offline", to), None);
        assert_eq!(
            w.occurrences(from - 1, to + 1),
            [("chg-1".to_string(), from, to)]
        );
        let e = file
            .with_changes(vec![(
                "nightly".into(),
                String::new(),
                to,
                from,
                ScopeDoc::default(),
            )])
            .unwrap_err();
        assert_error(&e, "change window nightly", "file too");
        assert_error(&e, "change window nightly", "ends before it starts");
    }

    fn local(tz: &str, s: &str) -> i64 {
        TimeZone::get(tz)
            .unwrap()
            .to_timestamp(s.parse::<DateTime>().unwrap())
            .unwrap()
            .as_millisecond()
    }

    /// Local rendering with offset, e.g. `2026-03-29T03:30+02:00`.
    fn show(tz: &str, ms: i64) -> String {
        Timestamp::from_millisecond(ms)
            .unwrap()
            .to_zoned(TimeZone::get(tz).unwrap())
            .strftime("%Y-%m-%dT%H:%M%:z")
            .to_string()
    }

    fn shown(tz: &str, occ: &[(String, i64, i64)]) -> Vec<(String, String, String)> {
        occ.iter()
            .map(|(id, s, e)| (id.clone(), show(tz, *s), show(tz, *e)))
            .collect()
    }

    fn starts(tz: &str, occ: &[(String, i64, i64)]) -> Vec<String> {
        occ.iter().map(|(_, s, _)| show(tz, *s)).collect()
    }

    fn one(kind: &str) -> Windows {
        compile(&format!(
            "windows:\n  - id: w\n    time_zone: {CPH}\n    {kind}\n"
        ))
    }

    fn active(ws: &Windows, at_ms: i64) -> bool {
        let labels = BTreeMap::new();
        let host = HostRef {
            hostname: "h",
            department: "d",
            class: "c",
            labels: &labels,
        };
        ws.active_for(&host, "offline", at_ms).is_some()
    }

    // --- document --------------------------------------------------------

    #[test]
    fn example_document_compiles() {
        let ws = compile(
            r#"
windows:
  - id: move-datacenter
    title: Datacenter move
    time_zone: Europe/Copenhagen
    once: {start: "2026-12-05T22:00", end: "2026-12-06T04:00"}
  - id: patch-tuesday-servers
    title: Monthly server patching
    time_zone: Europe/Copenhagen
    monthly_nth: {weekday: tue, nth: 2, start: "22:00", duration: 4h}
    scope:
      department: [schools]
      class: [server]
      labels: {role: db}
      hosts: ["srv-db-*"]
      checks: ["offline", "health/*"]
    until: "2027-06-30"
  - id: backups
    time_zone: UTC
    weekly: {days: [tue, thu], start: 22:00, duration: 1h30m}
  - id: cron-window
    time_zone: America/New_York
    cron: {expr: "0 22 * * 2", duration: 3h}
"#,
        );
        assert_eq!(ws.windows().len(), 4);
        let w = ws.get("patch-tuesday-servers").unwrap();
        assert_eq!(w.title, "Monthly server patching");
        assert_eq!(w.until, Some(jiff::civil::date(2027, 6, 30)));
        // Title defaults to the id; unquoted 22:00 reads as a string.
        let b = ws.get("backups").unwrap();
        assert_eq!(b.title, "backups");
        assert_eq!(b.schedule.duration_ms(), 90 * MINUTE_MS);
        assert_eq!(
            ws.get("move-datacenter").unwrap().schedule,
            Schedule::Once {
                start_ms: utc("2026-12-05T21:00Z"),
                end_ms: utc("2026-12-06T03:00Z")
            }
        );
    }

    #[test]
    fn unknown_keys_are_rejected_by_serde() {
        let r: Result<WindowsDoc, _> =
            serde_yaml::from_str("windows:\n  - id: a\n    tittle: x\n    time_zone: UTC\n");
        assert!(r.unwrap_err().to_string().contains("tittle"));
        let r: Result<WindowsDoc, _> = serde_yaml::from_str(
            "windows:\n  - id: a\n    time_zone: UTC\n    weekly: {days: [mon], start: '1:00', duration: 1h, every: 2}\n",
        );
        assert!(r.is_err());
        assert!(serde_yaml::from_str::<WindowsDoc>("window: []\n").is_err());
    }

    #[test]
    fn empty_document_is_valid() {
        let ws = compile("windows: []\n");
        assert!(ws.windows().is_empty());
        assert!(!active(&ws, 0));
        assert!(ws.occurrences(0, DAY_MS).is_empty());
    }

    // --- basic weekly and midnight ----------------------------------------

    #[test]
    fn weekly_basic_half_open() {
        let ws = one("weekly: {days: [tue, thu], start: '22:00', duration: 3h}");
        // 2026-06-02 is a Tuesday.
        assert!(!active(&ws, local(CPH, "2026-06-02T21:59:59")));
        assert!(active(&ws, local(CPH, "2026-06-02T22:00")));
        assert!(active(&ws, local(CPH, "2026-06-03T00:59:59")));
        assert!(!active(&ws, local(CPH, "2026-06-03T01:00")));
        assert!(!active(&ws, local(CPH, "2026-06-03T22:30"))); // Wednesday
        assert!(active(&ws, local(CPH, "2026-06-04T22:30"))); // Thursday
    }

    #[test]
    fn window_across_midnight_covers_next_morning_even_if_next_day_not_listed() {
        let ws = one("weekly: {days: [fri], start: '22:00', duration: 6h}");
        // Friday 2026-06-05 22:00 → Saturday 04:00; Saturday is not listed.
        assert!(active(&ws, local(CPH, "2026-06-05T23:30")));
        assert!(active(&ws, local(CPH, "2026-06-06T00:00")));
        assert!(active(&ws, local(CPH, "2026-06-06T03:59")));
        assert!(!active(&ws, local(CPH, "2026-06-06T04:00")));
        assert!(!active(&ws, local(CPH, "2026-06-06T22:30")));
        // Also for a Sunday start running into Monday (week wrap).
        let ws = one("weekly: {days: [sun], start: '22:00', duration: 6h}");
        assert!(active(&ws, local(CPH, "2026-06-08T03:00")));
        assert!(!active(&ws, local(CPH, "2026-06-09T03:00")));
    }

    #[test]
    fn long_window_spans_several_days() {
        let ws = one("weekly: {days: [mon], start: '08:00', duration: 7d}");
        // Always active: each occurrence ends exactly as the next starts.
        for h in 0..(24 * 14) {
            assert!(active(
                &ws,
                local(CPH, "2026-06-01T00:00") + h * HOUR_MS + 17 * MINUTE_MS
            ));
        }
    }

    // --- DST ------------------------------------------------------------

    #[test]
    fn dst_gap_shifts_start_forward_compatible() {
        // 2026-03-29 (Sunday): 02:00 CET → 03:00 CEST; 02:30 does not exist.
        let ws = one("weekly: {days: [sun], start: '02:30', duration: 1h}");
        let occ = ws.occurrences(
            local(CPH, "2026-03-22T00:00"),
            local(CPH, "2026-04-06T00:00"),
        );
        assert_eq!(
            shown(CPH, &occ),
            vec![
                (
                    "w".into(),
                    "2026-03-22T02:30+01:00".into(),
                    "2026-03-22T03:30+01:00".into()
                ),
                // Shifted by the gap: 03:30 CEST, still one real hour long.
                (
                    "w".into(),
                    "2026-03-29T03:30+02:00".into(),
                    "2026-03-29T04:30+02:00".into()
                ),
                (
                    "w".into(),
                    "2026-04-05T02:30+02:00".into(),
                    "2026-04-05T03:30+02:00".into()
                ),
            ]
        );
        assert_eq!(occ[1].1, utc("2026-03-29T01:30Z"));
        assert!(!active(&ws, utc("2026-03-29T01:29:59Z"))); // 03:29 CEST
        assert!(active(&ws, utc("2026-03-29T01:30Z"))); // 03:30 CEST
        assert!(active(&ws, utc("2026-03-29T02:29:59Z")));
        assert!(!active(&ws, utc("2026-03-29T02:30Z")));
    }

    #[test]
    fn dst_fold_uses_earlier_offset_once() {
        // 2026-10-25 (Sunday): 03:00 CEST → 02:00 CET; 02:30 happens twice.
        let ws = one("weekly: {days: [sun], start: '02:30', duration: 1h}");
        let occ = ws.occurrences(
            local(CPH, "2026-10-25T00:00"),
            local(CPH, "2026-10-26T00:00"),
        );
        assert_eq!(
            shown(CPH, &occ),
            vec![(
                "w".into(),
                "2026-10-25T02:30+02:00".into(),
                "2026-10-25T02:30+01:00".into()
            )]
        );
        assert_eq!(occ[0].1, utc("2026-10-25T00:30Z"));
        assert!(active(&ws, utc("2026-10-25T01:29:59Z")));
        // The second 02:30 (CET) is not another start.
        assert!(!active(&ws, utc("2026-10-25T01:30Z")));
        assert!(!active(&ws, utc("2026-10-25T02:00Z")));
    }

    #[test]
    fn three_hour_window_across_autumn_fold_lasts_three_real_hours() {
        let ws = one("weekly: {days: [sun], start: '01:00', duration: 3h}");
        let occ = ws.occurrences(
            local(CPH, "2026-10-25T00:00"),
            local(CPH, "2026-10-26T00:00"),
        );
        assert_eq!(occ.len(), 1);
        let (_, s, e) = occ[0];
        assert_eq!(e - s, 3 * HOUR_MS);
        assert_eq!(s, utc("2026-10-24T23:00Z"));
        // Wall clock: 01:00 CEST → 03:00 CET (two wall-clock hours).
        assert_eq!(show(CPH, s), "2026-10-25T01:00+02:00");
        assert_eq!(show(CPH, e), "2026-10-25T03:00+01:00");
        assert!(active(&ws, utc("2026-10-25T01:59:59Z")));
        assert!(!active(&ws, utc("2026-10-25T02:00Z")));
        // And across the spring gap: 01:00 CET + 3h = 05:00 CEST.
        let occ = ws.occurrences(
            local(CPH, "2026-03-29T00:00"),
            local(CPH, "2026-03-30T00:00"),
        );
        assert_eq!(show(CPH, occ[0].2), "2026-03-29T05:00+02:00");
        assert_eq!(occ[0].2 - occ[0].1, 3 * HOUR_MS);
    }

    #[test]
    fn once_in_gap_and_reversed_by_gap() {
        let ws = one("once: {start: '2026-03-29T02:15', end: '2026-03-29T05:00'}");
        assert_eq!(
            ws.windows()[0].schedule,
            Schedule::Once {
                start_ms: utc("2026-03-29T01:15Z"),
                end_ms: utc("2026-03-29T03:00Z")
            }
        );
        // 02:59 shifts to 03:59 CEST, after 03:30: rejected.
        let errs = errors(&format!(
            "windows:\n  - id: w\n    time_zone: {CPH}\n    once: {{start: '2026-03-29T02:59', end: '2026-03-29T03:30'}}\n"
        ));
        assert_error(&errs, "windows[0].once.end", "daylight-saving");
    }

    // --- monthly_nth ----------------------------------------------------

    #[test]
    fn monthly_second_tuesday() {
        let ws = one("monthly_nth: {weekday: tue, nth: 2, start: '22:00', duration: 4h}");
        let occ = ws.occurrences(
            local(CPH, "2026-01-01T00:00"),
            local(CPH, "2026-07-01T00:00"),
        );
        assert_eq!(
            starts(CPH, &occ),
            vec![
                "2026-01-13T22:00+01:00",
                "2026-02-10T22:00+01:00",
                "2026-03-10T22:00+01:00",
                "2026-04-14T22:00+02:00",
                "2026-05-12T22:00+02:00",
                "2026-06-09T22:00+02:00",
            ]
        );
        assert!(active(&ws, local(CPH, "2026-04-15T01:59")));
        assert!(!active(&ws, local(CPH, "2026-04-15T02:00")));
        assert!(!active(&ws, local(CPH, "2026-04-07T23:00"))); // 1st Tuesday
        assert!(!active(&ws, local(CPH, "2026-04-21T23:00"))); // 3rd Tuesday
    }

    #[test]
    fn monthly_last_weekday() {
        let ws = one("monthly_nth: {weekday: fri, nth: -1, start: '18:00', duration: 2h}");
        let occ = ws.occurrences(
            local(CPH, "2026-01-01T00:00"),
            local(CPH, "2026-07-01T00:00"),
        );
        let days: Vec<String> = starts(CPH, &occ)
            .iter()
            .map(|s| s[..10].to_string())
            .collect();
        assert_eq!(
            days,
            [
                "2026-01-30",
                "2026-02-27",
                "2026-03-27",
                "2026-04-24",
                "2026-05-29",
                "2026-06-26"
            ]
        );
        // Last Sunday, including a 31-day month where it is the 31st.
        let ws = one("monthly_nth: {weekday: sun, nth: -1, start: '03:00', duration: 1h}");
        let occ = ws.occurrences(
            local(CPH, "2026-05-01T00:00"),
            local(CPH, "2026-07-01T00:00"),
        );
        assert_eq!(
            starts(CPH, &occ),
            ["2026-05-31T03:00+02:00", "2026-06-28T03:00+02:00"]
        );
    }

    #[test]
    fn monthly_first_and_fourth() {
        assert!(is_nth_weekday(
            jiff::civil::date(2026, 6, 1),
            Weekday::Monday,
            1
        ));
        assert!(!is_nth_weekday(
            jiff::civil::date(2026, 6, 8),
            Weekday::Monday,
            1
        ));
        assert!(is_nth_weekday(
            jiff::civil::date(2026, 6, 22),
            Weekday::Monday,
            4
        ));
        assert!(!is_nth_weekday(
            jiff::civil::date(2026, 6, 29),
            Weekday::Monday,
            4
        ));
        assert!(is_nth_weekday(
            jiff::civil::date(2026, 6, 29),
            Weekday::Monday,
            -1
        ));
        assert!(is_nth_weekday(
            jiff::civil::date(2026, 2, 28),
            Weekday::Saturday,
            4
        ));
        assert!(is_nth_weekday(
            jiff::civil::date(2026, 2, 28),
            Weekday::Saturday,
            -1
        ));
    }

    // --- cron -----------------------------------------------------------

    #[test]
    fn cron_vixie_or_when_both_day_fields_restricted() {
        let ws = one("cron: {expr: '0 22 1 * mon', duration: 1h}");
        let occ = ws.occurrences(
            local(CPH, "2026-06-01T00:00"),
            local(CPH, "2026-07-08T00:00"),
        );
        let days: Vec<String> = starts(CPH, &occ)
            .iter()
            .map(|s| s[..16].to_string())
            .collect();
        assert_eq!(
            days,
            [
                "2026-06-01T22:00", // Monday and the 1st: once
                "2026-06-08T22:00",
                "2026-06-15T22:00",
                "2026-06-22T22:00",
                "2026-06-29T22:00",
                "2026-07-01T22:00", // Wednesday, the 1st
                "2026-07-06T22:00",
            ]
        );
    }

    #[test]
    fn cron_and_when_one_day_field_is_star() {
        let c = Cron::parse("0 22 * * mon").unwrap();
        assert!(c.day_matches(jiff::civil::date(2026, 6, 8)));
        assert!(!c.day_matches(jiff::civil::date(2026, 6, 9)));
        let c = Cron::parse("0 22 1 * *").unwrap();
        assert!(c.day_matches(jiff::civil::date(2026, 7, 1)));
        assert!(!c.day_matches(jiff::civil::date(2026, 7, 6)));
        // Vixie quirk: a field starting with '*' counts as unrestricted → AND.
        let c = Cron::parse("0 0 */2 * mon").unwrap();
        assert!(c.day_matches(jiff::civil::date(2026, 6, 1))); // odd day, Monday
        assert!(!c.day_matches(jiff::civil::date(2026, 6, 8))); // even day, Monday
        assert!(!c.day_matches(jiff::civil::date(2026, 6, 3))); // odd day, Wednesday
    }

    #[test]
    fn cron_field_parsing() {
        let c = Cron::parse("*/15 9-17/2 * jan,JUL mon-fri").unwrap();
        assert_eq!(c.minutes, 1 | 1 << 15 | 1 << 30 | 1 << 45);
        assert_eq!(c.hours, 1 << 9 | 1 << 11 | 1 << 13 | 1 << 15 | 1 << 17);
        assert_eq!(c.months, 1 << 1 | 1 << 7);
        assert_eq!(c.dow, 0b0111110);
        let c = Cron::parse("5,10-12,50/5 0 1,15 * 7").unwrap();
        assert_eq!(
            c.minutes,
            1 << 5 | 1 << 10 | 1 << 11 | 1 << 12 | 1 << 50 | 1 << 55
        );
        assert_eq!(c.dom, 1 << 1 | 1 << 15);
        assert_eq!(c.dow, 1, "7 is Sunday");
        assert_eq!(Cron::parse("0 0 * * 5-7").unwrap().dow, 1 | 1 << 5 | 1 << 6);
        assert_eq!(Cron::parse("@daily").unwrap().hours, 1);
        assert_eq!(Cron::parse("@weekly").unwrap().dow, 1);
        assert!(Cron::parse("30 2 * * *")
            .unwrap()
            .matches(jiff::civil::date(2026, 1, 1).at(2, 30, 0, 0)));
        assert!(!Cron::parse("30 2 * * *")
            .unwrap()
            .matches(jiff::civil::date(2026, 1, 1).at(2, 31, 0, 0)));
    }

    #[test]
    fn cron_invalid_expressions() {
        let e = |s: &str| Cron::parse(s).unwrap_err();
        assert_eq!(
            e("61 * * * *"),
            "minute field \"61\": 61 is out of range 0-59"
        );
        assert_eq!(
            e("* * * * * * * *"),
            "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has 8"
        );
        assert_eq!(
            e("*/0 * * * *"),
            "minute field \"*/0\": the step must be at least 1"
        );
        assert!(e("0 24 * * *").contains("hour field"));
        assert!(e("0 0 0 * *").contains("day-of-month field \"0\": 0 is out of range 1-31"));
        assert!(e("0 0 * 13 *").contains("month field"));
        assert!(e("0 0 * * 8").contains("day-of-week field"));
        assert!(e("0 0 * * funday").contains("neither a number nor a name (sun-sat)"));
        assert!(e("5-1 * * * *").contains("runs backwards"));
        assert!(e("1,,2 * * * *").contains("empty list item"));
        assert!(e("*/x * * * *").contains("step \"x\""));
        assert!(e("-1 * * * *").contains("minute field"));
        assert!(e("0 0 * *").contains("this one has 4"));
        assert!(e("").contains("this one has 0"));
        assert!(e("@reboot").contains("not supported"));
        assert!(e("0 0 30 2 *").starts_with("never fires"));
        assert!(Cron::parse("0 0 29 2 *").is_ok(), "leap years exist");
        assert!(
            Cron::parse("0 0 30 2 mon").is_ok(),
            "OR: every Monday in February"
        );
        // And as compile errors with a path.
        let errs = errors("windows:\n  - id: w\n    time_zone: UTC\n    cron: {expr: '61 * * * *', duration: 1h}\n");
        assert_error(&errs, "windows[0].cron.expr", "61 is out of range 0-59");
    }

    #[test]
    fn cron_minutely_windows_and_gap_collisions() {
        // Every 20 minutes, 10 minutes long.
        let ws = one("cron: {expr: '*/20 * * * *', duration: 10m}");
        assert!(active(&ws, local(CPH, "2026-06-01T10:05")));
        assert!(!active(&ws, local(CPH, "2026-06-01T10:15")));
        assert!(active(&ws, local(CPH, "2026-06-01T10:40")));
        // 02:30 (gap → 03:30) and 03:30 on the spring day are one occurrence.
        let ws = one("cron: {expr: '30 2,3 29 3 *', duration: 10m}");
        let occ = ws.occurrences(
            local(CPH, "2026-03-29T00:00"),
            local(CPH, "2026-03-30T00:00"),
        );
        assert_eq!(starts(CPH, &occ), ["2026-03-29T03:30+02:00"]);
        // In the fold, 02:30 starts once (CEST).
        let ws = one("cron: {expr: '30 2 * * *', duration: 10m}");
        let occ = ws.occurrences(
            local(CPH, "2026-10-25T00:00"),
            local(CPH, "2026-10-26T00:00"),
        );
        assert_eq!(starts(CPH, &occ), ["2026-10-25T02:30+02:00"]);
    }

    // --- occurrences and until --------------------------------------------

    #[test]
    fn occurrences_over_month_boundary_sorted_and_unclipped() {
        let ws = compile(&format!(
            r#"
windows:
  - id: nightly
    time_zone: {CPH}
    weekly: {{days: [mon, tue, wed, thu, fri, sat, sun], start: "22:00", duration: 6h}}
  - id: early
    time_zone: UTC
    weekly: {{days: [sun], start: "20:00", duration: 30m}}
"#
        ));
        let occ = ws.occurrences(
            local(CPH, "2026-01-31T00:00"),
            local(CPH, "2026-02-02T00:00"),
        );
        assert_eq!(
            shown(CPH, &occ),
            vec![
                // Began before `from`, still overlaps it; not clipped.
                (
                    "nightly".into(),
                    "2026-01-30T22:00+01:00".into(),
                    "2026-01-31T04:00+01:00".into()
                ),
                (
                    "nightly".into(),
                    "2026-01-31T22:00+01:00".into(),
                    "2026-02-01T04:00+01:00".into()
                ),
                (
                    "early".into(),
                    "2026-02-01T21:00+01:00".into(),
                    "2026-02-01T21:30+01:00".into()
                ),
                (
                    "nightly".into(),
                    "2026-02-01T22:00+01:00".into(),
                    "2026-02-02T04:00+01:00".into()
                ),
            ]
        );
        // Range ends are exclusive: an occurrence ending exactly at `from` or
        // starting exactly at `to` is not included.
        let occ = ws.occurrences(
            local(CPH, "2026-01-31T04:00"),
            local(CPH, "2026-01-31T22:00"),
        );
        assert!(occ.is_empty(), "{occ:?}");
        assert!(ws.occurrences(10, 10).is_empty());
        assert!(ws.occurrences(10, 5).is_empty());
    }

    #[test]
    fn until_is_last_start_day_and_that_occurrence_runs_fully() {
        let ws = one("weekly: {days: [mon, tue, wed, thu, fri, sat, sun], start: '22:00', duration: 6h}\n    until: '2026-01-31'");
        let occ = ws.occurrences(
            local(CPH, "2026-01-30T04:00"),
            local(CPH, "2026-02-05T00:00"),
        );
        assert_eq!(
            starts(CPH, &occ),
            ["2026-01-30T22:00+01:00", "2026-01-31T22:00+01:00"]
        );
        assert!(active(&ws, local(CPH, "2026-02-01T03:00")));
        assert!(!active(&ws, local(CPH, "2026-02-01T22:30")));
        assert!(!active(&ws, local(CPH, "2030-02-01T22:30")));
        // Monthly with until across a year boundary.
        let ws = one("monthly_nth: {weekday: tue, nth: 2, start: '22:00', duration: 4h}\n    until: '2027-01-12'");
        let occ = ws.occurrences(
            local(CPH, "2026-11-01T00:00"),
            local(CPH, "2027-06-01T00:00"),
        );
        assert_eq!(
            starts(CPH, &occ),
            [
                "2026-11-10T22:00+01:00",
                "2026-12-08T22:00+01:00",
                "2027-01-12T22:00+01:00"
            ]
        );
    }

    // --- scope ----------------------------------------------------------

    #[test]
    fn scope_matching() {
        let ws = compile(
            r#"
windows:
  - id: db
    time_zone: UTC
    weekly: {days: [mon], start: "00:00", duration: 7d}
    scope:
      department: [Schools, "Børn"]
      class: [server]
      labels: {role: db, env: prod}
      hosts: ["srv-db-*", "db?.example.org"]
      checks: ["offline", "health/*"]
  - id: everything
    time_zone: UTC
    once: {start: "2026-06-01T00:00", end: "2026-06-02T00:00"}
"#,
        );
        let at = utc("2026-06-03T12:00Z");
        let mut labels = BTreeMap::new();
        labels.insert("role".to_string(), "db".to_string());
        labels.insert("env".to_string(), "prod".to_string());
        labels.insert("extra".to_string(), "x".to_string());
        let host = HostRef {
            hostname: "SRV-DB-01",
            department: "schools",
            class: "SERVER",
            labels: &labels,
        };
        assert_eq!(ws.active_for(&host, "offline", at), Some("db"));
        assert_eq!(ws.active_for(&host, "health/disk", at), Some("db"));
        assert_eq!(ws.active_for(&host, "health/disk/sda", at), Some("db"));
        assert_eq!(
            ws.active_for(&host, "Offline", at),
            None,
            "check ids are case-sensitive"
        );
        assert_eq!(ws.active_for(&host, "healthz", at), None);
        assert_eq!(ws.active_for(&host, "cpu", at), None);
        let h = |hostname| HostRef { hostname, ..host };
        assert_eq!(
            ws.active_for(&h("db1.example.org"), "offline", at),
            Some("db")
        );
        assert_eq!(ws.active_for(&h("db12.example.org"), "offline", at), None);
        assert_eq!(ws.active_for(&h("srv-db-"), "offline", at), Some("db"));
        assert_eq!(ws.active_for(&h("srv-web-01"), "offline", at), None);
        assert_eq!(
            ws.active_for(
                &HostRef {
                    department: "BØRN",
                    ..host
                },
                "offline",
                at
            ),
            Some("db")
        );
        assert_eq!(
            ws.active_for(
                &HostRef {
                    department: "finance",
                    ..host
                },
                "offline",
                at
            ),
            None
        );
        assert_eq!(
            ws.active_for(
                &HostRef {
                    class: "switch",
                    ..host
                },
                "offline",
                at
            ),
            None
        );
        let mut wrong = labels.clone();
        wrong.insert("env".to_string(), "test".to_string());
        assert_eq!(
            ws.active_for(
                &HostRef {
                    labels: &wrong,
                    ..host
                },
                "offline",
                at
            ),
            None
        );
        let mut missing = labels.clone();
        missing.remove("role");
        assert_eq!(
            ws.active_for(
                &HostRef {
                    labels: &missing,
                    ..host
                },
                "offline",
                at
            ),
            None
        );
        // Omitted scope = everything; first matching window in document order wins.
        let no_labels = BTreeMap::new();
        let other = HostRef {
            hostname: "x",
            department: "",
            class: "",
            labels: &no_labels,
        };
        assert_eq!(
            ws.active_for(&other, "anything", utc("2026-06-01T12:00Z")),
            Some("everything")
        );
        assert_eq!(
            ws.active_for(&host, "offline", utc("2026-06-01T12:00Z")),
            Some("db")
        );
        assert_eq!(ws.active_for(&other, "anything", at), None);
    }

    #[test]
    fn glob_cases() {
        assert!(glob_with("*", "", false));
        assert!(glob_with("a*b*c", "axxbyyc", false));
        assert!(!glob_with("a*b*c", "axxbyy", false));
        assert!(glob_with("*.example.org", "a.b.example.org", false));
        assert!(glob_with("??", "æø", false));
        assert!(!glob_with("?", "", false));
        assert!(glob_with("SRV-*", "srv-1", true));
        assert!(!glob_with("SRV-*", "srv-1", false));
        assert!(glob_with("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaab", false));
        assert!(!glob_with("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaa", false));
    }

    // --- validation -------------------------------------------------------

    #[test]
    fn all_errors_are_reported_with_paths() {
        let errs = errors(
            r#"
windows:
  - id: bad-tz
    time_zone: Europe/Copenhagn
    weekly: {days: [mon], start: "22:00", duration: 1h}
  - id: backwards
    time_zone: UTC
    once: {start: "2026-12-06T04:00", end: "2026-12-05T22:00"}
  - id: days
    time_zone: UTC
    weekly: {days: [tue, Mon, tue], start: "25:00", duration: 0m}
  - id: days
    time_zone: UTC
    weekly: {days: [], start: "1:00", duration: -1h}
  - id: both
    time_zone: UTC
    once: {start: "2026-12-05T22:00", end: "2026-12-06T04:00"}
    weekly: {days: [mon], start: "22:00", duration: 1h}
  - id: none
    time_zone: UTC
  - id: Bad_ID
    weekly: {days: [mon], start: "22:00", duration: 8d}
  - title: ""
    time_zone: UTC
    monthly_nth: {weekday: tuesday, nth: 5, start: "22:00"}
    until: "2027-02-30"
  - id: once-until
    time_zone: UTC
    once: {start: "2026-12-05 22:00", end: "2026-12-06T04:00+01:00"}
    until: "2027-01-01"
  - id: scope
    time_zone: UTC
    cron: {duration: 1h30}
    scope: {department: [], hosts: [""], labels: {"": x}}
"#,
        );
        let expect = [
            (
                "windows[0].time_zone",
                "unknown time zone \"Europe/Copenhagn\"",
            ),
            ("windows[1].once.end", "is not after start"),
            (
                "windows[2].weekly.days[1]",
                "\"Mon\" is not a day: use mon, tue, wed, thu, fri, sat, sun",
            ),
            ("windows[2].weekly.days[2]", "tue is listed twice"),
            ("windows[2].weekly.start", "\"25:00\" is not a time of day"),
            ("windows[2].weekly.duration", "longer than zero"),
            ("windows[3].id", "\"days\" is already the id of windows[2]"),
            ("windows[3].weekly.days", "at least one day"),
            ("windows[3].weekly.duration", "must be positive"),
            (
                "windows[4]",
                "once and weekly given: give exactly one of once, weekly, monthly_nth, cron",
            ),
            ("windows[5]", "no schedule"),
            ("windows[6].id", "contains 'B'"),
            ("windows[6].time_zone", "required"),
            ("windows[6].weekly.duration", "at most 7d"),
            ("windows[7].id", "required"),
            ("windows[7].title", "must not be empty"),
            ("windows[7].monthly_nth.weekday", "\"tuesday\" is not a day"),
            ("windows[7].monthly_nth.nth", "5 is not allowed"),
            ("windows[7].monthly_nth.duration", "required"),
            ("windows[7].until", "\"2027-02-30\" is not a date"),
            ("windows[8].once.end", "is not a date and time"),
            ("windows[8].until", "until is for recurring windows"),
            ("windows[9].cron.expr", "required"),
            ("windows[9].cron.duration", "is not a duration"),
            ("windows[9].scope.department", "empty list matches nothing"),
            ("windows[9].scope.hosts[0]", "must not be empty"),
            ("windows[9].scope.labels", "label names must not be empty"),
        ];
        for (path, needle) in expect {
            assert_error(&errs, path, needle);
        }
        assert_eq!(
            errs.len(),
            expect.len(),
            "unexpected extra errors: {errs:#?}"
        );
        // The space form of `once.start` was fine.
        assert!(!errs.iter().any(|(p, _)| p == "windows[8].once.start"));
    }

    #[test]
    fn duration_and_time_parsing() {
        assert_eq!(parse_duration("30m"), Ok(30 * MINUTE_MS));
        assert_eq!(parse_duration("3h"), Ok(3 * HOUR_MS));
        assert_eq!(parse_duration("1h30m"), Ok(90 * MINUTE_MS));
        assert_eq!(parse_duration("1d12h"), Ok(36 * HOUR_MS));
        assert_eq!(parse_duration("7d"), Ok(7 * DAY_MS));
        assert_eq!(parse_duration("90m"), Ok(90 * MINUTE_MS));
        for bad in ["", "h", "1.5h", "1w"] {
            assert!(
                parse_duration(bad)
                    .unwrap_err()
                    .contains("is not a duration"),
                "{bad}"
            );
        }
        assert!(parse_duration("0h")
            .unwrap_err()
            .contains("longer than zero"));
        assert!(parse_duration("-3h").unwrap_err().contains("positive"));
        assert!(parse_duration("7d1m").unwrap_err().contains("at most 7d"));
        assert!(parse_duration("169h").unwrap_err().contains("at most 7d"));
        assert!(parse_duration("9999999999999h").is_err());
        assert_eq!(parse_hhmm("7:05"), Ok(jiff::civil::time(7, 5, 0, 0)));
        assert_eq!(parse_hhmm("23:59"), Ok(jiff::civil::time(23, 59, 0, 0)));
        for bad in [
            "24:00", "12:60", "12", "12:5", "012:00", "ab:cd", "12:00:00", "+1:00",
        ] {
            assert!(parse_hhmm(bad).is_err(), "{bad}");
        }
        assert!(parse_date("2028-02-29").is_ok());
        for bad in [
            "2027-02-29",
            "27-01-01",
            "2027-1-01",
            "2027/01/01",
            "2027-01-01T00:00",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        assert!(parse_datetime("2026-12-05T22:00Z").is_err());
        assert!(parse_datetime("2026-12-05").is_err());
    }

    // --- active_for agrees with occurrences; efficiency -------------------

    /// For many instants around DST changes (including 30-minute DST and a
    /// skipped calendar day), the direct look-back in `is_active` must agree
    /// with brute-force enumeration.
    #[test]
    fn is_active_agrees_with_occurrences() {
        let cases = [
            ("Europe/Copenhagen", "2026-03-25T00:00", "2026-04-02T00:00"),
            ("Europe/Copenhagen", "2026-10-21T00:00", "2026-10-29T00:00"),
            ("America/New_York", "2026-11-28T00:00", "2026-12-06T00:00"),
            ("America/New_York", "2026-03-05T00:00", "2026-03-12T00:00"),
            (
                "Australia/Lord_Howe",
                "2026-04-01T00:00",
                "2026-04-09T00:00",
            ),
            ("Pacific/Apia", "2011-12-26T00:00", "2012-01-03T00:00"),
        ];
        let schedules = [
            "weekly: {days: [fri, sat, sun], start: '02:30', duration: 1h}",
            "weekly: {days: [thu, fri, sat, sun], start: '10:00', duration: 1h}",
            "weekly: {days: [sun], start: '01:00', duration: 3h}",
            "weekly: {days: [wed], start: '23:00', duration: 4d}",
            "monthly_nth: {weekday: sun, nth: 1, start: '02:00', duration: 2h}",
            "monthly_nth: {weekday: sat, nth: -1, start: '01:45', duration: 7d}",
            "cron: {expr: '*/7 1-3 * * *', duration: 5m}",
            "cron: {expr: '30 2 1,29 * sun', duration: 26h}",
            "cron: {expr: '0,30 * * * *', duration: 30m}",
        ];
        for (tz, from, to) in cases {
            for sched in schedules {
                let ws = compile(&format!(
                    "windows:\n  - id: w\n    time_zone: {tz}\n    {sched}\n"
                ));
                let w = &ws.windows()[0];
                let (from, to) = (local(tz, from), local(tz, to));
                let occ = w.occurrences(from - 8 * DAY_MS, to + DAY_MS);
                let mut at = from;
                while at < to {
                    let expected = occ.iter().any(|&(s, e)| s <= at && at < e);
                    assert_eq!(
                        w.is_active(at),
                        expected,
                        "{tz} {sched} at {}",
                        show(tz, at)
                    );
                    at += 13 * MINUTE_MS + 7_000;
                }
            }
        }
    }

    #[test]
    fn apia_skipped_day_shifts_forward() {
        // Pacific/Apia skipped Friday 2011-12-30 entirely (date line move).
        let tz = "Pacific/Apia";
        let ws = compile("windows:\n  - id: w\n    time_zone: Pacific/Apia\n    weekly: {days: [fri], start: '10:00', duration: 1h}\n");
        let occ = ws.occurrences(local(tz, "2011-12-29T00:00"), local(tz, "2012-01-01T00:00"));
        assert_eq!(starts(tz, &occ), ["2011-12-31T10:00+14:00"]);
    }

    #[test]
    fn active_for_does_not_depend_on_history_length() {
        // A minute-level cron window with the maximal duration, queried far
        // in the future and far past `until`: each query only looks at the
        // last week, so 2,000 queries finish quickly even in debug builds.
        let ws = one("cron: {expr: '* * * * *', duration: 7d}");
        let far = utc("2400-06-01T12:00Z");
        for i in 0..1000 {
            assert!(active(&ws, far + i * 7_777));
        }
        let ws =
            one("weekly: {days: [mon], start: '00:00', duration: 1h}\n    until: '1971-01-01'");
        for i in 0..1000 {
            assert!(!active(&ws, far + i * 7_777));
        }
        // Out-of-range instants are simply not in a window.
        assert!(!active(&ws, i64::MAX));
        assert!(!active(&ws, i64::MIN));
        // Enumeration stops at `until` even for an unbounded range.
        assert_eq!(ws.occurrences(utc("1970-01-01T00:00Z"), i64::MAX).len(), 52);
    }
}
