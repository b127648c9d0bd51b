//! The gRPC service agents talk to: enrollment, authentication, report ingest, settings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tonic::{Request, Response, Status};

use tilsyn_proto::meta;
use tilsyn_proto::v1::agent_service_server::AgentService;
use tilsyn_proto::v1::{
    report::Body, AgentSettings, EnrollRequest, EnrollResponse, GetSettingsRequest, Rejected,
    ReportAck, ReportBatch,
};

use crate::auth;
use crate::config::CollectorConfig;
use crate::metrics::Metrics;
use crate::settings;
use crate::store_handle::StoreHandle;
use tilsyn_collector_core::text::valid_id;
use tilsyn_collector_store::{AgentAuth, IngestBatch, NewAgent, Store};

pub mod validate;
pub mod writer;

/// Why the collector cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the standards cannot be loaded; fix them (tilsyn-collector standards validate DIR) and start again:\n{0}")]
    Standards(tilsyn_collector_core::compliance::standard::LoadErrors),
    #[error("the incidents configuration is invalid (tilsyn-collector validate --config FILE):\n  {}", .0.join("\n  "))]
    Incidents(Vec<String>),
    #[error("cannot load the incident state from the store: {0}")]
    Store(tilsyn_collector_store::StoreError),
}

/// Everything the gRPC and HTTP sides share.
pub struct Shared {
    pub cfg: CollectorConfig,
    pub store: Arc<dyn Store>,
    /// The store for async callers: the gRPC handlers, the API, the background loops.
    pub store_calls: StoreHandle,
    pub metrics: Arc<Metrics>,
    pub writer: writer::Writer,
    pub clock: fn() -> i64,
    pub compliance: Arc<crate::services::compliance::Compliance>,
    pub incidents: Arc<crate::services::incidents::Incidents>,
    /// The SLA evaluator, when an SLA file is configured.
    pub sla: Option<Arc<crate::services::sla::Sla>>,
    /// Whether this collector leads the others on its database.
    pub leader: Arc<crate::services::leader::Leadership>,
    auth_cache: RwLock<HashMap<String, AgentAuth>>,
    settings_cache: Mutex<HashMap<(String, String), AgentSettings>>,
    /// The maintenance windows of the file; change windows come from the store.
    pub file_windows: tilsyn_collector_core::incidents::maintenance::Windows,
    windows_applied: crate::services::lifecycle::Applied,
}

impl Shared {
    /// Starts the writer, the compliance engine, the incident engine and (given the checked
    /// SLA file) the SLA evaluator; fails when the standards, the desks or the maintenance
    /// windows have errors.
    pub fn new(
        cfg: CollectorConfig,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        sla: Option<tilsyn_collector_core::sla::config::SlaPolicy>,
        clock: fn() -> i64,
        leader: Arc<crate::services::leader::Leadership>,
    ) -> Result<Arc<Self>, StartError> {
        let compliance = crate::services::compliance::Compliance::start(
            cfg.compliance.clone(),
            store.clone(),
            metrics.clone(),
            clock,
        )
        .map_err(StartError::Standards)?;
        let policy = cfg.incidents.compile().map_err(StartError::Incidents)?;
        let file_windows = policy.windows.clone();
        let sla = sla.map(|sla_policy| {
            crate::services::sla::Sla::start(
                crate::services::sla::Catalogue {
                    policy: sla_policy,
                    windows: policy.windows.clone(),
                    departments: cfg.department_names(),
                },
                store.clone(),
                metrics.clone(),
                compliance.clone(),
                clock,
                cfg.sla.evaluate_every.0,
                leader.clone(),
            )
        });
        let desks = tilsyn_collector_desks::build(&cfg.incidents, &cfg.data_dir)
            .map_err(StartError::Incidents)?;
        let incidents = crate::services::incidents::Incidents::start(
            cfg.incidents.clone(),
            policy,
            desks,
            crate::services::incidents::Env {
                store: store.clone(),
                metrics: metrics.clone(),
                compliance: compliance.clone(),
                clock,
                leader: leader.clone(),
            },
        )
        .map_err(StartError::Store)?;
        let writer = writer::Writer::start(store.clone(), metrics.clone(), 8192, clock);
        Ok(Arc::new(Shared {
            cfg,
            store_calls: StoreHandle::new(store.clone(), metrics.clone()),
            store,
            metrics,
            writer,
            clock,
            compliance,
            incidents,
            sla,
            leader,
            auth_cache: RwLock::new(HashMap::new()),
            settings_cache: Mutex::new(HashMap::new()),
            file_windows,
            windows_applied: Default::default(),
        }))
    }

