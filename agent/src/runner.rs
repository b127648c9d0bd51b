//! The agent's loop: run each probe on its schedule, spool what it returns, deliver the
//! spool to the collector in order, and follow the collector's answers (resend a section
//! in full, fetch new settings). The real agent and every simulated host run this same code.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use tilsyn_proto::v1::{report::Body, AgentSettings, Report, ReportBatch, SectionRef};

use crate::config::Overrides;
use crate::probes::{Collected, ProbeKind, Source};
use crate::spool::Spool;
use crate::transport::{Client, TransportError};

/// How often inventory and software are re-read to notice a change (sent in full only when
/// their hash changed, else a short reference once per interval).
pub const CHANGE_CHECK: Duration = Duration::from_secs(300);
const BATCH_REPORTS: usize = 64;
const BATCH_BYTES: u64 = 4 * 1024 * 1024;
// The collector's offline grace after its own absence relies on these (see `retry`).
const BACKOFF_MIN: Duration = tilsyn_proto::retry::MIN;
const BACKOFF_MAX: Duration = tilsyn_proto::retry::MAX;

/// Why the loop stopped.
#[derive(Debug)]
pub enum Exit {
    Shutdown,
    /// The collector no longer knows this identity: enroll again, keep the spool.
    Unauthenticated(String),
}

#[derive(Default)]
struct SectionState {
    due: Option<Instant>,
    last_hash: Option<String>,
    last_full_or_ref: Option<Instant>,
    force_full: bool,
}

/// Central settings with this machine's local overrides applied.
pub fn effective(central: &AgentSettings, o: &Overrides) -> AgentSettings {
    let mut s = central.clone();
    let secs = |d: Option<tilsyn_proto::duration::HumanDuration>, v: &mut u32| {
        if let Some(d) = d {
            *v = d.as_secs().min(u32::MAX as u64) as u32;
        }
    };
    secs(o.health_interval, &mut s.health_interval_seconds);
    secs(o.inventory_interval, &mut s.inventory_interval_seconds);
    secs(o.software_interval, &mut s.software_interval_seconds);
    secs(o.patch_interval, &mut s.patch_interval_seconds);
    secs(o.facts_interval, &mut s.facts_interval_seconds);
    for (dst, src) in [
        (&mut s.watched_services, &o.watched_services),
        (&mut s.watched_processes, &o.watched_processes),
        (&mut s.disabled_probes, &o.disabled_probes),
    ] {
        for v in src {
            if !dst.contains(v) {
                dst.push(v.clone());
            }
        }
    }
    s
}

fn interval(s: &AgentSettings, k: ProbeKind) -> Duration {
    let secs = match k {
        ProbeKind::Inventory => s.inventory_interval_seconds,
        ProbeKind::Software => s.software_interval_seconds,
        ProbeKind::Patches => s.patch_interval_seconds,
        ProbeKind::Health => s.health_interval_seconds,
        ProbeKind::Facts => s.facts_interval_seconds,
    };
    Duration::from_secs(secs.max(5) as u64)
}

/// How often a probe actually runs: inventory and software are checked for changes more
/// often than their full interval.
fn check_every(s: &AgentSettings, k: ProbeKind) -> Duration {
    match k {
        ProbeKind::Inventory | ProbeKind::Software | ProbeKind::Facts => {
            interval(s, k).min(CHANGE_CHECK)
        }
        _ => interval(s, k),
    }
}

pub struct Runner<S: Source> {
    pub source: S,
    pub spool: Spool,
    client: Client,
    central: AgentSettings,
    overrides: Overrides,
    settings: AgentSettings,
    sections: HashMap<ProbeKind, SectionState>,
    /// Last error messages per probe, so a persistent error is logged once, not every cycle.
    last_errors: HashMap<ProbeKind, Vec<String>>,
    backoff: Duration,
    next_send: Instant,
    label: String,
}

impl<S: Source> Runner<S> {
    pub fn new(
        source: S,
        spool: Spool,
        client: Client,
        central: AgentSettings,
        overrides: Overrides,
        label: String,
    ) -> Self {
        let settings = effective(&central, &overrides);
        Runner {
            source,
            spool,
            client,
            central,
            overrides,
            settings,
            sections: HashMap::new(),
            last_errors: HashMap::new(),
            backoff: BACKOFF_MIN,
            next_send: Instant::now(),
            label,
        }
    }

    pub fn settings(&self) -> &AgentSettings {
        &self.settings
    }

    /// Delays the first run of every probe by `d` (spreads a simulated fleet's start).
    pub fn start_after(&mut self, d: Duration) {
        let at = Instant::now() + d;
        for k in ProbeKind::ALL {
            self.sections.entry(k).or_default().due = Some(at);
        }
        self.next_send = at;
    }

    fn enabled(&self, k: ProbeKind) -> bool {
        !self.settings.disabled_probes.iter().any(|p| p == k.name())
    }

