//! The browser harness (tests/browser.rs) on real pages in a real headless Chromium: a tiny
//! loopback HTTP server in this test serves a few static pages, all with the strict
//! Content-Security-Policy the console sends, and the harness navigates, reads, fills,
//! clicks, takes a screenshot, checks the Accept-Language it sends and runs axe-core.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tilsyn_e2e::browser::{axe_report, Browser};

const CSP: &str = "default-src 'self'; script-src 'self'";

const HOME: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Harness home</title>
<script src="/app.js" defer></script>
</head>
<body>
<nav aria-label="Main"><a href="/second">Second page</a></nav>
<main>
<h1>Harness home</h1>
<p id="app">app.js did not run</p>
<p id="inline">the inline script did not run</p>
<script>document.getElementById('inline').textContent = 'the inline script ran';</script>
<form action="/search" method="get">
  <label for="q">Search</label>
  <input id="q" name="q" type="search" value="old">
  <button type="submit">Search</button>
</form>
<p><button type="button" id="later">Later</button> <span id="later-out">not yet</span></p>
<ul><li>one</li><li>two</li><li>three</li></ul>
</main>
</body>
</html>
"#;

const APP_JS: &str = r#"
document.getElementById('app').textContent = 'app.js ran';
document.getElementById('later').addEventListener('click', () => {
  setTimeout(() => { document.getElementById('later-out').textContent = 'clicked'; }, 300);
});
"#;

const SECOND: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Second page</title></head>
<body><main><h1>The second page</h1><a href="/">Home</a></main></body></html>
"#;

/// Breaks two WCAG A rules axe rates critical: an image without alt, a field without label.
const BAD: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Inaccessible</title></head>
<body><main><h1>Inaccessible</h1>
<img src="/dot.svg" width="20" height="20">
<form action="/search"><input type="text" name="q"></form>
</main></body></html>
"#;

const DOT_SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><circle cx="10" cy="10" r="8" fill="black"/></svg>"#;

/// One request the site saw: method, path with query, headers (names lower-case).
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: HashMap<String, String>,
}

/// A static site on a loopback port, one thread per connection; stops on drop.
struct Site {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Site {
    fn start() -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        Site {
            port,
            seen,
            stop,
            accept: Some(accept),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The last request for `path` (query included).
    fn last(&self, path: &str) -> Option<Seen> {
        let seen = self.seen.lock().unwrap();
        seen.iter().rev().find(|r| r.path == path).cloned()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut conn: TcpStream, seen: &Mutex<Vec<Seen>>) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return, // a preconnect that never asked for anything
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let mut lines = head.split("\r\n");
    let mut request = lines.next().unwrap_or_default().split(' ');
    let _method = request.next().unwrap_or_default();
    let path = request.next().unwrap_or_default().to_string();
    let headers: HashMap<String, String> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        headers,
    });

    let (route, query) = path.split_once('?').unwrap_or((&path, ""));
    let (status, ctype, body) = match route {
        "/" => ("200 OK", "text/html; charset=utf-8", HOME.to_string()),
        "/app.js" => (
            "200 OK",
            "text/javascript; charset=utf-8",
            APP_JS.to_string(),
        ),
        "/second" => ("200 OK", "text/html; charset=utf-8", SECOND.to_string()),
        "/bad" => ("200 OK", "text/html; charset=utf-8", BAD.to_string()),
        "/dot.svg" => ("200 OK", "image/svg+xml", DOT_SVG.to_string()),
        "/search" => {
            let q = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("q="))
                .map(form_decode)
                .unwrap_or_default();
            let page = format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
                 <title>Search</title></head><body><main><h1>Search</h1>\
                 <p id=\"q\">You searched for: {}</p></main></body></html>",
                html_escape(&q)
            );
            ("200 OK", "text/html; charset=utf-8", page)
        }
        "/favicon.ico" => ("204 No Content", "image/x-icon", String::new()),
        _ => ("404 Not Found", "text/plain", "not found".to_string()),
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Content-Security-Policy: {CSP}\r\nX-Content-Type-Options: nosniff\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(resp.as_bytes());
}

