//! Push from any language: `POST /streams/{id}/frames`, the WebSocket
//! `GET /streams/{id}/push`, and `POST /streams/{id}/metadata`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRef, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::http::body::{content_type, read_limited};
use crate::http::extract::{peer, Id, Query};
use crate::media::{Frame, PixelFormat};
use crate::stream::{Hub, Publisher, StreamId};

/// How long a pushed frame may wait for room in a full queue.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest metadata body.
const MAX_METADATA_BYTES: usize = 1 << 20;

/// What the push handlers need: the streams and the `[push]` settings.
#[derive(Clone)]
pub struct PushState {
    /// The streams.
    pub hub: Arc<Hub>,
    /// The `[push]` settings.
    pub config: Arc<PushConfig>,
}

/// Who may create a stream by pushing to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllowCreate {
    /// Only clients on a loopback address (the default).
    Localhost,
    /// Anyone who can reach the server.
    Always,
    /// Nobody: streams must be configured.
    Never,
}

/// Publishing over HTTP and WebSocket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    /// Whether pushing to an unknown stream creates it.
    pub allow_create: AllowCreate,
    /// The largest frame body accepted, in bytes (413 above).
    pub max_frame_bytes: usize,
    /// The largest image decoded from PNG/JPEG, in pixels.
    pub max_pixels: usize,
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig {
            allow_create: AllowCreate::Localhost,
            max_frame_bytes: 32 << 20,
            max_pixels: 64_000_000,
        }
    }
}

/// Routes for pushing frames and metadata.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    PushState: FromRef<S>,
{
    Router::new()
        .route("/streams/{id}/frames", post(post_frame))
        .route("/streams/{id}/push", get(ws_push))
        .route("/streams/{id}/metadata", post(post_metadata))
}

/// How raw pixels in a body are laid out.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct RawHeader {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Pixel format name (`bgr24`, `rgb24`, `rgba`, `gray8`, `i420`).
    pub format: PixelFormat,
}

/// Turn a pushed body into a frame: JPEG and PNG by content, raw by header.
pub fn decode_body(body: Bytes, raw: Option<RawHeader>, max_pixels: usize) -> Result<Frame> {
    if body.starts_with(&[0xFF, 0xD8]) {
        return crate::codec::jpeg::frame(body);
    }
    if body.starts_with(b"\x89PNG\r\n\x1a\n") {
        return crate::codec::image::decode_png(&body, max_pixels);
    }
    match raw {
        Some(h) => Frame::raw(h.width, h.height, h.format, body),
        None => Err(Error::new(
            ErrorKind::UnsupportedMediaType,
            "the body is neither a JPEG nor a PNG; raw pixels need width, height and format",
        )),
    }
}

fn raw_from_query(q: &Query) -> Result<RawHeader> {
    let format = PixelFormat::parse(&q.require::<String>("format")?)?;
    Ok(RawHeader {
        width: q.require("width")?,
        height: q.require("height")?,
        format,
    })
}

async fn post_frame(
    State(st): State<PushState>,
    Id(id): Id,
    q: Query,
    req: Request,
) -> Result<Response> {
    let peer = peer(req.extensions());
    let ctype = content_type(req.headers());
    let meta = metadata_header(req.headers())?;
    let (parts, body) = req.into_parts();
    let raw = match ctype.as_str() {
        "image/jpeg" | "image/jpg" | "image/png" => None,
        "application/octet-stream" => Some(raw_from_query(&q)?),
        other => {
            return Err(Error::new(
                ErrorKind::UnsupportedMediaType,
                format!("content type {other:?} is not accepted; send image/jpeg, image/png or application/octet-stream"),
            ))
        }
    };
    let publisher = publisher_for(&st, &id, peer)?;
    let body = read_limited(&parts.headers, body, st.config.max_frame_bytes).await?;
    if raw.is_none() {
        let is_png = body.starts_with(b"\x89PNG");
        let is_jpeg = body.starts_with(&[0xFF, 0xD8]);
        if (ctype == "image/png" && !is_png) || (ctype != "image/png" && !is_jpeg) {
            return Err(Error::bad_request(format!(
                "the body is not a valid {ctype} image"
            )));
        }
    }
    let max_pixels = st.config.max_pixels;
    let frame = tokio::task::spawn_blocking(move || decode_body(body, raw, max_pixels))
        .await
        .map_err(|e| Error::internal(e.to_string()))??;
    let (w, h) = (frame.width(), frame.height());
    let wait = !matches!(
        q.0.get("wait").map(String::as_str),
        Some("0" | "false" | "no")
    );
    send(&publisher, frame, meta, wait).await?;
    let body = json!({"stream": id, "width": w, "height": h, "queued": true});
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

fn metadata_header(headers: &axum::http::HeaderMap) -> Result<Option<Value>> {
    let Some(v) = headers.get("x-framecast-metadata") else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .map_err(|_| Error::bad_request("X-Framecast-Metadata is not text"))?;
    serde_json::from_str(s)
        .map(Some)
        .map_err(|e| Error::bad_request(format!("X-Framecast-Metadata is not JSON: {e}")))
}

async fn send(p: &Publisher, frame: Frame, meta: Option<Value>, wait: bool) -> Result<()> {
    if !wait && meta.is_none() {
        return p.try_send(frame).map_err(Error::from);
    }
    let fut = async {
        match meta {
            Some(m) => p.send_with_metadata(frame, m).await,
            None => p.send(frame).await,
        }
    };
    tokio::time::timeout(SEND_TIMEOUT, fut)
        .await
        .map_err(|_| Error::unavailable("the stream's queue stayed full; try again"))?
}

/// The publisher for a push into `id`, creating the stream if allowed.
fn publisher_for(st: &PushState, id: &StreamId, peer: Option<SocketAddr>) -> Result<Publisher> {
    if let Some(stream) = st.hub.get(id) {
        stream.check_unleased()?;
        if let Some(p) = st.hub.publisher(id) {
            return Ok(p);
        }
    }
    match st.config.allow_create {
        AllowCreate::Always => {}
        AllowCreate::Never => {
            return Err(Error::not_found(format!(
                "no stream named {:?}, and creating streams by pushing is disabled",
                id.as_str()
            )))
        }
        AllowCreate::Localhost => {
            if !peer.is_none_or(|a| a.ip().is_loopback()) {
                return Err(Error::new(
                    ErrorKind::Forbidden,
                    "only local clients may create streams by pushing (push.allow_create = \"localhost\")",
                ));
            }
        }
    }
    st.hub.publisher_or_create(id, "push")
}

async fn post_metadata(State(st): State<PushState>, Id(id): Id, req: Request) -> Result<Response> {
    let stream = st.hub.require(&id)?;
    let (parts, body) = req.into_parts();
    let body = read_limited(&parts.headers, body, MAX_METADATA_BYTES).await?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| Error::bad_request(format!("metadata is not valid JSON: {e}")))?;
    let (seq, data) = split_envelope(value)?;
    stream.send_metadata(seq, data)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"stream": id, "queued": true})),
    )
        .into_response())
}

