//! A service's timeline from its hosts' incidents (pure).
//!
//! Decisions:
//! - A host is *unhealthy* for a service while it has an incident of a check the service
//!   counts (`offline` always, plus `up.checks`), from the incident's opening to its
//!   resolution (conditions' `for`/`resolve_after` delays apply, as for tickets).
//! - The part of such an incident inside a maintenance window that covers the host and
//!   the check is *planned*: the host is "in maintenance", not unhealthy.
//! - At every instant the service is **up** when enough hosts are healthy (`up.hosts`),
//!   **planned** when it is not up but would be if the hosts in maintenance were healthy
//!   (that time does not count: neither up nor down), and **down** otherwise.
//! - Availability = up time ÷ (service hours − planned time), within the period's
//!   service hours only.

use super::calendar::{merge, Clock};
use super::config::Need;

/// Sorted, disjoint, half-open spans in ms.
pub type Spans = Vec<(i64, i64)>;

/// `a` minus `b` (both sorted and disjoint).
pub fn subtract(a: &[(i64, i64)], b: &[(i64, i64)]) -> Spans {
    let mut out = Vec::new();
    let mut j = 0;
    for &(s, e) in a {
        let mut cur = s;
        while j < b.len() && b[j].1 <= cur {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && b[k].0 < e {
            if b[k].0 > cur {
                out.push((cur, b[k].0));
            }
            cur = cur.max(b[k].1);
            k += 1;
        }
        if cur < e {
            out.push((cur, e));
        }
    }
    out
}

/// `a` ∩ `b` (both sorted and disjoint).
pub fn intersect(a: &[(i64, i64)], b: &[(i64, i64)]) -> Spans {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let (s, e) = (a[i].0.max(b[j].0), a[i].1.min(b[j].1));
        if s < e {
            out.push((s, e));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// One host's trouble for a service: unplanned (`bad`) and planned-only spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostTrouble {
    pub bad: Spans,
    pub planned: Spans,
}

impl HostTrouble {
    /// From the host's failing spans, each with the maintenance that covers its check
    /// (sorted, merged).
    pub fn new(failing: &[((i64, i64), Spans)]) -> HostTrouble {
        let mut bad = Vec::new();
        let mut planned = Vec::new();
        for (span, cover) in failing {
            if span.0 >= span.1 {
                continue;
            }
            bad.extend(subtract(&[*span], cover));
            planned.extend(intersect(&[*span], cover));
        }
        let bad = merge(bad);
        let planned = subtract(&merge(planned), &bad);
        HostTrouble { bad, planned }
    }
}

/// A service's down and planned spans within a period (everything else is up).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    pub down: Spans,
    pub planned: Spans,
}

/// Sweeps the hosts' trouble over `[from, to)`.
pub fn timeline(need: Need, hosts: &[&HostTrouble], from: i64, to: i64) -> Timeline {
    let n = hosts.len();
    let mut ev: Vec<(i64, i32, i32)> = Vec::new();
    for h in hosts {
        for &(s, e) in &h.bad {
            let (s, e) = (s.max(from), e.min(to));
            if s < e {
                ev.push((s, 1, 0));
                ev.push((e, -1, 0));
            }
        }
        for &(s, e) in &h.planned {
            let (s, e) = (s.max(from), e.min(to));
            if s < e {
                ev.push((s, 0, 1));
                ev.push((e, 0, -1));
            }
        }
    }
    ev.sort_unstable();
    let mut tl = Timeline::default();
    let push = |v: &mut Spans, s: i64, e: i64| match v.last_mut() {
        Some(l) if l.1 == s => l.1 = e,
        _ => v.push((s, e)),
    };
    let (mut bad, mut maint) = (0i64, 0i64);
    let mut i = 0;
    while i < ev.len() {
        let t = ev[i].0;
        while i < ev.len() && ev[i].0 == t {
            bad += ev[i].1 as i64;
            maint += ev[i].2 as i64;
            i += 1;
        }
        let next = ev.get(i).map_or(to, |e| e.0);
        if next <= t {
            continue;
        }
        let healthy = n as i64 - bad - maint;
        if need.met(healthy.max(0) as usize, n) {
            continue;
        }
        if need.met((n as i64 - bad).max(0) as usize, n) {
            push(&mut tl.planned, t, next);
        } else {
            push(&mut tl.down, t, next);
        }
    }
    tl
}

/// Service time, planned time and downtime of a timeline, counted by a department's
/// clock over `[from, to)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Service hours minus planned time.
    pub counted_ms: i64,
    pub down_ms: i64,
    pub planned_ms: i64,
}

