//! The WebSocket viewer's protocol handling over real TCP: handshake errors,
//! ping/pong, the close handshake, client data, and protocol violations.

use std::time::Duration;

use framecast_testkit::server::TestServer;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

const SMALL_PATTERN: &str = "[[stream]]\nid = \"demo\"\nsource = \"pattern\"\n[stream.pattern]\nwidth = 160\nheight = 90\nfps = 30\n";
const LIMIT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_get_is_a_json_400() {
    let srv = TestServer::start(SMALL_PATTERN).await;
    let resp = reqwest::get(srv.at("/streams/demo/ws")).await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["kind"], "bad_request");
    assert!(
        body["error"].as_str().unwrap().contains("Upgrade"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_version_and_unknown_stream_are_refused() {
    let srv = TestServer::start(SMALL_PATTERN).await;
    let (status, body) = raw_handshake(&srv, "/streams/demo/ws", "8").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("must be 13"), "{body}");
    let (status, body) = raw_handshake(&srv, "/streams/nope/ws", "13").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_is_answered_and_close_is_echoed() {
    let srv = TestServer::start(SMALL_PATTERN).await;
    let url = format!("ws://{}/streams/demo/ws", srv.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    let pong = wait_for(&mut ws, |m| matches!(m, Message::Pong(_))).await;
    assert_eq!(pong.into_data().as_ref(), b"are you there");
    ws.send(Message::Close(None)).await.unwrap();
    let close = wait_for(&mut ws, |m| matches!(m, Message::Close(_))).await;
    let Message::Close(Some(frame)) = close else {
        panic!("close without a code: {close:?}")
    };
    assert_eq!(frame.code, CloseCode::Normal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_messages_are_ignored_and_frames_keep_coming() {
    let srv = TestServer::start(SMALL_PATTERN).await;
    let url = format!("ws://{}/streams/demo/ws", srv.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(Message::Binary(vec![0u8; 3_000_000].into()))
        .await
        .unwrap();
    ws.send(Message::Text("hello".into())).await.unwrap();
    for _ in 0..5 {
        let m = wait_for(&mut ws, |m| matches!(m, Message::Binary(_))).await;
        assert_eq!(&m.into_data()[..2], &[0xFF, 0xD8], "a JPEG");
    }
}

/// Viewers with and without `frameinfo` share one memfd per frame at
/// different offsets; both must get whole, decodable messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_go_out_zero_copy_with_and_without_frameinfo() {
    let srv = TestServer::start(SMALL_PATTERN).await;
    let base = format!("ws://{}/streams/demo/ws", srv.addr);
    let (mut plain, _) = tokio_tungstenite::connect_async(&base).await.unwrap();
    let (mut info, _) = tokio_tungstenite::connect_async(format!("{base}?frameinfo=1"))
        .await
        .unwrap();
    for _ in 0..5 {
        let m = wait_for(&mut plain, |m| matches!(m, Message::Binary(_))).await;
        let (_, w, h) = framecast::codec::jpeg::decode_rgb(&m.into_data(), usize::MAX).unwrap();
        assert_eq!((w, h), (160, 90));
        let Message::Text(t) = wait_for(&mut info, |m| matches!(m, Message::Text(_))).await else {
            unreachable!()
        };
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        assert_eq!(
            (v["type"].as_str(), v["width"].as_u64()),
            (Some("frame"), Some(160))
        );
        let Some(Ok(Message::Binary(jpeg))) = info.next().await else {
            panic!("a JPEG follows its frameinfo")
        };
        framecast::codec::jpeg::decode_rgb(&jpeg, usize::MAX).unwrap();
    }
    if cfg!(target_os = "linux") {
        let metrics = srv.text("/metrics").await;
        let sends: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("framecast_zero_copy_sends_total{stream=\"demo\"} "))
            .expect("zero-copy counter")
            .parse()
            .unwrap();
        assert!(sends >= 10, "frames went out by tee and splice: {sends}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmasked_frame_gets_close_1002() {
    let srv = TestServer::start(SMALL_PATTERN).await;
    let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
    tcp.write_all(request("/streams/demo/ws", "13").as_bytes())
        .await
        .unwrap();
    // An unmasked text frame "hi": clients must mask, so this is an error.
    tcp.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    let bytes = tokio::time::timeout(LIMIT, read_to_end(&mut tcp))
        .await
        .expect("the server closes the connection");
    let body = after_headers(&bytes);
    let code = last_close_code(body).expect("a close frame");
    assert_eq!(code, 1002);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_sends_going_away() {
    let srv = TestServer::start(SMALL_PATTERN).await;
    let url = format!("ws://{}/streams/demo/ws", srv.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    wait_for(&mut ws, |m| matches!(m, Message::Binary(_))).await;
    srv.stop().await;
    let close = wait_for(&mut ws, |m| matches!(m, Message::Close(_))).await;
    let Message::Close(Some(frame)) = close else {
        panic!("close without a code: {close:?}")
    };
    assert_eq!(frame.code, CloseCode::Away);
}

async fn wait_for<S>(ws: &mut S, want: impl Fn(&Message) -> bool) -> Message
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    tokio::time::timeout(LIMIT, async {
        loop {
            let m = ws.next().await.expect("socket open").expect("no error");
            if want(&m) {
                return m;
            }
        }
    })
    .await
    .expect("message within 5 s")
}

fn request(path: &str, version: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: {version}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
}

/// Send a handshake and read a (non-101) answer: `(status, body)`.
async fn raw_handshake(srv: &TestServer, path: &str, version: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
    let req = request(path, version).replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let bytes = tokio::time::timeout(LIMIT, read_to_end(&mut tcp))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let status = text[9..12].parse().unwrap();
    (
        status,
        String::from_utf8_lossy(after_headers(&bytes)).into(),
    )
}

async fn read_to_end(tcp: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tcp.read_to_end(&mut out).await;
    out
}

fn after_headers(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end");
    &bytes[end + 4..]
}

/// Walk the server's (unmasked) frames and return the last close code.
fn last_close_code(mut b: &[u8]) -> Option<u16> {
    let mut code = None;
    while b.len() >= 2 {
        let (op, len7) = (b[0] & 0x0F, (b[1] & 0x7F) as usize);
        let (len, hdr) = match len7 {
            126 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n, 2),
        };
        let payload = b.get(hdr..hdr + len)?;
        if op == 0x8 && len >= 2 {
            code = Some(u16::from_be_bytes([payload[0], payload[1]]));
        }
        b = &b[hdr + len..];
    }
    code
}
