//! Service hours (groundwork for SLA reporting, issue 5): when a tier's clock runs.
//! A calendar is weekly opening hours in a time zone, minus public holidays; SLA
//! arithmetic intersects real time spans (an outage, an incident's open time) with it and
//! leaves out maintenance. Pure: instants are ms since the Unix epoch, the zone rules come
//! from jiff's tz database.
//!
//! Decisions:
//! - Hours are wall-clock times in the calendar's zone; `24:00` ends a day. A range that
//!   crosses midnight is written as two (`mon: ["22:00-24:00"], tue: ["00:00-06:00"]`).
//! - A wall-clock time that does not exist (spring-forward gap) moves forward by the gap,
//!   an ambiguous one (fall-back fold) takes the earlier instant — jiff's *compatible*
//!   rule, as for maintenance windows. So 08:00–16:00 is 8 real hours on every day, and a
//!   range spanning the change (01:00–04:00 on the spring-forward night) is 2 real hours.
//! - Holidays are whole civil days in the zone; no service time on them.

use std::collections::BTreeSet;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Deserialize;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// As written in the SLA file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarDoc {
    /// IANA zone, e.g. `Europe/Copenhagen`.
    pub time_zone: Option<String>,
    /// Around the clock (overrides the days).
    #[serde(default)]
    pub always: bool,
    /// `"08:00-16:00"` ranges per day (`mon` … `sun`); `weekdays` sets mon–fri at once.
    #[serde(default)]
    pub weekdays: Vec<String>,
    #[serde(default)]
    pub mon: Vec<String>,
    #[serde(default)]
    pub tue: Vec<String>,
    #[serde(default)]
    pub wed: Vec<String>,
    #[serde(default)]
    pub thu: Vec<String>,
    #[serde(default)]
    pub fri: Vec<String>,
    #[serde(default)]
    pub sat: Vec<String>,
    #[serde(default)]
    pub sun: Vec<String>,
    /// Public holidays, `YYYY-MM-DD`.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// A checked calendar.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: TimeZone,
    /// Per weekday (Monday first): sorted, non-overlapping (start, end) in minutes of day.
    days: [Vec<(u16, u16)>; 7],
    holidays: BTreeSet<Date>,
}

