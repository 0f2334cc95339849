//! MJPEG over HTTP: `multipart/x-mixed-replace`, one part per frame.
//!
//! Each viewer is a stream of body chunks that hyper pulls only when the
//! socket can take more, so a stalled viewer simply stops pulling; when it
//! resumes it gets the frame that is current then, never a backlog.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::http::header;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::http::extract::{Id, Query};
use crate::http::serve::ConnFd;
use crate::output::pacing::Pace;
use crate::rendition::jpeg::jpeg;
use crate::stream::{FrameSubscriber, Hub, OutputKind, PublishedFrame, ViewerGuard};

/// Viewers of this output are counted under `"mjpeg"`.
pub const KIND: OutputKind = OutputKind::new("mjpeg");

/// The multipart boundary.
pub const BOUNDARY: &str = "framecast";

/// Routes: `GET /streams/{id}/mjpeg`.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Hub>: FromRef<S>,
{
    Router::new().route("/streams/{id}/mjpeg", get(mjpeg))
}

/// The header of one part, including the CRLF that ends the previous part.
pub fn part_header(len: usize, seq: u64, published_unix_us: u64, first: bool) -> Bytes {
    let lead = if first { "" } else { "\r\n" };
    format!(
        "{lead}--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len}\r\nX-Frame-Seq: {seq}\r\nX-Frame-Time-Us: {published_unix_us}\r\n\r\n"
    )
    .into()
}

/// Parse the optional `?fps=` cap into a minimum gap between frames.
pub fn fps_gap(q: &Query) -> Result<Option<Duration>> {
    match q.get::<f64>("fps")? {
        None => Ok(None),
        Some(f) if f > 0.0 && f.is_finite() => {
            Ok(Some(Duration::from_secs_f64(1.0 / f.min(1000.0))))
        }
        Some(_) => Err(Error::bad_request("fps must be a positive number")),
    }
}

struct Viewer {
    sub: FrameSubscriber,
    gap: Option<Duration>,
    last: Option<Instant>,
    first: bool,
    _guard: ViewerGuard,
    stream: Arc<crate::stream::Stream>,
    token: tokio_util::sync::CancellationToken,
    pace: Pace,
}

impl Viewer {
    /// Wait for the next frame this viewer should get, honouring its fps cap.
    async fn next_frame(&mut self) -> Option<Arc<PublishedFrame>> {
        if let (Some(gap), Some(last)) = (self.gap, self.last) {
            tokio::select! {
                _ = tokio::time::sleep_until(last + gap) => {}
                _ = self.token.cancelled() => return None,
            }
        }
        tokio::select! {
            f = self.sub.next() => f,
            _ = self.token.cancelled() => None,
        }
    }

    /// Hold `frame`, replaced by any newer one, until the socket has sent
    /// most of the last frame (docs/design/0007-pacing.md).
    async fn when_drained(
        &mut self,
        mut frame: Arc<PublishedFrame>,
    ) -> Option<Arc<PublishedFrame>> {
        while !self.pace.ready() {
            let wait = self.pace.next_wait();
            tokio::select! {
                f = self.sub.next() => frame = f?,
                _ = tokio::time::sleep(wait) => {}
                _ = self.token.cancelled() => return None,
            }
        }
        Some(frame)
    }
}

async fn mjpeg(
    State(hub): State<Arc<Hub>>,
    Id(id): Id,
    q: Query,
    conn: Option<Extension<ConnFd>>,
) -> Result<Response> {
    let stream = hub.require(&id)?;
    let viewer = Viewer {
        sub: stream.subscribe(),
        gap: fps_gap(&q)?,
        last: None,
        first: true,
        _guard: stream.viewer(KIND),
        stream,
        token: hub.shutdown_token(),
        pace: Pace::new(conn.map(|Extension(ConnFd(fd))| fd)),
    };
    let parts = stream::unfold(viewer, |mut v| async move {
        loop {
            let frame = v.next_frame().await?;
            let frame = v.when_drained(frame).await?;
            let Ok(jpeg) = jpeg(&v.stream, &frame).await else {
                continue;
            };
            v.last = Some(Instant::now());
            let head = part_header(jpeg.len(), frame.seq, frame.published_unix_us, v.first);
            v.first = false;
            v.pace.sent(head.len() + jpeg.len());
            v.pace.sent(head.len() + jpeg.len());
            v.stream
                .stats
                .bytes_out
                .fetch_add(jpeg.len() as u64, std::sync::atomic::Ordering::Relaxed);
            return Some(([head, jpeg], v));
        }
    })
    .flat_map(|chunks| stream::iter(chunks.into_iter().map(Ok::<_, std::convert::Infallible>)));
    Response::builder()
        .header(
            header::CONTENT_TYPE,
            format!("multipart/x-mixed-replace; boundary={BOUNDARY}"),
        )
        .header(header::CACHE_CONTROL, "no-store, no-cache, must-revalidate")
        .header(header::PRAGMA, "no-cache")
        .header("X-Accel-Buffering", "no")
        .body(Body::from_stream(parts))
        .map_err(|e| Error::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_headers() {
        let h = part_header(123, 7, 99, true);
        let s = std::str::from_utf8(&h).unwrap();
        assert!(s.starts_with("--framecast\r\nContent-Type: image/jpeg\r\nContent-Length: 123\r\n"));
        assert!(s.ends_with("\r\n\r\n"));
        assert!(std::str::from_utf8(&part_header(1, 1, 1, false))
            .unwrap()
            .starts_with("\r\n--framecast"));
    }
}
