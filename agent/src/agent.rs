//! Running the real agent: identity (enroll once), spool, settings, and the runner loop.

use anyhow::Context;
use tilsyn_proto::v1::{AgentSettings, EnrollRequest};

use crate::config::AgentConfig;
use crate::enrollment;
use crate::probes::Probes;
use crate::runner::{Exit, Runner};
use crate::spool::Spool;
use crate::state::{self, Identity};
use crate::transport::{self, Client, Target};

/// The collector to talk to: `collector.url` in the config when set, else the one given to
/// `tilsyn-agent enroll` (in the state directory).
pub fn target(cfg: &AgentConfig) -> anyhow::Result<Target> {
    if cfg.collector.url.is_empty() {
        let given = enrollment::load_collector(&cfg.state_dir)?.ok_or_else(|| {
            anyhow::Error::new(NoCollector).context(format!(
                "no collector known: set collector.url in the agent config, or run `tilsyn-agent enroll \
                 --collector URL --ca FILE --token-file FILE` (state_dir {})",
                cfg.state_dir.display()
            ))
        })?;
        return Ok(Target {
            url: given.url,
            ca_pem: given.ca_pem.map(String::into_bytes),
            server_name: given.server_name,
            timeout: cfg.collector.timeout.0,
            idle_timeout: cfg.collector.idle_timeout(),
        });
    }
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
        idle_timeout: cfg.collector.idle_timeout(),
    })
}

/// Neither the config nor an enrollment named a collector.
#[derive(Debug, thiserror::Error)]
#[error("no collector configured")]
pub struct NoCollector;

/// No enrollment token was given (neither in the config nor to `tilsyn-agent enroll`).
#[derive(Debug, thiserror::Error)]
#[error(
    "no enrollment token: give one with --token-file FILE, TILSYN_ENROLL_TOKEN or a response file"
)]
pub struct NoToken;

/// Exit status of `enroll` when it lacks a collector or a token (sysexits' EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;
/// Exit status of `enroll` when the collector did not answer in time and what was given
/// is saved for the service (sysexits' EX_TEMPFAIL).
pub const EXIT_DEFERRED: u8 = 75;

/// The enrollment token: the config's `enrollment.token`/`token_file`, else the one waiting
/// in the state directory since `tilsyn-agent enroll`.
fn enrollment_token(cfg: &AgentConfig) -> anyhow::Result<Option<String>> {
    if let Some(t) = cfg.token().map_err(anyhow::Error::msg)? {
        return Ok(Some(t));
    }
    Ok(enrollment::pending_token(&cfg.state_dir)?)
}

/// Enrolls this machine with the collector and saves the identity (0600).
pub async fn enroll(
    cfg: &AgentConfig,
    target: &Target,
) -> anyhow::Result<(Identity, AgentSettings)> {
    let token = enrollment_token(cfg)?.context(
        "this agent has no identity yet and no enrollment token: run `tilsyn-agent enroll --token-file FILE` \
         (or set enrollment.token_file in the agent config)",
    )?;
    let hostname = sysinfo::System::host_name().unwrap_or_default();
    let req = EnrollRequest {
        token,
        hostname: hostname.clone(),
        machine_id: crate::probes::inventory::machine_id().unwrap_or_default(),
        agent_version: env!("CARGO_PKG_VERSION").into(),
        requested_class: cfg.class.clone(),
        labels: cfg.labels.clone().into_iter().collect(),
    };
    // Several collectors: start with the one this host's name picks, then the others.
    let endpoints = target.endpoints()?;
    let n = endpoints.len();
    let first = transport::home_of(&hostname, n);
    let mut tried = 0;
    let resp = loop {
        let at = (first + tried) % n;
        let url = endpoints.url(at);
        match transport::enroll(endpoints.channel(at), req.clone()).await {
            Ok(r) => break r,
            Err(transport::TransportError::Unavailable(m)) if tried + 1 < n => {
                tracing::warn!(collector = %url, error = %m, "collector unreachable; enrolling with the next");
                tried += 1;
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("enrolling with {url}"))),
        }
    };
    let id = Identity {
        agent_id: resp.agent_id,
        secret: resp.secret,
        department: resp.department,
        collector: target.url.clone(),
        enrolled_at_ms: crate::now_ms(),
    };
    state::save(&cfg.state_dir, &id)?;
    // Enrolled: the department's token is not needed on this machine any more.
    if enrollment::forget_token(&cfg.state_dir)? {
        tracing::info!("enrollment token removed from the state directory");
    }
    tracing::info!(agent_id = %id.agent_id, department = %id.department, host = %hostname, "enrolled");
    Ok((id, resp.settings.unwrap_or_default()))
}

