//! WebSocket viewer: binary message = one JPEG, text message = metadata JSON.
//!
//! With `?frameinfo=1`, a text message `{"type":"frame","seq",…}` precedes
//! each JPEG so a page can tie metadata to the exact frame it draws.
//! Sending waits for the socket, so a slow viewer skips frames instead of
//! queueing them. No permessage-deflate: JPEG does not compress.
//!
//! The frames are written by hand: a few header bytes and the frame's shared
//! JPEG go out in one vectored write, so the JPEG is never copied in user
//! space (docs/design/0003-websocket-framing.md).

mod codec;
#[cfg(target_os = "linux")]
mod sealed;
mod socket;
mod upgrade;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Buf;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::error::Result;
use crate::http::extract::{Id, Query};
use crate::http::AppState;
use crate::output::mjpeg::fps_gap;
use crate::stream::{Protocol, PublishedFrame, Stream};
use codec::{Event, OP_TEXT};
use socket::{Incoming, Socket};
pub use upgrade::{accept_key, WsUpgrade};

/// Routes: `GET /streams/{id}/ws`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/streams/{id}/ws", get(ws))
}

struct Options {
    frameinfo: bool,
    /// `?frames=0`: metadata only (the MJPEG viewer page uses this for its boxes).
    frames: bool,
    gap: Option<Duration>,
}

async fn ws(State(st): State<AppState>, Id(id): Id, q: Query, up: WsUpgrade) -> Result<Response> {
    let stream = st.hub.require(&id)?;
    let opts = Options {
        frameinfo: q.flag("frameinfo"),
        frames: !matches!(
            q.get::<String>("frames")?.as_deref(),
            Some("0" | "false" | "no")
        ),
        gap: fps_gap(&q)?,
    };
    let token = st.hub.shutdown_token();
    Ok(up.on_upgrade(
        move |conn| async move { session(Socket::new(conn, token), stream, opts).await },
    ))
}

async fn session(mut socket: Socket, stream: Arc<Stream>, opts: Options) {
    // A metadata-only socket is not a viewer of the picture.
    let _guard = opts.frames.then(|| stream.viewer(Protocol::Ws));
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
                send_frame(&mut socket, &stream, &f, opts.frameinfo).await
            }
            m = meta.recv() => match m {
                Ok(text) => socket.send_small(OP_TEXT, text.as_bytes()).await,
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!("ws viewer skipped {n} metadata messages");
                    Ok(())
                }
                Err(RecvError::Closed) => break,
            },
            incoming = socket.next_event() => match incoming {
                Incoming::Event(Event::Ping(p)) => socket.send_small(codec::OP_PONG, &p).await,
                Incoming::Event(Event::Close(code)) => {
                    socket.close(code.unwrap_or(codec::CLOSE_NORMAL)).await;
                    break;
                }
                Incoming::Protocol(e) => {
                    tracing::debug!("ws viewer broke the protocol: {}", e.0);
                    socket.close(codec::CLOSE_PROTOCOL).await;
                    break;
                }
                Incoming::Gone => break,
            },
            _ = shutdown.cancelled() => {
                socket.close(codec::CLOSE_GOING_AWAY).await;
                break;
            }
        };
        if sent.is_err() {
            break;
        }
    }
}

async fn send_frame(
    socket: &mut Socket,
    stream: &Stream,
    f: &Arc<PublishedFrame>,
    info: bool,
) -> std::io::Result<()> {
    let Ok(jpeg) = f.jpeg().await else {
        return Ok(());
    };
    stream.stats.bytes_out.fetch_add(jpeg.len() as u64, Relaxed);
    #[cfg(target_os = "linux")]
    if socket.is_tcp() {
        let wire = f.derived(|| wire::Wire::build(f, &jpeg));
        if let Some(w) = wire.as_ref() {
            let from = if info { 0 } else { w.info_len };
            socket.send_file(&w.file, from).await?;
            stream.stats.zero_copy_sends.fetch_add(1, Relaxed);
            return Ok(());
        }
    }
    let head = wire::head(f, info, jpeg.len());
    socket.send(head.chain(jpeg)).await
}
