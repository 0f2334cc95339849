//! A WebSocket viewer on a plain TCP connection. The stream's fan-out sends
//! it frames; this task only sends what the fan-out could not (the rest of a
//! frame, once the socket has room), metadata and answers to control
//! frames, and closes the connection.

use std::sync::Arc;

use socket2::SockRef;
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::codec::{self, Reader, OP_TEXT};
use super::fanout::Fanout;
use super::outlet::{Flow, Outlet};
use super::socket::{next_event, Reply, CLOSE_TIMEOUT};
use super::wire::WireFrame;
use super::Options;
use crate::stream::Stream;

/// Serve one viewer until it leaves, breaks the protocol or the server stops.
/// `reader` holds any bytes read past the handshake.
pub async fn session(
    tcp: TcpStream,
    mut reader: Reader,
    stream: Arc<Stream>,
    opts: Options,
    token: CancellationToken,
) {
    // A metadata-only socket is not a viewer of the picture.
    let _guard = opts.frames.then(|| stream.viewer(super::KIND));
    let outlet = Arc::new(Outlet::new(tcp, stream.clone(), opts.frameinfo, opts.gap));
    let mut meta = stream.subscribe_metadata();
    let _member = opts
        .frames
        .then(|| Fanout::of(&stream).join(&stream, outlet.clone()));
    // The current frame at once: the fan-out sends only newer ones.
    if let Some(f) = stream.latest().filter(|_| opts.frames) {
        if let Some(w) = WireFrame::of(&stream, &f).await {
            outlet.offer(&w);
        }
    }
    let mut conn = outlet.tcp();
    let mut waiting = false;
    loop {
        let due = outlet.due();
        let flow = tokio::select! {
            _ = outlet.stuck() => outlet.pump(),
            _ = sleep_until(due) => outlet.pump(),
            r = outlet.tcp().writable(), if waiting => match r {
                Ok(()) => outlet.pump(),
                Err(_) => Flow::Failed,
            },
            m = meta.recv() => match m {
                Ok(text) => outlet.push_small(codec::small_frame(OP_TEXT, text.as_bytes())),
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!("ws viewer skipped {n} metadata messages");
                    continue;
                }
                Err(RecvError::Closed) => break,
            },
            incoming = next_event(&mut reader, &mut conn) => match incoming.reply() {
                Reply::Send(pong) => outlet.push_small(pong),
                Reply::Close(code) => return close(&outlet, code).await,
                Reply::End => return,
            },
            _ = token.cancelled() => return close(&outlet, codec::CLOSE_GOING_AWAY).await,
        };
        match flow {
            Flow::Done => waiting = false,
            Flow::Blocked => waiting = true,
            Flow::Failed => return,
        }
    }
}

/// Wait until `t`, or forever when there is none.
async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Send a close frame with `code` after what is being written (best effort,
/// bounded in time), then end the write side.
async fn close(outlet: &Outlet, code: u16) {
    outlet.push_close(codec::close_frame(code));
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, outlet.flush()).await;
    let _ = SockRef::from(outlet.tcp()).shutdown(std::net::Shutdown::Write);
}
