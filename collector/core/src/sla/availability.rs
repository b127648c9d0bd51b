//! A service's timeline from its hosts' incidents (pure).
//!
//! Decisions:
//! - A host is *unhealthy* for a service while it has an incident of a check the service
//!   counts (`offline` always, plus `up.checks`), from the incident's opening to its
//!   resolution (conditions' `for`/`resolve_after` delays apply, as for tickets).
//! - The part of such an incident inside a maintenance window that covers the host and
//!   the check is *planned*: the host is "in maintenance", not unhealthy.
//! - A host is *unmonitored* in the parts of the collector's own gaps that none of its
//!   (spooled) health samples covers (`host_unmonitored`, see `crate::absence`): nobody
//!   knows whether it was healthy. Its incidents win: unmonitored time inside one of its
//!   incidents stays unhealthy (bad), inside a planned incident stays planned — an open
//!   incident is what we knew of it, the gap only hides whether it recovered. A host's
//!   state at an instant is therefore the first of bad, planned, unmonitored, healthy.
//! - At every instant, with `n` hosts of which `b` bad, `m` in maintenance and `u`
//!   unmonitored, the service is
//!   - **up** when enough hosts are healthy (`n − b − m − u`, by `up.hosts`);
//!   - **down** when it would not be up even if every host in maintenance and every
//!     unmonitored host were healthy (`n − b`): down whatever nobody saw;
//!   - **planned** when it would be up with the hosts in maintenance healthy and the
//!     unmonitored ones *not* (`n − b − u`): the planned work alone explains it, so
//!     whatever the unwatched hosts did the service was up or in planned maintenance —
//!     never down;
//!   - **unmonitored** otherwise: whether it was down depends on hosts nobody watched.
//!
//!   Without unmonitored hosts (`u = 0`) this is the rule without gaps: up, planned when
//!   it would be up with the maintenance hosts healthy, else down. Planned and
//!   unmonitored time both count neither as up nor as down.
//! - Availability = up time ÷ (service hours − planned time − unmonitored time), within
//!   the period's service hours only. The collector's gaps are the operations centre's
//!   outage, not the department's: counting them as up would hide that nobody watched,
//!   counting them as down would blame the service.

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

/// One host's trouble for a service: unplanned (`bad`), planned-only and unmonitored
/// spans (disjoint from each other).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostTrouble {
    pub bad: Spans,
    pub planned: Spans,
    /// Inside the collector's gaps, covered neither by the host's samples nor by its
    /// incidents.
    pub unmonitored: Spans,
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
        HostTrouble {
            bad,
            planned,
            unmonitored: Vec::new(),
        }
    }

    /// With the host's unmonitored time (any order, may overlap): what of it lies inside
    /// its bad or planned spans stays bad or planned.
    pub fn with_unmonitored(mut self, spans: &[(i64, i64)]) -> HostTrouble {
        let spans = merge(spans.iter().copied().filter(|s| s.0 < s.1).collect());
        self.unmonitored = subtract(&subtract(&spans, &self.bad), &self.planned);
        self
    }
}

/// A service's down, planned and unmonitored spans within a period (everything else is
/// up).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    pub down: Spans,
    pub planned: Spans,
    pub unmonitored: Spans,
}

/// Sweeps the hosts' trouble over `[from, to)`.
pub fn timeline(need: Need, hosts: &[&HostTrouble], from: i64, to: i64) -> Timeline {
    let n = hosts.len();
    // (instant, change of [bad, maintenance, unmonitored] hosts).
    let mut ev: Vec<(i64, [i32; 3])> = Vec::new();
    for h in hosts {
        for (k, spans) in [&h.bad, &h.planned, &h.unmonitored].into_iter().enumerate() {
            for &(s, e) in spans {
                let (s, e) = (s.max(from), e.min(to));
                if s < e {
                    let mut up = [0; 3];
                    up[k] = 1;
                    ev.push((s, up));
                    ev.push((e, up.map(|x| -x)));
                }
            }
        }
    }
    ev.sort_unstable();
    let mut tl = Timeline::default();
    let push = |v: &mut Spans, s: i64, e: i64| match v.last_mut() {
        Some(l) if l.1 == s => l.1 = e,
        _ => v.push((s, e)),
    };
    let (mut bad, mut maint, mut unmon) = (0i64, 0i64, 0i64);
    let met = |healthy: i64| need.met(healthy.max(0) as usize, n);
    let n = n as i64;
    let mut i = 0;
    while i < ev.len() {
        let t = ev[i].0;
        while i < ev.len() && ev[i].0 == t {
            bad += ev[i].1[0] as i64;
            maint += ev[i].1[1] as i64;
            unmon += ev[i].1[2] as i64;
            i += 1;
        }
        let next = ev.get(i).map_or(to, |e| e.0);
        if next <= t {
            continue;
        }
        if met(n - bad - maint - unmon) {
            continue;
        }
        // See the module docs: down whatever the excused hosts did; planned when the
        // maintenance alone explains it; unmonitored when it hangs on unwatched hosts.
        if !met(n - bad) {
            push(&mut tl.down, t, next);
        } else if met(n - bad - unmon) {
            push(&mut tl.planned, t, next);
        } else {
            push(&mut tl.unmonitored, t, next);
        }
    }
    tl
}

