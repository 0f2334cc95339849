//! The viewer page in headless Chromium over WebRTC (the default) and HLS:
//! it plays, draws metadata boxes on the frames they belong to, and falls
//! back to MJPEG when WebRTC cannot work.
//!
//! Screenshots go to /tmp/shots-viewer/ (or `FRAMECAST_SCREENSHOT_DIR`).

use std::time::Duration;

use framecast::{Frame, StreamId};
use framecast_testkit::browser::{Browser, Page};
use framecast_testkit::server::TestServer;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(25);
const PATTERN: &str = "[[stream]]\nid = \"p\"\nsource = \"pattern\"\n[stream.pattern]\nwidth = 320\nheight = 240\nfps = 30\n";
const PUSH: &str = "[[stream]]\nid = \"cam\"\nsource = \"push\"\n";

async fn screenshot(page: &Page, name: &str) {
    let dir = std::env::var_os("FRAMECAST_SCREENSHOT_DIR").unwrap_or("/tmp/shots-viewer".into());
    let _ = std::fs::create_dir_all(&dir);
    let png = page.screenshot().await.expect("screenshot");
    let path = std::path::Path::new(&dir).join(name);
    std::fs::write(&path, png).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
}

async fn state(page: &Page) -> Value {
    page.eval("JSON.parse(JSON.stringify(window.framecast))")
        .await
        .unwrap()
}

