//! A small blocking W3C WebDriver client for end-to-end tests in a real headless Chromium
//! (Debian's `chromium` and `chromium-driver`), plus axe-core accessibility checks.
//!
//! The protocol is JSON over HTTP: [`Browser::start`] runs a private `chromedriver` on a
//! loopback port, opens one session in a fresh throw-away profile, and every method is one
//! or two WebDriver commands. Errors name the command, the CSS selector and WebDriver's own
//! message. Everything is bounded; chromedriver, Chromium and the profile go on drop.
//!
//! A test that starts a browser runs a heavy process: hold [`crate::e2e_slot`] first, as
//! for a collector (the browser does not take a slot of its own, so one test can hold a
//! slot for its collector and its browser together).
//!
//! axe-core is pinned ([`AXE_CORE_VERSION`], [`AXE_MIN_JS_SHA256`]) and installed from the
//! npm registry once per machine by [`axe_script`] (`.ci/run` does it in advance).
//!
//! Headless Chromium asks every new site for `/favicon.ico`: a 404 there is a SEVERE entry
//! in [`Browser::console_errors`] (once per browser), so a page under test that must log no
//! error needs the server to answer it.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Chromium's browser binary (Debian's launcher script).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The axe-core release the accessibility checks run, installed from the npm registry.
/// `.ci/run` reads this line to pre-install the same version.
pub const AXE_CORE_VERSION: &str = "4.14.1";
/// sha256 (hex) of that release's `axe.min.js`; npm checks the package's integrity hash
/// from the registry, this checks the one file the tests evaluate (the same hash as the
/// release's `sri-history.json`, `sha256-KTSJmUUM3yhJqOcLeRL8LahahJ2jnA0NU5T1HUqe2Vw=`).
pub const AXE_MIN_JS_SHA256: &str =
    "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c";
/// The axe rule tags [`Browser::axe`] runs: WCAG 2.0 and 2.1, levels A and AA.
pub const AXE_TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// How long [`Browser::wait_until`] polls.
pub const WAIT: Duration = Duration::from_secs(15);

/// Chromium's flags: headless as root, no GPU, and no connection to anything but the pages
/// under test (the machine's network is closed; without the background-networking flags
/// Chromium keeps trying).
const CHROMIUM_FLAGS: [&str; 10] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// The W3C web element identifier key.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A failed WebDriver command: which command, for which selector, and what WebDriver said.
#[derive(Debug, Clone)]
pub struct WebDriverError {
    /// `METHOD /path` below the session, e.g. `POST /element`.
    pub command: String,
    /// The CSS selector (or link text) the command was about, if any.
    pub css: Option<String>,
    /// WebDriver's error code (`no such element`, `timeout`, …) or `http` for transport.
    pub error: String,
    /// WebDriver's message, without the stack trace.
    pub message: String,
}

impl fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebDriver {}", self.command)?;
        if let Some(css) = &self.css {
            write!(f, " for `{css}`")?;
        }
        // chromedriver's messages mostly start with the error code already.
        if self.message.starts_with(&self.error) {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.error, self.message)
        }
    }
}

impl std::error::Error for WebDriverError {}

