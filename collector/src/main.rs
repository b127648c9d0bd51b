//! `tilsyn-collector`: thin CLI over the collector library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
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
    /// Check the config file and print every error with its line.
    Validate {
        #[arg(short, long, default_value = "/etc/tilsyn/collector.yaml")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (Cmd::Run { config } | Cmd::Validate { config }) = &cli.cmd;
    let cfg = match CollectorConfig::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Cmd::Validate { .. } = cli.cmd {
        println!(
            "{}: ok ({} departments, grpc {}, http {})",
            config.display(),
            cfg.departments.len(),
            cfg.grpc.listen,
            cfg.http.listen
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
