//! Every metric the collector exports, in one place. Names follow Prometheus conventions:
//! `tilsyn_` prefix, base units, `_total` for counters; labels are bounded sets
//! (department, class, os family, state, section, reason, probe).

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use tilsyn_collector_store::HostCount;

pub struct Metrics {
    pub registry: Registry,
    pub hosts: IntGaugeVec,
    pub patch_pending: IntGaugeVec,
    pub patch_pending_security: IntGaugeVec,
    pub reboot_required: IntGaugeVec,
    pub oldest_security_age: prometheus::GaugeVec,
    pub reports_ingested: IntCounterVec,
    pub reports_duplicate: IntCounter,
    pub reports_rejected: IntCounterVec,
    pub batches_rejected: IntCounterVec,
    pub ingest_duration: Histogram,
    pub commit_duration: Histogram,
    pub commit_batches: Histogram,
    pub enrollments: IntCounterVec,
    pub enrollment_failures: IntCounterVec,
    pub auth_failures: IntCounterVec,
    pub state_changes: IntCounterVec,
    pub probe_errors: IntCounterVec,
    pub health_pruned: IntCounter,
    pub health_rolled_up: IntCounter,
    pub store_errors: IntCounterVec,
    pub http_requests: HistogramVec,
    pub http_auth_failures: IntCounterVec,
    pub agents_refused_revoked: IntCounter,
    pub info: IntGaugeVec,
    pub compliance_hosts: IntGaugeVec,
    pub compliance_rule_failing: IntGaugeVec,
    pub compliance_waivers: IntGaugeVec,
    pub compliance_errors: IntCounterVec,
    pub compliance_duration: HistogramVec,
    pub compliance_transitions: IntCounter,
    pub standards_rules: IntGaugeVec,
    pub standards_reloads: IntCounterVec,
    pub standards_reload_failing: prometheus::IntGauge,
    pub resident_memory: prometheus::IntGauge,
    pub start_time: prometheus::Gauge,
    pub leader: prometheus::IntGauge,
    pub leader_changes: IntCounterVec,
    pub tls_handshakes: IntCounterVec,
    pub grpc_connections: prometheus::IntGauge,
    pub gaps: IntCounterVec,
    pub gap_seconds: prometheus::CounterVec,
    pub graced_hosts: IntCounter,
    pub ingest_lag: prometheus::Gauge,
    pub incidents_open: IntGaugeVec,
    pub incidents_opened: IntCounterVec,
    pub incidents_resolved: IntCounterVec,
    pub incidents_suppressed: IntCounterVec,
    pub incident_open_duration: HistogramVec,
    pub problems_open: prometheus::IntGauge,
    pub problems_opened: IntCounter,
    pub outbox_items: IntGaugeVec,
    pub outbox_oldest_age: prometheus::GaugeVec,
    pub desk_requests: IntCounterVec,
    pub desk_errors: IntCounterVec,
    pub desk_duration: HistogramVec,
    pub fault_to_outbox: Histogram,
    pub maintenance_active: IntGaugeVec,
    pub sla: SlaMetrics,
    /// Every family registered with its label names, for the metrics reference check.
    names: Vec<(String, Vec<String>)>,
}

/// The `tilsyn_sla_*` families (see `configs/metrics.md`).
pub struct SlaMetrics {
    pub department_info: IntGaugeVec,
    pub service_up: IntGaugeVec,
    pub service_in_maintenance: IntGaugeVec,
    pub service_clock_running: IntGaugeVec,
    pub service_hosts: IntGaugeVec,
    pub availability: prometheus::GaugeVec,
    pub availability_target: prometheus::GaugeVec,
    pub counted_seconds: prometheus::GaugeVec,
    pub downtime_seconds: prometheus::GaugeVec,
    pub unmonitored_seconds: prometheus::GaugeVec,
    pub target_seconds: prometheus::GaugeVec,
    pub attainment_target: prometheus::GaugeVec,
    pub attainment: prometheus::GaugeVec,
    pub incidents: IntCounterVec,
    pub response_time: HistogramVec,
    pub resolution_time: HistogramVec,
    pub compliance_ratio: prometheus::GaugeVec,
    pub patch_current_ratio: prometheus::GaugeVec,
    pub evaluation_duration: Histogram,
    pub evaluations: IntCounterVec,
}

