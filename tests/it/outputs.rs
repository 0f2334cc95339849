//! MJPEG, snapshot and WebSocket viewers over real TCP.

use std::time::Duration;

use framecast::codec::jpeg;
use framecast_testkit::mjpeg::MjpegClient;
use framecast_testkit::server::{eventually, TestServer};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const SMALL_PATTERN: &str = "[[stream]]\nid = \"demo\"\nsource = \"pattern\"\n[stream.pattern]\nwidth = 320\nheight = 180\nfps = 30\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mjpeg_parts_are_jpegs_of_the_stream_size() {
    let srv = TestServer::start(SMALL_PATTERN).await;
    let mut c = MjpegClient::connect(srv.addr, "/streams/demo/mjpeg", None).await;
    assert_eq!(
        c.content_type,
        "multipart/x-mixed-replace; boundary=framecast"
    );
    let mut last_seq = 0;
    for _ in 0..5 {
        let part = c.next_part_within(Duration::from_secs(5)).await;
        let (_, w, h) = jpeg::decode_rgb(&part.body, usize::MAX).expect("part decodes as JPEG");
        assert_eq!((w, h), (320, 180));
        assert!(
            part.seq > last_seq,
            "seq goes up: {} then {}",
            last_seq,
            part.seq
        );
        last_seq = part.seq;
    }
    let status: serde_json::Value = reqwest::get(srv.at("/api/streams/demo"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["viewers"]["mjpeg"], 1);
    drop(c);
    let hub = srv.hub.clone();
    let id = framecast::StreamId::parse("demo").unwrap();
    let gone = eventually(Duration::from_secs(5), || {
        let s = hub.get(&id).unwrap();
        async move { s.stats.viewers(framecast::output::mjpeg::KIND) == 0 }
    })
    .await;
    assert!(gone, "viewer count returns to 0 after the client leaves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_is_the_latest_frame() {
    let srv = TestServer::start(SMALL_PATTERN).await;
    let url = srv.at("/streams/demo/snapshot.jpg");
    let ok = eventually(Duration::from_secs(5), || {
        let url = url.clone();
        async move {
            reqwest::get(&url)
                .await
                .map(|r| r.status() == 200)
                .unwrap_or(false)
        }
    })
    .await;
    assert!(ok, "snapshot becomes available");
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let (_, w, h) = jpeg::decode_rgb(&r.bytes().await.unwrap(), usize::MAX).unwrap();
    assert_eq!((w, h), (320, 180));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_before_any_frame_is_503_and_unknown_is_404() {
    let srv = TestServer::start("[[stream]]\nid = \"empty\"\nsource = \"push\"\n").await;
    let r = reqwest::get(srv.at("/streams/empty/snapshot.jpg"))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["kind"],
        "unavailable"
    );
    let r = reqwest::get(srv.at("/streams/nope/snapshot.jpg"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["kind"],
        "not_found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_gets_frames_and_the_metadata_posted_for_them() {
    let srv = TestServer::start("[[stream]]\nid = \"cv\"\nsource = \"push\"\n").await;
    let publisher = srv
        .hub
        .publisher(&framecast::StreamId::parse("cv").unwrap())
        .unwrap();
    let url = format!("ws://{}/streams/cv/ws?frameinfo=1", srv.addr);
    let (mut ws, resp) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("ws connects");
    assert!(
        resp.headers().get("sec-websocket-extensions").is_none(),
        "no permessage-deflate"
    );
    publisher
        .send(framecast::Frame::solid(64, 48, [0, 200, 0]).unwrap())
        .await
        .unwrap();

    // The frame info, then the JPEG.
    let info = next_text(&mut ws).await;
    assert_eq!(info["type"], "frame");
    let seq = info["seq"].as_u64().unwrap();
    let Some(Ok(Message::Binary(jpeg_bytes))) = ws.next().await else {
        panic!("binary JPEG expected")
    };
    let (rgb, w, h) = jpeg::decode_rgb(&jpeg_bytes, usize::MAX).unwrap();
    assert_eq!((w, h), (64, 48));
    assert!(rgb[1] > 150 && rgb[0] < 60, "green frame: {:?}", &rgb[..3]);

    let meta = serde_json::json!({"seq": seq, "data": {"boxes": [{"x": 1, "y": 2, "w": 3, "h": 4, "label": "cat"}]}});
    let r = reqwest::Client::new()
        .post(srv.at("/streams/cv/metadata"))
        .json(&meta)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let m = next_text(&mut ws).await;
    assert_eq!(m["type"], "metadata");
    assert_eq!(m["stream"], "cv");
    assert_eq!(m["seq"].as_u64(), Some(seq));
    assert_eq!(m["data"]["boxes"][0]["label"], "cat");
    ws.send(Message::Close(None)).await.unwrap();
}

async fn next_text<S>(ws: &mut S) -> serde_json::Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("message in time");
    match msg {
        Some(Ok(Message::Text(t))) => serde_json::from_str(&t).unwrap(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health() {
    let srv = TestServer::start(SMALL_PATTERN).await;
    assert_eq!(
        reqwest::get(srv.at("/healthz")).await.unwrap().status(),
        200
    );
    let text = srv.text("/metrics").await;
    assert!(
        text.contains("framecast_frames_in_total{stream=\"demo\"}"),
        "{text}"
    );
    assert!(
        text.contains("framecast_viewers{stream=\"demo\",protocol=\"mjpeg\"} 0"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fps_cap_gives_a_viewer_fewer_frames() {
    let srv = TestServer::start(SMALL_PATTERN).await;
    let mut capped = MjpegClient::connect(srv.addr, "/streams/demo/mjpeg?fps=5", None).await;
    let first = capped.next_part_within(Duration::from_secs(5)).await.seq;
    let mut last = first;
    for _ in 0..4 {
        last = capped.next_part_within(Duration::from_secs(5)).await.seq;
    }
    // At 30 fps in, 5 fps out, consecutive parts are ~6 frames apart.
    let gap = (last - first) as f64 / 4.0;
    assert!(
        gap >= 3.0,
        "a 5 fps viewer of a 30 fps stream skips frames (mean gap {gap})"
    );
    let bad = reqwest::get(srv.at("/streams/demo/mjpeg?fps=-1"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_ends_open_mjpeg_responses() {
    let srv = TestServer::start(SMALL_PATTERN).await;
    let addr = srv.addr;
    let mut c = MjpegClient::connect(addr, "/streams/demo/mjpeg", None).await;
    c.next_part_within(Duration::from_secs(5)).await;
    tokio::time::timeout(Duration::from_secs(10), srv.stop())
        .await
        .expect("shutdown finishes while a viewer is connected");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
