//! The `tilsyn-collector` command line: `run` (over [`crate::server::run`]), `validate`,
//! `standards`, `incidents`, `outbox`, `report sla`, and (in `cli_admin`) `token`, `audit`,
//! `host`, `maintenance` and `waiver`. `main.rs` only calls [`main`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tilsyn_collector_core::compliance::standard::StandardSet;
use tilsyn_collector_store::Store;

use crate::config::CollectorConfig;

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
    /// Create or upgrade the database schema (what `run` does when it starts), print the
    /// version and exit: for package upgrades, before the service starts again.
    Migrate {
        #[arg(short, long, default_value = "/etc/tilsyn/collector.yaml")]
        config: PathBuf,
    },
    /// Work with the collector's database as a whole.
    Store {
        #[command(subcommand)]
        cmd: StoreCmd,
    },
    /// Ask the collector on this machine whether it is ready (GET /readyz on http.listen)
    /// and exit 0 when it is: for container and service-manager health checks.
    Health {
        #[arg(short, long, default_value = "/etc/tilsyn/collector.yaml")]
        config: PathBuf,
        /// How long to wait for the answer.
        #[arg(long, default_value = "5s")]
        timeout: tilsyn_proto::duration::HumanDuration,
    },
    /// Work with standards files without a running collector.
    Standards {
        #[command(subcommand)]
        cmd: StandardsCmd,
    },
    /// List incidents from the collector's database (works while it runs).
    Incidents {
        #[arg(short, long, default_value = "/etc/tilsyn/collector.yaml")]
        config: PathBuf,
        /// open, suppressed or resolved.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        department: Option<String>,
        /// P1 … P5.
        #[arg(long)]
        priority: Option<String>,
        /// Hostname or agent id.
        #[arg(long)]
        host: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Reports from the collector's database (works while it runs).
    Report {
        #[command(subcommand)]
        cmd: ReportCmd,
    },
    /// API tokens: create (printed once), list, revoke.
    Token {
        #[arg(short, long, default_value = "/etc/tilsyn/collector.yaml")]
        config: PathBuf,
        #[command(subcommand)]
        cmd: crate::cli_admin::TokenCmd,
    },
    /// The audit trail, newest first: who did what, when, from where.
    Audit {
        #[arg(short, long, default_value = "/etc/tilsyn/collector.yaml")]
        config: PathBuf,
        /// RFC 3339 or a date.
        #[arg(long)]
        since: Option<String>,
        /// e.g. `token:ops` or `cli:alice`.
        #[arg(long)]
        actor: Option<String>,
        /// e.g. `host.retire`, `token.create`, `maintenance.create`.
        #[arg(long)]
        action: Option<String>,
        /// e.g. `host:ag_…` or `window:CHG001`.
        #[arg(long)]
        subject: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Retire, move or revoke a host.
    Host {
        #[arg(short, long, default_value = "/etc/tilsyn/collector.yaml")]
        config: PathBuf,
        #[command(subcommand)]
        cmd: crate::cli_admin::HostCmd,
    },
    /// Change windows: create, extend, end, list.
    Maintenance {
        #[arg(short, long, default_value = "/etc/tilsyn/collector.yaml")]
        config: PathBuf,
        #[command(subcommand)]
        cmd: crate::cli_admin::MaintenanceCmd,
    },
    /// Waivers made here or through the API: grant, withdraw, list.
    Waiver {
        #[arg(short, long, default_value = "/etc/tilsyn/collector.yaml")]
        config: PathBuf,
        #[command(subcommand)]
        cmd: crate::cli_admin::WaiverCmd,
    },
    /// Desk actions waiting for delivery: list them, retry a failed one, or abandon one.
    Outbox {
        #[arg(short, long, default_value = "/etc/tilsyn/collector.yaml")]
        config: PathBuf,
        #[command(subcommand)]
        cmd: OutboxCmd,
    },
}

#[derive(Subcommand)]
enum OutboxCmd {
    /// Undelivered actions (pending and failed), newest first; --state to choose.
    List {
        /// pending, failed, done, abandoned or skipped.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Deliver a failed (or waiting) action again, now.
    Retry { id: i64 },
    /// Give up on an action; the ones after it for the same incident go ahead.
    Abandon { id: i64 },
}

#[derive(Subcommand)]
enum ReportCmd {
    /// The monthly SLA report: per department, availability per service, response and
    /// resolution attainment per priority, breaches, compliance and patch figures.
    Sla {
        #[arg(short, long, default_value = "/etc/tilsyn/collector.yaml")]
        config: PathBuf,
        /// YYYY-MM in the SLA file's time zone; default the current month.
        #[arg(long)]
        month: Option<String>,
        /// One department (id); default every department.
        #[arg(long)]
        department: Option<String>,
        /// html (one self-contained file), markdown or csv.
        #[arg(long, default_value = "markdown")]
        format: String,
        /// The HTML report's language: en, da (any collector/locales/*.ftl); default the
        /// config's console.language. Markdown and CSV are English.
        #[arg(long)]
        lang: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
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

#[derive(Subcommand)]
enum StoreCmd {
    /// Copy this collector's SQLite database (store.sqlite_path) into an empty PostgreSQL
    /// database and check the copy: hosts, history, compliance, incidents with their
    /// tickets, the outbox and SLA figures. Stop the collector first; then set
    /// store.postgres in collector.yaml (if it is not set yet) and start it again.
    Migrate {
        #[arg(short, long, default_value = "/etc/tilsyn/collector.yaml")]
        config: PathBuf,
        /// The engine to move to.
        #[arg(long, value_parser = ["postgres"])]
        to: String,
        /// The PostgreSQL connection string (default: store.postgres from the config).
        #[arg(long)]
        url: Option<String>,
        /// A file holding the connection string.
        #[arg(long)]
        url_file: Option<PathBuf>,
        /// The CA (PEM) the database server's certificate chains to.
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
}

/// Parses the command line and runs the command; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match &cli.cmd {
        Cmd::Run { config }
        | Cmd::Validate { config }
        | Cmd::Migrate { config }
        | Cmd::Health { config, .. }
        | Cmd::Store {
            cmd: StoreCmd::Migrate { config, .. },
        } => config,
        Cmd::Standards { cmd } => return standards(cmd),
        Cmd::Incidents { config, .. }
        | Cmd::Outbox { config, .. }
        | Cmd::Token { config, .. }
        | Cmd::Audit { config, .. }
        | Cmd::Host { config, .. }
        | Cmd::Maintenance { config, .. }
        | Cmd::Waiver { config, .. }
        | Cmd::Report {
            cmd: ReportCmd::Sla { config, .. },
        } => config,
    };
    let cfg = match CollectorConfig::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    match &cli.cmd {
        Cmd::Health { timeout, .. } => return health(&cfg, timeout.0),
        Cmd::Token { cmd, .. } => return crate::cli_admin::token(&cfg, cmd),
        Cmd::Host { cmd, .. } => return crate::cli_admin::host(&cfg, cmd),
        Cmd::Maintenance { cmd, .. } => return crate::cli_admin::maintenance(&cfg, cmd),
        Cmd::Waiver { cmd, .. } => return crate::cli_admin::waiver(&cfg, cmd),
        Cmd::Audit {
            since,
            actor,
            action,
            subject,
            limit,
            json,
            ..
        } => {
            return crate::cli_admin::audit(
                &cfg,
                since.as_deref(),
                actor.as_deref(),
                action.as_deref(),
                subject.as_deref(),
                *limit,
                *json,
            )
        }
        Cmd::Incidents {
            state,
            department,
            priority,
            host,
            limit,
            json,
            ..
        } => {
            let f = tilsyn_collector_core::incidents::records::IncidentFilter {
                state: state.clone(),
                department: department.clone(),
                priority: priority.clone(),
                host: host.clone(),
                limit: Some(*limit),
                ..Default::default()
            };
            return offline_store(&cfg, |st| {
                let rows = st.list_incidents(&f)?;
                print!(
                    "{}",
                    tilsyn_collector_core::incidents::cli::incident_table(&rows, *json)
                );
                Ok(())
            });
        }
        Cmd::Report {
            cmd:
                ReportCmd::Sla {
                    month,
                    department,
                    format,
                    lang,
                    output,
                    ..
                },
        } => {
            return sla_report(
                &cfg,
                month.as_deref(),
                department.as_deref(),
                lang.as_deref(),
                format,
                output.as_deref(),
            )
        }
        Cmd::Store {
            cmd:
                StoreCmd::Migrate {
                    url,
                    url_file,
                    ca_file,
                    ..
                },
        } => return store_migrate(&cfg, url, url_file, ca_file),
        Cmd::Migrate { .. } => {
            // Opening the store creates or upgrades the schema.
            return offline_store(&cfg, |st| {
                println!(
                    "{}: schema version {}",
                    cfg.store.describe(),
                    st.schema_version()?
                );
                Ok(())
            });
        }
        Cmd::Outbox { cmd, .. } => {
            return offline_store(&cfg, |st| {
                let now = crate::server::now_ms();
                match cmd {
                    OutboxCmd::List { state, limit } => {
                        let rows = match state {
                            Some(s) => st.outbox_list(Some(s), None, *limit)?,
                            None => {
                                let mut v = st.outbox_list(Some("failed"), None, *limit)?;
                                v.extend(st.outbox_list(Some("pending"), None, *limit)?);
                                v
                            }
                        };
                        print!(
                            "{}",
                            tilsyn_collector_core::incidents::cli::outbox_table(&rows)
                        );
                    }
                    OutboxCmd::Retry { id } | OutboxCmd::Abandon { id } => {
                        let retry = matches!(cmd, OutboxCmd::Retry { .. });
                        match st.outbox_operator(*id, retry, now)? {
                            Some(i) => println!(
                                "outbox item {id} ({} {} on desk {}) is now {}",
                                i.action, i.subject, i.desk, i.state
                            ),
                            None => {
                                return Err(tilsyn_collector_store::StoreError::Db(format!(
                                    "no outbox item {id}"
                                )))
                            }
                        }
                    }
                }
                Ok(())
            });
        }
        _ => {}
    }
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
    match rt.block_on(crate::server::run(cfg, shutdown_signal(), |_| {})) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tilsyn-collector: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the configured database for a CLI command (the running collector may share it:
/// SQLite in WAL mode lets both work).
fn sla_report(
    cfg: &CollectorConfig,
    month: Option<&str>,
    department: Option<&str>,
    lang: Option<&str>,
    format: &str,
    output: Option<&std::path::Path>,
) -> ExitCode {
    use crate::services::sla as service;
    use tilsyn_collector_core::sla::{render, report::Period};
    let fail = |m: String| {
        eprintln!("tilsyn-collector report sla: {m}");
        ExitCode::from(2)
    };
    let policy =
        match cfg.sla_policy() {
            Ok(Some(p)) => p,
            Ok(None) => return fail(
                "no SLA file configured: set sla.file in the collector config (see configs/sla.md)"
                    .into(),
            ),
            Err(es) => return fail(es.join("\n  ")),
        };
    let lang = match lang {
        None => cfg.console.language(),
        Some(l) => match crate::console::i18n::known(l) {
            Some(l) => l,
            None => {
                return fail(format!(
                    "unknown language {l:?}: use {}",
                    crate::console::i18n::languages().join(", ")
                ))
            }
        },
    };
    let render: Box<dyn Fn(&_, &jiff::tz::TimeZone) -> String> = match format {
        "html" => Box::new(move |r, tz: &jiff::tz::TimeZone| {
            crate::console::report::html(&crate::console::i18n::Tr::new(lang, tz.clone()), r)
        }),
        "markdown" | "md" => Box::new(render::markdown),
        "csv" => Box::new(render::csv),
        f => return fail(format!("unknown format {f:?}: use html, markdown or csv")),
    };
    if let Some(d) = department {
        if let Err(e) = policy.check_department(d) {
            return fail(e);
        }
    }
    let now = crate::server::now_ms();
    let period = match Period::chosen(month, None, &policy.time_zone, now) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let file_windows = match cfg.incidents.compile() {
        Ok(p) => p.windows,
        Err(es) => return fail(es.join("\n  ")),
    };
    let tz = policy.time_zone.clone();
    let mut text = None;
    let code = offline_store(cfg, |st| {
        // The file's windows and the change windows, as the running collector has them.
        let rows = crate::services::lifecycle::change_windows(st, now)?;
        let cat = service::Catalogue {
            policy,
            windows: crate::services::lifecycle::windows_in_force(&file_windows, &rows),
            departments: cfg.department_names(),
        };
        let r = service::report(st, &cat, &period, department, now)?;
        text = Some(render(&r, &tz));
        Ok(())
    });
    let Some(text) = text else { return code };
    match output {
        None => print!("{text}"),
        Some(p) => {
            if let Err(e) = std::fs::write(p, text) {
                return fail(format!("cannot write {}: {e}", p.display()));
            }
        }
    }
    ExitCode::SUCCESS
}

/// `tilsyn-collector health`: one plain HTTP/1.0 request to `/readyz` (no client library:
/// it runs every few seconds in a container's health check).
fn health(cfg: &CollectorConfig, timeout: std::time::Duration) -> ExitCode {
    use std::io::{Read, Write};
    let mut addr = cfg.http.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let answer = (|| -> std::io::Result<String> {
        let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        write!(s, "GET /readyz HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
        let mut text = String::new();
        s.take(64 * 1024).read_to_string(&mut text)?;
        Ok(text)
    })();
    match answer {
        Ok(text) => {
            let status = text.lines().next().unwrap_or_default();
            if status.split_whitespace().nth(1) == Some("200") {
                println!("ready (http://{addr}/readyz)");
                ExitCode::SUCCESS
            } else {
                let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
                println!("not ready (http://{addr}/readyz: {status}) {}", body.trim());
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            println!("not ready: http://{addr}/readyz: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `store migrate --to postgres`: the configured SQLite database into PostgreSQL.
fn store_migrate(
    cfg: &CollectorConfig,
    url: &Option<String>,
    url_file: &Option<PathBuf>,
    ca_file: &Option<PathBuf>,
) -> ExitCode {
    let mut target = cfg.store.postgres.clone().unwrap_or_default();
    if url.is_some() || url_file.is_some() {
        target.url = url.clone();
        target.url_file = url_file.clone();
    }
    if ca_file.is_some() {
        target.ca_file = ca_file.clone();
    }
    if target.url.is_none() && target.url_file.is_none() {
        eprintln!(
            "tilsyn-collector: where to? Give --url (or --url-file), or set store.postgres in the config"
        );
        return ExitCode::from(2);
    }
    let path = &cfg.store.sqlite_path;
    if !path.is_file() {
        eprintln!(
            "tilsyn-collector: there is no SQLite database at {} (store.sqlite_path) to move",
            path.display()
        );
        return ExitCode::from(2);
    }
    let mut from_cfg = cfg.store.clone();
    from_cfg.postgres = None;
    let mut to_cfg = cfg.store.clone();
    to_cfg.postgres = Some(target);
    let opened = tilsyn_collector_store::open_sql(&from_cfg)
        .and_then(|f| Ok((f, tilsyn_collector_store::open_sql(&to_cfg)?)));
    let (from, to) = match opened {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tilsyn-collector: {e}");
            return ExitCode::from(2);
        }
    };
    println!("copying {} into {}", from.describe(), to.describe());
    let started = std::time::Instant::now();
    match tilsyn_collector_store::copy::copy_store(&from, &to, &mut |table, rows| {
        println!("  {table:<18} {rows:>12} rows")
    }) {
        Ok(_) => {
            println!(
                "copied and checked in {:.1} s: row counts, host counts, incidents, problems and the outbox are equal",
                started.elapsed().as_secs_f64()
            );
            if cfg.store.postgres.is_none() {
                println!("now set store.postgres in the collector's configuration and start it");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tilsyn-collector: {e}");
            ExitCode::FAILURE
        }
    }
}

fn offline_store(
    cfg: &CollectorConfig,
    f: impl FnOnce(&dyn Store) -> tilsyn_collector_store::Result<()>,
) -> ExitCode {
    let st = match tilsyn_collector_store::open(&cfg.store) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tilsyn-collector: {e}");
            return ExitCode::from(2);
        }
    };
    match f(&*st) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tilsyn-collector: {e}");
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
            match crate::services::compliance::try_standard(standard, facts, waivers, at.as_deref())
            {
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
