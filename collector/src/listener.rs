//! The gRPC port's connections: accepted here (not by tonic) so that each TLS handshake runs
//! on its own task with a time limit, resumed sessions are told from full handshakes, and
//! the open connections are counted — the figures that say what agents cost the collector.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// How long a client has to finish its TLS handshake before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the listener reports.
pub trait ConnectionObserver: Send + Sync + 'static {
    /// A TLS handshake ended: `full`, `resumed` or `failed` (error or timeout).
    fn handshake(&self, kind: &'static str);
    /// A connection was handed to the gRPC server (+1) or closed (-1).
    fn open_connections(&self, delta: i64);
}

enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// One agent connection, counted while open.
pub struct AgentConn {
    io: Io,
    observer: Arc<dyn ConnectionObserver>,
}

impl AgentConn {
    fn new(io: Io, observer: Arc<dyn ConnectionObserver>) -> Self {
        observer.open_connections(1);
        AgentConn { io, observer }
    }
}

impl Drop for AgentConn {
    fn drop(&mut self) {
        self.observer.open_connections(-1);
    }
}

impl Connected for AgentConn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        match &self.io {
            Io::Plain(s) => s.connect_info(),
            Io::Tls(s) => s.get_ref().0.connect_info(),
        }
    }
}

impl AsyncRead for AgentConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for AgentConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The connections accepted on `listener`, TLS-terminated when `tls` is given: each
/// handshake runs on its own task (a slow or silent client holds up nobody) and is
/// dropped after [`HANDSHAKE_TIMEOUT`]. The accept loop ends when the returned stream is
/// dropped, which closes the listening socket.
pub fn incoming(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    observer: Arc<dyn ConnectionObserver>,
) -> ReceiverStream<Result<AgentConn, io::Error>> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = tx.closed() => break,
                a = listener.accept() => a,
            };
            let (tcp, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: say so, do not spin.
                    tracing::warn!(error = %e, "cannot accept a gRPC connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let Some(acceptor) = acceptor.clone() else {
                let conn = AgentConn::new(Io::Plain(tcp), observer.clone());
                if tx.send(Ok(conn)).await.is_err() {
                    break;
                }
                continue;
            };
            let (tx, observer) = (tx.clone(), observer.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let resumed = stream.get_ref().1.handshake_kind()
                            == Some(rustls::HandshakeKind::Resumed);
                        observer.handshake(if resumed { "resumed" } else { "full" });
                        let conn = AgentConn::new(Io::Tls(Box::new(stream)), observer);
                        let _ = tx.send(Ok(conn)).await;
                    }
                    Ok(Err(e)) => {
                        observer.handshake("failed");
                        tracing::debug!(%peer, error = %e, "TLS handshake failed on the gRPC port");
                    }
                    Err(_) => {
                        observer.handshake("failed");
                        tracing::debug!(%peer, "TLS handshake timed out on the gRPC port");
                    }
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

/// The HTTP port's listener for axum: the same accept loop (TLS handshakes on their own
/// tasks, with the time limit) over plain HTTP or HTTPS.
pub struct HttpListener {
    conns: ReceiverStream<Result<AgentConn, io::Error>>,
    local: std::net::SocketAddr,
}

/// HTTP connections are not agents': nothing to count.
struct Uncounted;

impl ConnectionObserver for Uncounted {
    fn handshake(&self, _kind: &'static str) {}
    fn open_connections(&self, _delta: i64) {}
}

impl HttpListener {
    pub fn new(
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> io::Result<HttpListener> {
        let local = listener.local_addr()?;
        Ok(HttpListener {
            conns: incoming(listener, tls, Arc::new(Uncounted)),
            local,
        })
    }
}

impl axum::serve::Listener for HttpListener {
    type Io = AgentConn;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        use tonic::codegen::tokio_stream::StreamExt;
        loop {
            match self.conns.next().await {
                Some(Ok(c)) => {
                    let peer = c
                        .connect_info()
                        .remote_addr()
                        .unwrap_or_else(|| ([0, 0, 0, 0], 0).into());
                    return (c, peer);
                }
                Some(Err(_)) => continue,
                // The accept loop ended (it does not while this listener lives).
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The client's address, as the listener saw it (the API's `ConnectInfo`).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, HttpListener>>
    for Peer
{
    fn connect_info(s: axum::serve::IncomingStream<'_, HttpListener>) -> Self {
        Peer(*s.remote_addr())
    }
}
