//! The shared H.264 rendition as an [`AuFeed`].
//!
//! (Placeholder until the rendition lands: a feed that ends at once.)

use std::sync::Arc;

use super::store::AuFeed;
use crate::codec::h264::AccessUnit;
use crate::output::h264::Renditions;
use crate::stream::Stream;

/// Access units of one stream's rendition.
pub struct RenditionFeed;

impl RenditionFeed {
    /// Subscribe to `stream`'s rendition (starting its encoder).
    pub fn new(_h264: &Arc<Renditions>, _stream: &Arc<Stream>) -> Self {
        RenditionFeed
    }
}

impl AuFeed for RenditionFeed {
    async fn next_au(&mut self) -> Option<Arc<AccessUnit>> {
        None
    }

    fn request_keyframe(&mut self) {}
}
