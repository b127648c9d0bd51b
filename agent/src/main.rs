//! `tilsyn-agent`: thin CLI over the agent library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tilsyn_agent::config::AgentConfig;
use tilsyn_agent::enrollment::{self, Given};
use tilsyn_agent::probes::{ProbeKind, Probes, Source};
use tilsyn_agent::{agent, simulate, transport};

#[derive(Parser)]
#[command(
    name = "tilsyn-agent",
    version,
    about = "Tilsyn agent: reports this machine to a collector"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Enroll if needed, then report on schedule until stopped.
    Run {
        #[arg(short, long, default_value_os_t = tilsyn_agent::config::default_path())]
        config: PathBuf,
    },
    /// Check the config file and print every error with its line.
    Validate {
        #[arg(short, long, default_value_os_t = tilsyn_agent::config::default_path())]
        config: PathBuf,
    },
    /// Enroll with the collector; safe to run again (an enrolled agent stays as it is unless
    /// --force). The collector, its CA and the token may be given here, by environment or in
    /// a response file, so nothing in agent.yaml needs editing; they are kept in the state
    /// directory and the token is deleted once enrolled. Exits 0 when enrolled, 75 when the
    /// collector did not answer in time (what was given is saved: the service enrolls when
    /// it can), 78 when a collector or token is missing.
    Enroll(EnrollArgs),
    /// Run probes once and print what would be reported, as JSON.
    Collect {
        /// inventory, software, patches or health (default: all).
        #[arg(long)]
        probe: Vec<String>,
        /// State directory for first-seen dates of pending updates (default: a scratch
        /// directory, so a look at this machine leaves the agent's own state alone).
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// The Windows service: install (register for this executable and start), uninstall
    /// (stop and remove; the state stays), or run (what the service control manager starts).
    #[cfg(windows)]
    Service {
        #[command(subcommand)]
        action: ServiceAction,
    },
    /// Simulate a fleet of virtual hosts reporting to a collector.
    Simulate {
        /// Collector URL, e.g. https://127.0.0.1:7443
        #[arg(long)]
        collector: String,
        /// CA PEM for https.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Enrollment token; repeat for several departments.
        #[arg(long = "token", required = true)]
        tokens: Vec<String>,
        #[arg(long, default_value_t = 100)]
        hosts: usize,
        #[arg(long, default_value_t = 3)]
        offline_percent: u32,
        #[arg(long, default_value_t = 5)]
        degrade_percent: u32,
        /// Spread the fleet's first reports over this many seconds.
        #[arg(long, default_value_t = 60)]
        ramp_seconds: u64,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long)]
        duration_seconds: Option<u64>,
        #[arg(long, default_value_t = 10)]
        stats_seconds: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 64)]
        enroll_concurrency: usize,
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Most report calls in flight across the simulated fleet.
        #[arg(long, default_value_t = 256)]
        max_in_flight: usize,
        /// With a connection per host (--connections >= --hosts): each host closes it after
        /// this long without a call, as agents do (`collector.idle_timeout`); `keep` keeps it.
        #[arg(long, default_value = "5s")]
        idle_timeout: String,
    },
}

#[cfg(windows)]
#[derive(Subcommand)]
enum ServiceAction {
    Install {
        #[arg(short, long, default_value_os_t = tilsyn_agent::config::default_path())]
        config: PathBuf,
    },
    Uninstall,
    Run {
        #[arg(short, long, default_value_os_t = tilsyn_agent::config::default_path())]
        config: PathBuf,
    },
}

/// The response file package scripts read (`enroll --at-install`): `enroll.env` beside
/// the system's agent config.
fn install_response_file() -> PathBuf {
    tilsyn_agent::config::system_dir().join("enroll.env")
}

#[derive(clap::Args)]
struct EnrollArgs {
    #[arg(short, long, default_value_os_t = tilsyn_agent::config::default_path())]
    config: PathBuf,
    /// Enroll again even when an identity exists (or is corrupt).
    #[arg(long)]
    force: bool,
    /// The collector's URL, e.g. https://tilsyn.example.org:7443.
    #[arg(long, env = "TILSYN_COLLECTOR_URL")]
    collector: Option<String>,
    /// PEM of the CA that signed the collector's certificate (copied into the state
    /// directory).
    #[arg(long, env = "TILSYN_COLLECTOR_CA")]
    ca: Option<PathBuf>,
    /// Name to verify in the collector's certificate when it differs from the URL's host.
    #[arg(long, env = "TILSYN_COLLECTOR_SERVER_NAME")]
    server_name: Option<String>,
    /// File holding the department's enrollment token.
    #[arg(long, env = "TILSYN_ENROLL_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// The token itself: prefer the environment or --token-file (a command line is
    /// visible to every user of the machine).
    #[arg(long, env = "TILSYN_ENROLL_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// KEY=VALUE file with TILSYN_COLLECTOR_URL, TILSYN_COLLECTOR_CA,
    /// TILSYN_COLLECTOR_SERVER_NAME, TILSYN_ENROLL_TOKEN; deleted once read and saved.
    #[arg(long)]
    response_file: Option<PathBuf>,
    /// How long to keep trying while the collector does not answer.
    #[arg(long, default_value = "20s")]
    wait: tilsyn_proto::duration::HumanDuration,
    /// For package scripts: read /etc/tilsyn/enroll.env when it exists, do nothing when
    /// nothing was given, and never fail the installation (problems are printed).
    #[arg(long)]
    at_install: bool,
    /// The log filter instead of the config's (package scripts: warnings only).
    #[arg(skip)]
    log_filter: Option<String>,
}

