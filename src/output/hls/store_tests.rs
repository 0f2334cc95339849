//! Store tests on tokio's paused clock: blocking waits wake as soon as the
//! awaited part exists and time out exactly when they should.

use std::time::Duration;

use tokio::sync::mpsc;

use super::*;
use crate::output::hls::segmenter::{Lookup, Reload};
use crate::stream::{Hub, HubConfig, StreamId, StreamOptions};

const SPS: &[u8] = &[0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0xda];
const PPS: &[u8] = &[0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80];

fn au(i: u64) -> Arc<AccessUnit> {
    let key = i % 60 == 0;
    let mut d = Vec::new();
    if key {
        d.extend_from_slice(SPS);
        d.extend_from_slice(PPS);
    }
    d.extend_from_slice(&[0, 0, 0, 1, if key { 0x65 } else { 0x41 }, 0x88, i as u8]);
    Arc::new(AccessUnit {
        data: d.into(),
        keyframe: key,
        pts: Duration::from_nanos(i * 1_000_000_000 / 30),
        seq: i,
        width: 64,
        height: 48,
        published_unix_us: 0,
    })
}

/// A stream (kept alive by the caller: the state holds it weakly) and its HLS state.
fn state() -> (Arc<Stream>, Arc<HlsStream>) {
    let hub = Hub::new(HubConfig::default());
    hub.create(StreamId::parse("s").unwrap(), StreamOptions::new("test"))
        .unwrap();
    let stream = hub.get(&StreamId::parse("s").unwrap()).unwrap();
    let hs = HlsStream::new(
        &stream,
        SegmenterConfig::default(),
        Timing {
            idle: Duration::from_secs(30),
            viewer_window: Duration::from_secs(10),
        },
    );
    (stream, Arc::new(hs))
}

fn part_ready(msn: u64, i: usize) -> impl FnMut(&Segmenter) -> Step<()> {
    move |s| match s.part(msn, i) {
        Lookup::Ready(_) => Step::Done(()),
        _ => Step::Wait,
    }
}

#[tokio::test(start_paused = true)]
async fn blocking_wait_returns_as_soon_as_the_part_exists() {
    let (_stream, hs) = state();
    for i in 0..3 {
        hs.push_at(&au(i), i);
    }
    let waiter = {
        let hs = hs.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            let r = hs.wait_for(Duration::from_secs(6), part_ready(0, 0)).await;
            (r, t0.elapsed())
        })
    };
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "part 0.0 needs six frames");
    tokio::time::advance(Duration::from_millis(500)).await;
    assert!(!waiter.is_finished());
    for i in 3..6 {
        hs.push_at(&au(i), i);
    }
    let (r, waited) = waiter.await.unwrap();
    assert_eq!(r, Some(()));
    assert_eq!(
        waited,
        Duration::from_millis(500),
        "woken by the push, not a poll"
    );
}

#[tokio::test(start_paused = true)]
async fn blocking_wait_times_out_at_its_deadline() {
    let (_stream, hs) = state();
    let t0 = Instant::now();
    let r = hs
        .wait_for(Duration::from_secs(6), |s| match s.reload(0, None) {
            Reload::Ready => Step::Done(()),
            _ => Step::Wait,
        })
        .await;
    assert_eq!(r, None);
    assert_eq!(t0.elapsed(), Duration::from_secs(6));
}

struct ChanFeed(
    mpsc::Receiver<Arc<AccessUnit>>,
    Arc<std::sync::atomic::AtomicUsize>,
);

impl AuFeed for ChanFeed {
    async fn next_au(&mut self) -> Option<Arc<AccessUnit>> {
        self.0.recv().await
    }
    fn request_keyframe(&mut self) {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[tokio::test(start_paused = true)]
async fn session_stops_after_the_quiet_period_and_counts_viewers() {
    let (stream, hs) = state();
    let (tx, rx) = mpsc::channel(1000);
    let asks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    assert!(hs.touch((None, 1)));
    assert!(!hs.touch((None, 2)), "already running");
    assert_eq!(stream.stats.viewers(crate::output::hls::KIND), 2);
    let task = tokio::spawn(
        hs.clone()
            .run(ChanFeed(rx, asks.clone()), CancellationToken::new()),
    );
    for i in 0..70 {
        tx.send(au(i)).await.unwrap();
    }
    let got = hs
        .wait_for(Duration::from_secs(1), |s| {
            if s.has_segment() {
                Step::Done(())
            } else {
                Step::Wait
            }
        })
        .await;
    assert_eq!(got, Some(()));
    // Viewers drop out of the count after their window; the session ends
    // after the idle period with no request.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(stream.stats.viewers(crate::output::hls::KIND), 0);
    assert!(hs.with(|s| s.has_segment()), "still running at 11 s");
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the task ends after 30 s idle")
        .unwrap();
    assert!(!hs.with(|s| s.has_segment()), "segments dropped");
    assert!(hs.touch((None, 1)), "the next request starts a new session");
}
