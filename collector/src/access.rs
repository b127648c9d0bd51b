//! Who may call the HTTP API and `/metrics`: bearer tokens (from files named in the config,
//! or created with `tilsyn-collector token create` / `POST /api/v1/tokens` and kept in the
//! store as hashes), their roles, and what each role may reach ([`Need`], one per route in
//! `api::ROUTES`). Failed attempts are counted and, from the fifth from one address within
//! five minutes, answered slowly. Tokens never reach a log: only their names do.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::auth::{hash_secret, random_hex};
use crate::metrics::Metrics;
use crate::store_handle::StoreHandle;
use tilsyn_collector_store::{Actor, ApiToken};

/// What a caller may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "role", content = "departments", rename_all = "snake_case")]
pub enum Role {
    /// Everything, including tokens and the audit trail.
    Admin,
    /// Reads everything; acts on hosts, incidents, maintenance.
    Operator,
    /// Reads everything.
    Reader,
    /// Reads its departments' hosts, compliance, incidents and SLA; nothing else exists
    /// for it (another department's host is 404, not 403).
    Department(Vec<String>),
    /// `/metrics` only (Prometheus' scrape token).
    Metrics,
}

pub const ROLES: &str = "admin, operator, reader, department, metrics";

impl Role {
    /// `departments` only for `department` (at least one).
    pub fn parse(role: &str, departments: &[String]) -> Result<Role, String> {
        let r = match role {
            "admin" => Role::Admin,
            "operator" => Role::Operator,
            "reader" => Role::Reader,
            "metrics" => Role::Metrics,
            "department" => {
                if departments.is_empty() {
                    return Err("role department needs departments (the ids it may read)".into());
                }
                return Ok(Role::Department(departments.to_vec()));
            }
            other => return Err(format!("unknown role {other:?} (use {ROLES})")),
        };
        if !departments.is_empty() {
            return Err(format!(
                "departments are for role department only; role {role} reads every department"
            ));
        }
        Ok(r)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Reader => "reader",
            Role::Department(_) => "department",
            Role::Metrics => "metrics",
        }
    }

    /// May this role reach a route that needs `need`?
    pub fn may(&self, need: Need) -> bool {
        use Role::*;
        match need {
            Need::Public => true,
            Need::Any => true,
            Need::Metrics => matches!(self, Admin | Operator | Reader | Metrics),
            Need::Read => matches!(self, Admin | Operator | Reader | Department(_)),
            Need::ReadAll => matches!(self, Admin | Operator | Reader),
            Need::Act => matches!(self, Admin | Operator),
            Need::Admin => matches!(self, Admin),
        }
    }
}

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// No token: liveness, readiness, the API's own description.
    Public,
    /// Any valid token.
    Any,
    /// The Prometheus scrape: admin, operator, reader, metrics.
    Metrics,
    /// Reading, filtered to a department token's departments.
    Read,
    /// Reading what is not any one department's (the outbox): not department tokens.
    ReadAll,
    /// Acting on hosts, incidents, maintenance: admin, operator.
    Act,
    /// Tokens and the audit trail.
    Admin,
}

impl Need {
    /// The roles that may reach it, as the OpenAPI document lists them.
    pub fn roles(self) -> Vec<&'static str> {
        let all = [
            Role::Admin,
            Role::Operator,
            Role::Reader,
            Role::Department(vec![]),
            Role::Metrics,
        ];
        all.iter()
            .filter(|r| r.may(self))
            .map(|r| r.name())
            .collect()
    }
}

/// The caller of one request, as handlers see it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `token:<name>`, or `local` (no token, on a collector that does not require one).
    pub name: String,
    pub role: Role,
    pub peer: Option<IpAddr>,
}

impl Caller {
    /// The departments it may read; `None` for all.
    pub fn scope(&self) -> Option<&[String]> {
        match &self.role {
            Role::Department(d) => Some(d),
            _ => None,
        }
    }

    /// May it see something of department `dept`?
    pub fn sees(&self, dept: &str) -> bool {
        self.scope().is_none_or(|s| s.iter().any(|d| d == dept))
    }

    /// Who it is in the audit trail.
    pub fn actor(&self) -> Actor {
        Actor {
            actor: self.name.clone(),
            source: self
                .peer
                .map(|p| p.to_string())
                .unwrap_or_else(|| "unknown".into()),
        }
    }
}

