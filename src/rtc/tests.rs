//! Sessions against str0m peers, wired together in memory: no sockets, no
//! sleeps, a clock that steps 5 ms per round. Covers both directions.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec;
use str0m::media::{Direction as PeerDir, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Candidate, Event, Input, Output};
use tokio_util::sync::CancellationToken;

use super::events::{channel, Events, Payload, SessionEvent};
use super::session::{Session, SessionId};
use super::*;

const PEER: &str = "127.0.0.1:40000";
/// An access unit: SPS, PPS and an IDR slice, in Annex B.
const IDR: &[u8] = &[
    0, 0, 0, 1, 0x67, 0x42, 0xe0, 0x1f, 0xda, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0, 1, 0x65,
    0x88, 0x84, 0x21, 0x43, 0x12, 0x34,
];

async fn transport() -> Arc<Rtc> {
    let cfg = RtcConfig {
        udp_port: Some(0),
        ..Default::default()
    };
    let http = "127.0.0.1:0".parse().unwrap();
    Rtc::start(&cfg, http, CancellationToken::new())
        .await
        .unwrap()
}

/// A framecast session and the str0m peer at the other end.
struct Pair {
    server: Session,
    events: Events,
    peer: str0m::Rtc,
    peer_mid: Mid,
    /// What the peer saw.
    seen: Vec<Event>,
    server_addr: SocketAddr,
    now: Instant,
}

/// A peer offer: video in `dir` (the peer's view) and a DataChannel.
fn peer_offer(now: Instant) -> (str0m::Rtc, impl FnOnce(&mut str0m::Rtc, &str), String, Mid) {
    peer_offer_dir(now, PeerDir::RecvOnly)
}

fn peer_offer_dir(
    now: Instant,
    dir: PeerDir,
) -> (str0m::Rtc, impl FnOnce(&mut str0m::Rtc, &str), String, Mid) {
    let mut peer = str0m::Rtc::builder()
        .clear_codecs()
        .enable_h264(true)
        .build(now);
    peer.add_local_candidate(Candidate::host(PEER.parse().unwrap(), "udp").unwrap());
    let mut api = peer.sdp_api();
    let mid = api.add_media(MediaKind::Video, dir, None, None, None);
    api.add_channel("metadata".into());
    let (offer, pending) = api.apply().unwrap();
    let accept = move |peer: &mut str0m::Rtc, answer: &str| {
        let answer = SdpAnswer::from_sdp_string(answer).unwrap();
        peer.sdp_api().accept_answer(pending, answer).unwrap();
    };
    (peer, accept, offer.to_sdp_string(), mid)
}

impl Pair {
    /// A session in `dir` for a peer offering the opposite, connected.
    fn connected(rtc: &Rtc, dir: Direction) -> Pair {
        let now = Instant::now();
        let peer_dir = match dir {
            Direction::SendOnly => PeerDir::RecvOnly,
            Direction::RecvOnly => PeerDir::SendOnly,
        };
        let (mut peer, accept, offer, peer_mid) = peer_offer_dir(now, peer_dir);
        let offer = SdpOffer::from_sdp_string(&offer).unwrap();
        let (server, answer) = rtc.answer(offer, now).unwrap();
        accept(&mut peer, &answer);
        let (tx, events) = channel();
        let server = Session::new(
            SessionId::random(),
            server,
            dir,
            tx,
            now,
            Duration::from_secs(30),
        );
        let mut pair = Pair {
            server,
            events,
            peer,
            peer_mid,
            seen: Vec::new(),
            server_addr: rtc.announced_addr(),
            now,
        };
        pair.run_until(|p| p.seen.iter().any(|e| matches!(e, Event::ChannelOpen(..))));
        assert!(matches!(
            pair.events.try_recv(),
            Some(SessionEvent::Connected)
        ));
        pair
    }

    /// Exchange datagrams and timeouts until `done`, at most 2000 rounds.
    fn run_until(&mut self, mut done: impl FnMut(&mut Pair) -> bool) {
        for _ in 0..2000 {
            if done(self) {
                return;
            }
            self.round();
        }
        panic!("not done after 2000 rounds; peer saw {:?}", self.seen);
    }

    fn round(&mut self) {
        self.now += Duration::from_millis(5);
        let mut to_peer = Vec::new();
        self.server.input(Input::Timeout(self.now));
        self.server.poll(&mut |t| to_peer.push(t));
        for t in to_peer {
            let input = receive(self.now, &t, self.server_addr, PEER.parse().unwrap());
            self.peer.handle_input(input).unwrap();
        }
        self.peer.handle_input(Input::Timeout(self.now)).unwrap();
        while let Ok(out) = self.peer.poll_output() {
            match out {
                Output::Timeout(_) => break,
                Output::Transmit(t) => {
                    let input = receive(self.now, &t, PEER.parse().unwrap(), self.server_addr);
                    self.server.input(input);
                }
                Output::Event(e) => self.seen.push(e),
            }
        }
    }
}

fn receive(now: Instant, t: &Transmit, from: SocketAddr, to: SocketAddr) -> Input<'_> {
    Input::Receive(
        now,
        Receive {
            proto: Protocol::Udp,
            source: from,
            destination: to,
            contents: (&t.contents[..]).try_into().unwrap(),
        },
    )
}

fn idr() -> Arc<AccessUnit> {
    Arc::new(AccessUnit {
        data: Arc::from(IDR),
        keyframe: true,
        pts: Duration::ZERO,
        seq: 0,
        width: 16,
        height: 16,
        published_unix_us: 0,
    })
}

