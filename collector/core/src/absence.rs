//! The collector's own absence (pure): when it could not hear its hosts, and what that
//! means for offline detection and for the SLA.
//!
//! Decisions:
//! - A host's silence counts only while the collector could hear. A *gap* is a stretch
//!   in which it could not: the process was down (seen at start from the last heartbeat
//!   it left in the store, so a kill -9 counts too), the store was unavailable, the
//!   machine was suspended, or ingest was stalled behind a backlog.
//! - After a gap every host that was still being watched gets its full silence allowance
//!   (`missed_intervals` × its health interval) counted from when ingest has caught up:
//!   the gap's end plus the longest an agent that was retrying waits before its next
//!   attempt (`tilsyn_proto::retry`, 72 s), so no live agent is judged before it could get
//!   through ([`grace`]). A host that does not report by then is offline from its *last
//!   report*: it kept no spool that could have told us otherwise, so it was off since.
//! - Inside a gap a host's health samples (spooled by the agent, delivered after the
//!   return) show it was there: each covers the silence allowance after it, as a live
//!   sample does. What no sample covers is *unmonitored* ([`uncovered`]): neither up nor
//!   down, left out of the availability ratio.

use crate::sla::availability::{subtract, Spans};
use crate::sla::calendar::merge;

/// A stretch `[from_ms, to_ms)` in which the collector could not hear its hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub from_ms: i64,
    pub to_ms: i64,
}

impl Gap {
    pub fn ms(&self) -> i64 {
        self.to_ms - self.from_ms
    }
}

/// Why the collector could not hear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The process was not running (stopped, killed, upgraded, crashed).
    Down,
    /// The process ran but its own work paused: a suspended machine, an unavailable
    /// store, a scheduler that did not get to run.
    Paused,
    /// Reports waited in ingest's queue longer than a check interval.
    Stalled,
}

impl Cause {
    pub fn as_str(&self) -> &'static str {
        match self {
            Cause::Down => "down",
            Cause::Paused => "paused",
            Cause::Stalled => "stalled",
        }
    }
}

/// The gap between the last sign of life (`last_beat_ms`) and `now_ms`, if it is longer
/// than `tolerance_ms` (a late tick is not a gap).
pub fn gap_since(last_beat_ms: Option<i64>, now_ms: i64, tolerance_ms: i64) -> Option<Gap> {
    let from_ms = last_beat_ms?;
    (now_ms - from_ms > tolerance_ms).then_some(Gap {
        from_ms,
        to_ms: now_ms,
    })
}

/// A host's silence allowance: `missed_intervals` × its health interval (ms), the time it
/// may stay silent before it counts as offline.
pub fn allowance_ms(health_interval_s: u32, missed_intervals: u32) -> i64 {
    health_interval_s.max(1) as i64 * 1000 * missed_intervals.max(1) as i64
}

/// A watched host as offline detection sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watched {
    /// The last time a report of it was committed.
    pub last_seen_ms: i64,
    /// When it is marked offline if nothing else arrives.
    pub deadline_ms: i64,
    /// Its silence allowance: `missed_intervals` × its health interval.
    pub allowance_ms: i64,
}

/// What a gap does to a watched host's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grace {
    /// Its deadline lies beyond the grace after the gap: nothing changes.
    Unchanged,
    /// Its deadline fell in the gap or in the grace after it: the full allowance is
    /// counted from the catch-up; if it stays silent it is offline from its last report.
    Extended {
        deadline_ms: i64,
        offline_from_ms: i64,
    },
    /// It was overdue before the gap began (only the check had not run yet): it goes
    /// offline at the next check, its offline time starting at its deadline.
    Overdue { offline_from_ms: i64 },
}

/// How long after a gap ingest counts as caught up: the gap's end plus `reconnect_ms`,
/// the longest a retrying agent waits before its next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    pub reconnect_ms: i64,
}

impl CatchUp {
    /// What the agents do (`tilsyn_proto::retry`).
    pub const AGENTS: CatchUp = CatchUp {
        reconnect_ms: tilsyn_proto::retry::RECONNECT_WITHIN_MS,
    };

