//! WebSocket viewer: binary message = one JPEG, text message = metadata JSON.
//!
//! With `?frameinfo=1`, a text message `{"type":"frame","seq",…}` precedes
//! each JPEG so a page can tie metadata to the exact frame it draws.
//! A slow viewer skips frames instead of queueing them. No
//! permessage-deflate: JPEG does not compress.
//!
//! The frames are written by hand (docs/design/0003-websocket-framing.md):
//! each frame's bytes are made once, and on a plain TCP connection one task
//! per stream hands them to every viewer by `tee` and `splice`
//! (docs/design/0005-websocket-fanout.md).

mod codec;
mod fanout;
mod outlet;
#[cfg(target_os = "linux")]
mod pipe;
mod socket;
mod tcp;
mod upgrade;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::sync::atomic::Ordering::Relaxed;

use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::error::Result;
use crate::http::extract::{Id, Query};
use crate::output::mjpeg::fps_gap;
use crate::stream::{Hub, OutputKind, Stream};
use codec::OP_TEXT;
use socket::{Reply, Socket};
pub use upgrade::{accept_key, WsUpgrade};
use wire::WireFrame;

/// Viewers of this output are counted under `"ws"`.
pub const KIND: OutputKind = OutputKind::new("ws");

/// Routes: `GET /streams/{id}/ws`.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Hub>: FromRef<S>,
{
    Router::new().route("/streams/{id}/ws", get(ws))
}

struct Options {
    frameinfo: bool,
    /// `?frames=0`: metadata only (the MJPEG viewer page uses this for its boxes).
    frames: bool,
    gap: Option<Duration>,
}

async fn ws(State(hub): State<Arc<Hub>>, Id(id): Id, q: Query, up: WsUpgrade) -> Result<Response> {
    let stream = hub.require(&id)?;
    let opts = Options {
        frameinfo: q.flag("frameinfo"),
        frames: !matches!(
            q.get::<String>("frames")?.as_deref(),
            Some("0" | "false" | "no")
        ),
        gap: fps_gap(&q)?,
    };
    let token = hub.shutdown_token();
    Ok(up.on_upgrade(move |conn| async move {
        match conn.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => {
                // Bytes hyper read past the handshake belong to the WebSocket.
                let mut reader = codec::Reader::default();
                reader.buffer().extend_from_slice(&parts.read_buf);
                let tcp = parts.io.into_inner();
                tcp::session(tcp, reader, stream, opts, token).await
            }
            Err(conn) => session(Socket::new(conn, token), stream, opts).await,
        }
    }))
}

/// A viewer on a connection that is not plain TCP: its own loop, with a
/// whole-frame write per frame.
async fn session(mut socket: Socket, stream: Arc<Stream>, opts: Options) {
    let _guard = opts.frames.then(|| stream.viewer(KIND));
    let mut frames = stream.subscribe();
    let mut meta = stream.subscribe_metadata();
    let mut next_at: Option<Instant> = None;
    let shutdown = socket.shutdown_token();
    loop {
        let wait_gap = async {
            if let Some(t) = next_at {
                tokio::time::sleep_until(t).await;
            }
        };
        let sent = tokio::select! {
            f = async { wait_gap.await; frames.next().await }, if opts.frames => {
                let Some(f) = f else { break };
                next_at = opts.gap.map(|g| Instant::now() + g);
                let Some(w) = WireFrame::of(&stream, &f).await else { continue };
                stream.stats.bytes_out.fetch_add(w.jpeg.len() as u64, Relaxed);
                socket.send(w.buf(opts.frameinfo)).await
            }
            m = meta.recv() => match m {
                Ok(text) => socket.send(codec::small_frame(OP_TEXT, text.as_bytes())).await,
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!("ws viewer skipped {n} metadata messages");
                    Ok(())
                }
                Err(RecvError::Closed) => break,
            },
            incoming = socket.next_event() => match incoming.reply() {
                Reply::Send(pong) => socket.send(pong).await,
                Reply::Close(code) => return socket.close(code).await,
                Reply::End => return,
            },
            _ = shutdown.cancelled() => return socket.close(codec::CLOSE_GOING_AWAY).await,
        };
        if sent.is_err() {
            break;
        }
    }
}
