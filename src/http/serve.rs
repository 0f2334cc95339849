//! The HTTP/1.1 accept loop: one hyper connection per socket, with upgrades
//! and graceful shutdown.
//!
//! framecast runs its own loop instead of `axum::serve` because axum hands
//! hyper a private wrapper around the socket, so an upgraded WebSocket could
//! not get its `TcpStream` back; here hyper sees `TokioIo<TcpStream>`, and
//! WebSocket viewers can send frames with `splice`
//! (docs/design/0003-websocket-framing.md, 0005-websocket-fanout.md). Each
//! request carries its socket's descriptor ([`ConnFd`]) so MJPEG can pace
//! by the socket (0007-pacing.md).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;

/// The raw descriptor of the TCP connection a request came on, as a
/// request extension. Only read by `ioctl`, so a stale value can only give
/// a wrong count; hyper drops a response body before its connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnFd(pub RawFd);

/// Socket options for accepted connections.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// `SO_SNDBUF` in bytes; 0 leaves the kernel default (docs/design/0002).
    pub send_buffer: usize,
}

/// Serve `router` on `listener` until `shutdown` resolves, then let open
/// requests finish and return once every connection has closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tuning: Tuning,
    shutdown: impl Future<Output = ()>,
) {
    let conns = TaskTracker::new();
    let closing = CancellationToken::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    tune(&tcp, tuning);
                    conns.spawn(connection(tcp, peer, router.clone(), closing.clone()));
                }
                Err(e) => accept_error(e).await,
            },
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    closing.cancel();
    conns.close();
    conns.wait().await;
}

fn tune(tcp: &TcpStream, tuning: Tuning) {
    let _ = tcp.set_nodelay(true);
    if tuning.send_buffer > 0 {
        let _ = socket2::SockRef::from(tcp).set_send_buffer_size(tuning.send_buffer);
    }
}

/// Out of descriptors and the like: wait a little instead of spinning.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted) {
        return;
    }
    tracing::error!("accept failed: {e}; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn connection(tcp: TcpStream, peer: SocketAddr, router: Router, closing: CancellationToken) {
    let fd = ConnFd(tcp.as_raw_fd());
    let svc = service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(fd);
        let mut router = router.clone();
        async move { Ok::<_, Infallible>(router.call(req).await.unwrap_or_else(|e| match e {})) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(tcp), svc)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = closing.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!("connection from {peer} ended: {e}");
    }
}