fn minutes(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

impl Calendar {
    /// Checks the whole document; every problem as (path, message).
    pub fn compile(doc: &CalendarDoc, path: &str) -> Result<Calendar, Vec<(String, String)>> {
        let mut errs = Vec::new();
        let tz = match doc.time_zone.as_deref() {
            None => {
                errs.push((
                    format!("{path}.time_zone"),
                    "required: an IANA zone such as Europe/Copenhagen".to_string(),
                ));
                None
            }
            Some(z) => match TimeZone::get(z) {
                Ok(tz) => Some(tz),
                Err(_) => {
                    errs.push((
                        format!("{path}.time_zone"),
                        format!("{z:?} is not a known time zone (IANA names like Europe/Oslo)"),
                    ));
                    None
                }
            },
        };
        let mut days: [Vec<(u16, u16)>; 7] = Default::default();
        let per_day = [
            &doc.mon, &doc.tue, &doc.wed, &doc.thu, &doc.fri, &doc.sat, &doc.sun,
        ];
        if doc.always {
            days = std::array::from_fn(|_| vec![(0, 1440)]);
        } else {
            for (i, list) in per_day.iter().enumerate() {
                let from_weekdays = i < 5 && !doc.weekdays.is_empty();
                let (key, list) = if !list.is_empty() {
                    (DAYS[i], *list)
                } else if from_weekdays {
                    ("weekdays", &doc.weekdays)
                } else {
                    continue;
                };
                for (j, r) in list.iter().enumerate() {
                    let p = format!("{path}.{key}[{j}]");
                    let parsed = r
                        .split_once('-')
                        .and_then(|(a, b)| Some((minutes(a)?, minutes(b)?)));
                    match parsed {
                        None => errs.push((p, format!("{r:?} is not a range like \"08:00-16:00\" (24:00 ends a day)"))),
                        Some((a, b)) if b <= a => errs.push((
                            p,
                            format!("{r:?} ends before it starts; write a range across midnight as two (\"22:00-24:00\" and the next day's \"00:00-06:00\")"),
                        )),
                        Some(x) => days[i].push(x),
                    }
                }
                days[i].sort_unstable();
                let repeated = key == "weekdays" && i > 0 && days[i] == days[i - 1];
                if let Some(w) = days[i]
                    .windows(2)
                    .find(|w| w[1].0 < w[0].1)
                    .filter(|_| !repeated)
                {
                    errs.push((
                        format!("{path}.{key}"),
                        format!(
                            "overlapping service hours on {}: {:02}:{:02}-{:02}:{:02} and {:02}:{:02}-{:02}:{:02}",
                            DAYS[i],
                            w[0].0 / 60, w[0].0 % 60, w[0].1 / 60, w[0].1 % 60,
                            w[1].0 / 60, w[1].0 % 60, w[1].1 / 60, w[1].1 % 60
                        ),
                    ));
                }
            }
            if days.iter().all(Vec::is_empty) {
                errs.push((
                    path.to_string(),
                    "no service hours: give weekdays, days (mon … sun) or always: true".to_string(),
                ));
            }
        }
        let mut holidays = BTreeSet::new();
        for (j, h) in doc.holidays.iter().enumerate() {
            match h.parse::<Date>() {
                Ok(d) => {
                    holidays.insert(d);
                }
                Err(_) => errs.push((
                    format!("{path}.holidays[{j}]"),
                    format!("{h:?} is not a date (YYYY-MM-DD)"),
                )),
            }
        }
        match tz {
            Some(tz) if errs.is_empty() => Ok(Calendar { tz, days, holidays }),
            _ => Err(errs),
        }
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    fn instant(&self, day: Date, minute: u16) -> i64 {
        let dt: DateTime = if minute >= 1440 {
            day.tomorrow()
                .expect("date in range")
                .to_datetime(Time::midnight())
        } else {
            day.at((minute / 60) as i8, (minute % 60) as i8, 0, 0)
        };
        self.tz
            .to_timestamp(dt)
            .map(|t| t.as_millisecond())
            .unwrap_or(i64::MAX)
    }

    /// The service-hour spans overlapping `[from_ms, to_ms)`, clipped to it, in order.
    pub fn spans(&self, from_ms: i64, to_ms: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        if to_ms <= from_ms {
            return out;
        }
        let (Ok(a), Ok(b)) = (
            Timestamp::from_millisecond(from_ms),
            Timestamp::from_millisecond(to_ms),
        ) else {
            return out;
        };
        // One day of margin either side: a civil day's hours can fall on another UTC day.
        let first = a
            .to_zoned(self.tz.clone())
            .date()
            .yesterday()
            .unwrap_or(Date::MIN);
        let last = b
            .to_zoned(self.tz.clone())
            .date()
            .tomorrow()
            .unwrap_or(Date::MAX);
        let mut day = first;
        while day <= last {
            if !self.holidays.contains(&day) {
                let wd = day.weekday().to_monday_zero_offset() as usize;
                for &(s, e) in &self.days[wd] {
                    let (s, e) = (
                        self.instant(day, s).max(from_ms),
                        self.instant(day, e).min(to_ms),
                    );
                    if s < e {
                        match out.last_mut() {
                            // 22:00-24:00 and the next day's 00:00-06:00 are one span.
                            Some((_, le)) if *le >= s => *le = (*le).max(e),
                            _ => out.push((s, e)),
                        }
                    }
                }
            }
            match day.tomorrow() {
                Ok(d) => day = d,
                Err(_) => break,
            }
        }
        out
    }

    /// Service time within `[from_ms, to_ms)`, ms.
    pub fn service_ms(&self, from_ms: i64, to_ms: i64) -> i64 {
        self.spans(from_ms, to_ms).iter().map(|(s, e)| e - s).sum()
    }

    /// Does the clock run at `t` (service hours, not a holiday)?
    pub fn in_service(&self, t: i64) -> bool {
        self.service_ms(t, t + 1) > 0
    }
}

/// Sorted, merged spans.
pub fn merge(mut v: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some((_, le)) if *le >= s => *le = (*le).max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Service time as a lookup table: a calendar's spans over a range with running totals,
/// so the service time between two instants and the instant a target is reached are a
/// binary search each (a month's report asks this for every incident).
#[derive(Debug, Clone)]
pub struct Clock {
    spans: Vec<(i64, i64)>,
    /// Service ms before span i.
    before: Vec<i64>,
    to_ms: i64,
}

impl Clock {
    /// The calendar's service time over `[from_ms, to_ms)`.
    pub fn new(cal: &Calendar, from_ms: i64, to_ms: i64) -> Clock {
        let spans = cal.spans(from_ms, to_ms);
        let mut before = Vec::with_capacity(spans.len());
        let mut acc = 0;
        for (s, e) in &spans {
            before.push(acc);
            acc += e - s;
        }
        Clock {
            spans,
            before,
            to_ms,
        }
    }

    /// Service ms in the clock's range before `t`.
    fn cum(&self, t: i64) -> i64 {
        let i = self.spans.partition_point(|&(s, _)| s <= t);
        if i == 0 {
            return 0;
        }
        let (s, e) = self.spans[i - 1];
        self.before[i - 1] + t.min(e) - s
    }

    /// Service time within `[a, b)`, ms.
    pub fn elapsed(&self, a: i64, b: i64) -> i64 {
        if b <= a {
            0
        } else {
            self.cum(b) - self.cum(a)
        }
    }

    /// Service time within `[a, b)` outside `excluded` (sorted, merged spans).
    pub fn elapsed_excluding(&self, a: i64, b: i64, excluded: &[(i64, i64)]) -> i64 {
        let out: i64 = excluded
            .iter()
            .map(|&(s, e)| self.elapsed(s.max(a), e.min(b)))
            .sum();
        self.elapsed(a, b) - out
    }

    /// The first instant at which `ms` of service time have passed since `a`, or `None`
    /// when that lies beyond the clock's range.
    pub fn deadline(&self, a: i64, ms: i64) -> Option<i64> {
        let target = self.cum(a) + ms;
        // Spans are consecutive, so "service ms through the end of span i" grows with i.
        let i = self
            .before
            .partition_point(|&b| b < target)
            .saturating_sub(1);
        let i = (i..self.spans.len()).find(|&i| {
            let (s, e) = self.spans[i];
            self.before[i] + (e - s) >= target
        })?;
        let (s, _) = self.spans[i];
        Some((s + (target - self.before[i])).max(a)).filter(|&t| t <= self.to_ms)
    }

    /// [`Self::deadline`] with `excluded` spans not counting.
    pub fn deadline_excluding(&self, a: i64, ms: i64, excluded: &[(i64, i64)]) -> Option<i64> {
        let mut t = self.deadline(a, ms)?;
        // Each pass adds the excluded time found before the current guess; it only moves
        // forward and stops once no new exclusion falls before it.
        for _ in 0..64 {
            let ex = self.elapsed(a, t) - self.elapsed_excluding(a, t, excluded);
            let next = self.deadline(a, ms + ex)?;
            if next == t {
                return Some(t);
            }
            t = next;
        }
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn cal(y: &str) -> Calendar {
        Calendar::compile(
            &serde_yaml::from_str(y).unwrap(),
            "tiers.basic.service_hours",
        )
        .unwrap()
    }

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn office_hours_over_a_week_with_a_holiday() {
        let c = cal(
            "time_zone: Europe/Copenhagen\nweekdays: ['08:00-16:00']\nholidays: ['2026-11-25']\n",
        );
        // Mon 2026-11-23 00:00 CET … Mon 2026-11-30 00:00 CET: 4 working days (Wed is a holiday).
        let week = c.service_ms(at("2026-11-22T23:00:00Z"), at("2026-11-29T23:00:00Z"));
        assert_eq!(week, 4 * 8 * H);
        // An outage from Tue 15:00 to Thu 09:00 local counts 1 h Tue + 1 h Thu.
        let o = c.service_ms(at("2026-11-24T14:00:00Z"), at("2026-11-26T08:00:00Z"));
        assert_eq!(o, 2 * H);
        assert_eq!(
            c.spans(at("2026-11-24T14:00:00Z"), at("2026-11-26T08:00:00Z"))
                .len(),
            2
        );
    }

    #[test]
    fn daylight_saving_changes() {
        // Spring forward in Copenhagen: 2026-03-29 02:00 → 03:00.
        let c = cal("time_zone: Europe/Copenhagen\nsun: ['01:00-04:00']\n");
        let day = (at("2026-03-28T22:00:00Z"), at("2026-03-29T22:00:00Z"));
        assert_eq!(
            c.service_ms(day.0, day.1),
            2 * H,
            "01:00-04:00 lasts 2 real hours that night"
        );
        // Fall back: 2026-10-25 03:00 → 02:00; 01:00-04:00 lasts 4 real hours.
        let day = (at("2026-10-24T22:00:00Z"), at("2026-10-25T23:00:00Z"));
        assert_eq!(c.service_ms(day.0, day.1), 4 * H);
        // Office hours stay 8 real hours on both change days, at the right instants.
        let c = cal("time_zone: Europe/Copenhagen\nalways: false\nsun: ['08:00-16:00']\n");
        assert_eq!(
            c.spans(at("2026-03-29T00:00:00Z"), at("2026-03-30T00:00:00Z")),
            vec![(at("2026-03-29T06:00:00Z"), at("2026-03-29T14:00:00Z"))]
        );
        assert_eq!(
            c.spans(at("2026-10-25T00:00:00Z"), at("2026-10-26T00:00:00Z")),
            vec![(at("2026-10-25T07:00:00Z"), at("2026-10-25T15:00:00Z"))]
        );
    }

    #[test]
    fn around_the_clock_and_across_midnight() {
        let c = cal("time_zone: UTC\nalways: true\n");
        assert_eq!(
            c.service_ms(at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z")),
            30 * 24 * H
        );
        assert_eq!(
            c.spans(at("2026-11-01T00:00:00Z"), at("2026-11-03T00:00:00Z"))
                .len(),
            1,
            "days join into one span"
        );
        let c = cal("time_zone: UTC\nmon: ['22:00-24:00']\ntue: ['00:00-06:00']\n");
        assert_eq!(
            c.spans(at("2026-11-23T00:00:00Z"), at("2026-11-25T00:00:00Z")),
            vec![(at("2026-11-23T22:00:00Z"), at("2026-11-24T06:00:00Z"))]
        );
    }

    #[test]
    fn maintenance_is_left_out_once() {
        let c = cal("time_zone: UTC\nweekdays: ['08:00-16:00']\n");
        let (a, b) = (at("2026-11-23T00:00:00Z"), at("2026-11-24T00:00:00Z"));
        // Two overlapping windows 07:00-09:00 and 08:30-10:00: 2 service hours excluded.
        let ex = [
            (at("2026-11-23T07:00:00Z"), at("2026-11-23T09:00:00Z")),
            (at("2026-11-23T08:30:00Z"), at("2026-11-23T10:00:00Z")),
        ];
        // Callers merge what they exclude (report.rs), so overlaps count once.
        let clock = Clock::new(&c, a, b);
        assert_eq!(clock.elapsed_excluding(a, b, &merge(ex.to_vec())), 6 * H);
    }

    #[test]
    fn impossible_hours_are_reported_with_their_path() {
        let doc: CalendarDoc = serde_yaml::from_str(
            "time_zone: Mars/Olympus\nmon: ['16:00-08:00', '08:00-12:00', '11:00-13:00', 'noon']\nholidays: ['2026-13-01']\n",
        )
        .unwrap();
        let errs = Calendar::compile(&doc, "tiers.basic.service_hours").unwrap_err();
        let text = format!("{errs:?}");
        for want in [
            "time_zone",
            "Mars/Olympus",
            "mon[0]",
            "ends before it starts",
            "mon[3]",
            "overlapping service hours on mon",
            "holidays[0]",
        ] {
            assert!(text.contains(want), "{want} in {text}");
        }
        let empty: CalendarDoc = serde_yaml::from_str("time_zone: UTC\n").unwrap();
        assert!(format!("{:?}", Calendar::compile(&empty, "x").unwrap_err())
            .contains("no service hours"));
    }

    #[test]
    fn clock_elapsed_and_deadlines() {
        let c = cal("{time_zone: Europe/Copenhagen, weekdays: [\"08:00-16:00\"]}");
        // Friday 2026-11-20 15:00 CET (14:00Z); the clock is built over a fortnight.
        let clock = Clock::new(&c, at("2026-11-16T00:00Z"), at("2026-11-30T00:00Z"));
        let fri = at("2026-11-20T14:00Z");
        assert_eq!(
            clock.elapsed(fri, at("2026-11-23T09:00Z")),
            3 * H,
            "Fri 1h + Mon 2h"
        );
        assert_eq!(
            clock.deadline(fri, 4 * H),
            Some(at("2026-11-23T10:00Z")),
            "Mon 11:00 CET"
        );
        assert_eq!(
            clock.deadline(fri, H),
            Some(at("2026-11-20T15:00Z")),
            "exactly at closing"
        );
        // Maintenance Monday 08:00-09:00 CET pauses the clock.
        let maint = [(at("2026-11-23T07:00Z"), at("2026-11-23T08:00Z"))];
        assert_eq!(
            clock.elapsed_excluding(fri, at("2026-11-23T09:00Z"), &maint),
            2 * H
        );
        assert_eq!(
            clock.deadline_excluding(fri, 4 * H, &maint),
            Some(at("2026-11-23T11:00Z"))
        );
        assert!(c.in_service(at("2026-11-23T10:00Z")));
        assert!(!c.in_service(at("2026-11-22T10:00Z")), "Sunday");
        assert_eq!(
            clock.deadline(fri, 200 * H),
            None,
            "beyond the clock's range"
        );
        // Around the clock across the spring-forward night: 24 h of service = 24 real hours.
        let c = cal("{time_zone: Europe/Copenhagen, always: true}");
        let clock = Clock::new(&c, at("2026-03-27T00:00Z"), at("2026-04-01T00:00Z"));
        let sat = at("2026-03-28T12:00Z");
        assert_eq!(clock.deadline(sat, 24 * H), Some(at("2026-03-29T12:00Z")));
        assert_eq!(clock.elapsed(sat, at("2026-03-29T12:00Z")), 24 * H);
    }
}
