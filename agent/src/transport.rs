//! gRPC client to the collector: TLS (rustls), per-call authentication, and the mapping of
//! gRPC statuses to what the agent should do next.

use std::time::Duration;

use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};

use tilsyn_proto::meta;
use tilsyn_proto::v1::agent_service_client::AgentServiceClient;
use tilsyn_proto::v1::{
    AgentSettings, EnrollRequest, EnrollResponse, GetSettingsRequest, ReportAck, ReportBatch,
};

/// Largest message the agent sends or accepts.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("invalid collector address {url:?}: {detail}")]
    BadAddress { url: String, detail: String },
    #[error("cannot read CA file {path}: {detail}")]
    Ca { path: String, detail: String },
    /// Worth retrying later: network down, collector restarting, overloaded.
    #[error("collector unreachable: {0}")]
    Unavailable(String),
    /// The collector does not know this identity (or the enrollment token).
    #[error("collector refused our credentials: {0}")]
    Unauthenticated(String),
    #[error("collector denied the request: {0}")]
    PermissionDenied(String),
    /// The collector will never accept this request as it is.
    #[error("collector rejected the request ({code:?}): {message}")]
    Rejected { code: Code, message: String },
}

impl From<Status> for TransportError {
    fn from(s: Status) -> Self {
        let msg = s.message().to_string();
        match s.code() {
            Code::Unauthenticated => TransportError::Unauthenticated(msg),
            Code::PermissionDenied => TransportError::PermissionDenied(msg),
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Internal
            | Code::Unknown
            | Code::Cancelled => TransportError::Unavailable(format!("{:?}: {msg}", s.code())),
            code => TransportError::Rejected { code, message: msg },
        }
    }
}

/// How to reach the collector: one URL, or several collectors sharing one database
/// (`url` then holds them separated by commas, as `collector.url` does).
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub ca_pem: Option<Vec<u8>>,
    pub server_name: Option<String>,
    pub timeout: Duration,
    /// Close the connection after this long without a call (`collector.idle_timeout`);
    /// `None` keeps it open.
    pub idle_timeout: Option<Duration>,
}

/// The URLs in a `collector.url` value: comma- or space-separated.
pub fn split_urls(url: &str) -> Vec<&str> {
    url.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect()
}

/// Which of `n` collectors an agent starts with: spread by a hash of `key` (the agent id,
/// or the hostname before enrollment), the same every time for the same key, so a fleet
/// divides itself evenly and each agent keeps its collector across restarts.
pub fn home_of(key: &str, n: usize) -> usize {
    // FNV-1a: stable across builds and platforms (std's hasher is not).
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (h % n.max(1) as u64) as usize
}

/// The collectors of a [`Target`], each with its endpoint: the endpoint keeps the TLS
/// configuration and with it the session tickets, so a connection opened again from it
/// resumes the TLS session (no certificate sent, no signature made).
#[derive(Clone)]
pub struct Endpoints(std::sync::Arc<[(String, Endpoint)]>);

impl Endpoints {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn url(&self, i: usize) -> &str {
        &self.0[i % self.0.len()].0
    }

    /// A lazily connecting channel to collector `i` (modulo their number): the agent
    /// starts (and spools) while the collector is down, and the channel connects by itself.
    pub fn channel(&self, i: usize) -> Channel {
        self.0[i % self.0.len()].1.connect_lazy()
    }
}

impl Target {
    /// The collectors, in the order given.
    pub fn urls(&self) -> Vec<&str> {
        split_urls(&self.url)
    }

    /// Every collector's endpoint.
    pub fn endpoints(&self) -> Result<Endpoints, TransportError> {
        let mut urls = self.urls();
        if urls.is_empty() {
            urls.push(self.url.as_str());
        }
        let v = urls
            .into_iter()
            .map(|u| Ok((u.to_string(), self.endpoint(u)?)))
            .collect::<Result<Vec<_>, TransportError>>()?;
        Ok(Endpoints(v.into()))
    }

    fn endpoint(&self, url: &str) -> Result<Endpoint, TransportError> {
        let bad = |detail: String| TransportError::BadAddress {
            url: url.to_string(),
            detail,
        };
        let mut ep = Endpoint::from_shared(url.to_string())
            .map_err(|e| bad(e.to_string()))?
            .connect_timeout(Duration::from_secs(10))
            .timeout(self.timeout)
            .tcp_keepalive(Some(Duration::from_secs(60)))
            .http2_keep_alive_interval(Duration::from_secs(60))
            .keep_alive_while_idle(false);
        if url.starts_with("https://") {
            let mut tls = ClientTlsConfig::new();
            if let Some(ca) = &self.ca_pem {
                tls = tls.ca_certificate(Certificate::from_pem(ca));
            }
            if let Some(name) = &self.server_name {
                tls = tls.domain_name(name.clone());
            }
            ep = ep.tls_config(tls).map_err(|e| bad(e.to_string()))?;
        }
        Ok(ep)
    }
}

