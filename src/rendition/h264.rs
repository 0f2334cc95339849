//! The shared H.264 rendition: one encoder per stream, running only while
//! it has viewers (WebRTC, HLS), handing the same access units to all.
//!
//! The encoder takes the stream's newest frame each time it is free (latest
//! frame wins), encodes it on a blocking thread, and appends the access unit
//! to a bounded ring. Each [`H264Subscriber`] reads the ring at its own
//! pace: it starts at a keyframe, and if it falls behind by more than the
//! ring (or [`MAX_BEHIND`]) it jumps to a newer keyframe instead of queueing.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;

use parking_lot::Mutex;
use serde::Deserialize;
use tokio::sync::{watch, Notify};

use super::AuFeed;
use crate::codec::h264::{EncoderSettings, FrameRef, H264Encoder};
use crate::media::AccessUnit;
use crate::stream::{FrameSubscriber, Stream};

/// Access units kept for subscribers that are a little behind.
const RING: usize = 90;
/// A subscriber further behind than this many access units skips ahead.
pub const MAX_BEHIND: u64 = 45;
/// Forced keyframes (joins, PLI) are at most this frequent.
const MIN_FORCED_GAP: Duration = Duration::from_millis(100);
/// After a join, how long to wait for a fresh frame before re-encoding the latest.
const JOIN_WAIT: Duration = Duration::from_millis(150);

/// `[h264]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct H264Config {
    /// Target bitrate in bits per second.
    pub bitrate: u32,
    /// Keyframe interval in milliseconds.
    pub keyframe_interval_ms: u64,
    /// Highest frame rate encoded; faster input is thinned (0 = no limit).
    pub max_fps: f32,
}

impl Default for H264Config {
    fn default() -> Self {
        H264Config {
            bitrate: 2_500_000,
            keyframe_interval_ms: 2000,
            max_fps: 30.0,
        }
    }
}

impl H264Config {
    fn settings(&self) -> EncoderSettings {
        EncoderSettings {
            bitrate: self.bitrate,
            keyframe_interval: Duration::from_millis(self.keyframe_interval_ms.max(100)),
            max_fps: self.max_fps,
        }
    }
}

/// Makes and finds every stream's H.264 rendition, with one set of
/// encoder settings. Each rendition lives in its stream's derived values.
pub struct Renditions {
    settings: EncoderSettings,
}

impl Renditions {
    /// Renditions with the `[h264]` settings, made on demand per stream.
    pub fn new(config: &H264Config) -> Arc<Self> {
        Arc::new(Renditions {
            settings: config.settings(),
        })
    }

    /// The rendition of `stream` (created on first use; idle until subscribed).
    pub fn get(&self, stream: &Arc<Stream>) -> Arc<Rendition> {
        stream.derived(|| Rendition::new(stream, self.settings))
    }
}

struct Shared {
    subscribers: usize,
    running: bool,
    /// A viewer joined: an IDR on the next frame.
    join_keyframe: bool,
    /// A viewer lost pictures: an IDR soon (rate-limited).
    want_keyframe: bool,
    last_forced: Option<Instant>,
    ring: VecDeque<Arc<AccessUnit>>,
    /// Index of `ring[0]` in the rendition's sequence of access units.
    base: u64,
    closed: bool,
}

impl Shared {
    fn end(&self) -> u64 {
        self.base + self.ring.len() as u64
    }
}

/// One stream's H.264 encoder and the access units it made recently.
pub struct Rendition {
    stream: Weak<Stream>,
    settings: EncoderSettings,
    shared: Mutex<Shared>,
    /// Bumped (to the end index) on every new access unit and on close.
    tick: watch::Sender<u64>,
    idle: Notify,
    joined: Notify,
    encodes: AtomicU64,
}

impl Rendition {
    fn new(stream: &Arc<Stream>, settings: EncoderSettings) -> Self {
        Rendition {
            stream: Arc::downgrade(stream),
            settings,
            shared: Mutex::new(Shared {
                subscribers: 0,
                running: false,
                join_keyframe: false,
                want_keyframe: false,
                last_forced: None,
                ring: VecDeque::with_capacity(RING),
                base: 0,
                closed: false,
            }),
            tick: watch::channel(0).0,
            idle: Notify::new(),
            joined: Notify::new(),
            encodes: AtomicU64::new(0),
        }
    }

