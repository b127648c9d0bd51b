//! `tilsyn-agent`: thin CLI over the agent library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tilsyn_agent::config::AgentConfig;
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
        #[arg(short, long, default_value = "/etc/tilsyn/agent.yaml")]
        config: PathBuf,
    },
    /// Check the config file and print every error with its line.
    Validate {
        #[arg(short, long, default_value = "/etc/tilsyn/agent.yaml")]
        config: PathBuf,
    },
    /// Enroll with the collector (with --force: also when an identity exists or is corrupt).
    Enroll {
        #[arg(short, long, default_value = "/etc/tilsyn/agent.yaml")]
        config: PathBuf,
        #[arg(long)]
        force: bool,
    },
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
    },
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
                println!("{}: ok (collector {}, state_dir {})", config.display(), cfg.collector.url, cfg.state_dir.display());
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
            Cmd::Enroll { config, force } => {
                let cfg = match load(&config) {
                    Ok(c) => c,
                    Err(code) => return Ok(code),
                };
                init_logs(&cfg.log);
                if !force {
                    if let Some(id) = tilsyn_agent::state::load(&cfg.state_dir)? {
                        println!("already enrolled as {} (department {}); use --force to enroll again", id.agent_id, id.department);
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                let id = agent::force_enroll(&cfg).await?;
                println!("enrolled as {} (department {})", id.agent_id, id.department);
                Ok(ExitCode::SUCCESS)
            }
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
            Cmd::Simulate { collector, ca, tokens, hosts, offline_percent, degrade_percent, ramp_seconds, duration_seconds, stats_seconds, seed, enroll_concurrency, connections, max_in_flight } => {
                init_logs("warn");
                let ca_pem = match ca {
                    Some(p) => Some(std::fs::read(&p).map_err(|e| anyhow::anyhow!("cannot read --ca {}: {e}", p.display()))?),
                    None => None,
                };
                let target = transport::Target { url: collector, ca_pem, server_name: None, timeout: Duration::from_secs(30) };
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
