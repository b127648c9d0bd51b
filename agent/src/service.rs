//! The agent as a Windows service (`tilsyn-agent service install|uninstall|run`), through
//! the `windows-service` crate. The service control manager starts it at boot as
//! LocalSystem, stops it (Stop and Shutdown: the agent finishes its step and leaves unsent
//! reports in the spool) and restarts it after a failure (10 s, 1 min, 5 min; the count is
//! reset after a day), which the service sets on its own registration at every start, so
//! an MSI's plain `ServiceInstall` gets the same recovery as `service install`.
//!
//! Logs go to `logs\agent.log` beside the config (`%ProgramData%\Tilsyn\logs`), rotated
//! at 10 MiB with three kept ([`crate::logfile`]). Enrollment given to the MSI arrives in
//! `HKLM\SOFTWARE\Tilsyn\Agent` and is taken from there at start ([`take_msi_enrollment`]).

#![cfg(windows)]

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{
    self, ServiceControlHandlerResult, ServiceStatusHandle,
};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use crate::config::AgentConfig;

/// The service's name (`sc query TilsynAgent`, `net stop TilsynAgent`).
pub const SERVICE_NAME: &str = "TilsynAgent";
const DISPLAY_NAME: &str = "Tilsyn agent";
const DESCRIPTION: &str = "Reports this PC's inventory, software, updates, security settings and health to the Tilsyn collector.";
/// The SCM waits this long for a stop before it gives up on the service.
const STOP_WAIT: Duration = Duration::from_secs(20);

/// The config the MSI's service starts with (packaging/windows/agent.yaml).
const DEFAULT_CONFIG: &str = include_str!("../../packaging/windows/agent.yaml");

/// Writes the default config when `config` does not exist. The installer does not own the
/// file, so an upgrade or uninstall leaves an edited config as it is.
fn ensure_config(config: &Path) -> anyhow::Result<()> {
    if config.exists() {
        return Ok(());
    }
    if let Some(dir) = config.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(config, DEFAULT_CONFIG)
        .with_context(|| format!("cannot write the default config {}", config.display()))
}

/// `tilsyn-agent service install`: registers the service (automatic start, LocalSystem,
/// restart on failure) for this executable and `config`, and starts it.
pub fn install(config: &Path) -> anyhow::Result<()> {
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .context("cannot open the service control manager (run as Administrator)")?;
    ensure_config(config)?;
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let info = ServiceInfo {
        name: SERVICE_NAME.into(),
        display_name: DISPLAY_NAME.into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments: vec![
            "service".into(),
            "run".into(),
            "--config".into(),
            config.as_os_str().to_owned(),
        ],
        dependencies: vec![],
        account_name: None,
        account_password: None,
    };
    let service = manager
        .create_service(
            &info,
            ServiceAccess::CHANGE_CONFIG | ServiceAccess::START | ServiceAccess::QUERY_STATUS,
        )
        .with_context(|| format!("cannot create the service {SERVICE_NAME} (does it exist already? `tilsyn-agent service uninstall` first)"))?;
    service.set_description(DESCRIPTION)?;
    if let Err(e) = set_recovery(&service) {
        // Wine has no failure actions; a real Windows always takes them.
        eprintln!("tilsyn-agent: warning: cannot set restart-on-failure actions: {e:#}");
    }
    service
        .start(&[] as &[&OsStr])
        .with_context(|| format!("service {SERVICE_NAME} registered but did not start"))?;
    println!(
        "service {SERVICE_NAME} installed and started (config {})",
        config.display()
    );
    Ok(())
}

/// `tilsyn-agent service uninstall`: stops the service (waiting for it) and removes it.
/// The state directory (identity, spool) stays.
pub fn uninstall() -> anyhow::Result<()> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .context("cannot open the service control manager (run as Administrator)")?;
    let service = manager
        .open_service(
            SERVICE_NAME,
            ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
        )
        .with_context(|| format!("cannot open the service {SERVICE_NAME} (is it installed?)"))?;
    if service.query_status()?.current_state != ServiceState::Stopped {
        service.stop().ok();
        let until = std::time::Instant::now() + STOP_WAIT;
        while service.query_status()?.current_state != ServiceState::Stopped {
            if std::time::Instant::now() > until {
                anyhow::bail!("service {SERVICE_NAME} did not stop within {STOP_WAIT:?}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    service.delete()?;
    println!("service {SERVICE_NAME} removed; the state directory is kept");
    Ok(())
}

fn set_recovery(service: &windows_service::service::Service) -> anyhow::Result<()> {
    let restart = |s| ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(s),
    };
    service.update_failure_actions(ServiceFailureActions {
        reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(86_400)),
        reboot_msg: None,
        command: None,
        actions: Some(vec![restart(10), restart(60), restart(300)]),
    })?;
    // An exit with an error code counts as a failure too, not only a crash.
    service.set_failure_actions_on_non_crash_failures(true)?;
    Ok(())
}

static CONFIG: OnceLock<PathBuf> = OnceLock::new();
static STATUS: OnceLock<ServiceStatusHandle> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// `tilsyn-agent service run`: what the SCM starts. Returns when the service stopped; an
/// error when this process was not started by the SCM.
pub fn run(config: PathBuf) -> anyhow::Result<()> {
    let _ = CONFIG.set(config);
    service_dispatcher::start(SERVICE_NAME, ffi_service_main).context(
        "`service run` is for the service control manager; use `tilsyn-agent run` in a console",
    )?;
    Ok(())
}

fn status(state: ServiceState, exit: u32, wait: Duration) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: if exit == 0 {
            ServiceExitCode::Win32(0)
        } else {
            ServiceExitCode::ServiceSpecific(exit)
        },
        checkpoint: 0,
        wait_hint: wait,
        process_id: None,
    }
}

