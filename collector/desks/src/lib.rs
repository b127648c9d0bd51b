//! Service desk adapters. A desk is somebody else's product; each adapter speaks its
//! documented REST API and implements [`Desk`]: create a ticket, find the open ticket for
//! a correlation key, add an internal work note, resolve, reopen, and (where the desk
//! exposes it) read back when a person first responded and when it was resolved by hand.
//!
//! Adapters never retry by themselves: they classify each failure as [`DeskError`]
//! `Transient` (5xx, 429, timeout, connection refused, an answer that cannot be read) or
//! `Permanent` (a 4xx that will fail again as sent), and the outbox (in the collector)
//! decides. A new desk is one file here implementing [`Desk`], plus one line in
//! [`registry`]'s `adapters!`.
//!
//! This crate works in terms of the core's ticket types ([`Ticket`], [`TicketRef`],
//! [`TicketStatus`]); it knows no store and no server. Adapters share what every desk
//! needs from here: [`http`] for calls and their classification, [`one_line`] for titles,
//! [`utc_ms`] for the desks' date formats, [`Secret`] and [`base_url`] for configuration.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

pub use tilsyn_collector_core::incidents::config::resolve_path;
pub use tilsyn_collector_core::incidents::ticket::{Ticket, TicketRef, TicketStatus};
pub use tilsyn_collector_core::text::one_line;

pub mod answers;
pub mod file;
pub mod glpi;
pub mod http;
pub mod jira;
#[cfg(test)]
pub mod mock;
pub mod registry;
pub mod rt5;
pub mod servicenow;
pub mod topdesk;
pub mod webhook;
pub mod zammad;

pub use registry::{build, DeskConfig, DeskSet};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeskError {
    /// Try again later: 5xx, 408, 429, timeout, connection failure, or an answer that
    /// cannot be read. `retry_after` is the desk's own Retry-After, when it sent one.
    #[error("{message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Fails again as sent (401, 403, 404, 400 …): stop and surface it to the operator.
    #[error("{message}")]
    Permanent { message: String },
}

