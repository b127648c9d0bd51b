//! Offline detection that judges only time the collector could hear.
//!
//! Each offline tick beats in the store (this run's heartbeat), so the next start — even
//! after a kill -9 — knows when the collector stopped listening. A *gap* is recorded when
//! the process was down (seen at start), when its own ticks stopped for longer than two
//! check intervals (a suspended machine, an unavailable store: the beat could not be
//! written), or when reports waited in ingest's queue longer than a check interval. Each
//! gap gives every watched host its full allowance from when ingest has caught up (the
//! gap's end plus the agents' longest retry wait; the core's
//! [`grace`](tilsyn_collector_core::absence::grace) rule, applied by the store); no host is
//! judged while ingest is behind; once a gap's grace has ended, the hosts' unmonitored
//! time inside it is written for the SLA.

use std::time::Duration;

use tilsyn_collector_core::absence::{gap_since, CatchUp, Cause, Gap};
use tilsyn_collector_core::text::elapsed;

use crate::ingest::Shared;

pub struct Offline {
    run_id: i64,
    /// The last tick whose beat was written.
    last_beat_ms: i64,
    /// Since when (ms) reports have waited in ingest longer than `stall_ms`.
    stalled_since: Option<i64>,
    /// A tick later than this after the last beat means our own work paused.
    pause_ms: i64,
    /// Ingest lag beyond which no host is judged.
    stall_ms: i64,
    /// When the earliest unsettled gap's grace ends (its unmonitored time is then
    /// written); the store is asked for due gaps only from then on.
    next_settle_ms: Option<i64>,
}

fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

impl Offline {
    /// Opens this run and records the gap since the last sign of life before it (the
    /// process was down: stopped, killed, upgraded). Fails when the store cannot be used.
    pub async fn start(s: &Shared) -> anyhow::Result<Offline> {
        let now = (s.clock)();
        let (run_id, last) = s
            .with_store("begin_run", move |st| st.begin_run(now))
            .await?;
        s.metrics.start_time.set(now as f64 / 1000.0);
        let check = ms(s.cfg.offline.check_every.0).max(1000);
        let mut me = Offline {
            run_id,
            last_beat_ms: now,
            stalled_since: None,
            pause_ms: (2 * check).max(5000),
            stall_ms: check.max(5000),
            next_settle_ms: None,
        };
        if !s.leader.is_leader() {
            // Another collector leads and listened meanwhile: this one's absence was no gap.
            return Ok(me);
        }
        // Gaps a previous run recorded but did not live to settle.
        me.next_settle_ms = Self::earliest_unsettled(s).await?;
        // Any time the process did not run is a gap, however short: nobody listened.
        match gap_since(last, now, 0) {
            Some(gap) => me.record(s, gap, Cause::Down).await?,
            None if last.is_none() => {
                tracing::info!("first start on this database: no earlier run to account for")
            }
            None => {}
        }
        Ok(me)
    }

    /// Records a gap and gives the hosts their grace; logs and counts it.
    async fn record(&mut self, s: &Shared, gap: Gap, cause: Cause) -> anyhow::Result<()> {
        let missed = s.cfg.offline.missed_intervals;
        let r = s
            .with_store("record_gap", move |st| {
                st.record_gap(&gap, cause, missed, CatchUp::AGENTS)
            })
            .await?;
        let m = &s.metrics;
        m.gaps.with_label_values(&[cause.as_str()]).inc();
        m.gap_seconds
            .with_label_values(&[cause.as_str()])
            .inc_by(gap.ms() as f64 / 1000.0);
        m.graced_hosts.inc_by(r.extended + r.overdue);
        self.next_settle_ms = Some(
            self.next_settle_ms
                .map_or(r.settle_at_ms, |t| t.min(r.settle_at_ms)),
        );
        let what = match cause {
            Cause::Down => "the collector was not running",
            Cause::Paused => {
                "the collector's own work paused (suspended machine, unavailable store)"
            }
            Cause::Stalled => "reports waited in ingest",
        };
        tracing::warn!(
            cause = cause.as_str(),
            away_ms = gap.ms(),
            graced_hosts = r.extended,
            overdue_hosts = r.overdue,
            "{what} for {}: {} hosts get their full offline grace from now (until {} at the latest); {} hosts that were overdue before it go offline from their deadline",
            elapsed(gap.ms()),
            r.extended,
            elapsed(r.settle_at_ms - gap.to_ms),
            r.overdue
        );
        Ok(())
    }