fn init_logs(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn load(config: &std::path::Path) -> Result<AgentConfig, ExitCode> {
    AgentConfig::load(config).map_err(|e| {
        eprint!("{e}");
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The service's dispatcher owns its thread and builds its own runtime.
    #[cfg(windows)]
    if let Cmd::Service { action } = cli.cmd {
        let r = match action {
            ServiceAction::Install { config } => tilsyn_agent::service::install(&config),
            ServiceAction::Uninstall => tilsyn_agent::service::uninstall(),
            ServiceAction::Run { config } => tilsyn_agent::service::run(config),
        };
        return match r {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tilsyn-agent: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    // The agent does little at a time: one thread keeps its footprint small. The
    // simulator drives thousands of hosts and gets a thread per core.
    let rt = match &cli.cmd {
        Cmd::Simulate { .. } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.cmd {
            Cmd::Validate { config } => {
                let cfg = match load(&config) {
                    Ok(c) => c,
                    Err(code) => return Ok(code),
                };
                let collector = if !cfg.collector.url.is_empty() {
                    cfg.collector.url.clone()
                } else {
                    match enrollment::load_collector(&cfg.state_dir) {
                        Ok(Some(c)) => format!("{} (given at enrollment)", c.url),
                        Ok(None) => "none yet: run `tilsyn-agent enroll --collector URL`".into(),
                        Err(e) => {
                            eprintln!("{e}");
                            return Ok(ExitCode::from(2));
                        }
                    }
                };
                println!("{}: ok (collector {collector}, state_dir {})", config.display(), cfg.state_dir.display());
                Ok(ExitCode::SUCCESS)
            }
            Cmd::Run { config } => {
                let cfg = match load(&config) {
                    Ok(c) => c,
                    Err(code) => return Ok(code),
                };
                init_logs(&cfg.log);
                agent::run(cfg).await.map(|_| ExitCode::SUCCESS)
            }
            Cmd::Enroll(args) => enroll_cmd(args).await,
            Cmd::Collect { probe, state_dir } => {
                init_logs("warn");
                let kinds: Vec<ProbeKind> = if probe.is_empty() {
                    ProbeKind::ALL.to_vec()
                } else {
                    let mut v = Vec::new();
                    for p in &probe {
                        match ProbeKind::from_name(p) {
                            Some(k) => v.push(k),
                            None => {
                                eprintln!("unknown probe {p:?}: use inventory, software, patches or health");
                                return Ok(ExitCode::from(2));
                            }
                        }
                    }
                    v
                };
                let state_dir = state_dir.unwrap_or_else(|| std::env::temp_dir().join("tilsyn-agent-collect"));
                let mut probes = Probes::new(state_dir);
                let settings = agent::default_settings();
                let mut out = serde_json::Map::new();
                for k in kinds {
                    if k == ProbeKind::Health {
                        // CPU usage needs two samples.
                        probes.collect(k, &settings).await;
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    let c = probes.collect(k, &settings).await;
                    out.insert(k.name().into(), serde_json::json!({ "body": c.body, "errors": c.errors }));
                }
                println!("{}", serde_json::to_string_pretty(&out)?);
                Ok(ExitCode::SUCCESS)
            }
            #[cfg(windows)]
            Cmd::Service { .. } => unreachable!("handled before the runtime"),
            Cmd::Simulate { collector, ca, tokens, hosts, offline_percent, degrade_percent, ramp_seconds, duration_seconds, stats_seconds, seed, enroll_concurrency, connections, max_in_flight, idle_timeout } => {
                init_logs("warn");
                let ca_pem = match ca {
                    Some(p) => Some(std::fs::read(&p).map_err(|e| anyhow::anyhow!("cannot read --ca {}: {e}", p.display()))?),
                    None => None,
                };
                let target = transport::Target { url: collector, ca_pem, server_name: None, timeout: Duration::from_secs(30),
                    idle_timeout: tilsyn_agent::config::parse_idle_timeout(&idle_timeout)
                        .map_err(|e| anyhow::anyhow!("--idle-timeout {idle_timeout:?}: {e}"))?
                        .map(|d| d.0) };
                simulate::run(target, simulate::SimConfig {
                    hosts, tokens, offline_percent, degrade_percent,
                    ramp: Duration::from_secs(ramp_seconds),
                    duration: duration_seconds.map(Duration::from_secs),
                    stats_every: Duration::from_secs(stats_seconds.max(1)),
                    seed, enroll_concurrency, connections, max_in_flight,
                }).await.map(|_| ExitCode::SUCCESS)
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tilsyn-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `tilsyn-agent enroll`.
async fn enroll_cmd(mut args: EnrollArgs) -> anyhow::Result<ExitCode> {
    if !args.at_install {
        return enroll_given(args).await;
    }
    // Package scripts: the response file when there is one; nothing given, nothing to do;
    // and whatever happens, the installation goes on (problems are printed).
    if args.response_file.is_none() {
        args.response_file = Some(install_response_file()).filter(|p| p.exists());
    }
    let nothing = args.collector.is_none()
        && args.ca.is_none()
        && args.server_name.is_none()
        && args.token_file.is_none()
        && args.token.is_none()
        && args.response_file.is_none();
    if nothing {
        return Ok(ExitCode::SUCCESS);
    }
    args.log_filter = Some("warn".into());
    match enroll_given(args).await {
        Ok(code) if code == ExitCode::SUCCESS || code == ExitCode::from(agent::EXIT_DEFERRED) => {}
        Ok(_) => eprintln!("tilsyn-agent: enrollment at install did not succeed; run `tilsyn-agent enroll` again once the problem above is fixed"),
        Err(e) => eprintln!("tilsyn-agent: enrollment at install did not succeed ({e:#}); run `tilsyn-agent enroll` again once it is fixed"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Saves what `args` gives and enrolls (`tilsyn-agent enroll` without `--at-install`).
async fn enroll_given(args: EnrollArgs) -> anyhow::Result<ExitCode> {
    let EnrollArgs {
        config,
        force,
        collector,
        ca,
        server_name,
        token_file,
        token,
        response_file,
        wait,
        at_install: _,
        log_filter,
    } = args;
    let cfg = match load(&config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    init_logs(log_filter.as_deref().unwrap_or(&cfg.log));
    let token = match (token, token_file) {
        (Some(t), _) => Some(t),
        (None, Some(f)) => Some(
            tilsyn_proto::files::read_small(&f, tilsyn_proto::files::MAX_SECRET_BYTES)
                .map_err(|e| anyhow::anyhow!("cannot read the token file {}: {e}", f.display()))?,
        ),
        (None, None) => None,
    };
    let mut given = Given {
        url: collector,
        ca_file: ca,
        server_name,
        token,
    };
    if let Some(rf) = &response_file {
        let text = tilsyn_proto::files::read_small(rf, tilsyn_proto::files::MAX_SECRET_BYTES)
            .map_err(|e| anyhow::anyhow!("cannot read the response file {}: {e}", rf.display()))?;
        let base = rf.parent().unwrap_or(std::path::Path::new("/"));
        let from_file = enrollment::parse_response(&text, base)
            .map_err(|e| anyhow::anyhow!("response file {}: {e}", rf.display()))?;
        given = given.or(from_file);
    }
    if !given.is_empty() {
        enrollment::save_given(&cfg.state_dir, &given)?;
    }
    if let Some(rf) = &response_file {
        // Its contents (the token among them) now live in the state directory.
        std::fs::remove_file(rf).map_err(|e| {
            anyhow::anyhow!("cannot delete the response file {}: {e}", rf.display())
        })?;
    }
    match agent::enroll_now(&cfg, force, wait.0).await {
        Ok(agent::EnrollOutcome::Already(id)) => {
            println!(
                "already enrolled as {} (department {}); use --force to enroll again",
                id.agent_id, id.department
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(agent::EnrollOutcome::Enrolled(id)) => {
            println!("enrolled as {} (department {})", id.agent_id, id.department);
            Ok(ExitCode::SUCCESS)
        }
        Ok(agent::EnrollOutcome::Deferred(why)) => {
            eprintln!("the collector did not answer within {wait} ({why}); the collector and token are saved in {} and the agent service enrolls when the collector answers", cfg.state_dir.display());
            Ok(ExitCode::from(agent::EXIT_DEFERRED))
        }
        Err(e) if e.is::<agent::NoCollector>() || e.is::<agent::NoToken>() => {
            eprintln!("{e:#}");
            Ok(ExitCode::from(agent::EXIT_CONFIG))
        }
        Err(e) => Err(e),
    }
}
