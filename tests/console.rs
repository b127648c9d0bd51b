//! The operations console in a real browser (Debian's headless Chromium through
//! chromedriver, `tilsyn_e2e::browser`), against the real collector with this machine's real
//! agent, a simulated fleet of another department, a host that carries script and markup in
//! everything it reports, and a webhook desk on loopback that gives its tickets addresses.
//!
//! Checked: sign-in with a token; fleet → host → compliance rule → failing hosts; search
//! by installed software; an incident links to its ticket in the desk; the SLA month
//! switch and the report download; the Danish page in Danish with Danish dates; a
//! department reader cannot reach another department's host by its address; the hostile
//! host's strings show as text and nothing of theirs runs; axe-core finds no serious
//! accessibility violation on any page; no page breaks its Content-Security-Policy.
//! Screenshots of every page are kept in `target/console-screenshots/`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tilsyn_e2e::browser::Browser;
use tilsyn_e2e::*;
use tilsyn_proto::v1::agent_service_client::AgentServiceClient;
use tilsyn_proto::v1::{
    report::Body, EnrollRequest, Facts, Hardware, Inventory, OsInfo, Package, Report, ReportBatch,
    SoftwareList,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

/// What the hostile host calls itself, its software and its facts: markup and script
/// that would run if any page inserted it unescaped. Each sets `window.__pwned`.
const EVIL_HOST: &str = "pc-<img src=x onerror=\"window.__pwned=1\">";
const EVIL_PACKAGE: &str = "evil<script>window.__pwned=2</script>";
const EVIL_VERSION: &str = "1.0\"><svg onload=window.__pwned=3>";
const EVIL_FACT: &str = "<a href=\"javascript:window.__pwned=4\">click</a>";

const ADMIN: &str = "console-admin-token-0123456789abcdef";
const SCHOOLS_READER: &str = "console-schools-token-0123456789abcdef";

fn shots() -> PathBuf {
    let d = repo_root().join("target/console-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A webhook desk: takes creates, answers each with a ticket id and its address, and
/// serves that address as a page naming the ticket.
struct Desk {
    port: u16,
    tickets: Arc<Mutex<Vec<String>>>,
}

impl Desk {
    fn start() -> Desk {
        let tickets: Arc<Mutex<Vec<String>>> = Default::default();
        let t = tickets.clone();
        let port = Arc::new(std::sync::OnceLock::<u16>::new());
        let p = port.clone();
        let answer = |ctype: &str, body: String| ("200 OK".to_string(), ctype.to_string(), body);
        let bound = http_server(move |line, body| {
            if let Some(rest) = line.strip_prefix("GET /tickets/") {
                let id = rest.split(' ').next().unwrap_or_default();
                return answer(
                    "text/html",
                    format!("<!doctype html><html lang=\"en\"><title>Desk ticket {id}</title><h1>Desk ticket {id}</h1></html>"),
                );
            }
            let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            if v["event"] != "create" {
                return answer("application/json", "{}".into());
            }
            let n = {
                let mut t = t.lock().unwrap();
                t.push(v["key"].as_str().unwrap_or_default().to_string());
                t.len()
            };
            let port = p.get().copied().unwrap_or_default();
            answer(
                "application/json",
                format!("{{\"id\":\"T-{n}\",\"number\":\"DESK-{n}\",\"url\":\"http://127.0.0.1:{port}/tickets/T-{n}\"}}"),
            )
        });
        port.set(bound).unwrap();
        Desk {
            port: bound,
            tickets,
        }
    }
}

fn token_files(dir: &Path) -> String {
    let mut s = String::from("  auth:\n    required: true\n    tokens:\n");
    for (name, role, secret, depts) in [
        ("console-admin", "admin", ADMIN, ""),
        (
            "schools-head",
            "department",
            SCHOOLS_READER,
            ", departments: [schools]",
        ),
    ] {
        let f = dir.join(format!("{name}.token"));
        std::fs::write(&f, secret).unwrap();
        s += &format!(
            "      - {{name: {name}, role: {role}, token_file: '{}'{depts}}}\n",
            f.display()
        );
    }
    s
}

/// Enrolls the hostile host in Social Services and reports its inventory, software and
/// facts the way an agent would; returns its agent id.
fn hostile_host(c: &Collector) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ca = std::fs::read(c.ca_file()).unwrap();
        let ch = Channel::from_shared(c.grpc_url())
            .unwrap()
            .tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut cl = AgentServiceClient::new(ch);
        let e = cl
            .enroll(EnrollRequest {
                token: TOKEN.into(),
                hostname: EVIL_HOST.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let now = now_ms();
        let rep = |seq: u64, body: Body| Report {
            seq,
            collected_at_ms: now,
            errors: vec![],
            body: Some(body),
        };
        let batch = ReportBatch {
            agent_id: e.agent_id.clone(),
            reports: vec![
                rep(
                    1,
                    Body::Inventory(Inventory {
                        content_hash: "evil-1".into(),
                        hostname: EVIL_HOST.into(),
                        fqdn: format!("{EVIL_HOST}.example"),
                        os: Some(OsInfo {
                            family: "linux".into(),
                            name: "Evil<b>OS</b>".into(),
                            version: "1\"><i>".into(),
                            id: "debian".into(),
                            ..Default::default()
                        }),
                        hardware: Some(Hardware {
                            vendor: "<marquee>vendor</marquee>".into(),
                            serial: "SER-<u>1</u>".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                ),
                rep(
                    2,
                    Body::Software(SoftwareList {
                        content_hash: "evil-2".into(),
                        packages: vec![Package {
                            name: EVIL_PACKAGE.into(),
                            version: EVIL_VERSION.into(),
                            ..Default::default()
                        }],
                    }),
                ),
                rep(
                    3,
                    Body::Facts(Facts {
                        content_hash: "evil-3".into(),
                        antivirus_product: EVIL_FACT.into(),
                        firewall_detail: "<script>window.__pwned=5</script>".into(),
                        ..Default::default()
                    }),
                ),
            ],
        };
        let mut req = tonic::Request::new(batch);
        req.metadata_mut()
            .insert("x-tilsyn-agent-id", e.agent_id.parse().unwrap());
        req.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", e.secret).parse().unwrap(),
        );
        let ack = cl.report(req).await.unwrap().into_inner();
        assert!(ack.rejected.is_empty(), "{:?}", ack.rejected);
        e.agent_id
    })
}

/// A screenshot of the whole page: the window made as tall as the page (at most 2400
/// pixels) for the picture, then back.
fn full_shot(b: &Browser, path: &Path) {
    let h = b
        .exec("return document.documentElement.scrollHeight;", vec![])
        .as_i64()
        .unwrap_or(900)
        .clamp(600, 2400);
    let rect = |height: i64| {
        b.command(
            "POST",
            "/window/rect",
            serde_json::json!({"width": 1280, "height": height}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    };
    rect(h + 150);
    b.screenshot(path);
    rect(900);
}

/// No script of the page's data ran, the CSP was kept, and axe finds nothing serious.
fn page_is_sound(b: &Browser, what: &str) {
    let pwned = b.exec(
        "return window.__pwned === undefined ? null : window.__pwned;",
        vec![],
    );
    assert!(pwned.is_null(), "{what}: injected script ran ({pwned})");
    let errors = b.console_errors();
    assert!(
        errors
            .iter()
            .all(|e| !e.contains("Content Security Policy")),
        "{what}: {errors:?}"
    );
    let serious: Vec<_> = b.axe().into_iter().filter(|v| v.is_serious()).collect();
    assert!(
        serious.is_empty(),
        "{what}: accessibility\n{}",
        tilsyn_e2e::browser::axe_report(&serious)
    );
}

#[test]
fn the_console_in_a_real_browser() {
    let _slot = e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::start();
    let http = token_files(dir.path());
    let extra = format!(
        "sla:\n  file: '{}'\n  evaluate_every: 1s\nincidents:\n  desks:\n    - name: hook\n      webhook: {{url: 'http://127.0.0.1:{}/hook'}}\n  delivery: {{initial_backoff: 1s, max_backoff: 2s, timeout: 5s}}\n",
        repo_root().join("tests/fixtures/sla/sla.yaml").display(),
        desk.port
    );
    let c = Collector::start_spec(
        dir.path(),
        &Spec {
            extra: &extra,
            http: &http,
            schools: true,
            token: Some(ADMIN),
        },
    );
    let (_agent, _acfg, me_id) = agent_online(&c, dir.path());
    let me = this_hostname();
    let _sim = simulator(&c, dir.path(), SCHOOLS_TOKEN, 12);
    let evil_id = hostile_host(&c);
    // A school's PC, and this machine's failing rule with its incident and ticket.
    let school = wait_for(Duration::from_secs(90), "the schools' hosts", || {
        let h = c.get("/api/v1/hosts?department=schools");
        let list = h["hosts"].as_array()?;
        (list.len() == 12).then(|| list[0]["agent_id"].as_str().unwrap().to_string())
    })
    .unwrap();
    let failing = wait_for(
        Duration::from_secs(60),
        "a failing rule on this machine",
        || {
            let r = c.get(&format!("/api/v1/hosts/{me_id}/compliance"));
            r["standards"].as_array()?.iter().find_map(|s| {
                s["rules"].as_array()?.iter().find_map(|r| {
                    (r["state"] == "fail").then(|| {
                        (
                            s["standard"].as_str().unwrap().to_string(),
                            r["rule"].as_str().unwrap().to_string(),
                            r["title"].as_str().unwrap().to_string(),
                        )
                    })
                })
            })
        },
    )
    .unwrap();
    wait_for(Duration::from_secs(60), "a ticket in the desk", || {
        let i = c.get(&format!("/api/v1/incidents?host={me_id}"));
        i["incidents"]
            .as_array()?
            .iter()
            .find(|i| i["ticket"]["url"].is_string())
            .map(|_| ())
    })
    .unwrap_or_else(|e| panic!("{e}: desk saw {:?}", desk.tickets.lock().unwrap()));
    let shots = shots();

    let b = Browser::start();
    // Signed out: the console asks for the token, and takes it.
    b.goto(&format!("{}/", c.http()));
    b.wait_until("the sign-in page", |b| b.url().contains("/login"));
    page_is_sound(&b, "sign-in");
    b.fill("#token", ADMIN);
    b.submit("form.login");
    b.wait_until("the fleet page", |b| b.count("table.hosts") == 1);
    assert_eq!(b.attr("html", "lang").as_deref(), Some("en"));
    assert!(b.text("h1").contains("Fleet"));
    full_shot(&b, &shots.join("fleet.png"));
    page_is_sound(&b, "fleet");
    let fleet = b.text("main");
    assert!(fleet.contains(&me) && fleet.contains(EVIL_HOST), "{fleet}");

    // Fleet → this machine → its failing rule → the hosts failing it → back to the host.
    b.click_link_text(&me);
    b.wait_until("this machine's page", |b| b.count("#compliance") == 1);
    assert_eq!(b.text("h1").split_whitespace().next(), Some(me.as_str()));
    full_shot(&b, &shots.join("host.png"));
    page_is_sound(&b, "host");
    let (standard, rule, title) = &failing;
    b.click(&format!("a[href='/compliance/{standard}/{rule}']"));
    b.wait_until("the rule's page", |b| {
        b.url().ends_with(&format!("/compliance/{standard}/{rule}"))
    });
    assert!(b.text("h1").contains(title.as_str()));
    assert!(b.text("dl.meta").contains("Why") || b.text("dl.meta").len() > 20);
    b.screenshot(&shots.join("rule.png"));
    page_is_sound(&b, "rule");
    let failing_hosts = b.texts("table tbody th");
    assert!(failing_hosts.contains(&me), "{failing_hosts:?}");
    b.click_link_text(&me);
    b.wait_until("back on the host", |b| {
        b.url().contains(&format!("/hosts/{me_id}"))
    });

    // The incident links to its ticket, which opens in the desk.
    let ticket = b
        .attr("#incidents a.ticket", "href")
        .expect("a ticket link");
    assert!(
        ticket.starts_with(&format!("http://127.0.0.1:{}/tickets/T-", desk.port)),
        "{ticket}"
    );
    b.click("#incidents a.ticket");
    b.wait_until("the desk's ticket", |b| {
        b.title().starts_with("Desk ticket T-")
    });

    // Search by installed software: bash is on this machine (the agent reports dpkg's list).
    b.goto(&format!("{}/?software=bash", c.http()));
    b.wait_until("the search result", |b| b.count("table.hosts") == 1);
    assert!(b.texts("table.hosts tbody th").contains(&me));
    let versions = b.text("main section");
    assert!(versions.contains("bash"), "{versions}");
    b.fill("#f-software", EVIL_PACKAGE);
    b.submit("form.search");
    b.wait_until("the hostile host by its software", |b| {
        b.count("table.hosts tbody tr") == 1
    });
    assert_eq!(b.texts("table.hosts tbody th"), [EVIL_HOST]);
    b.screenshot(&shots.join("search.png"));
    page_is_sound(&b, "software search");

    // The hostile host's page: everything it said, as text.
    b.goto(&format!("{}/hosts/{evil_id}", c.http()));
    b.wait_until("the hostile host", |b| b.count("#software") == 1);
    b.click("#software summary");
    let text = b.text("main");
    for s in [
        EVIL_HOST,
        EVIL_PACKAGE,
        EVIL_VERSION,
        EVIL_FACT,
        "Evil<b>OS</b>",
        "SER-<u>1</u>",
    ] {
        assert!(text.contains(s), "{s:?} shown as text:\n{text}");
    }
    assert_eq!(
        b.count(
            "main script, main img, main svg[onload], main marquee, main a[href^='javascript']"
        ),
        0
    );
    b.screenshot(&shots.join("hostile-host.png"));
    page_is_sound(&b, "hostile host");

    // Compliance and incidents.
    b.goto(&format!("{}/compliance", c.http()));
    page_is_sound(&b, "compliance");
    b.screenshot(&shots.join("compliance.png"));
    b.click(&format!("a[href='/compliance/{standard}']"));
    b.wait_until("the standard", |b| b.count("table.rules") == 1);
    page_is_sound(&b, "standard");
    b.goto(&format!("{}/incidents", c.http()));
    assert!(b.count("table.incidents tbody tr") >= 1);
    page_is_sound(&b, "incidents");
    b.screenshot(&shots.join("incidents.png"));

    // The SLA: this month, the month before by its link, and the report's download.
    b.goto(&format!("{}/sla", c.http()));
    b.wait_until("the SLA page", |b| b.count("section.department") >= 1);
    let month = b.text("h1");
    assert!(month.starts_with("SLA report "), "{month}");
    assert!(b.text("main").contains("This machine, the only host"));
    full_shot(&b, &shots.join("sla.png"));
    page_is_sound(&b, "sla");
    b.click("nav.months a[rel=prev]");
    b.wait_until("the month before", |b| b.text("h1") != month);
    assert!(b.url().contains("month="), "{}", b.url());
    let prev = b.text("h1");
    b.click("nav.months a[rel=next]");
    b.wait_until("back to this month", |b| b.text("h1") == month);
    assert_ne!(prev, month);
    let download = b
        .attr("p.download a[hreflang=da]", "href")
        .expect("a Danish download");
    let (status, report) = reqwest::blocking(
        "GET",
        &format!("{}{}", c.http(), download.trim_start_matches(&c.http())),
        Some(ADMIN),
        None,
    )
    .unwrap();
    assert_eq!(status, 200, "{report}");
    assert!(
        report.contains("<html lang=\"da\">") && report.contains("SLA-rapport"),
        "{report}"
    );

    // In Danish: the language link sets it for this browser.
    b.click("header a[hreflang=da]");
    b.wait_until("the Danish page", |b| {
        b.attr("html", "lang").as_deref() == Some("da")
    });
    assert!(b.text("h1").starts_with("SLA-rapport "), "{}", b.text("h1"));
    b.goto(&format!("{}/hosts/{me_id}", c.http()));
    let da = b.text("main");
    assert!(
        da.contains("Inventar") && da.contains("Ventende opdateringer"),
        "{da}"
    );
    // Danish dates: dd.mm.yyyy.
    let enrolled = b.text("dl.meta");
    assert!(
        enrolled
            .split_whitespace()
            .any(|w| w.len() == 10 && w.as_bytes()[2] == b'.' && w.as_bytes()[5] == b'.'),
        "{enrolled}"
    );
    b.screenshot(&shots.join("host-da.png"));
    page_is_sound(&b, "host in Danish");

    // Signing out ends the session.
    b.click("form.inline button");
    b.wait_until("signed out", |b| b.url().contains("/login"));
    b.goto(&format!("{}/", c.http()));
    b.wait_until("asked to sign in again", |b| b.url().contains("/login"));
    drop(b);

    // A browser asking for Danish gets Danish, before any setting.
    let b = Browser::start_with_lang("da");
    b.goto(&format!("{}/login", c.http()));
    assert_eq!(b.attr("html", "lang").as_deref(), Some("da"));
    assert_eq!(b.text("h1"), "Log ind");
    // A department reader: its own department's hosts, another's is "not found".
    b.fill("#token", SCHOOLS_READER);
    b.submit("form.login");
    b.wait_until("the schools' fleet", |b| b.count("table.hosts") == 1);
    let fleet = b.text("main");
    assert!(
        !fleet.contains(&me) && !fleet.contains(EVIL_HOST),
        "{fleet}"
    );
    assert!(b.count("table.hosts tbody tr") == 12, "{fleet}");
    b.goto(&format!("{}/hosts/{school}", c.http()));
    b.wait_until("a school's host", |b| b.count("#inventory") == 1);
    for other in [&me_id, &evil_id] {
        b.goto(&format!("{}/hosts/{other}", c.http()));
        assert_eq!(b.text("h1"), "Ikke fundet", "{other}");
        assert!(!b.text("main").contains(&me));
    }
    let (status, _) = reqwest::blocking(
        "GET",
        &format!("{}/hosts/{me_id}", c.http()),
        Some(SCHOOLS_READER),
        None,
    )
    .unwrap();
    assert_eq!(status, 404);
    b.goto(&format!("{}/incidents", c.http()));
    assert!(!b.text("main").contains(&me));
    page_is_sound(&b, "department reader's incidents");
}

#[test]
fn console_pages_refuse_what_they_should() {
    let _slot = e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let http = token_files(dir.path());
    let c = Collector::start_spec(
        dir.path(),
        &Spec {
            http: &http,
            schools: true,
            token: Some(ADMIN),
            ..Spec::default()
        },
    );
    let get = |path: &str, token: Option<&str>| {
        reqwest::blocking("GET", &format!("{}{path}", c.http()), token, None).unwrap()
    };
    // Without a token: the sign-in page (after its redirect), never a page of data.
    let (status, body) = get("/", None);
    assert_eq!(status, 200);
    assert!(body.contains("action=\"/login\""), "{body}");
    let (status, _) = get("/", Some("wrong-token-wrong-token-wrong"));
    assert_eq!(status, 401);
    // A cross-site sign-out or sign-in is refused.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        ::reqwest::Client::new()
            .post(format!("{}/login", c.http()))
            .header("sec-fetch-site", "cross-site")
            .form(&[("token", ADMIN)])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 403);
    // Every page carries the strict policy; unknown parameters are named.
    let (status, body) = get("/?colour=red", Some(ADMIN));
    assert_eq!(status, 400);
    assert!(body.contains("colour"), "{body}");
    let csp = rt.block_on(async {
        ::reqwest::Client::new()
            .get(format!("{}/", c.http()))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .headers()
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_string())
    });
    assert!(
        csp.as_deref()
            .is_some_and(|p| p.contains("default-src 'none'")
                && !p.contains("unsafe-inline")
                && !p.contains("script-src")),
        "{csp:?}"
    );
    // No SLA configured: said so.
    let (status, body) = get("/sla", Some(ADMIN));
    assert_eq!(status, 404);
    assert!(body.contains("sla.file"), "{body}");
}
