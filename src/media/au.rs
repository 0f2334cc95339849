//! An encoded picture: one H.264 access unit and where it sits in its stream.

use std::sync::Arc;
use std::time::Duration;

/// One encoded picture in Annex B form (start codes, SPS/PPS before each IDR).
#[derive(Debug, Clone)]
pub struct AccessUnit {
    /// Annex B bytestream of every NAL unit of this picture, shared as is
    /// by every viewer (str0m's writer takes an `Arc<[u8]>` without a copy).
    pub data: Arc<[u8]>,
    /// True for an IDR picture (a place a decoder can start).
    pub keyframe: bool,
    /// Presentation time since the stream started.
    pub pts: Duration,
    /// The `seq` of the frame this picture was made from.
    pub seq: u64,
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// When the source frame was published (µs since the Unix epoch), for latency.
    pub published_unix_us: u64,
}