    /// A host was moved or its credential revoked (here or on another collector): its
    /// cached credential goes, its compliance and incident conditions are read again.
    pub fn host_changed(&self, agent_id: &str) {
        self.auth_cache
            .write()
            .expect("auth cache")
            .remove(agent_id);
        self.compliance.host_changed(agent_id);
    }

    /// After a move made on this collector: the incident engine reads the host again (its
    /// department routes new incidents).
    pub fn host_moved(&self, agent_id: &str) {
        self.host_changed(agent_id);
        self.incidents.report(
            agent_id,
            crate::services::incidents::News {
                received_at_ms: (self.clock)(),
                reload: true,
                ..Default::default()
            },
        );
    }

    /// After a host was retired on this collector: it leaves compliance, its incidents
    /// resolve with `note`.
    pub fn host_retired(&self, agent_id: &str, note: &str) {
        self.host_changed(agent_id);
        self.incidents.retire(agent_id, note);
    }

    /// Reads the change windows and, when they changed, hands the windows in force to the
    /// incident engine and the SLA.
    pub async fn refresh_windows(&self) {
        let now = (self.clock)();
        let Ok(rows) = self
            .store_calls
            .call("change_windows", move |st| {
                crate::services::lifecycle::change_windows(st, now)
            })
            .await
        else {
            return;
        };
        // Compiled only when they changed (this runs every 2 s).
        if !self.windows_applied.changed(&rows) {
            return;
        }
        let w = crate::services::lifecycle::windows_in_force(&self.file_windows, &rows);
        tracing::info!(
            change_windows = rows.len(),
            "maintenance windows in force changed"
        );
        self.incidents.set_windows(w.clone());
        if let Some(sla) = &self.sla {
            sla.set_windows(w);
        }
    }

    /// Reads the waivers made through the API or CLI and hands them to the compliance
    /// engine (which evaluates again only when they changed).
    pub async fn refresh_waivers(&self) {
        if let Ok(docs) = self
            .store_calls
            .call("api_waivers", crate::services::waivers::in_force)
            .await
        {
            self.compliance.set_api_waivers(docs);
        }
    }

    pub fn settings_for(&self, department: &str, class: &str) -> AgentSettings {
        let key = (department.to_string(), class.to_string());
        let mut cache = self.settings_cache.lock().expect("settings cache");
        cache
            .entry(key)
            .or_insert_with(|| settings::resolve(&self.cfg.settings, department, class))
            .clone()
    }