impl Figures {
    pub fn of(clock: &Clock, tl: &Timeline, from: i64, to: i64) -> Figures {
        let sum = |v: &Spans| -> i64 {
            v.iter()
                .map(|&(s, e)| clock.elapsed(s.max(from), e.min(to)))
                .sum()
        };
        let planned_ms = sum(&tl.planned);
        Figures {
            counted_ms: clock.elapsed(from, to) - planned_ms,
            down_ms: sum(&tl.down),
            planned_ms,
        }
    }

    /// Up ÷ counted; `None` when nothing was counted ("no data", never 100 %).
    pub fn ratio(&self) -> Option<f64> {
        (self.counted_ms > 0).then(|| 1.0 - self.down_ms as f64 / self.counted_ms as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::super::calendar::{Calendar, Clock};
    use super::*;

    const H: i64 = 3_600_000;

    #[test]
    fn span_algebra() {
        assert_eq!(
            subtract(&[(0, 10), (20, 30)], &[(2, 4), (8, 22), (25, 26)]),
            vec![(0, 2), (4, 8), (22, 25), (26, 30)]
        );
        assert_eq!(
            intersect(&[(0, 10), (20, 30)], &[(5, 25)]),
            vec![(5, 10), (20, 25)]
        );
        assert_eq!(subtract(&[(0, 10)], &[]), vec![(0, 10)]);
    }

    #[test]
    fn k_of_n_with_maintenance() {
        // Three hosts, two needed. Host a is down 0-10 h, host b 5-8 h; host c is in a
        // maintenance window 6-12 h with an offline incident 6-9 h.
        let a = HostTrouble::new(&[((0, 10 * H), vec![])]);
        let b = HostTrouble::new(&[((5 * H, 8 * H), vec![])]);
        let c = HostTrouble::new(&[((6 * H, 9 * H), vec![(6 * H, 12 * H)])]);
        assert_eq!(c.planned, vec![(6 * H, 9 * H)]);
        let tl = timeline(Need::AtLeast(2), &[&a, &b, &c], 0, 24 * H);
        // 5-6: a and b bad → down. 6-8: a, b bad, c maint → down (even with c, 1 of 3).
        // 8-9: a bad, c maint → not up (1 healthy), but would be with c → planned.
        assert_eq!(tl.down, vec![(5 * H, 8 * H)]);
        assert_eq!(tl.planned, vec![(8 * H, 9 * H)]);
        // Around the clock (UTC): 24 h − 1 h planned = 23 h counted, 3 h down.
        let cal = Calendar::compile(
            &serde_yaml::from_str("{time_zone: UTC, always: true}").unwrap(),
            "t",
        )
        .unwrap();
        let clock = Clock::new(&cal, 0, 24 * H);
        let f = Figures::of(&clock, &tl, 0, 24 * H);
        assert_eq!(
            f,
            Figures {
                counted_ms: 23 * H,
                down_ms: 3 * H,
                planned_ms: H
            }
        );
        assert!((f.ratio().unwrap() - 20.0 / 23.0).abs() < 1e-12);
        // All hosts needed: any trouble is down unless all of it is planned.
        let tl = timeline(Need::All, &[&c], 0, 24 * H);
        assert_eq!(tl.down, vec![]);
        assert_eq!(tl.planned, vec![(6 * H, 9 * H)]);
        assert_eq!(Figures::default().ratio(), None, "no data is not 100 %");
    }

    #[test]
    fn an_incident_partly_inside_maintenance() {
        let h = HostTrouble::new(&[
            ((2 * H, 6 * H), vec![(4 * H, 8 * H)]),
            ((5 * H, 7 * H), vec![]),
        ]);
        assert_eq!(h.bad, vec![(2 * H, 4 * H), (5 * H, 7 * H)]);
        assert_eq!(h.planned, vec![(4 * H, 5 * H)]);
    }
}
