//! The application state: the parts handlers take, each by itself.
//!
//! Handlers name only what they use (`State<Arc<Hub>>`, `State<Arc<Rtc>>`,
//! `State<PushState>` …); `FromRef` hands each part out of [`AppState`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::FromRef;

use super::config::Config;
use crate::error::Result;
use crate::output::hls::Hls;
use crate::rendition::h264::Renditions;
use crate::rtc::Rtc;
use crate::source::push::PushState;
use crate::stream::Hub;

/// Everything a handler may need. Cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// The streams.
    pub hub: Arc<Hub>,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// Every stream's H.264 rendition.
    pub h264: Arc<Renditions>,
    /// The WebRTC transport.
    pub rtc: Arc<Rtc>,
    /// HLS state.
    pub hls: Arc<Hls>,
    /// What the push handlers need.
    pub push: PushState,
}

impl AppState {
    /// Build the state: the H.264 renditions, the WebRTC socket, HLS.
    /// `http_addr` is where HTTP listens (WebRTC's port defaults next to it).
    pub async fn new(hub: Arc<Hub>, config: Arc<Config>, http_addr: SocketAddr) -> Result<Self> {
        let h264 = Renditions::new(&config.h264);
        let rtc = Rtc::start(&config.webrtc, http_addr, hub.shutdown_token()).await?;
        let hls = Hls::new(&config.hls, h264.clone());
        let push = PushState {
            hub: hub.clone(),
            config: Arc::new(config.push.clone()),
        };
        Ok(AppState {
            hub,
            config,
            h264,
            rtc,
            hls,
            push,
        })
    }
}
