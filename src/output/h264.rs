//! The shared H.264 rendition: one encoder per stream, running only while
//! it has viewers (WebRTC, HLS), handing the same access units to all.
//!
//! (Stub: filled in by the WebRTC work.)

use std::sync::Arc;

use serde::Deserialize;

use crate::stream::Hub;

/// `[h264]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct H264Config {
    /// Target bitrate in bits per second.
    pub bitrate: u32,
    /// Keyframe interval in milliseconds.
    pub keyframe_interval_ms: u64,
}

impl Default for H264Config {
    fn default() -> Self {
        H264Config {
            bitrate: 2_500_000,
            keyframe_interval_ms: 2000,
        }
    }
}

/// Every stream's H.264 rendition.
pub struct Renditions {
    _hub: Arc<Hub>,
}

impl Renditions {
    /// Renditions for the streams of `hub`, made on demand.
    pub fn new(hub: Arc<Hub>, _config: &H264Config) -> Arc<Self> {
        Arc::new(Renditions { _hub: hub })
    }
}
