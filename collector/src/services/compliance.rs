//! The running compliance service: a worker thread that evaluates hosts whose facts
//! changed, reloads standards on change or SIGHUP (a set with errors never replaces the
//! loaded one), refreshes everything periodically, exports the gauges and answers the API.
//! The model and the evaluation are the core's (`tilsyn_collector_core::compliance`); this
//! file adds the threads, the store, the metrics and the clock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use tilsyn_collector_core::compliance::engine::{Changes, Memory};
use tilsyn_collector_core::compliance::report::{
    DepartmentCompliance, DepartmentView, Finding, FindingFilter, HostStandardView, StandardView,
    WaiverView,
};
use tilsyn_collector_core::compliance::standard::{self, StandardSet};
use tilsyn_collector_core::compliance::{evaluate, facts, report, waiver};
use tilsyn_collector_store::Store;

use crate::config::ComplianceConfig;
use crate::metrics::Metrics;

enum Msg {
    Host(String),
    Reload,
    /// The waivers made through the API or CLI changed.
    Waivers,
}

/// The outcome of the latest (re)load of the standards directory.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadStatus {
    pub dir: PathBuf,
    /// Standards in use: id → version.
    pub standards: Vec<(String, String)>,
    pub rules: usize,
    pub waivers: usize,
    pub loaded_at_ms: i64,
    /// Set when the files on disk have errors (the previous set stays in use).
    pub error: Option<String>,
    pub error_at_ms: Option<i64>,
    /// Hosts in memory and whether the first full evaluation has finished.
    pub hosts: usize,
    pub ready: bool,
    pub last_full_evaluation_ms: Option<u64>,
}

/// Told the id of each host whose results changed.
pub type Listener = Box<dyn Fn(&str) + Send + Sync>;

pub struct Compliance {
    pub mem: RwLock<Memory>,
    /// The standards directory as last loaded; `mem` holds it with the API's waivers.
    file_set: Mutex<Arc<StandardSet>>,
    /// The waivers made through the API or CLI (the store's, as the server last read them).
    api_waivers: Mutex<Vec<waiver::WaiverDoc>>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    clock: fn() -> i64,
    cfg: ComplianceConfig,
    tx: Sender<Msg>,
    status: Mutex<LoadStatus>,
    /// Told about every host whose results changed state (the incident engine).
    listener: std::sync::OnceLock<Listener>,
}

impl Compliance {
    /// Loads the standards (an error here stops the collector from starting) and starts
    /// the worker and the directory watcher.
    pub fn start(
        cfg: ComplianceConfig,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        clock: fn() -> i64,
    ) -> Result<Arc<Compliance>, standard::LoadErrors> {
        let set = Arc::new(StandardSet::load_dir(&cfg.standards_dir)?);
        let (tx, rx) = std::sync::mpsc::channel();
        let now = clock();
        let c = Arc::new(Compliance {
            mem: RwLock::new(Memory::new(set.clone())),
            file_set: Mutex::new(set.clone()),
            api_waivers: Mutex::new(Vec::new()),
            store,
            metrics,
            clock,
            status: Mutex::new(LoadStatus {
                dir: cfg.standards_dir.clone(),
                ..Default::default()
            }),
            cfg,
            tx,
            listener: std::sync::OnceLock::new(),
        });
        c.loaded(&set, now);
        tracing::info!(dir = %c.cfg.standards_dir.display(), standards = set.standards.len(), rules = set.rule_count(),
            waivers = set.waivers.len(), "standards loaded");
        let w = c.clone();
        std::thread::Builder::new()
            .name("compliance".into())
            .spawn(move || w.worker(rx))
            .expect("spawn compliance worker");
        if !c.cfg.watch_every.0.is_zero() {
            let w = Arc::downgrade(&c);
            let every = c.cfg.watch_every.0;
            let dir = c.cfg.standards_dir.clone();
            std::thread::Builder::new()
                .name("standards-watch".into())
                .spawn(move || watch(dir, every, w))
                .expect("spawn standards watcher");
        }
        Ok(c)
    }

