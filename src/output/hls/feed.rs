//! The shared H.264 rendition as an [`AuFeed`]: subscribing keeps the
//! stream's encoder running while the HLS session lasts.

use std::sync::Arc;

use super::store::AuFeed;
use crate::codec::h264::AccessUnit;
use crate::output::h264::{H264Subscriber, Renditions};
use crate::stream::Stream;

/// Access units of one stream's rendition.
pub struct RenditionFeed(H264Subscriber);

impl RenditionFeed {
    /// Subscribe to `stream`'s rendition (starting its encoder).
    pub fn new(h264: &Arc<Renditions>, stream: &Arc<Stream>) -> Self {
        RenditionFeed(h264.get(stream).subscribe())
    }
}

impl AuFeed for RenditionFeed {
    async fn next_au(&mut self) -> Option<Arc<AccessUnit>> {
        self.0.next().await
    }

    fn request_keyframe(&mut self) {
        self.0.request_keyframe();
    }
}
