//! Streams: named channels with one source in and any number of viewers out.

mod bus;
mod derived;
mod hub;
mod id;
mod lease;
mod process;
mod publisher;
mod pump;
mod stats;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use parking_lot::RwLock;
use serde::Serialize;
use serde_json::Value;

use crate::media::MetadataMessage;
use tokio::sync::{broadcast, watch};

pub use bus::{unix_us, FrameSubscriber, PublishedFrame};
pub use hub::{Hub, HubConfig, StreamOptions};
pub use id::StreamId;
pub use lease::Lease;
pub use process::{Processed, Processor};
pub use publisher::{Publisher, TrySendError};
pub use stats::{OutputKind, StreamStats, ViewerCounts, ViewerGuard};

use crate::error::{Error, Result};

/// How many metadata messages a slow viewer may fall behind before it skips.
const METADATA_BACKLOG: usize = 256;

/// One stream: the bus, the metadata channel, counters, its source's name
/// and who holds its publisher lease.
#[derive(Debug)]
pub struct Stream {
    id: StreamId,
    source: String,
    lease: lease::LeaseSlot,
    outputs: Arc<RwLock<Vec<OutputKind>>>,
    frames: watch::Sender<Option<Arc<PublishedFrame>>>,
    metadata: broadcast::Sender<Arc<str>>,
    /// Counters for the dashboard, API and metrics.
    pub stats: StreamStats,
    created: Instant,
    jpeg_quality: u8,
    derived: derived::Derived,
}

impl Stream {
    fn new(
        id: StreamId,
        source: &str,
        jpeg_quality: u8,
        outputs: Arc<RwLock<Vec<OutputKind>>>,
    ) -> Self {
        Stream {
            id,
            source: source.to_string(),
            lease: Default::default(),
            outputs,
            frames: watch::channel(None).0,
            metadata: broadcast::channel(METADATA_BACKLOG).0,
            stats: StreamStats::default(),
            created: Instant::now(),
            jpeg_quality,
            derived: Default::default(),
        }
    }

    /// The stream's id.
    pub fn id(&self) -> &StreamId {
        &self.id
    }

    /// What feeds the stream: `pattern`, `gallery:DIR`, `push` …
    pub fn source(&self) -> String {
        self.source.clone()
    }

    /// Become the stream's one live publisher, until the lease drops;
    /// 409 if another holds it.
    pub fn claim(self: &Arc<Self>, who: &str) -> Result<Lease> {
        lease::claim(self, who)
    }

    /// Who holds the stream's publisher lease, if anyone.
    pub fn leased_by(&self) -> Option<String> {
        self.lease.holder()
    }

    /// Ok when nobody holds the lease (so shared pushers may publish);
    /// otherwise the 409 that names the holder.
    pub fn check_unleased(&self) -> Result<()> {
        match self.lease.holder() {
            Some(holder) => Err(lease::busy(self, &holder)),
            None => Ok(()),
        }
    }

    /// Follow the stream's frames: the current one, then each newer one.
    pub fn subscribe(&self) -> FrameSubscriber {
        FrameSubscriber::new(self.frames.subscribe())
    }

    /// The latest frame, if any.
    pub fn latest(&self) -> Option<Arc<PublishedFrame>> {
        self.frames.borrow().clone()
    }

    /// Follow the stream's metadata (JSON text of [`MetadataMessage`]).
    pub fn subscribe_metadata(&self) -> broadcast::Receiver<Arc<str>> {
        self.metadata.subscribe()
    }

    /// Count a viewer of output `kind` until the guard drops.
    pub fn viewer(self: &Arc<Self>, kind: OutputKind) -> ViewerGuard {
        ViewerGuard::new(self.clone(), kind)
    }

    /// The JPEG quality (1-100) renditions encode this stream's frames at.
    pub fn jpeg_quality(&self) -> u8 {
        self.jpeg_quality
    }

    /// Per-stream state of an output (e.g. the WebSocket fan-out), made once
    /// by the first caller and kept for the stream's life: one per type `T`.
    pub fn derived<T: std::any::Any + Send + Sync>(&self, make: impl FnOnce() -> T) -> Arc<T> {
        self.derived.get_or_make(make)
    }

    /// Time since the stream was created.
    pub fn age(&self) -> Duration {
        self.created.elapsed()
    }

    /// Publish metadata for frame `seq`, or for the latest frame when `None`.
    pub fn send_metadata(&self, seq: Option<u64>, data: Value) -> Result<()> {
        let latest = self.latest();
        let (seq, pts_ms) = match (seq, &latest) {
            (Some(s), Some(f)) if s == f.seq => (s, f.pts_ms()),
            (Some(s), _) => (s, 0),
            (None, Some(f)) => (f.seq, f.pts_ms()),
            (None, None) => (0, 0),
        };
        self.emit_metadata(seq, pts_ms, data)
    }

    fn emit_metadata(&self, seq: u64, pts_ms: u64, data: Value) -> Result<()> {
        let msg = MetadataMessage {
            kind: "metadata",
            stream: self.id.as_arc(),
            seq,
            pts_ms,
            data,
        };
        let text = serde_json::to_string(&msg).map_err(|e| Error::internal(e.to_string()))?;
        // No receivers is fine: nobody is watching.
        let _ = self.metadata.send(text.into());
        Ok(())
    }

    fn publish(&self, frame: Arc<PublishedFrame>) {
        self.stats
            .on_frame(frame.frame.width(), frame.frame.height(), Instant::now());
        self.frames.send_replace(Some(frame));
    }

    /// Status for the API and dashboard.
    pub fn status(&self) -> StreamStatus {
        let now = Instant::now();
        let (width, height) = self.stats.size();
        StreamStatus {
            id: self.id.clone(),
            source: self.source(),
            width,
            height,
            fps: (self.stats.fps(now) * 10.0).round() / 10.0,
            frames_in: self.stats.frames_in.load(Relaxed),
            frames_dropped: self.stats.frames_dropped.load(Relaxed),
            jpeg_encodes: self.stats.jpeg_encodes.load(Relaxed),
            h264_encodes: self.stats.h264_encodes.load(Relaxed),
            viewers: self.stats.viewer_counts(&self.outputs.read()),
            last_frame_age_ms: self
                .stats
                .last_frame_at()
                .map(|t| now.saturating_duration_since(t).as_millis() as u64),
            latest_seq: self.latest().map(|f| f.seq),
        }
    }
}

/// A stream's status, as `GET /api/streams/{id}` returns it.
#[derive(Debug, Clone, Serialize)]
pub struct StreamStatus {
    /// Stream id.
    pub id: StreamId,
    /// What feeds it.
    pub source: String,
    /// Last frame width (0 before any frame).
    pub width: u32,
    /// Last frame height.
    pub height: u32,
    /// Frames per second, recent.
    pub fps: f64,
    /// Frames published.
    pub frames_in: u64,
    /// Frames dropped (full queue, processor drops).
    pub frames_dropped: u64,
    /// JPEG encodes done (at most one per frame).
    pub jpeg_encodes: u64,
    /// H.264 pictures encoded (one per encoded frame, whatever the viewers).
    pub h264_encodes: u64,
    /// Viewers per output kind (`{"mjpeg": 1, "ws": 0, …}`).
    pub viewers: ViewerCounts,
    /// Milliseconds since the last frame; `null` before any frame.
    pub last_frame_age_ms: Option<u64>,
    /// The seq of the latest frame.
    pub latest_seq: Option<u64>,
}