    /// Calls `f` with each host whose rule results change state (set once).
    pub fn on_change(&self, f: Listener) {
        let _ = self.listener.set(f);
    }

    /// A host's facts may have changed (called after ingest commits).
    pub fn host_changed(&self, agent_id: &str) {
        let _ = self.tx.send(Msg::Host(agent_id.to_string()));
    }

    /// Re-read the standards directory (SIGHUP, file change).
    pub fn request_reload(&self) {
        let _ = self.tx.send(Msg::Reload);
    }

    /// The waivers made through the API or CLI (the store's rows in force); when they
    /// changed, results are evaluated again with them.
    pub fn set_api_waivers(&self, docs: Vec<waiver::WaiverDoc>) {
        let mut cur = self.api_waivers.lock().expect("api waivers");
        if *cur != docs {
            *cur = docs;
            let _ = self.tx.send(Msg::Waivers);
        }
    }

    /// The standards directory as last loaded (without the API's waivers).
    pub fn file_set(&self) -> Arc<StandardSet> {
        self.file_set.lock().expect("file set").clone()
    }

    /// The directory's set with the API's waivers that still name a loaded rule (one
    /// whose standard or rule left the directory is skipped, and said so).
    fn with_api_waivers(&self, file: &Arc<StandardSet>) -> Arc<StandardSet> {
        let docs = self.api_waivers.lock().expect("api waivers").clone();
        if docs.is_empty() {
            return file.clone();
        }
        let known = crate::services::waivers::known_rules(file);
        let mut set = (**file).clone();
        for d in docs {
            if set.waivers.iter().any(|w| w.id == d.id) {
                tracing::warn!(waiver = %d.id, "an API waiver has the id of a waiver file's: the file's applies");
                continue;
            }
            let mut issues = tilsyn_proto::yaml::Issues::default();
            let id = d.id.clone();
            match waiver::Waiver::compile(d, "waiver", Path::new("api"), &known, &mut issues) {
                Some(w) => set.waivers.push(w),
                None => {
                    tracing::warn!(waiver = %id, issues = ?issues.messages(), "an API waiver no longer applies to the loaded standards")
                }
            }
        }
        Arc::new(set)
    }

    /// Puts the directory's set (with the API's waivers) in use.
    fn use_set(&self, file: Arc<StandardSet>, now: i64) -> Arc<StandardSet> {
        *self.file_set.lock().expect("file set") = file.clone();
        let set = self.with_api_waivers(&file);
        self.mem.write().expect("mem").replace_set(set.clone());
        self.loaded(&set, now);
        set
    }

    pub fn status(&self) -> LoadStatus {
        let mut s = self.status.lock().expect("status").clone();
        s.hosts = self.mem.read().expect("mem").hosts.len();
        s
    }

    pub fn waiver_warning_ms(&self) -> i64 {
        self.cfg.waiver_warning.0.as_millis() as i64
    }

    pub fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    /// Every rule of every standard applying to the host, as of now.
    pub fn host(&self, agent_id: &str) -> Option<Vec<HostStandardView>> {
        let (now, warn) = (self.now_ms(), self.waiver_warning_ms());
        self.mem.read().expect("mem").host(agent_id, now, warn)
    }

    /// Pass rates per standard and rule.
    pub fn standards(&self) -> Vec<StandardView> {
        self.mem.read().expect("mem").standards()
    }

    /// Pass rates counting only the hosts of `departments`.
    pub fn standards_in(&self, departments: &[String]) -> Vec<StandardView> {
        self.mem.read().expect("mem").standards_in(departments)
    }

    /// Per department: hosts by standing and by patch currency, as of `now_ms`.
    pub fn department_figures(&self, now_ms: i64) -> BTreeMap<String, DepartmentCompliance> {
        self.mem.read().expect("mem").department_figures(now_ms)
    }

    /// Departments' standing per standard.
    pub fn departments(&self) -> Vec<DepartmentView> {
        self.mem.read().expect("mem").departments()
    }

