//! The collector's config file (`configs/collector.yaml`). Relative paths are resolved
//! against the config file's directory; `data_dir`-relative ones against `data_dir`.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tilsyn_collector_core::text::valid_id;
pub use tilsyn_collector_store::StoreConfig;
use tilsyn_proto::duration::HumanDuration;
use tilsyn_proto::yaml::{self, ConfigErrors, Issues};

/// The `incidents:` section, its desk entries declared by the desks crate's registry.
pub type IncidentsConfig =
    tilsyn_collector_core::incidents::config::IncidentsConfig<tilsyn_collector_desks::DeskConfig>;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorConfig {
    /// Database, generated TLS material, etc.
    pub data_dir: PathBuf,
    pub grpc: GrpcConfig,
    pub http: HttpConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub offline: OfflineConfig,
    /// The fleet's hosts: when a long-silent one is retired by itself.
    #[serde(default)]
    pub hosts: HostsConfig,
    /// Several collectors on one database: the leader lease.
    #[serde(default)]
    pub cluster: ClusterConfig,
    /// Departments (the customers) and their enrollment tokens.
    pub departments: Vec<Department>,
    /// Rules that pick a host's class from its inventory when the agent asks for none.
    #[serde(default)]
    pub classification: Classification,
    /// Settings handed to agents, per department and class.
    #[serde(default)]
    pub settings: SettingsConfig,
    /// Standards, waivers and how often results are refreshed.
    #[serde(default)]
    pub compliance: ComplianceConfig,
    /// Conditions, priorities, storms, maintenance windows and service desks.
    #[serde(default)]
    pub incidents: IncidentsConfig,
    /// SLA reporting: the SLA file and how often figures are refreshed.
    #[serde(default)]
    pub sla: SlaConfig,
    /// The operations console on the HTTP listener: its default language and time zone.
    #[serde(default)]
    pub console: ConsoleConfig,
    #[serde(default = "default_log")]
    pub log: String,
}

fn default_log() -> String {
    "info".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcConfig {
    pub listen: SocketAddr,
    #[serde(default)]
    pub tls: TlsConfig,
    /// Largest accepted gRPC message; larger ones are rejected (RESOURCE_EXHAUSTED).
    #[serde(default = "default_max_message")]
    pub max_message_bytes: usize,
    /// Most reports accepted in one batch.
    #[serde(default = "default_max_reports")]
    pub max_reports_per_batch: usize,
    /// How far in the future a report's timestamp may be before it is rejected.
    #[serde(default = "default_skew")]
    pub max_clock_skew: HumanDuration,
    /// A connection is closed (gracefully: calls in flight finish) after this long. Agents
    /// leave by themselves when idle; this bounds the ones that do not.
    #[serde(default = "default_connection_age")]
    pub max_connection_age: HumanDuration,
}

fn default_max_message() -> usize {
    8 * 1024 * 1024
}
fn default_max_reports() -> usize {
    256
}
fn default_skew() -> HumanDuration {
    HumanDuration::secs(300)
}
fn default_connection_age() -> HumanDuration {
    HumanDuration::secs(900)
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Generate a private CA and a server certificate under `<data_dir>/tls/` on first start.
    #[default]
    Auto,
    /// Use `cert_file` and `key_file`.
    Files,
    /// No TLS. Only on a loopback address unless `allow_plaintext_off_loopback`.
    Plaintext,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default)]
    pub mode: TlsMode,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Extra DNS names / IPs for the auto-generated certificate.
    #[serde(default)]
    pub extra_names: Vec<String>,
    #[serde(default)]
    pub allow_plaintext_off_loopback: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `/metrics`, `/api/v1`, `/healthz`, `/readyz`.
    pub listen: SocketAddr,
    /// HTTPS: the same `auto` / `files` modes as the gRPC port (`auto` serves the
    /// certificate generated for it). Omitted: plain HTTP.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    #[serde(default)]
    pub auth: AuthConfig,
}

