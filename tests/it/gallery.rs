//! The photo-folder source, end to end at library level: real files in a
//! temporary folder, a real hub and stream, frames checked by their pixels.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use framecast::codec::jpeg;
use framecast::source::gallery::{self, GalleryConfig};
use framecast::stream::{FrameSubscriber, Hub, HubConfig, PublishedFrame, StreamOptions};
use framecast::{Frame, FrameData, StreamId};
use tokio_util::sync::CancellationToken;

const W: u32 = 320;
const H: u32 = 180;
const RED: [u8; 3] = [230, 20, 20];
const GREEN: [u8; 3] = [20, 200, 20];
const BLUE: [u8; 3] = [20, 20, 230];
const YELLOW: [u8; 3] = [240, 230, 20];
const MAGENTA: [u8; 3] = [230, 20, 230];
const CYAN: [u8; 3] = [20, 220, 230];
const WHITE: [u8; 3] = [250, 250, 250];
const BLACK: [u8; 3] = [0, 0, 0];

// ---------- building image files ----------

fn jpeg_of(frame: &Frame) -> Bytes {
    jpeg::encode(frame, 95).unwrap()
}

fn jpeg_solid(w: u32, h: u32, rgb: [u8; 3]) -> Bytes {
    jpeg_of(&Frame::solid(w, h, rgb).unwrap())
}

fn png_palette(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Indexed);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_palette(vec![0, 0, 0, rgb[0], rgb[1], rgb[2]]);
    let mut wr = enc.write_header().unwrap();
    wr.write_image_data(&vec![1; (w * h) as usize]).unwrap();
    wr.finish().unwrap();
    out
}

fn png_rgb(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut wr = enc.write_header().unwrap();
    let data: Vec<u8> = rgb
        .iter()
        .copied()
        .cycle()
        .take((w * h * 3) as usize)
        .collect();
    wr.write_image_data(&data).unwrap();
    wr.finish().unwrap();
    out
}

/// Insert an EXIF APP1 segment with only an orientation, right after SOI:
/// "Exif\0\0", a little-endian TIFF header (IFD at offset 8), one IFD entry
/// (tag 0x0112, type SHORT, count 1, value `orientation`).
fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut app1 = b"Exif\0\0II*\0\x08\0\0\0".to_vec();
    app1.extend(1u16.to_le_bytes());
    app1.extend(0x0112u16.to_le_bytes());
    app1.extend(3u16.to_le_bytes());
    app1.extend(1u32.to_le_bytes());
    app1.extend(orientation.to_le_bytes());
    app1.extend([0u8; 6]); // value padding, then "no next IFD"
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

/// A 128x64 landscape photo, blue with a red 32x32 marker in its stored
/// top-left corner, tagged "rotate 90° clockwise to view" (orientation 6).
/// Upright it is 64x128 with the marker top-right.
fn exif_rotated_photo() -> Vec<u8> {
    let (w, h) = (128usize, 64usize);
    let mut px = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            px.extend(if x < 32 && y < 32 { RED } else { BLUE });
        }
    }
    let frame = Frame::raw(w as u32, h as u32, framecast::PixelFormat::Rgb24, px).unwrap();
    with_orientation(&jpeg_of(&frame), 6)
}

