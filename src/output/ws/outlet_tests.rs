//! The outlet over a real TCP connection whose reader stalls: frames stay
//! whole and paired with their frameinfo, small messages never land inside a
//! frame, and the viewer ends on the newest frame, by pipe and by copy.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::*;
use crate::media::{Frame, PixelFormat};
use crate::output::ws::codec;
use crate::stream::{Hub, HubConfig, PublishedFrame, Publisher, StreamId, StreamOptions};

const FRAMES: u64 = 20;

/// Server and client ends of a loopback connection with small buffers.
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(32 * 1024).unwrap();
    let client = sock.connect(listener.local_addr().unwrap()).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    socket2::SockRef::from(&server)
        .set_send_buffer_size(32 * 1024)
        .unwrap();
    (server, client)
}

/// A noisy 640x480 frame (a JPEG of ~200 KB, bigger than the buffers).
async fn wire(seq: u64) -> Arc<WireFrame> {
    let mut x = (seq as u32).wrapping_mul(2_654_435_761) | 1;
    let px: Vec<u8> = (0..640 * 480 * 3)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let frame = Frame::raw(640, 480, PixelFormat::Rgb24, px).unwrap();
    let f = Arc::new(PublishedFrame::new(seq, Duration::ZERO, frame));
    let hub = Hub::new(HubConfig::default());
    let publisher = hub.create(StreamId::parse("w").unwrap(), StreamOptions::new("test"));
    WireFrame::of(publisher.unwrap().stream(), &f)
        .await
        .unwrap()
}

/// Server messages (unmasked) as `(opcode, payload)`, and the bytes left over.
fn parse(mut b: &[u8]) -> (Vec<(u8, Vec<u8>)>, usize) {
    let mut out = Vec::new();
    loop {
        if b.len() < 2 {
            return (out, b.len());
        }
        let (op, len7) = (b[0] & 0x0F, (b[1] & 0x7F) as usize);
        let (len, hdr) = match len7 {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => (
                u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                10,
            ),
            126 | 127 => return (out, b.len()),
            n => (n, 2),
        };
        let Some(payload) = b.get(hdr..hdr + len) else {
            return (out, b.len());
        };
        out.push((op, payload.to_vec()));
        b = &b[hdr + len..];
    }
}

/// A stream to count sends in (the publisher keeps it open).
fn test_stream() -> (Publisher, Arc<Stream>) {
    let hub = Hub::new(HubConfig::default());
    let id = StreamId::parse("t").unwrap();
    let publisher = hub.create(id.clone(), StreamOptions::new("test")).unwrap();
    (publisher, hub.get(&id).unwrap())
}

async fn run(copy: bool) {
    let (_publisher, stream) = test_stream();
    let (server, mut client) = pair().await;
    let outlet = Outlet::new(server, stream.clone(), true, None);
    #[cfg(target_os = "linux")]
    {
        outlet.out.lock().no_pipe = copy;
    }
    let mut frames = Vec::new();
    for seq in 1..=FRAMES {
        frames.push(wire(seq).await);
    }
    // Nobody reads while every frame and some metadata are offered.
    for w in &frames {
        outlet.offer(w);
        outlet.push_small(codec::small_frame(
            codec::OP_TEXT,
            b"{\"type\":\"metadata\"}",
        ));
    }
    assert_eq!(
        outlet.pump(),
        Flow::Blocked,
        "the socket filled up mid-frame"
    );
    let mut got = Vec::new();
    let reader = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = client.read(&mut buf).await.unwrap();
            assert!(n > 0, "the connection stays open");
            got.extend_from_slice(&buf[..n]);
            let (msgs, rest) = parse(&got);
            if rest == 0
                && msgs
                    .last()
                    .is_some_and(|m| m.1 == frames[FRAMES as usize - 1].jpeg)
            {
                return msgs;
            }
        }
    };
    let limit = Duration::from_secs(10);
    let both = async { tokio::join!(outlet.flush(), reader) };
    let (flushed, msgs) = tokio::time::timeout(limit, both)
        .await
        .expect("every byte of the newest frame arrives within 10 s");
    flushed.unwrap();
    check(&msgs, &frames);
    let sent = stream.stats.zero_copy_sends.load(Relaxed);
    assert_eq!(sent == 0, copy, "{sent} frames went by pipe");
}

/// Every binary message follows its frameinfo at once and is that frame's
/// JPEG; frames come in order and end on the newest; few were sent.
fn check(msgs: &[(u8, Vec<u8>)], frames: &[Arc<WireFrame>]) {
    let mut last = 0;
    let mut sent = 0;
    for (i, (op, payload)) in msgs.iter().enumerate() {
        if *op != codec::OP_BINARY {
            continue;
        }
        let (info_op, info) = &msgs[i - 1];
        assert_eq!(*info_op, codec::OP_TEXT);
        let v: serde_json::Value = serde_json::from_slice(info).unwrap();
        let seq = v["seq"]
            .as_u64()
            .expect("a frameinfo message before each JPEG");
        assert!(seq > last, "in order: {seq} after {last}");
        assert!(
            *payload == frames[seq as usize - 1].jpeg,
            "frame {seq} whole"
        );
        (last, sent) = (seq, sent + 1);
    }
    assert_eq!(last, FRAMES, "ends on the newest frame");
    assert!(
        sent <= 3,
        "{sent} frames sent of {FRAMES}: the stalled ones were replaced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_reader_gets_whole_newest_frames_by_pipe() {
    run(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_reader_gets_whole_newest_frames_by_copy() {
    run(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_viewer_with_a_full_socket_waits_for_room_not_the_clock() {
    let (_publisher, stream) = test_stream();
    let (server, _client) = pair().await;
    let outlet = Outlet::new(server, stream, false, Some(Duration::ZERO));
    outlet.offer(&wire(1).await);
    assert_eq!(
        outlet.pump(),
        Flow::Blocked,
        "the first frame fills the socket"
    );
    outlet.offer(&wire(2).await);
    assert!(outlet.out.lock().frame.is_some(), "the second frame waits");
    // Its gap has passed: only room is missing, so there is no deadline to
    // wake for (a past one would make the viewer's task spin).
    assert_eq!(outlet.due(), None);
}
