//! A private PostgreSQL server for the tests and benchmarks: `initdb` into a temporary
//! directory, `postgres` listening on 127.0.0.1 at a free port only (trust authentication
//! for the `tilsyn` user, which is safe on loopback in a private directory), stopped and
//! removed on drop — and, for the one a test process shares ([`shared`]), by a watchdog
//! when the process exits. As root (CI), the server runs as the `postgres` user, which
//! Debian's `postgresql` package creates. Binaries come from PATH or
//! `/usr/lib/postgresql/<version>/bin` (where Debian puts them).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::postgres::PostgresConfig;

pub struct PgServer {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
    child: Option<Child>,
    databases: AtomicU32,
}

/// The server the tests of one process share, started on first use.
pub fn shared() -> Result<&'static PgServer, String> {
    static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let s = PgServer::start(false)?;
            s.watch(std::process::id());
            Ok(s)
        })
        .as_ref()
        .map_err(|e| e.clone())
}

/// Where `initdb` and `postgres` are.
fn bin_dir() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("initdb").is_file() && d.join("postgres").is_file() {
                return Ok(d);
            }
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let b = e.path().join("bin");
            b.join("initdb").is_file().then_some((v, b))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b).ok_or_else(|| {
        "PostgreSQL's initdb and postgres were not found on PATH or in /usr/lib/postgresql/*/bin: \
         install Debian's postgresql package (.ci/run does)"
            .to_string()
    })
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// (uid, gid) of the `postgres` user.
fn postgres_user() -> Result<(u32, u32), String> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&"postgres") && f.len() > 3)
                .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
                .flatten()
        })
        .ok_or_else(|| {
            "running as root, and there is no postgres user to run PostgreSQL as: install \
             Debian's postgresql package"
                .into()
        })
}

impl PgServer {
    /// Initializes and starts a server. `durable`: with fsync and synchronous commit as in
    /// production (benchmarks); without, for tests (much faster, nothing to lose).
    pub fn start(durable: bool) -> Result<PgServer, String> {
        let bin = bin_dir()?;
        let dir = std::env::temp_dir().join(format!(
            "tilsyn-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let as_user = if is_root() {
            let (uid, gid) = postgres_user()?;
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", dir.display()))?;
            true
        } else {
            false
        };
        let cmd = |prog: &str| {
            let mut c = if as_user {
                let mut c = Command::new("setpriv");
                c.args([
                    "--reuid=postgres",
                    "--regid=postgres",
                    "--init-groups",
                    "--",
                ]);
                c.arg(bin.join(prog));
                c
            } else {
                Command::new(bin.join(prog))
            };
            c.env("LC_ALL", "C.UTF-8").current_dir(&dir);
            c
        };
        let data = dir.join("data");
        let out = cmd("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "tilsyn", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .output()
            .map_err(|e| format!("running initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let log = std::fs::File::create(dir.join("postgres.log")).map_err(|e| e.to_string())?;
        let sync = if durable { "on" } else { "off" };
        let child = cmd("postgres")
            .arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-k"])
            .arg(&dir)
            .args(["-c", &format!("fsync={sync}")])
            .args(["-c", &format!("synchronous_commit={sync}")])
            .args(["-c", &format!("full_page_writes={sync}")])
            .args(["-c", "max_connections=300", "-c", "shared_buffers=128MB"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting postgres: {e}"))?;
        let mut s = PgServer {
            dir,
            port,
            bin,
            child: Some(child),
            databases: AtomicU32::new(0),
        };
        s.wait_ready()?;
        Ok(s)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    return Err(format!("postgres exited ({st}): {}", self.log()));
                }
            }
            let mut cfg = postgres::Config::new();
            cfg.host("127.0.0.1")
                .port(self.port)
                .user("tilsyn")
                .dbname("postgres")
                .connect_timeout(Duration::from_secs(2));
            if cfg.connect(postgres::NoTls).is_ok() {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!(
                    "postgres did not accept connections in 60 s: {}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The end of the server's log, for errors.
    pub fn log(&self) -> String {
        let l = std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
        l[l.len().saturating_sub(2000)..].to_string()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// The connection string of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://tilsyn@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database and returns a store configuration for it.
    pub fn new_database(&self) -> Result<PostgresConfig, String> {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("t{}_{n}", std::process::id());
        let mut c = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .map_err(|e| format!("connecting to the test server: {e}"))?;
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
        Ok(PostgresConfig {
            url: Some(self.url(&name)),
            pool_size: Some(4),
            ..Default::default()
        })
    }

    /// Stops the server at once when process `pid` has exited, and removes its directory.
    fn watch(&self, pid: u32) {
        let Some(child) = &self.child else { return };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; kill -QUIT {} 2>/dev/null; sleep 2; rm -rf '{}'",
            child.id(),
            self.dir.display()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// Stops the server (immediate shutdown, as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-QUIT", &c.id().to_string()])
                .status();
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
