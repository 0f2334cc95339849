//! WebSocket viewer: binary message = one JPEG, text message = metadata JSON.
//!
//! With `?frameinfo=1`, a text message `{"type":"frame","seq",…}` precedes
//! each JPEG so a page can tie metadata to the exact frame it draws.
//! Sending waits for the socket, so a slow viewer skips frames instead of
//! queueing them. No permessage-deflate: JPEG does not compress.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::error::Result;
use crate::http::extract::{Id, Query};
use crate::http::AppState;
use crate::output::mjpeg::fps_gap;
use crate::stream::{Protocol, PublishedFrame, Stream};

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

async fn ws(
    State(st): State<AppState>,
    Id(id): Id,
    q: Query,
    up: WebSocketUpgrade,
) -> Result<Response> {
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
    Ok(up.on_upgrade(move |socket| async move {
        tokio::select! {
            _ = session(socket, stream, opts) => {}
            _ = token.cancelled() => {}
        }
    }))
}

async fn session(mut socket: WebSocket, stream: Arc<Stream>, opts: Options) {
    // A metadata-only socket is not a viewer of the picture.
    let _guard = opts.frames.then(|| stream.viewer(Protocol::Ws));
    let mut frames = stream.subscribe();
    let mut meta = stream.subscribe_metadata();
    let mut next_at: Option<Instant> = None;
    loop {
        let wait_gap = async {
            if let Some(t) = next_at {
                tokio::time::sleep_until(t).await;
            }
        };
        tokio::select! {
            f = async { wait_gap.await; frames.next().await }, if opts.frames => {
                let Some(f) = f else { break };
                next_at = opts.gap.map(|g| Instant::now() + g);
                if send_frame(&mut socket, &stream, &f, opts.frameinfo).await.is_err() {
                    break;
                }
            }
            m = meta.recv() => match m {
                Ok(text) => if socket.send(Message::Text(text.as_ref().into())).await.is_err() { break },
                Err(RecvError::Lagged(n)) => tracing::debug!("ws viewer skipped {n} metadata messages"),
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn send_frame(
    socket: &mut WebSocket,
    stream: &Stream,
    f: &Arc<PublishedFrame>,
    info: bool,
) -> Result<(), ()> {
    let Ok(jpeg) = f.jpeg().await else {
        return Ok(());
    };
    if info {
        let text = json!({
            "type": "frame", "seq": f.seq, "pts_ms": f.pts_ms(), "ts_us": f.published_unix_us,
            "width": f.frame.width(), "height": f.frame.height(),
        })
        .to_string();
        socket
            .send(Message::Text(text.into()))
            .await
            .map_err(|_| ())?;
    }
    stream
        .stats
        .bytes_out
        .fetch_add(jpeg.len() as u64, std::sync::atomic::Ordering::Relaxed);
    socket.send(Message::Binary(jpeg)).await.map_err(|_| ())
}