fn peer_got_video(p: &mut Pair) -> bool {
    p.seen.iter().any(|e| matches!(e, Event::MediaData(_)))
}

#[tokio::test]
async fn two_sessions_are_handed_the_same_bytes_not_copies() {
    let rtc = transport().await;
    let mut a = Pair::connected(&rtc, Direction::SendOnly);
    let mut b = Pair::connected(&rtc, Direction::SendOnly);
    let au = idr();
    assert_eq!(Arc::strong_count(&au.data), 1);
    let now = a.now.max(b.now);
    assert!(a.server.write_video(&au, now));
    assert!(b.server.write_video(&au, now));
    // Each session holds the one allocation until it packetizes it.
    assert_eq!(
        Arc::strong_count(&au.data),
        3,
        "one shared buffer, no copies"
    );
    a.run_until(peer_got_video);
    b.run_until(peer_got_video);
    for p in [&a, &b] {
        let got = p.seen.iter().find_map(|e| match e {
            Event::MediaData(d) => Some(d.data.clone()),
            _ => None,
        });
        assert_eq!(got.as_deref(), Some(IDR), "the peer got the picture");
    }
    assert_eq!(Arc::strong_count(&au.data), 1, "released once sent");
}

#[tokio::test]
async fn a_sending_session_reports_pli_and_carries_data_both_ways() {
    let rtc = transport().await;
    let mut p = Pair::connected(&rtc, Direction::SendOnly);
    p.server.write_video(&idr(), p.now);
    p.run_until(peer_got_video);
    let mid = p.peer_mid;
    let mut w = p.peer.writer(mid).unwrap();
    w.request_keyframe(None, str0m::media::KeyframeRequestKind::Pli)
        .unwrap();
    p.server.write_data(&Payload::Text("{\"n\":1}".into()));
    let channel = p.seen.iter().find_map(|e| match e {
        Event::ChannelOpen(id, _) => Some(*id),
        _ => None,
    });
    p.peer
        .channel(channel.unwrap())
        .unwrap()
        .write(false, b"hi")
        .unwrap();
    let mut got = Vec::new();
    p.run_until(|p| {
        while let Some(ev) = p.events.try_recv() {
            got.push(ev);
        }
        got.len() >= 2 && p.seen.iter().any(|e| matches!(e, Event::ChannelData(_)))
    });
    assert!(got
        .iter()
        .any(|e| matches!(e, SessionEvent::KeyframeRequest)));
    let text = Payload::Text("hi".into());
    assert!(got
        .iter()
        .any(|e| matches!(e, SessionEvent::Data(d) if *d == text)));
}

#[tokio::test]
async fn a_receiving_session_gets_access_units_and_sends_pli() {
    let rtc = transport().await;
    let mut p = Pair::connected(&rtc, Direction::RecvOnly);
    let w = p.peer.writer(p.peer_mid).unwrap();
    let pt = w
        .payload_params()
        .find(|pp| pp.spec().codec == Codec::H264)
        .unwrap()
        .pt();
    w.write(pt, p.now, MediaTime::from_90khz(9000), IDR)
        .unwrap();
    let mut media = None;
    p.run_until(|p| {
        while let Some(ev) = p.events.try_recv() {
            if let SessionEvent::Media { au, .. } = ev {
                media = Some(au);
            }
        }
        media.is_some()
    });
    let au = media.unwrap();
    assert!(au.keyframe, "an IDR is a keyframe");
    assert_eq!(au.pts, Duration::ZERO, "pts counts from the first picture");
    assert_eq!(&au.data[..], IDR);
    p.server.request_keyframe();
    p.run_until(|p| {
        p.seen
            .iter()
            .any(|e| matches!(e, Event::KeyframeRequest(_)))
    });
}

#[tokio::test]
async fn open_answers_a_publishers_offer_for_recvonly_only() {
    let rtc = transport().await;
    let (_peer, _, offer, _) = peer_offer_dir(Instant::now(), PeerDir::SendOnly);
    assert!(offer.contains("a=sendonly"), "{offer}");
    let opened = rtc.open(&offer, Direction::RecvOnly).await.unwrap();
    assert!(opened.answer.contains("a=recvonly"), "{}", opened.answer);
    assert!(opened.answer.contains("H264/90000"), "{}", opened.answer);
    assert!(rtc.has_session(opened.id.as_str()));
    let e = rtc.open(&offer, Direction::SendOnly).await.err().unwrap();
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    let (_peer, _, play, _) = peer_offer(Instant::now());
    let opened = rtc.open(&play, Direction::SendOnly).await.unwrap();
    assert!(opened.answer.contains("a=sendonly"), "{}", opened.answer);
}

#[tokio::test]
async fn close_ends_with_closed_and_a_second_close_is_404() {
    let rtc = transport().await;
    let (_peer, _, offer, _) = peer_offer(Instant::now());
    let mut opened = rtc.open(&offer, Direction::SendOnly).await.unwrap();
    rtc.close(opened.id.as_str()).await.unwrap();
    let last = tokio::time::timeout(Duration::from_secs(5), async {
        let mut last = None;
        while let Some(ev) = opened.events.recv().await {
            last = Some(ev);
        }
        last
    })
    .await
    .expect("the events end");
    assert!(matches!(last, Some(SessionEvent::Closed)));
    let e = rtc.close(opened.id.as_str()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(rtc.session_count(), 0);
}
