//! The agent's local config file. It holds only what an agent must know before it can reach
//! the collector (address, CA, enrollment token, state directory) and local overrides; all
//! other settings come from the collector, per department and class.
//!
//! Relative paths are resolved against the directory of the config file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tilsyn_proto::duration::HumanDuration;
use tilsyn_proto::yaml::{self, ConfigErrors, Issues};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The collector; without `url` here, the one given by `tilsyn-agent enroll
    /// --collector` (kept in the state directory) is used.
    #[serde(default)]
    pub collector: CollectorConfig,
    /// How to enroll; only needed until the agent has an identity.
    #[serde(default)]
    pub enrollment: Enrollment,
    /// Where the identity (0600), the spool and small state files live.
    pub state_dir: PathBuf,
    /// Requested host class (workstation, server, kiosk, ...); empty lets the collector
    /// classify the host from its inventory.
    #[serde(default)]
    pub class: String,
    /// Free-form labels sent at enrollment (site, role, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub spool: SpoolConfig,
    /// Local overrides of the central settings; use sparingly.
    #[serde(default)]
    pub overrides: Overrides,
    /// Log filter, e.g. `info` or `tilsyn_agent=debug`.
    #[serde(default = "default_log")]
    pub log: String,
}

/// Where the system's agent config lives: `/etc/tilsyn/agent.yaml`, or on Windows
/// `%ProgramData%\Tilsyn\agent.yaml` (the MSI's).
pub fn system_dir() -> PathBuf {
    if cfg!(windows) {
        std::env::var_os("ProgramData")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
            .join("Tilsyn")
    } else {
        PathBuf::from("/etc/tilsyn")
    }
}

/// The default `--config`.
pub fn default_path() -> PathBuf {
    system_dir().join("agent.yaml")
}

fn default_log() -> String {
    "info".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorConfig {
    /// `https://host:port` (TLS), or `http://host:port` for a collector explicitly serving
    /// plaintext; or a list of them (several collectors sharing one database): the agent
    /// starts with one chosen by its id and moves to the next when it is unreachable.
    /// Kept comma-separated. Empty: the collector given at enrollment (`tilsyn-agent
    /// enroll --collector URL --ca FILE`, kept in `<state_dir>/collector.json`).
    #[serde(default, deserialize_with = "one_or_many")]
    pub url: String,
    /// PEM file of the CA that signed the collector's certificate. Without it the system's
    /// trust roots are not used: a private CA is the norm for an internal collector.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Name to verify in the collector's certificate when it differs from the URL's host.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Limit for one call to the collector.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// The agent closes its connection after this long without a call and opens a new one
    /// (resuming the TLS session) for its next delivery, so an idle agent holds nothing on
    /// the collector. `0s` closes right after each delivery; `keep` keeps it open.
    #[serde(default = "default_idle_timeout", deserialize_with = "idle_timeout")]
    pub idle_timeout: Option<HumanDuration>,
}

fn default_idle_timeout() -> Option<HumanDuration> {
    Some(HumanDuration::secs(5))
}

/// `collector.idle_timeout`: a duration, or `keep`.
fn idle_timeout<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<HumanDuration>, D::Error> {
    // A visitor, so that an error points at the value's line, not the section's.
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Option<HumanDuration>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a duration such as 5s, or `keep`")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            parse_idle_timeout(s).map_err(E::custom)
        }
    }
    d.deserialize_str(V)
}

/// A duration (`5s`, `0s`) or `keep` (`None`).
pub fn parse_idle_timeout(s: &str) -> Result<Option<HumanDuration>, String> {
    if s.trim() == "keep" {
        return Ok(None);
    }
    s.parse::<HumanDuration>()
        .map(Some)
        .map_err(|e| format!("{e}; give a duration such as 5s or 0s, or `keep`"))
}

impl CollectorConfig {
    /// `None`: keep the connection open.
    pub fn idle_timeout(&self) -> Option<std::time::Duration> {
        self.idle_timeout.map(|d| d.0)
    }
}

