//! The RT 5 adapter against a REAL Request Tracker 5 (Debian 12's packages), started
//! privately on loopback by `tests/desks/rt5.sh start <tempdir> <port>` and stopped at the
//! end, also when the test fails. Without RT installed this test FAILS (it never passes
//! silently): run `sudo tests/desks/rt5.sh install` once. See `tests/desks/README.md`.
//!
//! Checks in RT itself (REST2 `GET /ticket/:id`, `/ticket/:id/history`,
//! `/transaction/:id/attachments`) that the key custom field holds the key, the notes are
//! comments (never correspondence, no mail), and the status transitions happened.

use tilsyn_collector_desks as desks;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use desks::rt5::{Rt5, Rt5Config};
use desks::{Desk, Ticket, TicketRef};
use serde_json::{json, Value};
use tilsyn_proto::time::now_ms;

const RT_SERVER: &str = "/usr/share/request-tracker5/libexec/rt-server";
const RT_SETUP: &str = "/usr/sbin/rt-setup-database-5";

/// `tests/desks/rt5.sh`, found from this crate upwards (the workspace root holds `tests/`).
fn rt5_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("tests/desks/rt5.sh"))
        .find(|p| p.is_file())
        .expect("tests/desks/rt5.sh not found above CARGO_MANIFEST_DIR")
}

/// A private RT; `rt5.sh stop` runs when this drops, whether the test passed or not.
struct RealRt {
    script: PathBuf,
    dir: tempfile::TempDir,
    url: String,
    token: String,
    _port: tilsyn_e2e::PortLease,
}