    /// Runs a store call on the blocking pool (see [`StoreHandle::call`]).
    pub async fn with_store<T: Send + 'static>(
        &self,
        op: &'static str,
        f: impl FnOnce(&dyn Store) -> tilsyn_collector_store::Result<T> + Send + 'static,
    ) -> tilsyn_collector_store::Result<T> {
        self.store_calls.call(op, f).await
    }

    /// [`Self::with_store`] for gRPC handlers: a failure is UNAVAILABLE, so agents retry.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> tilsyn_collector_store::Result<T> + Send + 'static,
        op: &'static str,
    ) -> Result<T, Status> {
        self.with_store(op, f).await.map_err(|_| {
            Status::unavailable(format!("collector store unavailable ({op}); retry later"))
        })
    }

    /// Checks the caller's credentials; every failure is UNAUTHENTICATED.
    async fn authenticate<T>(&self, req: &Request<T>) -> Result<AgentAuth, Status> {
        let md = req.metadata();
        let fail = |reason: &'static str, msg: &str| {
            self.metrics
                .auth_failures
                .with_label_values(&[reason])
                .inc();
            Status::unauthenticated(msg.to_string())
        };
        let agent_id = md
            .get(meta::AGENT_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let secret = md
            .get(meta::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if agent_id.is_empty() || secret.is_empty() {
            return Err(fail("missing_credentials", "missing agent credentials (x-tilsyn-agent-id and authorization: Bearer); enroll first"));
        }
        if agent_id.len() > 128 {
            return Err(fail("unknown_agent", "unknown agent; enroll again"));
        }
        let cached = self
            .auth_cache
            .read()
            .expect("auth cache")
            .get(agent_id)
            .cloned();
        let found = match cached {
            Some(a) => Some(a),
            None => {
                let id = agent_id.to_string();
                let a = self
                    .blocking(move |s| s.agent_auth(&id), "agent_auth")
                    .await?;
                if let Some(a) = &a {
                    self.auth_cache
                        .write()
                        .expect("auth cache")
                        .insert(a.agent_id.clone(), a.clone());
                }
                a
            }
        };
        match found {
            None => Err(fail("unknown_agent", "unknown agent; enroll again")),
            Some(a) if !auth::verify_secret(secret, &a.secret_hash) => Err(fail(
                "bad_secret",
                "wrong secret for this agent; enroll again",
            )),
            Some(a) if a.revoked => {
                self.metrics.agents_refused_revoked.inc();
                Err(fail(
                    "revoked",
                    "this agent's credential was revoked (or its host retired) by the operations centre; \
                     enroll again with your department's token",
                ))
            }
            Some(a) => Ok(a),
        }
    }
}

pub struct IngestService {
    pub shared: Arc<Shared>,
}