/// Valid JPEG headers (everything before the scan), then garbage, then EOI.
fn corrupt_jpeg() -> Vec<u8> {
    let good = jpeg_solid(64, 64, WHITE);
    let sos = good.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let mut out = good[..sos].to_vec();
    out.extend((0..3000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    out.extend([0xFF, 0xD9]);
    out
}

fn write(dir: &Path, name: &str, data: &[u8]) {
    std::fs::write(dir.join(name), data).unwrap();
}

/// Write via a hidden temporary name and rename, as a careful copier would.
fn write_atomic(dir: &Path, name: &str, data: &[u8]) {
    let tmp = dir.join(format!(".{name}.part"));
    std::fs::write(&tmp, data).unwrap();
    std::fs::rename(tmp, dir.join(name)).unwrap();
}

// ---------- running a gallery ----------

struct Running {
    _hub: Arc<Hub>,
    stream: Arc<framecast::stream::Stream>,
    sub: FrameSubscriber,
    token: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn config(dir: &Path) -> GalleryConfig {
    GalleryConfig {
        interval: Duration::from_millis(50),
        rescan: Duration::from_millis(100),
        width: W,
        height: H,
        ..GalleryConfig::new(dir)
    }
}

fn start(cfg: GalleryConfig) -> Running {
    let hub = Hub::new(HubConfig::default());
    let id = StreamId::parse("gallery").unwrap();
    let publisher = hub.create(id, StreamOptions::new("gallery")).unwrap();
    let stream = publisher.stream().clone();
    let sub = stream.subscribe();
    let token = CancellationToken::new();
    let task = tokio::spawn(gallery::run(publisher, cfg, token.clone()));
    Running {
        _hub: hub,
        stream,
        sub,
        token,
        task,
    }
}

impl Running {
    async fn next(&mut self) -> Arc<PublishedFrame> {
        tokio::time::timeout(Duration::from_secs(10), self.sub.next())
            .await
            .expect("no frame for 10 s: the stream stalled")
            .expect("stream closed")
    }

    /// Frames until one is `label`, within `limit`.
    async fn until(&mut self, label: &str, limit: Duration) -> Arc<PublishedFrame> {
        let deadline = Instant::now() + limit;
        loop {
            assert!(
                Instant::now() < deadline,
                "no {label} frame within {limit:?}"
            );
            let f = self.next().await;
            if classify(&f.frame) == label {
                return f;
            }
        }
    }

    async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("gallery did not stop when cancelled")
            .unwrap();
    }
}

// ---------- looking at frames ----------

fn rgb_at(rgb: &[u8], x: u32, y: u32) -> [u8; 3] {
    let i = ((y * W + x) * 3) as usize;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter()
        .zip(b)
        .all(|(&x, y)| (x as i32 - y as i32).abs() <= 40)
}

/// Name a frame by its pixels: which test picture it is, checking the
/// letterbox bars and orientation as it goes; anything else is "other".
fn classify(frame: &Frame) -> String {
    assert_eq!((frame.width(), frame.height()), (W, H), "frame size");
    let rgb = framecast::codec::image::rgb24(frame).expect("frame decodes");
    let px = |x, y| rgb_at(&rgb, x, y);
    let centre = px(W / 2, H / 2);
    for (name, colour) in [
        ("red", RED),
        ("green", GREEN),
        ("magenta", MAGENTA),
        ("cyan", CYAN),
        ("white", WHITE),
    ] {
        if near(centre, colour) {
            return name.into();
        }
    }
    // 6000x4000 letterboxed: 270x180 at x = 25, bars left and right.
    if near(centre, YELLOW) && near(px(10, 90), BLACK) && near(px(35, 90), YELLOW) {
        return "huge".into();
    }
    // Upright 64x128 scaled to 90x180 at x = 115; marker at x 160..205, y 0..45.
    if near(centre, BLUE) {
        let marker_top_right = near(px(190, 15), RED);
        let blue_elsewhere = [(125, 15), (125, 170), (195, 170)]
            .iter()
            .all(|&(x, y)| near(px(x, y), BLUE));
        let bars = near(px(100, 90), BLACK) && near(px(220, 90), BLACK);
        if marker_top_right && blue_elsewhere && bars {
            return "exif".into();
        }
        return format!("blue with the marker in the wrong place {:?}", px(190, 15));
    }
    format!("other {centre:?}")
}

/// True when the frame is the JPEG file itself, byte for byte.
fn passed_through(frame: &Frame, file: &Bytes) -> bool {
    matches!(frame.data(), FrameData::Jpeg(b) if b == file)
}

/// Count WARN lines naming each file, from a capturing tracing subscriber.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn warnings_about(&self, file: &str) -> usize {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        text.lines()
            .filter(|l| l.contains("WARN") && l.contains(file))
            .count()
    }
}

// ---------- tests ----------