/// Adds the agent's credentials to every call.
#[derive(Clone)]
pub struct Auth {
    agent_id: MetadataValue<tonic::metadata::Ascii>,
    bearer: MetadataValue<tonic::metadata::Ascii>,
}

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let md = req.metadata_mut();
        md.insert(meta::AGENT_ID, self.agent_id.clone());
        md.insert(meta::AUTHORIZATION, self.bearer.clone());
        Ok(req)
    }
}

pub async fn enroll(
    channel: Channel,
    req: EnrollRequest,
) -> Result<EnrollResponse, TransportError> {
    let mut c = AgentServiceClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    Ok(c.enroll(req).await?.into_inner())
}

/// After this long on another collector, an agent tries its home collector again (so a
/// fleet spreads out again once a collector is back).
pub const GO_HOME_AFTER: Duration = Duration::from_secs(600);

/// A client's own connection: to which collector (of several), since when, and whether
/// it is open.
#[derive(Clone)]
struct Route {
    endpoints: Endpoints,
    home: usize,
    at: usize,
    since: std::time::Instant,
    idle_timeout: Option<Duration>,
    /// When the last call on the open connection finished; `None` once it is closed.
    last_call: Option<std::time::Instant>,
}

/// An authenticated client for one agent identity.
#[derive(Clone)]
pub struct Client {
    inner: AgentServiceClient<InterceptedService<Channel, Auth>>,
    auth: Auth,
    /// Its own connection (a real agent); `None`: a channel shared with other clients
    /// (the simulator's multiplexed fleet), never moved or closed by this client.
    route: Option<Route>,
    agent_id: String,
    /// Optional latency/outcome recorder (the simulator's benchmark figures).
    pub stats: Option<std::sync::Arc<CallStats>>,
    /// Optional cap on calls in flight shared by many clients on one connection (the
    /// simulator: a real agent has its own connection and one call at a time).
    pub limiter: Option<std::sync::Arc<tokio::sync::Semaphore>>,
}

/// Counts and latencies of Report calls, shared by many clients.
#[derive(Default)]
pub struct CallStats {
    pub ok: std::sync::atomic::AtomicU64,
    pub failed: std::sync::atomic::AtomicU64,
    pub reports: std::sync::atomic::AtomicU64,
    pub latencies_us: std::sync::Mutex<Vec<u32>>,
}

impl CallStats {
    /// Takes the latencies recorded since the last call and returns (count, p50, p99) in ms.
    pub fn take_percentiles(&self) -> (usize, f64, f64) {
        let mut v = std::mem::take(&mut *self.latencies_us.lock().expect("stats lock"));
        if v.is_empty() {
            return (0, 0.0, 0.0);
        }
        v.sort_unstable();
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
        (v.len(), at(0.5), at(0.99))
    }
}

impl Client {
    pub fn new(channel: Channel, agent_id: &str, secret: &str) -> Result<Self, TransportError> {
        let bad = |what: &str| TransportError::Rejected {
            code: Code::InvalidArgument,
            message: format!("{what} contains characters not allowed in gRPC metadata"),
        };
        let auth = Auth {
            agent_id: agent_id.parse().map_err(|_| bad("agent id"))?,
            bearer: format!("Bearer {secret}")
                .parse()
                .map_err(|_| bad("secret"))?,
        };
        Ok(Client {
            inner: Self::service(channel, auth.clone()),
            auth,
            route: None,
            agent_id: agent_id.to_string(),
            stats: None,
            limiter: None,
        })
    }

