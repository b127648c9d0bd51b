//! The collector's persistence: one [`Store`] trait in terms of the core's types, one
//! implementation of it ([`SqlStore`], written once in the SQL both engines share:
//! [`sql`]), and two engines: SQLite (embedded, the default) and PostgreSQL (several
//! collectors, big fleets). This is the only crate that names a database engine:
//! everything else opens a store with [`open`] and holds an `Arc<dyn Store>`.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tilsyn_proto::duration::HumanDuration;
use tilsyn_proto::v1::Report;

pub use tilsyn_collector_core::compliance::engine::ComplianceRow;
pub use tilsyn_collector_core::compliance::facts::HostInputs;
pub use tilsyn_collector_core::rollup::RollupView;

pub mod absence;
pub mod access;
pub mod cluster;
pub mod copy;
pub mod hosts;
pub mod incidents;
pub mod pg_server;
pub mod postgres;
pub mod rollups;
pub mod search;
pub mod sla;
pub mod sql;
pub mod sqlite;
pub mod waivers;

pub use hosts::SqlStore;

pub use absence::{GapRecord, GapRow, WentOffline};
pub use access::{
    Access, Actor, ApiToken, ApiWaiver, AuditEntry, AuditFilter, ChangeWindow, HostLifecycle,
};
pub use cluster::Lease;
pub use incidents::OutboxUpdate;
pub use tilsyn_collector_core::incidents::records::*;
pub use tilsyn_collector_core::incidents::ticket::{TicketRef, TicketStatus};

/// The `store:` section of `collector.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite database file (relative to data_dir).
    #[serde(default = "default_db")]
    pub sqlite_path: PathBuf,
    /// How long health samples are kept.
    #[serde(default = "default_retention")]
    pub health_retention: HumanDuration,
    /// How long 5-minute rollups of the health samples are kept.
    #[serde(default = "default_rollup_5m")]
    pub rollup_5m_retention: HumanDuration,
    /// How long hourly rollups are kept.
    #[serde(default = "default_rollup_1h")]
    pub rollup_1h_retention: HumanDuration,
    /// How often newly received samples are folded into the rollups.
    #[serde(default = "default_rollup_every")]
    pub rollup_every: HumanDuration,
    /// PostgreSQL instead of SQLite (several collectors, big fleets); `sqlite_path` is
    /// then unused.
    #[serde(default)]
    pub postgres: Option<postgres::PostgresConfig>,
}

fn default_rollup_every() -> HumanDuration {
    HumanDuration::secs(60)
}

fn default_rollup_5m() -> HumanDuration {
    HumanDuration::secs(35 * 86_400)
}
fn default_rollup_1h() -> HumanDuration {
    HumanDuration::secs(400 * 86_400)
}

fn default_db() -> PathBuf {
    "tilsyn.db".into()
}
fn default_retention() -> HumanDuration {
    HumanDuration::secs(24 * 3600)
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            sqlite_path: default_db(),
            health_retention: default_retention(),
            rollup_5m_retention: default_rollup_5m(),
            rollup_1h_retention: default_rollup_1h(),
            rollup_every: default_rollup_every(),
            postgres: None,
        }
    }
}

impl StoreConfig {
    /// Makes the database path absolute, relative to the collector's `data_dir`.
    pub fn resolve_paths(&mut self, data_dir: &std::path::Path) {
        if self.sqlite_path.is_relative() {
            self.sqlite_path = data_dir.join(&self.sqlite_path);
        }
    }

    /// Where the data is, for logs (`sqlite:/var/lib/tilsyn-collector/tilsyn.db`,
    /// `postgres://tilsyn@db1:5432/tilsyn`; never a password).
    pub fn describe(&self) -> String {
        match &self.postgres {
            Some(pg) => pg.describe(),
            None => format!("sqlite:{}", self.sqlite_path.display()),
        }
    }

    /// Checks what can be checked without connecting (the PostgreSQL URL, its file, TLS
    /// files); each error names the setting and what to do.
    pub fn validate(&self) -> std::result::Result<(), String> {
        match &self.postgres {
            Some(pg) => pg.connect_options().map(|_| ()),
            None => Ok(()),
        }
    }
}

