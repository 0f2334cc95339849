//! HLS output: fMP4 segments and playlists from the shared H.264 rendition.
//!
//! (Stub: filled in by the HLS work.)

use std::sync::Arc;

use axum::Router;
use serde::Deserialize;

use crate::http::AppState;

/// `[hls]` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HlsConfig {}

/// HLS state of every stream.
pub struct Hls {}

impl Hls {
    /// HLS for the streams of a server.
    pub fn new(_config: &HlsConfig, _h264: Arc<super::h264::Renditions>) -> Arc<Self> {
        Arc::new(Hls {})
    }
}

/// Routes under `/streams/{id}/hls/`.
pub fn routes() -> Router<AppState> {
    Router::new()
}
