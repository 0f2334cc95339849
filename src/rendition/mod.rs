//! Renditions: a stream's frames encoded once, only while someone watches,
//! and shared by every viewer of every output.
//!
//! - [`jpeg`]: each frame as JPEG, made by the first viewer that asks.
//! - [`h264`]: one H.264 encoder per stream, running while it has subscribers.
//!
//! A rendition's per-stream state lives in the stream's derived values
//! ([`crate::stream::Stream::derived`]), the one place outputs and
//! renditions hang state on a stream.

pub mod h264;
pub mod jpeg;

use std::future::Future;
use std::sync::Arc;

use crate::media::AccessUnit;

/// Where access units come from: the shared H.264 rendition, later a
/// source's own bitstream, or a test. HLS and recording read through this.
pub trait AuFeed: Send + 'static {
    /// The next access unit; `None` when the stream has ended.
    fn next_au(&mut self) -> impl Future<Output = Option<Arc<AccessUnit>>> + Send;
    /// Ask for the next picture to be an IDR.
    fn request_keyframe(&mut self);
}
