//! WHEP signalling: status codes, content types and bad input, while a
//! session is running (it must keep receiving through all of it).

use std::time::Duration;

use framecast::{Frame, StreamId};
use framecast_testkit::rtc_client::{connect, http, ClientEvent, Offer, RtcClient};
use framecast_testkit::server::TestServer;

const CONFIG: &str = "[[stream]]\nid = \"cam\"\nsource = \"push\"\n";

async fn received(c: &mut RtcClient, n: usize) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut got = 0;
    while got < n {
        match tokio::time::timeout_at(deadline, c.events.recv()).await {
            Ok(Some(ClientEvent::Video { .. })) => got += 1,
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    got
}

fn assert_json_error(r: &framecast_testkit::rtc_client::HttpResponse, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).expect("a JSON error body");
    let msg = v["error"].as_str().expect("an error message");
    assert!(v["kind"].is_string(), "{}", r.body);
    assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_the_running_session_goes_on() {
    let srv = TestServer::start(CONFIG).await;
    let p = srv.hub.publisher(&StreamId::parse("cam").unwrap()).unwrap();
    let _pump = tokio::spawn(async move {
        loop {
            let f = Frame::solid(160, 120, [0, 128, 255]).unwrap();
            if p.send(f).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(33)).await;
        }
    });
    let mut c = connect(srv.addr, "cam", Offer::default()).await.unwrap();
    assert_eq!(received(&mut c, 10).await, 10);

    let post = |path: &'static str, ctype: &'static str, body: &'static str| {
        http(srv.addr, "POST", path, Some(ctype), body)
    };
    let r = post("/streams/cam/whep", "application/sdp", "this is not SDP")
        .await
        .unwrap();
    assert_json_error(&r, 400, "SDP");
    let r = post(
        "/streams/cam/whep",
        "application/sdp",
        "v=0\r\nm=garbage\r\n",
    )
    .await
    .unwrap();
    assert_json_error(&r, 400, "SDP");
    let r = post("/streams/nope/whep", "application/sdp", "v=0\r\n")
        .await
        .unwrap();
    assert_json_error(&r, 404, "nope");
    let r = post("/streams/cam/whep", "text/plain", "v=0\r\n")
        .await
        .unwrap();
    assert_json_error(&r, 415, "application/sdp");
    let vp8 = connect(
        srv.addr,
        "cam",
        Offer {
            h264: false,
            datachannel: false,
            audio: false,
        },
    )
    .await;
    let err = vp8.err().expect("a VP8-only offer is refused");
    assert!(
        err.starts_with("400") && err.contains("offer has no H.264"),
        "{err}"
    );

    let r = http(
        srv.addr,
        "DELETE",
        "/streams/cam/whep/0123456789abcdef",
        None,
        "",
    )
    .await
    .unwrap();
    assert_json_error(&r, 404, "session");
    let r = http(
        srv.addr,
        "PATCH",
        "/streams/cam/whep/0123456789abcdef",
        Some("application/trickle-ice-sdpfrag"),
        "a=ice-ufrag:x\r\n",
    )
    .await
    .unwrap();
    assert_json_error(&r, 404, "session");
    // Trickle ICE on the live session is accepted (and not needed: ICE-lite).
    let frag = "a=ice-ufrag:abcd\r\na=ice-pwd:efghijklmnopqrstuvwxyz12\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host\r\n";
    let r = http(
        srv.addr,
        "PATCH",
        &c.location,
        Some("application/trickle-ice-sdpfrag"),
        frag,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 204, "{}", r.body);
    let r = http(
        srv.addr,
        "PATCH",
        &c.location,
        Some("application/sdp"),
        frag,
    )
    .await
    .unwrap();
    assert_json_error(&r, 415, "trickle-ice-sdpfrag");

    // Through all of that, the session kept playing.
    assert_eq!(received(&mut c, 30).await, 30);
    srv.stop().await;
}