/// A token from a file named in the config.
#[derive(Debug, Clone)]
pub struct FileToken {
    pub name: String,
    pub role: Role,
    pub expires_at_ms: Option<i64>,
}

/// Why a request was refused (the `reason` label of
/// `tilsyn_collector_http_auth_failures_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Missing,
    Unknown,
    Expired,
    Revoked,
    /// A valid token whose role may not reach the route.
    Forbidden,
    /// The store could not be asked.
    Unavailable,
}

impl Denied {
    pub fn reason(self) -> &'static str {
        match self {
            Denied::Missing => "missing",
            Denied::Unknown => "unknown",
            Denied::Expired => "expired",
            Denied::Revoked => "revoked",
            Denied::Forbidden => "forbidden",
            Denied::Unavailable => "unavailable",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Denied::Missing => "authentication required: send Authorization: Bearer <token> (tilsyn-collector token create makes one)",
            Denied::Unknown => "unknown token",
            Denied::Expired => "this token has expired; ask an admin for a new one",
            Denied::Revoked => "this token was revoked; ask an admin for a new one",
            Denied::Forbidden => "this token's role may not do this",
            Denied::Unavailable => "cannot check the token: the store is unavailable",
        }
    }
}

/// Prefix of the tokens the collector makes: `tlsn_<id>_<secret>`.
pub const TOKEN_PREFIX: &str = "tlsn_";

/// A new token: its id (public, the store's key) and the whole token (shown once).
pub fn new_token() -> (String, String) {
    let id = random_hex(6);
    let token = format!("{TOKEN_PREFIX}{id}_{}", random_hex(32));
    (id, token)
}

/// The id of a token made by the collector.
fn token_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 12 && secret.len() == 64).then_some(id)
}

/// Failed attempts from one address.
struct Failures {
    count: u32,
    first: Instant,
}

/// Attempts from one address within this period count together.
const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Failures answered at once before the answers slow down.
const FREE_FAILURES: u32 = 5;
/// How long a stored token's lookup is reused (a revocation made on another collector
/// takes effect within this; on the same collector at once).
const CACHE_FOR: Duration = Duration::from_secs(10);

type Cached = (Instant, Option<(ApiToken, String)>);

/// Checks the bearer tokens of HTTP requests.
pub struct Gate {
    /// Without a token, callers are `local` admins (loopback only: `validate` refuses
    /// this off loopback).
    pub required: bool,
    files: HashMap<String, FileToken>,
    store: StoreHandle,
    metrics: Arc<Metrics>,
    clock: fn() -> i64,
    cache: Mutex<HashMap<String, Cached>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
    /// When each stored token's use was last written (at most once a minute).
    touched: Mutex<HashMap<String, i64>>,
}