/// Wait for `cond`; on failure panic with the page's state and JS errors.
async fn expect(page: &Page, cond: &str, what: &str) {
    if let Err(e) = page.wait_for(cond, WAIT).await {
        let st = state(page).await;
        panic!(
            "{what}: {e:#}\nstate: {st}\njs errors: {:?}",
            page.js_errors()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn viewer_plays_webrtc_by_default() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let srv = TestServer::start(PATTERN).await;
    let page = browser.new_page(&srv.at("/streams/p")).await.unwrap();
    expect(
        &page,
        "window.framecast.transport === 'webrtc' && window.framecast.framesShown > 30",
        "the viewer plays WebRTC",
    )
    .await;
    expect(
        &page,
        "(window.framecast.transportStats || {}).framesDecoded > 30",
        "getStats() counts decoded frames",
    )
    .await;
    let st = state(&page).await;
    assert_eq!(st["transport"], "webrtc", "{st}");
    assert_eq!(
        (st["width"].as_u64(), st["height"].as_u64()),
        (Some(320), Some(240)),
        "{st}"
    );
    assert_eq!(st["fallback"], Value::Null, "{st}");
    let canvas = page
        .eval("[document.getElementById('video').width, document.getElementById('video').height]")
        .await
        .unwrap();
    assert_eq!(canvas, json!([320, 240]));
    // The WebRTC figures reach the stats panel.
    expect(
        &page,
        "document.getElementById('transport-stats').textContent.includes('Jitter buffer')",
        "jitter-buffer delay shown",
    )
    .await;
    let api: Value = reqwest::get(srv.at("/api/streams/p"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["viewers"]["webrtc"], 1, "{api}");
    expect(
        &page,
        "document.getElementById('viewers-detail').textContent.includes('WebRTC 1')",
        "the page counts itself as a WebRTC viewer",
    )
    .await;
    screenshot(&page, "viewer-webrtc.png").await;
    // Switching away ends the WHEP session; switching back starts a new one.
    page.eval("document.querySelector('[data-transport=mjpeg]').click(); true")
        .await
        .unwrap();
    expect(
        &page,
        "window.framecast.transport === 'mjpeg' && window.framecast.lastSeq !== null          && document.getElementById('transport-stats').hidden",
        "switched to MJPEG",
    )
    .await;
    let webrtc_viewers = || async {
        let api: Value = reqwest::get(srv.at("/api/streams/p"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        api["viewers"]["webrtc"].as_u64()
    };
    assert!(
        framecast_testkit::server::eventually(WAIT, || async { webrtc_viewers().await == Some(0) })
            .await,
        "the WHEP session is deleted"
    );
    let shown = state(&page).await["framesShown"].as_u64().unwrap();
    page.eval("document.querySelector('[data-transport=webrtc]').click(); true")
        .await
        .unwrap();
    expect(
        &page,
        &format!(
            "window.framecast.transport === 'webrtc' && window.framecast.status === 'live'              && window.framecast.framesShown > {shown} + 30"
        ),
        "back on WebRTC",
    )
    .await;
    assert_eq!(webrtc_viewers().await, Some(1));
    assert_eq!(page.js_errors(), Vec::<String>::new());
    srv.stop().await;
}

/// Frames alternate between two colours every 8 frames and each frame's
/// metadata names its colour and carries a box; the page checks at every
/// draw that the picture under the box matches the metadata it drew.
#[tokio::test(flavor = "multi_thread")]
async fn webrtc_boxes_are_drawn_on_their_frames() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let srv = TestServer::start(PUSH).await;
    let p = srv.hub.publisher(&StreamId::parse("cam").unwrap()).unwrap();
    let pump = tokio::spawn(async move {
        for n in 0u64.. {
            let dark = (n / 8) % 2 == 0;
            let rgb = if dark { [20, 20, 120] } else { [230, 230, 230] };
            let f = Frame::solid(320, 240, rgb).unwrap();
            let meta = json!({"dark": dark, "n": n, "boxes": [
                {"x": 100, "y": 60, "w": 120, "h": 100, "color": "#ff0000", "label": "thing"}
            ]});
            if p.send_with_metadata(f, meta).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(33)).await; // pacing, not synchronisation
        }
    });
    let page = browser.new_page(&srv.at("/streams/cam")).await.unwrap();
    // Check each drawn picture against the metadata drawn with it (pixel inside the box).
    page.eval(
        "window.__sync = { ok: 0, bad: 0 };
         window.framecast.onDraw = (info, g, msg) => {
           if (!msg || info.rtp === undefined) return;
           const [r, , b] = g.getImageData(160, 110, 1, 1).data;
           const dark = b > r + 40;
           if (dark === msg.data.dark) window.__sync.ok += 1; else window.__sync.bad += 1;
         }; true",
    )
    .await
    .unwrap();
    expect(
        &page,
        "window.framecast.transport === 'webrtc' && window.framecast.metadataSeen > 0 \
         && window.__sync.ok > 90",
        "boxes drawn over WebRTC",
    )
    .await;
    let st = state(&page).await;
    let sync = page.eval("window.__sync").await.unwrap();
    eprintln!("sync: {sync}; state: {st}");
    let (ok, bad) = (sync["ok"].as_u64().unwrap(), sync["bad"].as_u64().unwrap());
    // Exact pts matching: a colour change is never drawn with the other colour's metadata
    // (a few may blur while the encoder converges after a cut).
    assert!(
        bad * 20 <= ok,
        "{bad} of {} pictures had another frame's metadata",
        ok + bad
    );
    assert!(st["exactBoxFrames"].as_u64().unwrap() > 60, "{st}");
    // The box is really on the canvas: red on its left edge, not red inside.
    let px = page
        .eval(
            "(() => { const g = document.getElementById('video').getContext('2d');
                return [Array.from(g.getImageData(100, 110, 1, 1).data),
                        Array.from(g.getImageData(160, 110, 1, 1).data)]; })()",
        )
        .await
        .unwrap();
    let edge = &px[0];
    assert!(
        edge[0].as_u64() > Some(200) && edge[1].as_u64() < Some(60) && edge[2].as_u64() < Some(60),
        "box edge is red: {px}"
    );
    screenshot(&page, "viewer-webrtc-boxes.png").await;
    pump.abort();
    assert_eq!(page.js_errors(), Vec::<String>::new());
    srv.stop().await;
}

/// With no RTCPeerConnection in the page, the viewer says so and plays MJPEG.
#[tokio::test(flavor = "multi_thread")]
async fn viewer_falls_back_to_mjpeg_without_webrtc() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let srv = TestServer::start(PATTERN).await;
    let page = browser.new_page("about:blank").await.unwrap();
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": "delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;"}),
    )
    .await
    .unwrap();
    page.goto(&srv.at("/streams/p")).await.unwrap();
    expect(
        &page,
        "window.framecast.transport === 'mjpeg' && window.framecast.framesShown > 10",
        "falls back to MJPEG and plays",
    )
    .await;
    let st = state(&page).await;
    assert!(
        st["fallback"]
            .as_str()
            .unwrap_or("")
            .contains("RTCPeerConnection"),
        "{st}"
    );
    let notice = page
        .eval("[document.getElementById('notice').hidden, document.getElementById('notice').textContent]")
        .await
        .unwrap();
    assert_eq!(notice[0], false, "{notice}");
    assert!(
        notice[1]
            .as_str()
            .unwrap()
            .contains("playing MJPEG instead"),
        "{notice}"
    );
    assert_eq!(
        (st["width"].as_u64(), st["height"].as_u64()),
        (Some(320), Some(240)),
        "{st}"
    );
    screenshot(&page, "viewer-fallback.png").await;
    srv.stop().await;
}