/// The `http.auth:` section: who may call the API and `/metrics` (README, "Access").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Every request but `/healthz`, `/readyz` and `/api/v1/openapi.json` needs a token.
    /// Without it a request with no token acts as a local admin, so `validate` refuses
    /// `false` off loopback.
    #[serde(default)]
    pub required: bool,
    /// Tokens kept in files (e.g. Prometheus' scrape token); tokens made with
    /// `tilsyn-collector token create` live in the store.
    #[serde(default)]
    pub tokens: Vec<TokenFileConfig>,
    /// How long the audit trail is kept.
    #[serde(default = "d_audit_retention")]
    pub audit_retention: HumanDuration,
}

fn d_audit_retention() -> HumanDuration {
    HumanDuration::secs(400 * 86_400)
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            required: false,
            tokens: Vec::new(),
            audit_retention: d_audit_retention(),
        }
    }
}

/// One token from a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFileConfig {
    /// Shown in the audit trail and logs (the token never is).
    pub name: String,
    /// admin, operator, reader, department or metrics.
    pub role: String,
    /// For role department: the department ids it reads.
    #[serde(default)]
    pub departments: Vec<String>,
    /// The file holding the token (at least 32 characters, e.g. `openssl rand -hex 32`).
    pub token_file: PathBuf,
    /// Last day the token is accepted (YYYY-MM-DD, UTC).
    #[serde(default)]
    pub expires: Option<String>,
    /// Read from `token_file` by [`CollectorConfig::load`].
    #[serde(skip)]
    pub token: String,
}

/// The `cluster:` section: how the collectors on one database choose their leader.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// How long the leader's lease lasts unless renewed (every quarter of it). A dead
    /// leader is replaced within about this long; too short and a busy database or a long
    /// pause makes the lead change hands needlessly.
    #[serde(default = "default_lease_ttl")]
    pub lease_ttl: HumanDuration,
}

fn default_lease_ttl() -> HumanDuration {
    HumanDuration::secs(10)
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            lease_ttl: default_lease_ttl(),
        }
    }
}

/// The `hosts:` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostsConfig {
    /// A host offline this long is retired by the collector (as `tilsyn-collector host
    /// retire` would: its incidents resolve in the desk with a note saying so). Omitted:
    /// never (hosts stay offline until someone retires them).
    #[serde(default)]
    pub expire_after: Option<HumanDuration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineConfig {
    /// A host is offline after missing this many health intervals.
    #[serde(default = "default_missed")]
    pub missed_intervals: u32,
    /// How often to look for hosts that went silent.
    #[serde(default = "default_check")]
    pub check_every: HumanDuration,
}

fn default_missed() -> u32 {
    3
}
fn default_check() -> HumanDuration {
    HumanDuration::secs(15)
}