    fn service(
        channel: Channel,
        auth: Auth,
    ) -> AgentServiceClient<InterceptedService<Channel, Auth>> {
        AgentServiceClient::with_interceptor(channel, auth)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// A client for every collector of `target`: it starts at its home collector (chosen
    /// by the agent id), moves to the next when one is unreachable, and goes home again
    /// after [`GO_HOME_AFTER`]. One connection at a time: moving drops the old one.
    pub fn with_failover(
        target: &Target,
        agent_id: &str,
        secret: &str,
    ) -> Result<Self, TransportError> {
        Self::with_endpoints(target.endpoints()?, target.idle_timeout, agent_id, secret)
    }

    /// As [`Self::with_failover`], on endpoints built once (the simulator shares them, and
    /// their TLS configuration, between its hosts; each host still has its own connection).
    pub fn with_endpoints(
        endpoints: Endpoints,
        idle_timeout: Option<Duration>,
        agent_id: &str,
        secret: &str,
    ) -> Result<Self, TransportError> {
        let home = home_of(agent_id, endpoints.len());
        let mut c = Self::new(endpoints.channel(home), agent_id, secret)?;
        c.route = Some(Route {
            endpoints,
            home,
            at: home,
            since: std::time::Instant::now(),
            idle_timeout,
            last_call: None,
        });
        Ok(c)
    }

    /// The collector this client talks to now (`None` on a shared channel).
    pub fn collector(&self) -> Option<String> {
        self.route
            .as_ref()
            .map(|r| r.endpoints.url(r.at).to_string())
    }

    /// Opens a new lazy channel to collector `at`, dropping the current connection.
    fn connect(&mut self, at: usize) {
        let Some(r) = &mut self.route else { return };
        r.at = at % r.endpoints.len();
        r.last_call = None;
        self.inner = Self::service(r.endpoints.channel(r.at), self.auth.clone());
    }

    fn move_to(&mut self, at: usize) {
        let Some(r) = &mut self.route else { return };
        let from = r.endpoints.url(r.at).to_string();
        r.since = std::time::Instant::now();
        self.connect(at);
        if let Some(to) = self.collector() {
            tracing::info!(from = %from, to = %to, "collector switched");
        }
    }

    /// When this client's connection has been idle for its `idle_timeout`: the moment to
    /// call [`Self::disconnect`]. `None` while closed, on a shared channel, or when the
    /// connection is kept.
    pub fn idle_deadline(&self) -> Option<tokio::time::Instant> {
        let r = self.route.as_ref()?;
        Some((r.last_call? + r.idle_timeout?).into())
    }

    /// Closes this client's connection (a delivery opens a new one, resuming the TLS
    /// session): an idle agent costs the collector nothing.
    pub fn disconnect(&mut self) {
        if let Some(at) = self.route.as_ref().map(|r| r.at) {
            self.connect(at);
        }
    }

    /// After a call: an unreachable collector sends this client to the next one.
    fn after<T>(&mut self, res: &Result<T, TransportError>) {
        let Some(r) = &mut self.route else { return };
        r.last_call = Some(std::time::Instant::now());
        if let Err(TransportError::Unavailable(_)) = res {
            if r.endpoints.len() > 1 {
                let next = r.at + 1;
                self.move_to(next);
            }
        }
    }

    /// Before a call: back home after a while elsewhere.
    fn before(&mut self) {
        if let Some(r) = &self.route {
            if r.at != r.home && r.since.elapsed() >= GO_HOME_AFTER {
                let home = r.home;
                self.move_to(home);
            }
        }
    }

    /// Sends reports as this agent (the batch's agent id is filled in here).
    pub async fn report(&mut self, mut batch: ReportBatch) -> Result<ReportAck, TransportError> {
        batch.agent_id = self.agent_id.clone();
        let n = batch.reports.len() as u64;
        let _permit = match &self.limiter {
            Some(l) => Some(
                l.clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| TransportError::Unavailable("shutting down".into()))?,
            ),
            None => None,
        };
        self.before();
        let started = std::time::Instant::now();
        let res = self.inner.report(batch).await;
        if let Some(st) = &self.stats {
            use std::sync::atomic::Ordering::Relaxed;
            if res.is_ok() {
                st.ok.fetch_add(1, Relaxed);
                st.reports.fetch_add(n, Relaxed);
                let us = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
                st.latencies_us.lock().expect("stats lock").push(us);
            } else {
                st.failed.fetch_add(1, Relaxed);
            }
        }
        let res = res.map(|r| r.into_inner()).map_err(TransportError::from);
        self.after(&res);
        res
    }

    pub async fn settings(&mut self) -> Result<AgentSettings, TransportError> {
        self.before();
        let res = self
            .inner
            .get_settings(GetSettingsRequest {})
            .await
            .map(|r| r.into_inner())
            .map_err(TransportError::from);
        self.after(&res);
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_on_commas_and_spaces() {
        assert_eq!(
            split_urls("https://c1:7443, https://c2:7443 https://c3:7443,"),
            vec!["https://c1:7443", "https://c2:7443", "https://c3:7443"]
        );
        assert_eq!(split_urls("https://c1:7443"), vec!["https://c1:7443"]);
    }

    #[test]
    fn a_fleet_spreads_evenly_and_each_agent_keeps_its_home() {
        let mut per = [0usize; 3];
        for i in 0..3000 {
            per[home_of(&format!("{i:08x}-5c1e-4a7e-9d3b-0123456789ab"), 3)] += 1;
        }
        assert!(per.iter().all(|n| (900..=1100).contains(n)), "{per:?}");
        assert_eq!(home_of("agent-x", 3), home_of("agent-x", 3));
        assert_eq!(home_of("agent-x", 1), 0);
    }

    #[tokio::test]
    async fn an_unreachable_collector_sends_the_client_to_the_next() {
        // Two ports nothing listens on (bound, then closed).
        let dead = || {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let (a, b) = (dead(), dead());
        let t = Target {
            url: format!("{a},{b}"),
            ca_pem: None,
            server_name: None,
            timeout: Duration::from_secs(2),
            idle_timeout: None,
        };
        let mut c = Client::with_failover(&t, "agent-x", "s").unwrap();
        let first = c.collector().unwrap();
        assert!(matches!(
            c.settings().await,
            Err(TransportError::Unavailable(_))
        ));
        let second = c.collector().unwrap();
        assert_ne!(first, second);
        assert!(c.settings().await.is_err());
        assert_eq!(c.collector().unwrap(), first, "round the list");
    }
}
