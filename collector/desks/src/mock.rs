//! Test support for adapters: serves a desk's mock router on loopback, with failures
//! injected in front of it (5xx, 429 with Retry-After, a slow answer, garbage, and an
//! answer lost after the desk acted), and a log of the requests it received.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

/// A failure to inject into the next request that matches `path_contains` (any when
/// empty).
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status (and Retry-After seconds) without reaching the desk.
    Status(u16, Option<u64>),
    /// Wait this long before handling (longer than the client timeout = a timeout).
    Delay(Duration),
    /// Answer 200 with a body that is not JSON, without reaching the desk.
    Garbage,
    /// Let the desk act, then answer 502: the ticket exists but the caller never learns it.
    LoseAnswer,
}

#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<VecDeque<(String, Fault)>>>);

#[derive(Clone)]
struct Shared {
    faults: Faults,
    log: Arc<Mutex<Vec<String>>>,
}

pub struct Mock {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    faults: Faults,
    log: Arc<Mutex<Vec<String>>>,
}

impl Mock {
    /// Serves `router` on an ephemeral loopback port in the current runtime.
    pub async fn start(router: Router) -> Mock {
        let shared = Shared {
            faults: Faults::default(),
            log: Arc::default(),
        };
        let app = router.layer(axum::middleware::from_fn_with_state(shared.clone(), inject));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        Mock {
            url,
            faults: shared.faults,
            log: shared.log,
        }
    }

    /// Injects `f` into the next request whose path contains `path_contains`.
    pub fn fail_next(&self, path_contains: &str, f: Fault) {
        self.faults
            .0
            .lock()
            .unwrap()
            .push_back((path_contains.to_string(), f));
    }

    /// `METHOD /path?query` of every request received, in order.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

async fn inject(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let line = format!(
        "{} {}",
        req.method(),
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    s.log.lock().unwrap().push(line);
    let fault = {
        let mut q = s.faults.0.lock().unwrap();
        let path = req.uri().path().to_string();
        let i = q
            .iter()
            .position(|(p, _)| p.is_empty() || path.contains(p.as_str()));
        i.and_then(|i| q.remove(i)).map(|(_, f)| f)
    };
    match fault {
        None => next.run(req).await,
        Some(Fault::Status(code, retry)) => {
            let mut r = (
                StatusCode::from_u16(code).unwrap(),
                format!("{{\"error\":\"injected {code}\"}}"),
            )
                .into_response();
            if let Some(s) = retry {
                r.headers_mut().insert(
                    "retry-after",
                    HeaderValue::from_str(&s.to_string()).unwrap(),
                );
            }
            r
        }
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            next.run(req).await
        }
        Some(Fault::Garbage) => {
            (StatusCode::OK, Body::from("<html>proxy error</html>")).into_response()
        }
        Some(Fault::LoseAnswer) => {
            let _ = next.run(req).await;
            (StatusCode::BAD_GATEWAY, "upstream reset").into_response()
        }
    }
}
