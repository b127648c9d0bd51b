//! `tilsyn-collector`: thin CLI over the collector library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tilsyn_collector::compliance::standard::StandardSet;
use tilsyn_collector::config::CollectorConfig;

#[derive(Parser)]
#[command(
    name = "tilsyn-collector",
    version,
    about = "Tilsyn collector: agents in, metrics and API out"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve gRPC (agents) and HTTP (metrics, API) until stopped.
    Run {
        #[arg(short, long, default_value = "/etc/tilsyn/collector.yaml")]
        config: PathBuf,
    },
    /// Check the config file (and the standards it names) and print every error.
    Validate {
        #[arg(short, long, default_value = "/etc/tilsyn/collector.yaml")]
        config: PathBuf,
    },
    /// Work with standards files without a running collector.
    Standards {
        #[command(subcommand)]
        cmd: StandardsCmd,
    },
}

#[derive(Subcommand)]
enum StandardsCmd {
    /// Check every standard and waiver in DIR; print every error with file and line.
    Validate { dir: PathBuf },
    /// Evaluate a standard against a host's facts (e.g. saved from
    /// GET /api/v1/hosts/{id}/facts) and print a table.
    Test {
        /// The standard file.
        #[arg(long)]
        standard: PathBuf,
        /// Facts file (JSON, or YAML in the same shape).
        #[arg(long)]
        facts: PathBuf,
        /// Waiver files to apply, if any.
        #[arg(long)]
        waivers: Vec<PathBuf>,
        /// Evaluate as of this date (YYYY-MM-DD) instead of now: try waiver expiry.
        #[arg(long)]
        at: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match &cli.cmd {
        Cmd::Run { config } | Cmd::Validate { config } => config,
        Cmd::Standards { cmd } => return standards(cmd),
    };
    let cfg = match CollectorConfig::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Cmd::Validate { .. } = cli.cmd {
        let set = match StandardSet::load_dir(&cfg.compliance.standards_dir) {
            Ok(s) => s,
            Err(e) => {
                eprint!("{e}");
                return ExitCode::from(2);
            }
        };
        println!(
            "{}: ok ({} departments, grpc {}, http {}, {} standards with {} rules from {})",
            config.display(),
            cfg.departments.len(),
            cfg.grpc.listen,
            cfg.http.listen,
            set.standards.len(),
            set.rule_count(),
            cfg.compliance.standards_dir.display()
        );
        return ExitCode::SUCCESS;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cfg.log))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(tilsyn_collector::server::run(
        cfg,
        shutdown_signal(),
        |_| {},
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tilsyn-collector: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn standards(cmd: &StandardsCmd) -> ExitCode {
    match cmd {
        StandardsCmd::Validate { dir } => match StandardSet::load_dir(dir) {
            Ok(set) => {
                for s in &set.standards {
                    println!(
                        "{}: {} {} ({} rules)",
                        s.file.display(),
                        s.id,
                        s.version,
                        s.rules.len()
                    );
                }
                println!(
                    "{}: ok ({} standards, {} rules, {} waivers)",
                    dir.display(),
                    set.standards.len(),
                    set.rule_count(),
                    set.waivers.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprint!("{e}");
                ExitCode::from(2)
            }
        },
        StandardsCmd::Test {
            standard,
            facts,
            waivers,
            at,
        } => {
            match tilsyn_collector::compliance::try_standard(
                standard,
                facts,
                waivers,
                at.as_deref(),
            ) {
                Ok((table, compliant)) => {
                    print!("{table}");
                    if compliant {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
