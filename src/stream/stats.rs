//! Per-stream counters: frames in and dropped, frame rate, and viewers per
//! output kind (kinds are named by the outputs, not listed here).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use parking_lot::Mutex;
use serde::Serialize;

/// A kind of output viewers are counted under (`"mjpeg"`, `"webrtc"` …).
///
/// Each output defines its own kind as a constant and the server registers
/// it with the hub ([`super::Hub::register_output`]), so a new output needs
/// no change here; registered kinds show with 0 viewers in a stream's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct OutputKind(&'static str);

impl OutputKind {
    /// A kind named `name` (lower case, as shown in the API and metrics).
    pub const fn new(name: &'static str) -> Self {
        OutputKind(name)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        self.0
    }
}

/// Viewer counts by output kind, in the order the kinds were registered.
/// Serialises as a JSON object `{"mjpeg": 2, "ws": 0, …}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewerCounts(pub Vec<(OutputKind, usize)>);

impl ViewerCounts {
    /// The count for `kind` (0 when absent).
    pub fn get(&self, kind: &str) -> usize {
        self.0
            .iter()
            .find(|(k, _)| k.name() == kind)
            .map_or(0, |(_, n)| *n)
    }
}

impl Serialize for ViewerCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, n) in &self.0 {
            map.serialize_entry(k.name(), n)?;
        }
        map.end()
    }
}

/// Live counters of one stream. All updates are lock-free but the frame-rate window.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Frames published to viewers.
    pub frames_in: AtomicU64,
    /// Frames refused by `try_send` on a full queue, or dropped by a processor.
    pub frames_dropped: AtomicU64,
    /// JPEG encodes done for this stream (one per frame at most).
    pub jpeg_encodes: Arc<AtomicU64>,
    /// H.264 pictures encoded for this stream (one per encoded frame, shared by all viewers).
    pub h264_encodes: AtomicU64,
    /// JPEG bytes sent to viewers, all protocols.
    pub bytes_out: AtomicU64,
    /// Frames sent to WebSocket viewers by `tee` and `splice` from the frame's pipe
    /// (no copy of the JPEG into the socket).
    pub zero_copy_sends: AtomicU64,
    width: AtomicU32,
    height: AtomicU32,
    viewers: Mutex<Vec<(OutputKind, usize)>>,
    recent: Mutex<VecDeque<Instant>>,
}

const FPS_WINDOW: usize = 64;

impl StreamStats {
    /// Note a published frame of `width` x `height` at `now`.
    pub fn on_frame(&self, width: u32, height: u32, now: Instant) {
        self.frames_in.fetch_add(1, Relaxed);
        self.width.store(width, Relaxed);
        self.height.store(height, Relaxed);
        let mut r = self.recent.lock();
        if r.len() == FPS_WINDOW {
            r.pop_front();
        }
        r.push_back(now);
    }

    /// The last frame's size, (0, 0) before any frame.
    pub fn size(&self) -> (u32, u32) {
        (self.width.load(Relaxed), self.height.load(Relaxed))
    }

    /// Frames per second over the recent window (up to 10 s, so slow
    /// slideshows read right); 0 once the stream has stalled.
    pub fn fps(&self, now: Instant) -> f64 {
        let r = self.recent.lock();
        let horizon = now.checked_sub(Duration::from_secs(10));
        let recent: Vec<Instant> = r
            .iter()
            .copied()
            .filter(|t| horizon.is_none_or(|h| *t >= h))
            .collect();
        let (Some(first), Some(last)) = (recent.first(), recent.last()) else {
            return 0.0;
        };
        if recent.len() < 2 || last <= first {
            return 0.0;
        }
        let span = last.duration_since(*first).as_secs_f64();
        let mean_gap = span / (recent.len() - 1) as f64;
        let silent = now.saturating_duration_since(*last).as_secs_f64();
        if silent > (3.0 * mean_gap).max(2.0) {
            return 0.0;
        }
        (recent.len() - 1) as f64 / span
    }

    /// When the last frame was published.
    pub fn last_frame_at(&self) -> Option<Instant> {
        self.recent.lock().back().copied()
    }

    /// Viewers now watching over `kind`.
    pub fn viewers(&self, kind: OutputKind) -> usize {
        let v = self.viewers.lock();
        v.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n)
    }

    /// Viewer counts for `kinds` (in that order), then any other kind this
    /// stream has counted.
    pub fn viewer_counts(&self, kinds: &[OutputKind]) -> ViewerCounts {
        let mut out: Vec<(OutputKind, usize)> =
            kinds.iter().map(|&k| (k, self.viewers(k))).collect();
        for &(k, n) in self.viewers.lock().iter() {
            if !kinds.contains(&k) {
                out.push((k, n));
            }
        }
        ViewerCounts(out)
    }

    /// Set the viewer count of a kind whose viewers are not connections (HLS).
    pub fn set_viewers(&self, kind: OutputKind, n: usize) {
        self.update_viewers(kind, |_| n);
    }

    fn update_viewers(&self, kind: OutputKind, f: impl FnOnce(usize) -> usize) {
        let mut v = self.viewers.lock();
        match v.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n = f(*n),
            None => v.push((kind, f(0))),
        }
    }

    pub(crate) fn add_viewer(&self, kind: OutputKind) {
        self.update_viewers(kind, |n| n + 1);
    }

    pub(crate) fn remove_viewer(&self, kind: OutputKind) {
        self.update_viewers(kind, |n| n.saturating_sub(1));
    }
}

/// Counts a viewer for as long as it lives.
#[derive(Debug)]
pub struct ViewerGuard {
    stream: Arc<super::Stream>,
    kind: OutputKind,
}

impl ViewerGuard {
    pub(crate) fn new(stream: Arc<super::Stream>, kind: OutputKind) -> Self {
        stream.stats.add_viewer(kind);
        ViewerGuard { stream, kind }
    }
}

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        self.stream.stats.remove_viewer(self.kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_by_kind_in_registration_order() {
        let (a, b, c) = (
            OutputKind::new("a"),
            OutputKind::new("b"),
            OutputKind::new("c"),
        );
        let s = StreamStats::default();
        s.add_viewer(c);
        s.add_viewer(b);
        s.add_viewer(b);
        s.remove_viewer(c);
        s.remove_viewer(c);
        let counts = s.viewer_counts(&[a, b]);
        assert_eq!(counts.0, vec![(a, 0), (b, 2), (c, 0)]);
        assert_eq!(counts.get("b"), 2);
        assert_eq!(
            serde_json::to_string(&counts).unwrap(),
            r#"{"a":0,"b":2,"c":0}"#
        );
    }

    #[test]
    fn fps_from_window() {
        let s = StreamStats::default();
        let t0 = Instant::now();
        for i in 0..31 {
            s.on_frame(10, 10, t0 + Duration::from_millis(i * 33));
        }
        let fps = s.fps(t0 + Duration::from_millis(1000));
        assert!((fps - 30.3).abs() < 0.5, "{fps}");
        assert_eq!(s.fps(t0 + Duration::from_secs(10)), 0.0);
        let slow = StreamStats::default();
        for i in 0..4 {
            slow.on_frame(10, 10, t0 + Duration::from_secs(2 * i));
        }
        let fps = slow.fps(t0 + Duration::from_secs(7));
        assert!(
            (fps - 0.5).abs() < 0.01,
            "a 2 s slideshow is 0.5 fps: {fps}"
        );
    }
}