/// A URL or a list of URLs, kept comma-separated.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s,
        OneOrMany::Many(v) => v.join(","),
    })
}

fn default_timeout() -> HumanDuration {
    HumanDuration::secs(30)
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            url: String::new(),
            ca_file: None,
            server_name: None,
            timeout: default_timeout(),
            idle_timeout: default_idle_timeout(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    /// The department's enrollment token (prefer `token_file` outside demos).
    #[serde(default)]
    pub token: Option<String>,
    /// File holding the token (trimmed).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Upper bound of the on-disk spool, in MiB.
    #[serde(default = "default_spool_mib")]
    pub max_mib: u64,
}

fn default_spool_mib() -> u64 {
    64
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            max_mib: default_spool_mib(),
        }
    }
}

/// Overrides of the collector's settings for this one machine.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    pub health_interval: Option<HumanDuration>,
    pub inventory_interval: Option<HumanDuration>,
    pub software_interval: Option<HumanDuration>,
    pub patch_interval: Option<HumanDuration>,
    pub facts_interval: Option<HumanDuration>,
    /// Added to the central list.
    #[serde(default)]
    pub watched_services: Vec<String>,
    #[serde(default)]
    pub watched_processes: Vec<String>,
    #[serde(default)]
    pub disabled_probes: Vec<String>,
}

fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

