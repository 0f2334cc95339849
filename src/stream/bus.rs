//! The raw-frame bus: the latest published frame, with room for what
//! renditions and outputs derive from it (its JPEG, an output's wire form),
//! each made once.
//!
//! The bus is a `watch` channel: it holds one frame, so a viewer that falls
//! behind simply sees the newest frame next time it looks. Nothing queues,
//! so delay cannot creep up and memory is one frame per stream.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::media::Frame;

/// A frame as it went out on a stream, with its place in the stream.
#[derive(Debug)]
pub struct PublishedFrame {
    /// Sequence number, from 1, unique within the stream's life.
    pub seq: u64,
    /// Presentation time since the stream's first frame.
    pub pts: Duration,
    /// Wall-clock time the frame was published (µs since the Unix epoch); for latency.
    pub published_unix_us: u64,
    /// The pixels.
    pub frame: Frame,
    derived: super::derived::Derived,
}

impl PublishedFrame {
    /// Wrap a frame published now.
    pub fn new(seq: u64, pts: Duration, frame: Frame) -> Self {
        PublishedFrame {
            seq,
            pts,
            published_unix_us: unix_us(),
            frame,
            derived: Default::default(),
        }
    }

    /// A value derived from this frame (e.g. an output's wire form), made once
    /// by the first caller and shared by every other: one per type `T`.
    pub fn derived<T: std::any::Any + Send + Sync>(&self, make: impl FnOnce() -> T) -> Arc<T> {
        self.derived.get_or_make(make)
    }

    /// Presentation time in milliseconds.
    pub fn pts_ms(&self) -> u64 {
        self.pts.as_millis() as u64
    }
}

/// Microseconds since the Unix epoch, now.
pub fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A viewer's handle on the bus: yields each time a newer frame exists,
/// skipping any it was too slow to see.
pub struct FrameSubscriber {
    rx: watch::Receiver<Option<Arc<PublishedFrame>>>,
    last_seq: u64,
}

impl FrameSubscriber {
    pub(crate) fn new(rx: watch::Receiver<Option<Arc<PublishedFrame>>>) -> Self {
        FrameSubscriber { rx, last_seq: 0 }
    }

    /// The newest frame this subscriber has not seen yet; the stream's
    /// current frame comes first. `None` once the stream is gone.
    pub async fn next(&mut self) -> Option<Arc<PublishedFrame>> {
        loop {
            let current = self.rx.borrow_and_update().clone();
            if let Some(f) = current.filter(|f| f.seq > self.last_seq) {
                self.last_seq = f.seq;
                return Some(f);
            }
            self.rx.changed().await.ok()?;
        }
    }

    /// The current frame, if any, without waiting.
    pub fn latest(&self) -> Option<Arc<PublishedFrame>> {
        self.rx.borrow().clone()
    }
}
