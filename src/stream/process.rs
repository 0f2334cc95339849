//! Processors: code that transforms or analyses frames on their way to viewers.

use serde_json::Value;

use crate::error::Result;
use crate::media::Frame;

/// What a processor made of one frame.
pub struct Processed {
    /// The frame to publish; `None` drops it.
    pub frame: Option<Frame>,
    /// Metadata for this frame (boxes, labels, scores), merged with any the producer sent.
    pub metadata: Option<Value>,
}

/// Transforms or analyses frames. Runs on a blocking thread, one frame at a
/// time, in the order frames were sent; a slow processor fills the queue and
/// so pushes back on the producer.
pub trait Processor: Send + 'static {
    /// A short name for logs and the dashboard.
    fn name(&self) -> &str;

    /// Handle one frame. An error drops the frame with one log line.
    fn process(&mut self, frame: Frame, seq: u64) -> Result<Processed>;
}