    /// Failing, unknown and waived results (the incident engine's input).
    pub fn findings(&self, f: &FindingFilter) -> Vec<Finding> {
        self.mem.read().expect("mem").findings(f)
    }

    /// Every waiver with its state as of now and the hosts it covers.
    pub fn waivers(&self) -> Vec<WaiverView> {
        let (now, warn) = (self.now_ms(), self.waiver_warning_ms());
        self.mem.read().expect("mem").waivers(now, warn)
    }

    fn loaded(&self, set: &StandardSet, now: i64) {
        let mut s = self.status.lock().expect("status");
        s.standards = set
            .standards
            .iter()
            .map(|s| (s.id.clone(), s.version.clone()))
            .collect();
        s.rules = set.rule_count();
        s.waivers = set.waivers.len();
        s.loaded_at_ms = now;
        s.error = None;
        s.error_at_ms = None;
        self.metrics.standards_reload_failing.set(0);
        self.metrics.standards_rules.reset();
        for st in &set.standards {
            self.metrics
                .standards_rules
                .with_label_values(&[&st.id, &st.version])
                .set(st.rules.len() as i64);
        }
    }

    fn worker(self: Arc<Self>, rx: Receiver<Msg>) {
        self.bootstrap();
        let every = self.cfg.reevaluate_every.0;
        let mut next_full = Instant::now() + every;
        loop {
            let now = self.now_ms();
            let expiry = evaluate::next_expiry(&self.mem.read().expect("mem").set, now)
                .map(|t| Duration::from_millis((t - now).max(0) as u64 + 1));
            let until_full = next_full.saturating_duration_since(Instant::now());
            let wait = expiry.map_or(until_full, |e| e.min(until_full));
            let first = match rx.recv_timeout(wait) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let Some(first) = first else {
                self.full("periodic");
                next_full = Instant::now() + every;
                continue;
            };
            let mut hosts = BTreeSet::new();
            let (mut reload, mut waivers) = (false, false);
            for m in std::iter::once(first).chain(rx.try_iter()) {
                match m {
                    Msg::Host(h) => {
                        hosts.insert(h);
                    }
                    Msg::Reload => reload = true,
                    Msg::Waivers => waivers = true,
                }
            }
            if reload {
                self.reload();
            } else if waivers {
                let file = self.file_set.lock().expect("file set").clone();
                let set = self.use_set(file, self.now_ms());
                tracing::info!(waivers = set.waivers.len(), "waivers changed");
                self.full("waivers");
            }
            if !hosts.is_empty() {
                self.hosts(hosts);
            }
        }
    }

    /// Restores stored results, loads every host's facts and evaluates everything.
    fn bootstrap(&self) {
        let started = Instant::now();
        {
            let mut mem = self.mem.write().expect("mem");
            let r = self.store.load_compliance(&mut |row| {
                match serde_json::from_str::<Vec<tilsyn_collector_core::compliance::engine::StoredRule>>(&row.results_json) {
                    Ok(rules) => mem.seed(&row.agent_id, &row.standard_id, &row.status, &rules),
                    Err(e) => {
                        tracing::warn!(agent_id = %row.agent_id, standard = %row.standard_id, error = %e, "stored compliance results unreadable; re-evaluating");
                        self.metrics.compliance_errors.with_label_values(&["stored_results_unreadable"]).inc();
                    }
                }
            });
            if let Err(e) = r {
                tracing::error!(error = %e, "cannot read stored compliance results; since-times restart now");
                self.metrics
                    .compliance_errors
                    .with_label_values(&["store"])
                    .inc();
            }
        }
        self.load_all_facts();
        self.full("start");
        let mut s = self.status.lock().expect("status");
        s.ready = true;
        tracing::info!(
            hosts = self.mem.read().expect("mem").hosts.len(),
            ms = started.elapsed().as_millis() as u64,
            "compliance evaluated"
        );
    }

    fn load_all_facts(&self) {
        let mut mem = self.mem.write().expect("mem");
        let r = self.store.compliance_inputs(None, &mut |inp| {
            let f = mem.facts_from(&inp);
            mem.hosts.entry(inp.ctx.agent_id.clone()).or_default().facts = f;
        });
        if let Err(e) = r {
            tracing::error!(error = %e, "cannot read hosts' facts for compliance");
            self.metrics
                .compliance_errors
                .with_label_values(&["facts_unreadable"])
                .inc();
        }
    }