/// A WHEP error (an offer the server refuses) also ends on MJPEG.
#[tokio::test(flavor = "multi_thread")]
async fn viewer_falls_back_to_mjpeg_when_whep_fails() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let srv = TestServer::start(PATTERN).await;
    let page = browser.new_page("about:blank").await.unwrap();
    // Strip H.264 from every offer: the server answers 4xx ("offer has no H.264").
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": "const f = window.fetch; window.fetch = (u, o) => \
            (o && o.method === 'POST' && String(u).endsWith('/whep')) \
              ? f.call(window, u, { ...o, body: o.body.replace(/H264/gi, 'VP8') }) : f.call(window, u, o);"}),
    )
    .await
    .unwrap();
    page.goto(&srv.at("/streams/p")).await.unwrap();
    expect(
        &page,
        "window.framecast.transport === 'mjpeg' && window.framecast.framesShown > 10",
        "falls back to MJPEG after a WHEP error",
    )
    .await;
    let st = state(&page).await;
    assert!(
        st["fallback"].as_str().unwrap_or("").contains("WHEP 4"),
        "{st}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn viewer_plays_hls() {
    let Some(browser) = Browser::launch(&["--autoplay-policy=no-user-gesture-required"]).await
    else {
        return;
    };
    let srv = TestServer::start(PATTERN).await;
    let page = browser
        .new_page(&srv.at("/streams/p?transport=hls"))
        .await
        .unwrap();
    expect(
        &page,
        "window.framecast.transport === 'hls' && (window.framecast.transportStats || {}).currentTime > 1",
        "HLS plays",
    )
    .await;
    let t0 = state(&page).await["transportStats"]["currentTime"]
        .as_f64()
        .unwrap();
    expect(
        &page,
        &format!("window.framecast.transportStats.currentTime > {t0} + 1"),
        "HLS currentTime advances",
    )
    .await;
    expect(
        &page,
        "window.framecast.framesShown > 30",
        "HLS pictures drawn",
    )
    .await;
    let st = state(&page).await;
    assert_eq!(
        (st["width"].as_u64(), st["height"].as_u64()),
        (Some(320), Some(240)),
        "{st}"
    );
    expect(
        &page,
        "document.getElementById('transport-stats').textContent.includes('Behind live edge')",
        "HLS figures shown",
    )
    .await;
    screenshot(&page, "viewer-hls.png").await;
    srv.stop().await;
}

/// The dashboard links each stream's viewer on WebRTC and HLS and its playlist.
#[tokio::test(flavor = "multi_thread")]
async fn dashboard_links_webrtc_and_hls() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let srv = TestServer::start(PATTERN).await;
    let page = browser.new_page(&srv.at("/")).await.unwrap();
    expect(
        &page,
        "document.querySelectorAll('.card .links a').length > 0",
        "dashboard card",
    )
    .await;
    let hrefs = page
        .eval("Array.from(document.querySelectorAll('.card .links a')).map((a) => a.getAttribute('href'))")
        .await
        .unwrap();
    for want in [
        "/streams/p?transport=webrtc",
        "/streams/p?transport=hls",
        "/streams/p/hls/index.m3u8",
    ] {
        assert!(
            hrefs.as_array().unwrap().iter().any(|h| h == want),
            "{want} in {hrefs}"
        );
    }
    expect(
        &page,
        "document.querySelector('.card img.ok') !== null",
        "dashboard preview",
    )
    .await;
    screenshot(&page, "dashboard.png").await;
    srv.stop().await;
}

