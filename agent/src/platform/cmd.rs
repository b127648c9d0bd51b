//! Running external commands with a time limit — the "how to obtain" half of a platform
//! source. Every command an agent runs goes through [`run`], so none can hang a probe.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::PlatformError;

/// Default limit for one external command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Output of a finished command.
#[derive(Debug)]
pub struct Output {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program args…` with no stdin, a cleared locale (so outputs parse the same
/// everywhere) and a time limit. A non-zero exit is *not* an error here: several tools
/// (`dnf check-update`, `needs-restarting -r`) report through their exit code.
pub async fn run(program: &str, args: &[&str], timeout: Duration) -> Result<Output, PlatformError> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => PlatformError::CommandMissing(program.to_string()),
        std::io::ErrorKind::PermissionDenied => {
            PlatformError::PermissionDenied(PathBuf::from(program))
        }
        _ => PlatformError::Io {
            path: PathBuf::from(program),
            message: e.to_string(),
        },
    })?;
    let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(r) => r.map_err(|e| PlatformError::Io {
            path: PathBuf::from(program),
            message: e.to_string(),
        })?,
        Err(_) => {
            return Err(PlatformError::Timeout {
                command: format!("{program} {}", args.join(" ")),
                seconds: timeout.as_secs(),
            })
        }
    };
    Ok(Output {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Like [`run`], but a non-zero exit status is an error carrying stderr.
pub async fn run_ok(
    program: &str,
    args: &[&str],
    timeout: Duration,
) -> Result<String, PlatformError> {
    let out = run(program, args, timeout).await?;
    if out.status == Some(0) {
        Ok(out.stdout)
    } else {
        Err(PlatformError::Failed {
            command: format!("{program} {}", args.join(" ")),
            status: out.status,
            stderr: out.stderr.trim().chars().take(400).collect(),
        })
    }
}

/// Reads a text file, mapping errors to the platform error kinds.
pub fn read(path: &Path) -> Result<String, PlatformError> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| PlatformError::from_io(path, e))
}

/// Whether a program can be found on PATH (used to pick which package manager is here).
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Modification time of a file in ms since the epoch, if it exists.
pub fn mtime_ms(path: &Path) -> Option<i64> {
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    let d = m.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(d.as_millis() as i64)
}

/// Newest modification time (ms) of files named one of `names` under `root`, at most
/// `max_depth` directories deep: when a package manager last refreshed its metadata cache
/// (dnf's `repomd.xml`, zypper's raw cache). Symlinks are not followed.
pub fn newest_mtime_ms(root: &Path, names: &[&str], max_depth: usize) -> Option<i64> {
    let mut newest = None;
    let Ok(entries) = std::fs::read_dir(root) else {
        return None;
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let path = e.path();
        if ft.is_dir() {
            if max_depth > 0 {
                newest = newest.max(newest_mtime_ms(&path, names, max_depth - 1));
            }
        } else if ft.is_file() && names.iter().any(|n| e.file_name() == **n) {
            newest = newest.max(mtime_ms(&path));
        }
    }
    newest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    #[cfg(unix)]
    async fn a_hanging_command_is_cut_off() {
        let err = run("sleep", &["5"], Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, PlatformError::Timeout { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_missing_command_says_so() {
        let err = run("tilsyn-no-such-tool", &[], DEFAULT_TIMEOUT)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("tilsyn-no-such-tool"), "{err}");
        assert!(matches!(err, PlatformError::CommandMissing(_)));
    }

    #[tokio::test]
    async fn non_zero_exit_is_an_error_only_for_run_ok() {
        let (program, args): (&str, &[&str]) = if cfg!(windows) {
            ("cmd", &["/c", "exit 1"])
        } else {
            ("false", &[])
        };
        assert_eq!(
            run(program, args, DEFAULT_TIMEOUT).await.unwrap().status,
            Some(1)
        );
        assert!(run_ok(program, args, DEFAULT_TIMEOUT).await.is_err());
    }
}