    /// Re-evaluates every host, persisting changed rows batch by batch.
    fn full(&self, why: &str) {
        let started = Instant::now();
        let now = self.now_ms();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let transitions = self
            .mem
            .write()
            .expect("mem")
            .reevaluate_all(now, threads, &|ch| self.persist(ch));
        let took = started.elapsed();
        self.metrics
            .compliance_duration
            .with_label_values(&["full"])
            .observe(took.as_secs_f64());
        self.status.lock().expect("status").last_full_evaluation_ms = Some(took.as_millis() as u64);
        tracing::debug!(
            why,
            transitions,
            ms = took.as_millis() as u64,
            "full compliance evaluation"
        );
    }

    fn hosts(&self, ids: BTreeSet<String>) {
        let now = self.now_ms();
        let mut all = Changes::default();
        for id in ids {
            let started = Instant::now();
            let mut inputs = None;
            if let Err(e) = self
                .store
                .compliance_inputs(Some(&id), &mut |i| inputs = Some(i))
            {
                tracing::warn!(agent_id = %id, error = %e, "cannot read host facts; keeping its previous results");
                self.metrics
                    .compliance_errors
                    .with_label_values(&["facts_unreadable"])
                    .inc();
                continue;
            }
            let mut mem = self.mem.write().expect("mem");
            let ch = match inputs {
                Some(inp) => {
                    let f = mem.facts_from(&inp);
                    mem.update_host(&id, f, now)
                }
                None => mem.remove_host(&id),
            };
            drop(mem);
            self.metrics
                .compliance_duration
                .with_label_values(&["host"])
                .observe(started.elapsed().as_secs_f64());
            all.append(ch);
        }
        self.persist(all);
    }

    fn reload(&self) {
        let now = self.now_ms();
        match StandardSet::load_dir(&self.cfg.standards_dir) {
            Ok(set) => {
                let set = Arc::new(set);
                let refetch = self.mem.read().expect("mem").set.software.key != set.software.key;
                let set = self.use_set(set, now);
                if refetch {
                    // Software rules now ask about other packages: rebuild facts from the store.
                    self.load_all_facts();
                }
                self.metrics
                    .standards_reloads
                    .with_label_values(&["ok"])
                    .inc();
                tracing::info!(
                    standards = set.standards.len(),
                    rules = set.rule_count(),
                    waivers = set.waivers.len(),
                    "standards reloaded"
                );
                self.full("reload");
            }
            Err(e) => {
                let msg = e.to_string();
                let mut s = self.status.lock().expect("status");
                if s.error.as_deref() != Some(msg.as_str()) {
                    tracing::error!(
                        "standards not reloaded; the previous set stays in use:\n{msg}"
                    );
                }
                s.error = Some(msg);
                s.error_at_ms = Some(now);
                self.metrics
                    .standards_reloads
                    .with_label_values(&["error"])
                    .inc();
                self.metrics.standards_reload_failing.set(1);
            }
        }
    }

    fn persist(&self, ch: Changes) {
        if ch.upserts.is_empty() && ch.deletes.is_empty() {
            return;
        }
        self.metrics.compliance_transitions.inc_by(ch.transitions);
        if let Some(l) = self.listener.get() {
            let hosts: BTreeSet<&str> = ch
                .upserts
                .iter()
                .map(|r| r.agent_id.as_str())
                .chain(ch.deletes.iter().map(|(a, _)| a.as_str()))
                .collect();
            for h in hosts {
                l(h);
            }
        }
        if let Err(e) = self.store.save_compliance(&ch.upserts, &ch.deletes) {
            // Memory holds the truth; the next change or full pass writes again.
            tracing::error!(error = %e, rows = ch.upserts.len(), "cannot store compliance results");
            self.metrics
                .compliance_errors
                .with_label_values(&["store"])
                .inc();
        }
    }