impl Default for OfflineConfig {
    fn default() -> Self {
        OfflineConfig {
            missed_intervals: default_missed(),
            check_every: default_check(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    /// Short stable id used in labels and the API, e.g. `social-services`.
    pub id: String,
    pub name: String,
    /// Enrollment tokens of this department (each at least 16 characters).
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Files each holding one token (trimmed), to keep tokens out of the config.
    #[serde(default)]
    pub token_files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classification {
    /// Class when no rule matches.
    #[serde(default = "default_class")]
    pub default_class: String,
    /// First matching rule wins.
    #[serde(default)]
    pub rules: Vec<ClassRule>,
}

fn default_class() -> String {
    "workstation".into()
}

impl Default for Classification {
    fn default() -> Self {
        Classification {
            default_class: default_class(),
            rules: Vec::new(),
        }
    }
}

/// All given conditions must hold. Patterns are globs (`*` any text, `?` one character),
/// compared case-insensitively.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassRule {
    pub class: String,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub os_family: Option<String>,
    #[serde(default)]
    pub os_name: Option<String>,
    #[serde(default)]
    pub hardware_model: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsConfig {
    #[serde(default)]
    pub defaults: AgentSettingsConfig,
    /// Applied in order to matching hosts; later ones win for the fields they set.
    #[serde(default)]
    pub overrides: Vec<SettingsOverride>,
}

/// Compliance with the organisation's standards (see `configs/standards/README.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplianceConfig {
    /// Directory of standards and waivers (`*.yaml`), relative to this file. Reloaded on
    /// change and on SIGHUP; a set with errors never replaces the loaded one.
    #[serde(default = "d_standards_dir")]
    pub standards_dir: PathBuf,
    /// Every host is re-evaluated this often even without new facts: patch ages grow.
    #[serde(default = "d_reevaluate")]
    pub reevaluate_every: HumanDuration,
    /// Waivers expiring within this period are shown as `expiring`.
    #[serde(default = "d_waiver_warning")]
    pub waiver_warning: HumanDuration,
    /// How often the directory is checked for changed files (0s = only on SIGHUP).
    #[serde(default = "d_watch")]
    pub watch_every: HumanDuration,
}

fn d_standards_dir() -> PathBuf {
    PathBuf::from("standards")
}
fn d_reevaluate() -> HumanDuration {
    HumanDuration::secs(3600)
}
fn d_waiver_warning() -> HumanDuration {
    HumanDuration::secs(14 * 86_400)
}
fn d_watch() -> HumanDuration {
    HumanDuration::secs(2)
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        ComplianceConfig {
            standards_dir: d_standards_dir(),
            reevaluate_every: d_reevaluate(),
            waiver_warning: d_waiver_warning(),
            watch_every: d_watch(),
        }
    }
}

/// SLA reporting (see `configs/sla.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    /// Tiers, departments' tiers and the service catalogue (relative to this file); no
    /// file = no SLA figures.
    pub file: Option<PathBuf>,
    /// How often availability, attainment and the `tilsyn_sla_*` metrics are refreshed.
    #[serde(default = "d_sla_every")]
    pub evaluate_every: HumanDuration,
}

/// The `console:` section (README, "Console").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// For a browser that asks for none of the console's languages (`en`, `da`, or any
    /// `collector/locales/*.ftl`). Default `en`.
    pub language: Option<String>,
    /// Dates and times on the pages, e.g. `Europe/Copenhagen`. Default: the SLA file's
    /// `time_zone`, else this machine's.
    pub time_zone: Option<String>,
}

impl ConsoleConfig {
    /// The default language's code (checked by `validate`).
    pub fn language(&self) -> &'static str {
        self.language
            .as_deref()
            .and_then(crate::console::i18n::known)
            .unwrap_or(crate::console::i18n::FALLBACK)
    }
}

fn d_sla_every() -> HumanDuration {
    HumanDuration::secs(60)
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            file: None,
            evaluate_every: d_sla_every(),
        }
    }
}

impl CollectorConfig {
    /// The departments as (id, name).
    pub fn department_names(&self) -> Vec<(String, String)> {
        self.departments
            .iter()
            .map(|d| (d.id.clone(), d.name.clone()))
            .collect()
    }

    /// The department ids.
    pub fn department_ids(&self) -> Vec<String> {
        self.departments.iter().map(|d| d.id.clone()).collect()
    }