    /// Coming to lead after another collector: the time since the previous leader's last
    /// renewal is a gap (nobody judged silence then; its agents were moving over), so
    /// every host gets its full grace again, as after a restart.
    pub async fn took_over(&mut self, s: &Shared, lease: &tilsyn_collector_store::Lease) {
        let Some((from, expired_ms)) = &lease.took_over_from else {
            return;
        };
        let now = (s.clock)();
        let ttl = s.leader.ttl().as_millis() as i64;
        // The database's clock: the previous leader's last renewal was a lease before its
        // expiry, and this lease began at acquired_ms.
        let away = (lease.acquired_ms - (expired_ms - ttl)).max(0);
        tracing::warn!(previous = %from, away_ms = away, "leading now, after another collector");
        self.next_settle_ms = Self::earliest_unsettled(s).await.ok().flatten();
        let gap = Gap {
            from_ms: now - away,
            to_ms: now,
        };
        if self.record(s, gap, Cause::Down).await.is_err() {
            tracing::error!("cannot record the lead change as a gap");
        }
        self.last_beat_ms = now;
    }

    /// One offline tick: account for our own gaps, then judge silence, then settle the
    /// gaps whose grace has ended. A collector that does not lead only beats.
    pub async fn tick(&mut self, s: &Shared) {
        let now = (s.clock)();
        if !s.leader.is_leader() {
            self.beat(s, now).await;
            return;
        }
        // Our own work paused: record it before judging anyone. On failure (the store is
        // still away) nothing is judged; the next tick sees a longer gap.
        if let Some(gap) = gap_since(Some(self.last_beat_ms), now, self.pause_ms) {
            if self.record(s, gap, Cause::Paused).await.is_err() {
                return;
            }
            self.last_beat_ms = now;
        }
        if !self.beat(s, now).await {
            return;
        }

        let lag = s.writer.lag_ms(now);
        s.metrics.ingest_lag.set(lag as f64 / 1000.0);
        if lag > self.stall_ms {
            if self.stalled_since.is_none() {
                tracing::warn!(
                    lag_ms = lag,
                    "ingest is behind: no host is judged offline until it has caught up"
                );
            }
            self.stalled_since.get_or_insert(now - lag);
            return;
        }
        if let Some(from_ms) = self.stalled_since {
            let gap = Gap {
                from_ms,
                to_ms: now,
            };
            if self.record(s, gap, Cause::Stalled).await.is_err() {
                return;
            }
            self.stalled_since = None;
        }

        let missed = s.cfg.offline.missed_intervals;
        // Failures are counted and logged by with_store; the next tick retries.
        if let Ok(gone) = s
            .with_store("mark_offline", move |st| st.mark_offline(now))
            .await
        {
            for g in &gone {
                if g.since_ms < now {
                    tracing::warn!(agent_id = %g.agent_id, since_ms = g.since_ms, "host offline: silent through a collector gap and the full grace after it; offline since its last report");
                } else {
                    tracing::warn!(agent_id = %g.agent_id, "host offline: missed {missed} health intervals");
                }
            }
            s.metrics
                .state_changes
                .with_label_values(&["offline"])
                .inc_by(gone.len() as u64);
            s.incidents.offline(gone);
        }

        if self.next_settle_ms.is_some_and(|t| t <= now) {
            self.settle(s, now).await;
        }
    }

    /// This run's heartbeat; `false` when the store could not take it.
    async fn beat(&mut self, s: &Shared, now: i64) -> bool {
        let run = self.run_id;
        let ok = s
            .with_store("beat", move |st| st.beat(run, now, false))
            .await
            .is_ok();
        if ok {
            self.last_beat_ms = now;
        }
        ok
    }

    /// Writes the unmonitored time of every gap whose grace has ended; then looks up
    /// when the next one ends.
    async fn settle(&mut self, s: &Shared, now: i64) {
        let missed = s.cfg.offline.missed_intervals;
        let Ok(due) = s
            .with_store("collector_gaps", move |st| st.collector_gaps(0, Some(now)))
            .await
        else {
            return;
        };
        for g in due {
            let id = g.gap_id;
            if let Ok(n) = s
                .with_store("settle_gap", move |st| st.settle_gap(id, missed, now))
                .await
            {
                tracing::info!(
                    gap_id = id,
                    from_ms = g.from_ms,
                    to_ms = g.to_ms,
                    "collector gap settled: {n} hosts have unmonitored time in it (no spooled health covers it)"
                );
            }
        }
        // A failed settle stays unsettled and due: the next tick retries it.
        if let Ok(next) = Self::earliest_unsettled(s).await {
            self.next_settle_ms = next;
        }
    }

    /// When the grace of the earliest gap not yet settled ends.
    async fn earliest_unsettled(s: &Shared) -> tilsyn_collector_store::Result<Option<i64>> {
        let gaps = s
            .with_store("collector_gaps", |st| st.collector_gaps(0, Some(i64::MAX)))
            .await?;
        Ok(gaps.iter().map(|g| g.settle_at_ms).min())
    }

    /// A clean stop: the next start counts its gap from now.
    pub async fn stop(&self, s: &Shared) {
        let (run, now) = (self.run_id, (s.clock)());
        let _ = s
            .with_store("beat", move |st| st.beat(run, now, true))
            .await;
    }
}
