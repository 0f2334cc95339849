//! HLS over a real server: LL-HLS blocking reload and preload hints,
//! segment names, viewers and bad input. (ffprobe and ffmpeg reading the
//! output are in the e2e binary's `hls` module.)

use std::time::{Duration, Instant};

use framecast_testkit::hls::{get, media_sequence, preload_hint, pump, segments, tag, text};
use framecast_testkit::server::TestServer;

const PUSH: &str = "[[stream]]\nid = \"cam\"\nsource = \"push\"\n";

#[tokio::test]
async fn blocking_reload_and_the_preload_hinted_part_come_as_soon_as_the_part_exists() {
    let srv = TestServer::start(PUSH).await;
    let _pump = pump(&srv, "cam", 160, 120);
    let base = srv.at("/streams/cam/hls/");
    let pl = text(&format!("{base}index.m3u8")).await;
    assert!(pl.contains("#EXT-X-PART-INF:PART-TARGET=0.200"), "{pl}");
    assert!(pl.contains("CAN-BLOCK-RELOAD=YES"), "{pl}");
    let (msn, part) = preload_hint(&pl);
    // The hinted part: blocks until it exists (about one part, 200 ms).
    let t0 = Instant::now();
    let r = get(&format!("{base}part-{msn}.{part}.m4s")).await;
    let waited = t0.elapsed();
    if r.status() == 404 {
        // The segment ended at a keyframe instead: the next playlist says so.
        let pl = text(&format!("{base}index.m3u8?_HLS_msn={}", msn + 1)).await;
        assert!(pl.contains(&format!("seg-{msn}.m4s")), "{pl}");
    } else {
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "video/mp4");
        assert!(r.headers().contains_key("x-framecast-ready-us"));
        assert!(!r.bytes().await.unwrap().is_empty());
        assert!(waited < Duration::from_millis(1500), "{waited:?}");
        // The playlist that holds that part is there at once.
        let t0 = Instant::now();
        let pl = text(&format!("{base}index.m3u8?_HLS_msn={msn}&_HLS_part={part}")).await;
        assert!(t0.elapsed() < Duration::from_millis(500));
        assert!(
            pl.contains(&format!("URI=\"part-{msn}.{part}.m4s\"")),
            "{pl}"
        );
    }
    // Asking for the part after the hint blocks until that one exists.
    let pl = text(&format!("{base}index.m3u8")).await;
    let (m, p) = preload_hint(&pl);
    let t0 = Instant::now();
    let pl = text(&format!("{base}index.m3u8?_HLS_msn={m}&_HLS_part={p}")).await;
    let waited = t0.elapsed();
    let listed = pl.contains(&format!("URI=\"part-{m}.{p}.m4s\""));
    let moved_on = media_sequence(&pl) + segments(&pl).len() as u64 > m;
    assert!(listed || moved_on, "{pl}");
    assert!(waited < Duration::from_millis(1500), "{waited:?}");
    srv.stop().await;
}

async fn assert_error(url: &str, status: u16) {
    let r = get(url).await;
    assert_eq!(r.status(), status, "{url}");
    let body: serde_json::Value = r.json().await.expect("JSON error body");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{url}: {body}"
    );
    assert!(body["kind"].is_string(), "{url}: {body}");
}