    /// Sets the compliance gauges from the aggregates (called on each scrape).
    pub fn export_metrics(&self) {
        let mem = self.mem.read().expect("mem");
        let m = &self.metrics;
        m.compliance_hosts.reset();
        for ((si, dept), counts) in &mem.agg.by_standard_department {
            let id = &mem.set.standards[*si].id;
            for st in evaluate::Status::ALL {
                m.compliance_hosts
                    .with_label_values(&[id.as_str(), dept, st.as_str()])
                    .set(counts[st.index()]);
            }
        }
        m.compliance_rule_failing.reset();
        for (si, rules) in mem.agg.by_rule.iter().enumerate() {
            let s = &mem.set.standards[si];
            for (ri, counts) in rules.iter().enumerate() {
                let r = &s.rules[ri];
                m.compliance_rule_failing
                    .with_label_values(&[&s.id, &r.id, r.severity.as_str()])
                    .set(counts[evaluate::State::Fail.index()]);
            }
        }
        m.compliance_waivers.reset();
        let now = self.now_ms();
        for w in &mem.set.waivers {
            m.compliance_waivers
                .with_label_values(&[&w.standard, w.state(now, self.waiver_warning_ms()).as_str()])
                .inc();
        }
    }
}

/// A host's facts with its full software list, as a facts file (`None`: unknown host).
pub fn host_facts(
    store: &dyn Store,
    agent_id: &str,
    now_ms: i64,
) -> tilsyn_collector_store::Result<Option<facts::FactsFile>> {
    let mut out = None;
    store.compliance_inputs(Some(agent_id), &mut |inp| {
        let f = facts::HostFacts::build(&inp, &|_| true, &mut facts::Interner::default());
        out = Some(f.to_file(now_ms));
    })?;
    Ok(out)
}

/// `standards test`: evaluates one standard file (plus waiver files) against a facts file
/// and renders the table; `Ok((table, compliant))`. Every problem is an error naming the
/// file.
pub fn try_standard(
    standard: &Path,
    facts_file: &Path,
    waivers: &[PathBuf],
    at: Option<&str>,
) -> Result<(String, bool), String> {
    let mut sources = Vec::new();
    for f in std::iter::once(&standard.to_path_buf()).chain(waivers) {
        let text =
            std::fs::read_to_string(f).map_err(|e| format!("{}: cannot read: {e}", f.display()))?;
        sources.push((f.clone(), text));
    }
    let dir = standard.parent().unwrap_or(Path::new("."));
    let set = StandardSet::for_test(dir, &sources).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(facts_file)
        .map_err(|e| format!("{}: cannot read: {e}", facts_file.display()))?;
    // YAML is a superset of JSON: one parser reads both, with line numbers.
    let file: facts::FactsFile =
        tilsyn_proto::yaml::parse(facts_file, &text).map_err(|e| e.to_string())?;
    let mut it = facts::Interner::default();
    let f = facts::HostFacts::from_file(&file, &mut it).map_err(|errs| {
        format!(
            "{}: {} error(s):\n  {}",
            facts_file.display(),
            errs.len(),
            errs.join("\n  ")
        )
    })?;
    let now = match at {
        None => tilsyn_proto::time::now_ms(),
        Some(d) => {
            let (y, m, day) =
                waiver::parse_date(d).ok_or_else(|| format!("--at {d:?}: expected YYYY-MM-DD"))?;
            tilsyn_proto::time::days_from_civil(y, m, day) * 86_400_000 + 43_200_000
        }
    };
    let results = evaluate::evaluate(&set, &f, now, true);
    let host = if f.ctx.hostname.is_empty() {
        facts_file.display().to_string()
    } else {
        f.ctx.hostname.clone()
    };
    let compliant = results
        .iter()
        .all(|r| r.status == evaluate::Status::Compliant);
    Ok((report::table(&set, &results, &host), compliant))
}

