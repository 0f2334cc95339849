//! Pushing frames over HTTP and WebSocket, and bad input.

use std::time::Duration;

use framecast::codec::jpeg;
use framecast::{Frame, StreamId};
use framecast_testkit::server::{eventually, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

async fn snapshot_after(srv: &TestServer, id: &str, min_frames: u64) -> Vec<u8> {
    let stream = srv
        .hub
        .get(&StreamId::parse(id).unwrap())
        .expect("stream exists");
    let ok = eventually(Duration::from_secs(5), || {
        let s = stream.clone();
        async move { s.latest().is_some_and(|f| f.seq >= min_frames) }
    })
    .await;
    assert!(ok, "frame {min_frames} was published");
    let r = reqwest::get(srv.at(&format!("/streams/{id}/snapshot.jpg")))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap().to_vec()
}

fn px(rgb: &[u8], w: u32, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * w + x) * 3) as usize;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (*x as i32 - y as i32).abs() < 24)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_bgr24_push_comes_back_with_the_right_pixels() {
    let srv = TestServer::start("").await;
    // Left half blue, right half red, in BGR order.
    let (w, h) = (64u32, 32u32);
    let mut bgr = Vec::new();
    for _y in 0..h {
        for x in 0..w {
            bgr.extend_from_slice(if x < w / 2 {
                &[255, 0, 0]
            } else {
                &[0, 0, 255]
            });
        }
    }
    let r = reqwest::Client::new()
        .post(srv.at("/streams/raw/frames?width=64&height=32&format=bgr24"))
        .header("content-type", "application/octet-stream")
        .body(bgr)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let snap = snapshot_after(&srv, "raw", 1).await;
    let (rgb, sw, sh) = jpeg::decode_rgb(&snap, usize::MAX).unwrap();
    assert_eq!((sw, sh), (w, h));
    assert!(
        close(px(&rgb, w, 8, 16), [0, 0, 255]),
        "left is blue: {:?}",
        px(&rgb, w, 8, 16)
    );
    assert!(
        close(px(&rgb, w, 56, 16), [255, 0, 0]),
        "right is red: {:?}",
        px(&rgb, w, 56, 16)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jpeg_push_is_passed_through_untouched() {
    let srv = TestServer::start("").await;
    let pushed = jpeg::encode(&Frame::solid(80, 60, [250, 200, 0]).unwrap(), 85).unwrap();
    let r = reqwest::Client::new()
        .post(srv.at("/streams/j/frames"))
        .header("content-type", "image/jpeg")
        .header("x-framecast-metadata", r#"{"note":"hi"}"#)
        .body(pushed.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["width"].as_u64(), body["height"].as_u64()),
        (Some(80), Some(60))
    );
    assert_eq!(
        snapshot_after(&srv, "j", 1).await,
        pushed.to_vec(),
        "no re-encode"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_push_with_raw_header_and_metadata() {
    let srv = TestServer::start("").await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/streams/wsp/push", srv.addr))
            .await
            .unwrap();
    ws.send(Message::Text(
        r#"{"width":4,"height":2,"format":"gray8"}"#.into(),
    ))
    .await
    .unwrap();
    ws.send(Message::Binary(vec![200u8; 8].into()))
        .await
        .unwrap();
    let snap = snapshot_after(&srv, "wsp", 1).await;
    let (rgb, w, h) = jpeg::decode_rgb(&snap, usize::MAX).unwrap();
    assert_eq!((w, h), (4, 2));
    assert!(close(px(&rgb, 4, 1, 1), [200, 200, 200]));
    // A wrong-sized raw frame is answered with an error message; the session goes on.
    ws.send(Message::Binary(vec![1u8; 7].into())).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    let Some(Ok(Message::Text(t))) = reply else {
        panic!("error reply expected: {reply:?}")
    };
    let v: Value = serde_json::from_str(&t).unwrap();
    assert_eq!(v["kind"], "bad_request", "{v}");
    ws.send(Message::Binary(vec![10u8; 8].into()))
        .await
        .unwrap();
    snapshot_after(&srv, "wsp", 2).await;
}

async fn expect_error(resp: reqwest::Response, status: u16, kind: &str) {
    assert_eq!(resp.status().as_u16(), status);
    if status == 413 {
        // The unread rest of the body ends the connection: the client is told.
        assert_eq!(resp.headers()["connection"], "close");
    }
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["kind"], kind, "{v}");
    assert!(
        v["error"].as_str().is_some_and(|e| e.len() > 10),
        "a sentence: {v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_json_errors_and_the_stream_goes_on() {
    let toml = "[push]\nmax_frame_bytes = 100000\n[[stream]]\nid = \"s\"\nsource = \"push\"\n";
    let srv = TestServer::start(toml).await;
    let c = reqwest::Client::new();
    let good = jpeg::encode(&Frame::solid(32, 32, [9, 9, 9]).unwrap(), 80).unwrap();
    let post = |path: &str, ct: &str, body: Vec<u8>| {
        c.post(srv.at(path))
            .header("content-type", ct.to_string())
            .body(body)
            .send()
    };
    assert_eq!(
        post("/streams/s/frames", "image/jpeg", good.to_vec())
            .await
            .unwrap()
            .status(),
        202
    );

    let long_id = format!("/streams/{}/mjpeg", "x".repeat(65));
    for (path, status, kind) in [
        ("/streams/bad%20id/mjpeg", 400, "bad_request"),
        (long_id.as_str(), 400, "bad_request"),
        ("/streams/unknown/mjpeg", 404, "not_found"),
        ("/api/streams/unknown", 404, "not_found"),
    ] {
        expect_error(reqwest::get(srv.at(path)).await.unwrap(), status, kind).await;
    }

    let truncated = good[..good.len() / 2].to_vec();
    let octet = "application/octet-stream";
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "/streams/s/frames",
            "image/jpeg",
            truncated,
            400,
            "bad_request",
        ),
        (
            "/streams/s/frames",
            "image/jpeg",
            b"not an image".to_vec(),
            400,
            "bad_request",
        ),
        (
            "/streams/s/frames",
            "image/png",
            good.to_vec(),
            400,
            "bad_request",
        ),
        (
            "/streams/s/frames",
            "text/plain",
            b"hello".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "/streams/s/frames",
            "image/jpeg",
            vec![0xFF; 200_000],
            413,
            "too_large",
        ),
        (
            "/streams/s/frames?width=4&height=4&format=rgb24",
            octet,
            vec![0; 47],
            400,
            "bad_request",
        ),
        (
            "/streams/s/frames?width=4&height=4&format=yuv9",
            octet,
            vec![0; 48],
            400,
            "bad_request",
        ),
        (
            "/streams/s/frames?width=4&format=rgb24",
            octet,
            vec![0; 48],
            400,
            "bad_request",
        ),
        (
            "/streams/s/frames?width=0&height=4&format=rgb24",
            octet,
            vec![],
            400,
            "bad_request",
        ),
        (
            "/streams/s/metadata",
            "application/json",
            b"{nope".to_vec(),
            400,
            "bad_request",
        ),
        (
            "/streams/unknown/metadata",
            "application/json",
            b"{}".to_vec(),
            404,
            "not_found",
        ),
    ];
    for (path, ct, body, status, kind) in cases {
        expect_error(post(path, ct, body).await.unwrap(), status, kind).await;
    }
    let r = c.delete(srv.at("/streams/s/frames")).send().await.unwrap();
    expect_error(r, 405, "method_not_allowed").await;

    // The stream is unaffected: the next good frame goes through.
    assert_eq!(
        post("/streams/s/frames", "image/jpeg", good.to_vec())
            .await
            .unwrap()
            .status(),
        202
    );
    let s = srv.hub.get(&StreamId::parse("s").unwrap()).unwrap();
    let published = eventually(Duration::from_secs(5), || {
        let s = s.clone();
        async move { s.latest().is_some_and(|f| f.seq == 2) }
    })
    .await;
    assert!(published, "the good frame after the bad ones is frame 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushing_into_a_pattern_stream_is_a_conflict_and_never_mode_refuses() {
    let toml = "[push]\nallow_create = \"never\"\n[[stream]]\nid = \"p\"\nsource = \"pattern\"\n[stream.pattern]\nwidth = 64\nheight = 64\n";
    let srv = TestServer::start(toml).await;
    let c = reqwest::Client::new();
    let good = jpeg::encode(&Frame::solid(8, 8, [1, 2, 3]).unwrap(), 80).unwrap();
    let r = c
        .post(srv.at("/streams/p/frames"))
        .header("content-type", "image/jpeg")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "conflict").await;
    let r = c
        .post(srv.at("/streams/new/frames"))
        .header("content-type", "image/jpeg")
        .body(good)
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found").await;
}
