//! WHEP: WebRTC playback signalling over HTTP.
//!
//! (Stub: filled in by the WebRTC work.)

use axum::Router;

use crate::http::AppState;

/// Routes: `POST /streams/{id}/whep`, `PATCH`/`DELETE` on the session URL.
pub fn routes() -> Router<AppState> {
    Router::new()
}
