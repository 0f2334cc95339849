//! The pump: drains a stream's queue, runs processors, publishes to the bus.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::publisher::Queued;
use super::{Processor, PublishedFrame, Stream};
use crate::media::Frame;

type Processors = Vec<Box<dyn Processor>>;

/// Assigns strictly increasing seq and pts to a stream's frames.
struct Clock {
    seq: u64,
    epoch: Option<Instant>,
    last_pts: Option<Duration>,
}

impl Clock {
    fn stamp(&mut self, given: Option<Duration>, now: Instant) -> (u64, Duration) {
        self.seq += 1;
        let epoch = *self.epoch.get_or_insert(now);
        let pts = given.unwrap_or_else(|| now.duration_since(epoch));
        let pts = match self.last_pts {
            Some(last) if pts <= last => last + Duration::from_millis(1),
            _ => pts,
        };
        self.last_pts = Some(pts);
        (self.seq, pts)
    }
}

pub(crate) async fn run(
    stream: Arc<Stream>,
    mut rx: mpsc::Receiver<Queued>,
    mut processors: Processors,
    token: CancellationToken,
) {
    let mut clock = Clock {
        seq: 0,
        epoch: None,
        last_pts: None,
    };
    loop {
        let q = tokio::select! {
            _ = token.cancelled() => break,
            q = rx.recv() => match q { Some(q) => q, None => break },
        };
        let seq = clock.seq + 1;
        let (frame, meta) = if processors.is_empty() {
            (Some(q.frame), q.metadata)
        } else {
            let (back, out) = process(processors, q.frame, seq).await;
            processors = back;
            (out.0, merge(q.metadata, out.1))
        };
        let Some(frame) = frame else {
            stream
                .stats
                .frames_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            continue;
        };
        let (seq, pts) = clock.stamp(q.pts, Instant::now());
        let published = PublishedFrame::new(seq, pts, frame);
        stream.publish(Arc::new(published));
        if let Some(data) = meta {
            let _ = stream.emit_metadata(seq, pts.as_millis() as u64, data);
        }
    }
    tracing::debug!(stream = %stream.id(), "pump stopped");
}

/// Run every processor on one frame on a blocking thread; hand the processors back.
async fn process(
    mut processors: Processors,
    frame: Frame,
    seq: u64,
) -> (Processors, (Option<Frame>, Option<Value>)) {
    let joined = tokio::task::spawn_blocking(move || {
        let mut frame = Some(frame);
        let mut meta = None;
        for p in processors.iter_mut() {
            let Some(f) = frame.take() else { break };
            match p.process(f, seq) {
                Ok(out) => {
                    frame = out.frame;
                    meta = merge(meta, out.metadata);
                }
                Err(e) => tracing::warn!(processor = p.name(), seq, "frame dropped: {e}"),
            }
        }
        (processors, (frame, meta))
    })
    .await;
    match joined {
        Ok(r) => r,
        Err(e) => {
            // A processor panicked: the stream goes on without processors.
            tracing::error!("a processor panicked ({e}); processing is off for this stream");
            (Vec::new(), (None, None))
        }
    }
}

/// Merge two metadata values: objects key by key (later wins), otherwise later wins.
fn merge(a: Option<Value>, b: Option<Value>) -> Option<Value> {
    match (a, b) {
        (Some(Value::Object(mut a)), Some(Value::Object(b))) => {
            a.extend(b);
            Some(Value::Object(a))
        }
        (a, None) => a,
        (_, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pts_is_strictly_increasing() {
        let mut c = Clock {
            seq: 0,
            epoch: None,
            last_pts: None,
        };
        let t0 = Instant::now();
        assert_eq!(c.stamp(None, t0), (1, Duration::ZERO));
        assert_eq!(c.stamp(None, t0), (2, Duration::from_millis(1)));
        let (s, p) = c.stamp(None, t0 + Duration::from_millis(40));
        assert_eq!((s, p), (3, Duration::from_millis(40)));
        assert_eq!(
            c.stamp(Some(Duration::from_millis(10)), t0).1,
            Duration::from_millis(41)
        );
    }

    #[test]
    fn metadata_merges_objects() {
        let a = serde_json::json!({"a": 1, "b": 1});
        let b = serde_json::json!({"b": 2});
        assert_eq!(
            merge(Some(a), Some(b)),
            Some(serde_json::json!({"a": 1, "b": 2}))
        );
        assert_eq!(merge(None, Some(Value::Null)), Some(Value::Null));
    }
}