#[tokio::test]
async fn bad_requests_get_clear_4xx_and_nothing_else_is_affected() {
    let srv = TestServer::start(&format!(
        "{PUSH}[hls]\nsegment_ms = 1000\npart_ms = 250\nwindow = 3\n[h264]\nkeyframe_interval_ms = 1000\n"
    ))
    .await;
    let _pump = pump(&srv, "cam", 160, 120);
    let base = srv.at("/streams/cam/hls/");
    assert_error(&srv.at("/streams/nope/hls/index.m3u8"), 404).await;
    assert_error(&srv.at("/streams/nope/hls/seg-0.m4s"), 404).await;
    assert_error(&srv.at("/streams/bad%20id/hls/index.m3u8"), 400).await;
    let t0 = Instant::now();
    for q in ["abc", "-1", "1.5", "99999999999999999999999", ""] {
        assert_error(&format!("{base}index.m3u8?_HLS_msn={q}"), 400).await;
    }
    assert_error(&format!("{base}index.m3u8?_HLS_part=1"), 400).await;
    assert_error(&format!("{base}index.m3u8?_HLS_msn=0&_HLS_part=x"), 400).await;
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "bad values fail fast"
    );
    let pl = text(&format!("{base}index.m3u8")).await;
    let (open, _) = preload_hint(&pl);
    // Far in the future, per RFC 8216bis: 400 at once, no waiting.
    let t0 = Instant::now();
    assert_error(&format!("{base}index.m3u8?_HLS_msn={}", open + 3), 400).await;
    assert_error(
        &format!("{base}index.m3u8?_HLS_msn={open}&_HLS_part=50"),
        400,
    )
    .await;
    assert!(t0.elapsed() < Duration::from_secs(1));
    for f in [
        "seg-999999.m4s",
        "seg-abc.m4s",
        "part-1.m4s",
        "part-999999.0.m4s",
        "init-99.mp4",
        "index.m3u",
        "x.ts",
    ] {
        assert_error(&format!("{base}{f}"), 404).await;
    }
    // Let the window slide past the first segment (3 listed + 2 kept).
    let first = media_sequence(&pl);
    let mut pl = pl;
    while media_sequence(&pl) < first + 4 {
        let next = media_sequence(&pl) + segments(&pl).len() as u64;
        pl = text(&format!("{base}index.m3u8?_HLS_msn={next}")).await;
    }
    assert_error(&format!("{base}seg-{first}.m4s"), 404).await;
    assert_error(&format!("{base}part-{first}.0.m4s"), 404).await;
    // Everything listed still plays.
    for (_, uri, init) in segments(&pl) {
        assert_eq!(get(&format!("{base}{uri}")).await.status(), 200, "{uri}");
        assert_eq!(get(&format!("{base}{init}")).await.status(), 200, "{init}");
    }
    assert_eq!(get(&srv.at("/api/streams/cam")).await.status(), 200);
    srv.stop().await;
}

/// Segments are cached as immutable, so their names must never come back
/// after a restart: numbering starts from the wall clock, and the `init.mp4`
/// alias (whatever init is current) is not cached at all.
#[tokio::test]
async fn segment_names_start_from_the_wall_clock() {
    let tenths = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64 / 100
    };
    let before = tenths(std::time::SystemTime::now());
    let srv = TestServer::start(PUSH).await;
    let _pump = pump(&srv, "cam", 160, 120);
    let base = srv.at("/streams/cam/hls/");
    let pl = text(&format!("{base}index.m3u8")).await;
    let msn = media_sequence(&pl);
    let after = tenths(std::time::SystemTime::now());
    assert!(
        (before..=after).contains(&msn),
        "{before} <= {msn} <= {after}"
    );
    let map = tag(&pl, "#EXT-X-MAP:URI=").unwrap().trim_matches('"');
    assert_eq!(map, format!("init-{msn}.mp4"), "{pl}");
    let r = get(&format!("{base}{map}")).await;
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let r = get(&format!("{base}init.mp4")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-cache");
    srv.stop().await;
}

#[tokio::test]
async fn before_any_video_the_playlist_is_a_503_with_retry_after() {
    let srv = TestServer::start(&format!("{PUSH}[hls]\nfirst_segment_wait_ms = 300\n")).await;
    let t0 = Instant::now();
    let r = get(&srv.at("/streams/cam/hls/index.m3u8")).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert!(t0.elapsed() >= Duration::from_millis(300), "waited first");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["kind"], "unavailable");
    srv.stop().await;
}

#[tokio::test]
async fn hls_viewers_are_recent_distinct_clients() {
    let srv = TestServer::start(PUSH).await;
    let _pump = pump(&srv, "cam", 160, 120);
    let url = srv.at("/streams/cam/hls/index.m3u8");
    for ua in ["player-a", "player-b", "player-a"] {
        let c = reqwest::Client::builder().user_agent(ua).build().unwrap();
        assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
    }
    let status: serde_json::Value = get(&srv.at("/api/streams/cam")).await.json().await.unwrap();
    assert_eq!(status["viewers"]["hls"], 2, "{status}");
    srv.stop().await;
}
