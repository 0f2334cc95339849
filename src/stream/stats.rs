//! Per-stream counters: frames in and dropped, frame rate, viewers per protocol.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;

/// The ways a viewer can watch a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// multipart/x-mixed-replace JPEG.
    Mjpeg,
    /// WebSocket, binary JPEG frames.
    Ws,
    /// WebRTC over WHEP.
    Webrtc,
    /// HLS (recent distinct clients).
    Hls,
}

impl Protocol {
    /// Every protocol, in display order.
    pub const ALL: [Protocol; 4] = [
        Protocol::Mjpeg,
        Protocol::Ws,
        Protocol::Webrtc,
        Protocol::Hls,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Mjpeg => "mjpeg",
            Protocol::Ws => "ws",
            Protocol::Webrtc => "webrtc",
            Protocol::Hls => "hls",
        }
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
    viewers: [AtomicUsize; 4],
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

    /// Viewers now watching over `p`.
    pub fn viewers(&self, p: Protocol) -> usize {
        self.viewers[p as usize].load(Relaxed)
    }

    /// Set the viewer count of a protocol whose viewers are not connections (HLS).
    pub fn set_viewers(&self, p: Protocol, n: usize) {
        self.viewers[p as usize].store(n, Relaxed);
    }

    pub(crate) fn add_viewer(&self, p: Protocol) {
        self.viewers[p as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn remove_viewer(&self, p: Protocol) {
        self.viewers[p as usize].fetch_sub(1, Relaxed);
    }
}

/// Counts a viewer for as long as it lives.
#[derive(Debug)]
pub struct ViewerGuard {
    stats: Arc<super::Stream>,
    protocol: Protocol,
}

impl ViewerGuard {
    pub(crate) fn new(stream: Arc<super::Stream>, protocol: Protocol) -> Self {
        stream.stats.add_viewer(protocol);
        ViewerGuard {
            stats: stream,
            protocol,
        }
    }
}

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        self.stats.stats.remove_viewer(self.protocol);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
