//! The raw-frame bus: the latest published frame, and its JPEG, encoded once.
//!
//! The bus is a `watch` channel: it holds one frame, so a viewer that falls
//! behind simply sees the newest frame next time it looks. Nothing queues,
//! so delay cannot creep up and memory is one frame per stream.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{watch, OnceCell};

use crate::codec::jpeg;
use crate::error::Result;
use crate::frame::Frame;

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
    jpeg: OnceCell<Bytes>,
    jpeg_quality: u8,
    encodes: Arc<std::sync::atomic::AtomicU64>,
    derived: super::derived::Derived,
}

impl PublishedFrame {
    /// Wrap a frame; the JPEG is made lazily by [`PublishedFrame::jpeg`].
    pub fn new(
        seq: u64,
        pts: Duration,
        frame: Frame,
        jpeg_quality: u8,
        encodes: Arc<std::sync::atomic::AtomicU64>,
    ) -> Self {
        PublishedFrame {
            seq,
            pts,
            published_unix_us: unix_us(),
            frame,
            jpeg: OnceCell::new(),
            jpeg_quality,
            encodes,
            derived: Default::default(),
        }
    }

    /// The frame as JPEG: encoded at most once, on a blocking thread, by the
    /// first caller; every other caller waits for and shares that result.
    /// A JPEG frame is passed through untouched.
    pub async fn jpeg(self: &Arc<Self>) -> Result<Bytes> {
        if let crate::FrameData::Jpeg(b) = self.frame.data() {
            return Ok(b.clone());
        }
        let me = self.clone();
        self.jpeg
            .get_or_try_init(|| async move {
                let frame = me.frame.clone();
                let q = me.jpeg_quality;
                me.encodes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::task::spawn_blocking(move || jpeg::encode(&frame, q))
                    .await
                    .map_err(|e| crate::Error::internal(format!("JPEG encoder task failed: {e}")))?
            })
            .await
            .cloned()
    }

    /// The JPEG if it has been made already.
    pub fn jpeg_if_ready(&self) -> Option<Bytes> {
        match self.frame.data() {
            crate::FrameData::Jpeg(b) => Some(b.clone()),
            _ => self.jpeg.get().cloned(),
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
