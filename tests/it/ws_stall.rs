//! A stalled WebSocket viewer: the stream's fan-out leaves the rest of a frame
//! to the viewer's own task, so the others keep the full frame rate; the
//! stalled viewer resumes on whole, current frames, not a backlog.

use std::time::{Duration, Instant};

use framecast::StreamId;
use framecast_testkit::server::TestServer;
use futures_util::StreamExt;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const STALL: Duration = Duration::from_secs(5);
const LIMIT: Duration = Duration::from_secs(5);
const HD_PATTERN: &str = "[[stream]]\nid = \"demo\"\nsource = \"pattern\"\n[stream.pattern]\nwidth = 1280\nheight = 720\nfps = 30\n";

type Ws = WebSocketStream<tokio::net::TcpStream>;

/// A viewer whose socket has a small receive buffer, so a stall fills it fast.
async fn connect(addr: std::net::SocketAddr, path: &str) -> Ws {
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(64 * 1024).unwrap();
    let tcp = sock.connect(addr).await.unwrap();
    let url = format!("ws://{addr}{path}");
    tokio_tungstenite::client_async(url, tcp).await.unwrap().0
}

/// The next frame as `(seq from its frameinfo, JPEG)`; checks the pairing.
async fn next_frame(ws: &mut Ws) -> (u64, Vec<u8>) {
    let info = loop {
        match next_message(ws).await {
            Message::Text(t) if t.contains("\"frame\"") => break t,
            Message::Text(t) if t.contains("\"metadata\"") => continue,
            other => panic!("a frameinfo message comes before each JPEG, got {other:?}"),
        }
    };
    let v: serde_json::Value = serde_json::from_str(&info).unwrap();
    let Message::Binary(jpeg) = next_message(ws).await else {
        panic!("the JPEG follows its frameinfo at once")
    };
    (v["seq"].as_u64().unwrap(), jpeg.to_vec())
}

async fn next_jpeg(ws: &mut Ws) -> Vec<u8> {
    loop {
        if let Message::Binary(b) = next_message(ws).await {
            return b.to_vec();
        }
    }
}

async fn next_message(ws: &mut Ws) -> Message {
    tokio::time::timeout(LIMIT, ws.next())
        .await
        .expect("a message within 5 s")
        .expect("socket open")
        .expect("no error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_ws_viewer_does_not_hurt_others_and_resumes_on_whole_frames() {
    let srv = TestServer::start(HD_PATTERN).await;
    let stream = srv.hub.get(&StreamId::parse("demo").unwrap()).unwrap();
    let mut stalled = connect(srv.addr, "/streams/demo/ws?frameinfo=1").await;
    let mut normal = connect(srv.addr, "/streams/demo/ws").await;
    next_frame(&mut stalled).await;
    let frame_bytes = next_jpeg(&mut normal).await.len();

    let in_before = stream.status().frames_in;
    let start = Instant::now();
    let mut got = 0u64;
    while start.elapsed() < STALL {
        next_jpeg(&mut normal).await;
        got += 1;
        // Metadata queues behind a half-sent frame, never inside it.
        let boxes = serde_json::json!({"boxes": [{"x": got}]});
        stream.send_metadata(None, boxes).unwrap();
    }
    let published = stream.status().frames_in - in_before;
    eprintln!("normal viewer got {got} of {published} frames during the stall");
    assert!(published >= 60, "the source kept going: {published}");
    assert!(
        got * 10 >= published * 9,
        "normal viewer kept the frame rate: {got} of {published}"
    );

    // Every frame the stalled viewer reads is whole and in order; only what
    // the socket buffers held is old.
    let live_seq = stream.latest().unwrap().seq;
    let (mut stale, mut last) = (0usize, 0u64);
    loop {
        let (seq, jpeg) = next_frame(&mut stalled).await;
        let (_, w, h) = framecast::codec::jpeg::decode_rgb(&jpeg, usize::MAX)
            .unwrap_or_else(|e| panic!("frame {seq} is a whole JPEG: {e}"));
        assert_eq!((w, h), (1280, 720));
        assert!(seq > last, "frames come in order: {seq} after {last}");
        last = seq;
        if seq >= live_seq {
            break;
        }
        stale += 1;
    }
    let buffered_max = (1 << 20) / frame_bytes.max(1) + 2;
    eprintln!("stalled viewer read {stale} old frames ({frame_bytes} B each) before a live one");
    assert!(
        stale <= buffered_max,
        "no backlog: {stale} stale frames (buffers hold at most {buffered_max})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fps_cap_gives_a_ws_viewer_fewer_frames() {
    let small = HD_PATTERN.replace("1280", "160").replace("720", "90");
    let srv = TestServer::start(&small).await;
    let mut capped = connect(srv.addr, "/streams/demo/ws?frameinfo=1&fps=5").await;
    let first = next_frame(&mut capped).await.0;
    let mut last = first;
    for _ in 0..4 {
        last = next_frame(&mut capped).await.0;
    }
    // At 30 fps in, 5 fps out, consecutive frames are ~6 apart.
    let gap = (last - first) as f64 / 4.0;
    assert!(
        gap >= 3.0,
        "a 5 fps viewer of a 30 fps stream skips frames (mean gap {gap})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fps_capped_viewer_still_ends_on_the_newest_frame() {
    let srv = TestServer::start("[[stream]]\nid = \"p\"\nsource = \"push\"\n").await;
    let publisher = srv.hub.publisher(&StreamId::parse("p").unwrap()).unwrap();
    let frame = |v: u8| framecast::Frame::solid(64, 48, [v, v, v]).unwrap();
    let mut capped = connect(srv.addr, "/streams/p/ws?frameinfo=1&fps=1").await;
    publisher.send(frame(10)).await.unwrap();
    let first = next_frame(&mut capped).await.0;
    // A burst inside the 1 s gap, then the source goes quiet: the cap may
    // skip frames, but the last one must still reach the viewer.
    publisher.send(frame(20)).await.unwrap();
    publisher.send(frame(30)).await.unwrap();
    let mut seq = first;
    while seq < first + 2 {
        seq = next_frame(&mut capped).await.0;
    }
    assert_eq!(
        seq,
        first + 2,
        "the newest frame arrives, and nothing after it"
    );
}