/// `application/x-www-form-urlencoded` value: `+` is a space, `%XX` a byte (UTF-8).
fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The panic message of `f`.
fn panic_message(f: impl FnOnce()) -> String {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(prev);
    let e = r.expect_err("expected a panic");
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn navigates_reads_fills_clicks_and_shoots_under_a_strict_csp() {
    let _slot = tilsyn_e2e::e2e_slot();
    let site = Site::start();
    let t0 = Instant::now();
    let b = Browser::start();
    eprintln!("browser started in {:?}", t0.elapsed());

    b.goto(&site.url("/"));
    assert_eq!(b.url(), site.url("/"));
    assert_eq!(b.title(), "Harness home");
    assert_eq!(b.text("h1"), "Harness home");
    assert!(b.source().contains("id=\"later-out\""));
    assert_eq!(b.texts("li"), ["one", "two", "three"]);
    assert_eq!(b.count("li"), 3);
    assert_eq!(b.count(".nothing-here"), 0);
    assert_eq!(b.attr("nav a", "href").as_deref(), Some("/second"));
    assert_eq!(b.attr("nav a", "data-none"), None);

    // The CSP holds: /app.js ('self') ran, the inline script did not, and the browser
    // logged the violation.
    assert_eq!(b.text("#app"), "app.js ran");
    assert_eq!(b.text("#inline"), "the inline script did not run");
    let errors = b.console_errors();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("Content Security Policy") && e.contains("inline")),
        "no CSP violation logged: {errors:?}"
    );
    assert!(b.console_errors().is_empty(), "the log is handed out once");

    // The default browser speaks English, whatever the machine's locale (Chromium adds the
    // base language to en-US).
    let home = site.last("/").expect("the site saw /");
    assert_eq!(
        home.headers.get("accept-language").map(String::as_str),
        Some("en-US,en;q=0.9")
    );

    // A click that app.js answers later.
    b.click("#later");
    b.wait_until("app.js's answer to the click", |b| {
        b.text("#later-out") == "clicked"
    });

    // Links.
    b.click_link_text("Second page");
    assert_eq!(b.url(), site.url("/second"));
    assert_eq!(b.title(), "Second page");
    b.back();
    assert_eq!(b.title(), "Harness home");
    b.click("nav a");
    assert_eq!(b.text("h1"), "The second page");
    b.click_link_text("Home");

    // Forms: fill replaces the old value; Enter submits; so does submit().
    assert_eq!(b.value("#q"), "old");
    b.fill("#q", "blåbær & co");
    assert_eq!(b.value("#q"), "blåbær & co");
    b.press_enter("#q");
    b.wait_until("the search page", |b| b.title() == "Search");
    assert_eq!(b.text("#q"), "You searched for: blåbær & co");
    assert!(b.url().contains("/search?q="), "{}", b.url());
    b.back();
    b.wait_until("home again", |b| b.title() == "Harness home");
    b.fill("#q", "second");
    b.submit("#q");
    b.wait_until("the search page", |b| b.title() == "Search");
    assert_eq!(b.text("#q"), "You searched for: second");
    b.goto(&site.url("/"));

    // exec: a function body with arguments; its result as JSON.
    assert_eq!(
        b.exec("return arguments[0] + 1", vec![json!(41)]),
        json!(42)
    );
    assert_eq!(
        b.exec("return document.querySelectorAll('li').length", vec![]),
        json!(3)
    );

    // Failures name the command, the selector and WebDriver's message.
    let e = b.try_text("#missing").unwrap_err();
    assert_eq!(e.error, "no such element");
    assert_eq!(e.css.as_deref(), Some("#missing"));
    let msg = panic_message(|| {
        b.text("#missing");
    });
    for want in [
        "POST /element",
        "#missing",
        "no such element",
        &site.url("/"),
    ] {
        assert!(msg.contains(want), "{want:?} not in: {msg}");
    }
    let msg = panic_message(|| b.click_link_text("No such link"));
    assert!(
        msg.contains("No such link") && msg.contains("no such element"),
        "{msg}"
    );
    let msg = panic_message(|| {
        b.exec("throw new Error('thrown in the page')", vec![]);
    });
    assert!(
        msg.contains("POST /execute/sync") && msg.contains("thrown in the page"),
        "{msg}"
    );

    // A screenshot is a PNG of the 1280 px wide viewport.
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("home.png");
    b.screenshot(&shot);
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(width, 1280, "screenshot {width}x{height}");
    assert!(height > 600, "screenshot {width}x{height}");
    if let Ok(keep) = std::env::var("TILSYN_BROWSER_SHOTS") {
        std::fs::copy(&shot, std::path::Path::new(&keep).join("harness-home.png")).unwrap();
    }
    eprintln!("whole test {:?}", t0.elapsed());
}