#[tokio::test]
async fn plays_good_files_in_order_and_skips_bad_ones_once() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // current-thread runtime: the gallery's async code logs on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let exact = jpeg_solid(W, H, CYAN);
    write(d, "01_red.jpg", &jpeg_solid(400, 300, RED));
    write(d, "02_corrupt.jpg", &corrupt_jpeg());
    write(d, "03_green.png", &png_rgb(200, 200, GREEN));
    let cut = jpeg_solid(200, 100, WHITE);
    write(d, "04_truncated.jpg", &cut[..cut.len() / 2]);
    write(d, "05_empty.jpg", b"");
    write(
        d,
        "06_notes.txt",
        b"these are not the pictures you are looking for\n",
    );
    write(d, "07_huge.jpg", &jpeg_solid(6000, 4000, YELLOW));
    write(d, "08_exif.jpg", &exif_rotated_photo());
    write(d, "09_palette.png", &png_palette(100, 300, MAGENTA));
    write(d, "10_exact.jpg", &exact);
    let order = ["red", "green", "huge", "exif", "magenta", "cyan"];

    let mut run = start(config(d));
    let first = run.until("red", Duration::from_secs(20)).await;
    let (mut seq, mut at) = (first.seq, first.published_unix_us);
    let (mut pos, mut slowest_first, mut slowest_cached) = (0usize, 0u64, 0u64);
    for i in 0..(3 * order.len()) {
        let f = run.next().await;
        let label = classify(&f.frame);
        pos = (pos + (f.seq - seq) as usize) % order.len();
        assert_eq!(label, order[pos], "frame {i} (seq {}) out of order", f.seq);
        if label == "cyan" {
            assert!(passed_through(&f.frame, &exact), "not passed through");
        }
        let gap = f.published_unix_us - at;
        assert!(gap < 3_000_000, "stalled {gap} µs before {label}");
        if i >= order.len() {
            slowest_cached = slowest_cached.max(gap);
        } else {
            slowest_first = slowest_first.max(gap);
        }
        (seq, at) = (f.seq, f.published_unix_us);
    }
    eprintln!(
        "slowest gap, first loop (decoding): {} ms",
        slowest_first / 1000
    );
    eprintln!(
        "slowest gap once cached: {} ms (interval 50 ms)",
        slowest_cached / 1000
    );
    assert!(
        slowest_cached < 500_000,
        "cached loop is not steady: {slowest_cached} µs"
    );
    for bad in ["02_corrupt", "04_truncated", "05_empty", "06_notes"] {
        assert_eq!(
            logs.warnings_about(bad),
            1,
            "{bad} should be logged exactly once"
        );
    }
    for good in ["01_red", "07_huge", "08_exif", "10_exact"] {
        assert_eq!(logs.warnings_about(good), 0, "{good} logged as bad");
    }
    run.stop().await;
}

#[tokio::test]
async fn files_added_and_removed_while_running_are_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "a_red.jpg", &jpeg_solid(64, 64, RED));
    write(d, "c_green.jpg", &jpeg_solid(64, 64, GREEN));
    let mut run = start(config(d));
    run.until("red", Duration::from_secs(10)).await;

    write_atomic(d, "b_magenta.png", &png_rgb(50, 80, MAGENTA));
    run.until("magenta", Duration::from_secs(10)).await;

    std::fs::remove_file(d.join("c_green.jpg")).unwrap();
    // Soon green is gone for good: a run of frames with no green in it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut clean = 0;
    while clean < 8 {
        assert!(Instant::now() < deadline, "removed file still playing");
        let label = classify(&run.next().await.frame);
        clean = if label == "green" { 0 } else { clean + 1 };
        assert!(
            label == "red" || label == "magenta" || label == "green",
            "{label}"
        );
    }
    run.stop().await;
}

#[tokio::test]
async fn cached_frames_are_not_read_again_until_the_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let red = jpeg_solid(64, 64, RED);
    write(d, "a_red.jpg", &red);
    write(d, "b_green.jpg", &jpeg_solid(64, 64, GREEN));
    let mut run = start(config(d));
    run.until("red", Duration::from_secs(10)).await;

    // Same size, same mtime, garbage inside: the cached frame keeps playing,
    // which shows the file is not read again each loop.
    let path = d.join("a_red.jpg");
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(&path, vec![b'x'; red.len()]).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    for _ in 0..2 {
        run.until("green", Duration::from_secs(10)).await;
        run.until("red", Duration::from_secs(10)).await;
    }

    // A new mtime makes it a new file version: read again, found bad, skipped.
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(mtime + Duration::from_secs(5)).unwrap();
    drop(f);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut greens = 0;
    while greens < 4 {
        assert!(
            Instant::now() < deadline,
            "changed file still served from the cache"
        );
        match classify(&run.next().await.frame).as_str() {
            "green" => greens += 1,
            "red" => greens = 0,
            other => panic!("unexpected frame {other}"),
        }
    }
    run.stop().await;
}

