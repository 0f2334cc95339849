//! End-to-end tests of the pages in a real headless Chromium: the viewer
//! shows a live picture over WebSocket and MJPEG, draws metadata boxes on the
//! frames they belong to, and the dashboard lists streams with their fps.
//!
//! Set `FRAMECAST_SCREENSHOT_DIR=/some/dir` to keep screenshots of the pages.

use std::time::Duration;

use framecast::stream::StreamOptions;
use framecast::{Frame, StreamId};
use framecast_testkit::browser::{Browser, Page};
use framecast_testkit::server::TestServer;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

/// A server with a small moving test pattern as stream "demo".
async fn server() -> TestServer {
    TestServer::start(
        "[[stream]]\nid = \"demo\"\nsource = \"pattern\"\n[stream.pattern]\nwidth = 640\nheight = 360\nfps = 20\n",
    )
    .await
}

/// Defines `window.__hash()`: a cheap hash of the viewer canvas pixels.
const HASH_JS: &str = r#"window.__hash = () => {
  const c = document.getElementById('video');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let h = 2166136261;
  for (let i = 0; i < d.length; i += 61) h = Math.imul(h ^ d[i], 16777619) >>> 0;
  return h;
}; true"#;

async fn screenshot(page: &Page, name: &str) {
    let Some(dir) = std::env::var_os("FRAMECAST_SCREENSHOT_DIR") else {
        return;
    };
    let png = page.screenshot().await.expect("screenshot");
    let path = std::path::Path::new(&dir).join(name);
    std::fs::write(&path, png).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
}