fn service_main(_arguments: Vec<OsString>) {
    let handler = |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            if let Some(h) = STATUS.get() {
                let _ = h.set_service_status(status(ServiceState::StopPending, 0, STOP_WAIT));
            }
            crate::agent::request_stop();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(handle) = service_control_handler::register(SERVICE_NAME, handler) else {
        return;
    };
    let _ = STATUS.set(handle);
    let _ = handle.set_service_status(status(ServiceState::Running, 0, Duration::ZERO));
    // The agent runs on its own thread with a stack it chooses (8 MiB: a debug build's
    // futures are deep), not on the thread the dispatcher lent to service_main.
    let worker = std::thread::Builder::new()
        .name("agent".into())
        .stack_size(8 << 20)
        .spawn(serve);
    let code = match worker.map(|w| w.join()) {
        Ok(Ok(Ok(()))) => 0,
        Ok(Ok(Err(e))) => {
            tracing::error!("agent service failed: {e:#}");
            1
        }
        Ok(Err(_)) => 2,
        Err(e) => {
            tracing::error!("cannot start the agent's thread: {e}");
            3
        }
    };
    let _ = handle.set_service_status(status(ServiceState::Stopped, code, Duration::ZERO));
}

/// The service's work: logs to the rotated file, the MSI's enrollment, then the agent.
fn serve() -> anyhow::Result<()> {
    crate::agent::set_service_mode();
    let config = CONFIG
        .get()
        .cloned()
        .unwrap_or_else(crate::config::default_path);
    let base = config
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(crate::config::system_dir);
    let written = ensure_config(&config);
    let cfg = AgentConfig::load(&config);
    let log_filter = cfg
        .as_ref()
        .map(|c| c.log.clone())
        .unwrap_or_else(|_| "info".into());
    let log = crate::logfile::Rotating::open(&base.join("logs").join("agent.log"), 10 << 20, 3)
        .with_context(|| format!("cannot open the log in {}", base.join("logs").display()))?;
    let filter = tracing_subscriber::EnvFilter::try_new(&log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(crate::logfile::Shared(std::sync::Arc::new(
            std::sync::Mutex::new(log),
        )))
        .try_init();
    written?;
    // A service has no console: a panic goes to the log before the process ends (and
    // the service control manager restarts it).
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("the agent service panicked: {info}");
    }));
    let cfg = cfg.map_err(|e| anyhow::anyhow!("{e}"))?;
    tracing::info!(config = %config.display(), version = env!("CARGO_PKG_VERSION"), "service starting");
    if let Err(e) = ensure_recovery() {
        tracing::warn!("cannot set the service's restart-on-failure actions: {e:#}");
    }
    std::fs::create_dir_all(&cfg.state_dir)
        .with_context(|| format!("cannot create state_dir {}", cfg.state_dir.display()))?;
    crate::platform::secure_dir(&cfg.state_dir);
    match take_msi_enrollment(&cfg.state_dir) {
        Ok(true) => tracing::info!("took the collector and token given to the installer"),
        Ok(false) => {}
        Err(e) => tracing::warn!("cannot take the enrollment given to the installer: {e:#}"),
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(crate::agent::run(cfg))?;
    tracing::info!("service stopped");
    Ok(())
}

fn ensure_recovery() -> anyhow::Result<()> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)?;
    let service = manager.open_service(SERVICE_NAME, ServiceAccess::CHANGE_CONFIG)?;
    set_recovery(&service)
}

/// The registry key the MSI writes its COLLECTOR, CA, SERVER_NAME and TOKEN properties to.
pub const MSI_KEY: &str = r"SOFTWARE\Tilsyn\Agent";

/// Saves what the installer was given (`msiexec … COLLECTOR=… CA=… TOKEN=…`, or the same
/// values set by Group Policy preferences) into the state directory, as `tilsyn-agent
/// enroll` does, and deletes the values (the token above all) from the registry. `true`
/// when something was taken.
pub fn take_msi_enrollment(state_dir: &Path) -> anyhow::Result<bool> {
    use crate::platform::winapi;
    let values = winapi::machine_values(MSI_KEY, winapi::View::Bits64)?;
    let given = crate::enrollment::Given::from_msi_values(&values);
    if given.is_empty() {
        return Ok(false);
    }
    crate::enrollment::save_given(state_dir, &given)?;
    winapi::delete_values(MSI_KEY, &crate::enrollment::MSI_VALUES)?;
    Ok(true)
}
