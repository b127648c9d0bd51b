//! Cron expressions for maintenance windows (`cron: {expr: "0 22 * * 2", duration: 3h}`).
//!
//! Five fields: minute (0-59), hour (0-23), day of month (1-31), month
//! (1-12 or jan-dec), day of week (0-7 or sun-sat, 0 and 7 are Sunday).
//! Each field is a comma list of `*`, `n`, `a-b`, `*/s`, `a-b/s` or `a/s`
//! (`a/s` means `a-max/s`, as in cronie). Names are case-insensitive.
//! `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight` and
//! `@hourly` are accepted; `@reboot` is not (it has no time).
//!
//! Day matching follows Vixie cron exactly: if *both* the day-of-month and
//! the day-of-week field are restricted, a day matches when *either* does
//! (`0 22 1 * mon` = the 1st of every month *and* every Monday); otherwise
//! both must match. As in Vixie cron, a field counts as unrestricted when
//! its text starts with `*`, so `0 0 */2 * mon` means "odd days that are
//! Mondays". Cron times are civil times in the window's zone and go
//! through the same compatible disambiguation; two civil times that land on
//! the same instant (e.g. 02:30 and 03:30 on a spring-forward day) give one
//! occurrence. Expressions that can never fire (`0 0 30 2 *`) are rejected.
//!
//! Written here rather than taken from `croner`, the well-kept crate for this: `croner`
//! computes in `chrono`, while the collector's times and zones are `jiff`, and the
//! windows' rule for daylight-saving changes is the one the SLA calendars use
//! ([`super::maintenance`] steps the days and resolves civil times). Taking it would add a
//! second date-time library and a second DST rule for one small parser. It sits alone
//! in this file behind [`Cron::parse`] and the day and field matches so that it is cheap
//! to swap.

use jiff::civil::{Date, DateTime};

/// A parsed 5-field cron expression (see the module docs for the dialect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    pub(crate) expr: String,
    pub(crate) minutes: u64,
    pub(crate) hours: u64,
    /// Bits 1..=31.
    pub(crate) dom: u64,
    /// Bits 1..=12.
    pub(crate) months: u64,
    /// Bits 0..=6, Sunday = 0.
    pub(crate) dow: u64,
    /// Vixie's DOM_STAR / DOW_STAR: the field text starts with `*`.
    pub(crate) dom_star: bool,
    pub(crate) dow_star: bool,
}

struct CronField {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    names_from: u32,
}

const MINUTE_FIELD: CronField = CronField {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    names_from: 0,
};
const HOUR_FIELD: CronField = CronField {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    names_from: 0,
};
const DOM_FIELD: CronField = CronField {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    names_from: 0,
};
const MONTH_FIELD: CronField = CronField {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    names_from: 1,
};
const DOW_FIELD: CronField = CronField {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    names_from: 0,
};

impl Cron {
    pub fn parse(expr: &str) -> Result<Cron, String> {
        let text = match expr.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            s if s.starts_with('@') => {
                return Err(format!(
                    "{s:?} is not supported: use 5 fields or @yearly, @monthly, @weekly, @daily, @hourly"
                ));
            }
            s => s,
        };
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has {}",
                fields.len()
            ));
        }
        let minutes = parse_cron_field(fields[0], &MINUTE_FIELD)?;
        let hours = parse_cron_field(fields[1], &HOUR_FIELD)?;
        let dom = parse_cron_field(fields[2], &DOM_FIELD)?;
        let months = parse_cron_field(fields[3], &MONTH_FIELD)?;
        let mut dow = parse_cron_field(fields[4], &DOW_FIELD)?;
        if dow & (1 << 7) != 0 {
            dow = (dow & !(1 << 7)) | 1;
        }
        let cron = Cron {
            expr: expr.to_string(),
            minutes,
            hours,
            dom,
            months,
            dow,
            dom_star: fields[2].starts_with('*'),
            dow_star: fields[4].starts_with('*'),
        };
        if cron.dom_star || cron.dow_star {
            // AND semantics: some listed month must have some listed day.
            const MAX_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
            let possible = (1..=12u32)
                .filter(|m| months >> m & 1 == 1)
                .any(|m| (1..=MAX_DAYS[m as usize - 1]).any(|d| dom >> d & 1 == 1));
            if !possible {
                return Err(format!(
                    "never fires: day-of-month {:?} does not occur in month {:?}",
                    fields[2], fields[3]
                ));
            }
        }
        Ok(cron)
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// Does cron fire on this civil date (day fields only, Vixie rules)?
    pub fn day_matches(&self, date: Date) -> bool {
        if self.months >> date.month() & 1 == 0 {
            return false;
        }
        let dom = self.dom >> date.day() & 1 == 1;
        let dow = self.dow >> date.weekday().to_sunday_zero_offset() & 1 == 1;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// Does cron fire at this civil minute?
    pub fn matches(&self, dt: DateTime) -> bool {
        self.day_matches(dt.date())
            && self.hours >> dt.hour() & 1 == 1
            && self.minutes >> dt.minute() & 1 == 1
            && dt.second() == 0
            && dt.subsec_nanosecond() == 0
    }
}

fn parse_cron_field(text: &str, f: &CronField) -> Result<u64, String> {
    let bad = |msg: String| format!("{} field {text:?}: {msg}", f.name);
    let mut mask = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(bad("empty list item".into()));
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = match s.parse() {
                    Ok(n) if s.bytes().all(|b| b.is_ascii_digit()) => n,
                    _ => return Err(bad(format!("step {s:?} is not a number"))),
                };
                if step == 0 {
                    return Err(bad("the step must be at least 1".into()));
                }
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (f.min, f.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (
                cron_value(a, f).map_err(&bad)?,
                cron_value(b, f).map_err(&bad)?,
            );
            if a > b {
                return Err(bad(format!("range {range} runs backwards")));
            }
            (a, b)
        } else {
            let v = cron_value(range, f).map_err(&bad)?;
            if item.contains('/') {
                (v, f.max)
            } else {
                (v, v)
            }
        };
        for v in (lo..=hi).step_by(step as usize) {
            mask |= 1 << v;
        }
    }
    Ok(mask)
}

fn cron_value(s: &str, f: &CronField) -> Result<u32, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        match s.parse::<u32>() {
            Ok(v) if (f.min..=f.max).contains(&v) => Ok(v),
            _ => Err(format!("{s} is out of range {}-{}", f.min, f.max)),
        }
    } else if let Some(i) = f.names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        Ok(f.names_from + i as u32)
    } else if f.names.is_empty() {
        Err(format!("{s:?} is not a number"))
    } else {
        Err(format!(
            "{s:?} is neither a number nor a name ({}-{})",
            f.names[0],
            f.names[f.names.len() - 1]
        ))
    }
}