/// Opens (creating and migrating) the store the configuration names. The one place an
/// engine is chosen: the server and the CLI call this and never name an engine. It may
/// block on the network (PostgreSQL): call it from a blocking thread in async code.
pub fn open(cfg: &StoreConfig) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(open_sql(cfg)?))
}

/// [`open`], as the concrete store (for copying between stores).
pub fn open_sql(cfg: &StoreConfig) -> Result<SqlStore> {
    match &cfg.postgres {
        Some(pg) => postgres::open(pg),
        None => sqlite::open(&cfg.sqlite_path),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {message}")]
    Open { path: String, message: String },
    #[error("database error: {0}")]
    Db(String),
    #[error("stored data for {what} is unreadable: {message}")]
    Corrupt { what: String, message: String },
    /// A write only the leader makes, refused: another collector holds the lease now.
    #[error(
        "this collector no longer holds the {lease} lease (epoch {epoch}); another collector leads"
    )]
    NotLeader { lease: String, epoch: i64 },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A newly enrolled agent.
#[derive(Debug, Clone)]
pub struct NewAgent {
    pub agent_id: String,
    pub secret_hash: String,
    pub department: String,
    pub class: String,
    /// `agent` (asked for by the agent) or `rule` (classified by the collector).
    pub class_source: String,
    pub hostname: String,
    pub machine_id: String,
    pub agent_version: String,
    pub labels_json: String,
    pub health_interval_s: u32,
    pub enrolled_at_ms: i64,
}

/// What authentication needs to know about an agent.
#[derive(Debug, Clone)]
pub struct AgentAuth {
    pub agent_id: String,
    pub secret_hash: String,
    pub department: String,
    pub class: String,
    pub class_source: String,
    /// The credential was revoked (or the host retired): the agent is refused.
    pub revoked: bool,
}

/// One authenticated, validated batch to commit.
#[derive(Debug, Clone)]
pub struct IngestBatch {
    pub agent_id: String,
    /// Valid reports, ascending seq.
    pub reports: Vec<Report>,
    /// The class to record when an inventory report arrives (collector classification);
    /// `None` keeps the current class.
    pub class_from_inventory: Option<String>,
    /// The health interval the host is configured with.
    pub health_interval_s: u32,
    /// How long the host may stay silent before it counts as offline (missed intervals ×
    /// health interval); stored as a deadline so finding silent hosts is an index range scan.
    pub silence_limit_ms: i64,
    /// The collector committing it (its lease owner name), recorded with the host's
    /// section changes so that it does not read its own back.
    pub origin: String,
}

/// What committing a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub committed_through: u64,
    pub applied: Vec<(u64, &'static str)>,
    pub duplicates: u64,
    pub resend_sections: Vec<String>,
    /// The host came back from offline with this batch.
    pub came_online: bool,
}

/// Which hosts [`Store::list_hosts`] and [`Store::count_hosts`] find: every filter given
/// must hold. Retired hosts are left out unless `state` asks for them. Text filters are
/// trimmed; a blank one filters nothing.
#[derive(Debug, Clone, Default)]
pub struct HostFilter {
    /// Only these departments (a department reader's); `None`: all.
    pub departments: Option<Vec<String>>,
    pub department: Option<String>,
    pub class: Option<String>,
    pub state: Option<String>,
    pub os_family: Option<String>,
    /// The exact hostname.
    pub hostname: Option<String>,
    /// Hosts with an installed package whose name *contains* this text, ignoring case:
    /// `firefox` finds `firefox-esr` and `Mozilla Firefox (x64 en-US)` (Windows names
    /// start with the vendor, so a prefix would miss them), `kb50` nothing installed.
    pub software: Option<String>,
    /// With `software`: only packages whose version starts with this, case and all
    /// (`115.` finds `115.17.0esr`, not `1115.0`); ignored without `software`.
    pub software_version: Option<String>,
    /// Hosts with a pending update whose package name contains this text, ignoring case
    /// (as `software`: `openssl`, `KB5046633`, `Cumulative Update`).
    pub update: Option<String>,
    /// Only hosts with a pending security update: with `update`, of that name; alone,
    /// any.
    pub security_only: bool,
    /// Free search: the hostname or the fully qualified name starts with it (ignoring
    /// case), or it is exactly (ignoring case) the hardware serial, an IP address of any
    /// interface (without its prefix length: `10.20.1.5` finds `10.20.1.5/16`), a MAC
    /// address (`-` or `:` between the bytes), or the agent id.
    pub text: Option<String>,
    /// Page size of [`Store::list_hosts`] (1 to 10,000); [`Store::count_hosts`] ignores it.
    pub limit: u32,
    /// Hosts skipped before the page; [`Store::count_hosts`] ignores it.
    pub offset: u32,
}

