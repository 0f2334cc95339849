//! The HTTP surface: [`app`] builds the router that the binary serves and
//! that tests drive in-process.

mod api;
pub mod body;
mod error;
pub mod extract;
pub mod pages;
pub mod serve;

use std::sync::Arc;

use axum::Router;
use tower_http::cors::CorsLayer;

use crate::config::Config;
use crate::stream::Hub;

pub use error::{method_not_allowed, not_found};

/// Everything a handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The streams.
    pub hub: Arc<Hub>,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// Every stream's H.264 rendition.
    pub h264: Arc<crate::output::h264::Renditions>,
    /// The WebRTC transport.
    pub rtc: Arc<crate::rtc::Rtc>,
    /// HLS state.
    pub hls: Arc<crate::output::hls::Hls>,
}

impl AppState {
    /// Build the state: the H.264 renditions, the WebRTC socket, HLS.
    /// `http_addr` is where HTTP listens (WebRTC's port defaults next to it).
    pub async fn new(
        hub: Arc<Hub>,
        config: Arc<Config>,
        http_addr: std::net::SocketAddr,
    ) -> crate::Result<Self> {
        let h264 = crate::output::h264::Renditions::new(hub.clone(), &config.h264);
        let rtc = crate::rtc::Rtc::start(&config.webrtc, http_addr, hub.shutdown_token()).await?;
        let hls = crate::output::hls::Hls::new(&config.hls, h264.clone());
        Ok(AppState {
            hub,
            config,
            h264,
            rtc,
            hls,
        })
    }
}

/// The whole router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(pages::routes())
        .merge(crate::output::mjpeg::routes())
        .merge(crate::output::snapshot::routes())
        .merge(crate::output::ws::routes())
        .merge(crate::output::whep::routes())
        .merge(crate::output::hls::routes())
        .merge(crate::source::push::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CorsLayer::very_permissive().expose_headers([
            axum::http::header::LOCATION,
            axum::http::header::ETAG,
            axum::http::HeaderName::from_static("link"),
        ]))
        .with_state(state)
}