    /// Runs until `shutdown` completes or the collector disowns this identity.
    pub async fn run(&mut self, shutdown: impl std::future::Future<Output = ()>) -> Exit {
        tokio::pin!(shutdown);
        let now = Instant::now();
        for k in ProbeKind::ALL {
            self.sections.entry(k).or_default().due.get_or_insert(now);
        }
        loop {
            // With every probe disabled there is nothing to run; wake up now and then to
            // deliver the spool and to pick up new settings from the acks.
            let next_probe = ProbeKind::ALL
                .into_iter()
                .filter(|k| self.enabled(*k))
                .filter_map(|k| self.sections[&k].due.map(|d| (k, d)))
                .min_by_key(|(_, d)| *d);
            let due = next_probe
                .map(|(_, d)| d)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(60));
            let send_at = if self.spool.is_empty() {
                None
            } else {
                Some(self.next_send)
            };
            tokio::select! {
                _ = &mut shutdown => {
                    return Exit::Shutdown;
                }
                _ = tokio::time::sleep_until(due) => {
                    let Some((kind, _)) = next_probe else { continue };
                    let every = check_every(&self.settings, kind);
                    self.sections.get_mut(&kind).expect("section").due = Some(next_due(due, Instant::now(), every));
                    if self.source.online() {
                        self.run_probe(kind).await;
                        if let Err(exit) = self.flush().await {
                            return exit;
                        }
                    }
                }
                // Idle: close the connection; the next delivery opens one again.
                _ = sleep_until_opt(self.client.idle_deadline()) => {
                    self.client.disconnect();
                }
                _ = sleep_until_opt(send_at) => {
                    if self.source.online() {
                        if let Err(exit) = self.flush().await {
                            return exit;
                        }
                    } else {
                        self.next_send = Instant::now() + BACKOFF_MAX;
                    }
                }
            }
        }
    }

    /// Runs one probe and spools its report (full, as a hash reference, or not at all).
    pub async fn run_probe(&mut self, kind: ProbeKind) {
        let Collected { body, errors } = self.source.collect(kind, &self.settings).await;
        let messages: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
        if self.last_errors.get(&kind) != Some(&messages) {
            for m in &messages {
                tracing::warn!(host = %self.label, probe = kind.name(), error = %m, "probe error (reported to the collector; logged again only if it changes)");
            }
            if messages.is_empty() && self.last_errors.contains_key(&kind) {
                tracing::info!(host = %self.label, probe = kind.name(), "probe healthy again");
            }
            self.last_errors.insert(kind, messages);
        }
        let now = Instant::now();
        let full_every = interval(&self.settings, kind);
        let st = self.sections.entry(kind).or_default();
        let body = match body {
            Some(Body::Inventory(i)) => section_body(
                st,
                now,
                full_every,
                "inventory",
                i.content_hash.clone(),
                Body::Inventory(i),
            ),
            Some(Body::Software(s)) => section_body(
                st,
                now,
                full_every,
                "software",
                s.content_hash.clone(),
                Body::Software(s),
            ),
            Some(Body::Facts(f)) => section_body(
                st,
                now,
                full_every,
                "facts",
                f.content_hash.clone(),
                Body::Facts(f),
            ),
            other => other,
        };
        if body.is_none() && errors.is_empty() {
            return;
        }
        let report = Report {
            seq: 0,
            collected_at_ms: crate::now_ms(),
            errors,
            body,
        };
        match self.spool.push(report) {
            Ok(Some(_)) => {}
            Ok(None) => tracing::warn!(host = %self.label, "spool full: dropped a health sample"),
            Err(e) => {
                tracing::error!(host = %self.label, error = %e, "cannot spool report; it is lost")
            }
        }
    }

    /// Delivers the spool, oldest first, until it is empty or the collector is unreachable.
    async fn flush(&mut self) -> Result<(), Exit> {
        while !self.spool.is_empty() && Instant::now() >= self.next_send {
            let reports = self.spool.peek(BATCH_REPORTS, BATCH_BYTES);
            let Some(first) = reports.first().map(|r| r.seq) else {
                return Ok(());
            };
            let batch = ReportBatch {
                agent_id: String::new(),
                reports,
            };
            match self.client.report(batch).await {
                Ok(ack) => {
                    self.backoff = BACKOFF_MIN;
                    let rejected: Vec<u64> = ack.rejected.iter().map(|r| r.seq).collect();
                    for r in &ack.rejected {
                        tracing::error!(host = %self.label, seq = r.seq, reason = %r.reason, detail = %r.detail,
                            "collector rejected a report; dropping it");
                    }
                    self.spool.ack(ack.committed_through, &rejected);
                    for s in &ack.resend_sections {
                        let kind = match s.as_str() {
                            "inventory" => ProbeKind::Inventory,
                            "software" => ProbeKind::Software,
                            "facts" => ProbeKind::Facts,
                            _ => continue,
                        };
                        let st = self.sections.entry(kind).or_default();
                        st.force_full = true;
                        st.due = Some(Instant::now());
                    }
                    if !ack.settings_revision.is_empty()
                        && ack.settings_revision != self.central.revision
                    {
                        self.refresh_settings().await;
                    }
                    if ack.committed_through < first && rejected.is_empty() {
                        // No progress: do not spin on the same batch.
                        self.next_send = Instant::now() + BACKOFF_MAX;
                    }
                }
                Err(TransportError::Unauthenticated(m)) => return Err(Exit::Unauthenticated(m)),
                Err(e) => {
                    tracing::warn!(host = %self.label, error = %e, retry_in = ?self.backoff, spooled = self.spool.len(),
                        "cannot deliver reports; they stay spooled");
                    self.next_send = Instant::now() + jitter(self.backoff);
                    self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        Ok(())
    }

    async fn refresh_settings(&mut self) {
        match self.client.settings().await {
            Ok(s) => {
                tracing::info!(host = %self.label, revision = %s.revision, "new settings from collector");
                self.central = s;
                self.settings = effective(&self.central, &self.overrides);
                let now = Instant::now();
                for (k, st) in self.sections.iter_mut() {
                    let every = check_every(&self.settings, *k);
                    if let Some(d) = st.due {
                        st.due = Some(d.min(now + every));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(host = %self.label, error = %e, "cannot fetch settings; keeping the old ones")
            }
        }
    }
}

/// Full section when it changed (or the collector asked), a hash reference once per
/// interval otherwise, and nothing in between.
fn section_body(
    st: &mut SectionState,
    now: Instant,
    full_every: Duration,
    section: &str,
    hash: String,
    full: Body,
) -> Option<Body> {
    let changed = st.last_hash.as_deref() != Some(hash.as_str());
    let interval_due = st
        .last_full_or_ref
        .is_none_or(|t| now.duration_since(t) >= full_every);
    if changed || st.force_full {
        st.force_full = false;
        st.last_hash = Some(hash);
        st.last_full_or_ref = Some(now);
        Some(full)
    } else if interval_due {
        st.last_full_or_ref = Some(now);
        Some(Body::Unchanged(SectionRef {
            section: section.into(),
            content_hash: hash,
        }))
    } else {
        None
    }
}

/// The next run: one interval after the previous due time, but never in the past (after a
/// suspend or a slow probe the schedule moves on instead of running back-to-back). No
/// `Instant - Duration` here: that panics when the interval exceeds the uptime.
fn next_due(due: Instant, now: Instant, every: Duration) -> Instant {
    let next = due + every;
    if next < now {
        now + every
    } else {
        next
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// ±20 % so that a fleet that lost its collector does not come back in lockstep.
pub fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    let j = tilsyn_proto::retry::JITTER;
    let f = 1.0 - j + 2.0 * j * (u16::from_le_bytes(b) as f64 / u16::MAX as f64);
    d.mul_f64(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_full_on_change_and_references_per_interval() {
        let mut st = SectionState::default();
        let t0 = Instant::now();
        let h = |s: &str| s.to_string();
        let full = || Body::Software(Default::default());
        let every = Duration::from_secs(3600);
        assert!(matches!(
            section_body(&mut st, t0, every, "software", h("a"), full()),
            Some(Body::Software(_))
        ));
        assert!(section_body(
            &mut st,
            t0 + Duration::from_secs(300),
            every,
            "software",
            h("a"),
            full()
        )
        .is_none());
        assert!(matches!(
            section_body(&mut st, t0 + Duration::from_secs(3600), every, "software", h("a"), full()),
            Some(Body::Unchanged(r)) if r.content_hash == "a" && r.section == "software"
        ));
        assert!(matches!(
            section_body(
                &mut st,
                t0 + Duration::from_secs(3700),
                every,
                "software",
                h("b"),
                full()
            ),
            Some(Body::Software(_))
        ));
        st.force_full = true;
        assert!(matches!(
            section_body(
                &mut st,
                t0 + Duration::from_secs(3800),
                every,
                "software",
                h("b"),
                full()
            ),
            Some(Body::Software(_))
        ));
    }

    #[test]
    fn schedule_keeps_its_rhythm_and_skips_missed_runs() {
        let t0 = Instant::now();
        let m = Duration::from_secs(60);
        assert_eq!(next_due(t0, t0 + Duration::from_secs(2), m), t0 + m);
        assert_eq!(
            next_due(t0, t0 + Duration::from_secs(600), m),
            t0 + Duration::from_secs(660)
        );
        // An interval far longer than the machine's uptime must not panic.
        let _ = next_due(t0, t0, Duration::from_secs(100 * 365 * 86_400));
    }

    #[test]
    fn overrides_replace_intervals_and_extend_lists() {
        let central = AgentSettings {
            health_interval_seconds: 60,
            watched_services: vec!["sshd".into()],
            ..Default::default()
        };
        let o = Overrides {
            health_interval: Some(tilsyn_proto::duration::HumanDuration::secs(15)),
            watched_services: vec!["sshd".into(), "cups".into()],
            ..Default::default()
        };
        let e = effective(&central, &o);
        assert_eq!(e.health_interval_seconds, 15);
        assert_eq!(e.watched_services, vec!["sshd", "cups"]);
    }
}
