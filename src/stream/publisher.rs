//! The push API: a bounded queue in front of a stream.
//!
//! `send().await` waits for room (backpressure for async producers);
//! `try_send` hands the frame back at once when the queue is full (a
//! threaded producer drops instead of blocking). A pump task drains the
//! queue, runs the stream's processors and publishes to the bus.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use super::{Lease, Stream};
use crate::error::{Error, ErrorKind, Result};
use crate::media::Frame;

/// A frame waiting in a stream's queue.
pub(crate) struct Queued {
    pub frame: Frame,
    pub pts: Option<Duration>,
    pub metadata: Option<Value>,
}

/// Why `try_send` did not take a frame; the frame comes back.
#[derive(Debug)]
pub enum TrySendError {
    /// The queue is full; the frame was not queued.
    Full(Frame),
    /// The stream is shut down.
    Closed(Frame),
}

impl From<TrySendError> for Error {
    fn from(e: TrySendError) -> Self {
        match e {
            TrySendError::Full(_) => Error::new(ErrorKind::Full, "the stream's queue is full"),
            TrySendError::Closed(_) => Error::new(ErrorKind::Closed, "the stream is closed"),
        }
    }
}

/// Publishes frames and metadata into one stream. Cheap to clone.
///
/// A publisher made for an exclusive source holds the stream's [`Lease`]
/// until it and all its clones drop.
#[derive(Clone)]
pub struct Publisher {
    stream: Arc<Stream>,
    tx: mpsc::Sender<Queued>,
    _lease: Option<Arc<Lease>>,
}

impl Publisher {
    pub(crate) fn new(stream: Arc<Stream>, tx: mpsc::Sender<Queued>) -> Self {
        Publisher {
            stream,
            tx,
            _lease: None,
        }
    }

    pub(crate) fn with_lease(mut self, lease: Lease) -> Self {
        self._lease = Some(Arc::new(lease));
        self
    }

    /// The stream this publisher feeds.
    pub fn stream(&self) -> &Arc<Stream> {
        &self.stream
    }

    /// Queue a frame, waiting for room if the queue is full.
    pub async fn send(&self, frame: Frame) -> Result<()> {
        self.enqueue(frame, None, None).await
    }

    /// Queue a frame with a presentation time of your own (monotonic per stream).
    pub async fn send_at(&self, frame: Frame, pts: Duration) -> Result<()> {
        self.enqueue(frame, Some(pts), None).await
    }

    /// Queue a frame together with the metadata that belongs to it; viewers
    /// get the metadata stamped with this frame's seq/pts.
    pub async fn send_with_metadata(&self, frame: Frame, metadata: Value) -> Result<()> {
        self.enqueue(frame, None, Some(metadata)).await
    }

    async fn enqueue(
        &self,
        frame: Frame,
        pts: Option<Duration>,
        metadata: Option<Value>,
    ) -> Result<()> {
        let q = Queued {
            frame,
            pts,
            metadata,
        };
        self.tx
            .send(q)
            .await
            .map_err(|_| Error::new(ErrorKind::Closed, "the stream is closed"))
    }

    /// Queue a frame if there is room now; otherwise give it back at once.
    pub fn try_send(&self, frame: Frame) -> Result<(), TrySendError> {
        let q = Queued {
            frame,
            pts: None,
            metadata: None,
        };
        self.tx.try_send(q).map_err(|e| match e {
            mpsc::error::TrySendError::Full(q) => {
                self.stream
                    .stats
                    .frames_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                TrySendError::Full(q.frame)
            }
            mpsc::error::TrySendError::Closed(q) => TrySendError::Closed(q.frame),
        })
    }

    /// Send metadata for the most recently published frame (its seq/pts are stamped on).
    pub fn send_metadata(&self, data: Value) -> Result<()> {
        self.stream.send_metadata(None, data)
    }

    /// Send metadata for frame `seq` (a frame published earlier).
    pub fn send_metadata_for(&self, seq: u64, data: Value) -> Result<()> {
        self.stream.send_metadata(Some(seq), data)
    }

    /// Free places in the queue now.
    pub fn capacity(&self) -> usize {
        self.tx.capacity()
    }
}
