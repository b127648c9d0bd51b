//! Running the real agent: identity (enroll once), spool, settings, and the runner loop.

use anyhow::Context;
use tilsyn_proto::v1::{AgentSettings, EnrollRequest};

use crate::config::AgentConfig;
use crate::probes::Probes;
use crate::runner::{Exit, Runner};
use crate::spool::Spool;
use crate::state::{self, Identity};
use crate::transport::{self, Client, Target};

pub fn target(cfg: &AgentConfig) -> anyhow::Result<Target> {
    let ca_pem = match &cfg.collector.ca_file {
        Some(p) => Some(std::fs::read(p).with_context(|| {
            format!(
                "cannot read collector.ca_file {} (the collector writes its CA to <data_dir>/tls/ca.pem when tls is auto)",
                p.display()
            )
        })?),
        None => None,
    };
    Ok(Target {
        url: cfg.collector.url.clone(),
        ca_pem,
        server_name: cfg.collector.server_name.clone(),
        timeout: cfg.collector.timeout.0,
    })
}

/// Enrolls this machine with the collector and saves the identity (0600).
pub async fn enroll(
    cfg: &AgentConfig,
    target: &Target,
) -> anyhow::Result<(Identity, AgentSettings)> {
    let token = cfg
        .token()
        .map_err(anyhow::Error::msg)?
        .context("this agent has no identity yet and no enrollment token: set enrollment.token or enrollment.token_file in the agent config")?;
    let hostname = sysinfo::System::host_name().unwrap_or_default();
    let req = EnrollRequest {
        token,
        hostname: hostname.clone(),
        machine_id: crate::probes::inventory::machine_id().unwrap_or_default(),
        agent_version: env!("CARGO_PKG_VERSION").into(),
        requested_class: cfg.class.clone(),
        labels: cfg.labels.clone().into_iter().collect(),
    };
    let resp = transport::enroll(target.channel()?, req)
        .await
        .with_context(|| format!("enrolling with {}", target.url))?;
    let id = Identity {
        agent_id: resp.agent_id,
        secret: resp.secret,
        department: resp.department,
        collector: target.url.clone(),
        enrolled_at_ms: crate::now_ms(),
    };
    state::save(&cfg.state_dir, &id)?;
    tracing::info!(agent_id = %id.agent_id, department = %id.department, host = %hostname, "enrolled");
    Ok((id, resp.settings.unwrap_or_default()))
}

/// Runs the agent until Ctrl-C / SIGTERM.
pub async fn run(cfg: AgentConfig) -> anyhow::Result<()> {
    let target = target(&cfg)?;
    std::fs::create_dir_all(&cfg.state_dir)
        .with_context(|| format!("cannot create state_dir {}", cfg.state_dir.display()))?;
    let mut spool = Spool::open(
        &cfg.state_dir.join("spool"),
        cfg.spool.max_mib * 1024 * 1024,
    )?;
    if spool.stats.quarantined > 0 {
        tracing::warn!(
            count = spool.stats.quarantined,
            "corrupt spool files were quarantined"
        );
    }
    let channel = target.channel()?;
    let mut identity = state::load(&cfg.state_dir)?;
    let mut probes = Probes::new(cfg.state_dir.clone());
    loop {
        let (id, settings) = match identity.take() {
            Some(id) => {
                if id.collector != target.url {
                    tracing::warn!(enrolled_with = %id.collector, now = %target.url,
                        "identity was issued by another collector address; using it anyway");
                }
                let mut c = Client::new(channel.clone(), &id.agent_id, &id.secret)?;
                match c.settings().await {
                    Ok(s) => (id, s),
                    Err(transport::TransportError::Unauthenticated(m)) => {
                        tracing::warn!(reason = %m, "collector does not know this agent; enrolling again");
                        enroll_until_done(&cfg, &target).await?
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot fetch settings yet; starting with defaults");
                        (id, default_settings())
                    }
                }
            }
            None => enroll_until_done(&cfg, &target).await?,
        };
        let client = Client::new(channel.clone(), &id.agent_id, &id.secret)?;
        let mut runner = Runner::new(
            probes,
            spool,
            client,
            settings,
            cfg.overrides.clone(),
            id.agent_id.clone(),
        );
        tracing::info!(agent_id = %id.agent_id, collector = %target.url, "agent running");
        let exit = runner.run(shutdown_signal()).await;
        probes = runner.source;
        spool = runner.spool;
        match exit {
            Exit::Shutdown => {
                tracing::info!(
                    spooled = spool.len(),
                    "agent stopping; unsent reports stay spooled"
                );
                return Ok(());
            }
            Exit::Unauthenticated(m) => {
                tracing::warn!(reason = %m, "collector no longer accepts this identity; enrolling again (spool kept)");
                identity = None;
            }
        }
    }
}

/// Enrolls, retrying while the collector is unreachable; a refused token is fatal.
async fn enroll_until_done(
    cfg: &AgentConfig,
    target: &Target,
) -> anyhow::Result<(Identity, AgentSettings)> {
    let mut wait = std::time::Duration::from_secs(1);
    loop {
        match enroll(cfg, target).await {
            Ok(done) => return Ok(done),
            Err(e) => {
                let unavailable = e
                    .downcast_ref::<transport::TransportError>()
                    .is_some_and(|t| matches!(t, transport::TransportError::Unavailable(_)));
                if !unavailable {
                    return Err(e);
                }
                tracing::warn!(error = %format!("{e:#}"), retry_in = ?wait, "collector unreachable; will retry enrollment");
                tokio::time::sleep(crate::runner::jitter(wait)).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(60));
            }
        }
    }
}

/// Settings used until the collector has answered once.
pub fn default_settings() -> AgentSettings {
    AgentSettings {
        revision: String::new(),
        health_interval_seconds: 60,
        inventory_interval_seconds: 6 * 3600,
        software_interval_seconds: 6 * 3600,
        patch_interval_seconds: 3600,
        facts_interval_seconds: 3600,
        ..Default::default()
    }
}

/// Forces a fresh enrollment: used when the identity file is corrupt or lost.
pub async fn force_enroll(cfg: &AgentConfig) -> anyhow::Result<Identity> {
    let target = target(cfg)?;
    let path = cfg.state_dir.join(state::STATE_FILE);
    if path.exists() {
        let backup = path.with_extension("json.bak");
        std::fs::rename(&path, &backup)
            .with_context(|| format!("moving {} aside", path.display()))?;
        tracing::warn!(old = %backup.display(), "previous identity moved aside");
    }
    let (id, _) = enroll(cfg, &target).await?;
    Ok(id)
}

pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