    /// Pictures encoded so far (one per encoded frame, whatever the viewers).
    pub fn encodes(&self) -> u64 {
        self.encodes.load(Relaxed)
    }

    /// Subscribers now.
    pub fn subscribers(&self) -> usize {
        self.shared.lock().subscribers
    }

    /// Follow the access units from the next keyframe on (one is requested).
    /// Starts the encoder if it was idle. Needs a tokio runtime.
    pub fn subscribe(self: &Arc<Self>) -> H264Subscriber {
        let mut s = self.shared.lock();
        s.subscribers += 1;
        s.join_keyframe = true;
        let start = s.end();
        if s.running {
            self.joined.notify_one();
        } else if let Some(stream) = self.stream.upgrade() {
            s.running = true;
            s.closed = false;
            // Drop what a previous run made; indices keep counting up.
            s.base = s.end();
            s.ring.clear();
            let frames = stream.subscribe();
            let me = self.clone();
            tokio::spawn(async move { me.run(frames).await });
        } else {
            s.closed = true;
        }
        drop(s);
        H264Subscriber {
            rendition: self.clone(),
            tick: self.tick.subscribe(),
            pos: start,
            synced: false,
        }
    }

    /// Ask for an IDR soon (coalesced with other requests).
    pub fn request_keyframe(&self) {
        self.shared.lock().want_keyframe = true;
    }

    fn unsubscribe(&self) {
        let mut s = self.shared.lock();
        s.subscribers = s.subscribers.saturating_sub(1);
        if s.subscribers == 0 {
            self.idle.notify_one();
        }
    }

    /// The encode loop: runs until the last subscriber leaves or the stream ends.
    async fn run(self: Arc<Self>, mut frames: FrameSubscriber) {
        let mut encoder = Some(H264Encoder::new(self.settings));
        let mut last_pts: Option<Duration> = None;
        loop {
            let next = tokio::select! {
                f = frames.next() => f.map(|f| (f, None)),
                _ = self.idle.notified() => {
                    if self.stop_if_idle() { return; }
                    continue;
                }
                _ = self.joined.notified() => {
                    // A viewer joined: a fresh frame makes its keyframe; on a still
                    // stream, re-encode the latest frame so it need not wait.
                    match tokio::time::timeout(JOIN_WAIT, frames.next()).await {
                        Ok(f) => f.map(|f| (f, None)),
                        Err(_) => frames.latest().map(|f| {
                            let pts = last_pts.map_or(f.pts, |p| p + MIN_FORCED_GAP).max(f.pts);
                            (f, Some(pts))
                        }),
                    }
                }
            };
            let Some((frame, pts)) = next else { break };
            if self.stop_if_idle() {
                return;
            }
            let pts = pts.unwrap_or(frame.pts);
            let keyframe = self.take_keyframe_request();
            let Some(mut enc) = encoder.take() else { break };
            let job = tokio::task::spawn_blocking(move || {
                if keyframe {
                    enc.request_keyframe();
                }
                let r = enc.encode(FrameRef {
                    frame: &frame.frame,
                    pts,
                    seq: frame.seq,
                    published_unix_us: frame.published_unix_us,
                });
                (enc, r)
            });
            let Ok((enc, result)) = job.await else { break };
            encoder = Some(enc);
            match result {
                Ok(Some(au)) => {
                    last_pts = Some(au.pts);
                    self.push(au)
                }
                Ok(None) => {
                    if keyframe {
                        self.request_keyframe();
                    }
                }
                Err(e) => tracing::debug!("H.264 rendition skipped a frame: {e}"),
            }
        }
        let mut s = self.shared.lock();
        s.running = false;
        s.closed = true;
        drop(s);
        self.tick.send_modify(|t| *t += 1);
    }