impl DeskError {
    pub fn transient(message: impl Into<String>) -> DeskError {
        DeskError::Transient {
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn permanent(message: impl Into<String>) -> DeskError {
        DeskError::Permanent {
            message: message.into(),
        }
    }
    pub fn is_permanent(&self) -> bool {
        matches!(self, DeskError::Permanent { .. })
    }
}

pub type DeskResult<T> = Result<T, DeskError>;
pub type DeskFuture<'a, T> = Pin<Box<dyn Future<Output = DeskResult<T>> + Send + 'a>>;

/// One service desk. Every method is one logical action; an adapter may make several
/// HTTP calls for it (GLPI's session, Jira's transition lookup) but never retries.
pub trait Desk: Send + Sync {
    /// The adapter's type name (`rt5`, `servicenow` …), for logs and metrics.
    fn kind(&self) -> &'static str;
    /// Opens a ticket carrying `t.key` so that [`Desk::find_open`] finds it.
    fn create<'a>(&'a self, t: &'a Ticket) -> DeskFuture<'a, TicketRef>;
    /// The ticket for `key` that is not resolved/closed, if any (crash recovery: a
    /// create whose answer was lost must not make a second ticket).
    fn find_open<'a>(&'a self, key: &'a str) -> DeskFuture<'a, Option<TicketRef>>;
    /// Adds an internal work note (never a message to the customer).
    fn note<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()>;
    /// Resolves the ticket with `text` as the resolution. Resolving a ticket that is
    /// already resolved or closed succeeds.
    fn resolve<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()>;
    /// Reopens a resolved ticket (a recurrence within the reopen window) with a note.
    fn reopen<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()>;
    /// Reads back what people did with the ticket. `Ok(None)`: this desk cannot tell.
    fn read_back<'a>(&'a self, t: &'a TicketRef) -> DeskFuture<'a, Option<TicketStatus>>;
}

/// A credential given in the config as a file (preferred) or an environment variable;
/// never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Reads `<what>_file` or `<what>_env`; exactly one must be set and non-empty.
    /// Errors name the setting and say what to do.
    pub fn load(file: Option<&Path>, env: Option<&str>, what: &str) -> Result<Secret, String> {
        match (file, env) {
            (Some(_), Some(_)) => Err(format!("set either {what}_file or {what}_env, not both")),
            (None, None) => Err(format!(
                "missing credential: set {what}_file (a file holding it) or {what}_env (an environment variable)"
            )),
            (Some(p), None) => match tilsyn_proto::files::read_small(p, tilsyn_proto::files::MAX_SECRET_BYTES) {
                Ok(s) if !s.trim().is_empty() => Ok(Secret(s.trim().to_string())),
                Ok(_) => Err(format!("{what}_file {} is empty", p.display())),
                Err(e) => Err(format!("{what}_file {}: {e}", p.display())),
            },
            (None, Some(v)) => match std::env::var(v) {
                Ok(s) if !s.trim().is_empty() => Ok(Secret(s.trim().to_string())),
                _ => Err(format!(
                    "{what}_env: environment variable {v} is not set or empty"
                )),
            },
        }
    }
}

/// Checks a desk's base URL: http or https, a host, no query; returns it without a
/// trailing slash so paths can be appended.
pub fn base_url(url: &str, what: &str) -> Result<String, String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("{what}: {url:?} is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!(
            "{what}: {url:?} must start with https:// (or http://)"
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("{what}: {url:?} has no host"));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(format!("{what}: {url:?} must not have a query or fragment"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// How a desk that takes either a user with a secret (HTTP basic) or a bearer token
/// authenticates; read from its config by [`Auth::load`].
pub enum Auth {
    Basic { user: String, secret: Secret },
    Bearer(Secret),
}

/// The settings and wording of one desk's two ways to authenticate.
pub struct AuthSpec<'a> {
    /// `servicenow`, `jira`: the config prefix in messages.
    pub desk: &'a str,
    /// The user setting (`username`, `email`), its value, what it must be ("a user name")
    /// and why it is needed ("the password needs the integration user's name").
    pub user_key: &'a str,
    pub user: Option<&'a str>,
    pub user_is: &'a str,
    pub user_needed: &'a str,
    /// The basic secret (`password`, `api_token`) as `<key>_file` / `<key>_env`, and what
    /// that way is called ("basic authentication").
    pub secret_key: &'a str,
    pub secret_file: Option<&'a Path>,
    pub secret_env: Option<&'a str>,
    pub basic_is: &'a str,
    /// The bearer token (`token`, `pat`) and what it is ("an OAuth bearer token").
    pub token_key: &'a str,
    pub token_file: Option<&'a Path>,
    pub token_env: Option<&'a str>,
    pub bearer_is: &'a str,
}

impl Auth {
    /// Exactly one of the two ways must be configured; every problem is listed.
    pub fn load(a: &AuthSpec<'_>) -> Result<Auth, Vec<String>> {
        let (d, u, s, t) = (a.desk, a.user_key, a.secret_key, a.token_key);
        let has_secret = a.secret_file.is_some() || a.secret_env.is_some();
        let has_token = a.token_file.is_some() || a.token_env.is_some();
        match (a.user.map(str::trim), has_secret, has_token) {
            (None, false, false) => Err(vec![format!(
                "{d}: missing credential: set {u} with {s}_file or {s}_env ({}), or {t}_file or {t}_env ({})",
                a.basic_is, a.bearer_is
            )]),
            (_, true, true) | (Some(_), false, true) => Err(vec![format!(
                "{d}: set either {u} + {s}_file/{s}_env or {t}_file/{t}_env, not both"
            )]),
            (None, false, true) => Secret::load(a.token_file, a.token_env, &format!("{d}.{t}"))
                .map(Auth::Bearer)
                .map_err(|e| vec![e]),
            (None, true, false) => Err(vec![format!("{d}.{u}: missing; {}", a.user_needed)]),
            (Some(user), _, false) => {
                let mut errs = Vec::new();
                if user.is_empty() || user.contains(':') {
                    errs.push(format!("{d}.{u}: must be {} (not empty, no ':')", a.user_is));
                }
                let secret = Secret::load(a.secret_file, a.secret_env, &format!("{d}.{s}"))
                    .map_err(|e| errs.push(e))
                    .ok();
                match secret {
                    Some(secret) if errs.is_empty() => Ok(Auth::Basic {
                        user: user.to_string(),
                        secret,
                    }),
                    _ => Err(errs),
                }
            }
        }
    }

    pub fn apply(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::Basic { user, secret } => rb.basic_auth(user, Some(secret.expose())),
            Auth::Bearer(t) => rb.bearer_auth(t.expose()),
        }
    }
}

/// Is a correlation key plain enough to put into a desk's query language or a label:
/// 1..=`max` characters of A-Z, a-z, 0-9, `-`, `_`, `.`?
pub fn plain_key(key: &str, max: usize) -> bool {
    !key.is_empty()
        && key.len() <= max
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// A desk's date-time as ms since the epoch: ISO 8601 / RFC 3339 with `Z` or an offset
/// (`+0100` too), or `YYYY-MM-DD HH:MM:SS` taken as UTC; `None` when empty or unreadable.
pub fn utc_ms(s: &str) -> Option<i64> {
    tilsyn_proto::time::parse_timestamp_ms(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            base_url("https://desk.example.org/", "url").unwrap(),
            "https://desk.example.org"
        );
        assert!(base_url("desk.example.org", "url")
            .unwrap_err()
            .contains("not a URL"));
        assert!(base_url("ftp://x", "url").unwrap_err().contains("https://"));
        assert!(base_url("https://x/?a=1", "url")
            .unwrap_err()
            .contains("query"));
    }

    #[test]
    fn titles_are_one_line_and_cut_with_an_ellipsis() {
        assert_eq!(one_line(" a\nb\tc ", 10), "a b c");
        assert_eq!(one_line(&"é".repeat(100), 80).chars().count(), 80);
        assert!(one_line(&"x".repeat(100), 80).ends_with('…'));
    }

    #[test]
    fn desk_dates_in_every_shape_they_come() {
        let t = 1_795_338_930_000; // 2026-11-22T09:15:30Z
        for s in [
            "2026-11-22T10:15:30.000+0100",
            "2026-11-22T09:15:30Z",
            "2026-11-22T09:15:30.000+0000",
            "2026-11-22 09:15:30",
        ] {
            assert_eq!(utc_ms(s), Some(t), "{s}");
        }
        assert_eq!(utc_ms(""), None);
        assert_eq!(utc_ms("22/Nov/26"), None);
    }

    #[test]
    fn secrets_come_from_one_place_and_never_print() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("tok");
        std::fs::write(&f, "s3cret\n").unwrap();
        let s = Secret::load(Some(&f), None, "token").unwrap();
        assert_eq!(s.expose(), "s3cret");
        assert_eq!(format!("{s:?}"), "Secret(…)");
        assert!(Secret::load(None, None, "token")
            .unwrap_err()
            .contains("token_file"));
        assert!(Secret::load(Some(&f), Some("X"), "token")
            .unwrap_err()
            .contains("not both"));
        assert!(Secret::load(None, Some("TILSYN_SURELY_UNSET_VAR"), "token")
            .unwrap_err()
            .contains("TILSYN_SURELY_UNSET_VAR"));
    }
}

/// What one page of a desk's search answer says about the key searched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page<N = ()> {
    /// The open ticket for the key.
    Found(TicketRef),
    /// Not on this page; there are more, read with `N` (a page token, a start offset).
    More(N),
    /// Not on this page, and it was the last one.
    End,
}