impl AgentConfig {
    /// Loads and validates; every problem is reported with file and line.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        Self::from_text(path, &yaml::read(path)?)
    }

    /// Parses and validates `text` as if read from `path`.
    pub fn from_text(path: &Path, text: &str) -> Result<Self, ConfigErrors> {
        let mut cfg: AgentConfig = yaml::parse(path, text)?;
        cfg.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        cfg.validate().into_result(path, text)?;
        Ok(cfg)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let abs = |p: &Path| absolute(base, p);
        self.state_dir = absolute(base, &self.state_dir);
        self.collector.ca_file = self.collector.ca_file.as_deref().map(abs);
        self.enrollment.token_file = self.enrollment.token_file.as_deref().map(abs);
    }

    fn validate(&self) -> Issues {
        let mut is = Issues::default();
        let url = &self.collector.url;
        if url.is_empty() {
            if self.collector.ca_file.is_some() || self.collector.server_name.is_some() {
                is.push(
                    "collector",
                    "ca_file and server_name need collector.url beside them (or give all three to `tilsyn-agent enroll`)",
                );
            }
        } else if let Err(e) = crate::enrollment::check_url(url) {
            is.push("collector.url", e);
        }
        if url.starts_with("https://") && self.collector.ca_file.is_none() {
            is.push(
                "collector.url",
                "https needs collector.ca_file: the PEM of the CA that signed the collector's certificate",
            );
        }
        if self.enrollment.token.is_some() && self.enrollment.token_file.is_some() {
            is.push("enrollment", "give either token or token_file, not both");
        }
        if self.enrollment.token.as_deref() == Some("") {
            is.push("enrollment.token", "is empty");
        }
        if self.spool.max_mib == 0 {
            is.push("spool.max_mib", "must be at least 1");
        }
        for (name, d) in [
            ("health_interval", self.overrides.health_interval),
            ("inventory_interval", self.overrides.inventory_interval),
            ("software_interval", self.overrides.software_interval),
            ("patch_interval", self.overrides.patch_interval),
            ("facts_interval", self.overrides.facts_interval),
        ] {
            if let Some(d) = d {
                if d.0.as_secs() < 5 {
                    is.push(
                        format!("overrides.{name}"),
                        format!("{d} is too short (5s at least)"),
                    );
                }
            }
        }
        for (i, p) in self.overrides.disabled_probes.iter().enumerate() {
            if crate::probes::ProbeKind::from_name(p).is_none() {
                is.push(
                    format!("overrides.disabled_probes[{i}]"),
                    format!("unknown probe {p:?} (inventory, software, patches, health, facts)"),
                );
            }
        }
        is
    }

    /// The enrollment token from `token` or `token_file`.
    pub fn token(&self) -> Result<Option<String>, String> {
        if let Some(t) = &self.enrollment.token {
            return Ok(Some(t.clone()));
        }
        match &self.enrollment.token_file {
            Some(p) => tilsyn_proto::files::read_small(p, tilsyn_proto::files::MAX_SECRET_BYTES)
                .map(|s| Some(s.trim().to_string()))
                .map_err(|e| format!("cannot read enrollment.token_file {}: {e}", p.display())),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str) -> Result<AgentConfig, ConfigErrors> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("agent.yaml");
        std::fs::write(&p, text).unwrap();
        AgentConfig::load(&p)
    }

    #[test]
    fn shipped_example_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/agent.yaml");
        let c = AgentConfig::load(&p).unwrap();
        // Under Wine the source tree's path has a root but no drive letter.
        assert!(c.state_dir.has_root());
    }

    /// The config the Windows service writes when none exists: the state beside it.
    #[test]
    fn windows_config_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/windows/agent.yaml");
        let c = AgentConfig::load(&p).unwrap();
        assert_eq!(c.state_dir, p.parent().unwrap().join("state"));
        assert!(c.collector.url.is_empty());
        assert_eq!(c.token().unwrap(), None);
    }

    /// The package's config: no collector and no token (given by `tilsyn-agent enroll`).
    #[test]
    fn packaged_config_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/etc/agent.yaml");
        let c = AgentConfig::load(&p).unwrap();
        assert_eq!(c.state_dir, Path::new("/var/lib/tilsyn-agent"));
        assert!(c.collector.url.is_empty());
        assert_eq!(c.token().unwrap(), None);
    }

    #[test]
    fn every_error_is_listed_with_its_line() {
        let e = load_str(
            "collector:\n  url: ftp://x\nstate_dir: s\nspool:\n  max_mib: 0\noverrides:\n  health_interval: 1s\n  disabled_probes: [health, bogus]\n",
        )
        .unwrap_err();
        let text = e.to_string();
        assert_eq!(e.issues.len(), 4, "{text}");
        assert!(text.contains("agent.yaml:2: collector.url"), "{text}");
        assert!(text.contains("agent.yaml:5: spool.max_mib"), "{text}");
        assert!(
            text.contains("agent.yaml:7: overrides.health_interval"),
            "{text}"
        );
        assert!(text.contains("bogus"), "{text}");
    }

    #[test]
    fn idle_timeout_is_a_duration_or_keep() {
        let c = |v: &str| {
            load_str(&format!(
                "collector:\n  url: http://x\n  idle_timeout: {v}\nstate_dir: s\n"
            ))
        };
        assert_eq!(
            c("0s").unwrap().collector.idle_timeout(),
            Some(std::time::Duration::ZERO)
        );
        assert_eq!(c("keep").unwrap().collector.idle_timeout(), None);
        assert_eq!(
            load_str("collector:\n  url: http://x\nstate_dir: s\n")
                .unwrap()
                .collector
                .idle_timeout(),
            Some(std::time::Duration::from_secs(5)),
            "default"
        );
        let e = c("sometimes").unwrap_err();
        assert_eq!(e.issues[0].line, Some(3), "{e}");
        assert!(e.to_string().contains("`keep`"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_durations_point_at_the_line() {
        let e = load_str("collector:\n  url: http://x\n  urll: y\nstate_dir: s\n").unwrap_err();
        assert_eq!(e.issues[0].line, Some(3), "{e}");
        let e = load_str(
            "collector:\n  url: http://x\nstate_dir: s\noverrides:\n  health_interval: 10 min\n",
        )
        .unwrap_err();
        assert_eq!(e.issues[0].line, Some(5), "{e}");
    }
}