#[tokio::test]
async fn the_answer_is_a_whep_201_with_location_and_h264() {
    let srv = TestServer::start(CONFIG).await;
    let offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
a=ice-ufrag:abcd\r\na=ice-pwd:efghijklmnopqrstuvwxyz12\r\n\
a=fingerprint:sha-256 8E:9F:4A:3C:BF:37:6B:3B:75:2F:0C:64:D6:0A:8B:52:BD:42:B6:5C:9A:AB:39:F7:CF:30:94:07:7E:4B:48:31\r\n\
a=setup:actpass\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 102\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=rtcp-mux\r\n\
a=rtpmap:96 VP8/90000\r\na=rtpmap:102 H264/90000\r\n\
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
a=rtcp-fb:102 nack pli\r\n";
    let r = http(
        srv.addr,
        "POST",
        "/streams/cam/whep",
        Some("application/sdp"),
        offer,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/sdp"));
    let loc = r.header("location").unwrap();
    assert!(loc.starts_with("/streams/cam/whep/"), "{loc}");
    assert!(r.body.contains("a=rtpmap:102 H264/90000"), "{}", r.body);
    assert!(
        !r.body.contains("VP8"),
        "only H.264 is answered: {}",
        r.body
    );
    assert!(r.body.contains("a=ice-lite"), "{}", r.body);
    assert!(r.body.contains("a=sendonly"), "{}", r.body);
    assert!(r.body.contains("typ host"), "a host candidate: {}", r.body);
    let r = http(srv.addr, "DELETE", loc, None, "").await.unwrap();
    assert_eq!(r.status, 200);
    srv.stop().await;
}

#[tokio::test]
async fn an_offer_with_audio_and_video_plays_the_video() {
    let srv = TestServer::start(CONFIG).await;
    let p = srv.hub.publisher(&StreamId::parse("cam").unwrap()).unwrap();
    let _pump = tokio::spawn(async move {
        loop {
            if p.send(Frame::solid(160, 120, [0, 128, 255]).unwrap())
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(33)).await;
        }
    });
    let offer = Offer {
        audio: true,
        ..Offer::default()
    };
    let mut c = connect(srv.addr, "cam", offer)
        .await
        .expect("audio+video offer accepted");
    assert_eq!(received(&mut c, 10).await, 10);
    srv.stop().await;
}

#[tokio::test]
async fn a_session_is_not_found_under_another_streams_url() {
    let two = format!("{CONFIG}[[stream]]\nid = \"other\"\nsource = \"push\"\n");
    let srv = TestServer::start(&two).await;
    let p = srv.hub.publisher(&StreamId::parse("cam").unwrap()).unwrap();
    let _pump = tokio::spawn(async move {
        loop {
            let f = Frame::solid(160, 120, [0, 128, 255]).unwrap();
            if p.send(f).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(33)).await; // pacing, not synchronisation
        }
    });
    let mut c = connect(srv.addr, "cam", Offer::default()).await.unwrap();
    assert_eq!(received(&mut c, 5).await, 5);
    let session = c.location.rsplit('/').next().unwrap().to_string();
    let elsewhere = format!("/streams/other/whep/{session}");
    let r = http(
        srv.addr,
        "PATCH",
        &elsewhere,
        Some("application/trickle-ice-sdpfrag"),
        "a=ice-ufrag:x\r\n",
    )
    .await
    .unwrap();
    assert_json_error(&r, 404, "session");
    let r = http(srv.addr, "DELETE", &elsewhere, None, "")
        .await
        .unwrap();
    assert_json_error(&r, 404, "session");
    // The session was not ended: it keeps playing, and its own URL ends it.
    assert_eq!(received(&mut c, 10).await, 10);
    let r = http(srv.addr, "DELETE", &c.location, None, "")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    srv.stop().await;
}

#[tokio::test]
async fn a_publishers_offer_to_whep_is_refused() {
    let srv = TestServer::start(CONFIG).await;
    let offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 102\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n\
a=rtpmap:102 H264/90000\r\n";
    let r = http(
        srv.addr,
        "POST",
        "/streams/cam/whep",
        Some("application/sdp"),
        offer,
    )
    .await
    .unwrap();
    assert_json_error(&r, 400, "WHIP");
    srv.stop().await;
}