    /// The checked SLA file, if one is configured.
    pub fn sla_policy(
        &self,
    ) -> Result<Option<tilsyn_collector_core::sla::config::SlaPolicy>, Vec<String>> {
        match &self.sla.file {
            None => Ok(None),
            Some(p) => {
                tilsyn_collector_core::sla::config::SlaPolicy::load(p, &self.department_names())
                    .map(Some)
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentSettingsConfig {
    #[serde(default = "d_health")]
    pub health_interval: HumanDuration,
    #[serde(default = "d_inventory")]
    pub inventory_interval: HumanDuration,
    #[serde(default = "d_inventory")]
    pub software_interval: HumanDuration,
    #[serde(default = "d_patch")]
    pub patch_interval: HumanDuration,
    /// How often the security and configuration facts are read (compliance).
    #[serde(default = "d_patch")]
    pub facts_interval: HumanDuration,
    #[serde(default)]
    pub watched_services: Vec<String>,
    #[serde(default)]
    pub watched_processes: Vec<String>,
    #[serde(default)]
    pub disabled_probes: Vec<String>,
}

fn d_health() -> HumanDuration {
    HumanDuration::secs(60)
}
fn d_inventory() -> HumanDuration {
    HumanDuration::secs(6 * 3600)
}
fn d_patch() -> HumanDuration {
    HumanDuration::secs(3600)
}

impl Default for AgentSettingsConfig {
    fn default() -> Self {
        AgentSettingsConfig {
            health_interval: d_health(),
            inventory_interval: d_inventory(),
            software_interval: d_inventory(),
            patch_interval: d_patch(),
            facts_interval: d_patch(),
            watched_services: Vec::new(),
            watched_processes: Vec::new(),
            disabled_probes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsOverride {
    /// Which hosts: department and/or class (omitted = any).
    #[serde(rename = "match", default)]
    pub matches: SettingsMatch,
    pub health_interval: Option<HumanDuration>,
    pub inventory_interval: Option<HumanDuration>,
    pub software_interval: Option<HumanDuration>,
    pub patch_interval: Option<HumanDuration>,
    pub facts_interval: Option<HumanDuration>,
    /// Replaces the list when given.
    pub watched_services: Option<Vec<String>>,
    pub watched_processes: Option<Vec<String>>,
    pub disabled_probes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsMatch {
    pub department: Option<String>,
    pub class: Option<String>,
}

const PROBES: [&str; 5] = ["inventory", "software", "patches", "health", "facts"];

impl CollectorConfig {
    /// Loads and validates; every problem is listed with file and line.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let (mut cfg, text): (CollectorConfig, String) = yaml::load(path)?;
        let mut issues = cfg.checked(path);
        cfg.load_token_files(&mut issues);
        issues.into_result(path, &text)?;
        Ok(cfg)
    }

    /// Parses and validates `text` as if read from `path`, reading no other file (token
    /// files are [`Self::load`]'s step): the door the fuzzer knocks on.
    pub fn from_text(path: &Path, text: &str) -> Result<Self, ConfigErrors> {
        let mut cfg: CollectorConfig = yaml::parse(path, text)?;
        cfg.checked(path).into_result(path, text)?;
        Ok(cfg)
    }

    fn checked(&mut self, path: &Path) -> Issues {
        self.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        self.validate()
    }

    fn resolve_paths(&mut self, base: &Path) {
        let abs = |b: &Path, p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                b.join(p)
            }
        };
        self.data_dir = abs(base, &self.data_dir);
        let data = self.data_dir.clone();
        self.store.resolve_paths(&data);
        if let Some(pg) = &mut self.store.postgres {
            pg.url_file = pg.url_file.as_deref().map(|p| abs(base, p));
            pg.ca_file = pg.ca_file.as_deref().map(|p| abs(base, p));
        }
        self.grpc.tls.cert_file = self.grpc.tls.cert_file.as_deref().map(|p| abs(base, p));
        self.grpc.tls.key_file = self.grpc.tls.key_file.as_deref().map(|p| abs(base, p));
        if let Some(t) = &mut self.http.tls {
            t.cert_file = t.cert_file.as_deref().map(|p| abs(base, p));
            t.key_file = t.key_file.as_deref().map(|p| abs(base, p));
        }
        for t in &mut self.http.auth.tokens {
            t.token_file = abs(base, &t.token_file);
        }
        for d in &mut self.departments {
            d.token_files = d.token_files.iter().map(|p| abs(base, p)).collect();
        }
        self.compliance.standards_dir = abs(base, &self.compliance.standards_dir);
        self.incidents.resolve_paths(base);
        if let Some(f) = &self.sla.file {
            self.sla.file = Some(abs(base, f));
        }
    }

    fn load_token_files(&mut self, is: &mut Issues) {
        for (i, t) in self.http.auth.tokens.iter_mut().enumerate() {
            let key = format!("http.auth.tokens[{i}].token_file");
            match tilsyn_proto::files::read_small(
                &t.token_file,
                tilsyn_proto::files::MAX_SECRET_BYTES,
            ) {
                Ok(v) if v.trim().len() >= 32 => t.token = v.trim().to_string(),
                Ok(_) => is.push(
                    key,
                    format!(
                        "{} holds less than 32 characters: write a long random token into it (openssl rand -hex 32)",
                        t.token_file.display()
                    ),
                ),
                Err(e) => is.push(key, format!("cannot read {}: {e}", t.token_file.display())),
            }
        }
        for (i, d) in self.departments.iter_mut().enumerate() {
            for (j, f) in d.token_files.iter().enumerate() {
                match tilsyn_proto::files::read_small(f, tilsyn_proto::files::MAX_SECRET_BYTES) {
                    Ok(t) if !t.trim().is_empty() => d.tokens.push(t.trim().to_string()),
                    Ok(_) => is.push(
                        format!("departments[{i}].token_files[{j}]"),
                        format!("{} is empty", f.display()),
                    ),
                    Err(e) => is.push(
                        format!("departments[{i}].token_files[{j}]"),
                        format!("cannot read {}: {e}", f.display()),
                    ),
                }
            }
        }
    }

    fn validate(&self) -> Issues {
        let mut is = Issues::default();
        self.incidents.validate(&mut is);
        if is.is_empty() {
            // Desks (credentials, URLs) and maintenance windows are checked by building
            // them, so a bad one stops the collector before it serves.
            let timeout = self.incidents.delivery.timeout.0;
            for (i, d) in self.incidents.desks.iter().enumerate() {
                if let Err(es) = d.build(timeout) {
                    for e in es {
                        is.push(format!("incidents.desks[{i}]"), e);
                    }
                }
            }
            if let Err(es) = self.incidents.compile() {
                for e in es {
                    is.push("incidents.maintenance_file", e);
                }
            }
        }
        if let Err(es) = self.sla_policy() {
            for e in es {
                is.push("sla.file", e);
            }
        }
        if let Some(l) = &self.console.language {
            if crate::console::i18n::known(l).is_none() {
                is.push(
                    "console.language",
                    format!(
                        "{l:?} is not a console language (have: {}; a translator adds locales/<code>.ftl)",
                        crate::console::i18n::languages().join(", ")
                    ),
                );
            }
        }
        if let Some(z) = &self.console.time_zone {
            if let Err(e) = jiff::tz::TimeZone::get(z) {
                is.push(
                    "console.time_zone",
                    format!("{z:?} is not a time zone: {e}"),
                );
            }
        }
        if self.sla.evaluate_every.0 < std::time::Duration::from_secs(1) {
            is.push("sla.evaluate_every", "at least 1s");
        }
        if self.compliance.reevaluate_every.as_secs() < 60 {
            is.push("compliance.reevaluate_every", "at least 1m");
        }
        if !self.compliance.standards_dir.is_dir() {
            is.push(
                "compliance.standards_dir",
                format!(
                    "{} is not a directory (create it, or point standards_dir at configs/standards)",
                    self.compliance.standards_dir.display()
                ),
            );
        }
        let tls = &self.grpc.tls;
        tls_files(&mut is, "grpc.tls", tls);
        if tls.mode == TlsMode::Plaintext
            && !self.grpc.listen.ip().is_loopback()
            && !tls.allow_plaintext_off_loopback
        {
            is.push(
                "grpc.tls.mode",
                format!(
                    "plaintext on {} would send agent secrets unencrypted over the network; listen on 127.0.0.1, use TLS, or set allow_plaintext_off_loopback: true",
                    self.grpc.listen
                ),
            );
        }
        if let Some(t) = &self.http.tls {
            tls_files(&mut is, "http.tls", t);
        }
        self.validate_auth(&mut is);
        if let Some(e) = &self.hosts.expire_after {
            if e.as_secs() == 0 {
                is.push(
                    "hosts.expire_after",
                    "must be longer than 0 (e.g. 30d), or leave it out to keep offline hosts",
                );
            }
        }
        if self.grpc.max_message_bytes < 64 * 1024 {
            is.push("grpc.max_message_bytes", "must be at least 65536");
        }
        if self.grpc.max_reports_per_batch == 0 {
            is.push("grpc.max_reports_per_batch", "must be at least 1");
        }
        if self.grpc.max_connection_age.0 < std::time::Duration::from_secs(30) {
            is.push(
                "grpc.max_connection_age",
                "must be at least 30s (agents would reconnect in the middle of their deliveries)",
            );
        }
        // Port 0 on both is fine: each listener gets its own free port (logged at start).
        if self.grpc.listen == self.http.listen && self.grpc.listen.port() != 0 {
            is.push("http.listen", "must differ from grpc.listen");
        }
        if self.cluster.lease_ttl.0 < std::time::Duration::from_secs(2) {
            is.push("cluster.lease_ttl", "must be at least 2s");
        }
        if let Err(e) = self.store.validate() {
            is.push("store.postgres", e);
        }
        if self.store.health_retention.as_secs() < 60 {
            is.push("store.health_retention", "must be at least 1m");
        }
        if self.offline.missed_intervals == 0 {
            is.push("offline.missed_intervals", "must be at least 1");
        }
        if self.departments.is_empty() {
            is.push(
                "departments",
                "at least one department is needed: hosts enroll into a department with its token",
            );
        }
        let mut ids = HashSet::new();
        let mut tokens: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, d) in self.departments.iter().enumerate() {
            if !valid_id(&d.id) {
                is.push(
                    format!("departments[{i}].id"),
                    format!("{:?} must be 1-64 characters of a-z, 0-9, '-' or '_'", d.id),
                );
            }
            if !ids.insert(d.id.as_str()) {
                is.push(
                    format!("departments[{i}].id"),
                    format!("duplicate department id {:?}", d.id),
                );
            }
            if d.tokens.is_empty() && d.token_files.is_empty() {
                is.push(
                    format!("departments[{i}]"),
                    format!(
                        "department {:?} has no tokens or token_files: its hosts cannot enroll",
                        d.id
                    ),
                );
            }
            for (j, t) in d.tokens.iter().enumerate() {
                if t.len() < 16 {
                    is.push(
                        format!("departments[{i}].tokens[{j}]"),
                        "token too short: use at least 16 characters (e.g. `openssl rand -hex 16`)",
                    );
                }
                if let Some(other) = tokens.insert(t.as_str(), i) {
                    is.push(
                        format!("departments[{i}].tokens[{j}]"),
                        format!(
                            "token also used by department {:?}: a token must name one department",
                            self.departments[other].id
                        ),
                    );
                }
            }
        }
        if !valid_id(&self.classification.default_class) {
            is.push(
                "classification.default_class",
                "must be 1-64 characters of a-z, 0-9, '-' or '_'",
            );
        }
        for (i, r) in self.classification.rules.iter().enumerate() {
            if !valid_id(&r.class) {
                is.push(
                    format!("classification.rules[{i}].class"),
                    format!(
                        "{:?} must be 1-64 characters of a-z, 0-9, '-' or '_'",
                        r.class
                    ),
                );
            }
            if r.hostname.is_none()
                && r.os_family.is_none()
                && r.os_name.is_none()
                && r.hardware_model.is_none()
            {
                is.push(
                    format!("classification.rules[{i}]"),
                    "rule has no condition (hostname, os_family, os_name, hardware_model)",
                );
            }
        }
        check_settings(
            &mut is,
            "settings.defaults",
            &self.settings.defaults.clone().into(),
        );
        for (i, o) in self.settings.overrides.iter().enumerate() {
            let path = format!("settings.overrides[{i}]");
            if let Some(d) = &o.matches.department {
                if !ids.contains(d.as_str()) {
                    is.push(
                        format!("{path}.match.department"),
                        format!("unknown department {d:?}"),
                    );
                }
            }
            check_settings(
                &mut is,
                &path,
                &PartialSettings {
                    health_interval: o.health_interval,
                    inventory_interval: o.inventory_interval,
                    software_interval: o.software_interval,
                    patch_interval: o.patch_interval,
                    facts_interval: o.facts_interval,
                    disabled_probes: o.disabled_probes.clone().unwrap_or_default(),
                },
            );
        }
        is
    }

    /// The department an enrollment token belongs to.
    fn validate_auth(&self, is: &mut Issues) {
        let auth = &self.http.auth;
        if !auth.required && !self.http.listen.ip().is_loopback() {
            is.push(
                "http.auth.required",
                format!(
                    "the API on {} would show every host's inventory and incidents to anyone who can reach it: \
                     set http.auth.required: true (and make a token: tilsyn-collector token create --name NAME --role admin), \
                     or listen on 127.0.0.1",
                    self.http.listen
                ),
            );
        }
        if auth.audit_retention.as_secs() < 86_400 {
            is.push("http.auth.audit_retention", "must be at least 1d");
        }
        let known: HashSet<&str> = self.departments.iter().map(|d| d.id.as_str()).collect();
        let mut names = HashSet::new();
        for (i, t) in auth.tokens.iter().enumerate() {
            let at = |k: &str| format!("http.auth.tokens[{i}].{k}");
            if !valid_id(&t.name) {
                is.push(
                    at("name"),
                    format!(
                        "{:?} must be 1-64 characters of a-z, 0-9, '-' or '_'",
                        t.name
                    ),
                );
            }
            if !names.insert(t.name.as_str()) {
                is.push(at("name"), format!("duplicate token name {:?}", t.name));
            }
            if let Err(e) = crate::access::Role::parse(&t.role, &t.departments) {
                is.push(at("role"), e);
            }
            for d in &t.departments {
                if !known.contains(d.as_str()) {
                    is.push(at("departments"), format!("unknown department {d:?}"));
                }
            }
            if let Some(e) = &t.expires {
                if token_expiry(e).is_none() {
                    is.push(at("expires"), format!("{e:?} is not a date (YYYY-MM-DD)"));
                }
            }
        }
    }

    /// The tokens from files, for [`crate::access::Gate`].
    pub fn file_tokens(&self) -> Vec<(String, crate::access::FileToken)> {
        self.http
            .auth
            .tokens
            .iter()
            .filter_map(|t| {
                Some((
                    t.token.clone(),
                    crate::access::FileToken {
                        name: t.name.clone(),
                        role: crate::access::Role::parse(&t.role, &t.departments).ok()?,
                        expires_at_ms: t.expires.as_deref().and_then(token_expiry),
                    },
                ))
            })
            .filter(|(t, _)| !t.is_empty())
            .collect()
    }

    pub fn department_for_token(&self, token: &str) -> Option<&Department> {
        self.departments.iter().find(|d| {
            d.tokens
                .iter()
                .any(|t| crate::auth::ct_eq(t.as_bytes(), token.as_bytes()))
        })
    }
}

/// The first instant a token whose last day is `date` (YYYY-MM-DD) is refused.
pub fn token_expiry(date: &str) -> Option<i64> {
    if date.len() != 10 {
        return None;
    }
    tilsyn_proto::time::parse_timestamp_ms(date).map(|ms| ms + 86_400_000)
}

/// `mode: files` needs both files, and they must exist.
fn tls_files(is: &mut Issues, at: &str, tls: &TlsConfig) {
    if tls.mode != TlsMode::Files {
        return;
    }
    for (key, file, what) in [
        ("cert_file", &tls.cert_file, "PEM certificate chain"),
        ("key_file", &tls.key_file, "PEM private key"),
    ] {
        match file {
            None => is.push(
                format!("{at}.{key}"),
                format!("mode files needs {key} ({what})"),
            ),
            Some(p) if !p.is_file() => is.push(
                format!("{at}.{key}"),
                format!("{} does not exist or is not a file", p.display()),
            ),
            Some(_) => {}
        }
    }
}

struct PartialSettings {
    health_interval: Option<HumanDuration>,
    inventory_interval: Option<HumanDuration>,
    software_interval: Option<HumanDuration>,
    patch_interval: Option<HumanDuration>,
    facts_interval: Option<HumanDuration>,
    disabled_probes: Vec<String>,
}

impl From<AgentSettingsConfig> for PartialSettings {
    fn from(s: AgentSettingsConfig) -> Self {
        PartialSettings {
            health_interval: Some(s.health_interval),
            inventory_interval: Some(s.inventory_interval),
            software_interval: Some(s.software_interval),
            patch_interval: Some(s.patch_interval),
            facts_interval: Some(s.facts_interval),
            disabled_probes: s.disabled_probes,
        }
    }
}

fn check_settings(is: &mut Issues, path: &str, s: &PartialSettings) {
    for (name, d, min) in [
        ("health_interval", s.health_interval, 5),
        ("inventory_interval", s.inventory_interval, 60),
        ("software_interval", s.software_interval, 60),
        ("patch_interval", s.patch_interval, 60),
        ("facts_interval", s.facts_interval, 60),
    ] {
        if let Some(d) = d {
            if d.as_secs() < min {
                is.push(
                    format!("{path}.{name}"),
                    format!("{d} is too short (at least {min}s)"),
                );
            }
        }
    }
    for (i, p) in s.disabled_probes.iter().enumerate() {
        if !PROBES.contains(&p.as_str()) {
            is.push(
                format!("{path}.disabled_probes[{i}]"),
                format!("unknown probe {p:?} (inventory, software, patches, health, facts)"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str) -> Result<CollectorConfig, ConfigErrors> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("collector.yaml");
        std::fs::write(&p, text).unwrap();
        std::fs::create_dir(dir.path().join("standards")).unwrap();
        CollectorConfig::load(&p)
    }

    #[test]
    fn shipped_config_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/collector.yaml");
        let c = CollectorConfig::load(&p).unwrap();
        assert!(c.store.sqlite_path.starts_with(&c.data_dir));
        assert!(!c.departments.is_empty());
    }

    /// The configs the deb/rpm and the container image install (their token files exist
    /// only on an installed system: `from_text` reads no other file).
    #[test]
    fn packaged_configs_are_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        // Installed beside their standards directory, as /etc/tilsyn is.
        let etc = tempfile::tempdir().unwrap();
        std::fs::create_dir(etc.path().join("standards")).unwrap();
        for file in [
            "packaging/etc/collector.yaml",
            "packaging/container/collector.yaml",
        ] {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            let c = CollectorConfig::from_text(&etc.path().join("collector.yaml"), &text)
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(c.data_dir, Path::new("/var/lib/tilsyn-collector"), "{file}");
            assert_eq!(
                c.compliance.standards_dir,
                etc.path().join("standards"),
                "{file}"
            );
            assert!(
                !c.departments[0].token_files.is_empty(),
                "{file}: tokens from files"
            );
            assert!(
                c.departments[0].tokens.is_empty(),
                "{file}: no token in the file"
            );
        }
    }

    #[test]
    fn all_errors_are_reported_with_lines() {
        let e = load_str(
            "data_dir: d
grpc:
  listen: 0.0.0.0:7443
  tls:
    mode: plaintext
http:
  listen: 127.0.0.1:7480
departments:
  - id: Social Services
    name: Social
    tokens: [short]
  - id: schools
    name: Schools
settings:
  defaults:
    health_interval: 1s
  overrides:
    - match: {department: nowhere}
      disabled_probes: [bogus]
",
        )
        .unwrap_err();
        let t = e.to_string();
        assert_eq!(e.issues.len(), 7, "{t}");
        assert!(
            t.contains("collector.yaml:5: grpc.tls.mode: plaintext on 0.0.0.0:7443"),
            "{t}"
        );
        assert!(t.contains("collector.yaml:9: departments[0].id"), "{t}");
        assert!(
            t.contains("collector.yaml:11: departments[0].tokens[0]: token too short"),
            "{t}"
        );
        assert!(
            t.contains("collector.yaml:12: departments[1]: department \"schools\" has no tokens"),
            "{t}"
        );
        assert!(
            t.contains("collector.yaml:16: settings.defaults.health_interval"),
            "{t}"
        );
        assert!(t.contains("unknown department \"nowhere\""), "{t}");
        assert!(t.contains("unknown probe \"bogus\""), "{t}");
    }

    #[test]
    fn tls_files_must_exist() {
        let e = load_str(
            "data_dir: d
grpc:
  listen: 127.0.0.1:1
  tls: {mode: files, cert_file: /nonexistent/server.pem}
http: {listen: 127.0.0.1:2}
departments: [{id: a, name: A, tokens: [aaaaaaaaaaaaaaaaaaaa]}]
",
        )
        .unwrap_err();
        let t = e.to_string();
        assert!(
            t.contains("grpc.tls.cert_file: /nonexistent/server.pem does not exist"),
            "{t}"
        );
        assert!(
            t.contains("grpc.tls.key_file: mode files needs key_file"),
            "{t}"
        );
    }

    #[test]
    fn a_token_names_one_department() {
        let e = load_str(
            "data_dir: d
grpc: {listen: 127.0.0.1:1}
http: {listen: 127.0.0.1:2}
departments:
  - {id: a, name: A, tokens: [aaaaaaaaaaaaaaaaaaaa]}
  - {id: b, name: B, tokens: [aaaaaaaaaaaaaaaaaaaa]}
",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("token also used by department \"a\""),
            "{e}"
        );
    }
}
