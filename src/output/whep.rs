//! WHEP: WebRTC playback signalling over HTTP (draft-ietf-wish-whep).
//!
//! `POST /streams/{id}/whep` with an `application/sdp` offer answers
//! `201 Created`, `Location: /streams/{id}/whep/{session}` and the SDP
//! answer. `DELETE` on the Location ends the session. `PATCH` with
//! `application/trickle-ice-sdpfrag` is accepted (204) and ignored: the
//! server is ICE-lite with all its candidates in the answer, and learns the
//! viewer's address from its connectivity checks. ICE restarts are not
//! supported; a viewer starts a new session instead.
//!
//! A session belongs to the stream it was opened for: `PATCH` and `DELETE`
//! under another stream's URL answer 404. Media reaches sessions through
//! the stream's [glue](glue) task; `rtc/` itself knows no stream.

mod fanout;
mod glue;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRef, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use axum::Router;

use crate::error::{Error, ErrorKind, Result};
use crate::http::body::{content_type, read_limited};
use crate::http::extract::Id;
use crate::rendition::h264::Renditions;
use crate::rtc::{Direction, Rtc, SessionId};
use crate::stream::{Hub, OutputKind, Stream, StreamId};
use fanout::Fanout;

/// The largest SDP offer or fragment accepted.
const MAX_SDP: usize = 64 * 1024;

/// WebRTC viewers are counted under `"webrtc"`.
pub const KIND: OutputKind = OutputKind::new("webrtc");

/// Routes: `POST /streams/{id}/whep`, `PATCH`/`DELETE` on the session URL.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Hub>: FromRef<S>,
    Arc<Rtc>: FromRef<S>,
    Arc<Renditions>: FromRef<S>,
{
    Router::new()
        .route("/streams/{id}/whep", post(offer))
        .route("/streams/{id}/whep/{session}", patch(trickle).delete(end))
}

async fn offer(
    State(hub): State<Arc<Hub>>,
    State(rtc): State<Arc<Rtc>>,
    State(h264): State<Arc<Renditions>>,
    Id(id): Id,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let stream = hub.require(&id)?;
    want_type(&headers, "application/sdp")?;
    let body = read_limited(&headers, body, MAX_SDP).await?;
    let sdp = std::str::from_utf8(&body)
        .map_err(|_| Error::bad_request("malformed SDP offer: not UTF-8 text"))?;
    let (session, answer) = play(&rtc, &h264, &stream, sdp).await?;
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

/// Open a sending session and hand it to the stream's glue task.
async fn play(
    rtc: &Arc<Rtc>,
    h264: &Renditions,
    stream: &Arc<Stream>,
    sdp: &str,
) -> Result<(SessionId, String)> {
    let opened = rtc.open(sdp, Direction::SendOnly).await?;
    let id = opened.id.clone();
    let rendition = h264.get(stream);
    let added = Fanout::of(stream).add(stream, rendition, rtc, opened.id, opened.events);
    if let Err(e) = added {
        let _ = rtc.close(id.as_str()).await;
        return Err(e);
    }
    Ok((id, opened.answer))
}

async fn trickle(
    State(hub): State<Arc<Hub>>,
    State(rtc): State<Arc<Rtc>>,
    Path((id, session)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode> {
    require_session(&hub, &rtc, &id, &session)?;
    want_type(&headers, "application/trickle-ice-sdpfrag")?;
    // Read (bounded) and drop: see the module docs.
    read_limited(&headers, body, MAX_SDP).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn end(
    State(hub): State<Arc<Hub>>,
    State(rtc): State<Arc<Rtc>>,
    Path((id, session)): Path<(String, String)>,
) -> Result<StatusCode> {
    require_session(&hub, &rtc, &id, &session)?;
    rtc.close(&session).await?;
    Ok(StatusCode::OK)
}

/// 404 unless `session` is a live WHEP session of stream `id`.
fn require_session(hub: &Hub, rtc: &Rtc, id: &str, session: &str) -> Result<()> {
    let stream = hub.require(&StreamId::parse(id)?)?;
    if Fanout::of(&stream).has(session) && rtc.has_session(session) {
        return Ok(());
    }
    Err(Error::not_found(format!(
        "no WHEP session {session:?} on stream {id:?}"
    )))
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