#[tonic::async_trait]
impl AgentService for IngestService {
    async fn enroll(
        &self,
        req: Request<EnrollRequest>,
    ) -> Result<Response<EnrollResponse>, Status> {
        let s = &self.shared;
        let r = req.into_inner();
        let refuse = |reason: &'static str, st: Status| {
            s.metrics
                .enrollment_failures
                .with_label_values(&[reason])
                .inc();
            st
        };
        let Some(dept) = s.cfg.department_for_token(&r.token) else {
            return Err(refuse("unknown_token", Status::unauthenticated("unknown enrollment token; ask the operations centre for your department's token")));
        };
        let hostname = r.hostname.trim().to_string();
        if hostname.is_empty() || hostname.len() > 255 {
            return Err(refuse(
                "bad_hostname",
                Status::invalid_argument("hostname must be 1-255 characters"),
            ));
        }
        if !r.requested_class.is_empty() && !valid_id(&r.requested_class) {
            return Err(refuse(
                "bad_class",
                Status::invalid_argument(format!(
                    "class {:?} must be 1-64 characters of a-z, 0-9, '-' or '_'",
                    r.requested_class
                )),
            ));
        }
        if r.labels.len() > 64
            || r.labels
                .iter()
                .any(|(k, v)| k.len() > 128 || v.len() > 1024)
            || r.machine_id.len() > 256
            || r.agent_version.len() > 64
        {
            return Err(refuse(
                "bad_labels",
                Status::invalid_argument(
                    "too many or too long labels / machine id / agent version",
                ),
            ));
        }
        let (class, class_source) = if r.requested_class.is_empty() {
            (s.cfg.classification.default_class.clone(), "rule")
        } else {
            (r.requested_class.clone(), "agent")
        };
        let settings = s.settings_for(&dept.id, &class);
        let agent_id = auth::new_agent_id();
        let secret = auth::new_secret();
        let labels: std::collections::BTreeMap<_, _> = r.labels.into_iter().collect();
        let new = NewAgent {
            agent_id: agent_id.clone(),
            secret_hash: auth::hash_secret(&secret),
            department: dept.id.clone(),
            class,
            class_source: class_source.into(),
            hostname: hostname.clone(),
            machine_id: r.machine_id,
            agent_version: r.agent_version,
            labels_json: serde_json::to_string(&labels).unwrap_or_else(|_| "{}".into()),
            health_interval_s: settings.health_interval_seconds,
            enrolled_at_ms: (s.clock)(),
        };
        s.blocking(move |st| st.enroll(&new), "enroll").await?;
        s.metrics.enrollments.with_label_values(&[&dept.id]).inc();
        tracing::info!(agent_id = %agent_id, department = %dept.id, hostname = %hostname, "agent enrolled");
        Ok(Response::new(EnrollResponse {
            agent_id,
            secret,
            department: dept.id.clone(),
            settings: Some(settings),
        }))
    }

    async fn report(&self, req: Request<ReportBatch>) -> Result<Response<ReportAck>, Status> {
        let s = &self.shared;
        let who = s.authenticate(&req).await?;
        let batch = req.into_inner();
        if batch.agent_id != who.agent_id {
            s.metrics
                .batches_rejected
                .with_label_values(&["impersonation"])
                .inc();
            tracing::warn!(authenticated = %who.agent_id, claimed = %batch.agent_id, "agent tried to report as another agent");
            return Err(Status::permission_denied(
                "an agent may only report for itself",
            ));
        }
        if batch.reports.len() > s.cfg.grpc.max_reports_per_batch {
            s.metrics
                .batches_rejected
                .with_label_values(&["too_many_reports"])
                .inc();
            return Err(Status::invalid_argument(format!(
                "{} reports in one call; at most {}",
                batch.reports.len(),
                s.cfg.grpc.max_reports_per_batch
            )));
        }
        let limits = validate::Limits {
            now_ms: (s.clock)(),
            max_future_skew_ms: s.cfg.grpc.max_clock_skew.0.as_millis() as i64,
        };
        let mut reports = batch.reports;
        reports.sort_by_key(|r| r.seq);
        reports.dedup_by_key(|r| r.seq);
        let mut rejected = Vec::new();
        let mut valid = Vec::with_capacity(reports.len());
        // How far ahead of ours the host's clock runs (ms; negative: behind), when the batch
        // tells: a live batch ending in a health sample, or a report refused as future.
        let mut clock_skew_ms: Option<i64> = None;
        for r in reports {
            match validate::validate(&r, &limits) {
                Ok(()) => valid.push(r),
                Err(rej) => {
                    if rej.reason == "timestamp_in_future" {
                        let ahead = r.collected_at_ms - limits.now_ms;
                        clock_skew_ms = Some(clock_skew_ms.map_or(ahead, |x| x.max(ahead)));
                    }
                    s.metrics
                        .reports_rejected
                        .with_label_values(&[rej.reason])
                        .inc();
                    tracing::warn!(agent_id = %who.agent_id, seq = r.seq, reason = rej.reason, detail = %rej.detail, "report rejected");
                    rejected.push(Rejected {
                        seq: r.seq,
                        reason: rej.reason.into(),
                        detail: rej.detail,
                    });
                }
            }
        }
        // The collector classifies hosts whose agent asked for no class.
        let class_from_inventory = if who.class_source == "rule" {
            valid.iter().rev().find_map(|r| match &r.body {
                Some(Body::Inventory(inv)) => Some(settings::classify(&s.cfg.classification, inv)),
                _ => None,
            })
        } else {
            None
        };
        let class = class_from_inventory
            .clone()
            .unwrap_or_else(|| who.class.clone());
        let settings = s.settings_for(&who.department, &class);
        let mut ack = ReportAck {
            committed_through: 0,
            rejected,
            resend_sections: vec![],
            settings_revision: settings.revision,
        };
        // Only a short batch is live: a long one is a spool draining after an outage, whose
        // samples are old for a good reason.
        if clock_skew_ms.is_none() && valid.len() <= 2 {
            if let Some(r) = valid
                .last()
                .filter(|r| matches!(r.body, Some(Body::Health(_))))
            {
                clock_skew_ms = Some(r.collected_at_ms - limits.now_ms);
            }
        }
        if valid.is_empty() {
            if clock_skew_ms.is_some() {
                s.incidents.report(
                    &who.agent_id,
                    crate::services::incidents::News {
                        received_at_ms: limits.now_ms,
                        clock_skew_ms,
                        ..Default::default()
                    },
                );
            }
            return Ok(Response::new(ack));
        }
        for r in &valid {
            for e in &r.errors {
                let probe = match e.probe.as_str() {
                    p @ ("inventory" | "software" | "patches" | "health" | "facts") => p,
                    _ => "other",
                };
                s.metrics.probe_errors.with_label_values(&[probe]).inc();
            }
        }
        let had_errors = valid.iter().any(|r| !r.errors.is_empty());
        // The newest health sample (seqs ascend); the older ones of the batch are history.
        let newest_health = valid.iter().rev().find_map(|r| match &r.body {
            Some(Body::Health(h)) => Some((r.seq, h.clone())),
            _ => None,
        });
        let ib = IngestBatch {
            agent_id: who.agent_id.clone(),
            reports: valid,
            class_from_inventory: class_from_inventory.clone(),
            health_interval_s: settings.health_interval_seconds,
            silence_limit_ms: tilsyn_collector_core::absence::allowance_ms(
                settings.health_interval_seconds,
                s.cfg.offline.missed_intervals,
            ),
            origin: s.leader.owner.clone(),
        };
        let outcome = s.writer.submit(ib).await.map_err(|e| {
            tracing::error!(agent_id = %who.agent_id, error = %e, "commit failed; the agent will resend");
            Status::unavailable("collector could not commit the reports; they stay in the agent's spool, retry later")
        })?;
        for (_, kind) in &outcome.applied {
            s.metrics.reports_ingested.with_label_values(&[kind]).inc();
        }
        // Health samples do not feed compliance; every other section may change facts.
        let sections = outcome.applied.iter().any(|(_, k)| *k != "health");
        if sections {
            s.compliance.host_changed(&who.agent_id);
        }
        if !outcome.applied.is_empty() {
            // The latest health sample goes to the incident engine directly (no store
            // round trip on the fault-to-ticket path, no lock shared with ingest); other
            // sections and probe errors are read back from the store by its worker.
            // Resends are skipped: if the newest sample was one, so were the older ones.
            let health = newest_health
                .filter(|(seq, _)| {
                    outcome
                        .applied
                        .iter()
                        .any(|(s, k)| s == seq && *k == "health")
                })
                .map(|(_, h)| h);
            s.incidents.report(
                &who.agent_id,
                crate::services::incidents::News {
                    received_at_ms: limits.now_ms,
                    applied: true,
                    health,
                    reload: sections || had_errors,
                    came_online: outcome.came_online,
                    clock_skew_ms,
                },
            );
        }
        s.metrics.reports_duplicate.inc_by(outcome.duplicates);
        if outcome.came_online {
            s.metrics.state_changes.with_label_values(&["online"]).inc();
        }
        if let Some(c) = class_from_inventory {
            if c != who.class {
                if let Some(a) = s
                    .auth_cache
                    .write()
                    .expect("auth cache")
                    .get_mut(&who.agent_id)
                {
                    a.class = c;
                }
            }
        }
        ack.committed_through = outcome.committed_through;
        ack.resend_sections = outcome.resend_sections;
        Ok(Response::new(ack))
    }

    async fn get_settings(
        &self,
        req: Request<GetSettingsRequest>,
    ) -> Result<Response<AgentSettings>, Status> {
        let s = &self.shared;
        let who = s.authenticate(&req).await?;
        Ok(Response::new(s.settings_for(&who.department, &who.class)))
    }
}
