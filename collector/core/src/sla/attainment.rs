//! An incident's response and resolution outcome against its tier's target (pure).
//!
//! Decisions:
//! - Both clocks start when the incident opens and run only in the department's service
//!   hours, paused by maintenance windows that cover the incident's host and check.
//! - *Response* is the first human response the desk read-back found; an incident that is
//!   resolved before anyone responded counts as answered when it was resolved.
//!   *Resolution* is when Tilsyn saw the fault clear (the service was restored).
//! - An outcome belongs to the period in which it became known: a met target when the
//!   response / resolution happened, a breached one at the instant the target ran out
//!   (its deadline) — so an incident spanning a month boundary counts once, in the month
//!   its outcome fell, and an unanswered incident counts as breached as soon as its time
//!   is up, not only when someone finally answers.

use serde::Serialize;

use super::calendar::Clock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Done within the target; `at` = when it was done.
    Met { at_ms: i64, elapsed_ms: i64 },
    /// Target missed; `at` = when the target ran out. `elapsed` so far (or until done).
    Breached {
        at_ms: i64,
        elapsed_ms: i64,
        done: bool,
    },
    /// Not done, time left.
    Pending { elapsed_ms: i64 },
}

impl Outcome {
    /// When the outcome became known (`None` while pending).
    pub fn at_ms(&self) -> Option<i64> {
        match *self {
            Outcome::Met { at_ms, .. } | Outcome::Breached { at_ms, .. } => Some(at_ms),
            Outcome::Pending { .. } => None,
        }
    }

    pub fn elapsed_ms(&self) -> i64 {
        match *self {
            Outcome::Met { elapsed_ms, .. }
            | Outcome::Breached { elapsed_ms, .. }
            | Outcome::Pending { elapsed_ms } => elapsed_ms,
        }
    }
}

/// The outcome of one clock: opened at `opened`, done at `done` (if yet), judged at `now`,
/// with `excluded` (sorted, merged) maintenance spans not counting.
pub fn outcome(
    clock: &Clock,
    target_ms: i64,
    opened: i64,
    done: Option<i64>,
    now: i64,
    excluded: &[(i64, i64)],
) -> Outcome {
    let done = done.filter(|&d| d <= now);
    let end = done.unwrap_or(now).max(opened);
    let elapsed_ms = clock.elapsed_excluding(opened, end, excluded);
    if elapsed_ms <= target_ms {
        return match done {
            Some(d) => Outcome::Met {
                at_ms: d.max(opened),
                elapsed_ms,
            },
            None => Outcome::Pending { elapsed_ms },
        };
    }
    // The clock's range covers [opened, end], and more than `target` passed in it, so the
    // deadline lies inside the range.
    let at_ms = clock
        .deadline_excluding(opened, target_ms, excluded)
        .unwrap_or(end);
    Outcome::Breached {
        at_ms,
        elapsed_ms,
        done: done.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::calendar::Calendar;
    use super::*;
    use jiff::Timestamp;

    const H: i64 = 3_600_000;

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn office() -> Clock {
        let cal = Calendar::compile(
            &serde_yaml::from_str(
                "{time_zone: Europe/Copenhagen, weekdays: [\"08:00-16:00\"], holidays: [\"2026-12-01\"]}",
            )
            .unwrap(),
            "t",
        )
        .unwrap();
        Clock::new(&cal, at("2026-10-01T00:00Z"), at("2027-01-01T00:00Z"))
    }

    #[test]
    fn an_incident_across_the_month_boundary() {
        let c = office();
        // Opened Friday 2026-10-30 15:30 CET (14:30Z; the clocks went back on the 25th).
        let opened = at("2026-10-30T14:30Z");
        // Answered Monday 2026-11-02 09:00 CET: 30 min Friday + 1 h Monday = 1.5 h.
        let o = outcome(
            &c,
            2 * H,
            opened,
            Some(at("2026-11-02T08:00Z")),
            at("2026-11-10T00:00Z"),
            &[],
        );
        assert_eq!(
            o,
            Outcome::Met {
                at_ms: at("2026-11-02T08:00Z"),
                elapsed_ms: 3 * H / 2
            }
        );
        // A 1 h target ran out Monday 08:30 CET: a November breach, known then.
        let o = outcome(
            &c,
            H,
            opened,
            Some(at("2026-11-02T08:00Z")),
            at("2026-11-10T00:00Z"),
            &[],
        );
        assert_eq!(
            o,
            Outcome::Breached {
                at_ms: at("2026-11-02T07:30Z"),
                elapsed_ms: 3 * H / 2,
                done: true
            }
        );
    }

    #[test]
    fn unanswered_holidays_and_maintenance() {
        let c = office();
        // Opened Monday 2026-11-30 15:00 CET; Tuesday 1 December is a holiday.
        let opened = at("2026-11-30T14:00Z");
        // Judged Tuesday evening: 1 h counted (Monday), a 2 h target still pending.
        let o = outcome(&c, 2 * H, opened, None, at("2026-12-01T20:00Z"), &[]);
        assert_eq!(o, Outcome::Pending { elapsed_ms: H });
        // Judged Wednesday 12:00 CET: 1 h + 4 h; the deadline was Wednesday 09:00 CET.
        let o = outcome(&c, 2 * H, opened, None, at("2026-12-02T11:00Z"), &[]);
        assert_eq!(
            o,
            Outcome::Breached {
                at_ms: at("2026-12-02T08:00Z"),
                elapsed_ms: 5 * H,
                done: false
            }
        );
        // Maintenance Wednesday 08:00-10:00 CET pauses the clock: deadline 11:00 CET.
        let m = [(at("2026-12-02T07:00Z"), at("2026-12-02T09:00Z"))];
        let o = outcome(&c, 2 * H, opened, None, at("2026-12-02T11:00Z"), &m);
        assert_eq!(
            o,
            Outcome::Breached {
                at_ms: at("2026-12-02T10:00Z"),
                elapsed_ms: 3 * H,
                done: false
            }
        );
        assert_eq!(o.at_ms(), Some(at("2026-12-02T10:00Z")));
    }
}
