//! WebRTC playback over WHEP with a str0m client peer over real UDP on loopback.

use std::time::{Duration, Instant};

use framecast::{Frame, Publisher, StreamId};
use framecast_testkit::rtc_client::{connect, ClientEvent, Offer, RtcClient};
use framecast_testkit::server::TestServer;
use openh264::decoder::Decoder;
use openh264::formats::YUVSource;
use serde_json::json;

const COLOUR: [u8; 3] = [200, 40, 60];

fn config(extra: &str) -> String {
    format!("[[stream]]\nid = \"cam\"\nsource = \"push\"\n{extra}")
}

/// Push a solid frame (and a metadata message) every 33 ms until dropped.
fn pump(p: Publisher) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut n = 0u64;
        loop {
            let f = Frame::solid(320, 240, COLOUR).unwrap();
            if p.send_with_metadata(f, json!({"n": n})).await.is_err() {
                return;
            }
            n += 1;
            tokio::time::sleep(Duration::from_millis(33)).await;
        }
    })
}

fn publisher(srv: &TestServer) -> Publisher {
    srv.hub
        .publisher(&StreamId::parse("cam").unwrap())
        .expect("configured push stream")
}

/// Decode AUs until a picture comes out: (width, height, centre RGB, when).
async fn first_picture(c: &mut RtcClient, within: Duration) -> (usize, usize, [u8; 3], Instant) {
    let mut dec = Decoder::new().unwrap();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let ev = tokio::time::timeout_at(deadline, c.events.recv())
            .await
            .expect("a decoded picture in time")
            .expect("client running");
        if let ClientEvent::Video { data, at } = ev {
            if let Ok(Some(yuv)) = dec.decode(&data) {
                let (w, h) = yuv.dimensions();
                let mut rgb = vec![0; w * h * 3];
                yuv.write_rgb8(&mut rgb);
                let i = ((h / 2) * w + w / 2) * 3;
                return (w, h, [rgb[i], rgb[i + 1], rgb[i + 2]], at);
            }
        }
    }
}