/// One entry of the browser's console log (`goog:loggingPrefs` browser ALL).
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO`, `DEBUG`.
    pub level: String,
    /// `console-api`, `network`, `security`, `javascript`, …
    pub source: String,
    pub message: String,
}

/// An axe-core rule the page breaks, with the elements that break it.
#[derive(Debug, Clone)]
pub struct AxeViolation {
    /// The rule, e.g. `image-alt`, `label`, `color-contrast`.
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: String,
    pub help: String,
    pub help_url: String,
    pub nodes: Vec<AxeNode>,
}

/// One element that breaks an axe rule.
#[derive(Debug, Clone)]
pub struct AxeNode {
    /// axe's selector(s) for the element (several for frames and shadow DOM, joined by ` >> `).
    pub target: String,
    /// The element's opening markup.
    pub html: String,
    /// What to fix.
    pub failure_summary: String,
}

impl AxeViolation {
    /// Serious or critical.
    pub fn is_serious(&self) -> bool {
        matches!(self.impact.as_str(), "serious" | "critical")
    }
}

impl fmt::Display for AxeViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} ({}): {} <{}>",
            self.id, self.impact, self.help, self.help_url
        )?;
        for n in &self.nodes {
            writeln!(f, "    {}  {}", n.target, n.html)?;
            for line in n.failure_summary.lines() {
                writeln!(f, "        {line}")?;
            }
        }
        Ok(())
    }
}

/// All violations, readable (for assertion messages).
pub fn axe_report(violations: &[AxeViolation]) -> String {
    violations.iter().map(|v| v.to_string()).collect()
}

/// A private chromedriver with one Chromium session in a throw-away profile.
pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: ::reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
    driver: Child,
    /// Holds `profile/` (Chromium's user data dir) and `chromedriver.log`.
    dir: tempfile::TempDir,
    _port: crate::PortLease,
}

impl Browser {
    /// Chromium in English (`--lang=en-US`; it sends `Accept-Language: en-US,en;q=0.9`)
    /// whatever this machine's locale.
    pub fn start() -> Browser {
        Browser::start_with_lang("en-US")
    }

    /// Chromium whose UI language and `Accept-Language` are `lang` (`--lang=LANG` and the
    /// profile preference `intl.accept_languages`), e.g. `"da"`.
    pub fn start_with_lang(lang: &str) -> Browser {
        let driver_bin = chromedriver();
        if !Path::new(CHROMIUM).exists() {
            panic!("{}", missing(&format!("{CHROMIUM} is missing")));
        }
        let dir = tempfile::Builder::new()
            .prefix("tilsyn-browser-")
            .tempdir()
            .expect("a temp dir for the browser profile");
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile).unwrap();
        let log_path = dir.path().join("chromedriver.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let lease = crate::reserve_port();
        let port = lease.port;
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_bin.display()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = ::reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let mut b = Browser {
            rt,
            client,
            session: String::new(),
            driver,
            dir,
            _port: lease,
        };
        let base = format!("http://127.0.0.1:{port}");

        // chromedriver is ready when /status says so (bounded; it exits on a taken port).
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = b.driver.try_wait() {
                panic!(
                    "chromedriver exited ({st}) before it was ready:\n{}",
                    b.driver_log()
                );
            }
            let ready = b
                .http("GET", &format!("{base}/status"), None)
                .ok()
                .is_some_and(|v| v["ready"] == true);
            if ready {
                break;
            }
            if Instant::now() > deadline {
                panic!(
                    "chromedriver on port {port} not ready after 20 s:\n{}",
                    b.driver_log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }

        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--lang={lang}"));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"implicit": 0, "pageLoad": 60_000, "script": 60_000},
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": args,
                "prefs": {"intl": {"accept_languages": lang}},
            },
        }}});
        let created = b
            .http("POST", &format!("{base}/session"), Some(&caps))
            .unwrap_or_else(|e| {
                panic!(
                    "WebDriver new session failed: {e}\nchromedriver log:\n{}",
                    b.driver_log()
                )
            });
        let id = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {created}"));
        b.session = format!("{base}/session/{id}");
        b
    }

    /// The last lines of chromedriver's own output (for failures).
    pub fn driver_log(&self) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// One HTTP request to chromedriver: WebDriver's `value`, or its error.
    fn http(&self, method: &str, url: &str, body: Option<&Value>) -> Result<Value, WebDriverError> {
        let command = format!(
            "{method} {}",
            url.strip_prefix(self.session.as_str())
                .filter(|_| !self.session.is_empty())
                .unwrap_or(url)
        );
        let fail = |error: &str, message: String| WebDriverError {
            command: command.clone(),
            css: None,
            error: error.to_string(),
            message,
        };
        let m = ::reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let (status, text) = self
            .rt
            .block_on(async {
                let mut req = self.client.request(m, url);
                if let Some(b) = body {
                    req = req
                        .header("content-type", "application/json")
                        .body(b.to_string());
                }
                let r = req.send().await?;
                let status = r.status().as_u16();
                Ok::<_, ::reqwest::Error>((status, r.text().await?))
            })
            .map_err(|e| fail("http", e.to_string()))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            fail(
                "http",
                format!("HTTP {status}, not JSON ({e}): {text:.300}"),
            )
        })?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if status >= 400 || value.get("error").is_some_and(|e| e.is_string()) {
            // Without chromedriver's "(Session info: chrome=…)" line.
            let message = value["message"]
                .as_str()
                .unwrap_or("")
                .lines()
                .filter(|l| !l.trim_start().starts_with("(Session info:"))
                .collect::<Vec<_>>()
                .join("\n");
            return Err(fail(
                value["error"].as_str().unwrap_or("unknown error"),
                if message.is_empty() {
                    format!("HTTP {status}: {text:.300}")
                } else {
                    message
                },
            ));
        }
        Ok(value)
    }

    /// A raw command below the session: `command("POST", "/url", json!({"url": u}))`.
    pub fn command(&self, method: &str, path: &str, body: Value) -> Result<Value, WebDriverError> {
        let body = (method != "GET" && method != "DELETE").then_some(&body);
        self.http(method, &format!("{}{path}", self.session), body)
    }

    fn must(&self, method: &str, path: &str, body: Value) -> Value {
        self.command(method, path, body)
            .unwrap_or_else(|e| panic!("{e} (page {})", self.url_or_unknown()))
    }

    fn url_or_unknown(&self) -> String {
        self.command("GET", "/url", Value::Null)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "unknown".into())
    }

    // ----- elements -----

    fn find_by(&self, using: &str, what: &str) -> Result<String, WebDriverError> {
        let v = self
            .command("POST", "/element", json!({"using": using, "value": what}))
            .map_err(|e| with_css(e, what))?;
        element_id(&v).ok_or_else(|| WebDriverError {
            command: "POST /element".into(),
            css: Some(what.into()),
            error: "bad answer".into(),
            message: v.to_string(),
        })
    }

    fn find_all(&self, css: &str) -> Result<Vec<String>, WebDriverError> {
        let v = self
            .command(
                "POST",
                "/elements",
                json!({"using": "css selector", "value": css}),
            )
            .map_err(|e| with_css(e, css))?;
        Ok(v.as_array()
            .map(|a| a.iter().filter_map(element_id).collect())
            .unwrap_or_default())
    }

    /// A command on the first element matching `css`.
    fn on(&self, css: &str, method: &str, sub: &str, body: Value) -> Result<Value, WebDriverError> {
        let id = self.find_by("css selector", css)?;
        self.command(method, &format!("/element/{id}{sub}"), body)
            .map_err(|e| with_css(e, css))
    }

    fn must_on(&self, css: &str, method: &str, sub: &str, body: Value) -> Value {
        self.on(css, method, sub, body)
            .unwrap_or_else(|e| panic!("{e} (page {})", self.url_or_unknown()))
    }

    // ----- navigation and reading -----

    /// Loads `url` and waits for the page to load (WebDriver's normal page load strategy).
    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url }))
            .unwrap_or_else(|e| panic!("{e} (going to {url})"));
    }

    /// Back in history.
    pub fn back(&self) {
        self.must("POST", "/back", json!({}));
    }

    /// Reloads the page.
    pub fn refresh(&self) {
        self.must("POST", "/refresh", json!({}));
    }

    /// The current page's URL.
    pub fn url(&self) -> String {
        self.must("GET", "/url", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The current page's `<title>`.
    pub fn title(&self) -> String {
        self.must("GET", "/title", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The current DOM serialized as HTML (after scripts ran, not the bytes served).
    pub fn source(&self) -> String {
        self.must("GET", "/source", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The visible (rendered) text of the first element matching `css`; panics if none.
    pub fn text(&self, css: &str) -> String {
        self.try_text(css)
            .unwrap_or_else(|e| panic!("{e} (page {})", self.url_or_unknown()))
    }

    /// [`Self::text`], with the error instead of a panic (e.g. inside [`Self::wait_until`]).
    pub fn try_text(&self, css: &str) -> Result<String, WebDriverError> {
        Ok(self
            .on(css, "GET", "/text", Value::Null)?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The visible text of every element matching `css`, in document order.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let ids = self
            .find_all(css)
            .unwrap_or_else(|e| panic!("{e} (page {})", self.url_or_unknown()));
        ids.iter()
            .map(|id| {
                self.must("GET", &format!("/element/{id}/text"), Value::Null)
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    /// The attribute `name` of the first element matching `css` (None when it has none);
    /// panics if no element matches.
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.must_on(css, "GET", &format!("/attribute/{name}"), Value::Null)
            .as_str()
            .map(str::to_string)
    }

    /// The current `value` of the first form field matching `css`.
    pub fn value(&self, css: &str) -> String {
        self.must_on(css, "GET", "/property/value", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// How many elements match `css` (0 is no error).
    pub fn count(&self, css: &str) -> usize {
        self.find_all(css)
            .unwrap_or_else(|e| panic!("{e} (page {})", self.url_or_unknown()))
            .len()
    }

    // ----- acting -----

    /// Clicks the first element matching `css`, as a user would (it must be visible and
    /// not covered); a navigation it starts is waited for.
    pub fn click(&self, css: &str) {
        self.must_on(css, "POST", "/click", json!({}));
    }

    /// Clicks the link whose visible text is exactly `text`.
    pub fn click_link_text(&self, text: &str) {
        let id = self
            .find_by("link text", text)
            .unwrap_or_else(|e| panic!("{e} (page {})", self.url_or_unknown()));
        self.command("POST", &format!("/element/{id}/click"), json!({}))
            .map_err(|e| with_css(e, text))
            .unwrap_or_else(|e| panic!("{e} (page {})", self.url_or_unknown()));
    }

    /// Clears the field matching `css` and types `text` into it.
    pub fn fill(&self, css: &str, text: &str) {
        let id = self
            .find_by("css selector", css)
            .unwrap_or_else(|e| panic!("{e} (page {})", self.url_or_unknown()));
        for (sub, body) in [("/clear", json!({})), ("/value", json!({ "text": text }))] {
            self.command("POST", &format!("/element/{id}{sub}"), body)
                .map_err(|e| with_css(e, css))
                .unwrap_or_else(|e| panic!("{e} (page {})", self.url_or_unknown()));
        }
    }

    /// Presses Enter in the element matching `css` (submits a form from its field).
    pub fn press_enter(&self, css: &str) {
        self.must_on(css, "POST", "/value", json!({ "text": "\u{E007}" }));
    }

    /// Submits the form of the element matching `css` (or that form itself) the way its
    /// submit button would: `requestSubmit()`, so validation and submit handlers run.
    pub fn submit(&self, css: &str) {
        let id = self
            .find_by("css selector", css)
            .unwrap_or_else(|e| panic!("{e} (page {})", self.url_or_unknown()));
        let el = json!({ ELEMENT_KEY: id });
        self.command(
            "POST",
            "/execute/sync",
            json!({
                "script": "const e = arguments[0]; const f = e.form || e.closest('form'); \
                           if (!f) throw new Error('no form'); f.requestSubmit();",
                "args": [el],
            }),
        )
        .map_err(|e| with_css(e, css))
        .unwrap_or_else(|e| panic!("{e} (page {})", self.url_or_unknown()));
    }

    /// Runs `script` as a function body in the page (`arguments` are `args`) and returns
    /// what it returns. WebDriver's scripts are not subject to the page's CSP.
    pub fn exec(&self, script: &str, args: Vec<Value>) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
        .unwrap_or_else(|e| {
            panic!(
                "{e} (script {:.200}; page {})",
                script,
                self.url_or_unknown()
            )
        })
    }

    /// A PNG of the viewport, written to `path`.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let b64 = self.must("GET", "/screenshot", Value::Null);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("the screenshot is base64");
        std::fs::write(path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// Polls `f` until it is true, at most [`WAIT`]; panics naming `what` and the page.
    /// A panic inside `f` is not retried: where an element may not be there yet, ask with
    /// [`Self::count`] or [`Self::try_text`].
    pub fn wait_until(&self, what: &str, mut f: impl FnMut(&Browser) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !f(self) {
            if Instant::now() > deadline {
                panic!(
                    "timed out after {WAIT:?} waiting for {what} (page {})",
                    self.url_or_unknown()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The browser's console log since the last call (chromedriver hands each entry out
    /// once): `console.*`, failed loads, CSP violations (source `security`), uncaught
    /// errors.
    pub fn browser_log(&self) -> Vec<LogEntry> {
        let v = self.must("POST", "/se/log", json!({"type": "browser"}));
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| LogEntry {
                        level: e["level"].as_str().unwrap_or_default().to_string(),
                        source: e["source"].as_str().unwrap_or_default().to_string(),
                        message: e["message"].as_str().unwrap_or_default().to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The SEVERE entries of [`Self::browser_log`] (errors, failed loads, CSP violations),
    /// as messages.
    pub fn console_errors(&self) -> Vec<String> {
        self.browser_log()
            .into_iter()
            .filter(|e| e.level == "SEVERE")
            .map(|e| e.message)
            .collect()
    }

    // ----- accessibility -----

    /// Runs axe-core ([`AXE_CORE_VERSION`], rules tagged [`AXE_TAGS`]) on the current page
    /// and returns what it finds. axe is injected through WebDriver, which the page's CSP
    /// does not govern, so pages with `script-src 'self'` are checked as they are.
    pub fn axe(&self) -> Vec<AxeViolation> {
        let loaded = self.exec("return typeof window.axe === 'object'", vec![]);
        if loaded != true {
            self.exec(
                &format!("{}\n;return typeof window.axe;", axe_script()),
                vec![],
            );
        }
        let r = self
            .command(
                "POST",
                "/execute/async",
                json!({
                    "script": "const done = arguments[arguments.length - 1];
                        axe.run(document, {runOnly: arguments[0], resultTypes: ['violations']})
                          .then(r => done({violations: r.violations}),
                                e => done({error: String(e && e.stack || e)}));",
                    "args": [AXE_TAGS],
                }),
            )
            .unwrap_or_else(|e| panic!("{e} (axe.run on {})", self.url_or_unknown()));
        if let Some(e) = r.get("error") {
            panic!("axe.run failed on {}: {e}", self.url_or_unknown());
        }
        r["violations"]
            .as_array()
            .unwrap_or_else(|| panic!("axe.run returned no violations list: {r:.300}"))
            .iter()
            .map(|v| AxeViolation {
                id: str_of(&v["id"]),
                impact: str_of(&v["impact"]),
                help: str_of(&v["help"]),
                help_url: str_of(&v["helpUrl"]),
                nodes: v["nodes"]
                    .as_array()
                    .map(|ns| {
                        ns.iter()
                            .map(|n| AxeNode {
                                target: target_of(&n["target"]),
                                html: str_of(&n["html"]),
                                failure_summary: str_of(&n["failureSummary"]),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Quit Chromium through WebDriver, then chromedriver; then make sure nothing that
        // runs on this profile is left before the profile goes.
        if !self.session.is_empty() {
            let _ = self.command("DELETE", "", Value::Null);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let profile = format!(
            "--user-data-dir={}",
            self.dir.path().join("profile").display()
        );
        for pid in processes_with_arg(&profile) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        // TempDir removes the profile and the log.
    }
}

/// Processes whose command line has exactly `arg` (this browser's profile flag).
fn processes_with_arg(arg: &str) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    rd.filter_map(|e| {
        let e = e.ok()?;
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        cmd.split(|b| *b == 0)
            .any(|a| a == arg.as_bytes())
            .then_some(pid)
    })
    .collect()
}

fn with_css(mut e: WebDriverError, css: &str) -> WebDriverError {
    e.css.get_or_insert_with(|| css.to_string());
    e
}

fn element_id(v: &Value) -> Option<String> {
    v.get(ELEMENT_KEY)?.as_str().map(str::to_string)
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// axe's target: a list of selectors, nested lists for shadow DOM.
fn target_of(v: &Value) -> String {
    match v {
        Value::Array(a) => a.iter().map(target_of).collect::<Vec<_>>().join(" >> "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn missing(what: &str) -> String {
    format!(
        "{what}: the browser tests need Debian's Chromium and its WebDriver; install them \
         with `apt-get install chromium chromium-driver` (.ci/run does this on a fresh machine)"
    )
}

/// chromedriver on PATH, else /usr/bin/chromedriver.
fn chromedriver() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("chromedriver"))
            .find(|f| f.is_file())
    });
    on_path
        .or_else(|| {
            let f = PathBuf::from("/usr/bin/chromedriver");
            f.is_file().then_some(f)
        })
        .unwrap_or_else(|| panic!("{}", missing("chromedriver is not on PATH nor /usr/bin")))
}

// ----- axe-core -----

/// Where the pinned axe-core lives: `$TILSYN_CACHE/axe-core-VERSION` (the cache of the
/// other CI tools, default /var/cache/tilsyn-ci) when it is there or can be made, else
/// `target/axe-core-VERSION`.
pub fn axe_dir() -> PathBuf {
    let name = format!("axe-core-{AXE_CORE_VERSION}");
    let cache = std::env::var_os("TILSYN_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/tilsyn-ci"));
    let cached = cache.join(&name);
    if cached.join(AXE_MIN_JS).is_file() || writable(&cache) {
        return cached;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("target"));
    target.join(name)
}

const AXE_MIN_JS: &str = "node_modules/axe-core/axe.min.js";

fn writable(dir: &Path) -> bool {
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let probe = dir.join(format!(".tilsyn-probe-{}", std::process::id()));
    let ok = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

/// The source of the pinned `axe.min.js`: installed with npm into [`axe_dir`] the first
/// time (one process at a time, under a lock file), checked against
/// [`AXE_MIN_JS_SHA256`] every time it is read, kept for the rest of the process.
pub fn axe_script() -> String {
    static SCRIPT: OnceLock<String> = OnceLock::new();
    SCRIPT
        .get_or_init(|| {
            let dir = axe_dir();
            let file = dir.join(AXE_MIN_JS);
            if !file.is_file() {
                install_axe(&dir);
            }
            let digest = sha256_hex(&file);
            assert_eq!(
                digest,
                AXE_MIN_JS_SHA256,
                "{} is not axe-core {AXE_CORE_VERSION}'s axe.min.js (sha256 differs); remove {} \
                 to install it again",
                file.display(),
                dir.display()
            );
            std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()))
        })
        .clone()
}

/// `npm install --no-save --prefix DIR axe-core@VERSION` under a lock file beside `dir`.
fn install_axe(dir: &Path) {
    let parent = dir.parent().unwrap();
    std::fs::create_dir_all(parent)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
    let mut lock_name = dir.file_name().unwrap().to_os_string();
    lock_name.push(".lock");
    let lock_path = dir.with_file_name(lock_name);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", lock_path.display()));
    if dir.join(AXE_MIN_JS).is_file() {
        return; // another process installed it meanwhile
    }
    std::fs::create_dir_all(dir).unwrap();
    let pkg = format!("axe-core@{AXE_CORE_VERSION}");
    let out = Command::new("npm")
        .current_dir(dir)
        .args([
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(dir)
        .arg(&pkg)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run npm to install {pkg} for the accessibility checks ({e}); Node.js \
                 and npm are needed (or run .ci/run, which installs it into /var/cache/tilsyn-ci)"
            )
        });
    if !out.status.success() || !dir.join(AXE_MIN_JS).is_file() {
        panic!(
            "`npm install --no-save --prefix {} {pkg}` failed ({}):\n{}{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// sha256 of a file, hex (coreutils' sha256sum: no hashing crate needed).
fn sha256_hex(file: &Path) -> String {
    let mut child = Command::new("sha256sum")
        .arg("--")
        .arg(file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "sha256sum {} failed",
        file.display()
    );
    out.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}