/// Runs the agent until Ctrl-C / SIGTERM.
pub async fn run(cfg: AgentConfig) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.state_dir)
        .with_context(|| format!("cannot create state_dir {}", cfg.state_dir.display()))?;
    crate::platform::secure_dir(&cfg.state_dir);
    let Some(target) = wait_until_configured(&cfg).await? else {
        return Ok(());
    };
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
    // Every address is checked before the agent goes on; the endpoints keep the TLS
    // configuration, so the runner's connections resume the first one's session.
    let endpoints = target.endpoints()?;
    let client = |id: &Identity| {
        Client::with_endpoints(
            endpoints.clone(),
            target.idle_timeout,
            &id.agent_id,
            &id.secret,
        )
    };
    let mut identity = state::load(&cfg.state_dir)?;
    let mut probes = Probes::new(cfg.state_dir.clone());
    loop {
        let (id, settings) = match identity.take() {
            Some(id) => {
                if id.collector != target.url {
                    tracing::warn!(enrolled_with = %id.collector, now = %target.url,
                        "identity was issued by another collector address; using it anyway");
                }
                let mut c = client(&id)?;
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
        let mut runner = Runner::new(
            probes,
            spool,
            client(&id)?,
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

/// Waits (installed but not yet enrolled: the package started the service before anyone ran
/// `tilsyn-agent enroll`) until a collector is known and the agent has an identity or a
/// token; `None` when stopped meanwhile.
async fn wait_until_configured(cfg: &AgentConfig) -> anyhow::Result<Option<Target>> {
    let mut told = false;
    let mut stop = std::pin::pin!(shutdown_signal());
    loop {
        let missing = match target(cfg) {
            Ok(t) => {
                if state::load(&cfg.state_dir)?.is_some() || enrollment_token(cfg)?.is_some() {
                    return Ok(Some(t));
                }
                "an enrollment token"
            }
            Err(e) if e.is::<NoCollector>() => "a collector",
            Err(e) => return Err(e),
        };
        if !told {
            tracing::warn!(
                state_dir = %cfg.state_dir.display(),
                "waiting for {missing}: run `tilsyn-agent enroll --collector URL --ca FILE --token-file FILE` \
                 (or set collector.url and enrollment.token_file in the agent config); checking every 5 s"
            );
            told = true;
        }
        tokio::select! {
            _ = &mut stop => return Ok(None),
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
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
                if !unavailable(&e) {
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

/// What `tilsyn-agent enroll` did.
#[derive(Debug)]
pub enum EnrollOutcome {
    /// An identity was there already (no `--force`); a waiting token was removed.
    Already(Identity),
    Enrolled(Identity),
    /// The collector did not answer in time; what was given is saved and the service
    /// enrolls when it can.
    Deferred(String),
}

/// Enrolls now (idempotent without `force`), retrying while the collector is unreachable
/// for at most `wait`.
pub async fn enroll_now(
    cfg: &AgentConfig,
    force: bool,
    wait: std::time::Duration,
) -> anyhow::Result<EnrollOutcome> {
    if !force {
        if let Some(id) = state::load(&cfg.state_dir)? {
            enrollment::forget_token(&cfg.state_dir)?;
            return Ok(EnrollOutcome::Already(id));
        }
    }
    let target = target(cfg)?;
    if enrollment_token(cfg)?.is_none() {
        return Err(NoToken.into());
    }
    let path = cfg.state_dir.join(state::STATE_FILE);
    if force && path.exists() {
        let backup = path.with_extension("json.bak");
        std::fs::rename(&path, &backup)
            .with_context(|| format!("moving {} aside", path.display()))?;
        tracing::warn!(old = %backup.display(), "previous identity moved aside");
    }
    let deadline = tokio::time::Instant::now() + wait;
    let mut pause = std::time::Duration::from_secs(1);
    loop {
        match enroll(cfg, &target).await {
            Ok((id, _)) => return Ok(EnrollOutcome::Enrolled(id)),
            Err(e) if unavailable(&e) => {
                if tokio::time::Instant::now() + pause >= deadline {
                    return Ok(EnrollOutcome::Deferred(format!("{e:#}")));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(10));
            }
            Err(e) => return Err(e),
        }
    }
}

fn unavailable(e: &anyhow::Error) -> bool {
    e.downcast_ref::<transport::TransportError>()
        .is_some_and(|t| matches!(t, transport::TransportError::Unavailable(_)))
}

static STOP_REQUESTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static STOP: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Asks a running agent to stop as Ctrl-C would (the Windows service's Stop control).
pub fn request_stop() {
    STOP_REQUESTED.store(true, std::sync::atomic::Ordering::SeqCst);
    STOP.notify_waiters();
}

async fn stop_requested() {
    loop {
        let notified = STOP.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        if STOP_REQUESTED.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        notified.await;
    }
}

static SERVICE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Marks this process as the Windows service: it stops only through [`request_stop`] (the
/// service control manager's Stop), never through console signals, which a service has no
/// console for.
pub fn set_service_mode() {
    SERVICE.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Ctrl-C, SIGTERM or [`request_stop`].
pub async fn shutdown_signal() {
    if SERVICE.load(std::sync::atomic::Ordering::SeqCst) {
        return stop_requested().await;
    }
    tokio::select! {
        _ = os_signal() => {}
        _ = stop_requested() => {}
    }
}

async fn os_signal() {
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
        // A Windows service has no console: Ctrl-C cannot be registered there, and an
        // error must not read as "stop" (the service stops through `request_stop`).
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
