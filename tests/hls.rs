//! HLS over a real server: ffprobe on init + segments, ffmpeg on the live
//! playlist, LL-HLS blocking reload and preload hints, viewers, bad input.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::server::{have_tool, TestServer};
use framecast::{Frame, StreamId};
use tokio::task::JoinHandle;

const PUSH: &str = "[[stream]]\nid = \"cam\"\nsource = \"push\"\n";

/// Push solid frames of changing colour at 30 fps into `id` (created if needed).
fn pump(srv: &TestServer, id: &str, w: u32, h: u32) -> JoinHandle<()> {
    let p = srv
        .hub
        .publisher_or_create(&StreamId::parse(id).unwrap(), "push")
        .unwrap();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / 30));
        for n in 0u64.. {
            tick.tick().await;
            let c = (n * 5 % 250) as u8;
            let f = Frame::solid(w, h, [c, 255 - c, (n % 7 * 30) as u8]).unwrap();
            // Frame n at n/30 s, so a sample's pts names the frame.
            if p.send_at(f, Duration::from_nanos(n * 1_000_000_000 / 30))
                .await
                .is_err()
            {
                return;
            }
        }
    })
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("request")
}

async fn text(url: &str) -> String {
    let r = get(url).await;
    assert_eq!(r.status(), 200, "{url}");
    r.text().await.unwrap()
}

/// (EXTINF seconds, uri, init uri) of each complete segment.
fn segments(playlist: &str) -> Vec<(f64, String, String)> {
    let mut out = Vec::new();
    let (mut init, mut dur) = (String::new(), None);
    for line in playlist.lines() {
        if let Some(m) = line.strip_prefix("#EXT-X-MAP:URI=\"") {
            init = m.trim_end_matches('"').to_string();
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            dur = d.trim_end_matches(',').parse().ok();
        } else if !line.starts_with('#') && !line.is_empty() {
            out.push((
                dur.take().expect("EXTINF before uri"),
                line.to_string(),
                init.clone(),
            ));
        }
    }
    out
}

fn tag<'a>(playlist: &'a str, name: &str) -> Option<&'a str> {
    playlist.lines().find_map(|l| l.strip_prefix(name))
}

