//! Harness for the end-to-end tests: builds and starts the real `tilsyn-collector` and
//! `tilsyn-agent` binaries on loopback with throw-away configs, and polls their HTTP API.
//! Every wait is bounded; processes are killed when their handle drops.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

pub mod browser;

pub const TOKEN: &str = "e2e-token-for-social-services";
/// The enrollment token of the second department, `schools`, where a [`Spec`] adds it.
pub const SCHOOLS_TOKEN: &str = "e2e-token-for-schools";

/// This machine's hostname, as the agent reports it.
pub fn this_hostname() -> String {
    let out = Command::new("hostname").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The workspace root (shipped configs and fixtures live there).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Path of a workspace binary, built (once per test run) so it is never stale.
pub fn bin(name: &str) -> PathBuf {
    static BUILD: Once = Once::new();
    let root = repo_root();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .current_dir(&root)
            .args([
                "build",
                "-q",
                "-p",
                "tilsyn-agent",
                "-p",
                "tilsyn-collector",
                "--bins",
            ])
            .status()
            .expect("run cargo build");
        assert!(st.success(), "building the binaries failed");
    });
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("debug").join(name)
}

/// Wall-clock ms since the Unix epoch: the collector's own clock.
pub use tilsyn_proto::time::now_ms;

/// One service of the first department in an SLA report (`/api/v1/sla?department=…`).
pub fn sla_service<'a>(r: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    r["departments"][0]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == id)
        .unwrap_or_else(|| panic!("no service {id} in {r}"))
}

/// The gRPC and HTTP ports from the collector's "collector listening" log line.
fn bound_ports(log: &str) -> Option<(u16, u16)> {
    let mut plain = String::with_capacity(log.len());
    let mut it = log.chars();
    while let Some(ch) = it.next() {
        if ch == '\u{1b}' {
            // An ANSI colour sequence: ESC [ ... m.
            for c in it.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(ch);
        }
    }
    let line = plain.lines().find(|l| l.contains("collector listening"))?;
    let port = |key: &str| -> Option<u16> {
        let rest = &line[line.find(key)? + key.len()..];
        let addr = rest.split_whitespace().next()?;
        addr.rsplit(':').next()?.parse().ok()
    };
    Some((port("grpc=")?, port("http=")?))
}

/// A child process killed on drop; its output goes to a log file kept for diagnosis.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(bin: &Path, args: &[&str], log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        Proc { child, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM (graceful), then wait.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A collector with its own data directory and ports.
pub struct Collector {
    pub dir: PathBuf,
    pub grpc_port: u16,
    pub http_port: u16,
    pub config: PathBuf,
    pub proc: Option<Proc>,
    /// Sent as a bearer token by [`Self::get`] and [`Self::metrics`] (with `http.auth`).
    pub token: Option<String>,
}

/// What a test's collector has beyond the defaults of [`Collector::start`].
#[derive(Default)]
pub struct Spec<'a> {
    /// YAML after the config (top-level sections the defaults do not write).
    pub extra: &'a str,
    /// Lines under `http:` (indented two spaces), e.g. an `auth:` section.
    pub http: &'a str,
    /// A second department `schools` (enrollment token [`SCHOOLS_TOKEN`]).
    pub schools: bool,
    /// The token the harness's own requests carry.
    pub token: Option<&'a str>,
}

impl Collector {
    /// Writes a config (TLS auto, short offline detection, the shipped standards) and
    /// starts the collector.
    pub fn start(dir: &Path, extra: &str) -> Collector {
        Self::start_with_standards(dir, extra, &repo_root().join("configs/standards"))
    }

    /// [`Self::start`] with another standards directory (watched every second).
    pub fn start_with_standards(dir: &Path, extra: &str, standards: &Path) -> Collector {
        Self::start_full(
            dir,
            &Spec {
                extra,
                ..Spec::default()
            },
            standards,
            "",
        )
    }

    /// [`Self::start`] as `spec` says.
    pub fn start_spec(dir: &Path, spec: &Spec) -> Collector {
        Self::start_full(dir, spec, &repo_root().join("configs/standards"), "")
    }

