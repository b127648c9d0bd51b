//! The running incident service: a worker thread that feeds observations to the
//! [`Core`] and commits each step (incidents, tracks, outbox items) in one transaction,
//! the outbox worker that delivers desk actions in order with retries, and the read-back
//! poller that learns from the desk when a person responded or resolved by hand.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tilsyn_proto::v1::Health;

use crate::config::IncidentsConfig;
use crate::metrics::Metrics;
use crate::services::compliance::Compliance;
use crate::services::leader::Leadership;
use tilsyn_collector_core::compliance::report::FindingFilter;
use tilsyn_collector_core::incidents::config::Policy;
use tilsyn_collector_core::incidents::core::{Core, Counted, Group, HostMeta, Payload};
use tilsyn_collector_core::incidents::records::*;
use tilsyn_collector_desks::{self as desks, Desk, DeskError, DeskSet, TicketRef};
use tilsyn_collector_store::{OutboxUpdate, Store};

/// Most messages handled before the changes are committed.
const MAX_BATCH: usize = 256;

/// What one report call brought about a host, for the incident engine.
#[derive(Debug, Clone, Default)]
pub struct News {
    /// When the collector received the call (ms): the time of the observation, so an
    /// incident opens at the report that crossed the threshold even if the worker is busy.
    pub received_at_ms: i64,
    /// Some reports were committed (not only refused or resent ones).
    pub applied: bool,
    /// The newest committed health sample: the only conditions that count it as an
    /// observation are the health ones, so other sections never hurry their hysteresis.
    pub health: Option<Health>,
    /// Other sections or probe errors changed: the worker reads the host again.
    pub reload: bool,
    pub came_online: bool,
    /// How far ahead (ms; negative: behind) the host's clock ran on this live call.
    pub clock_skew_ms: Option<i64>,
}

impl News {
    /// The condition groups this news observes on a host that was `offline` before.
    fn groups(&self, offline: bool) -> Vec<Group> {
        let mut g = Vec::new();
        if self.health.is_some() {
            g.push(Group::Health);
        }
        if self.applied {
            g.push(Group::Agent);
            if self.came_online || offline {
                g.push(Group::Offline);
            }
        }
        if self.reload {
            g.push(Group::Patch);
        }
        if self.clock_skew_ms.is_some() {
            g.push(Group::Clock);
        }
        g
    }
}

enum Msg {
    /// What a report call brought about one host.
    Report(String, News),
    /// Hosts marked offline, each with where its offline time starts.
    Offline(Vec<tilsyn_collector_store::WentOffline>),
    Compliance(String),
    /// The host was retired: why (who, and their reason), for the desk's note.
    Retire(String, String),
}

pub struct Incidents {
    pub core: Mutex<Core>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    clock: fn() -> i64,
    cfg: IncidentsConfig,
    desks: HashMap<String, Arc<dyn Desk>>,
    tx: Sender<Msg>,
    /// Wakes the outbox worker when new actions were committed.
    pub outbox_wake: tokio::sync::Notify,
    compliance: Arc<Compliance>,
    /// Only the leading collector runs the engine and delivers; the others forward.
    leader: Arc<Leadership>,
    routing: tilsyn_collector_core::incidents::core::Routing,
}

/// News as forwarded through the store to the leader (`incident_news`, JSON).
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Wire {
    received_at_ms: i64,
    applied: bool,
    health: Option<Health>,
    reload: bool,
    came_online: bool,
    clock_skew_ms: Option<i64>,
    /// A retired host (the note's text) instead of a report's news.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired: Option<String>,
}

impl Wire {
    fn encode(n: &News) -> Vec<u8> {
        serde_json::to_vec(&Wire {
            received_at_ms: n.received_at_ms,
            applied: n.applied,
            health: n.health.clone(),
            reload: n.reload,
            came_online: n.came_online,
            clock_skew_ms: n.clock_skew_ms,
            retired: None,
        })
        .expect("news serialize")
    }

    fn retired(why: &str) -> Vec<u8> {
        serde_json::to_vec(&Wire {
            retired: Some(why.to_string()),
            ..Default::default()
        })
        .expect("news serialize")
    }

    fn decode(agent: String, b: &[u8]) -> Option<Msg> {
        let w: Wire = serde_json::from_slice(b).ok()?;
        if let Some(why) = w.retired {
            return Some(Msg::Retire(agent, why));
        }
        Some(Msg::Report(
            agent,
            News {
                received_at_ms: w.received_at_ms,
                applied: w.applied,
                health: w.health,
                reload: w.reload,
                came_online: w.came_online,
                clock_skew_ms: w.clock_skew_ms,
            },
        ))
    }
}

/// News for the leader's engine from outside a running collector (the command line):
/// the host was retired (`why`: the desk's note).
pub fn retired_news(why: &str) -> Vec<u8> {
    Wire::retired(why)
}

/// News for the leader's engine: read the host again (it moved).
pub fn reload_news(now_ms: i64) -> Vec<u8> {
    Wire::encode(&News {
        received_at_ms: now_ms,
        reload: true,
        ..Default::default()
    })
}

/// What the incident service runs with besides its configuration.
pub struct Env {
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub compliance: Arc<Compliance>,
    pub clock: fn() -> i64,
    pub leader: Arc<Leadership>,
}

