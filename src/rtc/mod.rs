//! WebRTC transport (str0m): one UDP socket, many sessions; shared by WHEP and WHIP.
//!
//! (Stub: filled in by the WebRTC work.)

use std::sync::Arc;

use serde::Deserialize;

use crate::error::Result;

/// `[webrtc]` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtcConfig {}

/// The WebRTC transport.
pub struct Rtc {}

impl Rtc {
    /// Bind the UDP socket and start the driver.
    pub async fn start(
        _config: &RtcConfig,
        _http_addr: std::net::SocketAddr,
        _h264: Arc<crate::output::h264::Renditions>,
    ) -> Result<Arc<Self>> {
        Ok(Arc::new(Rtc {}))
    }
}
