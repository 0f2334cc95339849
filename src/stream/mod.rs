//! Streams: named channels with one source in and any number of viewers out.

mod bus;
mod derived;
mod hub;
mod id;
mod process;
mod publisher;
mod pump;
mod stats;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

pub use bus::{unix_us, FrameSubscriber, PublishedFrame};
pub use hub::{Hub, HubConfig, StreamOptions};
pub use id::StreamId;
pub use process::{Processed, Processor};
pub use publisher::{Publisher, TrySendError};
pub use stats::{Protocol, StreamStats, ViewerGuard};

use crate::error::{Error, Result};

/// How many metadata messages a slow viewer may fall behind before it skips.
const METADATA_BACKLOG: usize = 256;

/// Metadata for one frame, as viewers receive it (WebSocket text, DataChannel).
#[derive(Debug, Clone, Serialize)]
pub struct MetadataMessage {
    /// Always `"metadata"`, so clients can tell it from other text messages.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The stream id.
    pub stream: StreamId,
    /// The frame the data belongs to.
    pub seq: u64,
    /// That frame's presentation time in ms.
    pub pts_ms: u64,
    /// Producer-defined payload (boxes, labels …).
    pub data: Value,
}

/// One stream: the bus, the metadata channel, counters and its source's name.
#[derive(Debug)]
pub struct Stream {
    id: StreamId,
    source: RwLock<String>,
    frames: watch::Sender<Option<Arc<PublishedFrame>>>,
    metadata: broadcast::Sender<Arc<str>>,
    /// Counters for the dashboard, API and metrics.
    pub stats: StreamStats,
    created: Instant,
    jpeg_quality: u8,
    derived: derived::Derived,
}

impl Stream {
    fn new(id: StreamId, source: &str, jpeg_quality: u8) -> Self {
        Stream {
            id,
            source: RwLock::new(source.to_string()),
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
        self.source.read().clone()
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

    /// Count a viewer over `protocol` until the guard drops.
    pub fn viewer(self: &Arc<Self>, protocol: Protocol) -> ViewerGuard {
        ViewerGuard::new(self.clone(), protocol)
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
            stream: self.id.clone(),
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
        let v = |p| self.stats.viewers(p);
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
            viewers: Viewers {
                mjpeg: v(Protocol::Mjpeg),
                ws: v(Protocol::Ws),
                webrtc: v(Protocol::Webrtc),
                hls: v(Protocol::Hls),
            },
            last_frame_age_ms: self
                .stats
                .last_frame_at()
                .map(|t| now.saturating_duration_since(t).as_millis() as u64),
            latest_seq: self.latest().map(|f| f.seq),
        }
    }
}

/// Viewers per protocol.
#[derive(Debug, Clone, Serialize)]
pub struct Viewers {
    /// MJPEG connections.
    pub mjpeg: usize,
    /// WebSocket viewers.
    pub ws: usize,
    /// WebRTC sessions.
    pub webrtc: usize,
    /// Recent distinct HLS clients.
    pub hls: usize,
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
    /// Viewers per protocol.
    pub viewers: Viewers,
    /// Milliseconds since the last frame; `null` before any frame.
    pub last_frame_age_ms: Option<u64>,
    /// The seq of the latest frame.
    pub latest_seq: Option<u64>,
}