/// Incident time buckets when no SLA file gives targets (seconds).
pub const DEFAULT_SLA_BUCKETS: [f64; 10] = [
    900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 57600.0, 86400.0, 172800.0, 432000.0,
];

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::with_sla_buckets(DEFAULT_SLA_BUCKETS.to_vec())
    }

    /// With the SLA histograms' buckets at the configured targets (seconds).
    pub fn with_sla_buckets(sla_buckets: Vec<f64>) -> Self {
        let r = Registry::new();
        let names = std::cell::RefCell::new(Vec::new());
        macro_rules! reg {
            ($m:expr) => {{
                let m = $m.expect("metric definition");
                names.borrow_mut().extend(
                    prometheus::core::Collector::desc(&m)
                        .iter()
                        .map(|d| (d.fq_name.clone(), d.variable_labels.clone())),
                );
                r.register(Box::new(m.clone())).expect("unique metric");
                m
            }};
        }
        let sd = &["service", "department"];
        let sdp = &["service", "department", "period"];
        let dp = &["department", "priority"];
        let group = &["department", "class"];
        let m = Metrics {
            hosts: reg!(IntGaugeVec::new(opts("tilsyn_hosts", "Enrolled hosts by department, class, OS family and state (new, online, offline)."), &["department", "class", "os_family", "state"])),
            patch_pending: reg!(IntGaugeVec::new(opts("tilsyn_patch_pending_updates", "Pending updates summed over hosts."), group)),
            patch_pending_security: reg!(IntGaugeVec::new(opts("tilsyn_patch_pending_security_updates", "Pending security updates summed over hosts."), group)),
            reboot_required: reg!(IntGaugeVec::new(opts("tilsyn_patch_reboot_required_hosts", "Hosts that need a reboot to finish updating."), group)),
            oldest_security_age: reg!(prometheus::GaugeVec::new(opts("tilsyn_patch_oldest_security_update_age_seconds", "Age of the oldest pending security update in the group."), group)),
            reports_ingested: reg!(IntCounterVec::new(opts("tilsyn_reports_ingested_total", "Reports committed, by section."), &["section"])),
            reports_duplicate: reg!(IntCounter::new("tilsyn_reports_duplicate_total", "Resent reports that were already committed (no-ops).")),
            reports_rejected: reg!(IntCounterVec::new(opts("tilsyn_reports_rejected_total", "Reports rejected as malformed, by reason."), &["reason"])),
            batches_rejected: reg!(IntCounterVec::new(opts("tilsyn_report_batches_rejected_total", "Whole report calls refused, by reason."), &["reason"])),
            ingest_duration: reg!(Histogram::with_opts(HistogramOpts::new("tilsyn_ingest_duration_seconds", "Time from receiving a report batch to its commit.").buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]))),
            commit_duration: reg!(Histogram::with_opts(HistogramOpts::new("tilsyn_store_commit_duration_seconds", "Duration of one group-commit transaction.").buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]))),
            commit_batches: reg!(Histogram::with_opts(HistogramOpts::new("tilsyn_store_commit_batches", "Report batches per group-commit transaction.").buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]))),
            enrollments: reg!(IntCounterVec::new(opts("tilsyn_enrollments_total", "Agents enrolled, by department."), &["department"])),
            enrollment_failures: reg!(IntCounterVec::new(opts("tilsyn_enrollment_failures_total", "Enrollments refused, by reason."), &["reason"])),
            auth_failures: reg!(IntCounterVec::new(opts("tilsyn_auth_failures_total", "Calls refused for authentication, by reason."), &["reason"])),
            state_changes: reg!(IntCounterVec::new(opts("tilsyn_host_state_changes_total", "Hosts going offline or coming back online."), &["state"])),
            probe_errors: reg!(IntCounterVec::new(opts("tilsyn_probe_errors_total", "Probe errors reported by agents, by probe."), &["probe"])),
            health_pruned: reg!(IntCounter::new("tilsyn_health_samples_pruned_total", "Health samples deleted after the retention period.")),
            health_rolled_up: reg!(IntCounter::new("tilsyn_health_samples_rolled_up_total", "Health samples folded into the 5-minute and hourly rollups.")),
            store_errors: reg!(IntCounterVec::new(opts("tilsyn_store_errors_total", "Failed store operations, by operation."), &["operation"])),
            http_requests: reg!(HistogramVec::new(HistogramOpts::new("tilsyn_http_request_duration_seconds", "HTTP API requests by route and status.").buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]), &["route", "status"])),
            http_auth_failures: reg!(IntCounterVec::new(opts("tilsyn_collector_http_auth_failures_total", "HTTP requests refused for authentication or role, by reason (missing, unknown, expired, revoked, forbidden, unavailable)."), &["reason"])),
            agents_refused_revoked: reg!(IntCounter::new("tilsyn_collector_revoked_agent_calls_total", "Calls of agents whose credential was revoked (or whose host was retired), refused.")),
            info: reg!(IntGaugeVec::new(opts("tilsyn_collector_info", "Collector build information (always 1)."), &["version"])),
            compliance_hosts: reg!(IntGaugeVec::new(opts("tilsyn_compliance_hosts", "Hosts by compliance status (compliant, noncompliant, unknown) with a standard, per department."), &["standard", "department", "status"])),
            compliance_rule_failing: reg!(IntGaugeVec::new(opts("tilsyn_compliance_rule_failing_hosts", "Hosts failing a rule (waived results excluded)."), &["standard", "rule", "severity"])),
            compliance_waivers: reg!(IntGaugeVec::new(opts("tilsyn_compliance_waivers", "Waivers by state (active, expiring, expired)."), &["standard", "state"])),
            compliance_errors: reg!(IntCounterVec::new(opts("tilsyn_compliance_evaluation_errors_total", "Compliance evaluations that could not run or be stored, by kind."), &["kind"])),
            compliance_duration: reg!(HistogramVec::new(HistogramOpts::new("tilsyn_compliance_evaluation_duration_seconds", "Time to evaluate one host (host) or every host (full).").buckets(vec![0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0]), &["kind"])),
            compliance_transitions: reg!(IntCounter::new("tilsyn_compliance_rule_transitions_total", "Rule results that changed state (e.g. pass to fail).")),
            standards_rules: reg!(IntGaugeVec::new(opts("tilsyn_standards_rules", "Rules of each loaded standard."), &["standard", "version"])),
            standards_reloads: reg!(IntCounterVec::new(opts("tilsyn_standards_reloads_total", "Reloads of the standards directory, by result (ok, error)."), &["result"])),
            standards_reload_failing: reg!(prometheus::IntGauge::new("tilsyn_standards_reload_failing", "1 while the standards on disk have errors and the previous set stays in use.")),
            resident_memory: reg!(prometheus::IntGauge::new("tilsyn_collector_resident_memory_bytes", "Resident memory of the collector process.")),
            start_time: reg!(prometheus::Gauge::new("tilsyn_collector_start_time_seconds", "When this collector process started (Unix seconds).")),
            leader: reg!(prometheus::IntGauge::new("tilsyn_collector_leader", "1 while this collector leads (runs offline detection, the incident engine and outbox, the SLA evaluator, retention); 0 while it follows.")),
            leader_changes: reg!(IntCounterVec::new(opts("tilsyn_collector_leader_changes_total", "This collector's changes of role, by what happened (gained, lost)."), &["change"])),
            grpc_connections: reg!(prometheus::IntGauge::new("tilsyn_collector_grpc_connections", "Open connections on the gRPC port (agents connect to deliver and leave when idle).")),
            tls_handshakes: reg!(IntCounterVec::new(opts("tilsyn_collector_tls_handshakes_total", "TLS handshakes on the gRPC port, by kind (full, resumed: a session ticket saved the certificate and signature; failed: error or timeout)."), &["kind"])),
            gaps: reg!(IntCounterVec::new(opts("tilsyn_collector_gaps_total", "Stretches in which the collector could not hear its hosts, by cause (down, paused, stalled)."), &["cause"])),
            gap_seconds: reg!(prometheus::CounterVec::new(opts("tilsyn_collector_gap_seconds_total", "Length of those stretches, by cause."), &["cause"])),
            graced_hosts: reg!(IntCounter::new("tilsyn_collector_graced_hosts_total", "Hosts whose offline deadline a collector gap moved (or fixed, when overdue before it).")),
            ingest_lag: reg!(prometheus::Gauge::new("tilsyn_ingest_lag_seconds", "How long the oldest report batch not yet committed has waited (0 when ingest is idle).")),
            incidents_open: reg!(IntGaugeVec::new(opts("tilsyn_incidents_open", "Unresolved incidents by department, priority and state (open, suppressed)."), &["department", "priority", "state"])),
            incidents_opened: reg!(IntCounterVec::new(opts("tilsyn_incidents_opened_total", "Incidents opened or reopened (outside maintenance), by department and priority."), &["department", "priority"])),
            incidents_resolved: reg!(IntCounterVec::new(opts("tilsyn_incidents_resolved_total", "Incidents resolved by Tilsyn, by department and priority."), &["department", "priority"])),
            incidents_suppressed: reg!(IntCounterVec::new(opts("tilsyn_incidents_suppressed_total", "Incidents that opened inside a maintenance window (no ticket), by department."), &["department"])),
            incident_open_duration: reg!(HistogramVec::new(HistogramOpts::new("tilsyn_incident_time_to_resolve_seconds", "Time from opening to resolution of incidents resolved by Tilsyn, by priority.").buckets(vec![60.0, 300.0, 900.0, 1800.0, 3600.0, 4.0 * 3600.0, 8.0 * 3600.0, 24.0 * 3600.0, 3.0 * 86400.0, 7.0 * 86400.0]), &["priority"])),
            problems_open: reg!(prometheus::IntGauge::new("tilsyn_problems_open", "Open problems (storms of one check on many hosts).")),
            problems_opened: reg!(IntCounter::new("tilsyn_problems_opened_total", "Problems opened.")),
            outbox_items: reg!(IntGaugeVec::new(opts("tilsyn_outbox_items", "Desk actions not yet delivered, by desk and state (pending, failed)."), &["desk", "state"])),
            outbox_oldest_age: reg!(prometheus::GaugeVec::new(opts("tilsyn_outbox_oldest_item_age_seconds", "Age of the oldest undelivered desk action, by desk."), &["desk"])),
            desk_requests: reg!(IntCounterVec::new(opts("tilsyn_desk_actions_total", "Desk actions attempted, by desk, action and result (ok, transient, permanent)."), &["desk", "action", "result"])),
            desk_errors: reg!(IntCounterVec::new(opts("tilsyn_desk_errors_total", "Desk actions that failed, by desk and kind (transient, permanent, read_back)."), &["desk", "kind"])),
            desk_duration: reg!(HistogramVec::new(HistogramOpts::new("tilsyn_desk_action_duration_seconds", "Duration of one desk action, by desk.").buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]), &["desk"])),
            fault_to_outbox: reg!(Histogram::with_opts(HistogramOpts::new("tilsyn_incident_fault_to_desk_seconds", "From the observation that opened an incident to the desk's answer to the create call.").buckets(vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]))),
            maintenance_active: reg!(IntGaugeVec::new(opts("tilsyn_maintenance_window_active", "1 while a maintenance window is in effect."), &["window"])),
            sla: SlaMetrics {
                department_info: reg!(IntGaugeVec::new(opts("tilsyn_sla_department_info", "The department's SLA tier (always 1)."), &["department", "tier"])),
                service_up: reg!(IntGaugeVec::new(opts("tilsyn_sla_service_up", "1 while the service is up by its up rule, else 0."), &["service"])),
                service_in_maintenance: reg!(IntGaugeVec::new(opts("tilsyn_sla_service_in_maintenance", "1 while the service is down only because of planned maintenance (the time does not count)."), &["service"])),
                service_clock_running: reg!(IntGaugeVec::new(opts("tilsyn_sla_service_clock_running", "1 while the department's tier has service hours."), sd)),
                service_hosts: reg!(IntGaugeVec::new(opts("tilsyn_sla_service_hosts", "The service's hosts by state (healthy, unhealthy, maintenance)."), &["service", "state"])),
                availability: reg!(prometheus::GaugeVec::new(opts("tilsyn_sla_availability_ratio", "Up time over counted time (service hours minus planned maintenance and unmonitored time), per period (month, 30d); absent without data."), sdp)),
                availability_target: reg!(prometheus::GaugeVec::new(opts("tilsyn_sla_availability_target_ratio", "The tier's availability target for the service."), sd)),
                counted_seconds: reg!(prometheus::GaugeVec::new(opts("tilsyn_sla_counted_seconds", "Service hours minus planned maintenance and unmonitored time in the period so far."), sdp)),
                downtime_seconds: reg!(prometheus::GaugeVec::new(opts("tilsyn_sla_downtime_seconds", "Counted time the service was down in the period so far."), sdp)),
                unmonitored_seconds: reg!(prometheus::GaugeVec::new(opts("tilsyn_sla_unmonitored_seconds", "Service hours in the period so far in which the service's state hung on hosts the collector could not hear (its own gaps): neither up nor down, not counted."), sdp)),
                target_seconds: reg!(prometheus::GaugeVec::new(opts("tilsyn_sla_target_seconds", "Response or resolution target in service-hour seconds."), &["department", "priority", "target"])),
                attainment_target: reg!(prometheus::GaugeVec::new(opts("tilsyn_sla_attainment_target_ratio", "Share of incidents that must meet their target."), &["department", "target"])),
                attainment: reg!(prometheus::GaugeVec::new(opts("tilsyn_sla_attainment_ratio", "Incidents that met the target over incidents whose outcome is known in the period; absent without such incidents."), &["department", "priority", "target", "period"])),
                incidents: reg!(IntCounterVec::new(opts("tilsyn_sla_incidents_total", "Incidents whose outcome became known, by result (met, breached)."), &["department", "priority", "target", "result"])),
                response_time: reg!(HistogramVec::new(HistogramOpts::new("tilsyn_sla_response_time_seconds", "Incident opening to first human response, in service-hour seconds.").buckets(sla_buckets.clone()), dp)),
                resolution_time: reg!(HistogramVec::new(HistogramOpts::new("tilsyn_sla_resolution_time_seconds", "Incident opening to resolution, in service-hour seconds.").buckets(sla_buckets), dp)),
                compliance_ratio: reg!(prometheus::GaugeVec::new(opts("tilsyn_sla_compliance_ratio", "Share of evaluated hosts compliant with every standard that applies to them."), &["department"])),
                patch_current_ratio: reg!(prometheus::GaugeVec::new(opts("tilsyn_sla_patch_current_ratio", "Share of hosts whose security updates are within their standard's limit."), &["department"])),
                evaluation_duration: reg!(Histogram::with_opts(HistogramOpts::new("tilsyn_sla_evaluation_duration_seconds", "One SLA evaluation.").buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]))),
                evaluations: reg!(IntCounterVec::new(opts("tilsyn_sla_evaluations_total", "SLA evaluations, by result (ok, error)."), &["result"])),
            },
            registry: r,
            names: names.into_inner(),
        };
        m.info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        m
    }

    /// Refreshes the fleet gauges from the store's counts (called at scrape time).
    pub fn set_fleet(&self, counts: &[HostCount], now_ms: i64) {
        self.hosts.reset();
        self.patch_pending.reset();
        self.patch_pending_security.reset();
        self.reboot_required.reset();
        self.oldest_security_age.reset();
        for c in counts {
            self.hosts
                .with_label_values(&[&c.department, &c.class, &c.os_family, &c.state])
                .set(c.hosts);
            let g = [c.department.as_str(), c.class.as_str()];
            self.patch_pending
                .with_label_values(&g)
                .add(c.pending_updates);
            self.patch_pending_security
                .with_label_values(&g)
                .add(c.pending_security_updates);
            self.reboot_required
                .with_label_values(&g)
                .add(c.reboot_required);
            if let Some(since) = c.oldest_security_update_since_ms {
                let age = ((now_ms - since).max(0) as f64) / 1000.0;
                let gauge = self.oldest_security_age.with_label_values(&g);
                if age > gauge.get() {
                    gauge.set(age);
                }
            }
        }
        if let Some(rss) = resident_memory() {
            self.resident_memory.set(rss as i64);
        }
    }

    /// A collector that does not lead exports no fleet-wide figures (host, patch,
    /// compliance, incident, outbox and SLA gauges): they come from the leader alone, so
    /// summing over collectors counts each once. Its own figures (ingest, store, memory,
    /// its events' counters) stay.
    pub fn clear_fleet(&self) {
        for g in [
            &self.hosts,
            &self.patch_pending,
            &self.patch_pending_security,
            &self.reboot_required,
            &self.compliance_hosts,
            &self.compliance_rule_failing,
            &self.compliance_waivers,
            &self.incidents_open,
            &self.outbox_items,
            &self.maintenance_active,
            &self.sla.department_info,
            &self.sla.service_up,
            &self.sla.service_in_maintenance,
            &self.sla.service_clock_running,
            &self.sla.service_hosts,
        ] {
            g.reset();
        }
        for g in [
            &self.oldest_security_age,
            &self.outbox_oldest_age,
            &self.sla.availability,
            &self.sla.availability_target,
            &self.sla.counted_seconds,
            &self.sla.downtime_seconds,
            &self.sla.unmonitored_seconds,
            &self.sla.target_seconds,
            &self.sla.attainment_target,
            &self.sla.attainment,
            &self.sla.compliance_ratio,
            &self.sla.patch_current_ratio,
        ] {
            g.reset();
        }
        self.problems_open.set(0);
        if let Some(rss) = resident_memory() {
            self.resident_memory.set(rss as i64);
        }
    }

    /// Every metric family this collector registers, with its label names (in the
    /// order they were declared; histograms' `le` is not among them).
    pub fn families(&self) -> &[(String, Vec<String>)] {
        &self.names
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding");
        String::from_utf8(buf).expect("utf8 exposition")
    }
}

