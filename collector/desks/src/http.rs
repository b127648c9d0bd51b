//! The HTTP plumbing every adapter shares: one client (rustls, timeouts, a user agent),
//! and one classification of answers into success, [`DeskError::Transient`] (retry later,
//! honouring Retry-After) and [`DeskError::Permanent`] (surface it).

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::{DeskError, DeskResult};

/// How long one desk call may take before it counts as a timeout (transient).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Largest answer body an adapter reads (a desk answering with a huge page is garbage).
const MAX_BODY: usize = 8 << 20;

/// Bytes read of a refusal's body (it is only quoted in the error).
const MAX_ERROR_BODY: usize = 64 << 10;

/// A client for one desk.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("tilsyn-collector/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .expect("reqwest client with rustls")
}

/// Sends a request; a 2xx answer is returned, anything else becomes a [`DeskError`]
/// naming `what` (e.g. `ServiceNow create incident`) and quoting the start of the body.
pub async fn send(rb: RequestBuilder, what: &str) -> DeskResult<Response> {
    let resp = rb.send().await.map_err(|e| {
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "cannot connect"
        } else {
            "request failed"
        };
        DeskError::transient(format!("{what}: {kind}: {}", error_chain(&e)))
    })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let retry_after = retry_after(resp.headers(), SystemTime::now());
    let body = head(resp).await;
    Err(refused(status, retry_after, what, &body))
}

/// The error for a non-2xx answer with `body` (any bytes; only its start is quoted).
pub fn refused(
    status: StatusCode,
    retry_after: Option<Duration>,
    what: &str,
    body: &[u8],
) -> DeskError {
    classify(status, retry_after, what, &String::from_utf8_lossy(body))
}

/// The start of a refusal's body: at most [`MAX_ERROR_BODY`] bytes are read (the message
/// quotes 300 characters), whatever the desk or a proxy in front of it sends.
pub async fn head(mut resp: Response) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < MAX_ERROR_BODY {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ERROR_BODY - out.len();
                out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    out
}

/// The error for a non-2xx status.
pub fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    what: &str,
    body: &str,
) -> DeskError {
    let message = format!("{what}: HTTP {}{}", status.as_u16(), excerpt(body));
    let transient = status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        // Some desks answer 409 to concurrent edits of one ticket; the next try succeeds.
        || status == StatusCode::CONFLICT;
    if transient {
        DeskError::Transient {
            message,
            retry_after,
        }
    } else {
        let hint = match status.as_u16() {
            401 => " (check the desk credentials)",
            403 => " (the desk account lacks a permission, or the queue/project is wrong)",
            404 => " (wrong URL, or the ticket was deleted)",
            _ => "",
        };
        DeskError::permanent(format!("{message}{hint}"))
    }
}

/// Reads a 2xx answer as JSON; an answer that is not the expected JSON is transient (a
/// proxy's HTML error page, a truncated body), so the outbox tries again.
pub async fn json<T: DeserializeOwned>(resp: Response, what: &str) -> DeskResult<T> {
    parse(&body(resp, what).await?, what)
}

/// An answer's bytes as JSON: what [`json`] does once the body is read. Not the expected
/// JSON (not JSON, wrong types, nested deeper than serde_json's limit of 128) is transient.
pub fn parse<T: DeserializeOwned>(bytes: &[u8], what: &str) -> DeskResult<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        DeskError::transient(format!(
            "{what}: unreadable answer ({e}){}",
            excerpt(&String::from_utf8_lossy(bytes))
        ))
    })
}

/// The body of an answer, bounded.
pub async fn body(mut resp: Response, what: &str) -> DeskResult<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| DeskError::transient(format!("{what}: reading the answer: {e}")))?
    {
        if out.len() + chunk.len() > MAX_BODY {
            return Err(DeskError::transient(format!(
                "{what}: answer larger than {MAX_BODY} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Retry-After as seconds or an HTTP date, relative to `now`.
pub fn retry_after(h: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let now = jiff::Timestamp::try_from(now).ok()?;
    let ms = (at.as_millisecond() - now.as_millisecond()).max(0);
    Some(Duration::from_millis(ms as u64))
}

fn excerpt(body: &str) -> String {
    let b = body.trim();
    if b.is_empty() {
        return String::new();
    }
    let cut: String = b.chars().take(300).collect();
    let more = if cut.len() < b.len() { "…" } else { "" };
    format!(": {}{more}", cut.replace(['\n', '\r'], " "))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        let m = x.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = x.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37Z
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:50:07 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn statuses_are_classified() {
        let t = |s: u16| classify(StatusCode::from_u16(s).unwrap(), None, "x", "");
        for s in [500, 502, 503, 504, 429, 408, 409] {
            assert!(!t(s).is_permanent(), "{s}");
        }
        for s in [400, 401, 403, 404, 422] {
            assert!(t(s).is_permanent(), "{s}");
        }
        assert!(t(401).to_string().contains("credentials"));
        let e = classify(
            StatusCode::BAD_REQUEST,
            None,
            "GLPI create",
            "{\"x\":\"bad\"}",
        );
        assert_eq!(e.to_string(), "GLPI create: HTTP 400: {\"x\":\"bad\"}");
    }
}
