//! Who may see and do what, end to end: a collector with `http.auth.required`, two
//! departments (this machine's real agent in Social Services, simulated hosts in Schools)
//! and a token per role. The table of routes and roles is the one the collector publishes
//! (`/api/v1/openapi.json`, `x-tilsyn-roles`): every route is called by every role,
//! anonymously, with an expired and with a revoked token, on its own department's objects
//! and on the other's. Actions are called with a body they refuse (400), so being let in
//! is proven without changing anything; the lifecycle tests do the real thing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tilsyn_e2e::*;

/// (name, role, departments) of the file tokens; the token is `tok-NAME-` padded.
const FILE_TOKENS: &[(&str, &str, &str)] = &[
    ("admin", "admin", ""),
    ("ops", "operator", ""),
    ("reader", "reader", ""),
    ("social", "department", "social-services"),
    ("prometheus", "metrics", ""),
    ("old", "reader", ""),
];

fn secret(name: &str) -> String {
    format!("tok-{name}-{}", "x".repeat(40))
}

fn auth_section(dir: &Path) -> String {
    let mut s = String::from("  auth:\n    required: true\n    tokens:\n");
    for (name, role, depts) in FILE_TOKENS {
        let file = dir.join(format!("{name}.token"));
        std::fs::write(&file, secret(name)).unwrap();
        s += &format!(
            "      - {{name: {name}, role: {role}, token_file: '{}'{}{}}}\n",
            file.display(),
            if depts.is_empty() {
                String::new()
            } else {
                format!(", departments: [{depts}]")
            },
            if *name == "old" {
                ", expires: 2020-01-31"
            } else {
                ""
            }
        );
    }
    s
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The objects a path's parameters name, mine (Social Services) or the other department's.
struct Objects {
    host: [String; 2],
    incident: [String; 2],
    standard: String,
    window: String,
    token: String,
}

impl Objects {
    /// `path` with its parameters filled in: the other department's objects when `other`;
    /// `None` when the route has no department-owned object to vary.
    fn fill(&self, path: &str, other: bool) -> Option<String> {
        let i = other as usize;
        let p = if path.contains("{agent_id}") {
            path.replace("{agent_id}", &self.host[i])
        } else if path.starts_with("/api/v1/incidents/{id}") {
            path.replace("{id}", &self.incident[i])
        } else if path == "/api/v1/sla" {
            format!("{path}?department={}", ["social-services", "schools"][i])
        } else if other {
            return None;
        } else {
            path.replace("{id}", &self.id_for(path))
        };
        Some(p)
    }

    fn id_for(&self, path: &str) -> String {
        if path.contains("/standards/") {
            self.standard.clone()
        } else if path.contains("/maintenance/") {
            self.window.clone()
        } else {
            self.token.clone()
        }
    }
}

#[test]
fn every_route_answers_each_role_as_the_published_table_says() {
    let _slot = tilsyn_e2e::e2e_slot();
    let dir = tempfile::tempdir().unwrap();
    let http = auth_section(dir.path());
    let sla = dir.path().join("sla.yaml");
    std::fs::write(
        &sla,
        "time_zone: UTC
tiers:
  t: {service_hours: {time_zone: UTC, always: true}, availability: 0.99, response: {P1: 1h}}
departments:
  - {id: social-services, tier: t}
  - {id: schools, tier: t}
services:
  - {id: social-pcs, name: Social PCs, departments: [social-services], hosts: {department: [social-services]}}
  - {id: school-pcs, name: School PCs, departments: [schools], hosts: {department: [schools]}}
",
    )
    .unwrap();
    let extra = format!(
        "sla:\n  file: '{}'\nincidents:\n  conditions:\n    - {{when: {{compliance_at_least: low}}, observations: 1, resolve_observations: 1}}\n",
        sla.display()
    );
    let admin = secret("admin");
    let c = Collector::start_spec(
        dir.path(),
        &Spec {
            extra: &extra,
            http: &http,
            schools: true,
            token: Some(&admin),
        },
    );

    // Refused before anything else: no token at all.
    let (code, body) = c.call("GET", "/api/v1/hosts", None, None);
    assert_eq!(code, 401, "{body}");

    let (_agent, _acfg, mine) = agent_online(&c, dir.path());
    let _sim = simulator(&c, dir.path(), SCHOOLS_TOKEN, 3);
    let schools_hosts: Vec<Value> = wait_for(
        Duration::from_secs(90),
        "three simulated hosts in Schools",
        || {
            let h = c.get("/api/v1/hosts?department=schools&limit=100");
            let list = h["hosts"].as_array().cloned().unwrap_or_default();
            if list.len() == 3 {
                Ok(list)
            } else {
                Err(h.to_string())
            }
        },
    )
    .unwrap();
    let theirs = schools_hosts[0]["agent_id"].as_str().unwrap().to_string();
    // Every failing rule opens an incident at once: each department has some.
    let incident_of = |dept: &str| -> String {
        wait_for(
            Duration::from_secs(90),
            &format!("an incident in {dept}"),
            || {
                let r = c.get(&format!("/api/v1/incidents?department={dept}&limit=1"));
                r["incidents"][0]["id"]
                    .as_i64()
                    .map(|i| i.to_string())
                    .ok_or_else(|| r.to_string())
            },
        )
        .unwrap()
    };
    let incident = [incident_of("social-services"), incident_of("schools")];

    // A store token for Schools' readers, made on the command line; and one revoked.
    let made = c.cli(&[
        "token",
        "create",
        "--name",
        "schools-grafana",
        "--role",
        "department",
        "--department",
        "schools",
    ]);
    let schools = made.lines().next().unwrap().trim().to_string();
    assert!(schools.starts_with("tlsn_"), "{made}");
    let gone_text = c.cli(&["token", "create", "--name", "gone", "--role", "admin"]);
    let gone = gone_text.lines().next().unwrap().trim().to_string();
    let gone_id = gone.split('_').nth(1).unwrap().to_string();
    let (code, _) = c.call("GET", "/api/v1/whoami", Some(&gone), None);
    assert_eq!(code, 200, "the new token works before it is revoked");
    c.cli(&["token", "revoke", &gone_id]);
    // Revoked elsewhere (here: the command line), collectors refuse it within 10 s.
    wait_for(Duration::from_secs(15), "the revoked token refused", || {
        let (code, body) = c.call("GET", "/api/v1/whoami", Some(&gone), None);
        (code == 401).then_some(()).ok_or(body)
    })
    .unwrap();

    // A change window for Social Services' hosts, made by the operator through the API.
    let ops = secret("ops");
    let window = serde_json::json!({
        "change_ref": "CHG-1001", "reason": "switch replacement",
        "end": (now_ms() + 7 * 86_400_000).to_string(),
        "scope": {"department": ["social-services"]},
    });
    let (code, body) = c.call(
        "POST",
        "/api/v1/maintenance",
        Some(&ops),
        Some(&window.to_string()),
    );
    assert_eq!(code, 201, "{body}");
    let window = json(&body)["id"].as_str().unwrap().to_string();

    let standard = c.get("/api/v1/compliance/standards")["standards"][0]["standard"]
        .as_str()
        .unwrap()
        .to_string();
    let objects = Objects {
        host: [mine.clone(), theirs.clone()],
        incident,
        standard,
        window,
        token: gone_id.clone(),
    };

    let mut tokens: BTreeMap<&str, String> = BTreeMap::new();
    for (name, role, _) in FILE_TOKENS {
        if *name != "old" {
            tokens.insert(role, secret(name));
        }
    }
    tokens.insert("department", secret("social"));

    let (code, doc) = c.call("GET", "/api/v1/openapi.json", None, None);
    assert_eq!(code, 200);
    let doc = json(&doc);
    let mut seen_routes = 0;
    let mut failures = Vec::new();
    let mut check = |what: String, got: (u16, String), want: u16| {
        if got.0 != want {
            let body: String = got.1.chars().take(300).collect();
            failures.push(format!("{what}: {} (wanted {want}): {body}", got.0));
        }
    };
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let method = method.to_uppercase();
            seen_routes += 1;
            let roles: Vec<&str> = op["x-tilsyn-roles"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: no x-tilsyn-roles"))
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            let public = roles.is_empty();
            // Actions get a body they refuse: let in, nothing changes.
            let body = (method == "POST").then_some("not json");
            let mine_path = objects.fill(path, false).unwrap();
            // Revoking the revoked token again takes no body and changes nothing.
            let ok = if method == "GET" || path == "/api/v1/tokens/{id}/revoke" {
                200
            } else {
                400
            };
            let call = |tok: Option<&str>, p: &str| c.call(&method, p, tok, body);

            check(
                format!("{method} {mine_path} anonymously"),
                call(None, &mine_path),
                if public { ok } else { 401 },
            );
            for (label, tok) in [("an expired", secret("old")), ("a revoked", gone.clone())] {
                check(
                    format!("{method} {mine_path} with {label} token"),
                    call(Some(&tok), &mine_path),
                    if public { ok } else { 401 },
                );
            }
            for (role, tok) in &tokens {
                let allowed = public || roles.contains(role);
                check(
                    format!("{method} {mine_path} as {role}"),
                    call(Some(tok), &mine_path),
                    if allowed { ok } else { 403 },
                );
                if let Some(theirs) = objects.fill(path, true) {
                    // Another department's object does not exist for a department reader.
                    let want = match (allowed, *role) {
                        (false, _) => 403,
                        (true, "department") if method == "GET" => 404,
                        _ => ok,
                    };
                    check(
                        format!("{method} {theirs} (Schools') as {role}"),
                        call(Some(tok), &theirs),
                        want,
                    );
                }
            }
            // The Schools reader's store token: its own host, Social's is 404.
            if roles.contains(&"department") && path.contains("{agent_id}") && method == "GET" {
                check(
                    format!("{method} {path} on Schools' host as schools"),
                    call(Some(&schools), &objects.fill(path, true).unwrap()),
                    200,
                );
                check(
                    format!("{method} {path} on Social's host as schools"),
                    call(Some(&schools), &mine_path),
                    404,
                );
            }
        }
    }
    assert!(seen_routes >= 30, "the document lists {seen_routes} routes");
    assert!(
        failures.is_empty(),
        "{} of the calls answered otherwise than the table says:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // What a department reader reads holds nothing of the other department.
    let secret_of_schools: Vec<String> = schools_hosts
        .iter()
        .flat_map(|h| {
            [
                h["agent_id"].as_str().unwrap().to_string(),
                h["hostname"].as_str().unwrap().to_string(),
            ]
        })
        .collect();
    let social = secret("social");
    for path in [
        "/api/v1/hosts?limit=1000",
        "/api/v1/summary",
        "/api/v1/incidents?limit=1000",
        "/api/v1/problems",
        "/api/v1/maintenance",
        "/api/v1/sla",
        "/api/v1/compliance/departments",
        "/api/v1/compliance/findings?limit=1000",
        "/api/v1/compliance/status",
        &format!("/api/v1/compliance/standards/{}", objects.standard),
    ] {
        let (code, body) = c.call("GET", path, Some(&social), None);
        assert_eq!(code, 200, "{path}: {body}");
        for s in &secret_of_schools {
            assert!(
                !body.contains(s.as_str()),
                "{path} shows Schools' {s}: {body}"
            );
        }
        assert!(
            !body.contains("\"schools\""),
            "{path} names Schools: {body}"
        );
    }
    let hosts = json(&c.call("GET", "/api/v1/hosts", Some(&social), None).1);
    assert_eq!(hosts["count"], 1, "{hosts}");
    assert_eq!(hosts["hosts"][0]["agent_id"], mine.as_str());
    let hosts = json(&c.call("GET", "/api/v1/hosts", Some(&schools), None).1);
    assert_eq!(hosts["count"], 3, "{hosts}");
    let me = json(&c.call("GET", "/api/v1/whoami", Some(&schools), None).1);
    assert_eq!(me["role"], "department", "{me}");

    // The metrics token scrapes; what is not a token is counted by reason.
    let (code, m) = c.call("GET", "/metrics", Some(&secret("prometheus")), None);
    assert_eq!(code, 200);
    for reason in ["missing", "expired", "revoked", "forbidden"] {
        assert!(
            exposition::matching(
                &m,
                "tilsyn_collector_http_auth_failures_total",
                &[("reason", reason)]
            )
            .iter()
            .any(|s| s.value > 0.0),
            "failures for {reason} counted: {}",
            m.lines()
                .filter(|l| l.contains("auth_failures"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    // No token in the log, only names.
    let log = c.proc.as_ref().unwrap().log_text();
    for (name, _, _) in FILE_TOKENS {
        assert!(!log.contains(&secret(name)), "{name}'s token is in the log");
    }
    assert!(!log.contains(&schools) && !log.contains(&gone));

    // The trail says who did what from where.
    let trail = json(
        &c.call("GET", "/api/v1/audit?limit=100", Some(&admin), None)
            .1,
    );
    let entries = trail["entries"].as_array().expect("entries");
    let find = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {trail}"))
    };
    let w = find("maintenance.create");
    assert_eq!(w["actor"], "token:ops", "{w}");
    assert_eq!(w["source"], "127.0.0.1", "{w}");
    assert_eq!(w["after"]["change_ref"], "CHG-1001", "{w}");
    assert_eq!(find("token.create")["actor"], "cli:e2e-operator");
    assert_eq!(find("token.revoke")["subject"], format!("token:{gone_id}"));
}

#[test]
fn the_api_off_loopback_needs_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("collector.yaml");
    let write = |auth: &str| {
        std::fs::write(
            &cfg,
            format!(
                "data_dir: data\ngrpc: {{listen: 127.0.0.1:0}}\nhttp:\n  listen: 0.0.0.0:0\n{auth}\
                 departments: [{{id: it, name: IT, tokens: [token-for-it-department]}}]\ncompliance: {{standards_dir: '{}'}}\n",
                repo_root().join("configs/standards").display()
            ),
        )
        .unwrap()
    };
    write("");
    for cmd in ["validate", "run"] {
        let out = Command::new(bin("tilsyn-collector"))
            .args([cmd, "--config", cfg.to_str().unwrap()])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{cmd} accepted it: {err}");
        assert!(
            err.contains("http.auth.required") && err.contains("0.0.0.0"),
            "{cmd}: {err}"
        );
    }
    write("  auth: {required: true}\n");
    let out = Command::new(bin("tilsyn-collector"))
        .args(["validate", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