    /// [`Self::start`] with its data in PostgreSQL (`url`) instead of SQLite.
    pub fn start_on_postgres(dir: &Path, url: &str, extra: &str) -> Collector {
        Self::start_full(
            dir,
            &Spec {
                extra,
                ..Spec::default()
            },
            &repo_root().join("configs/standards"),
            &format!("  postgres:\n    url: '{url}'\n"),
        )
    }

    fn start_full(dir: &Path, spec: &Spec, standards: &Path, store: &str) -> Collector {
        let config = dir.join("collector.yaml");
        let (extra, http) = (spec.extra, spec.http);
        let schools = if spec.schools {
            format!("  - id: schools\n    name: Schools\n    tokens: [{SCHOOLS_TOKEN}]\n")
        } else {
            String::new()
        };
        let write = |grpc_port: u16, http_port: u16| {
            std::fs::write(
                &config,
                format!(
                    "data_dir: data
grpc:
  listen: 127.0.0.1:{grpc_port}
  tls: {{mode: auto}}
  max_message_bytes: 1048576
http:
  listen: 127.0.0.1:{http_port}
{http}offline:
  missed_intervals: 2
  check_every: 1s
store:
  rollup_every: 1s
{store}departments:
  - id: social-services
    name: Social Services
    tokens: [{TOKEN}]
{schools}compliance:
  standards_dir: '{standards}'
  watch_every: 1s
settings:
  defaults:
    health_interval: 5s
{extra}",
                    standards = standards.display()
                ),
            )
            .unwrap()
        };
        // Port 0: the collector binds free ports itself and logs them (no window in which
        // another test could take a port picked for us). Restarts reuse them.
        write(0, 0);
        let mut c = Collector {
            dir: dir.to_path_buf(),
            grpc_port: 0,
            http_port: 0,
            config: config.clone(),
            proc: None,
            token: spec.token.map(str::to_string),
        };
        c.spawn();
        let (grpc_port, http_port) = {
            let p = c.proc.as_mut().unwrap();
            wait_for(
                Duration::from_secs(30),
                "the collector's bound ports",
                || {
                    if let Ok(Some(st)) = p.child.try_wait() {
                        panic!("the collector exited ({st}):\n{}", p.log_text());
                    }
                    bound_ports(&p.log_text())
                },
            )
            .unwrap_or_else(|e| panic!("{e}\n{}", p.log_text()))
        };
        (c.grpc_port, c.http_port) = (grpc_port, http_port);
        write(grpc_port, http_port);
        c.wait_ready();
        c
    }

    fn spawn(&mut self) {
        let n = std::fs::read_dir(&self.dir).map(|d| d.count()).unwrap_or(0);
        self.proc = Some(Proc::spawn(
            &bin("tilsyn-collector"),
            &["run", "--config", self.config.to_str().unwrap()],
            self.dir.join(format!("collector-{n}.log")),
        ));
    }