/// How many hosts have one version of a package ([`Store::software_versions`]).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SoftwareVersionCount {
    /// The package's name as its hosts report it.
    pub name: String,
    pub version: String,
    /// Hosts (not retired) that have this version installed.
    pub hosts: u64,
}

/// A row of the host list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostSummary {
    pub agent_id: String,
    pub hostname: String,
    pub fqdn: String,
    pub department: String,
    pub class: String,
    pub state: String,
    pub os_family: String,
    pub os_name: String,
    pub os_version: String,
    pub agent_version: String,
    pub enrolled_at_ms: i64,
    pub last_seen_ms: Option<i64>,
    pub software_count: Option<i64>,
    pub pending_updates: Option<i64>,
    pub pending_security_updates: Option<i64>,
    pub oldest_security_update_since_ms: Option<i64>,
    pub reboot_required: Option<bool>,
}

/// One host in full.
#[derive(Debug, Clone, Serialize)]
pub struct HostDetail {
    #[serde(flatten)]
    pub summary: HostSummary,
    pub class_source: String,
    pub labels: serde_json::Value,
    pub machine_id: String,
    pub last_seq: u64,
    pub inventory: Option<serde_json::Value>,
    pub inventory_at_ms: Option<i64>,
    pub software: Option<serde_json::Value>,
    pub software_at_ms: Option<i64>,
    pub patches: Option<serde_json::Value>,
    pub patches_at_ms: Option<i64>,
    pub health: Option<serde_json::Value>,
    pub health_at_ms: Option<i64>,
    /// Security and configuration facts as the agent reported them.
    pub facts: Option<serde_json::Value>,
    pub facts_at_ms: Option<i64>,
    /// Latest errors per probe: `{probe: [{message, at_ms}]}`.
    pub probe_errors: serde_json::Value,
    /// When the host was retired / its agent's credential revoked.
    pub retired_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthSample {
    pub seq: u64,
    pub collected_at_ms: i64,
    pub health: serde_json::Value,
}

/// Hosts per (department, class, os family, state) with their patch backlog.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostCount {
    pub department: String,
    pub class: String,
    pub os_family: String,
    pub state: String,
    pub hosts: i64,
    pub pending_updates: i64,
    pub pending_security_updates: i64,
    pub reboot_required: i64,
    /// Oldest pending security update of the group (ms since epoch).
    pub oldest_security_update_since_ms: Option<i64>,
}

/// A change of a host's state (online/offline), kept for later incident and SLA work.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostEvent {
    pub agent_id: String,
    pub at_ms: i64,
    pub kind: String,
}