/// The files of the standards directory with their size and mtime: changes to this
/// signature trigger a reload.
fn signature(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    standard::files(dir)
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let m = std::fs::metadata(&p).ok();
            let len = m.as_ref().map_or(0, |m| m.len());
            let t = m.and_then(|m| m.modified().ok());
            (p, len, t)
        })
        .collect()
}

fn watch(dir: PathBuf, every: Duration, c: std::sync::Weak<Compliance>) {
    let mut last = signature(&dir);
    loop {
        std::thread::sleep(every);
        let Some(c) = c.upgrade() else { return };
        let now = signature(&dir);
        if now != last {
            tracing::info!(dir = %dir.display(), "standards changed on disk");
            c.request_reload();
            last = now;
        }
    }
}

/// How far before the newest change seen the feed is read again: a change committed late
/// (its transaction began before one already seen) still carries its own, earlier time.
const FEED_OVERLAP_MS: i64 = 30_000;
/// Most changes taken from the feed at once.
pub const FEED_BATCH: u32 = 5_000;

/// A follower's view of the store's section changes: which hosts another collector
/// ingested new compliance inputs for, so that this collector's compliance views follow
/// them (the leader hears of them through the incident news).
pub struct ChangeFeed {
    since_ms: i64,
    /// The seqs read in the overlap window, and when they were recorded.
    seen: std::collections::HashMap<i64, i64>,
}

impl ChangeFeed {
    /// Reads from `start_ms` (the database's clock) on.
    pub fn new(start_ms: i64) -> Self {
        ChangeFeed {
            since_ms: start_ms,
            seen: Default::default(),
        }
    }

    /// Where the next read starts.
    pub fn since_ms(&self) -> i64 {
        self.since_ms
    }

    /// The hosts of a read not seen before; moves the window on. A full batch moves it to
    /// its newest change (no overlap: a flood is not read again; the full pass catches
    /// what a late commit in it hid).
    pub fn take(&mut self, rows: Vec<(i64, String, i64)>) -> BTreeSet<String> {
        let full = rows.len() >= FEED_BATCH as usize;
        let newest = rows.iter().map(|r| r.2).max();
        let mut hosts = BTreeSet::new();
        for (seq, agent, at) in rows {
            if self.seen.insert(seq, at).is_none() {
                hosts.insert(agent);
            }
        }
        if let Some(newest) = newest {
            let from = if full {
                newest
            } else {
                newest - FEED_OVERLAP_MS
            };
            self.since_ms = self.since_ms.max(from);
        }
        let since = self.since_ms;
        self.seen.retain(|_, at| *at >= since);
        hosts
    }
}

#[cfg(test)]
mod feed_tests {
    use super::*;

    #[test]
    fn the_feed_reads_each_change_once_and_keeps_an_overlap_for_late_commits() {
        let mut f = ChangeFeed::new(1_000);
        let got = f.take(vec![(1, "a".into(), 100_000), (2, "b".into(), 101_000)]);
        assert_eq!(got, BTreeSet::from(["a".to_string(), "b".to_string()]));
        assert_eq!(f.since_ms(), 101_000 - FEED_OVERLAP_MS);
        // Read again from the overlap: the same changes are not news; a late commit
        // (seq 3, recorded before seq 2) is.
        let got = f.take(vec![
            (1, "a".into(), 100_000),
            (3, "c".into(), 100_500),
            (2, "b".into(), 101_000),
        ]);
        assert_eq!(got, BTreeSet::from(["c".to_string()]));
        // Nothing new: the window stays.
        assert!(f.take(vec![]).is_empty());
        assert_eq!(f.since_ms(), 101_000 - FEED_OVERLAP_MS);
        // Much later: the old seqs leave the window.
        f.take(vec![(9, "a".into(), 200_000)]);
        assert_eq!(f.seen.len(), 1);
        // A full batch moves on to its newest change.
        let flood: Vec<_> = (10..10 + FEED_BATCH as i64)
            .map(|s| (s, format!("h{s}"), 300_000 + s))
            .collect();
        assert_eq!(f.take(flood).len(), FEED_BATCH as usize);
        assert_eq!(f.since_ms(), 300_000 + 9 + FEED_BATCH as i64);
    }
}