fn preload_hint(playlist: &str) -> (u64, usize) {
    let uri = tag(playlist, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-").expect("a preload hint");
    let (m, i) = uri.trim_end_matches(".m4s\"").split_once('.').unwrap();
    (m.parse().unwrap(), i.parse().unwrap())
}

fn media_sequence(playlist: &str) -> u64 {
    tag(playlist, "#EXT-X-MEDIA-SEQUENCE:")
        .unwrap()
        .parse()
        .unwrap()
}

/// (codec, width, height, frames, packet pts, seconds from first pts to last end).
fn ffprobe(path: &Path) -> (String, u32, u32, u32, Vec<f64>, f64) {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
        ])
        .args([
            "-show_entries",
            "packet=pts_time,duration_time",
            "-of",
            "default=nw=1",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "ffprobe: {err}"
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let one = |k: &str| {
        let p = format!("{k}=");
        text.lines()
            .find_map(|l| l.strip_prefix(p.as_str()))
            .unwrap_or_default()
            .to_string()
    };
    let all = |k: &str| -> Vec<f64> {
        let p = format!("{k}=");
        text.lines()
            .filter_map(|l| l.strip_prefix(p.as_str()))
            .filter_map(|v| v.parse().ok())
            .collect()
    };
    let (pts, dur) = (all("pts_time"), all("duration_time"));
    (
        one("codec_name"),
        one("width").parse().unwrap_or(0),
        one("height").parse().unwrap_or(0),
        one("nb_read_frames").parse().unwrap_or(0),
        pts.clone(),
        pts.last().unwrap_or(&0.0) - pts.first().unwrap_or(&0.0) + dur.last().unwrap_or(&0.0),
    )
}

#[tokio::test]
async fn segments_probe_as_h264_of_the_stream_size_with_the_pushed_frames() {
    if !have_tool("ffprobe") {
        return;
    }
    let srv = TestServer::start(PUSH).await;
    let _pump = pump(&srv, "cam", 320, 240);
    let base = srv.at("/streams/cam/hls/");
    let r = get(&format!("{base}index.m3u8")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/vnd.apple.mpegurl");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let first = r.text().await.unwrap();
    let last = media_sequence(&first) + segments(&first).len() as u64 - 1;
    // Blocking reload: wait for two more complete segments.
    let pl = text(&format!("{base}index.m3u8?_HLS_msn={}", last + 2)).await;
    let segs = segments(&pl);
    assert!(segs.len() >= 3, "{pl}");
    let dir = tempfile::tempdir().unwrap();
    let mut prev: Option<(f64, f64)> = None;
    for (extinf, uri, init) in &segs {
        let r = get(&format!("{base}{uri}")).await;
        assert_eq!(r.status(), 200, "{uri}");
        assert_eq!(r.headers()["content-type"], "video/mp4");
        assert!(r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age="));
        let seg = r.bytes().await.unwrap();
        let mut file = get(&format!("{base}{init}"))
            .await
            .bytes()
            .await
            .unwrap()
            .to_vec();
        file.extend_from_slice(&seg);
        let path = dir.path().join(format!("{uri}.mp4"));
        std::fs::write(&path, file).unwrap();
        let (codec, w, h, frames, pts, secs) = ffprobe(&path);
        let start = pts.first().copied().unwrap_or(0.0);
        let numbers: Vec<u64> = pts.iter().map(|p| (p * 30.0).round() as u64).collect();
        // The samples are the pushed frames of the segment's time span, in
        // order: frame k at k/30 s, from the first one to EXTINF's end.
        let span_end = ((start + extinf) * 30.0).round() as u64;
        assert!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "{uri}: {numbers:?}"
        );
        assert_eq!(
            numbers.last().map(|n| n + 1),
            Some(span_end),
            "{uri}: {numbers:?}"
        );
        assert_eq!(frames as usize, numbers.len());
        assert_eq!((codec.as_str(), w, h), ("h264", 320, 240), "{uri}");
        // ffprobe guesses the last packet's duration: allow one frame.
        assert!(
            (secs - extinf).abs() < 0.034,
            "{uri}: ffprobe {secs} s, EXTINF {extinf}"
        );
        // Exact: each segment starts where the previous one's EXTINF ends.
        if let Some((p_start, p_len)) = prev {
            assert!(
                (start - (p_start + p_len)).abs() < 0.001,
                "{uri} starts at {start}"
            );
        }
        prev = Some((start, *extinf));
        // Latest frame wins: the encoder may skip frames when the machine
        // is busy, but most are there, and never more than were pushed.
        let expect = extinf * 30.0;
        assert!(
            frames as f64 >= expect * 0.66 && frames as f64 <= expect + 0.5,
            "{uri}: {frames} frames in {extinf} s: {numbers:?}"
        );
        assert!((1.0..=2.6).contains(extinf), "{uri}: {extinf} s");
    }
    srv.stop().await;
}

#[tokio::test]
async fn ffmpeg_reads_the_live_playlist_without_errors() {
    if !have_tool("ffmpeg") {
        return;
    }
    let srv = TestServer::start(
        "[[stream]]\nid = \"p\"\nsource = \"pattern\"\n[stream.pattern]\nwidth = 320\nheight = 240\nfps = 30\n",
    )
    .await;
    let url = srv.at("/streams/p/hls/index.m3u8");
    let out = tokio::process::Command::new("ffmpeg")
        .args([
            "-nostdin", "-v", "warning", "-i", &url, "-t", "6", "-f", "null", "-",
        ])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("ffmpeg finishes")
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg failed: {err}");
    assert!(
        !err.to_lowercase().contains("error"),
        "ffmpeg reported: {err}"
    );
    srv.stop().await;
}

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