#[tokio::test]
async fn without_loop_the_last_picture_stays_and_new_ones_still_show() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "a_red.jpg", &jpeg_solid(64, 64, RED));
    write(d, "b_green.jpg", &jpeg_solid(64, 64, GREEN));
    let cfg = GalleryConfig {
        loop_: false,
        ..config(d)
    };
    let mut run = start(cfg);
    run.until("red", Duration::from_secs(10)).await;
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(classify(&run.next().await.frame));
    }
    assert_eq!(seen, ["green"; 6], "should hold the last picture, not loop");
    write_atomic(d, "c_magenta.jpg", &jpeg_solid(64, 64, MAGENTA));
    run.until("magenta", Duration::from_secs(10)).await;
    for _ in 0..4 {
        assert_eq!(classify(&run.next().await.frame), "magenta");
    }
    run.stop().await;
}

/// Placeholder frames: the output size, a dark card with light text.
async fn expect_placeholders(run: &mut Running, n: usize) {
    let mut last = 0;
    for _ in 0..n {
        let f = run.next().await;
        assert!(f.seq > last);
        last = f.seq;
        assert_eq!((f.frame.width(), f.frame.height()), (W, H));
        let rgb = framecast::codec::image::rgb24(&f.frame).unwrap();
        let px: Vec<&[u8]> = rgb.chunks_exact(3).collect();
        let dark = px.iter().filter(|p| p.iter().all(|&c| c < 60)).count();
        let light = px.iter().filter(|p| p.iter().all(|&c| c > 180)).count();
        assert!(dark > px.len() / 2, "placeholder should be mostly dark");
        assert!(
            light > 200,
            "placeholder should show text ({light} light pixels)"
        );
    }
}

#[tokio::test]
async fn empty_folder_shows_placeholder_frames() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = start(config(dir.path()));
    expect_placeholders(&mut run, 5).await;
    // A folder of only bad files is no different.
    write(dir.path(), "junk.jpg", b"not a jpeg");
    expect_placeholders(&mut run, 5).await;
    run.stop().await;
}

#[tokio::test]
async fn missing_folder_shows_placeholder_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-yet");
    let mut run = start(config(&missing));
    expect_placeholders(&mut run, 5).await;
    std::fs::create_dir(&missing).unwrap();
    write_atomic(&missing, "photo.jpg", &jpeg_solid(90, 60, GREEN));
    run.until("green", Duration::from_secs(10)).await;
    run.stop().await;
}

#[tokio::test]
async fn jpeg_at_output_size_is_passed_through_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let exact = jpeg_solid(W, H, CYAN);
    write(dir.path(), "exact.jpg", &exact);
    let mut run = start(config(dir.path()));
    for _ in 0..3 {
        let f = run.next().await;
        assert!(passed_through(&f.frame, &exact), "not the file's own bytes");
        assert!(
            framecast::rendition::jpeg::jpeg(&run.stream, &f)
                .await
                .unwrap()
                == exact,
            "MJPEG would not get the file's bytes"
        );
    }
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_fps_from_cache_keeps_the_beat() {
    let dir = tempfile::tempdir().unwrap();
    for (i, c) in [RED, GREEN, MAGENTA].into_iter().enumerate() {
        write(dir.path(), &format!("{i}.jpg"), &jpeg_solid(W, H, c));
    }
    let cfg = GalleryConfig {
        interval: Duration::from_millis(33),
        ..config(dir.path())
    };
    let mut run = start(cfg);
    run.next().await;
    let cpu0 = cpu_seconds();
    let (t0, seq0) = (Instant::now(), run.next().await.seq);
    let mut seq = seq0;
    while t0.elapsed() < Duration::from_secs(2) {
        seq = run.next().await.seq;
    }
    let fps = (seq - seq0) as f64 / t0.elapsed().as_secs_f64();
    let cpu = (cpu_seconds() - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
    eprintln!("gallery at interval 33 ms: {fps:.1} fps, process CPU {cpu:.1}% of a core (run alone for a clean figure)");
    assert!(fps > 20.0 && fps < 34.0, "{fps:.1} fps");
    run.stop().await;
}

/// CPU time used by this process so far (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime, in clock ticks) are 12th and 13th after the ")".
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}