#[test]
fn accept_language_da_reaches_the_server() {
    let _slot = tilsyn_e2e::e2e_slot();
    let site = Site::start();
    let b = Browser::start_with_lang("da");
    b.goto(&site.url("/second"));
    let seen = site.last("/second").expect("the site saw /second");
    assert_eq!(
        seen.headers.get("accept-language").map(String::as_str),
        Some("da"),
        "{:?}",
        seen.headers
    );
    assert_eq!(b.exec("return navigator.language", vec![]), json!("da"));
    // Subresources too (the console's script and styles are fetched the same way).
    b.goto(&site.url("/"));
    assert_eq!(b.text("#app"), "app.js ran");
    let js = site.last("/app.js").expect("the site saw /app.js");
    assert_eq!(
        js.headers.get("accept-language").map(String::as_str),
        Some("da")
    );
}

#[test]
fn axe_finds_violations_and_passes_a_clean_page_under_the_csp() {
    let _slot = tilsyn_e2e::e2e_slot();
    // Installed (or found) before the browser starts, so its time is not the browser's.
    let t = Instant::now();
    assert!(tilsyn_e2e::browser::axe_script().contains("axe v4"));
    eprintln!("axe-core ready in {:?}", t.elapsed());
    let site = Site::start();
    let b = Browser::start();

    b.goto(&site.url("/bad"));
    let t = Instant::now();
    let found = b.axe();
    eprintln!("axe on /bad: {:?}", t.elapsed());
    let ids: Vec<&str> = found.iter().map(|v| v.id.as_str()).collect();
    for rule in ["image-alt", "label"] {
        let v = found
            .iter()
            .find(|v| v.id == rule)
            .unwrap_or_else(|| panic!("axe missed {rule}; found {ids:?}"));
        assert!(v.is_serious(), "{v}");
        assert!(!v.nodes.is_empty() && !v.help.is_empty(), "{v}");
    }
    let img = found.iter().find(|v| v.id == "image-alt").unwrap();
    assert_eq!(img.nodes[0].target, "img", "{img}");
    assert!(img.nodes[0].html.contains("dot.svg"), "{img}");

    // The clean page has the same strict CSP (its inline script is refused, as above), and
    // axe, injected through WebDriver, still runs there: nothing found.
    b.goto(&site.url("/"));
    assert_eq!(b.text("#inline"), "the inline script did not run");
    let t = Instant::now();
    let found = b.axe();
    eprintln!("axe on /: {:?}", t.elapsed());
    assert!(found.is_empty(), "{}", axe_report(&found));
    // Again on the same document: axe is already there and is not injected twice.
    assert!(b.axe().is_empty());
    // Injecting axe made no CSP complaint of its own (only the page's inline script did).
    let errors = b.console_errors();
    assert!(
        errors.iter().all(|e| e.contains("inline")),
        "unexpected console errors: {errors:?}"
    );
}
