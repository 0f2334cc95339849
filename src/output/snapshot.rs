//! `GET /streams/{id}/snapshot.jpg`: the latest frame as one JPEG.

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::{Error, Result};
use crate::http::extract::Id;
use crate::rendition::jpeg::jpeg;
use crate::stream::Hub;

/// Routes: `GET /streams/{id}/snapshot.jpg`.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Hub>: FromRef<S>,
{
    Router::new().route("/streams/{id}/snapshot.jpg", get(snapshot))
}

async fn snapshot(State(hub): State<Arc<Hub>>, Id(id): Id) -> Result<Response> {
    let stream = hub.require(&id)?;
    let frame = stream
        .latest()
        .ok_or_else(|| Error::unavailable(format!("stream {:?} has no frame yet", id.as_str())))?;
    let jpeg = jpeg(&stream, &frame).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (
                header::HeaderName::from_static("x-frame-seq"),
                frame.seq.to_string(),
            ),
            (
                header::HeaderName::from_static("x-frame-time-us"),
                frame.published_unix_us.to_string(),
            ),
        ],
        jpeg,
    )
        .into_response())
}