/// RSS from /proc/self/statm (Linux); `None` elsewhere.
fn resident_memory() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

impl crate::listener::ConnectionObserver for Metrics {
    fn handshake(&self, kind: &'static str) {
        self.tls_handshakes.with_label_values(&[kind]).inc();
    }
    fn open_connections(&self, delta: i64) {
        self.grpc_connections.add(delta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_lists_every_metric_with_its_labels_and_only_those() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../configs/metrics.md"
        ))
        .unwrap();
        // `| `name` | type | label, label | what |`; `—` for none.
        let listed: std::collections::BTreeMap<String, Vec<String>> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .map(|l| {
                let cols: Vec<&str> = l.split('|').collect();
                let name = cols[0].trim().trim_end_matches('`').to_string();
                let labels = cols
                    .get(2)
                    .map(|c| c.trim())
                    .filter(|c| *c != "—" && !c.is_empty())
                    .map(|c| c.split(',').map(|x| x.trim().to_string()).collect())
                    .unwrap_or_default();
                (name, labels)
            })
            .collect();
        let registered: std::collections::BTreeMap<String, Vec<String>> =
            Metrics::new().families().iter().cloned().collect();
        let missing: Vec<_> = registered
            .keys()
            .filter(|k| !listed.contains_key(*k))
            .collect();
        let stale: Vec<_> = listed
            .keys()
            .filter(|k| !registered.contains_key(*k))
            .collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "configs/metrics.md lacks {missing:?} and lists unknown {stale:?}"
        );
        let differ: Vec<String> = registered
            .iter()
            .filter(|(k, v)| &listed[*k] != *v)
            .map(|(k, v)| format!("{k}: registered {v:?}, documented {:?}", listed[k]))
            .collect();
        assert!(
            differ.is_empty(),
            "configs/metrics.md documents other labels (same order as registered):\n{}",
            differ.join("\n")
        );
    }

    #[test]
    fn fleet_gauges_follow_the_counts() {
        let m = Metrics::new();
        let c = |state: &str, n: i64| HostCount {
            department: "social".into(),
            class: "workstation".into(),
            os_family: "windows".into(),
            state: state.into(),
            hosts: n,
            pending_updates: 4,
            pending_security_updates: 2,
            reboot_required: 1,
            oldest_security_update_since_ms: Some(0),
        };
        m.set_fleet(&[c("online", 3), c("offline", 1)], 86_400_000);
        let t = m.render();
        assert!(t.contains(r#"tilsyn_hosts{class="workstation",department="social",os_family="windows",state="online"} 3"#), "{t}");
        assert!(t.contains(r#"tilsyn_patch_pending_security_updates{class="workstation",department="social"} 4"#), "{t}");
        assert!(t.contains(r#"tilsyn_patch_oldest_security_update_age_seconds{class="workstation",department="social"} 86400"#), "{t}");
        m.set_fleet(&[c("online", 2)], 0);
        assert!(
            !m.render().contains(r#"state="offline""#),
            "vanished groups leave no stale series"
        );
    }
}