impl Gate {
    /// `files`: (token, its entry), read from the config's token files.
    pub fn new(
        required: bool,
        files: Vec<(String, FileToken)>,
        store: StoreHandle,
        metrics: Arc<Metrics>,
        clock: fn() -> i64,
    ) -> Gate {
        Gate {
            required,
            files: files
                .into_iter()
                .map(|(t, f)| (hash_secret(&t), f))
                .collect(),
            store,
            metrics,
            clock,
            cache: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            touched: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a valid token refused for its role.
    pub fn forbidden(&self) {
        self.metrics
            .http_auth_failures
            .with_label_values(&[Denied::Forbidden.reason()])
            .inc();
    }

    /// Forgets a stored token's cached lookup (after it was revoked here).
    pub fn forget(&self, id: &str) {
        self.cache.lock().expect("token cache").remove(id);
    }

    /// The caller of a request with `authorization` (the header's value) from `peer`.
    pub async fn caller(
        &self,
        authorization: Option<&str>,
        peer: Option<IpAddr>,
    ) -> Result<Caller, Denied> {
        let token = authorization.and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .map(str::trim)
        });
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            if authorization.is_none() && !self.required {
                return Ok(Caller {
                    name: "local".into(),
                    role: Role::Admin,
                    peer,
                });
            }
            return Err(self.failed(peer, Denied::Missing).await);
        };
        match self.check(token).await {
            Ok((name, role)) => {
                if let Some(p) = peer {
                    self.failures.lock().expect("failures").remove(&p);
                }
                Ok(Caller { name, role, peer })
            }
            Err(d) => Err(self.failed(peer, d).await),
        }
    }

    /// Counts a refusal and, after [`FREE_FAILURES`] from the same address, waits before
    /// answering: 250 ms doubling to at most 5 s.
    async fn failed(&self, peer: Option<IpAddr>, d: Denied) -> Denied {
        self.metrics
            .http_auth_failures
            .with_label_values(&[d.reason()])
            .inc();
        let Some(p) = peer else { return d };
        let n = {
            let mut f = self.failures.lock().expect("failures");
            if f.len() > 100_000 {
                // Bounded: under a spray from many addresses keep only the recent ones.
                f.retain(|_, v| v.first.elapsed() < FAILURE_WINDOW);
            }
            let e = f.entry(p).or_insert(Failures {
                count: 0,
                first: Instant::now(),
            });
            if e.first.elapsed() > FAILURE_WINDOW {
                *e = Failures {
                    count: 0,
                    first: Instant::now(),
                };
            }
            e.count += 1;
            e.count
        };
        if n > FREE_FAILURES {
            let exp = (n - FREE_FAILURES - 1).min(5);
            let wait = Duration::from_millis(250 << exp).min(Duration::from_secs(5));
            tracing::warn!(peer = %p, failures = n, reason = d.reason(), "repeated failed API authentication; slowing down");
            tokio::time::sleep(wait).await;
        }
        d
    }

    async fn check(&self, token: &str) -> Result<(String, Role), Denied> {
        let now = (self.clock)();
        let expired = |at: Option<i64>| at.is_some_and(|e| e <= now);
        let Some(id) = token_id(token) else {
            let f = self.files.get(&hash_secret(token)).ok_or(Denied::Unknown)?;
            if expired(f.expires_at_ms) {
                return Err(Denied::Expired);
            }
            return Ok((format!("token:{}", f.name), f.role.clone()));
        };
        let cached = self
            .cache
            .lock()
            .expect("token cache")
            .get(id)
            .filter(|(at, _)| at.elapsed() < CACHE_FOR)
            .map(|(_, t)| t.clone());
        let found = match cached {
            Some(t) => t,
            None => {
                let key = id.to_string();
                let t = self
                    .store
                    .call("token", move |s| s.token(&key))
                    .await
                    .map_err(|_| Denied::Unavailable)?;
                let mut c = self.cache.lock().expect("token cache");
                if c.len() > 10_000 {
                    c.clear();
                }
                c.insert(id.to_string(), (Instant::now(), t.clone()));
                t
            }
        };
        let Some((t, hash)) = found else {
            return Err(Denied::Unknown);
        };
        if !crate::auth::verify_secret(token, &hash) {
            return Err(Denied::Unknown);
        }
        if t.revoked_at_ms.is_some() {
            return Err(Denied::Revoked);
        }
        if expired(t.expires_at_ms) {
            return Err(Denied::Expired);
        }
        let role = Role::parse(&t.role, &t.departments).map_err(|_| Denied::Unknown)?;
        self.touch(&t.id, now);
        Ok((format!("token:{}", t.name), role))
    }

    /// Records a stored token's use, at most once a minute, without waiting for it.
    fn touch(&self, id: &str, now: i64) {
        {
            let mut t = self.touched.lock().expect("touched");
            if t.get(id).is_some_and(|at| now - at < 60_000) {
                return;
            }
            t.insert(id.to_string(), now);
        }
        let (store, id) = (self.store.clone(), id.to_string());
        tokio::spawn(async move {
            let _ = store
                .call("touch_token", move |s| s.touch_token(&id, now))
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_reach_what_they_should() {
        let d = Role::Department(vec!["schools".into()]);
        assert!(d.may(Need::Read) && !d.may(Need::ReadAll) && !d.may(Need::Metrics));
        assert!(!Role::Reader.may(Need::Act) && Role::Operator.may(Need::Act));
        assert!(!Role::Operator.may(Need::Admin) && Role::Admin.may(Need::Admin));
        assert!(Role::Metrics.may(Need::Metrics) && !Role::Metrics.may(Need::Read));
        assert_eq!(Need::Act.roles(), ["admin", "operator"]);
        assert!(Role::parse("department", &[]).is_err());
        assert!(Role::parse("reader", &["schools".into()]).is_err());
        assert!(Role::parse("root", &[])
            .unwrap_err()
            .contains("unknown role"));
    }

    #[test]
    fn made_tokens_carry_their_id() {
        let (id, t) = new_token();
        assert_eq!(token_id(&t), Some(id.as_str()));
        assert_eq!(token_id("tlsn_short_x"), None);
        assert_eq!(token_id("a-file-token-of-some-length"), None);
    }
}
