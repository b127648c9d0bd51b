//! Wiring: store, writer, gRPC (TLS) and HTTP servers, and the background loops (offline
//! detection, health retention).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tonic::transport::Server;

use tilsyn_proto::v1::agent_service_server::AgentServiceServer;

use crate::config::CollectorConfig;
use crate::ingest::{IngestService, Shared};
use crate::metrics::Metrics;
use crate::services::leader::{Change, Leadership};
use crate::tls;
use tilsyn_collector_store::Store;

/// Wall-clock ms since the Unix epoch: the clock the services are given.
pub use tilsyn_proto::time::now_ms;

/// Addresses the servers actually bound (useful with port 0 in tests).
pub struct Bound {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
}

/// Runs the collector until `shutdown` completes.
pub async fn run(
    cfg: CollectorConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data_dir {}", cfg.data_dir.display()))?;
    // Opening may wait on the network (PostgreSQL): not on the runtime's threads.
    let store_cfg = cfg.store.clone();
    let store: Arc<dyn Store> =
        tokio::task::spawn_blocking(move || tilsyn_collector_store::open(&store_cfg))
            .await
            .context("opening the store")??;
    let sla_policy = cfg.sla_policy().map_err(|e| {
        anyhow::anyhow!(
            "the SLA file is invalid (tilsyn-collector validate --config FILE):\n  {}",
            e.join("\n  ")
        )
    })?;
    let metrics = Arc::new(Metrics::with_sla_buckets(crate::services::sla::buckets(
        sla_policy.as_ref(),
    )));
    // Lead, or follow another collector on the same database: decided before any service
    // starts (they act only while leading; the store refuses leader-only writes until then).
    let leader = Arc::new(Leadership::new(
        Leadership::owner_name(),
        cfg.cluster.lease_ttl.0,
    ));
    leader.fence_until_elected(&*store);
    let first = {
        let (l, st, t) = (
            leader.clone(),
            store.clone(),
            cfg.incidents.delivery.timeout.0,
        );
        tokio::task::spawn_blocking(move || l.renew(&*st, t)).await?
    };
    note_change(&metrics, &first);
    // Read once: the histograms' buckets come from it, and the evaluator runs it.
    let shared = Shared::new(
        cfg.clone(),
        store.clone(),
        metrics.clone(),
        sla_policy,
        now_ms,
        leader.clone(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Before any agent is heard: account for the time this collector was not running.
    let offline = crate::services::offline::Offline::start(&shared)
        .await
        .context("cannot record this run in the store")?;

    let tls = tls::material(&cfg.grpc.tls, &cfg.data_dir, "grpc.tls")?;

    let grpc_listener = tokio::net::TcpListener::bind(cfg.grpc.listen)
        .await
        .with_context(|| format!("cannot listen on grpc.listen {}", cfg.grpc.listen))?;
    let http_listener = tokio::net::TcpListener::bind(cfg.http.listen)
        .await
        .with_context(|| format!("cannot listen on http.listen {}", cfg.http.listen))?;
    let bound = Bound {
        grpc: grpc_listener.local_addr()?,
        http: http_listener.local_addr()?,
    };
    tracing::info!(grpc = %bound.grpc, http = %bound.http, tls = ?cfg.grpc.tls.mode,
        ca = ?tls.as_ref().and_then(|t| t.ca_path.as_ref()), db = %cfg.store.describe(), "collector listening");
    on_bound(bound);

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<AgentServiceServer<IngestService>>()
        .await;
    let svc = AgentServiceServer::new(IngestService {
        shared: shared.clone(),
    })
    .max_decoding_message_size(cfg.grpc.max_message_bytes)
    .max_encoding_message_size(cfg.grpc.max_message_bytes);
    // Agents connect for a delivery and leave (agent.yaml collector.idle_timeout); the age
    // limit closes, gracefully, connections some client keeps open anyway, so they cannot
    // pin memory and a fleet spreads again over collectors that came back.
    let mut builder = Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(60)))
        .max_connection_age(cfg.grpc.max_connection_age.0)
        .tcp_nodelay(true);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let router = builder.add_service(health_service).add_service(svc);
    let tls_config = match &tls {
        Some(t) => Some(Arc::new(
            tls::server_config(t, &[b"h2"]).context("TLS for the gRPC port")?,
        )),
        None => None,
    };
    let incoming = crate::listener::incoming(grpc_listener, tls_config, metrics.clone());
    let grpc = tokio::spawn(router.serve_with_incoming_shutdown(incoming, wait(stop_rx.clone())));
    let gate = Arc::new(crate::access::Gate::new(
        cfg.http.auth.required,
        cfg.file_tokens(),
        shared.store_calls.clone(),
        metrics.clone(),
        now_ms,
    ));
    let http_tls = match &cfg.http.tls {
        Some(t) => match tls::material(t, &cfg.data_dir, "http.tls")? {
            Some(m) => Some(Arc::new(
                tls::server_config(&m, &[b"http/1.1"]).context("TLS for the HTTP port")?,
            )),
            None => None,
        },
        None => None,
    };
    let api = crate::api::Api {
        store: shared.store_calls.clone(),
        metrics: shared.metrics.clone(),
        compliance: shared.compliance.clone(),
        incidents: shared.incidents.clone(),
        sla: shared.sla.clone(),
        clock: shared.clock,
        leader: shared.leader.clone(),
        gate,
        shared: shared.clone(),
    };
    let http_srv = axum::serve(
        crate::listener::HttpListener::new(http_listener, http_tls)?,
        crate::api::router(api).into_make_service_with_connect_info::<crate::listener::Peer>(),
    )
    .with_graceful_shutdown(wait(stop_rx.clone()));
    let http = tokio::spawn(async move { http_srv.await });
    // The lease is renewed on a thread (and, on PostgreSQL, a connection) of its own, so
    // that no busy loop or full pool delays it into a needless change of leader.
    let (gained_tx, gained_rx) = tokio::sync::mpsc::unbounded_channel();
    let renewing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let renewer = {
        let (l, st, m, t) = (
            leader.clone(),
            store.clone(),
            metrics.clone(),
            cfg.incidents.delivery.timeout.0,
        );
        let go = renewing.clone();
        std::thread::Builder::new()
            .name("leader".into())
            .spawn(move || {
                // The first renewal was made above, before the services started.
                loop {
                    let until = std::time::Instant::now() + l.ttl() / 4;
                    while go.load(std::sync::atomic::Ordering::SeqCst)
                        && std::time::Instant::now() < until
                    {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    if !go.load(std::sync::atomic::Ordering::SeqCst) {
                        return;
                    }
                    let c = l.renew(&*st, t);
                    note_change(&m, &c);
                    if let Change::Gained(lease) = c {
                        let _ = gained_tx.send(lease);
                    }
                }
            })
            .context("starting the leader lease thread")?
    };
    let bg = tokio::spawn(background(
        shared.clone(),
        offline,
        gained_rx,
        stop_rx.clone(),
    ));
    let delivery = tokio::spawn(shared.incidents.clone().run_delivery(stop_rx.clone()));

    shutdown.await;
    tracing::info!("collector stopping");
    health_reporter
        .set_not_serving::<AgentServiceServer<IngestService>>()
        .await;
    let _ = stop_tx.send(true);
    grpc.await?.context("gRPC server")?;
    http.await?.context("HTTP server")?;
    let _ = bg.await;
    let _ = delivery.await;
    // A clean stop hands the lead over at once.
    renewing.store(false, std::sync::atomic::Ordering::SeqCst);
    let st = store.clone();
    let _ = tokio::task::spawn_blocking(move || {
        let _ = renewer.join();
        leader.release(&*st)
    })
    .await;
    Ok(())
}

/// Logs and counts a change of role.
fn note_change(metrics: &Metrics, c: &Change) {
    match c {
        Change::Gained(l) => {
            metrics.leader.set(1);
            metrics.leader_changes.with_label_values(&["gained"]).inc();
            match &l.took_over_from {
                Some((from, _)) => {
                    tracing::warn!(epoch = l.epoch, previous = %from, "this collector leads now, taking over")
                }
                None => tracing::info!(epoch = l.epoch, "this collector leads"),
            }
        }
        Change::Lost => {
            metrics.leader.set(0);
            metrics.leader_changes.with_label_values(&["lost"]).inc();
            tracing::warn!("another collector leads now; this one ingests and forwards");
        }
        Change::Following => {
            metrics.leader.set(0);
        }
        Change::Kept | Change::Unknown => {}
    }
}

/// SIGHUP as a stream (Unix); elsewhere a receiver that never fires.
fn hangup_signal() -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(mut sig) => {
                tokio::spawn(async move {
                    while sig.recv().await.is_some() {
                        let _ = tx.try_send(());
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; standards reload on file change only")
            }
        }
    }
    #[cfg(not(unix))]
    std::mem::forget(tx);
    rx
}

/// Offline detection, health rollups and retention, standards reload on SIGHUP.
async fn background(
    s: Arc<Shared>,
    mut offline: crate::services::offline::Offline,
    mut gained: tokio::sync::mpsc::UnboundedReceiver<tilsyn_collector_store::Lease>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut offline_tick =
        tokio::time::interval(s.cfg.offline.check_every.0.max(Duration::from_secs(1)));
    let mut prune_tick = tokio::time::interval(Duration::from_secs(600));
    let mut rollup_tick =
        tokio::time::interval(s.cfg.store.rollup_every.0.max(Duration::from_secs(1)));
    let mut hangup = hangup_signal();
    // A follower's compliance views follow the hosts other collectors ingest (its own it
    // evaluates as it ingests them).
    let mut feed_tick = tokio::time::interval(Duration::from_secs(2));
    let mut feed = crate::services::compliance::ChangeFeed::new((s.clock)() - 60_000);
    // Hosts retired, moved or revoked (on any collector) and change windows made: every
    // collector follows them, so a revoked agent is refused everywhere within seconds.
    let mut lifecycle_tick = tokio::time::interval(Duration::from_secs(2));
    let mut lifecycle = crate::services::lifecycle::Follow::new((s.clock)());
    // hosts.expire_after: the leader retires long-silent hosts, looking a few times per
    // expiry period (at most every minute, at least every second).
    let expire_after = s.cfg.hosts.expire_after;
    let mut expire_tick = tokio::time::interval(
        expire_after
            .as_ref()
            .map_or(Duration::from_secs(60), |e| e.0 / 4)
            .clamp(Duration::from_secs(1), Duration::from_secs(60)),
    );
    loop {
        tokio::select! {
            _ = async { let _ = stop.wait_for(|v| *v).await; } => {
                offline.stop(&s).await;
                return;
            }
            Some(lease) = gained.recv() => offline.took_over(&s, &lease).await,
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reloading standards");
                s.compliance.request_reload();
            }
            _ = offline_tick.tick() => offline.tick(&s).await,
            _ = lifecycle_tick.tick() => {
                let since = lifecycle.since_ms();
                if let Ok(rows) = s.with_store("lifecycle_changes_since", move |st| st.lifecycle_changes_since(since)).await {
                    for agent in lifecycle.take(rows) {
                        s.host_changed(&agent);
                    }
                }
                s.refresh_windows().await;
                s.refresh_waivers().await;
            }
            _ = expire_tick.tick(), if expire_after.is_some() && s.leader.is_leader() => {
                let Some(after) = expire_after else { continue };
                let now = (s.clock)();
                let after_ms = after.0.as_millis() as i64;
                let text = after.to_string();
                if let Ok(retired) = s.with_store("expire_hosts", move |st| {
                    crate::services::lifecycle::expire(st, after_ms, &text, now)
                }).await {
                    for (agent_id, note) in retired {
                        tracing::info!(agent_id = %agent_id, "host retired after hosts.expire_after offline");
                        s.host_retired(&agent_id, &note);
                    }
                }
            }
            _ = feed_tick.tick(), if !s.leader.is_leader() => {
                let (since, me) = (feed.since_ms(), s.leader.owner.clone());
                let batch = crate::services::compliance::FEED_BATCH;
                if let Ok(rows) = s.with_store("section_changes_since", move |st| st.section_changes_since(since, batch, &me)).await {
                    for agent in feed.take(rows) {
                        s.compliance.host_changed(&agent);
                    }
                }
            }
            _ = rollup_tick.tick(), if s.leader.is_leader() => {
                // Samples received a few seconds ago or more: none still being committed
                // with an earlier time (the writer stamps a group just before committing it).
                let until = (s.clock)() - 5_000;
                if let Ok(n) = s.with_store("roll_up_health", move |st| st.roll_up_health(until)).await {
                    s.metrics.health_rolled_up.inc_by(n);
                }
            }
            _ = prune_tick.tick(), if s.leader.is_leader() => {
                let now = (s.clock)();
                let store = &s.cfg.store;
                let before = now - store.health_retention.0.as_millis() as i64;
                if let Ok(n) = s.with_store("prune_health", move |st| st.prune_health(before)).await {
                    s.metrics.health_pruned.inc_by(n);
                }
                let kept = now - s.cfg.http.auth.audit_retention.0.as_millis() as i64;
                let _ = s.with_store("prune_audit", move |st| st.prune_audit(kept)).await;
                let hour_ago = now - 3_600_000;
                let _ = s.with_store("prune_section_changes", move |st| st.prune_section_changes(hour_ago)).await;
                let kept = [store.rollup_5m_retention.0, store.rollup_1h_retention.0];
                for (res, keep) in tilsyn_collector_core::rollup::RESOLUTIONS_MS.into_iter().zip(kept) {
                    let before = now - keep.as_millis() as i64;
                    let _ = s.with_store("prune_rollups", move |st| st.prune_rollups(res, before)).await;
                }
            }
        }
    }
}