impl RealRt {
    fn start() -> RealRt {
        assert!(
            Path::new(RT_SERVER).exists() && Path::new(RT_SETUP).exists(),
            "Request Tracker 5 is not installed on this machine ({RT_SERVER} or {RT_SETUP} is \
             missing). Install it once with `sudo tests/desks/rt5.sh install` \
             (Debian 12: request-tracker5, rt5-db-sqlite, rt5-standalone; see tests/desks/README.md)."
        );
        let mut rt = RealRt {
            script: rt5_script(),
            dir: tempfile::Builder::new()
                .prefix("tilsyn-rt5-")
                .tempdir()
                .unwrap(),
            url: String::new(),
            token: String::new(),
            _port: tilsyn_e2e::reserve_port(),
        };
        let port = rt._port.port;
        let out = Command::new(&rt.script)
            .arg("start")
            .arg(rt.dir.path())
            .arg(port.to_string())
            .output()
            .expect("run tests/desks/rt5.sh start");
        assert!(
            out.status.success(),
            "rt5.sh start {} {port} failed:\n{}\n{}",
            rt.dir.path().display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let env = std::fs::read_to_string(rt.dir.path().join("env")).unwrap();
        for line in env.lines() {
            match line.split_once('=') {
                Some(("RT5_URL", v)) => rt.url = v.to_string(),
                Some(("RT5_TOKEN", v)) => rt.token = v.to_string(),
                _ => {}
            }
        }
        assert!(
            !rt.url.is_empty() && !rt.token.is_empty(),
            "bad env file:\n{env}"
        );
        rt
    }

    fn config(&self, queue: &str) -> Rt5Config {
        serde_json::from_value(json!({
            "url": self.url,
            "queue": queue,
            "token_file": self.dir.path().join("token"),
        }))
        .unwrap()
    }

    fn desk(&self) -> Rt5 {
        Rt5::new(&self.config("Tilsyn"), Duration::from_secs(30)).unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        let r = reqwest::Client::new()
            .get(format!("{}/REST/2.0{path}", self.url))
            .header("Authorization", format!("token {}", self.token))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn put(&self, path: &str, body: Value) {
        let r = reqwest::Client::new()
            .put(format!("{}/REST/2.0{path}", self.url))
            .header("Authorization", format!("token {}", self.token))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "PUT {path}: {}", r.status());
    }
}

impl Drop for RealRt {
    fn drop(&mut self) {
        let _ = Command::new(&self.script)
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

fn ticket(key: &str) -> Ticket {
    Ticket {
        key: key.into(),
        title: "[Tilsyn P2] web01: filesystem / above 90 %".into(),
        body: "Filesystem / on web01 is 97.2 % full (threshold 90 %).".into(),
        priority: 2,
        impact: 2,
        urgency: 1,
        severity: "high".into(),
        hostname: "web01".into(),
        agent_id: "agent-1".into(),
        department: "Social services".into(),
        check: "filesystem:/".into(),
        opened_at_ms: now_ms(),
    }
}

fn unique_key(salt: u128) -> String {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("tilsyn-{:032x}", n ^ salt)
}

#[tokio::test]
async fn rt5_adapter_against_real_request_tracker() {
    let _slot = tilsyn_e2e::e2e_slot();
    let rt = RealRt::start();
    let d = rt.desk();
    let key = unique_key(0);
    let t0 = now_ms() - 2_000;

    // create → find_open → note → read_back
    let r = d.create(&ticket(&key)).await.unwrap();
    assert_eq!(r.display(), format!("#{}", r.id));
    assert_eq!(d.find_open(&key).await.unwrap(), Some(r.clone()));
    assert_eq!(d.find_open(&unique_key(1)).await.unwrap(), None);
    let note = "Tilsyn: still failing at 00:05 (97.9 %). Internal note.";
    d.note(&r, note).await.unwrap();
    let st = d.read_back(&r).await.unwrap().unwrap();
    assert_eq!(st.state, "new");
    assert!(!st.responded && !st.closed, "{st:?}");
    assert_eq!((st.first_response_at_ms, st.resolved_at_ms), (None, None));

    // resolve → find_open None → reopen → resolve (twice: idempotent)
    let fix1 = "Tilsyn: back below 90 % since 00:20.";
    d.resolve(&r, fix1).await.unwrap();
    assert_eq!(d.find_open(&key).await.unwrap(), None);
    let st = d.read_back(&r).await.unwrap().unwrap();
    assert!(st.closed && st.state == "resolved", "{st:?}");
    let resolved_at = st.resolved_at_ms.expect("RT's Resolved date");
    assert!(resolved_at >= t0 && resolved_at <= now_ms() + 2_000);

    let again = "Tilsyn: failing again at 01:00.";
    d.reopen(&r, again).await.unwrap();
    assert_eq!(d.find_open(&key).await.unwrap(), Some(r.clone()));
    let st = d.read_back(&r).await.unwrap().unwrap();
    assert!(!st.closed && st.state == "open", "{st:?}");
    assert_eq!(
        st.resolved_at_ms, None,
        "RT keeps Resolved on reopen; not read back"
    );

    let fix2 = "Tilsyn: back below 90 % since 01:30.";
    d.resolve(&r, fix2).await.unwrap();
    d.resolve(&r, "ignored: already resolved").await.unwrap();
    assert_eq!(d.find_open(&key).await.unwrap(), None);

    // What RT itself holds.
    let t = rt.get(&format!("/ticket/{}", r.id)).await;
    assert_eq!(t["Status"], "resolved");
    assert_eq!(t["Priority"], "70", "P2 → 70");
    assert_eq!(t["Subject"], "[Tilsyn P2] web01: filesystem / above 90 %");
    let cf = t["CustomFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Tilsyn-Key")
        .expect("Tilsyn-Key custom field");
    assert_eq!(cf["values"], json!([key]));
    assert_eq!(t["Requestor"], json!([]));

    let h = rt
        .get(&format!(
            "/ticket/{}/history?fields=Type,Field,OldValue,NewValue&per_page=100",
            r.id
        ))
        .await;
    let items = h["items"].as_array().unwrap();
    let seq: Vec<String> = items
        .iter()
        .filter(|x| {
            ["Create", "Comment", "Correspond", "Status"].contains(&x["Type"].as_str().unwrap())
        })
        .map(|x| match x["Type"].as_str().unwrap() {
            "Status" => format!(
                "Status {}→{}",
                x["OldValue"].as_str().unwrap(),
                x["NewValue"].as_str().unwrap()
            ),
            other => other.to_string(),
        })
        .collect();
    assert_eq!(
        seq,
        [
            "Create",
            "Comment",
            "Comment",
            "Status new→resolved",
            "Comment",
            "Status resolved→open",
            "Comment",
            "Status open→resolved",
        ],
        "history: {h:#}"
    );
    // The comments carry the texts, in order.
    let mut texts = vec![];
    for x in items.iter().filter(|x| x["Type"] == "Comment") {
        let a = rt
            .get(&format!(
                "/transaction/{}/attachments?fields=ContentType,Content",
                x["id"].as_str().unwrap()
            ))
            .await;
        let body = a["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["ContentType"] == "text/plain")
            .expect("a text/plain part");
        texts.push(body["Content"].as_str().unwrap().trim().to_string());
    }
    assert_eq!(texts, [note, fix1, again, fix2]);
    // Nothing was mailed (comments only; no requestor).
    assert!(
        !rt.dir.path().join("mail.out").exists(),
        "RT sent mail: {}",
        std::fs::read_to_string(rt.dir.path().join("mail.out")).unwrap_or_default()
    );

    // read_back of a ticket a person takes and opens: owner → responded; Started = first
    // response.
    let r2 = d.create(&ticket(&unique_key(2))).await.unwrap();
    rt.put(&format!("/ticket/{}/take", r2.id), json!({})).await;
    let st = d.read_back(&r2).await.unwrap().unwrap();
    assert!(st.responded && !st.closed && st.state == "new", "{st:?}");
    assert_eq!(st.first_response_at_ms, None, "taking does not set Started");
    rt.put(&format!("/ticket/{}", r2.id), json!({"Status": "open"}))
        .await;
    let st = d.read_back(&r2).await.unwrap().unwrap();
    let started = st.first_response_at_ms.expect("Started after new → open");
    assert!(started >= t0 && started <= now_ms() + 2_000, "{st:?}");
    let t2 = rt.get(&format!("/ticket/{}", r2.id)).await;
    assert_ne!(t2["Started"], "1970-01-01T00:00:00Z");

    // Failures as RT really answers them.
    let e = d.read_back(&TicketRef::new("99999")).await.unwrap_err();
    assert!(
        e.is_permanent() && e.to_string().contains("HTTP 404"),
        "{e}"
    );
    let nq = Rt5::new(&rt.config("NoSuchQueue"), Duration::from_secs(30)).unwrap();
    let e = nq.create(&ticket(&unique_key(3))).await.unwrap_err();
    assert!(
        e.is_permanent() && e.to_string().contains("HTTP 403"),
        "{e}"
    );
    let bad_token = rt.dir.path().join("bad-token");
    std::fs::write(&bad_token, "1-99-0123456789abcdef0123456789abcdef\n").unwrap();
    let mut c = rt.config("Tilsyn");
    c.token_file = Some(bad_token);
    let e = Rt5::new(&c, Duration::from_secs(30))
        .unwrap()
        .find_open(&key)
        .await
        .unwrap_err();
    assert!(
        e.is_permanent() && e.to_string().contains("HTTP 401"),
        "{e}"
    );
    // A key custom field RT does not have: the create is refused loudly, not silently
    // left unfindable.
    let mut c = rt.config("Tilsyn");
    c.key_field = "No-Such-Field".into();
    let e = Rt5::new(&c, Duration::from_secs(30))
        .unwrap()
        .create(&ticket(&unique_key(4)))
        .await
        .unwrap_err();
    assert!(
        e.is_permanent() && e.to_string().contains("key_field"),
        "{e}"
    );
}

/// The whole path on real components: this machine's real agent goes silent, the real
/// collector raises an `offline` incident and the real RT gets one ticket with the key;
/// a person takes it (read back as the first response); the agent returns and the ticket
/// is resolved in RT.
#[test]
fn real_agent_to_collector_to_real_rt5() {
    let _slot = tilsyn_e2e::e2e_slot();
    use tilsyn_e2e::{agent_online, bin, offline_incident, Collector, Proc};
    let rt = RealRt::start();
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(
        dir.path(),
        &format!(
            "incidents:\n  read_back_every: 1s\n  desks:\n    - name: rt\n      rt5:\n        url: {}\n        queue: Tilsyn\n        token_file: {}\n",
            rt.url,
            rt.dir.path().join("token").display()
        ),
    );
    let (mut agent, acfg, id) = agent_online(&c, dir.path());
    agent.stop();
    let inc = offline_incident(&c, &id, "offline incident with an RT ticket", |i| {
        i["state"] == "open" && i["ticket"]["id"].is_string()
    });
    let ticket = inc["ticket"]["id"].as_str().unwrap().to_string();
    let key = inc["key"].as_str().unwrap().to_string();
    let rtc = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = rtc.block_on(rt.get(&format!("/ticket/{ticket}")));
    assert_eq!(t["Queue"]["id"].as_str().map(|_| ()), Some(()), "{t}");
    let cf = t["CustomFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Tilsyn-Key")
        .unwrap_or_else(|| panic!("no Tilsyn-Key field: {t}"));
    assert_eq!(cf["values"][0], key.as_str(), "{t}");
    assert!(
        t["Subject"].as_str().unwrap().contains("[Tilsyn P4]"),
        "{t}"
    );
    // Exactly one ticket carries the key.
    let found = rtc.block_on(rt.get(&format!(
        "/tickets?query={}",
        urlencode(&format!("'CF.{{Tilsyn-Key}}' = '{key}'"))
    )));
    assert_eq!(found["total"].as_f64(), Some(1.0), "{found}");

    // A person takes the ticket: the collector reads the first response back.
    rtc.block_on(rt.put(&format!("/ticket/{ticket}"), json!({"Status": "open"})));
    let inc = offline_incident(&c, &id, "first response read back from RT", |i| {
        i["first_response_at_ms"].is_i64()
    });
    assert!(
        inc["first_response_at_ms"].as_i64().unwrap()
            >= inc["opened_at_ms"].as_i64().unwrap() - 1000
    );

    let _agent = Proc::spawn(
        &bin("tilsyn-agent"),
        &["run", "--config", acfg.to_str().unwrap()],
        dir.path().join("agent/agent-1.log"),
    );
    offline_incident(&c, &id, "offline incident resolved", |i| {
        i["state"] == "resolved"
    });
    let status = tilsyn_e2e::wait_for(Duration::from_secs(30), "RT ticket resolved", || {
        let t = rtc.block_on(rt.get(&format!("/ticket/{ticket}")));
        (t["Status"] == "resolved").then_some(t["Status"].clone())
    });
    assert!(status.is_ok(), "{status:?}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A host retired while its offline ticket is open: the real RT ticket gets the note that
/// says who retired it and why, and is resolved.
#[test]
fn a_retired_host_resolves_its_real_rt5_ticket_with_the_reason() {
    let _slot = tilsyn_e2e::e2e_slot();
    use tilsyn_e2e::{agent_online, offline_incident, Collector};
    let rt = RealRt::start();
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(
        dir.path(),
        &format!(
            "incidents:\n  read_back_every: 1s\n  desks:\n    - name: rt\n      rt5:\n        url: {}\n        queue: Tilsyn\n        token_file: {}\n",
            rt.url,
            rt.dir.path().join("token").display()
        ),
    );
    let (mut agent, _acfg, id) = agent_online(&c, dir.path());
    agent.stop();
    let inc = offline_incident(&c, &id, "offline incident with an RT ticket", |i| {
        i["state"] == "open" && i["ticket"]["id"].is_string()
    });
    let ticket = inc["ticket"]["id"].as_str().unwrap().to_string();
    let (code, body) = c.call(
        "POST",
        &format!("/api/v1/hosts/{id}/retire"),
        None,
        Some(r#"{"reason": "scrapped, asset 4711"}"#),
    );
    assert_eq!(code, 200, "{body}");
    let rtc = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = tilsyn_e2e::wait_for(Duration::from_secs(30), "RT ticket resolved", || {
        let t = rtc.block_on(rt.get(&format!("/ticket/{ticket}")));
        (t["Status"] == "resolved").then_some(())
    });
    assert!(status.is_ok(), "{status:?}");
    // What went to RT with the resolution: the note naming who retired it and why.
    let sent = tilsyn_e2e::wait_for(Duration::from_secs(30), "the resolve delivered", || {
        let detail = c.get(&format!("/api/v1/incidents/{}", inc["id"]));
        detail["desk_actions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["action"] == "resolve" && a["state"] == "done")
            .and_then(|a| a["payload"].as_str().map(str::to_string))
            .ok_or_else(|| detail.to_string())
    })
    .unwrap();
    assert!(
        sent.contains("the host was retired") && sent.contains("scrapped, asset 4711"),
        "{sent}"
    );
}
