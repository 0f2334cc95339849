//! Headless Chromium shows the H.264 rendition in true colours: the test
//! pattern's colour bars, read back from a `<video>` playing over WebRTC and
//! over HLS, match the same bars in the MJPEG output.
//!
//! Tolerance: ±12 per channel. H.264 at these bitrates, 4:2:0 chroma and
//! limited-range quantisation move the centre of a flat bar by a few units;
//! decoding with the wrong matrix (BT.709 for BT.601) moves the green bar by
//! about 29 and the red one by about 16, so 12 tells the two apart.

use std::time::Duration;

use framecast_testkit::browser::{Browser, Page};
use framecast_testkit::mjpeg::MjpegClient;
use framecast_testkit::server::TestServer;

const WEBRTC: &str = include_str!("../../web/transport-webrtc.js");
const HLS: &str = include_str!("../../web/transport-hls.js");
const W: usize = 640;
const H: usize = 360;
const CONFIG: &str = "[[stream]]\nid = \"p\"\nsource = \"pattern\"\n[stream.pattern]\nwidth = 640\nheight = 360\nfps = 30\n";
/// See the file's opening paragraph.
const TOLERANCE: i32 = 12;
/// The pattern's seven bars (src/source/pattern.rs).
const BARS: usize = 7;
/// A row inside the bars, above the clock band and the moving box.
const ROW: usize = H / 10;

/// The centre of each bar: `(x, y)`.
fn sample_points() -> Vec<(usize, usize)> {
    (0..BARS)
        .map(|i| ((2 * i + 1) * W / (2 * BARS), ROW))
        .collect()
}

/// The mean RGB of a 9x9 patch around each sample point of packed RGB `rgb`.
fn patches(rgb: &[u8], width: usize) -> Vec<[i32; 3]> {
    let mean = |x: usize, y: usize| {
        let mut sum = [0i32; 3];
        for dy in 0..9 {
            for dx in 0..9 {
                let i = ((y + dy - 4) * width + x + dx - 4) * 3;
                for c in 0..3 {
                    sum[c] += rgb[i + c] as i32;
                }
            }
        }
        sum.map(|s| (s + 40) / 81)
    };
    sample_points()
        .into_iter()
        .map(|(x, y)| mean(x, y))
        .collect()
}

/// The bars as the MJPEG output shows them.
async fn mjpeg_bars(srv: &TestServer) -> Vec<[i32; 3]> {
    let mut c = MjpegClient::connect(srv.addr, "/streams/p/mjpeg", None).await;
    let part = c.next_part_within(Duration::from_secs(10)).await;
    let (rgb, w, h) = framecast::codec::jpeg::decode_rgb(&part.body, usize::MAX).unwrap();
    assert_eq!((w as usize, h as usize), (W, H));
    patches(&rgb, W)
}

/// The bars as the page's `window.__video` shows them: drawn into a canvas
/// of the video's size and read back.
async fn video_bars(page: &Page) -> Vec<[i32; 3]> {
    let js = "(() => {
            const v = window.__video;
            const c = document.createElement('canvas');
            c.width = v.videoWidth; c.height = v.videoHeight;
            const g = c.getContext('2d', { willReadFrequently: true });
            g.drawImage(v, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data;
            const rgb = [];
            for (let i = 0; i < d.length; i += 4) rgb.push(d[i], d[i + 1], d[i + 2]);
            return [c.width, rgb];
        })()";
    let v = page.eval(js).await.expect("the video draws into a canvas");
    assert_eq!(v[0].as_u64(), Some(W as u64), "video width");
    let rgb: Vec<u8> = v[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u8)
        .collect();
    patches(&rgb, W)
}

fn assert_close(what: &str, got: &[[i32; 3]], want: &[[i32; 3]]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let off = (0..3).map(|c| (g[c] - w[c]).abs()).max().unwrap();
        assert!(
            off <= TOLERANCE,
            "{what}: bar {i} shows as {g:?}, MJPEG shows {w:?} (off by {off}, tolerance {TOLERANCE})"
        );
    }
}

/// A page at the server's origin with `script` loaded as a classic script.
async fn page_with(browser: &Browser, srv: &TestServer, script: &str) -> Page {
    let page = browser.new_page(&srv.at("/healthz")).await.unwrap();
    let script = format!("(() => {{ {} }})(); true", script.replace("export ", ""));
    page.eval(&script).await.expect("transport loads");
    page
}

async fn wait(page: &Page, cond: &str, what: &str) {
    page.wait_for(cond, Duration::from_secs(25))
        .await
        .unwrap_or_else(|e| panic!("{what}: {e:#}; js errors: {:?}", page.js_errors()));
}

async fn webrtc_bars(browser: &Browser, srv: &TestServer) -> Vec<[i32; 3]> {
    let page = page_with(browser, srv, WEBRTC).await;
    page.eval(
        "(async () => {
            const v = document.createElement('video');
            v.muted = true;
            document.body.appendChild(v);
            window.__video = v;
            window.__s = await window.FramecastWebRTC.start(v, 'p', () => {});
            return true;
        })()",
    )
    .await
    .expect("WHEP session starts");
    // Past the first seconds, when the encoder's quality has settled.
    let cond = "window.__s.stats().then((s) => s.framesDecoded > 90)";
    wait(&page, cond, "WebRTC plays").await;
    video_bars(&page).await
}

async fn hls_bars(browser: &Browser, srv: &TestServer) -> Vec<[i32; 3]> {
    let page = page_with(browser, srv, HLS).await;
    let start = "(() => {
            const v = document.createElement('video');
            v.muted = true;
            document.body.appendChild(v);
            window.__video = v;
            window.__s = window.FramecastHLS.start(v, 'p', { mse: true });
            return true;
        })()";
    page.eval(start).await.expect("player starts");
    let cond = "window.__video.currentTime > 2.0 && window.__video.videoWidth > 0";
    wait(&page, cond, "HLS plays").await;
    video_bars(&page).await
}

#[tokio::test]
async fn chromium_shows_the_h264_rendition_in_the_mjpeg_colours() {
    let Some(browser) = Browser::launch(&["--autoplay-policy=no-user-gesture-required"]).await
    else {
        return;
    };
    let srv = TestServer::start(CONFIG).await;
    let want = mjpeg_bars(&srv).await;
    let rtc = webrtc_bars(&browser, &srv).await;
    let hls = hls_bars(&browser, &srv).await;
    eprintln!(
        "bars (RGB, left to right)\n  MJPEG:  {want:?}\n  WebRTC: {rtc:?}\n  HLS:    {hls:?}"
    );
    assert_close("WebRTC", &rtc, &want);
    assert_close("HLS", &hls, &want);
    srv.stop().await;
}
