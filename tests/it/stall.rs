//! A stalled MJPEG viewer never slows anyone else, costs bounded memory, and
//! resumes on a current frame rather than a backlog.
//!
//! The test reads this process's resident memory, so it runs alone in a
//! child process: other tests in this binary would otherwise add theirs.

use std::time::{Duration, Instant};

use framecast::StreamId;
use framecast_testkit::mjpeg::MjpegClient;
use framecast_testkit::server::TestServer;

const STALL: Duration = Duration::from_secs(5);

fn rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_viewer_does_not_hurt_others_and_resumes_live() {
    let test = "stalled_viewer_does_not_hurt_others_and_resumes_live";
    if !framecast_testkit::solo::run_alone(module_path!(), test) {
        return;
    }
    let toml = "[[stream]]\nid = \"demo\"\nsource = \"pattern\"\n[stream.pattern]\nwidth = 1280\nheight = 720\nfps = 30\n";
    let srv = TestServer::start(toml).await;
    let stream = srv.hub.get(&StreamId::parse("demo").unwrap()).unwrap();

    let mut stalled = MjpegClient::connect(srv.addr, "/streams/demo/mjpeg", Some(64 * 1024)).await;
    let mut normal = MjpegClient::connect(srv.addr, "/streams/demo/mjpeg", None).await;
    stalled.next_part_within(Duration::from_secs(10)).await;
    normal.next_part_within(Duration::from_secs(10)).await;
    let frame_bytes = normal
        .next_part_within(Duration::from_secs(5))
        .await
        .body
        .len();

    // The stalled client reads nothing for STALL while the normal one reads on.
    let rss_before = rss_mib();
    let in_before = stream.status().frames_in;
    let start = Instant::now();
    let mut got = 0u64;
    let mut rss_peak = rss_before;
    while start.elapsed() < STALL {
        normal.next_part_within(Duration::from_secs(5)).await;
        got += 1;
        if got % 15 == 0 {
            rss_peak = rss_peak.max(rss_mib());
        }
    }
    let published = stream.status().frames_in - in_before;
    eprintln!("normal viewer got {got} of {published} frames; RSS {rss_before:.1} -> peak {rss_peak:.1} MiB");
    assert!(
        published >= 60,
        "the source kept going: {published} frames in {STALL:?}"
    );
    assert!(
        got * 10 >= published * 9,
        "normal viewer kept the frame rate: {got} of {published}"
    );
    assert!(
        rss_peak - rss_before < 40.0,
        "memory stays flat: {rss_before:.1} -> {rss_peak:.1} MiB"
    );

    // On resume, only what the kernel buffers held is old; then frames are live.
    let live_seq = stream.latest().unwrap().seq;
    let mut stale = 0usize;
    let resumed = Instant::now();
    loop {
        let part = stalled.next_part_within(Duration::from_secs(5)).await;
        if part.seq >= live_seq {
            break;
        }
        stale += 1;
    }
    let backlog = (published as usize).min(150);
    let buffered_max = (1 << 20) / frame_bytes.max(1) + 2; // socket buffers: ~1 MiB at most
    eprintln!("stalled viewer read {stale} buffered frames ({frame_bytes} B each) before a live one, in {:?}", resumed.elapsed());
    assert!(
        stale <= buffered_max,
        "no backlog: {stale} stale frames (buffers hold at most {buffered_max})"
    );
    assert!(
        stale < backlog / 4,
        "far fewer than the {backlog} frames published during the stall"
    );
    let next = stalled.next_part_within(Duration::from_secs(5)).await;
    let age_ms = (framecast::stream::unix_us().saturating_sub(next.time_us)) / 1000;
    assert!(
        age_ms < 1000,
        "the resumed viewer is live again (frame age {age_ms} ms)"
    );
}