impl Incidents {
    /// Restores the state from the store (when leading) and starts the worker thread. The
    /// outbox worker and read-back poller are started by [`Incidents::run_delivery`].
    pub fn start(
        cfg: IncidentsConfig,
        policy: Policy,
        desks: DeskSet,
        env: Env,
    ) -> tilsyn_collector_store::Result<Arc<Incidents>> {
        let Env {
            store,
            metrics,
            compliance,
            clock,
            leader,
        } = env;
        let routing = desks.routing.clone();
        // A follower loads the state when it comes to lead (it is another's until then).
        let core = if leader.is_leader() {
            Self::load(&*store, policy, routing.clone())?
        } else {
            Core::new(policy, routing.clone())
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let s = Arc::new(Incidents {
            core: Mutex::new(core),
            store,
            metrics,
            clock,
            cfg,
            desks: desks.desks,
            tx,
            outbox_wake: tokio::sync::Notify::new(),
            compliance: compliance.clone(),
            leader,
            routing,
        });
        let weak = Arc::downgrade(&s);
        compliance.on_change(Box::new(move |agent| {
            if let Some(s) = weak.upgrade() {
                s.send(Msg::Compliance(agent.to_string()));
            }
        }));
        if s.cfg.enabled {
            let w = s.clone();
            std::thread::Builder::new()
                .name("incidents".into())
                .spawn(move || w.worker(rx))
                .expect("spawn incident worker");
        }
        Ok(s)
    }

    /// The engine's state as the store has it: tracks, open incidents and problems, hosts.
    fn load(
        store: &dyn Store,
        policy: Policy,
        routing: tilsyn_collector_core::incidents::core::Routing,
    ) -> tilsyn_collector_store::Result<Core> {
        let mut core = Core::new(policy, routing);
        for key in core.restore(store.load_incident_state()?) {
            tracing::warn!(key = %key, "unreadable incident track; starting it afresh");
        }
        store.incident_hosts(None, &mut |h| {
            let id = h.agent_id.clone();
            core.hosts.insert(id, HostMeta::from(h));
        })?;
        Ok(core)
    }

    /// Coming to lead: the state the previous leader left.
    fn reload(&self) -> tilsyn_collector_store::Result<()> {
        let policy = self.core.lock().expect("core").policy.clone();
        let core = Self::load(&*self.store, policy, self.routing.clone())?;
        *self.core.lock().expect("core") = core;
        Ok(())
    }

    /// Not leading: hands what the reports brought to the leader through the store.
    fn forward(&self, first: Msg, rx: &Receiver<Msg>) {
        let mut items = Vec::new();
        let mut next = Some(first);
        while let Some(m) = next {
            // Offline marks and compliance changes are the leader's own work.
            match m {
                Msg::Report(agent, news) => items.push((agent, Wire::encode(&news))),
                Msg::Retire(agent, why) => items.push((agent, Wire::retired(&why))),
                _ => {}
            }
            if items.len() >= MAX_BATCH {
                break;
            }
            next = rx.try_recv().ok();
        }
        if items.is_empty() {
            return;
        }
        let now = self.now();
        if let Err(e) = self.store.push_news(&items, now) {
            self.metrics
                .store_errors
                .with_label_values(&["push_news"])
                .inc();
            tracing::error!(error = %e, lost = items.len(), "cannot hand news to the leader");
        }
    }

    /// Leading: the news other collectors handed over.
    fn take_forwarded(&self, now: i64, w: &mut IncidentWrite) {
        match self.store.take_news(MAX_BATCH as u32) {
            Ok(items) => {
                for (agent, body) in items {
                    let Some(m) = Wire::decode(agent.clone(), &body) else {
                        tracing::warn!(agent_id = %agent, "unreadable forwarded news; skipped");
                        continue;
                    };
                    if matches!(&m, Msg::Report(_, n) if n.reload) {
                        // The sections changed on another collector: evaluate them here too.
                        self.compliance.host_changed(&agent);
                    }
                    self.handle(m, now, w);
                }
            }
            Err(tilsyn_collector_store::StoreError::NotLeader { .. }) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read forwarded news"),
        }
    }

    fn send(&self, m: Msg) {
        let _ = self.tx.send(m);
    }

    /// What a report call of `agent_id` brought.
    pub fn report(&self, agent_id: &str, news: News) {
        self.send(Msg::Report(agent_id.to_string(), news));
    }

    /// The host was retired (`why`: by whom and their reason): its incidents resolve with
    /// that note and none open any more. Handed to the leader when this collector follows.
    pub fn retire(&self, agent_id: &str, why: &str) {
        self.send(Msg::Retire(agent_id.to_string(), why.to_string()));
    }

    /// Offline detection marked these hosts offline.
    pub fn offline(&self, gone: Vec<tilsyn_collector_store::WentOffline>) {
        if !gone.is_empty() {
            self.send(Msg::Offline(gone));
        }
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    fn worker(self: Arc<Self>, rx: Receiver<Msg>) {
        let tick = self.cfg.tick_every.0;
        let full_every = Duration::from_secs(3600);
        let mut next_tick = Instant::now() + tick;
        // Patch ages grow and compliance may have settled while we were down: look at
        // every host once at start, then hourly.
        let mut next_full = Instant::now();
        let mut pending = IncidentWrite::default();
        // Forwarded news are polled this often (the fault-to-ticket time of hosts on
        // other collectors).
        let poll = Duration::from_millis(200);
        let mut next_poll = Instant::now();
        let mut leading = self.leader.is_leader();
        loop {
            match (leading, self.leader.is_leader()) {
                (false, true) => {
                    tracing::info!("leading: loading the incident state");
                    if let Err(e) = self.reload() {
                        tracing::error!(error = %e, "cannot load the incident state; retrying");
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                    pending = IncidentWrite::default();
                    next_full = Instant::now();
                    leading = true;
                }
                (true, false) => {
                    tracing::warn!("no longer leading: the incident engine stops here");
                    pending = IncidentWrite::default();
                    leading = false;
                }
                _ => {}
            }
            let wait = if leading {
                next_tick
                    .min(next_poll)
                    .saturating_duration_since(Instant::now())
            } else {
                poll
            };
            let first = match rx.recv_timeout(wait) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            if !leading {
                if let Some(m) = first {
                    self.forward(m, &rx);
                }
                continue;
            }
            // A bounded batch, so that under a steady stream of reports the changes are
            // still committed every few hundred messages — and at once when a desk action
            // is waiting: the fault-to-ticket time must not queue behind other hosts.
            let mut next = first;
            let mut n = 0;
            while let Some(m) = next {
                self.handle(m, self.now(), &mut pending);
                n += 1;
                if n >= MAX_BATCH || !pending.outbox.is_empty() {
                    break;
                }
                next = rx.try_recv().ok();
            }
            let now = self.now();
            if Instant::now() >= next_poll {
                next_poll = Instant::now() + poll;
                self.take_forwarded(now, &mut pending);
            }
            let mut core = self.core.lock().expect("core");
            if Instant::now() >= next_tick {
                next_tick = Instant::now() + tick;
                for id in core.offline_hosts() {
                    core.observe(&id, &[Group::Offline], now, &mut pending);
                }
                core.end_of_maintenance(now, &mut pending);
                if Instant::now() >= next_full {
                    next_full = Instant::now() + full_every;
                    self.observe_all(&mut core, now, &mut pending);
                }
            }
            let counted = std::mem::take(&mut core.counted);
            drop(core);
            self.count(counted);
            if !pending.is_empty() {
                match self.store.save_incidents(&pending, now) {
                    Ok(ids) => {
                        pending = IncidentWrite::default();
                        if !ids.is_empty() {
                            self.outbox_wake.notify_one();
                        }
                    }
                    Err(tilsyn_collector_store::StoreError::NotLeader { .. }) => {
                        // Another collector leads now and has (or will load) the state.
                        pending = IncidentWrite::default();
                    }
                    Err(e) => {
                        // Memory has moved on; the write is kept and retried with the next
                        // step, so no desk action is lost.
                        self.metrics
                            .store_errors
                            .with_label_values(&["save_incidents"])
                            .inc();
                        tracing::error!(error = %e, "cannot store incident changes; retrying");
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
            }
        }
    }

    fn observe_all(&self, core: &mut Core, now: i64, w: &mut IncidentWrite) {
        let mut by_host: HashMap<String, Vec<tilsyn_collector_core::compliance::report::Finding>> =
            HashMap::new();
        for f in self.compliance.findings(&FindingFilter::default()) {
            by_host.entry(f.agent_id.clone()).or_default().push(f);
        }
        let ids: Vec<String> = core.hosts.keys().cloned().collect();
        for id in ids {
            if let Some(h) = core.hosts.get_mut(&id) {
                h.findings = by_host.remove(&id).unwrap_or_default();
            }
            core.observe(&id, &[Group::Patch, Group::Compliance], now, w);
        }
    }

    /// One message; the store is read without holding the core (the API and metrics
    /// read it meanwhile).
    fn handle(&self, m: Msg, now: i64, w: &mut IncidentWrite) {
        match m {
            Msg::Report(agent_id, news) => {
                let known = self
                    .core
                    .lock()
                    .expect("core")
                    .hosts
                    .contains_key(&agent_id);
                let mut fresh = None;
                if news.reload || (!known && news.applied) {
                    if let Err(e) = self
                        .store
                        .incident_hosts(Some(&agent_id), &mut |h| fresh = Some(h))
                    {
                        tracing::warn!(agent_id = %agent_id, error = %e, "cannot read host for incident conditions");
                        return;
                    }
                    if fresh.is_none() {
                        return;
                    }
                }
                let mut core = self.core.lock().expect("core");
                if let Some(fresh) = fresh {
                    let findings = core
                        .hosts
                        .remove(&agent_id)
                        .map(|h| h.findings)
                        .unwrap_or_default();
                    let mut meta = HostMeta::from(fresh);
                    meta.findings = findings;
                    core.hosts.insert(agent_id.clone(), meta);
                }
                let Some(h) = core.hosts.get_mut(&agent_id) else {
                    return;
                };
                let groups = news.groups(h.offline);
                if let Some(hl) = news.health {
                    h.health = Some(hl);
                    // A health report without errors heals the health probe (as the store
                    // records it); errors of other probes heal with their own sections,
                    // which come with `reload`.
                    if !news.reload {
                        h.probe_errors.retain(|p| p != "health");
                    }
                }
                if groups.contains(&Group::Offline) {
                    h.offline = false;
                }
                if news.clock_skew_ms.is_some() {
                    h.clock_skew_ms = news.clock_skew_ms;
                }
                let at = if news.received_at_ms > 0 {
                    news.received_at_ms
                } else {
                    now
                };
                core.observe(&agent_id, &groups, at, w);
            }
            Msg::Retire(agent_id, why) => {
                self.core
                    .lock()
                    .expect("core")
                    .retire(&agent_id, &why, now, w);
            }
            Msg::Offline(gone) => {
                let mut core = self.core.lock().expect("core");
                for g in gone {
                    if let Some(h) = core.hosts.get_mut(&g.agent_id) {
                        h.offline = true;
                        // Silent through a collector gap: offline since its last report.
                        core.observe(&g.agent_id, &[Group::Offline], g.since_ms.min(now), w);
                    }
                }
            }
            Msg::Compliance(id) => {
                let findings = self.compliance.findings(&FindingFilter {
                    agent_id: Some(id.clone()),
                    ..Default::default()
                });
                let mut core = self.core.lock().expect("core");
                if let Some(h) = core.hosts.get_mut(&id) {
                    h.findings = findings;
                    core.observe(&id, &[Group::Compliance], now, w);
                }
            }
        }
    }

    fn count(&self, counted: Vec<Counted>) {
        let m = &self.metrics;
        for c in counted {
            match c {
                Counted::Opened {
                    department,
                    priority,
                } => m
                    .incidents_opened
                    .with_label_values(&[&department, &priority])
                    .inc(),
                Counted::Suppressed { department } => m
                    .incidents_suppressed
                    .with_label_values(&[&department])
                    .inc(),
                Counted::Resolved {
                    department,
                    priority,
                    open_seconds,
                } => {
                    m.incidents_resolved
                        .with_label_values(&[&department, &priority])
                        .inc();
                    m.incident_open_duration
                        .with_label_values(&[&priority])
                        .observe(open_seconds);
                }
                Counted::ProblemOpened => m.problems_opened.inc(),
            }
        }
    }

    /// Sets the incident gauges (called at scrape time).
    pub fn export_metrics(&self) {
        let m = &self.metrics;
        {
            let core = self.core.lock().expect("core");
            m.incidents_open.reset();
            for i in core.open_incidents() {
                m.incidents_open
                    .with_label_values(&[&i.department, &i.priority, &i.state])
                    .inc();
            }
            m.problems_open.set(core.open_problems() as i64);
            m.maintenance_active.reset();
            let now = self.now();
            for w in core.policy.windows.windows() {
                m.maintenance_active
                    .with_label_values(&[&w.id])
                    .set(w.is_active(now) as i64);
            }
        }
        m.outbox_items.reset();
        m.outbox_oldest_age.reset();
        for d in self.desks.keys() {
            m.outbox_items.with_label_values(&[d, "pending"]).set(0);
            m.outbox_items.with_label_values(&[d, "failed"]).set(0);
            m.outbox_oldest_age.with_label_values(&[d]).set(0.0);
        }
        if let Ok(stats) = self.store.outbox_stats() {
            let now = self.now();
            for s in stats {
                m.outbox_items
                    .with_label_values(&[&s.desk, &s.state])
                    .set(s.items);
                let age = (now - s.oldest_created_at_ms).max(0) as f64 / 1000.0;
                let g = m.outbox_oldest_age.with_label_values(&[&s.desk]);
                if age > g.get() {
                    g.set(age);
                }
            }
        }
    }

    /// The maintenance windows in force (the file's and the change windows).
    pub fn windows(&self) -> tilsyn_collector_core::incidents::maintenance::Windows {
        self.core.lock().expect("core").policy.windows.clone()
    }

    /// The maintenance windows in force changed (change windows made, extended, ended).
    pub fn set_windows(&self, w: tilsyn_collector_core::incidents::maintenance::Windows) {
        self.core.lock().expect("core").policy.windows = w;
    }

    /// Runs the outbox worker and the read-back poller until `stop`.
    pub async fn run_delivery(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let poll = self.clone();
        let stop2 = stop.clone();
        let rb = tokio::spawn(async move { poll.read_back_loop(stop2).await });
        let mut leading = self.leader.subscribe();
        loop {
            if !self.leader.is_leader() {
                tokio::select! {
                    _ = stop.wait_for(|v| *v) => break,
                    _ = leading.changed() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
            let delivered = self.clone().deliver_due().await;
            if delivered > 0 {
                continue;
            }
            tokio::select! {
                _ = stop.wait_for(|v| *v) => break,
                _ = self.outbox_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        rb.abort();
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> tilsyn_collector_store::Result<T> + Send + 'static,
    ) -> tilsyn_collector_store::Result<T> {
        let st = self.store.clone();
        tokio::task::spawn_blocking(move || f(&*st))
            .await
            .unwrap_or_else(|e| {
                Err(tilsyn_collector_store::StoreError::Db(format!(
                    "store task failed: {e}"
                )))
            })
    }

    /// Delivers the due items (at most `concurrency` at once); returns how many it tried.
    async fn deliver_due(self: Arc<Self>) -> usize {
        let now = self.now();
        let limit = (self.cfg.delivery.concurrency * 16) as u32;
        let due = match self.blocking(move |s| s.outbox_due(now, limit)).await {
            Ok(d) => d,
            Err(e) => {
                self.metrics
                    .store_errors
                    .with_label_values(&["outbox_due"])
                    .inc();
                tracing::error!(error = %e, "cannot read the outbox");
                return 0;
            }
        };
        // Just taken over: items the previous leader had begun (attempts > 0) may still
        // have a desk call in flight; they wait until any such call has ended, then search
        // the desk by key first. Items it never began go at once.
        let hold = self
            .leader
            .hold_started_until()
            .is_some_and(|t| Instant::now() < t);
        let due: Vec<OutboxItem> = due
            .into_iter()
            .filter(|i| !(hold && i.attempts > 0))
            .collect();
        let n = due.len();
        let sem = Arc::new(tokio::sync::Semaphore::new(self.cfg.delivery.concurrency));
        let mut set = tokio::task::JoinSet::new();
        for item in due {
            let s = self.clone();
            let permit = sem.clone().acquire_owned().await.expect("semaphore");
            set.spawn(async move {
                s.deliver(item).await;
                drop(permit);
            });
        }
        while set.join_next().await.is_some() {}
        n
    }

    /// Records an outbox result; `false` when this collector no longer leads (the next
    /// leader takes the item over from the store as it is).
    async fn update(&self, u: OutboxUpdate) -> bool {
        let now = self.now();
        // The outbox row is the record of truth: keep trying until it is written.
        for attempt in 0u32.. {
            let u2 = u.clone();
            match self.blocking(move |s| s.outbox_update(&u2, now)).await {
                Ok(()) => return true,
                Err(tilsyn_collector_store::StoreError::NotLeader { .. }) => {
                    tracing::warn!("no longer leading: the outbox item is left to the leader");
                    return false;
                }
                Err(e) => {
                    self.metrics
                        .store_errors
                        .with_label_values(&["outbox_update"])
                        .inc();
                    tracing::error!(error = %e, attempt, "cannot record an outbox result; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * (attempt as u64 + 1).min(25)))
                        .await;
                }
            }
        }
        false
    }

    async fn deliver(&self, item: OutboxItem) {
        let Some(desk) = self.desks.get(&item.desk).cloned() else {
            self.update(OutboxUpdate::Failed {
                id: item.id,
                error: format!("desk {:?} is not configured any more; add it back, or abandon this item (tilsyn-collector outbox abandon {})", item.desk, item.id),
            })
            .await;
            return;
        };
        let payload: Payload = match serde_json::from_str(&item.payload) {
            Ok(p) => p,
            Err(e) => {
                self.update(OutboxUpdate::Failed {
                    id: item.id,
                    error: format!("unreadable payload: {e}"),
                })
                .await;
                return;
            }
        };
        // Recorded before the call: after a crash, a create with attempts > 0 first
        // searches the desk, so it never makes a second ticket. Only while leading, by the
        // store's lease (the update is fenced) and by this collector's own clock.
        if !self.leader.is_leader() || !self.update(OutboxUpdate::Attempt { id: item.id }).await {
            return;
        }
        let started = Instant::now();
        let subject = item.subject.clone();
        let result: Result<Option<TicketRef>, DeskError> = match item.action.as_str() {
            "create" => match payload.ticket.as_ref() {
                None => Err(DeskError::permanent("create without a ticket")),
                Some(t) => self.create(&*desk, t, item.attempts > 0).await.map(Some),
            },
            action => {
                let subj = subject.clone();
                match self.blocking(move |s| s.ticket_of(&subj)).await {
                    Err(e) => Err(DeskError::transient(format!("store: {e}"))),
                    Ok(None) => {
                        self.update(OutboxUpdate::Skipped {
                            id: item.id,
                            reason: "no ticket to act on (its create was abandoned)".into(),
                        })
                        .await;
                        return;
                    }
                    Ok(Some(t)) => match action {
                        "note" => desk.note(&t, &payload.text).await.map(|_| None),
                        "resolve" => desk.resolve(&t, &payload.text).await.map(|_| None),
                        "reopen" => match (
                            desk.reopen(&t, &payload.text).await,
                            payload.ticket.as_ref(),
                        ) {
                            // Closed for good (e.g. ServiceNow's Closed state): a new ticket.
                            (Err(DeskError::Permanent { message }), Some(nt)) => {
                                tracing::info!(subject = %subject, error = %message, "ticket cannot be reopened; creating a new one");
                                self.create(&*desk, nt, true).await.map(Some)
                            }
                            (r, _) => r.map(|_| None),
                        },
                        other => Err(DeskError::permanent(format!("unknown action {other:?}"))),
                    },
                }
            }
        };
        let took = started.elapsed().as_secs_f64();
        let m = &self.metrics;
        m.desk_duration
            .with_label_values(&[&item.desk])
            .observe(took);
        match result {
            Ok(ticket) => {
                m.desk_requests
                    .with_label_values(&[&item.desk, &item.action, "ok"])
                    .inc();
                if item.action == "create" {
                    m.fault_to_outbox
                        .observe((self.now() - item.created_at_ms).max(0) as f64 / 1000.0);
                    if let Some(t) = &ticket {
                        tracing::info!(subject = %subject, desk = %item.desk, ticket = %t.display(), "ticket created");
                    }
                }
                let ticket = ticket.map(|t| (subject, t));
                self.update(OutboxUpdate::Done {
                    id: item.id,
                    ticket,
                })
                .await;
            }
            Err(DeskError::Transient {
                message,
                retry_after,
            }) => {
                m.desk_requests
                    .with_label_values(&[&item.desk, &item.action, "transient"])
                    .inc();
                m.desk_errors
                    .with_label_values(&[&item.desk, "transient"])
                    .inc();
                let wait = retry_after.unwrap_or_else(|| self.backoff(item.attempts + 1));
                tracing::warn!(desk = %item.desk, action = %item.action, subject = %item.subject, attempt = item.attempts + 1,
                    retry_in_s = wait.as_secs_f64(), error = %message, "desk action failed; will retry");
                self.update(OutboxUpdate::Later {
                    id: item.id,
                    next_at_ms: self.now() + wait.as_millis() as i64,
                    error: message,
                })
                .await;
            }
            Err(DeskError::Permanent { message }) => {
                m.desk_requests
                    .with_label_values(&[&item.desk, &item.action, "permanent"])
                    .inc();
                m.desk_errors
                    .with_label_values(&[&item.desk, "permanent"])
                    .inc();
                tracing::error!(desk = %item.desk, action = %item.action, subject = %item.subject, item = item.id, error = %message,
                    "desk refused the action; it is held until an operator runs `tilsyn-collector outbox retry|abandon`");
                self.update(OutboxUpdate::Failed {
                    id: item.id,
                    error: message,
                })
                .await;
            }
        }
    }

    /// Creates the ticket — unless an earlier attempt may have created it already, in
    /// which case the desk is searched by correlation key first.
    async fn create(
        &self,
        desk: &dyn Desk,
        t: &desks::Ticket,
        maybe_exists: bool,
    ) -> Result<TicketRef, DeskError> {
        if maybe_exists {
            if let Some(found) = desk.find_open(&t.key).await? {
                tracing::info!(key = %t.key, ticket = %found.display(), "found the ticket of an earlier attempt; not creating another");
                return Ok(found);
            }
        }
        desk.create(t).await
    }

    /// Exponential backoff with full jitter: uniform in [base·2^(n-1) / 2, base·2^(n-1)],
    /// capped at `max_backoff`.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.cfg.delivery.initial_backoff.0.as_millis() as u64;
        let cap = self.cfg.delivery.max_backoff.0.as_millis() as u64;
        let exp = base
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(30))
            .min(cap)
            .max(1);
        let mut b = [0u8; 8];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
        let r = u64::from_le_bytes(b) % (exp / 2 + 1);
        Duration::from_millis(exp / 2 + r)
    }

    async fn read_back_loop(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let every = self.cfg.read_back_every.0.max(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = stop.wait_for(|v| *v) => return,
                _ = tokio::time::sleep(every) => {}
            }
            if self.leader.is_leader() {
                self.read_back_once().await;
            }
        }
    }

    /// Reads back tickets whose first response or resolution is unknown.
    pub async fn read_back_once(&self) {
        let now = self.now();
        let every = self.cfg.read_back_every.0.as_millis() as i64;
        let month = 31 * 86_400_000;
        let due = match self
            .blocking(move |s| s.read_back_due(now - every / 2, now - month, 500))
            .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list tickets to read back");
                return;
            }
        };
        for (subject, desk, ticket) in due {
            let Some(d) = self.desks.get(&desk).cloned() else {
                continue;
            };
            match d.read_back(&ticket).await {
                Ok(st) => {
                    let now = self.now();
                    let _ = self
                        .blocking(move |s| s.save_read_back(&subject, st.as_ref(), now))
                        .await;
                }
                Err(e) => {
                    self.metrics
                        .desk_errors
                        .with_label_values(&[&desk, "read_back"])
                        .inc();
                    tracing::warn!(desk = %desk, ticket = %ticket.display(), error = %e, "cannot read the ticket back");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use tilsyn_collector_desks::{DeskFuture, Ticket, TicketStatus};

    #[test]
    fn a_report_observes_only_what_it_brought() {
        let news = |health: bool, applied: bool, reload: bool, skew: bool| News {
            received_at_ms: 0,
            applied,
            health: health.then(Health::default),
            reload,
            came_online: false,
            clock_skew_ms: skew.then_some(0),
        };
        // A software or patch report is no health observation (it must not hurry a
        // `observations: 3` disk condition).
        assert_eq!(
            news(false, true, true, false).groups(false),
            [Group::Agent, Group::Patch]
        );
        assert_eq!(
            news(true, true, false, true).groups(false),
            [Group::Health, Group::Agent, Group::Clock]
        );
        // A silent host's first committed report brings it back.
        assert_eq!(
            news(true, true, false, false).groups(true),
            [Group::Health, Group::Agent, Group::Offline]
        );
        // Only refused future-stamped reports: just the clock; the host stays offline.
        assert_eq!(news(false, false, false, true).groups(true), [Group::Clock]);
    }

    #[derive(Debug, Clone)]
    enum Fault {
        E500,
        E429,
        Timeout,
        /// Creates the ticket, then the answer is lost.
        LoseAnswer,
        E403,
    }

    #[derive(Default)]
    struct DeskState {
        /// key → (ticket id, open)
        tickets: HashMap<String, (String, bool)>,
        creates: HashMap<String, u32>,
        log: Vec<String>,
        faults: VecDeque<Fault>,
        /// The desk refuses to reopen (the ticket is closed for good).
        refuse_reopen: bool,
        /// ticket id → what a read-back tells (absent: the desk cannot tell).
        status: HashMap<String, TicketStatus>,
        read_backs: u32,
    }

    /// An in-memory desk with injected failures (the outbox and the store are real).
    struct Flaky(Arc<Mutex<DeskState>>);

    impl Flaky {
        fn fault(&self) -> Option<Fault> {
            self.0.lock().unwrap().faults.pop_front()
        }
    }

    fn err(f: &Fault) -> DeskError {
        match f {
            Fault::E500 => DeskError::transient("HTTP 500"),
            Fault::E429 => DeskError::Transient {
                message: "HTTP 429".into(),
                retry_after: Some(Duration::from_millis(30)),
            },
            Fault::Timeout => DeskError::transient("timed out"),
            Fault::LoseAnswer => DeskError::transient("HTTP 502 after acting"),
            Fault::E403 => DeskError::permanent("HTTP 403"),
        }
    }

    impl Desk for Flaky {
        fn kind(&self) -> &'static str {
            "flaky"
        }
        fn create<'a>(&'a self, t: &'a Ticket) -> DeskFuture<'a, TicketRef> {
            Box::pin(async move {
                let f = self.fault();
                if let Some(f) = &f {
                    if !matches!(f, Fault::LoseAnswer) {
                        return Err(err(f));
                    }
                }
                let mut s = self.0.lock().unwrap();
                let id = format!("T{}", s.tickets.len() + 1);
                s.tickets.insert(t.key.clone(), (id.clone(), true));
                *s.creates.entry(t.key.clone()).or_default() += 1;
                s.log.push(format!("create {}", t.key));
                match f {
                    Some(f) => Err(err(&f)),
                    None => Ok(TicketRef::new(id)),
                }
            })
        }
        fn find_open<'a>(&'a self, key: &'a str) -> DeskFuture<'a, Option<TicketRef>> {
            Box::pin(async move {
                let s = self.0.lock().unwrap();
                Ok(s.tickets
                    .get(key)
                    .filter(|(_, open)| *open)
                    .map(|(id, _)| TicketRef::new(id.clone())))
            })
        }
        fn note<'a>(&'a self, t: &'a TicketRef, _: &'a str) -> DeskFuture<'a, ()> {
            Box::pin(async move {
                if let Some(f) = self.fault() {
                    return Err(err(&f));
                }
                self.0.lock().unwrap().log.push(format!("note {}", t.id));
                Ok(())
            })
        }
        fn resolve<'a>(&'a self, t: &'a TicketRef, _: &'a str) -> DeskFuture<'a, ()> {
            Box::pin(async move {
                if let Some(f) = self.fault() {
                    return Err(err(&f));
                }
                let mut s = self.0.lock().unwrap();
                s.log.push(format!("resolve {}", t.id));
                for v in s.tickets.values_mut().filter(|(id, _)| *id == t.id) {
                    v.1 = false;
                }
                Ok(())
            })
        }
        fn reopen<'a>(&'a self, t: &'a TicketRef, _: &'a str) -> DeskFuture<'a, ()> {
            Box::pin(async move {
                let mut s = self.0.lock().unwrap();
                if s.refuse_reopen {
                    return Err(DeskError::permanent("HTTP 400: ticket is closed"));
                }
                s.log.push(format!("reopen {}", t.id));
                for v in s.tickets.values_mut().filter(|(id, _)| *id == t.id) {
                    v.1 = true;
                }
                Ok(())
            })
        }
        fn read_back<'a>(&'a self, t: &'a TicketRef) -> DeskFuture<'a, Option<TicketStatus>> {
            Box::pin(async move {
                let mut s = self.0.lock().unwrap();
                s.read_backs += 1;
                Ok(s.status.get(&t.id).cloned())
            })
        }
    }

    fn service(
        store: Arc<dyn Store>,
        desk: Arc<Mutex<DeskState>>,
        dir: &std::path::Path,
    ) -> Arc<Incidents> {
        service_with(store, desk, dir, crate::server::now_ms)
    }

    fn service_with(
        store: Arc<dyn Store>,
        desk: Arc<Mutex<DeskState>>,
        dir: &std::path::Path,
        clock: fn() -> i64,
    ) -> Arc<Incidents> {
        let metrics = Arc::new(Metrics::new());
        let standards = dir.join("standards");
        std::fs::create_dir_all(&standards).unwrap();
        let cc = crate::config::ComplianceConfig {
            standards_dir: standards,
            watch_every: tilsyn_proto::duration::HumanDuration::secs(0),
            ..Default::default()
        };
        let compliance =
            Compliance::start(cc, store.clone(), metrics.clone(), crate::server::now_ms).unwrap();
        let mut cfg: IncidentsConfig = serde_yaml::from_str(
            "enabled: false\ndelivery: {initial_backoff: 10ms, max_backoff: 40ms}",
        )
        .unwrap();
        cfg.delivery.concurrency = 3;
        let policy = cfg.compile().unwrap();
        let mut desks: HashMap<String, Arc<dyn Desk>> = HashMap::new();
        desks.insert("d".into(), Arc::new(Flaky(desk)));
        Incidents::start(
            cfg,
            policy,
            DeskSet {
                desks,
                routing: tilsyn_collector_core::incidents::core::Routing::single("d"),
            },
            Env {
                store,
                metrics,
                compliance,
                clock,
                leader: Arc::new(Leadership::solo()),
            },
        )
        .unwrap()
    }

    fn incident(id: i64) -> (IncidentRow, Vec<NewOutbox>) {
        let key = tilsyn_collector_core::incidents::correlation::key(&format!("h{id}"), "offline");
        let row = IncidentRow {
            id,
            key: key.clone(),
            agent_id: format!("h{id}"),
            hostname: format!("h{id}"),
            department: "d".into(),
            class: "server".into(),
            check: "offline".into(),
            severity: "high".into(),
            impact: "medium".into(),
            priority: "P3".into(),
            title: "t".into(),
            detail: "d".into(),
            state: "open".into(),
            flapping: false,
            reopened: 0,
            opened_at_ms: 0,
            resolved_at_ms: None,
            suppressed_by: None,
            problem_id: None,
            desk: "d".into(),
            desk_side: DeskSide::default(),
            updated_at_ms: 0,
        };
        let t = Ticket {
            key,
            title: "t".into(),
            body: "b".into(),
            priority: 3,
            impact: 2,
            urgency: 1,
            severity: "high".into(),
            hostname: row.hostname.clone(),
            agent_id: row.agent_id.clone(),
            department: "d".into(),
            check: "offline".into(),
            opened_at_ms: 0,
        };
        let subject = format!("incident:{id}");
        let p = |t: Option<Ticket>, text: &str| {
            serde_json::to_string(&Payload {
                ticket: t,
                text: text.into(),
            })
            .unwrap()
        };
        let out = vec![
            NewOutbox {
                desk: "d".into(),
                subject: subject.clone(),
                action: "create".into(),
                payload: p(Some(t), ""),
            },
            NewOutbox {
                desk: "d".into(),
                subject: subject.clone(),
                action: "note".into(),
                payload: p(None, "n"),
            },
            NewOutbox {
                desk: "d".into(),
                subject,
                action: "resolve".into(),
                payload: p(None, "r"),
            },
        ];
        (row, out)
    }

    async fn drain(s: &Arc<Incidents>, store: &Arc<dyn Store>, rounds: usize) {
        for _ in 0..rounds {
            if store
                .outbox_stats()
                .unwrap()
                .iter()
                .all(|x| x.state != "pending")
            {
                return;
            }
            s.clone().deliver_due().await;
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_incident_gets_exactly_one_ticket_through_failures_and_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = tilsyn_collector_store::open(&tilsyn_collector_store::StoreConfig {
            sqlite_path: dir.path().join("t.db"),
            ..Default::default()
        })
        .unwrap();
        let desk = Arc::new(Mutex::new(DeskState::default()));
        let mut w = IncidentWrite::default();
        for id in 1..=12 {
            let (row, out) = incident(id);
            w.incidents.push(row);
            w.outbox.extend(out);
        }
        store.save_incidents(&w, 0).unwrap();
        desk.lock().unwrap().faults = [
            Fault::LoseAnswer,
            Fault::E500,
            Fault::E429,
            Fault::Timeout,
            Fault::LoseAnswer,
            Fault::E500,
            Fault::E500,
            Fault::LoseAnswer,
            Fault::E429,
        ]
        .into_iter()
        .collect();
        // A previous process crashed inside incident 1's create: the desk made the ticket,
        // the answer was never committed (only the attempt was).
        let first = store.outbox_due(i64::MAX, 1).unwrap().remove(0);
        assert_eq!(
            (first.subject.as_str(), first.action.as_str()),
            ("incident:1", "create")
        );
        store
            .outbox_update(&OutboxUpdate::Attempt { id: first.id }, 0)
            .unwrap();
        {
            let mut d = desk.lock().unwrap();
            let key = tilsyn_collector_core::incidents::correlation::key("h1", "offline");
            d.tickets.insert(key.clone(), ("T0".into(), true));
            d.log.push(format!("create {key}"));
            d.creates.insert(key, 1);
        }
        let s = service(store.clone(), desk.clone(), dir.path());
        drain(&s, &store, 3).await;
        // The process stops mid-way and a new one carries on with what is pending.
        drop(s);
        let s = service(store.clone(), desk.clone(), dir.path());
        drain(&s, &store, 200).await;

        let st = desk.lock().unwrap();
        assert_eq!(st.creates.len(), 12, "every incident has a ticket");
        assert!(
            st.creates.values().all(|n| *n == 1),
            "never a second ticket: {:?}",
            st.creates
        );
        assert!(
            st.tickets.values().all(|(_, open)| !open),
            "every ticket resolved"
        );
        // Order per incident: create, then note, then resolve.
        for (key, (id, _)) in &st.tickets {
            let pos = |what: &str| {
                st.log
                    .iter()
                    .position(|l| l == what)
                    .unwrap_or_else(|| panic!("{what} missing: {:?}", st.log))
            };
            assert!(pos(&format!("create {key}")) < pos(&format!("note {id}")));
            assert!(pos(&format!("note {id}")) < pos(&format!("resolve {id}")));
        }
        drop(st);
        let items = store.outbox_list(None, None, 100).unwrap();
        assert_eq!(items.len(), 36);
        assert!(items.iter().all(|i| i.state == "done"), "{items:?}");
        assert!(items.iter().any(|i| i.attempts > 1), "some needed retries");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_action_holds_its_incident_until_an_operator_acts() {
        let dir = tempfile::tempdir().unwrap();
        let store = tilsyn_collector_store::open(&tilsyn_collector_store::StoreConfig {
            sqlite_path: dir.path().join("t.db"),
            ..Default::default()
        })
        .unwrap();
        let desk = Arc::new(Mutex::new(DeskState::default()));
        let (row, out) = incident(1);
        store
            .save_incidents(
                &IncidentWrite {
                    incidents: vec![row],
                    outbox: out,
                    ..Default::default()
                },
                0,
            )
            .unwrap();
        desk.lock().unwrap().faults.push_back(Fault::E403);
        let s = service(store.clone(), desk.clone(), dir.path());
        drain(&s, &store, 5).await;
        let items = store.outbox_list(None, None, 10).unwrap();
        let state = |a: &str| items.iter().find(|i| i.action == a).unwrap().state.clone();
        assert_eq!(
            (state("create"), state("note"), state("resolve")),
            ("failed".into(), "pending".into(), "pending".into())
        );
        assert!(items
            .iter()
            .find(|i| i.action == "create")
            .unwrap()
            .last_error
            .as_deref()
            .unwrap()
            .contains("403"));
        assert!(
            desk.lock().unwrap().log.is_empty(),
            "nothing after the refused create"
        );
        let create = items.iter().find(|i| i.action == "create").unwrap().id;
        store
            .outbox_operator(create, true, crate::server::now_ms())
            .unwrap();
        drain(&s, &store, 20).await;
        assert_eq!(
            desk.lock().unwrap().log.len(),
            3,
            "{:?}",
            desk.lock().unwrap().log
        );
        // Abandoning: the later actions have no ticket and are skipped, not stuck.
        let (row, out) = incident(2);
        store
            .save_incidents(
                &IncidentWrite {
                    incidents: vec![row],
                    outbox: out,
                    ..Default::default()
                },
                0,
            )
            .unwrap();
        desk.lock().unwrap().faults.push_back(Fault::E403);
        drain(&s, &store, 5).await;
        let failed = store.outbox_list(Some("failed"), None, 10).unwrap();
        store.outbox_operator(failed[0].id, false, 0).unwrap();
        drain(&s, &store, 20).await;
        let skipped = store.outbox_list(Some("skipped"), None, 10).unwrap();
        assert_eq!(skipped.len(), 2);
    }

    fn sqlite(dir: &std::path::Path) -> Arc<dyn Store> {
        tilsyn_collector_store::open(&tilsyn_collector_store::StoreConfig {
            sqlite_path: dir.join("t.db"),
            ..Default::default()
        })
        .unwrap()
    }

    /// Host `h1` goes offline, comes back and goes offline again within the reopen window
    /// (default conditions: offline opens and resolves on one observation, reopen within
    /// 1 h); the core's outbox items are delivered to the desk double after each step.
    async fn offline_back_offline(
        refuse_reopen: bool,
    ) -> (DeskState, Vec<OutboxItem>, Option<TicketRef>) {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(dir.path());
        let desk = Arc::new(Mutex::new(DeskState {
            refuse_reopen,
            ..Default::default()
        }));
        let s = service(store.clone(), desk.clone(), dir.path());
        s.core.lock().unwrap().hosts.insert(
            "h1".into(),
            HostMeta {
                hostname: "h1".into(),
                department: "d".into(),
                class: "server".into(),
                ..Default::default()
            },
        );
        for (at, offline) in [(1_000, true), (2_000, false), (3_000, true)] {
            let mut w = IncidentWrite::default();
            {
                let mut core = s.core.lock().unwrap();
                core.hosts.get_mut("h1").unwrap().offline = offline;
                core.observe("h1", &[Group::Offline], at, &mut w);
            }
            assert_eq!(w.outbox.len(), 1, "one desk action per step");
            store.save_incidents(&w, at).unwrap();
            drain(&s, &store, 20).await;
        }
        let items = store.outbox_list(None, None, 10).unwrap();
        let ticket = store.ticket_of("incident:1").unwrap();
        let st = std::mem::take(&mut *desk.lock().unwrap());
        (st, items, ticket)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_recurrence_reopens_the_ticket_and_a_refused_reopen_makes_a_new_one() {
        let key = tilsyn_collector_core::incidents::correlation::key("h1", "offline");
        let actions = |items: &[OutboxItem]| {
            let mut v: Vec<(String, String)> = items
                .iter()
                .map(|i| (i.action.clone(), i.state.clone()))
                .collect();
            v.sort();
            v
        };
        let done = |a: &str| (a.to_string(), "done".to_string());

        let (st, items, ticket) = offline_back_offline(false).await;
        assert_eq!(
            st.log,
            [
                format!("create {key}"),
                "resolve T1".into(),
                "reopen T1".into()
            ]
        );
        assert_eq!(
            actions(&items),
            [done("create"), done("reopen"), done("resolve")]
        );
        assert_eq!(ticket.unwrap().id, "T1", "the same ticket");

        // Closed for good: the reopen falls back to a new ticket, which the incident keeps.
        let (st, items, ticket) = offline_back_offline(true).await;
        assert_eq!(
            st.log,
            [
                format!("create {key}"),
                "resolve T1".into(),
                format!("create {key}")
            ]
        );
        assert_eq!(st.creates[&key], 2);
        assert_eq!(
            st.tickets[&key],
            ("T2".to_string(), true),
            "the new ticket is open"
        );
        assert_eq!(
            actions(&items),
            [done("create"), done("reopen"), done("resolve")]
        );
        assert_eq!(
            ticket.unwrap().id,
            "T2",
            "later actions go to the new ticket"
        );
    }

    static CLOCK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    fn test_clock() -> i64 {
        CLOCK.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn read_back_saves_who_responded_and_resolved_by_hand() {
        const B: i64 = 1_800_000_000_000;
        const MIN: i64 = 60_000;
        let set = |t: i64| CLOCK.store(t, std::sync::atomic::Ordering::SeqCst);
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(dir.path());
        let desk = Arc::new(Mutex::new(DeskState::default()));
        let mut w = IncidentWrite::default();
        for id in 1..=3 {
            let (mut row, out) = incident(id);
            row.opened_at_ms = B;
            row.updated_at_ms = B;
            w.incidents.push(row);
            w.outbox.push(out.into_iter().next().unwrap()); // the create only
        }
        store.save_incidents(&w, B).unwrap();
        set(B + 1_000);
        let s = service_with(store.clone(), desk.clone(), dir.path(), test_clock);
        drain(&s, &store, 20).await;
        let ticket_ids: Vec<String> = (1..=3)
            .map(|id| {
                store
                    .ticket_of(&format!("incident:{id}"))
                    .unwrap()
                    .unwrap()
                    .id
            })
            .collect();
        let status = |t: &str, st: TicketStatus| {
            desk.lock().unwrap().status.insert(t.to_string(), st);
        };
        // Incident 1: answered at +10 min and resolved by hand at +60 min (the desk's times).
        status(
            &ticket_ids[0],
            TicketStatus {
                state: "resolved".into(),
                responded: true,
                first_response_at_ms: Some(B + 10 * MIN),
                resolved_at_ms: Some(B + 60 * MIN),
                closed: true,
            },
        );
        // Incident 2: assigned, the desk keeps no time: the time it is first seen counts.
        status(
            &ticket_ids[1],
            TicketStatus {
                state: "assigned".into(),
                responded: true,
                ..Default::default()
            },
        );
        // Incident 3: the desk cannot tell.
        set(B + 15 * MIN);
        s.read_back_once().await;
        let side = |id: i64| {
            let rows = store.list_incidents(&Default::default()).unwrap();
            let d = rows.into_iter().find(|r| r.id == id).unwrap().desk_side;
            (
                d.first_response_at_ms,
                d.desk_resolved_at_ms,
                d.desk_state,
                d.desk_checked_at_ms,
            )
        };
        assert_eq!(
            side(1),
            (
                Some(B + 10 * MIN),
                Some(B + 60 * MIN),
                Some("resolved".into()),
                Some(B + 15 * MIN)
            )
        );
        assert_eq!(
            side(2),
            (
                Some(B + 15 * MIN),
                None,
                Some("assigned".into()),
                Some(B + 15 * MIN)
            )
        );
        assert_eq!(side(3), (None, None, None, Some(B + 15 * MIN)));
        assert_eq!(desk.lock().unwrap().read_backs, 3);

        // One minute later nothing is due yet (read_back_every 5m: checked > 2.5 min ago).
        set(B + 16 * MIN);
        s.read_back_once().await;
        assert_eq!(desk.lock().unwrap().read_backs, 3);

        // Later: incident 1 is complete and not read again; 2 was resolved by hand at
        // +30 min, 3 answered at +25 min.
        status(
            &ticket_ids[1],
            TicketStatus {
                state: "closed".into(),
                responded: true,
                first_response_at_ms: None,
                resolved_at_ms: Some(B + 30 * MIN),
                closed: true,
            },
        );
        status(
            &ticket_ids[2],
            TicketStatus {
                state: "open".into(),
                responded: true,
                first_response_at_ms: Some(B + 25 * MIN),
                ..Default::default()
            },
        );
        set(B + 40 * MIN);
        s.read_back_once().await;
        assert_eq!(
            desk.lock().unwrap().read_backs,
            5,
            "incident 1 is not read again"
        );
        assert_eq!(
            side(1),
            (
                Some(B + 10 * MIN),
                Some(B + 60 * MIN),
                Some("resolved".into()),
                Some(B + 15 * MIN)
            )
        );
        assert_eq!(
            side(2),
            (
                Some(B + 15 * MIN),
                Some(B + 30 * MIN),
                Some("closed".into()),
                Some(B + 40 * MIN)
            )
        );
        assert_eq!(
            side(3),
            (
                Some(B + 25 * MIN),
                None,
                Some("open".into()),
                Some(B + 40 * MIN)
            )
        );
    }
}
