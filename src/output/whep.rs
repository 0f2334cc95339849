//! WHEP: WebRTC playback signalling over HTTP (draft-ietf-wish-whep).
//!
//! `POST /streams/{id}/whep` with an `application/sdp` offer answers
//! `201 Created`, `Location: /streams/{id}/whep/{session}` and the SDP
//! answer. `DELETE` on the Location ends the session. `PATCH` with
//! `application/trickle-ice-sdpfrag` is accepted (204) and ignored: the
//! server is ICE-lite with all its candidates in the answer, and learns the
//! viewer's address from its connectivity checks. ICE restarts are not
//! supported; a viewer starts a new session instead.

use axum::body::Body;
use std::sync::Arc;

use axum::extract::{FromRef, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use axum::Router;

use crate::error::{Error, ErrorKind, Result};
use crate::http::body::{content_type, read_limited};
use crate::http::extract::Id;
use crate::rtc::Rtc;
use crate::stream::{Hub, OutputKind, StreamId};

/// WebRTC viewers are counted under `"webrtc"`.
pub const KIND: OutputKind = OutputKind::new("webrtc");

/// The largest SDP offer or fragment accepted.
const MAX_SDP: usize = 64 * 1024;

/// Routes: `POST /streams/{id}/whep`, `PATCH`/`DELETE` on the session URL.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Hub>: FromRef<S>,
    Arc<Rtc>: FromRef<S>,
{
    Router::new()
        .route("/streams/{id}/whep", post(offer))
        .route("/streams/{id}/whep/{session}", patch(trickle).delete(end))
}

async fn offer(
    State(hub): State<Arc<Hub>>,
    State(rtc): State<Arc<Rtc>>,
    Id(id): Id,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let stream = hub.require(&id)?;
    want_type(&headers, "application/sdp")?;
    let body = read_limited(&headers, body, MAX_SDP).await?;
    let sdp = std::str::from_utf8(&body)
        .map_err(|_| Error::bad_request("malformed SDP offer: not UTF-8 text"))?;
    let (session, answer) = rtc.play(&stream, sdp).await?;
    let location = format!("/streams/{id}/whep/{session}");
    Ok((
        StatusCode::CREATED,
        [
            (header::LOCATION, location),
            (header::CONTENT_TYPE, "application/sdp".to_string()),
            (header::ETAG, format!("\"{session}\"")),
        ],
        answer,
    )
        .into_response())
}

async fn trickle(
    State(rtc): State<Arc<Rtc>>,
    Path((id, session)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode> {
    StreamId::parse(&id)?;
    if !rtc.has_session(&session) {
        return Err(Error::not_found(format!("no WHEP session {session:?}")));
    }
    want_type(&headers, "application/trickle-ice-sdpfrag")?;
    // Read (bounded) and drop: see the module docs.
    read_limited(&headers, body, MAX_SDP).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn end(
    State(rtc): State<Arc<Rtc>>,
    Path((id, session)): Path<(String, String)>,
) -> Result<StatusCode> {
    StreamId::parse(&id)?;
    rtc.close(&session).await?;
    Ok(StatusCode::OK)
}

fn want_type(headers: &HeaderMap, want: &str) -> Result<()> {
    let got = content_type(headers);
    if got == want {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::UnsupportedMediaType,
        format!("Content-Type must be {want}, not {got:?}"),
    ))
}
