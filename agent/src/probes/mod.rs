//! Probes: each one file, each a name and a `collect` that returns one typed section of a
//! report. A probe that fails reports its error; the others carry on. To add a probe, add
//! its file and a line to [`ProbeKind::ALL`] / [`Probes::collect`].

use std::path::PathBuf;

use tilsyn_proto::v1::{report::Body, AgentSettings, ProbeError};

pub mod facts;
pub mod health;
pub mod inventory;
pub mod patches;
pub mod software;

/// What a probe delivered: a section (if any could be read) and what went wrong.
#[derive(Debug, Default, Clone)]
pub struct Collected {
    pub body: Option<Body>,
    pub errors: Vec<ProbeError>,
}

impl Collected {
    pub fn error(probe: ProbeKind, message: impl Into<String>) -> Self {
        Collected {
            body: None,
            errors: vec![ProbeError {
                probe: probe.name().into(),
                message: message.into(),
            }],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeKind {
    Inventory,
    Software,
    Patches,
    Health,
    Facts,
}

impl ProbeKind {
    pub const ALL: [ProbeKind; 5] = [
        ProbeKind::Inventory,
        ProbeKind::Software,
        ProbeKind::Patches,
        ProbeKind::Health,
        ProbeKind::Facts,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Inventory => "inventory",
            ProbeKind::Software => "software",
            ProbeKind::Patches => "patches",
            ProbeKind::Health => "health",
            ProbeKind::Facts => "facts",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Where a report's content comes from: this machine's probes, or a simulated host.
pub trait Source: Send {
    fn collect(
        &mut self,
        kind: ProbeKind,
        settings: &AgentSettings,
    ) -> impl std::future::Future<Output = Collected> + Send;

    /// Whether the host is up; a simulated host can be "switched off" for a while.
    fn online(&self) -> bool {
        true
    }
}

/// The real probes of this machine. Keeps the sysinfo handles between cycles: CPU usage is
/// a difference between two refreshes, and reusing them keeps each cycle cheap.
pub struct Probes {
    health: health::HealthProbe,
    state_dir: PathBuf,
}

impl Probes {
    pub fn new(state_dir: PathBuf) -> Self {
        Probes {
            health: health::HealthProbe::new(),
            state_dir,
        }
    }
}

impl Source for Probes {
    async fn collect(&mut self, kind: ProbeKind, settings: &AgentSettings) -> Collected {
        let started = std::time::Instant::now();
        tracing::debug!(probe = kind.name(), "probe starting");
        let c = self.collect_now(kind, settings).await;
        tracing::debug!(
            probe = kind.name(),
            ms = started.elapsed().as_millis() as u64,
            errors = c.errors.len(),
            "probe done"
        );
        c
    }
}

impl Probes {
    async fn collect_now(&mut self, kind: ProbeKind, settings: &AgentSettings) -> Collected {
        let c = match kind {
            ProbeKind::Inventory => inventory::collect().await,
            ProbeKind::Software => software::collect().await,
            ProbeKind::Patches => patches::collect(&self.state_dir).await,
            ProbeKind::Facts => facts::collect().await,
            ProbeKind::Health => return self.health.collect(settings).await,
        };
        // Reading package databases briefly needs megabytes; give them back to the OS.
        crate::platform::trim_heap();
        c
    }
}

pub(crate) fn err(kind: ProbeKind, e: impl std::fmt::Display) -> ProbeError {
    ProbeError {
        probe: kind.name().into(),
        message: e.to_string(),
    }
}