/// Service time, planned time, unmonitored time and downtime of a timeline, counted by a
/// department's clock over `[from, to)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Service hours minus planned and unmonitored time.
    pub counted_ms: i64,
    pub down_ms: i64,
    pub planned_ms: i64,
    pub unmonitored_ms: i64,
}

impl Figures {
    pub fn of(clock: &Clock, tl: &Timeline, from: i64, to: i64) -> Figures {
        let sum = |v: &Spans| -> i64 {
            v.iter()
                .map(|&(s, e)| clock.elapsed(s.max(from), e.min(to)))
                .sum()
        };
        let planned_ms = sum(&tl.planned);
        let unmonitored_ms = sum(&tl.unmonitored);
        Figures {
            counted_ms: clock.elapsed(from, to) - planned_ms - unmonitored_ms,
            down_ms: sum(&tl.down),
            planned_ms,
            unmonitored_ms,
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
                planned_ms: H,
                unmonitored_ms: 0,
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

    fn always() -> Calendar {
        Calendar::compile(
            &serde_yaml::from_str("{time_zone: UTC, always: true}").unwrap(),
            "t",
        )
        .unwrap()
    }

    fn unmonitored(spans: &[(i64, i64)]) -> HostTrouble {
        HostTrouble::default().with_unmonitored(spans)
    }

    #[test]
    fn a_hosts_incidents_win_over_its_unmonitored_time() {
        // Offline 2-6 h, a window 4-8 h: bad 2-4, planned 4-6. Gaps 1-3 h and 5-9 h.
        let h = HostTrouble::new(&[((2 * H, 6 * H), vec![(4 * H, 8 * H)])]).with_unmonitored(&[
            (5 * H, 9 * H),
            (H, 3 * H),
            (7 * H, 7 * H),
        ]);
        assert_eq!(h.bad, vec![(2 * H, 4 * H)]);
        assert_eq!(h.planned, vec![(4 * H, 6 * H)]);
        assert_eq!(h.unmonitored, vec![(H, 2 * H), (6 * H, 9 * H)]);
        // Rows overlapping each other or out of order merge.
        let h = unmonitored(&[(3 * H, 5 * H), (H, 4 * H)]);
        assert_eq!(h.unmonitored, vec![(H, 5 * H)]);
    }

    #[test]
    fn two_gaps_are_left_out() {
        // One host, all needed: unmonitored 1-2 h and 5-7 h, offline 6-8 h (a bad 6-7
        // stays bad), the rest up.
        let h = HostTrouble::new(&[((6 * H, 8 * H), vec![])])
            .with_unmonitored(&[(H, 2 * H), (5 * H, 7 * H)]);
        let tl = timeline(Need::All, &[&h], 0, 24 * H);
        assert_eq!(tl.unmonitored, vec![(H, 2 * H), (5 * H, 6 * H)]);
        assert_eq!(tl.down, vec![(6 * H, 8 * H)]);
        assert_eq!(tl.planned, vec![]);
        let cal = always();
        let f = Figures::of(&Clock::new(&cal, 0, 24 * H), &tl, 0, 24 * H);
        // 24 h − 2 h unmonitored = 22 h counted, 2 h down: 20/22, not 22/24 or 20/24.
        assert_eq!(
            f,
            Figures {
                counted_ms: 22 * H,
                down_ms: 2 * H,
                planned_ms: 0,
                unmonitored_ms: 2 * H,
            }
        );
        assert!((f.ratio().unwrap() - 20.0 / 22.0).abs() < 1e-12);
        // Nothing but gaps: no data, not 100 %.
        let h = unmonitored(&[(0, 24 * H)]);
        let tl = timeline(Need::All, &[&h], 0, 24 * H);
        let f = Figures::of(&Clock::new(&cal, 0, 24 * H), &tl, 0, 24 * H);
        assert_eq!((f.counted_ms, f.unmonitored_ms), (0, 24 * H));
        assert_eq!(f.ratio(), None);
    }

    #[test]
    fn k_of_n_with_one_host_unmonitored() {
        // Three hosts, two needed. a is unmonitored 0-4 h; b is down 2-3 h; c 3:30-5 h.
        let a = unmonitored(&[(0, 4 * H)]);
        let b = HostTrouble::new(&[((2 * H, 3 * H), vec![])]);
        let c = HostTrouble::new(&[((7 * H / 2, 5 * H), vec![])]);
        let tl = timeline(Need::AtLeast(2), &[&a, &b, &c], 0, 24 * H);
        // 0-2: b, c healthy → up, a's gap does not matter. 2-3: only c healthy; up if a
        // was → unmonitored. 3-3:30 up. 3:30-4: only b → unmonitored. 4-5: a, b → up.
        assert_eq!(tl.unmonitored, vec![(2 * H, 3 * H), (7 * H / 2, 4 * H)]);
        assert_eq!(tl.down, vec![]);
        assert_eq!(tl.planned, vec![]);
        // b and c both down 2-3 h as well: down, whatever a did.
        let c = HostTrouble::new(&[((2 * H, 3 * H), vec![])]);
        let tl = timeline(Need::AtLeast(2), &[&a, &b, &c], 0, 24 * H);
        assert_eq!(tl.down, vec![(2 * H, 3 * H)]);
        assert_eq!(tl.unmonitored, vec![]);
    }

    #[test]
    fn a_host_unmonitored_while_another_is_down() {
        // a down 1-3 h, b unmonitored 2-4 h.
        let a = HostTrouble::new(&[((H, 3 * H), vec![])]);
        let b = unmonitored(&[(2 * H, 4 * H)]);
        // Both needed: a's outage is down all along; after it, b's gap is unmonitored.
        let tl = timeline(Need::All, &[&a, &b], 0, 24 * H);
        assert_eq!(tl.down, vec![(H, 3 * H)]);
        assert_eq!(tl.unmonitored, vec![(3 * H, 4 * H)]);
        // One needed: up while b is watched; 2-3 h it hangs on b → unmonitored.
        let tl = timeline(Need::AtLeast(1), &[&a, &b], 0, 24 * H);
        assert_eq!(tl.down, vec![]);
        assert_eq!(tl.unmonitored, vec![(2 * H, 3 * H)]);
    }

    #[test]
    fn a_gap_inside_maintenance() {
        // One host offline 1-5 h inside a window 0-6 h; the collector away 2-3 h and
        // 5:30-7 h. Its planned incident wins over the first gap; the second (no
        // incident) is unmonitored, window or not.
        let h = HostTrouble::new(&[((H, 5 * H), vec![(0, 6 * H)])])
            .with_unmonitored(&[(2 * H, 3 * H), (11 * H / 2, 7 * H)]);
        let tl = timeline(Need::All, &[&h], 0, 24 * H);
        assert_eq!(tl.planned, vec![(H, 5 * H)]);
        assert_eq!(tl.unmonitored, vec![(11 * H / 2, 7 * H)]);
        assert_eq!(tl.down, vec![]);
        // Two of three needed, a in maintenance 0-6 h, b unmonitored 2-4 h: with a back
        // the service would be up whatever b did → planned.
        let a = HostTrouble::new(&[((0, 6 * H), vec![(0, 6 * H)])]);
        let b = unmonitored(&[(2 * H, 4 * H)]);
        let c = HostTrouble::default();
        let tl = timeline(Need::AtLeast(2), &[&a, &b, &c], 0, 24 * H);
        assert_eq!(tl.planned, vec![(2 * H, 4 * H)]);
        assert_eq!(tl.unmonitored, vec![]);
        // All three needed: the maintenance alone does not explain it; had b failed, the
        // service would have been down → unmonitored (and planned around it).
        let tl = timeline(Need::All, &[&a, &b, &c], 0, 24 * H);
        assert_eq!(tl.planned, vec![(0, 2 * H), (4 * H, 6 * H)]);
        assert_eq!(tl.unmonitored, vec![(2 * H, 4 * H)]);
        assert_eq!(tl.down, vec![]);
        let cal = always();
        let f = Figures::of(&Clock::new(&cal, 0, 24 * H), &tl, 0, 24 * H);
        assert_eq!(
            (f.counted_ms, f.planned_ms, f.unmonitored_ms),
            (18 * H, 4 * H, 2 * H)
        );
        assert_eq!(f.ratio(), Some(1.0));
    }
}