/// `{"seq": N, "data": {...}}` → (Some(N), data); anything else is all data.
fn split_envelope(v: Value) -> Result<(Option<u64>, Value)> {
    match v {
        Value::Object(mut m) if m.contains_key("data") => {
            let seq = match m.remove("seq") {
                None | Some(Value::Null) => None,
                Some(s) => Some(
                    s.as_u64()
                        .ok_or_else(|| Error::bad_request("seq must be a non-negative integer"))?,
                ),
            };
            Ok((seq, m.remove("data").unwrap_or(Value::Null)))
        }
        other => Ok((None, other)),
    }
}

async fn ws_push(
    State(st): State<PushState>,
    Id(id): Id,
    ws: WebSocketUpgrade,
    req: Request,
) -> Result<Response> {
    let publisher = publisher_for(&st, &id, peer(req.extensions()))?;
    let limit = st.config.max_frame_bytes;
    let max_pixels = st.config.max_pixels;
    Ok(ws
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| push_session(socket, publisher, max_pixels)))
}

async fn push_session(mut socket: WebSocket, publisher: Publisher, max_pixels: usize) {
    let mut raw: Option<RawHeader> = None;
    while let Some(Ok(msg)) = socket.recv().await {
        let result = match msg {
            Message::Text(t) => on_text(&publisher, &mut raw, t.as_str()),
            Message::Binary(b) => on_binary(&publisher, raw, b, max_pixels).await,
            Message::Close(_) => break,
            _ => Ok(()),
        };
        if let Err(e) = result {
            let text = json!({"type": "error", "error": e.message(), "kind": e.kind().as_str()})
                .to_string();
            if socket.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
    }
}

fn on_text(p: &Publisher, raw: &mut Option<RawHeader>, text: &str) -> Result<()> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| Error::bad_request(format!("text message is not JSON: {e}")))?;
    let is_header =
        v.get("width").is_some() && v.get("height").is_some() && v.get("format").is_some();
    if is_header {
        let h: RawHeader = serde_json::from_value(v)
            .map_err(|e| Error::bad_request(format!("bad raw header: {e}")))?;
        *raw = Some(h);
        return Ok(());
    }
    let (seq, data) = split_envelope(v)?;
    p.stream().send_metadata(seq, data)
}

async fn on_binary(
    p: &Publisher,
    raw: Option<RawHeader>,
    b: Bytes,
    max_pixels: usize,
) -> Result<()> {
    let frame = tokio::task::spawn_blocking(move || decode_body(b, raw, max_pixels))
        .await
        .map_err(|e| Error::internal(e.to_string()))??;
    p.send(frame).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope() {
        let (s, d) = split_envelope(json!({"seq": 3, "data": {"a": 1}})).unwrap();
        assert_eq!((s, d), (Some(3), json!({"a": 1})));
        let (s, d) = split_envelope(json!({"boxes": []})).unwrap();
        assert_eq!((s, d), (None, json!({"boxes": []})));
        assert!(split_envelope(json!({"seq": -1, "data": 1})).is_err());
    }

    #[test]
    fn bodies() {
        let raw = RawHeader {
            width: 2,
            height: 1,
            format: PixelFormat::Gray8,
        };
        assert!(decode_body(Bytes::from_static(&[1, 2]), Some(raw), 100).is_ok());
        assert!(decode_body(Bytes::from_static(&[1, 2, 3]), Some(raw), 100).is_err());
        let e = decode_body(Bytes::from_static(b"hello"), None, 100).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsupportedMediaType);
    }
}