/// Open the viewer on the demo stream with `transport`; the canvas must change and frames count up.
async fn viewer_plays(transport: &str) {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let server = server().await;
    let url = &server.url;
    let page = browser
        .new_page(&format!("{url}/streams/demo?transport={transport}"))
        .await
        .expect("open viewer");
    page.wait_for(
        "window.framecast && window.framecast.framesShown >= 2",
        WAIT,
    )
    .await
    .expect("first frames drawn");
    page.eval(HASH_JS).await.unwrap();
    let shown = page.eval("window.framecast.framesShown").await.unwrap();
    let hash = page.eval("window.__hash()").await.unwrap();
    page.wait_for(
        &format!("window.__hash() !== {hash} && window.framecast.framesShown > {shown}"),
        WAIT,
    )
    .await
    .expect("the picture changes");
    let fc = page.eval("window.framecast").await.unwrap();
    assert_eq!(fc["transport"], transport, "{fc}");
    assert!(
        fc["width"].as_u64() > Some(0) && fc["height"].as_u64() > Some(0),
        "{fc}"
    );
    assert!(
        fc["lastSeq"].as_u64() > Some(0),
        "frames carry their seq: {fc}"
    );
    page.wait_for("window.framecast.latencyMs !== null", WAIT)
        .await
        .expect("latency measured");
    // The page shows what the server counts: this page is the one viewer.
    page.wait_for(
        "document.getElementById('viewers').textContent === '1' && document.getElementById('shown').textContent !== '0'",
        WAIT,
    )
    .await
    .expect("stats panel filled in");
    screenshot(&page, &format!("framecast-viewer-{transport}.png")).await;
    assert_eq!(page.js_errors(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn viewer_plays_demo_over_websocket() {
    viewer_plays("ws").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn viewer_plays_demo_over_mjpeg() {
    viewer_plays("mjpeg").await;
}

const W: u32 = 320;
const H: u32 = 240;
const LEFT: (u32, u32) = (30, 60);
const RIGHT: (u32, u32) = (200, 60);

/// Frame `n`: red with a green box on the left when even, blue with the box on the right when odd.
fn boxed_frame(n: u64) -> (Frame, serde_json::Value) {
    let (bg, (x, y)) = if n % 2 == 0 {
        ([200, 0, 0], LEFT)
    } else {
        ([0, 0, 200], RIGHT)
    };
    let meta = json!({"boxes": [{"x": x, "y": y, "w": 80, "h": 100, "label": "thing", "score": 0.9, "color": "#00ff00"}]});
    (Frame::solid(W, H, bg).expect("solid frame"), meta)
}

/// Records, after every draw, the background colour and whether the box stroke is at LEFT or RIGHT.
const RECORD_JS: &str = r#"window.__draws = [];
window.framecast.onDraw = (info, ctx) => {
  const px = (x, y) => Array.from(ctx.getImageData(x, y, 1, 1).data);
  const green = (p) => p[1] > 200 && p[0] < 80 && p[2] < 80;
  const bg = px(160, 20);
  window.__draws.push({
    seq: info.seq,
    red: bg[0] > 120 && bg[2] < 80,
    blue: bg[2] > 120 && bg[0] < 80,
    left: green(px(LX, LY + 50)),
    right: green(px(RX, RY + 50)),
  });
}; true"#;

#[tokio::test(flavor = "multi_thread")]
async fn viewer_draws_boxes_on_their_frames_over_websocket() {
    boxes_on_their_frames("ws").await;
}

/// MJPEG: frames from the multipart stream, metadata from a `?frames=0` WebSocket.
#[tokio::test(flavor = "multi_thread")]
async fn viewer_draws_boxes_on_their_frames_over_mjpeg() {
    boxes_on_their_frames("mjpeg").await;
}

/// Publish frames whose box position depends on the frame, and check every draw.
async fn boxes_on_their_frames(transport: &str) {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let server = server().await;
    let url = &server.url;
    let publisher = server
        .hub
        .create(
            StreamId::parse("boxes").unwrap(),
            StreamOptions::new("test"),
        )
        .expect("create stream");
    // Each frame carries its own boxes; where the box is tells which frame it belongs to.
    // Once a frame is out, a stale copy of the previous frame's metadata follows
    // (a slow second analyser, say): drawing "the latest metadata" would put the
    // wrong boxes on the picture; only matching by seq gets every frame right.
    let feeder = tokio::spawn(async move {
        let mut frames = publisher.stream().subscribe();
        for n in 0u64.. {
            let (frame, meta) = boxed_frame(n);
            if publisher.send_with_metadata(frame, meta).await.is_err() {
                return;
            }
            let seq = n + 1; // seqs start at 1 and nothing drops frames here
            while let Some(f) = frames.next().await {
                if f.seq >= seq {
                    break;
                }
            }
            if n > 0 {
                let _ = publisher.send_metadata_for(seq - 1, boxed_frame(n - 1).1);
            }
            tokio::time::sleep(Duration::from_millis(40)).await; // pacing, not synchronisation
        }
    });
    let page = browser
        .new_page(&format!("{url}/streams/boxes?transport={transport}"))
        .await
        .expect("open viewer");
    page.wait_for("window.framecast && window.framecast.framesShown > 0", WAIT)
        .await
        .expect("frames drawn");
    let record = RECORD_JS
        .replace("LX", &LEFT.0.to_string())
        .replace("LY", &LEFT.1.to_string())
        .replace("RX", &RIGHT.0.to_string())
        .replace("RY", &RIGHT.1.to_string());
    page.eval(&record).await.unwrap();
    page.wait_for(
        "new Set(window.__draws.filter(d => d.red).map(d => d.seq)).size >= 10 && new Set(window.__draws.filter(d => d.blue).map(d => d.seq)).size >= 10",
        Duration::from_secs(30),
    )
    .await
    .expect("enough frames of both kinds drawn");
    screenshot(&page, &format!("framecast-viewer-boxes-{transport}.png")).await;
    // The metadata-only socket of the MJPEG page is not counted as a WS viewer.
    let status: serde_json::Value = reqwest::get(format!("{url}/api/streams/boxes"))
        .await
        .expect("status")
        .json()
        .await
        .expect("status json");
    let (mjpeg, ws) = if transport == "ws" { (0, 1) } else { (1, 0) };
    assert_eq!(status["viewers"]["mjpeg"], mjpeg, "{status}");
    assert_eq!(status["viewers"]["ws"], ws, "{status}");
    feeder.abort();
    let draws = page.eval("window.__draws").await.unwrap();
    let draws = draws.as_array().unwrap();
    for d in draws {
        let ok = (d["red"] == true && d["left"] == true && d["right"] == false)
            || (d["blue"] == true && d["right"] == true && d["left"] == false);
        assert!(
            ok,
            "a frame drawn with another frame's boxes: {d} (of {})",
            draws.len()
        );
    }
    let fc = page.eval("window.framecast").await.unwrap();
    assert!(fc["metadataSeen"].as_u64() > Some(0), "{fc}");
    assert!(fc["boxesDrawn"].as_u64() > Some(0), "{fc}");
    assert_eq!(page.js_errors(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_lists_demo_with_its_fps() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let server = server().await;
    let url = &server.url;
    let page = browser
        .new_page(&format!("{url}/"))
        .await
        .expect("open dashboard");
    page.wait_for(
        r#"(() => { const v = document.querySelector('[data-stream-id="demo"] .fps'); return !!v && Number(v.dataset.value) > 0; })()"#,
        WAIT,
    )
    .await
    .expect("demo card with fps > 0");
    page.wait_for(
        r#"document.querySelector('[data-stream-id="demo"] img').naturalWidth > 0"#,
        WAIT,
    )
    .await
    .expect("live preview shows a picture");
    let text = page
        .eval(r#"document.querySelector('[data-stream-id="demo"]').innerText"#)
        .await
        .unwrap();
    let text = text.as_str().unwrap_or_default();
    assert!(text.contains("demo") && text.contains('×'), "{text}");
    screenshot(&page, "framecast-dashboard.png").await;
    assert_eq!(page.js_errors(), Vec::<String>::new());
}

/// A viewer opened before its stream exists says so, then plays once frames come.
#[tokio::test(flavor = "multi_thread")]
async fn viewer_waits_for_a_stream_that_appears_later() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let server = server().await;
    let page = browser
        .new_page(&server.at("/streams/later"))
        .await
        .expect("open viewer");
    page.wait_for(
        "document.getElementById('message').textContent.includes('No stream')",
        WAIT,
    )
    .await
    .expect("the page says the stream is not there");
    let publisher = server
        .hub
        .create(
            StreamId::parse("later").unwrap(),
            StreamOptions::new("test"),
        )
        .expect("create stream");
    let feeder = tokio::spawn(async move {
        for n in 0u8.. {
            let frame = Frame::solid(64, 48, [n, 255 - n, 0]).expect("frame");
            if publisher.send(frame).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await; // pacing, not synchronisation
        }
    });
    page.wait_for(
        "window.framecast.framesShown >= 3 && window.framecast.width === 64 && document.getElementById('message').hidden",
        WAIT,
    )
    .await
    .expect("the viewer reconnects and plays");
    feeder.abort();
    assert_eq!(page.js_errors(), Vec::<String>::new());
}

/// With many streams the dashboard previews are refreshed snapshots, not MJPEG
/// connections (a browser only opens ~6 connections per host).
#[tokio::test(flavor = "multi_thread")]
async fn dashboard_with_many_streams_uses_snapshots() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let server = server().await;
    for i in 0..5u8 {
        let p = server
            .hub
            .create(
                StreamId::parse(&format!("cam{i}")).unwrap(),
                StreamOptions::new("test"),
            )
            .expect("create stream");
        p.send(Frame::solid(32, 24, [40 * i, 0, 0]).expect("frame"))
            .await
            .expect("send");
    }
    let page = browser
        .new_page(&server.at("/"))
        .await
        .expect("open dashboard");
    page.wait_for(
        "document.querySelectorAll('.card img.ok').length === 6",
        WAIT,
    )
    .await
    .expect("six cards, each with a picture");
    let srcs = page
        .eval("Array.from(document.querySelectorAll('.card img')).map(i => i.src)")
        .await
        .unwrap();
    for src in srcs.as_array().unwrap() {
        let src = src.as_str().unwrap_or_default();
        assert!(src.contains("/snapshot.jpg"), "{src}");
    }
    let list: serde_json::Value = reqwest::get(server.at("/api/streams"))
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    for s in list.as_array().unwrap() {
        assert_eq!(s["viewers"]["mjpeg"], 0, "{s}");
    }
    assert_eq!(page.js_errors(), Vec::<String>::new());
}

/// The MJPEG part splitter, fed a multipart body in awkward chunks, in the browser.
#[tokio::test(flavor = "multi_thread")]
async fn mjpeg_multipart_parser_splits_parts_across_chunks() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let server = server().await;
    let url = &server.url;
    let page = browser.new_page(&format!("{url}/")).await.expect("open");
    let js = r#"import('/assets/transport-mjpeg.js').then(({ MultipartParser }) => {
      const parts = [];
      const p = new MultipartParser('frame', (h, b) => parts.push([h['x-frame-seq'] || null, new TextDecoder().decode(b)]));
      const body = '--frame\r\nContent-Type: image/jpeg\r\nContent-Length: 5\r\nX-Frame-Seq: 7\r\n\r\nhe\r\nl\r\n'
        + '--frame\r\nContent-Type: image/jpeg\r\n\r\nno length\r\n--frame\r\n';
      const bytes = new TextEncoder().encode(body);
      for (let i = 0; i < bytes.length; i += 3) p.push(bytes.slice(i, i + 3));
      return parts;
    })"#;
    let parts = page.eval(js).await.expect("parser runs");
    assert_eq!(parts, json!([["7", "he\r\nl"], [null, "no length"]]));
}

/// The harness itself: a page from a data: URL, eval, wait_for, exceptions, a screenshot.
#[tokio::test]
async fn harness_evaluates_waits_and_screenshots() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let page = browser
        .new_page("data:text/html,<title>t</title><script>setTimeout(()=>{window.ready=true},100)</script>")
        .await
        .expect("open page");
    assert_eq!(page.eval("1 + 2").await.unwrap(), 3);
    assert_eq!(page.eval("Promise.resolve('p')").await.unwrap(), "p");
    page.wait_for("window.ready === true", Duration::from_secs(5))
        .await
        .expect("ready");
    let err = page.eval("throw new Error('boom')").await.unwrap_err();
    assert!(format!("{err:#}").contains("boom"), "{err:#}");
    assert!(page
        .wait_for("false", Duration::from_millis(200))
        .await
        .is_err());
    page.eval("setTimeout(() => { throw new Error('late') }, 0); 1")
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !page.js_errors().iter().any(|e| e.contains("late")) {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            page.js_errors()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let png = page.screenshot().await.expect("screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    page.close().await.expect("close");
}

/// `ws?frames=0`, which the MJPEG viewer uses for its boxes, carries metadata and no pictures.
#[tokio::test(flavor = "multi_thread")]
async fn metadata_only_websocket_carries_no_frames() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;

    let server = server().await;
    let publisher = server
        .hub
        .create(StreamId::parse("meta").unwrap(), StreamOptions::new("test"))
        .expect("create stream");
    let ws_url = server.url.replace("http://", "ws://") + "/streams/meta/ws?frames=0";
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("connect");
    let mut texts = 0;
    let feeder = tokio::spawn(async move {
        for n in 0u64.. {
            let (frame, meta) = boxed_frame(n);
            if publisher.send_with_metadata(frame, meta).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(30)).await; // pacing, not synchronisation
        }
    });
    while texts < 5 {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .expect("socket open")
            .expect("message");
        match msg {
            Message::Text(t) => {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                assert_eq!(v["type"], "metadata", "{v}");
                texts += 1;
            }
            Message::Binary(b) => panic!("a {}-byte frame on a frames=0 socket", b.len()),
            _ => {}
        }
    }
    feeder.abort();
}
