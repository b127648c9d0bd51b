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

/// How to reach the collector.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub ca_pem: Option<Vec<u8>>,
    pub server_name: Option<String>,
    pub timeout: Duration,
}

impl Target {
    /// A lazily connecting channel: the agent starts (and spools) while the collector is
    /// down, and the channel reconnects by itself.
    pub fn channel(&self) -> Result<Channel, TransportError> {
        let bad = |detail: String| TransportError::BadAddress {
            url: self.url.clone(),
            detail,
        };
        let mut ep = Endpoint::from_shared(self.url.clone())
            .map_err(|e| bad(e.to_string()))?
            .connect_timeout(Duration::from_secs(10))
            .timeout(self.timeout)
            .tcp_keepalive(Some(Duration::from_secs(60)))
            .http2_keep_alive_interval(Duration::from_secs(60))
            .keep_alive_while_idle(false);
        if self.url.starts_with("https://") {
            let mut tls = ClientTlsConfig::new();
            if let Some(ca) = &self.ca_pem {
                tls = tls.ca_certificate(Certificate::from_pem(ca));
            }
            if let Some(name) = &self.server_name {
                tls = tls.domain_name(name.clone());
            }
            ep = ep.tls_config(tls).map_err(|e| bad(e.to_string()))?;
        }
        Ok(ep.connect_lazy())
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

/// An authenticated client for one agent identity.
#[derive(Clone)]
pub struct Client {
    inner: AgentServiceClient<InterceptedService<Channel, Auth>>,
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
        let inner = AgentServiceClient::with_interceptor(channel, auth)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(Client {
            inner,
            agent_id: agent_id.to_string(),
            stats: None,
            limiter: None,
        })
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
        Ok(res?.into_inner())
    }

    pub async fn settings(&mut self) -> Result<AgentSettings, TransportError> {
        Ok(self
            .inner
            .get_settings(GetSettingsRequest {})
            .await?
            .into_inner())
    }
}