/// Count video AUs until `n` or the deadline; metadata messages are counted too.
async fn count_video(c: &mut RtcClient, n: usize, within: Duration) -> (usize, usize) {
    let deadline = tokio::time::Instant::now() + within;
    let (mut video, mut meta) = (0, 0);
    while video < n {
        match tokio::time::timeout_at(deadline, c.events.recv()).await {
            Ok(Some(ClientEvent::Video { .. })) => video += 1,
            Ok(Some(ClientEvent::Metadata(_))) => meta += 1,
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    (video, meta)
}

async fn status(srv: &TestServer) -> serde_json::Value {
    reqwest::get(srv.at("/api/streams/cam"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_peer_receives_the_streams_pictures_and_metadata() {
    let srv = TestServer::start(&config("")).await;
    let _pump = pump(publisher(&srv));
    let mut c = connect(srv.addr, "cam", Offer::default())
        .await
        .expect("WHEP");
    assert!(
        c.location.starts_with("/streams/cam/whep/"),
        "{}",
        c.location
    );
    let (w, h, centre, _) = first_picture(&mut c, Duration::from_secs(10)).await;
    assert_eq!((w, h), (320, 240));
    for (got, want) in centre.iter().zip(COLOUR) {
        assert!(
            (*got as i32 - want as i32).abs() <= 16,
            "centre {centre:?} is not {COLOUR:?}"
        );
    }
    // Metadata arrives on the DataChannel, as the WebSocket's JSON.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        match tokio::time::timeout_at(deadline, c.events.recv()).await {
            Ok(Some(ClientEvent::Metadata(t))) => break t,
            Ok(Some(_)) => {}
            other => panic!("no metadata on the DataChannel: {other:?}"),
        }
    };
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["type"], "metadata");
    assert_eq!(v["stream"], "cam");
    assert!(v["data"]["n"].is_u64(), "{text}");
    assert_eq!(status(&srv).await["viewers"]["webrtc"], 1);
    srv.stop().await;
}

#[tokio::test]
async fn a_joining_viewer_gets_a_keyframe_at_once() {
    // Periodic keyframes only every 30 s: a quick first picture needs the join keyframe.
    let srv = TestServer::start(&config("[h264]\nkeyframe_interval_ms = 30000\n")).await;
    let _pump = pump(publisher(&srv));
    let mut first = connect(srv.addr, "cam", Offer::default()).await.unwrap();
    first_picture(&mut first, Duration::from_secs(10)).await;
    let (n, _) = count_video(&mut first, 20, Duration::from_secs(10)).await;
    assert_eq!(n, 20, "the first viewer keeps receiving");
    let mut second = connect(srv.addr, "cam", Offer::default()).await.unwrap();
    let (_, _, _, at) = first_picture(&mut second, Duration::from_secs(10)).await;
    let ttff = at.duration_since(second.started);
    eprintln!("time to first frame for a joining viewer: {ttff:?}");
    assert!(
        ttff < Duration::from_secs(3),
        "first picture after {ttff:?}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn three_viewers_share_one_encode_per_frame() {
    let srv = TestServer::start(&config("")).await;
    let _pump = pump(publisher(&srv));
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(connect(srv.addr, "cam", Offer::default()).await.unwrap());
    }
    for c in &mut clients {
        let (n, _) = count_video(c, 45, Duration::from_secs(15)).await;
        assert_eq!(n, 45, "every viewer receives");
    }
    let s = status(&srv).await;
    let (frames, encodes) = (
        s["frames_in"].as_u64().unwrap(),
        s["h264_encodes"].as_u64().unwrap(),
    );
    eprintln!("frames in {frames}, H.264 encodes {encodes}");
    assert!(encodes >= 45, "{encodes}");
    assert!(
        encodes <= frames,
        "{encodes} encodes for {frames} frames: not encoded once"
    );
    assert_eq!(s["viewers"]["webrtc"], 3);
    drop(clients);
    srv.stop().await;
}

#[tokio::test]
async fn sessions_end_on_delete_and_the_encoder_stops() {
    let srv = TestServer::start(&config("")).await;
    let _pump = pump(publisher(&srv));
    let mut c = connect(srv.addr, "cam", Offer::default()).await.unwrap();
    first_picture(&mut c, Duration::from_secs(10)).await;
    let r = reqwest::Client::new()
        .delete(srv.at(&c.location))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let gone = framecast_testkit::server::eventually(Duration::from_secs(5), || async {
        status(&srv).await["viewers"]["webrtc"] == 0
    })
    .await;
    assert!(gone, "the WebRTC viewer count drops after DELETE");
    // No viewers: the encoder stops, so the encode count stops growing.
    let settled = framecast_testkit::server::eventually(Duration::from_secs(5), || async {
        let a = status(&srv).await["h264_encodes"].as_u64().unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        a == status(&srv).await["h264_encodes"].as_u64().unwrap()
    })
    .await;
    assert!(settled, "the encoder keeps running without viewers");
    let again = reqwest::Client::new()
        .delete(srv.at(&c.location))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    srv.stop().await;
}

#[tokio::test]
async fn a_session_whose_peer_vanishes_times_out() {
    let srv = TestServer::start(&config("[webrtc]\nsession_timeout_ms = 1500\n")).await;
    let _pump = pump(publisher(&srv));
    let mut c = connect(srv.addr, "cam", Offer::default()).await.unwrap();
    first_picture(&mut c, Duration::from_secs(10)).await;
    assert_eq!(status(&srv).await["viewers"]["webrtc"], 1);
    // The peer stops answering without a DELETE (its socket goes away).
    drop(c);
    let gone = framecast_testkit::server::eventually(Duration::from_secs(10), || async {
        status(&srv).await["viewers"]["webrtc"] == 0
    })
    .await;
    assert!(gone, "the silent session was not freed");
    srv.stop().await;
}

fn is_idr(au: &[u8]) -> bool {
    framecast::codec::h264::nal::nal_types(au).any(|t| t == 5)
}

#[tokio::test]
async fn a_pli_brings_a_keyframe() {
    // No periodic keyframe for 30 s: an IDR after the PLI is the PLI's doing.
    let srv = TestServer::start(&config("[h264]\nkeyframe_interval_ms = 30000\n")).await;
    let _pump = pump(publisher(&srv));
    let mut c = connect(srv.addr, "cam", Offer::default()).await.unwrap();
    first_picture(&mut c, Duration::from_secs(10)).await;
    // Let the join keyframe pass: 10 non-IDR pictures in a row.
    let mut p_frames = 0;
    while p_frames < 10 {
        match tokio::time::timeout(Duration::from_secs(5), c.events.recv()).await {
            Ok(Some(ClientEvent::Video { data, .. })) => {
                p_frames = if is_idr(&data) { 0 } else { p_frames + 1 }
            }
            Ok(Some(_)) => {}
            other => panic!("stream stopped: {other:?}"),
        }
    }
    c.pli.notify_one();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        match tokio::time::timeout_at(deadline, c.events.recv()).await {
            Ok(Some(ClientEvent::Video { data, .. })) if is_idr(&data) => break,
            Ok(Some(_)) => {}
            other => panic!("no keyframe after a PLI: {other:?}"),
        }
    }
    srv.stop().await;
}