    fn wait_ready(&self) {
        let url = format!("{}/readyz", self.http());
        wait_for(Duration::from_secs(30), "collector ready", || {
            reqwest::blocking_get_ok(&url)
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", self.proc.as_ref().unwrap().log_text()));
    }

    /// Starts the collector again on the ports it bound first.
    pub fn restart(&mut self) {
        self.spawn();
        self.wait_ready();
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    pub fn http(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub fn grpc_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.grpc_port)
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("data/tls/ca.pem")
    }

    pub fn get(&self, path: &str) -> serde_json::Value {
        let url = format!("{}{}", self.http(), path);
        let (_, body) = reqwest::blocking("GET", &url, self.token.as_deref(), None)
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
    }

    pub fn metrics(&self) -> String {
        let url = format!("{}/metrics", self.http());
        reqwest::blocking("GET", &url, self.token.as_deref(), None)
            .unwrap()
            .1
    }

    /// `tilsyn-collector COMMAND --config C ARGS…` (`args[0]` is the command) as the user
    /// `e2e-operator`: its stdout, or a panic with its stderr.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(bin("tilsyn-collector"))
            .arg(args[0])
            .args(["--config", self.config.to_str().unwrap()])
            .args(&args[1..])
            .env("USER", "e2e-operator")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tilsyn-collector {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// One request to the HTTP API as `token` (none: anonymous), with a JSON `body`:
    /// the status and the body's text.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        let url = format!("{}{}", self.http(), path);
        reqwest::blocking(method, &url, token, body)
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
    }

    /// Writes an agent config for this collector (fast intervals via overrides).
    pub fn agent_config(&self, dir: &Path, overrides: &str) -> PathBuf {
        self.agent_config_with(dir, "", overrides)
    }

    /// [`Self::agent_config`] with more keys in its `collector` section (`collector`:
    /// indented lines such as `"  idle_timeout: 1s\n"`).
    pub fn agent_config_with(&self, dir: &Path, collector: &str, overrides: &str) -> PathBuf {
        let p = dir.join("agent.yaml");
        std::fs::write(
            &p,
            format!(
                "collector:
  url: {}
  ca_file: {}
  timeout: 10s
{collector}enrollment:
  token: {TOKEN}
state_dir: state
overrides:
{overrides}
",
                self.grpc_url(),
                self.ca_file().display()
            ),
        )
        .unwrap();
        p
    }
}

/// What to do when Prometheus' tools are missing.
pub const PROMETHEUS_HINT: &str =
    "install Debian's prometheus package (`apt-get install prometheus`); .ci/run does this";

/// A tool from Debian's prometheus package (`promtool`, `prometheus`): from PATH, else
/// `/usr/bin`; panics with what to install.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not installed on this machine: {PROMETHEUS_HINT}"))
}

/// Runs `tilsyn-collector validate` on a minimal config (loopback ports, the shipped
/// standards) with `extra` YAML after it, in `dir`; returns the exit code and stderr.
pub fn validate_collector(dir: &Path, departments: &str, extra: &str) -> (Option<i32>, String) {
    let cfg = dir.join("collector.yaml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir: data\ngrpc: {{listen: 127.0.0.1:0}}\nhttp: {{listen: 127.0.0.1:0}}\n\
             departments: {departments}\ncompliance: {{standards_dir: '{}'}}\n{extra}",
            repo_root().join("configs/standards").display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(bin("tilsyn-collector"))
        .args(["validate", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One look at a condition [`wait_for`] polls: `Some`/`Ok` ends the wait; `Err(seen)` says
/// what was there instead, so a timeout reports the last state rather than only that it
/// timed out.
pub trait Attempt<T> {
    fn attempt(self) -> Result<T, String>;
}

impl<T> Attempt<T> for Option<T> {
    fn attempt(self) -> Result<T, String> {
        self.ok_or_else(|| "not there yet".to_string())
    }
}

impl<T, E: std::fmt::Display> Attempt<T> for Result<T, E> {
    fn attempt(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Polls `f` until it yields a value, at most `limit`; on timeout the error names what was
/// awaited and what `f` saw last.
pub fn wait_for<T, A: Attempt<T>>(
    limit: Duration,
    what: &str,
    mut f: impl FnMut() -> A,
) -> Result<T, String> {
    let deadline = Instant::now() + limit;
    loop {
        let seen = match f().attempt() {
            Ok(v) => return Ok(v),
            Err(seen) => seen,
        };
        if Instant::now() > deadline {
            return Err(format!(
                "timed out after {limit:?} waiting for {what}; last seen: {seen}"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A loopback port reserved for this test until the lease drops. Ports come from below the
/// kernel's ephemeral range, so no `bind(…:0)` (our collectors', anyone's) can be handed
/// one, and a lock file per port keeps test processes from picking the same one: the
/// check-then-use race of "bind 0, read the port, close, hand it over" is gone for
/// programs that cannot bind port 0 and report it (Prometheus, RT, the bench scripts).
pub struct PortLease {
    pub port: u16,
    _lock: std::fs::File,
}

pub fn reserve_port() -> PortLease {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    // Normally 20768..=32767; a machine whose ephemeral range starts low gets a fixed span
    // (and the lock files still keep test processes apart).
    let (first, last) = if low > 2048 {
        (low.saturating_sub(12_000).max(1024), low - 1)
    } else {
        (20_000, 29_999)
    };
    let span = u32::from(last - first) + 1;
    let start = (std::process::id() ^ now_ms() as u32) % span;
    for i in 0..span {
        let port = first + ((start + i) % span) as u16;
        let f = lock_file(&format!("{port}.lock"));
        if f.try_lock().is_err() {
            continue;
        }
        // Free of other software, too.
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return PortLease { port, _lock: f };
        }
    }
    panic!("no free loopback port in {first}..={last}");
}

/// A lock file shared by every test process on this machine (the file stays; the lock is
/// the file lock on it, released when the handle drops or the process dies).
fn lock_file(name: &str) -> std::fs::File {
    let dir = std::env::temp_dir().join("tilsyn-test-ports");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(name))
        .unwrap()
}

/// Held by a test while it runs processes (collector, agents, Prometheus, RT, a bench
/// script): at most `TILSYN_E2E_SLOTS` such tests (default 1) run at once across every test
/// binary, so a loaded 2-core machine slows them down instead of failing them.
pub struct Slot {
    _lock: std::fs::File,
}

pub fn e2e_slot() -> Slot {
    let slots: u32 = std::env::var("TILSYN_E2E_SLOTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    loop {
        for i in 0..slots {
            let f = lock_file(&format!("e2e-slot-{i}.lock"));
            if f.try_lock().is_ok() {
                return Slot { _lock: f };
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An answer of [`http_server`]'s handler: status line (`200 OK`), content type, body.
pub type HttpAnswer = (String, String, String);

/// A small HTTP/1.1 server on a free loopback port for the tests' stand-ins (a webhook
/// desk, a desk's ticket page): each connection on its own thread, one request each,
/// answered by `handler(request line, body)`; `Connection: close`. Returns the port.
pub fn http_server<F>(handler: F) -> u16
where
    F: Fn(&str, &[u8]) -> HttpAnswer + Send + Sync + 'static,
{
    use std::io::{Read, Write};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let handler = std::sync::Arc::new(handler);
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let handler = handler.clone();
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let (head, body) = loop {
                    let n = conn.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_string();
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        while buf.len() < i + 4 + len {
                            let n = conn.read(&mut chunk).unwrap_or(0);
                            if n == 0 {
                                return;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                        }
                        break (head, buf[i + 4..i + 4 + len].to_vec());
                    }
                };
                let line = head.lines().next().unwrap_or_default().to_string();
                let (status, ctype, text) = handler(&line, &body);
                let _ = conn.write_all(
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                        text.len()
                    )
                    .as_bytes(),
                );
            });
        }
    });
    port
}

/// The fleet simulator's hosts enrolled with `token` (`tilsyn-agent simulate`), reporting
/// for ten minutes at most; stopped when the handle drops.
pub fn simulator(c: &Collector, dir: &Path, token: &str, hosts: usize) -> Proc {
    Proc::spawn(
        &bin("tilsyn-agent"),
        &[
            "simulate",
            "--collector",
            &c.grpc_url(),
            "--ca",
            c.ca_file().to_str().unwrap(),
            "--token",
            token,
            "--hosts",
            &hosts.to_string(),
            "--ramp-seconds",
            "2",
            "--duration-seconds",
            "600",
            "--stats-seconds",
            "2",
        ],
        dir.join(format!("simulate-{token}.log")),
    )
}

/// Tiny blocking HTTP helpers over reqwest's async client (no extra features needed).
pub mod reqwest {
    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    pub fn blocking_get_text(url: &str) -> Result<String, String> {
        blocking("GET", url, None, None).map(|(_, text)| text)
    }

    /// `method url`, with a bearer `token` and a JSON `body` when given: status and text.
    pub fn blocking(
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Result<(u16, String), String> {
        let method = ::reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        rt().block_on(async {
            let mut req = ::reqwest::Client::new()
                .request(method, url)
                .timeout(std::time::Duration::from_secs(10));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req
                    .header("content-type", "application/json")
                    .body(b.to_string());
            }
            let r = req.send().await.map_err(|e| e.to_string())?;
            let status = r.status().as_u16();
            Ok((status, r.text().await.map_err(|e| e.to_string())?))
        })
    }

    pub fn blocking_get_ok(url: &str) -> Option<()> {
        rt().block_on(async {
            let r = ::reqwest::Client::new()
                .get(url)
                .timeout(std::time::Duration::from_secs(2))
                .send()
                .await
                .ok()?;
            r.status().is_success().then_some(())
        })
    }
}

/// Runs this machine's real agent against `c` until the host is online; returns the agent
/// process (its config and state live in `dir/agent`) and the host's agent id.
pub fn agent_online(c: &Collector, dir: &Path) -> (Proc, PathBuf, String) {
    agent_online_with(c, dir, "")
}

/// [`agent_online`] with more keys in the agent's `collector` section.
pub fn agent_online_with(c: &Collector, dir: &Path, collector: &str) -> (Proc, PathBuf, String) {
    let adir = dir.join("agent");
    std::fs::create_dir_all(&adir).unwrap();
    let acfg = c.agent_config_with(&adir, collector, "  health_interval: 5s");
    let agent = Proc::spawn(
        &bin("tilsyn-agent"),
        &["run", "--config", acfg.to_str().unwrap()],
        adir.join("agent-0.log"),
    );
    let id = this_host_online(c, &agent);
    (agent, acfg, id)
}

/// Waits (60 s at most) until this machine is an online host of `c`, reported by `agent`;
/// its agent id. On timeout, panics with the hosts last seen and the agent's log.
pub fn this_host_online(c: &Collector, agent: &Proc) -> String {
    let me = this_hostname();
    wait_for(Duration::from_secs(60), "this host online", || {
        let hosts = c.get("/api/v1/hosts");
        hosts["hosts"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|h| h["hostname"] == me && h["state"] == "online")
            })
            .and_then(|h| h["agent_id"].as_str())
            .map(str::to_string)
            .ok_or_else(|| format!("hosts: {hosts}"))
    })
    .unwrap_or_else(|e| panic!("{e}\nagent log:\n{}", agent.log_text()))
}

/// `Ok` once host `id` is in `state`, else what it is in (for [`wait_for`]).
pub fn host_in_state(c: &Collector, id: &str, state: &str) -> Result<(), String> {
    let h = c.get(&format!("/api/v1/hosts/{id}"));
    if h["state"] == state {
        Ok(())
    } else {
        Err(format!("host {id} is {}", h["state"]))
    }
}

/// The host's `offline` incident once it matches `pred`.
pub fn offline_incident(
    c: &Collector,
    agent_id: &str,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    wait_for(Duration::from_secs(60), what, || {
        let r = c.get(&format!(
            "/api/v1/incidents?host={agent_id}&check=offline&limit=1"
        ));
        match r["incidents"].as_array().and_then(|a| a.first()) {
            Some(i) if pred(i) => Ok(i.clone()),
            Some(i) => Err(format!("latest offline incident: {i}")),
            None => Err("no offline incident".to_string()),
        }
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nincidents: {}\noutbox: {}\ncollector log:\n{}",
            c.get("/api/v1/incidents"),
            c.get("/api/v1/outbox?limit=20"),
            c.proc.as_ref().map(|p| p.log_text()).unwrap_or_default()
        )
    })
}

/// The fleet-wide metric families of `configs/metrics.md` (its paragraph on several
/// collectors: backticked names up to "are exported by the leading collector only"; a name
/// ending in `*` stands for every gauge of the table with that prefix), which only the
/// leading collector exports.
pub fn fleet_wide_metrics() -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join("configs/metrics.md")).unwrap();
    // The paragraph's words on one line (it wraps anywhere).
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let start = flat
        .find("Several collectors on one database:")
        .expect("configs/metrics.md: the paragraph on several collectors");
    let end = start
        + flat[start..]
            .find("are exported by the leading collector only")
            .expect("configs/metrics.md: \"are exported by the leading collector only\"");
    let gauges: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells.len() > 3 && cells[2] == "gauge").then(|| cells[1].trim_matches('`'))
        })
        .collect();
    let mut out = std::collections::BTreeSet::new();
    for name in flat[start..end].split('`').skip(1).step_by(2) {
        match name.strip_suffix('*') {
            Some(prefix) => out.extend(
                gauges
                    .iter()
                    .filter(|g| g.starts_with(prefix))
                    .map(|g| g.to_string()),
            ),
            None => {
                assert!(
                    gauges.contains(&name),
                    "configs/metrics.md: `{name}` is not a gauge of the table"
                );
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// The Prometheus text exposition format, parsed (metric lines only; `# HELP`/`# TYPE`
/// skipped), so a check names one series exactly: `x{a="1"} 1` must not be satisfied by
/// `x{a="1"} 10` or by `y_x{a="1"} 1`, as a substring check would be.
pub mod exposition {
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, PartialEq)]
    pub struct Sample {
        pub name: String,
        pub labels: BTreeMap<String, String>,
        pub value: f64,
    }

    /// `name{label="value",...}` (escapes `\\`, `\"`, `\n` in values) and the rest of
    /// the line after it.
    fn series(s: &str) -> Result<(String, BTreeMap<String, String>, &str), String> {
        let end = s.find(['{', ' ']).unwrap_or(s.len());
        let name = s[..end].to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            return Err(format!("bad metric name in {s:?}"));
        }
        let mut labels = BTreeMap::new();
        let mut rest = &s[end..];
        if let Some(r) = rest.strip_prefix('{') {
            let mut r = r;
            loop {
                r = r.trim_start_matches(',');
                if let Some(after) = r.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let eq = r
                    .find('=')
                    .ok_or_else(|| format!("label without = in {s:?}"))?;
                let key = r[..eq].to_string();
                let mut chars = r[eq + 1..].char_indices();
                if chars.next().map(|c| c.1) != Some('"') {
                    return Err(format!("unquoted label value in {s:?}"));
                }
                let mut value = String::new();
                let mut closed = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next().map(|c| c.1) {
                            Some('n') => value.push('\n'),
                            Some(c) => value.push(c),
                            None => break,
                        },
                        '"' => {
                            closed = Some(eq + 1 + i + 1);
                            break;
                        }
                        c => value.push(c),
                    }
                }
                let closed = closed.ok_or_else(|| format!("unterminated label value in {s:?}"))?;
                if labels.insert(key.clone(), value).is_some() {
                    return Err(format!("label {key} twice in {s:?}"));
                }
                r = &r[closed..];
            }
        }
        Ok((name, labels, rest))
    }

    /// Every sample of the text; panics on a malformed line (the collector must never
    /// write one).
    pub fn parse(text: &str) -> Vec<Sample> {
        text.lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (name, labels, rest) = series(l).unwrap_or_else(|e| panic!("{e}"));
                let v = rest.split_whitespace().next().unwrap_or("");
                let value = match v {
                    "+Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    v => v
                        .parse()
                        .unwrap_or_else(|_| panic!("bad sample value in {l:?}")),
                };
                Sample {
                    name,
                    labels,
                    value,
                }
            })
            .collect()
    }

    /// The value of exactly the series `want` (`name` or `name{a="x",b="y"}`: every label,
    /// any order) in `text`.
    pub fn value(text: &str, want: &str) -> Option<f64> {
        let (name, labels, rest) = series(want).unwrap_or_else(|e| panic!("{e}"));
        assert!(rest.is_empty(), "a series, not a line: {want:?}");
        parse(text)
            .into_iter()
            .find(|s| s.name == name && s.labels == labels)
            .map(|s| s.value)
    }

    /// `line` is `series value` (that series has exactly that value) or just `series`
    /// (the series exists).
    pub fn has(text: &str, line: &str) -> bool {
        match line.rsplit_once(' ') {
            Some((series, v)) if !series.ends_with(',') => match v.parse::<f64>() {
                Ok(v) => value(text, series) == Some(v),
                Err(_) => value(text, line).is_some(),
            },
            _ => value(text, line).is_some(),
        }
    }

    /// The samples of `name` whose labels include `subset`.
    pub fn matching(text: &str, name: &str, subset: &[(&str, &str)]) -> Vec<Sample> {
        parse(text)
            .into_iter()
            .filter(|s| {
                s.name == name
                    && subset
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn one_series_exactly() {
            let t = "# HELP x y\nx{a=\"1\",b=\"q\\\"z\"} 10\ny_x{a=\"1\"} 1\nx 2.5\nh_bucket{le=\"+Inf\"} 3\n";
            assert_eq!(value(t, r#"x{b="q\"z",a="1"}"#), Some(10.0));
            assert_eq!(
                value(t, r#"x{a="1"}"#),
                None,
                "a label missing is another series"
            );
            assert_eq!(value(t, "x"), Some(2.5));
            assert_eq!(value(t, r#"h_bucket{le="+Inf"}"#), Some(3.0));
            assert_eq!(matching(t, "x", &[("a", "1")]).len(), 1);
        }
    }
}