    fn stop_if_idle(&self) -> bool {
        let mut s = self.shared.lock();
        if s.subscribers == 0 {
            s.running = false;
            return true;
        }
        false
    }

    fn take_keyframe_request(&self) -> bool {
        let mut s = self.shared.lock();
        let now = Instant::now();
        let ready = s
            .last_forced
            .is_none_or(|t| now.duration_since(t) >= MIN_FORCED_GAP);
        if s.join_keyframe || (s.want_keyframe && ready) {
            s.join_keyframe = false;
            s.want_keyframe = false;
            s.last_forced = Some(now);
            return true;
        }
        false
    }

    fn push(&self, au: AccessUnit) {
        self.encodes.fetch_add(1, Relaxed);
        if let Some(stream) = self.stream.upgrade() {
            stream.stats.h264_encodes.fetch_add(1, Relaxed);
        }
        let mut s = self.shared.lock();
        if s.ring.len() >= RING {
            s.ring.pop_front();
            s.base += 1;
        }
        s.ring.push_back(Arc::new(au));
        let end = s.end();
        drop(s);
        self.tick.send_replace(end);
    }

    /// The next access unit for a reader at `pos`: `Ok(au)` and the new
    /// position, `Err(true)` when closed, `Err(false)` when it must wait.
    fn read(&self, pos: &mut u64, synced: &mut bool) -> Result<Arc<AccessUnit>, bool> {
        let s = self.shared.lock();
        let end = s.end();
        if *synced && (*pos < s.base || end.saturating_sub(*pos) > MAX_BEHIND) {
            *synced = false; // too far behind: skip ahead to a keyframe
        }
        if !*synced {
            // The first keyframe at or after `pos` that is not too old.
            let from = (*pos).max(s.base).max(end.saturating_sub(MAX_BEHIND));
            let skip = (from - s.base) as usize;
            match s.ring.iter().skip(skip).position(|au| au.keyframe) {
                Some(k) => {
                    *pos = from + k as u64;
                    *synced = true;
                }
                None => {
                    *pos = end;
                    return Err(s.closed);
                }
            }
        }
        match s.ring.get((*pos - s.base) as usize) {
            Some(au) => {
                *pos += 1;
                Ok(au.clone())
            }
            None => Err(s.closed),
        }
    }
}

/// One viewer's place in a rendition's access units.
pub struct H264Subscriber {
    rendition: Arc<Rendition>,
    tick: watch::Receiver<u64>,
    pos: u64,
    synced: bool,
}