/// Everything the collector keeps; the access half (tokens, audit, lifecycle, change
/// windows) is [`Access`].
pub trait Store: Access + Send + Sync + 'static {
    /// Creates or upgrades the schema.
    fn migrate(&self) -> Result<()>;
    /// The schema version the database is at.
    fn schema_version(&self) -> Result<i64>;
    fn ping(&self) -> Result<()>;
    fn enroll(&self, a: &NewAgent) -> Result<()>;
    fn agent_auth(&self, agent_id: &str) -> Result<Option<AgentAuth>>;
    /// Commits all batches in one transaction (group commit); duplicates are no-ops.
    fn ingest(&self, batches: &[IngestBatch], now_ms: i64) -> Result<Vec<BatchOutcome>>;
    /// One page of the hosts `f` finds, by hostname (then agent id).
    fn list_hosts(&self, f: &HostFilter) -> Result<Vec<HostSummary>>;
    /// How many hosts `f` finds in all (its limit and offset ignored): the total beside a
    /// page of [`Store::list_hosts`].
    fn count_hosts(&self, f: &HostFilter) -> Result<u64>;
    /// The installed versions of the packages whose name contains `name` (ignoring case,
    /// as [`HostFilter::software`]) with how many hosts have each: "which PCs still run
    /// the old Office". Hosts not retired, of `departments` only when given (a department
    /// reader's). By name, then version in natural order (`9.2` before `10.0`), at most
    /// `limit` (1 to 10,000) rows. A blank `name` finds nothing: the whole catalogue of a
    /// fleet is not one answer.
    fn software_versions(
        &self,
        name: &str,
        departments: Option<&[String]>,
        limit: u32,
    ) -> Result<Vec<SoftwareVersionCount>>;
    fn get_host(&self, agent_id: &str) -> Result<Option<HostDetail>>;
    fn health_history(
        &self,
        agent_id: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<HealthSample>>;
    /// Marks online hosts whose silence deadline has passed as offline; returns them.
    /// Marks online hosts past their deadline offline; each with where its offline time
    /// starts (now, or its last report when a collector gap extended its deadline).
    fn mark_offline(&self, now_ms: i64) -> Result<Vec<WentOffline>>;

    // The collector's own absence (`tilsyn_collector_core::absence`).
    /// Starts a run of this collector; returns its id and the last sign of life before it
    /// (the previous run's last beat or clean stop; without any, the newest report).
    fn begin_run(&self, now_ms: i64) -> Result<(i64, Option<i64>)>;
    /// The run is alive at `now_ms` (`stopped`: and ends cleanly).
    fn beat(&self, run_id: i64, now_ms: i64, stopped: bool) -> Result<()>;
    /// Records a gap and applies the grace rule to every watched host, in one transaction.
    fn record_gap(
        &self,
        gap: &tilsyn_collector_core::absence::Gap,
        cause: tilsyn_collector_core::absence::Cause,
        missed_intervals: u32,
        catch_up: tilsyn_collector_core::absence::CatchUp,
    ) -> Result<GapRecord>;
    /// Gaps that ended at or after `since_ms`; with `due_by`, only those whose grace has
    /// ended by then and whose unmonitored time is not yet written.
    fn collector_gaps(&self, since_ms: i64, due_by: Option<i64>) -> Result<Vec<GapRow>>;
    /// Writes each watched host's unmonitored part of the gap (what its samples do not
    /// cover) and marks the gap settled; returns how many hosts have unmonitored time.
    fn settle_gap(&self, gap_id: i64, missed_intervals: u32, now_ms: i64) -> Result<u64>;
    fn host_counts(&self) -> Result<Vec<HostCount>>;
    fn host_events(&self, agent_id: &str, limit: u32) -> Result<Vec<HostEvent>>;
    /// Deletes health samples older than `before_ms`; returns how many.
    fn prune_health(&self, before_ms: i64) -> Result<u64>;
    /// Folds the health samples received since the last call, up to `until_ms`, into their
    /// 5-minute and hourly rollups, in one transaction; returns how many samples.
    fn roll_up_health(&self, until_ms: i64) -> Result<u64>;
    /// One host's rollups at `resolution_ms` from `since_ms`, newest first.
    fn health_rollups(
        &self,
        agent_id: &str,
        resolution_ms: i64,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<RollupView>>;
    /// Deletes rollups of `resolution_ms` whose bucket starts before `before_ms`.
    fn prune_rollups(&self, resolution_ms: i64, before_ms: i64) -> Result<u64>;
    /// The sections compliance evaluates, for one host or (None) every host, streamed.
    fn compliance_inputs(
        &self,
        agent_id: Option<&str>,
        f: &mut dyn FnMut(HostInputs),
    ) -> Result<()>;
    /// Every stored compliance row, streamed (to restore `since` after a restart).
    fn load_compliance(&self, f: &mut dyn FnMut(ComplianceRow)) -> Result<()>;
    /// Writes changed rows and deletes rows of standards that no longer apply.
    fn save_compliance(
        &self,
        upserts: &[ComplianceRow],
        deletes: &[(String, String)],
    ) -> Result<()>;

    /// Every host as incident conditions see it (after a restart).
    fn incident_hosts(&self, agent_id: Option<&str>, f: &mut dyn FnMut(IncidentHost))
        -> Result<()>;
    fn load_incident_state(&self) -> Result<IncidentState>;
    /// One engine step in one transaction; returns the new outbox item ids.
    fn save_incidents(&self, w: &IncidentWrite, now_ms: i64) -> Result<Vec<i64>>;
    /// Writes whole incident rows as they are, desk side included, in one transaction;
    /// an existing id is replaced. For moving history between stores and for seeding
    /// benchmarks, never for the engine (whose steps go through `save_incidents`).
    fn import_incidents(&self, rows: &[IncidentRow]) -> Result<()>;
    /// Due outbox items: the first undelivered action of each subject.
    fn outbox_due(&self, now_ms: i64, limit: u32) -> Result<Vec<OutboxItem>>;
    fn outbox_update(&self, u: &OutboxUpdate, now_ms: i64) -> Result<()>;
    /// An operator retries (`retry`) or abandons an item; returns it as it is now.
    fn outbox_operator(&self, id: i64, retry: bool, now_ms: i64) -> Result<Option<OutboxItem>>;
    fn outbox_list(
        &self,
        state: Option<&str>,
        subject: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OutboxItem>>;
    fn outbox_stats(&self) -> Result<Vec<OutboxStat>>;
    /// The ticket of `incident:<id>` / `problem:<id>`, once created.
    fn ticket_of(&self, subject: &str) -> Result<Option<TicketRef>>;
    /// Tickets to read back: (subject, desk, ticket).
    fn read_back_due(
        &self,
        checked_before_ms: i64,
        opened_after_ms: i64,
        limit: u32,
    ) -> Result<Vec<(String, String, TicketRef)>>;
    fn save_read_back(&self, subject: &str, st: Option<&TicketStatus>, now_ms: i64) -> Result<()>;
    fn list_incidents(&self, f: &IncidentFilter) -> Result<Vec<IncidentRow>>;
    fn get_incident(&self, id: i64) -> Result<Option<IncidentRow>>;
    fn list_problems(&self, state: Option<&str>, limit: u32) -> Result<Vec<ProblemRow>>;

    /// Every host as the SLA sees it, streamed.
    fn sla_hosts(
        &self,
        f: &mut dyn FnMut(tilsyn_collector_core::sla::report::SlaHost),
    ) -> Result<()>;
    /// Incidents that were open at some time in `[from_ms, to_ms)`, streamed by id.
    fn sla_incidents(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(tilsyn_collector_core::sla::report::SlaIncident),
    ) -> Result<()>;
    /// The hosts' unmonitored time (the collector's own gaps that their spooled health
    /// does not cover) overlapping `[from_ms, to_ms)`, streamed by host and start.
    fn sla_unmonitored(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(tilsyn_collector_core::sla::report::SlaUnmonitored),
    ) -> Result<()>;
    /// Replaces the month's figures of the given departments: (department, JSON).
    fn save_sla_snapshot(&self, month: &str, rows: &[(String, String)], at_ms: i64) -> Result<()>;
    /// The month's figures: (department, JSON, taken at).
    fn sla_snapshots(&self, month: &str) -> Result<Vec<(String, String, i64)>>;

    // Several collectors (`cluster.rs`).
    /// Takes or keeps lease `name` for `owner` until `ttl_ms` from now on the database's
    /// clock; the lease as held, or `None` while another owner holds it.
    fn lease(&self, name: &str, owner: &str, ttl_ms: i64) -> Result<Option<Lease>>;
    /// Gives lease `name` up if `owner` holds it (a clean stop: another takes over at once).
    fn release_lease(&self, name: &str, owner: &str) -> Result<()>;
    /// From now on the writes only a leader makes (offline marks, gaps, incidents and the
    /// outbox, read-back, SLA snapshots, retention and rollups, taking news) commit only
    /// while `lease` is still held; `None` lifts the fence.
    fn fence(&self, lease: Option<Lease>);
    /// Queues what a report brought about a host for the leader's incident engine.
    fn push_news(&self, items: &[(String, Vec<u8>)], now_ms: i64) -> Result<()>;
    /// Takes (removes and returns) up to `limit` queued news, oldest first (fenced).
    fn take_news(&self, limit: u32) -> Result<Vec<(String, Vec<u8>)>>;
    /// The hosts whose compliance inputs changed (ingest records them, on any collector
    /// but `except_origin`) at or after `since_ms` on the database's clock: (seq, agent
    /// id, at_ms), by seq, at most `limit`. A reader asks again from a little before the
    /// newest `at_ms` it saw (a change committed late can carry an earlier time) and skips
    /// the seqs it has seen.
    fn section_changes_since(
        &self,
        since_ms: i64,
        limit: u32,
        except_origin: &str,
    ) -> Result<Vec<(i64, String, i64)>>;
    /// Deletes section changes recorded before `before_ms` (fenced: the leader's retention).
    fn prune_section_changes(&self, before_ms: i64) -> Result<u64>;
}

/// The store suite's fixtures: every test runs against each engine.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tilsyn_proto::v1::report::Body;

    /// A fresh store and what keeps it alive (a temporary directory, a database).
    pub(crate) struct TestStore {
        store: SqlStore,
        _keep: Box<dyn std::any::Any>,
    }

    impl std::ops::Deref for TestStore {
        type Target = SqlStore;
        fn deref(&self) -> &SqlStore {
            &self.store
        }
    }

    /// One fresh SQLite store and one fresh PostgreSQL store (a new database on the test
    /// process's private server, see [`pg_server`]).
    pub(crate) fn stores() -> Vec<TestStore> {
        let d = tempfile::tempdir().unwrap();
        let sqlite = sqlite::open(&d.path().join("t.db")).unwrap();
        let pg = pg_server::shared().expect("a private PostgreSQL server for the store tests");
        let cfg = pg.new_database().unwrap();
        let postgres = postgres::open(&cfg).unwrap();
        vec![
            TestStore {
                store: sqlite,
                _keep: Box::new(d),
            },
            TestStore {
                store: postgres,
                _keep: Box::new(()),
            },
        ]
    }

    /// An offline incident of `agent` in `state`.
    pub(crate) fn incident(
        id: i64,
        agent: &str,
        state: &str,
        resolved: Option<i64>,
        at: i64,
    ) -> crate::IncidentRow {
        crate::IncidentRow {
            id,
            key: format!("{agent}/offline"),
            agent_id: agent.into(),
            hostname: agent.into(),
            department: "social".into(),
            class: "server".into(),
            check: "offline".into(),
            severity: "high".into(),
            impact: "medium".into(),
            priority: "P3".into(),
            title: format!("{agent} is offline"),
            detail: "no report for 3 intervals".into(),
            state: state.into(),
            flapping: false,
            reopened: 0,
            opened_at_ms: 1_000,
            resolved_at_ms: resolved,
            suppressed_by: None,
            problem_id: None,
            desk: "file".into(),
            desk_side: Default::default(),
            updated_at_ms: at,
        }
    }

    pub(crate) fn agent(s: &SqlStore, id: &str) {
        s.enroll(&NewAgent {
            agent_id: id.into(),
            secret_hash: "h".into(),
            department: "social".into(),
            class: "workstation".into(),
            class_source: "rule".into(),
            hostname: "pc1".into(),
            machine_id: String::new(),
            agent_version: "0".into(),
            labels_json: "{}".into(),
            health_interval_s: 60,
            enrolled_at_ms: 1,
        })
        .unwrap();
    }

    pub(crate) fn rep(seq: u64, body: Body) -> Report {
        Report {
            seq,
            collected_at_ms: 1000 * seq as i64,
            errors: vec![],
            body: Some(body),
        }
    }

    pub(crate) fn batch(id: &str, reports: Vec<Report>) -> IngestBatch {
        IngestBatch {
            agent_id: id.into(),
            reports,
            class_from_inventory: None,
            health_interval_s: 60,
            silence_limit_ms: 180_000,
            origin: "test".into(),
        }
    }
}