/// Over HLS boxes are matched by an estimated pts (best effort): frames carry
/// their number as a grey level and their metadata the same number; the
/// median difference between the frame on screen and the metadata drawn with
/// it stays within a few frames.
#[tokio::test(flavor = "multi_thread")]
async fn hls_boxes_are_close_to_their_frames() {
    let Some(browser) = Browser::launch(&["--autoplay-policy=no-user-gesture-required"]).await
    else {
        return;
    };
    let srv = TestServer::start(PUSH).await;
    let p = srv.hub.publisher(&StreamId::parse("cam").unwrap()).unwrap();
    let pump = tokio::spawn(async move {
        for n in 0u64.. {
            let g = ((n % 50) * 5) as u8;
            let f = Frame::solid(320, 240, [g, g, g]).unwrap();
            let meta = json!({"n": n % 50, "boxes": [{"x": 20, "y": 20, "w": 40, "h": 40}]});
            if p.send_with_metadata(f, meta).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(33)).await; // pacing, not synchronisation
        }
    });
    let page = browser
        .new_page(&srv.at("/streams/cam?transport=hls"))
        .await
        .unwrap();
    page.eval(
        "window.__err = [];
         window.framecast.onDraw = (info, g, msg) => {
           if (!msg) return;
           const [v] = g.getImageData(160, 120, 1, 1).data;
           let d = Math.round(v / 5) - msg.data.n;
           d = ((d % 50) + 75) % 50 - 25;
           window.__err.push(d);
         }; true",
    )
    .await
    .unwrap();
    expect(&page, "window.__err.length > 90", "HLS boxes drawn").await;
    let errs = page
        .eval("window.__err.slice(30).sort((a, b) => a - b)")
        .await
        .unwrap();
    let errs: Vec<i64> = errs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    let median = errs[errs.len() / 2];
    eprintln!(
        "HLS box offset in frames (picture - metadata): median {median}, range {:?}..{:?}",
        errs.first(),
        errs.last()
    );
    assert!(median.abs() <= 3, "median offset {median} frames: {errs:?}");
    pump.abort();
    srv.stop().await;
}

/// WHEP succeeds but no media ever arrives (the answer's ICE candidates are
/// removed, so the connection never forms): after a few seconds without a
/// picture, while the stream has frames, the viewer goes to MJPEG.
#[tokio::test(flavor = "multi_thread")]
async fn viewer_falls_back_to_mjpeg_when_no_picture_comes() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let srv = TestServer::start(PATTERN).await;
    let page = browser.new_page("about:blank").await.unwrap();
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": "const srd = RTCPeerConnection.prototype.setRemoteDescription; \
            RTCPeerConnection.prototype.setRemoteDescription = function (d) { \
              const sdp = d.sdp.split('\\r\\n').filter((l) => !l.startsWith('a=candidate')).join('\\r\\n'); \
              return srd.call(this, { type: d.type, sdp }); };"}),
    )
    .await
    .unwrap();
    page.goto(&srv.at("/streams/p")).await.unwrap();
    page.wait_for(
        "window.framecast.transport === 'webrtc' && window.framecast.status === 'connecting'",
        WAIT,
    )
    .await
    .unwrap();
    expect(
        &page,
        "window.framecast.transport === 'mjpeg' && window.framecast.framesShown > 10",
        "falls back to MJPEG when WebRTC shows nothing",
    )
    .await;
    let st = state(&page).await;
    assert!(
        st["fallback"].as_str().unwrap_or("").contains("no picture"),
        "{st}"
    );
    srv.stop().await;
}