    pub fn after(&self, gap: &Gap) -> i64 {
        gap.to_ms + self.reconnect_ms
    }
}

/// The grace rule.
pub fn grace(h: &Watched, gap: &Gap, catch_up: CatchUp) -> Grace {
    let deadline_ms = catch_up.after(gap) + h.allowance_ms;
    if h.deadline_ms < gap.from_ms {
        Grace::Overdue {
            offline_from_ms: h.deadline_ms,
        }
    } else if h.deadline_ms < deadline_ms {
        Grace::Extended {
            deadline_ms,
            offline_from_ms: h.last_seen_ms,
        }
    } else {
        Grace::Unchanged
    }
}

/// The parts of `gap` (from `watched_from_ms` on: a host enrolled during the gap was not
/// watched before) that none of the host's samples covers; each sample, collected at a
/// time in `samples_ms` (any order), covers `[at, at + allowance_ms)`.
pub fn uncovered(gap: &Gap, watched_from_ms: i64, samples_ms: &[i64], allowance_ms: i64) -> Spans {
    let from = gap.from_ms.max(watched_from_ms);
    if from >= gap.to_ms {
        return Vec::new();
    }
    let covered = merge(
        samples_ms
            .iter()
            .map(|&at| (at, at.saturating_add(allowance_ms.max(1))))
            .collect(),
    );
    subtract(&[(from, gap.to_ms)], &covered)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;
    const M: i64 = 60 * S;
    /// Agents that reconnect at once, to keep the timelines short.
    const AT_ONCE: CatchUp = CatchUp { reconnect_ms: 0 };

    fn watched(last_seen_ms: i64, allowance_ms: i64) -> Watched {
        Watched {
            last_seen_ms,
            deadline_ms: last_seen_ms + allowance_ms,
            allowance_ms,
        }
    }

    #[test]
    fn a_gap_is_longer_than_the_tolerance() {
        assert_eq!(gap_since(None, 100 * S, 30 * S), None, "first run ever");
        assert_eq!(
            gap_since(Some(80 * S), 100 * S, 30 * S),
            None,
            "a late tick"
        );
        assert_eq!(
            gap_since(Some(10 * S), 100 * S, 30 * S),
            Some(Gap {
                from_ms: 10 * S,
                to_ms: 100 * S
            })
        );
    }

    #[test]
    fn every_host_gets_its_full_allowance_after_the_gap() {
        // Health every 10 s, 3 missed intervals: 30 s allowance. The collector was away
        // from 12:00:00 to 12:02:00 (an upgrade).
        let gap = Gap {
            from_ms: 0,
            to_ms: 2 * M,
        };
        // Reported 5 s before the gap: its deadline (25 s into the gap) moves to 2:30,
        // and if it stays silent its offline time starts at that last report.
        assert_eq!(
            grace(&watched(-5 * S, 30 * S), &gap, AT_ONCE),
            Grace::Extended {
                deadline_ms: 2 * M + 30 * S,
                offline_from_ms: -5 * S
            }
        );
        // Deadline after the gap's end but inside the allowance after it: also extended.
        let h = Watched {
            last_seen_ms: -5 * S,
            deadline_ms: 2 * M + 10 * S,
            allowance_ms: 30 * S,
        };
        assert_eq!(
            grace(&h, &gap, AT_ONCE),
            Grace::Extended {
                deadline_ms: 2 * M + 30 * S,
                offline_from_ms: -5 * S
            }
        );
        // A host on a 5-minute interval: 15 min allowance, deadline beyond 2:00 + 15:00?
        // Reported at -1 min: deadline 14:00 < 17:00 → extended to 17:00.
        assert_eq!(
            grace(&watched(-M, 15 * M), &gap, AT_ONCE),
            Grace::Extended {
                deadline_ms: 17 * M,
                offline_from_ms: -M
            }
        );
        // Deadline already beyond the gap plus the allowance: untouched.
        let far = Watched {
            last_seen_ms: -S,
            deadline_ms: 3 * M,
            allowance_ms: 30 * S,
        };
        assert_eq!(grace(&far, &gap, AT_ONCE), Grace::Unchanged);
        // Silent since before the gap and already past its deadline when the collector
        // went away: no grace; its offline time starts at its deadline, not the restart.
        assert_eq!(
            grace(&watched(-40 * S, 30 * S), &gap, AT_ONCE),
            Grace::Overdue {
                offline_from_ms: -10 * S
            }
        );
        // Exactly at the gap's start: still watched when the collector left.
        assert_eq!(
            grace(&watched(-30 * S, 30 * S), &gap, AT_ONCE),
            Grace::Extended {
                deadline_ms: 2 * M + 30 * S,
                offline_from_ms: -30 * S
            }
        );
    }

    #[test]
    fn the_grace_waits_for_retrying_agents_to_get_through() {
        // An agent that kept failing during a 2-minute gap waits up to 72 s (60 s ± 20 %)
        // before its next attempt: its 30 s allowance counts from 2:00 + 72 s.
        let gap = Gap {
            from_ms: 0,
            to_ms: 2 * M,
        };
        assert_eq!(
            grace(&watched(-5 * S, 30 * S), &gap, CatchUp::AGENTS),
            Grace::Extended {
                deadline_ms: 2 * M + 72 * S + 30 * S,
                offline_from_ms: -5 * S
            }
        );
    }

    #[test]
    fn a_second_gap_inside_the_grace_extends_it_again() {
        let allowance = 30 * S;
        let first = Gap {
            from_ms: 0,
            to_ms: 2 * M,
        };
        let Grace::Extended { deadline_ms, .. } =
            grace(&watched(-5 * S, allowance), &first, AT_ONCE)
        else {
            panic!("extended")
        };
        // The store went away 10 s after the return, for 1 min: the host's (still silent)
        // deadline 2:30 falls in it; the allowance counts again from 3:10. Its offline
        // time would still start at its last report, before the first gap.
        let second = Gap {
            from_ms: 2 * M + 10 * S,
            to_ms: 3 * M + 10 * S,
        };
        let h = Watched {
            last_seen_ms: -5 * S,
            deadline_ms,
            allowance_ms: allowance,
        };
        assert_eq!(
            grace(&h, &second, AT_ONCE),
            Grace::Extended {
                deadline_ms: 3 * M + 40 * S,
                offline_from_ms: -5 * S
            }
        );
    }

    #[test]
    fn unmonitored_is_what_no_sample_covers() {
        let gap = Gap {
            from_ms: 0,
            to_ms: 2 * M,
        };
        let allowance = 30 * S;
        // Spooled health every 10 s through the gap: all covered.
        let spooled: Vec<i64> = (-1..12).map(|i| i * 10 * S).collect();
        assert_eq!(uncovered(&gap, i64::MIN, &spooled, allowance), vec![]);
        // The agent stopped 40 s into the gap (last sample at 40 s): covered until 70 s.
        let stopped: Vec<i64> = (-1..5).map(|i| i * 10 * S).collect();
        assert_eq!(
            uncovered(&gap, i64::MIN, &stopped, allowance),
            vec![(70 * S, 2 * M)]
        );
        // No spool at all (the last sample 5 s before the gap): covered for 25 s.
        assert_eq!(
            uncovered(&gap, i64::MIN, &[-5 * S], allowance),
            vec![(25 * S, 2 * M)]
        );
        // A hole of 50 s in the spool (samples at 20 s and 70 s): 20 s of it uncovered.
        assert_eq!(
            uncovered(
                &gap,
                i64::MIN,
                &[-5 * S, 20 * S, 70 * S, 100 * S],
                allowance
            ),
            vec![(50 * S, 70 * S)]
        );
        // Enrolled during the gap: watched only from then on.
        assert_eq!(
            uncovered(&gap, 90 * S, &[], allowance),
            vec![(90 * S, 2 * M)]
        );
        assert_eq!(uncovered(&gap, 3 * M, &[], allowance), vec![]);
        // Samples in any order, duplicates allowed.
        assert_eq!(
            uncovered(&gap, i64::MIN, &[100 * S, -5 * S, 100 * S], allowance),
            vec![(25 * S, 100 * S)]
        );
    }
}
