//! HLS read by real tools over a real server: ffprobe on init + segments,
//! ffmpeg on the live playlist.

use std::path::Path;
use std::time::Duration;

use framecast_testkit::hls::{get, media_sequence, pump, segments, text};
use framecast_testkit::server::{have_tool, TestServer};

const PUSH: &str = "[[stream]]\nid = \"cam\"\nsource = \"push\"\n";

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