impl H264Subscriber {
    /// The next access unit, in order; the first is always a keyframe, and
    /// after falling too far behind the next one is a keyframe again.
    /// `None` when the stream has ended.
    pub async fn next(&mut self) -> Option<Arc<AccessUnit>> {
        loop {
            self.tick.borrow_and_update();
            match self.rendition.read(&mut self.pos, &mut self.synced) {
                Ok(au) => return Some(au),
                Err(true) => return None,
                Err(false) => {
                    if self.tick.changed().await.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    /// Ask for a keyframe (the viewer lost pictures: PLI/FIR).
    pub fn request_keyframe(&self) {
        self.rendition.request_keyframe();
    }

    /// The rendition this subscriber follows.
    pub fn rendition(&self) -> &Arc<Rendition> {
        &self.rendition
    }
}

impl AuFeed for H264Subscriber {
    async fn next_au(&mut self) -> Option<Arc<AccessUnit>> {
        self.next().await
    }

    fn request_keyframe(&mut self) {
        H264Subscriber::request_keyframe(self);
    }
}

impl Drop for H264Subscriber {
    fn drop(&mut self) {
        self.rendition.unsubscribe();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::Frame;
    use crate::stream::{Hub, HubConfig, StreamId, StreamOptions};

    fn hub() -> Arc<Hub> {
        Hub::new(HubConfig {
            queue: 4,
            jpeg_quality: 80,
        })
    }

    async fn next(sub: &mut H264Subscriber) -> Arc<AccessUnit> {
        tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("an access unit in time")
            .expect("stream still open")
    }

    #[tokio::test]
    async fn joiners_start_on_a_keyframe_and_share_one_encoder() {
        let hub = hub();
        let publisher = hub
            .create(StreamId::parse("a").unwrap(), StreamOptions::new("push"))
            .unwrap();
        let r = Renditions::new(&H264Config::default()).get(publisher.stream());
        let mut first = r.subscribe();
        let color = |i: u64| [(i * 7 % 255) as u8, 100, 50];
        for i in 0..5 {
            let f = Frame::solid(64, 48, color(i)).unwrap();
            publisher
                .send_at(f, Duration::from_millis(i * 40))
                .await
                .unwrap();
            let au = next(&mut first).await;
            assert_eq!(au.keyframe, i == 0, "frame {i}");
        }
        // Two join at once: one keyframe serves both, and both start on it.
        let mut a = r.subscribe();
        let mut b = r.subscribe();
        let f = Frame::solid(64, 48, color(9)).unwrap();
        publisher
            .send_at(f, Duration::from_millis(400))
            .await
            .unwrap();
        let (ka, kb) = (next(&mut a).await, next(&mut b).await);
        assert!(ka.keyframe && Arc::ptr_eq(&ka, &kb));
        assert!(next(&mut first).await.keyframe);
        assert_eq!(r.encodes(), 6, "one encode per frame, whatever the viewers");
    }

    #[tokio::test]
    async fn a_lagging_subscriber_skips_to_a_keyframe() {
        let hub = hub();
        let publisher = hub
            .create(StreamId::parse("b").unwrap(), StreamOptions::new("push"))
            .unwrap();
        let cfg = H264Config {
            keyframe_interval_ms: 1000,
            ..Default::default()
        };
        let r = Renditions::new(&cfg).get(publisher.stream());
        let mut fast = r.subscribe();
        let mut slow = r.subscribe();
        let mut last_seq = 0;
        // 100 frames of 40 ms: keyframes at 0, 1 s, 2 s, 3 s. The slow one reads nothing.
        for i in 0..100u64 {
            let f = Frame::solid(64, 48, [i as u8, 0, 0]).unwrap();
            publisher
                .send_at(f, Duration::from_millis(i * 40))
                .await
                .unwrap();
            last_seq = next(&mut fast).await.seq;
        }
        assert_eq!(last_seq, 100);
        let au = next(&mut slow).await;
        assert!(au.keyframe, "a lagging reader resumes at a keyframe");
        assert!(
            au.seq > 50,
            "…a recent one, not the oldest (seq {})",
            au.seq
        );
        drop(fast);
        drop(slow);
        // The encoder stops when the last subscriber leaves.
        let stopped = async {
            while r.shared.lock().running {
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), stopped)
            .await
            .expect("encoder stops without subscribers");
    }

    #[tokio::test]
    async fn a_viewer_joining_a_still_stream_and_a_restart_get_keyframes() {
        let hub = hub();
        let publisher = hub
            .create(StreamId::parse("c").unwrap(), StreamOptions::new("push"))
            .unwrap();
        let r = Renditions::new(&H264Config::default()).get(publisher.stream());
        let mut a = r.subscribe();
        let f = Frame::solid(64, 48, [9, 9, 9]).unwrap();
        publisher.send_at(f, Duration::ZERO).await.unwrap();
        let first = next(&mut a).await;
        assert!(first.keyframe);
        // No new frame comes: the joiner still gets a keyframe, with a later pts.
        let mut b = r.subscribe();
        let kb = next(&mut b).await;
        assert!(
            kb.keyframe && kb.pts > first.pts,
            "{:?} after {:?}",
            kb.pts,
            first.pts
        );
        drop((a, b));
        let stopped = async {
            while r.shared.lock().running {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), stopped)
            .await
            .unwrap();
        // Restart: the new run's first picture is a keyframe for the new viewer.
        let mut c = r.subscribe();
        let f = Frame::solid(64, 48, [9, 9, 9]).unwrap();
        publisher.send_at(f, Duration::from_secs(1)).await.unwrap();
        assert!(next(&mut c).await.keyframe);
    }
}
